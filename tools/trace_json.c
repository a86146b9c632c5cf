/*
 * trace_json.c: JSON output shared by analyze and replay (trace_json.h).
 * Everything is written straight to a FILE; no document is built in memory.
 */
#include "trace_json.h"
#include <string.h>

/* Length of the valid UTF-8 sequence at S (at most N bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, min = 0x80;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, min = 0x800;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    unsigned cp = s[0] & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    /* No overlong forms, surrogates or code points past U+10FFFF. */
    if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

void fly_json_str(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
        } else if (c == '\n') {
            fputs("\\n", f);
        } else if (c == '\t') {
            fputs("\\t", f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            if (len == 0) {
                fprintf(f, "\\u%04x", c);
                i++;
                continue;
            }
            fwrite(s + i, 1, len, f);
            i += len;
            continue;
        } else {
            fputc(c, f);
        }
        i++;
    }
    fputc('"', f);
}

void fly_json_u64s(FILE *f, const void *p, size_t n, size_t stride)
{
    const char *b = p;
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, b + i * stride, sizeof(v));
        fprintf(f, i ? ",%llu" : "%llu", (unsigned long long)v);
    }
    fputc(']', f);
}

void fly_json_trace(FILE *f, const fly_trace *t)
{
    fputs("{\"file\":", f);
    fly_json_str(f, t->path, strlen(t->path));
    fprintf(f, ",\"trace_version\":%u,\"pid\":%llu,\"command\":[", t->version,
            (unsigned long long)t->pid);
    for (size_t i = 0; i < t->argc; i++) {
        if (i)
            fputc(',', f);
        fly_json_str(f, t->argv[i], strlen(t->argv[i]));
    }
    fprintf(f, "],\"threads\":%zu,\"events\":%zu,\"complete\":%s,\"warnings\":[", t->nthreads,
            t->nevents, t->complete ? "true" : "false");
    for (size_t i = 0; i < t->nwarnings; i++) {
        if (i)
            fputc(',', f);
        fly_json_str(f, t->warnings[i], strlen(t->warnings[i]));
    }
    fprintf(f, "],\"duration_ns\":%llu}", (unsigned long long)t->duration_ns);
}
