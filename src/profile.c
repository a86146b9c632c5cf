/*
 * profile.c: the profile store and the dispatch rule (profile.h).
 *
 * Reading happens at start-up, before malloc works, so nothing here
 * allocates: paths are built in caller buffers and a profile is read with
 * open, read and close into a caller's struct.  A profile is checked whole
 * (magic, version, size, checksum, the program's key) before any figure
 * of it is believed; a bad file warns once and is treated as absent.
 */
#include "profile.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>           /* rename only: no stdio stream is used */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t checksum(const fly_profile_t *p)
{
    const unsigned char *b = (const unsigned char *)p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < offsetof(fly_profile_t, pf_checksum); i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static size_t append(char *out, size_t at, size_t len, const char *s)
{
    size_t n = strlen(s);
    if (at + n >= len)
        return len;
    memcpy(out + at, s, n + 1);
    return at + n;
}

bool fly_profile_path(char *out, size_t len, const char *dir, const uint8_t *key, size_t keylen)
{
    static const char hex[] = "0123456789abcdef";
    if (dir == NULL || *dir == '\0' || keylen == 0 || keylen > FLY_PROFILE_KEY_MAX)
        return false;
    size_t at = append(out, 0, len, dir);
    at = append(out, at, len, "/");
    if (at + 2 * keylen + sizeof(".prof") > len)
        return false;
    for (size_t i = 0; i < keylen; i++) {
        out[at++] = hex[key[i] >> 4];
        out[at++] = hex[key[i] & 15];
    }
    out[at] = '\0';
    return append(out, at, len, ".prof") < len;
}

static void warn_file(const char *path, const char *why)
{
    char msg[300];
    size_t at = append(msg, 0, sizeof(msg), "profile ");
    at = append(msg, at, sizeof(msg), path);
    at = append(msg, at, sizeof(msg), why);
    fly_warn(msg);
}

bool fly_profile_read(const char *path, const uint8_t *key, size_t keylen, fly_profile_t *out,
                      bool warn)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, sizeof(*out));
    char extra;
    bool longer = n == (ssize_t)sizeof(*out) && read(fd, &extra, 1) > 0;
    close(fd);
    if (n != (ssize_t)sizeof(*out) || longer || out->pf_magic != FLY_PROFILE_MAGIC ||
        out->pf_size != sizeof(*out)) {
        if (warn)
            warn_file(path, " is not a flymalloc profile of this version (truncated or foreign); "
                            "ignored");
        return false;
    }
    if (out->pf_version != FLY_PROFILE_VERSION || out->pf_checksum != checksum(out)) {
        if (warn)
            warn_file(path, " is corrupt (version or checksum); ignored");
        return false;
    }
    if (out->pf_key_len != keylen || memcmp(out->pf_key, key, keylen) != 0) {
        if (warn)
            warn_file(path, " belongs to another build of the program; ignored");
        return false;
    }
    return true;
}

/* Makes dir if it is missing (one level). */
static void make_dir(char *path, char *slash)
{
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
}

bool fly_profile_write(const char *path, fly_profile_t *p)
{
    char tmp[4200], dir[4200];
    size_t at = append(tmp, 0, sizeof(tmp), path);
    at = append(tmp, at, sizeof(tmp), ".tmp.");
    char pid[24];
    pid[fly_fmt_u64(pid, (uint64_t)getpid())] = '\0';
    if (append(tmp, at, sizeof(tmp), pid) >= sizeof(tmp) ||
        append(dir, 0, sizeof(dir), path) >= sizeof(dir))
        return false;
    /* The directory and its parent (~/.cache/flymalloc). */
    char *last = strrchr(dir, '/');
    if (last && last != dir) {
        *last = '\0';
        char *parent = strrchr(dir, '/');
        if (parent && parent != dir)
            make_dir(dir, parent);
        mkdir(dir, 0755);
    }
    p->pf_magic = FLY_PROFILE_MAGIC;
    p->pf_version = FLY_PROFILE_VERSION;
    p->pf_size = sizeof(*p);
    p->pf_checksum = checksum(p);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return false;
    bool ok = write(fd, p, sizeof(*p)) == (ssize_t)sizeof(*p) && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return true;
    unlink(tmp);
    return false;
}

/* new = 3/4 old + 1/4 run: recent runs count most, one odd run cannot
 * swing the choice. */
static uint64_t blend(uint64_t old, uint64_t run)
{
    return old - old / 4 + run / 4;
}

