/*
 * test_libc_surface: the whole malloc surface through libc's names, and
 * libc's own internal allocations, work on flymalloc.
 *
 * Run under LD_PRELOAD and linked with libflymalloc.a (flytest: static).
 * Proves: malloc(0), calloc, realloc, reallocarray (and its overflow
 * ENOMEM), posix_memalign (and EINVAL), aligned_alloc, memalign, valloc,
 * pvalloc, malloc_usable_size, free_sized, free_aligned_sized (found at run
 * time: glibc 2.36 has neither, so they must come from flymalloc),
 * malloc_trim and mallinfo2 behave as documented when called by their libc
 * names; and memory that libc allocates internally (strdup, strndup,
 * asprintf, open_memstream, getline, realpath, getcwd, scandir, glob,
 * regcomp, fopen buffers, qsort of a large array, setlocale, iconv,
 * tsearch) is usable and can be released with free.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <glob.h>
#include <iconv.h>
#include <locale.h>
#include <malloc.h>
#include <regex.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>

#include "flyprobe.h"

/* C23 functions glibc 2.36 lacks: must be provided by flymalloc. */
void free_sized(void *p, size_t n);
void free_aligned_sized(void *p, size_t a, size_t n);
#ifndef FLY_STATIC_LINK
#pragma weak free_sized
#pragma weak free_aligned_sized
#endif

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
    fly_probe_require_active();
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);

    void *z1 = malloc(t_opaque(0)), *z2 = malloc(t_opaque(0));
    CHECK(z1 && z2 && z1 != z2, "malloc(0) twice: %p %p", z1, z2);
    free(z1);
    free(z2);

    unsigned char *c = calloc(t_opaque(1000), 10);
    CHECK(c != NULL, "calloc");
    for (int i = 0; i < 10000; i++)
        CHECK(c[i] == 0, "calloc byte %d not zero", i);
    c = realloc(c, t_opaque(1u << 21));
    CHECK(c != NULL && c[9999] == 0, "realloc");
    errno = 0;
    CHECK(reallocarray(c, t_opaque(SIZE_MAX), 2) == NULL && errno == ENOMEM, "reallocarray overflow");
    c = reallocarray(c, 100, 100);
    CHECK(c != NULL && malloc_usable_size(c) >= 10000, "reallocarray");
    free(c);

    void *m = (void *)1;
    CHECK(posix_memalign(&m, 24, 10) == EINVAL && m == (void *)1, "posix_memalign(24) not EINVAL");
    CHECK(posix_memalign(&m, 4096, 10) == 0 && ((uintptr_t)m & 4095) == 0, "posix_memalign(4096)");
    free(m);
    void *a = aligned_alloc(t_opaque(1024), 3000);
    CHECK(a && ((uintptr_t)a & 1023) == 0, "aligned_alloc");
    free(a);
    a = memalign(t_opaque(128), 5);
    CHECK(a && ((uintptr_t)a & 127) == 0, "memalign");
    free(a);
    a = valloc(t_opaque(10));
    CHECK(a && ((uintptr_t)a & (pg - 1)) == 0, "valloc");
    free(a);
    a = pvalloc(t_opaque(pg + 1));
    CHECK(a && ((uintptr_t)a & (pg - 1)) == 0 && malloc_usable_size(a) >= 2 * pg, "pvalloc");
    free(a);

    CHECK(&free_sized != NULL && &free_aligned_sized != NULL, "free_sized/free_aligned_sized not defined");
    uint64_t f0 = 0;
    {
        fly_stats_t st;
        CHECK(fly_stats_get(&st, sizeof st) == 0, "stats");
        f0 = st.st_nfree;
    }
    a = malloc(t_opaque(200));
    free_sized(a, 200);
    a = aligned_alloc(256, t_opaque(512));
    free_aligned_sized(a, 256, 512);
    {
        fly_stats_t st;
        CHECK(fly_stats_get(&st, sizeof st) == 0, "stats");
        CHECK(st.st_nfree >= f0 + 2, "free_sized/free_aligned_sized not counted as frees");
    }

    int t = malloc_trim(0);
    CHECK(t == 0 || t == 1, "malloc_trim = %d", t);
    void *ten = malloc(t_opaque(10u << 20));
    struct mallinfo2 mi = mallinfo2();
    CHECK(mi.uordblks + mi.hblkhd >= (10u << 20), "mallinfo2 misses a live 10 MiB block");
    free(ten);

    /* libc's internal allocations */
    char *s = strdup("hello");
    char *sn = strndup("hello world", 5);
    CHECK(s && sn && !strcmp(s, sn), "strdup/strndup");
    free(s);
    free(sn);
    char *as = NULL;
    CHECK(asprintf(&as, "%s-%d-%.3000f", "x", 42, 1.5) > 3000 && as, "asprintf");
    free(as);
    char *ms = NULL;
    size_t msz = 0;
    FILE *mf = open_memstream(&ms, &msz);
    CHECK(mf != NULL, "open_memstream");
    for (int i = 0; i < 20000; i++)
        fprintf(mf, "line %d\n", i);
    fclose(mf);
    CHECK(msz > 100000 && ms && !strncmp(ms, "line 0\n", 7), "open_memstream content");
    FILE *in = fmemopen(ms, msz, "r");
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, in) > 0)
        lines++;
    fclose(in);
    free(line);
    free(ms);
    CHECK(lines == 20000, "getline read %d lines", lines);

    char *rp = realpath(".", NULL);
    char *cwd = getcwd(NULL, 0);
    CHECK(rp && cwd && !strcmp(rp, cwd), "realpath/getcwd: %s %s", rp, cwd);
    free(rp);
    free(cwd);

    struct dirent **list;
    int nd = scandir("/usr/lib", &list, NULL, alphasort);
    CHECK(nd > 2, "scandir");
    for (int i = 0; i < nd; i++)
        free(list[i]);
    free(list);
    glob_t g;
    CHECK(glob("/usr/lib/*", 0, NULL, &g) == 0 && g.gl_pathc > 2, "glob");
    globfree(&g);

    regex_t re;
    CHECK(regcomp(&re, "^(a|b)+[0-9]{2,5}c*$", REG_EXTENDED) == 0, "regcomp");
    CHECK(regexec(&re, "abba1234ccc", 0, NULL, 0) == 0, "regexec match");
    CHECK(regexec(&re, "abx12", 0, NULL, 0) != 0, "regexec mismatch");
    regfree(&re);

    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL, "fopen");
    char buf[256];
    CHECK(fgets(buf, sizeof buf, f) != NULL, "fgets");
    fclose(f);

    enum { NQ = 200000 };
    int *arr = malloc(NQ * sizeof(int));
    uint64_t seed = 1;
    for (int i = 0; i < NQ; i++)
        arr[i] = (int)(t_rand(&seed) >> 33);
    qsort(arr, NQ, sizeof(int), cmp_int); /* large: glibc's qsort mallocs a buffer */
    for (int i = 1; i < NQ; i++)
        CHECK(arr[i - 1] <= arr[i], "qsort");
    free(arr);
    char **strs = malloc(5000 * sizeof(char *));
    for (int i = 0; i < 5000; i++)
        CHECK(asprintf(&strs[i], "%08llx", (unsigned long long)t_rand(&seed)) > 0, "asprintf");
    qsort(strs, 5000, sizeof(char *), cmp_str);
    for (int i = 1; i < 5000; i++)
        CHECK(strcmp(strs[i - 1], strs[i]) <= 0, "string qsort");
    for (int i = 0; i < 5000; i++)
        free(strs[i]);
    free(strs);

    CHECK(setlocale(LC_ALL, "C.UTF-8") != NULL || setlocale(LC_ALL, "C") != NULL, "setlocale");
    iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
    CHECK(cd != (iconv_t)-1, "iconv_open");
    char src[] = "h\xc3\xa9llo", dst[64];
    char *ip = src, *op = dst;
    size_t il = strlen(src), ol = sizeof dst;
    CHECK(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1 && sizeof dst - ol == 10, "iconv");
    iconv_close(cd);

    void *root = NULL;
    static int keys[1000];
    for (int i = 0; i < 1000; i++) {
        keys[i] = (i * 7919) % 1000;
        CHECK(tsearch(&keys[i], &root, cmp_int) != NULL, "tsearch");
    }
    for (int i = 0; i < 1000; i++)
        CHECK(tdelete(&keys[i], &root, cmp_int) != NULL, "tdelete");
    CHECK(root == NULL, "tree not empty");
    return 0;
}
