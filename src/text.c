/*
 * text.c: text built in a caller's buffer, for statistics and summaries:
 * no stdio and no allocation, so the allocator can print from anywhere.
 */
#include "text.h"
#include <string.h>

void fly_text_flush(fly_text_t *t)
{
    if (t->tx_fd >= 0 && t->tx_len) {
        fly_write_all(t->tx_fd, t->tx_buf, t->tx_len);
        t->tx_len = 0;
    }
}

void fly_text_put(fly_text_t *t, const char *s)
{
    size_t n = strlen(s);
    while (n) {
        if (t->tx_len == t->tx_cap) {
            if (t->tx_fd < 0)
                return;
            fly_text_flush(t);
        }
        size_t k = FLY_MIN(n, t->tx_cap - t->tx_len);
        memcpy(t->tx_buf + t->tx_len, s, k);
        t->tx_len += k;
        s += k;
        n -= k;
    }
}

void fly_text_u64(fly_text_t *t, uint64_t v)
{
    char num[24];
    num[fly_fmt_u64(num, v)] = '\0';
    fly_text_put(t, num);
}

void fly_text_bytes(fly_text_t *t, uint64_t v)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    unsigned u = 0;
    uint64_t tenths = 0;
    while (u < 4 && v >= 1024) {
        tenths = (v % 1024) * 10 / 1024;
        v /= 1024;
        u++;
    }
    fly_text_u64(t, v);
    if (u > 0) {
        char frac[3] = { '.', (char)('0' + tenths), '\0' };
        fly_text_put(t, frac);
    }
    fly_text_put(t, " ");
    fly_text_put(t, unit[u]);
}