void fly_profile_fold(fly_profile_t *stored, const fly_profile_t *run, bool have_stored)
{
    if (!have_stored) {
        *stored = *run;
        stored->pf_runs = 1;
        return;
    }
    if (stored->pf_runs == 0) {              /* only a pinned policy so far */
        uint32_t pinned = stored->pf_pinned;
        *stored = *run;
        stored->pf_runs = 1;
        stored->pf_pinned = pinned;
        return;
    }
    stored->pf_runs++;
    stored->pf_run_ms = blend(stored->pf_run_ms, run->pf_run_ms);
    stored->pf_threads = blend(stored->pf_threads * 4, run->pf_threads * 4) / 4;
    stored->pf_allocs = blend(stored->pf_allocs, run->pf_allocs);
    stored->pf_frees = blend(stored->pf_frees, run->pf_frees);
    stored->pf_large_bytes = blend(stored->pf_large_bytes, run->pf_large_bytes);
    stored->pf_huge_bytes = blend(stored->pf_huge_bytes, run->pf_huge_bytes);
    stored->pf_peak_bytes = blend(stored->pf_peak_bytes, run->pf_peak_bytes);
    stored->pf_syscalls = blend(stored->pf_syscalls, run->pf_syscalls);
    for (unsigned c = 0; c <= FLY_MAX_CLASSES; c++)
        stored->pf_class_allocs[c] = blend(stored->pf_class_allocs[c], run->pf_class_allocs[c]);
    stored->pf_reallocs = blend(stored->pf_reallocs, run->pf_reallocs);
    if (run->pf_name[0])
        memcpy(stored->pf_name, run->pf_name, sizeof(stored->pf_name));
    stored->pf_sampled = blend(stored->pf_sampled, run->pf_sampled);
    /* A run with too few samples to say anything leaves the shares alone. */
    if (run->pf_sampled >= FLY_PF_MIN_SAMPLES) {
        stored->pf_cross_permille = blend(stored->pf_cross_permille, run->pf_cross_permille);
        for (unsigned d = 0; d < FLY_PROFILE_DECADES; d++)
            stored->pf_lifetime_permille[d] = blend(stored->pf_lifetime_permille[d], run->pf_lifetime_permille[d]);
    }
}

uint32_t fly_profile_flags(const fly_profile_t *p)
{
    uint32_t f = 0;
    if (p->pf_run_ms < FLY_PF_SHORT_MS)
        f |= FLY_PF_SHORT_RUN;
    if (p->pf_threads >= 2)
        f |= FLY_PF_THREADED;
    if (p->pf_allocs >= FLY_PF_HEAVY_PER_MS * FLY_MAX(p->pf_run_ms, 1))
        f |= FLY_PF_ALLOC_HEAVY;
    if (p->pf_frees < p->pf_allocs / 2)
        f |= FLY_PF_FEW_FREES;
    if (p->pf_peak_bytes >= FLY_PF_LARGE_BYTES)
        f |= FLY_PF_LARGE_HEAP;
    if (p->pf_sampled >= FLY_PF_MIN_SAMPLES) {
        if (p->pf_cross_permille >= FLY_PF_CROSS_PERMILLE)
            f |= FLY_PF_CROSS_THREAD;
        if (p->pf_lifetime_permille[0] + p->pf_lifetime_permille[1] + p->pf_lifetime_permille[2] >=
            FLY_PF_SHORT_LIVED_PERMILLE)
            f |= FLY_PF_SHORT_LIVED;
    }
    return f;
}

uint32_t fly_profile_free_permille(const fly_profile_t *p)
{
    uint64_t share = p->pf_allocs ? FLY_MIN(p->pf_frees, p->pf_allocs) * 1000 / p->pf_allocs : 1000;
    return (uint32_t)FLY_MIN(share + FLY_PF_FREE_SLACK, (uint64_t)FLY_PF_FREE_MAX);
}

/* Only what measurement supports (docs/policies.md has the figures).
 * For time, threads that allocate hard run faster under bulk, at a cost
 * in memory.  For memory, compact holds less wherever allocation is not
 * the program's main work (where it is, compact's small magazines cost
 * several times the time).  Balanced, busy's larger caches pay where
 * allocation is the main work and blocks churn through the magazines:
 * most of them freed by another thread (each full magazine of the
 * consumer's is a depot trade), or, in one thread, dying young; with
 * several threads and young blocks (larson) the extra caches cost more
 * memory than the 2 % a dispatch may lose, so those stay default. */
fly_policy_id_t fly_profile_policy(const fly_profile_t *p, unsigned objective)
{
    if (p->pf_pinned > 0 && p->pf_pinned <= FLY_POLICY_COUNT)
        return (fly_policy_id_t)(p->pf_pinned - 1);
    uint32_t f = fly_profile_flags(p);
    if (objective == FLY_OBJECTIVE_TIME && (f & FLY_PF_THREADED) && (f & FLY_PF_ALLOC_HEAVY))
        return FLY_POLICY_bulk;
    if (objective == FLY_OBJECTIVE_MEMORY && !(f & FLY_PF_ALLOC_HEAVY))
        return FLY_POLICY_compact;
    if (objective == FLY_OBJECTIVE_BALANCED && (f & FLY_PF_ALLOC_HEAVY) &&
        ((f & FLY_PF_CROSS_THREAD) || ((f & FLY_PF_SHORT_LIVED) && !(f & FLY_PF_THREADED))))
        return FLY_POLICY_busy;
    return FLY_POLICY_default;
}
