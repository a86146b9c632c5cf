/*
 * report.c: what a process leaves behind at exit, called by init.c's
 * destructor: the statistics report (FLYMALLOC_STATS,
 * FLYMALLOC_STATS_FILE), printed as text or JSON to stderr or to the
 * settings' file (one that cannot be opened gives a warning and stderr),
 * and, with FLYMALLOC_PROFILE=1, this run's allocation profile folded into
 * the program's stored one (profile.h).
 */
#include "report.h"
#include "config.h"
#include "exe.h"
#include "flymalloc.h"
#include "profile.h"
#include "sample.h"
#include "stats.h"
#include "tcache.h"
#include <string.h>
#include <unistd.h>

/* This run's figures, folded into the stored profile and written back. */
static void save_profile_os(void)
{
    size_t keylen = 0;
    const uint8_t *key = fly_exe_build_id(&keylen);
    const char *path = fly_settings.se_profile_path;
    if (key == NULL || keylen > FLY_PROFILE_KEY_MAX || path[0] == '\0') {
        fly_warn("FLYMALLOC_PROFILE=1: the program has no build-id or there is no profile "
                 "directory (set FLYMALLOC_PROFILE_DIR or HOME); not profiled");
        return;
    }
    fly_stats_t st;
    fly_stats_get(&st, sizeof(st));
    fly_profile_t run, stored;
    memset(&run, 0, sizeof(run));
    run.pf_key_len = (uint32_t)keylen;
    memcpy(run.pf_key, key, keylen);
    run.pf_run_ms = fly_now_ms() - fly_settings.se_start_ms;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        const char *base = strrchr(exe, '/');
        base = base ? base + 1 : exe;
        size_t len = FLY_MIN(strlen(base), sizeof(run.pf_name) - 1);
        memcpy(run.pf_name, base, len);
    }
    run.pf_threads = fly_tcache_peak_threads();
    run.pf_allocs = st.st_nmalloc;
    run.pf_frees = st.st_nfree;
    run.pf_large_bytes = st.st_large_bytes;
    run.pf_huge_bytes = st.st_huge_bytes;
    run.pf_peak_bytes = st.st_peak_bytes;
    run.pf_syscalls = st.st_mmap_calls + st.st_munmap_calls + st.st_madvise_calls +
                      st.st_mremap_calls;
    for (unsigned c = 0; c < st.st_nclasses && c < FLY_MAX_CLASSES; c++)
        run.pf_class_allocs[c + 1] = st.st_class[c].cs_nmalloc;
    static fly_tcache_counts_t tcc;      /* at exit, once: kept off the stack */
    fly_tcache_counts(NULL, &tcc);
    run.pf_reallocs = tcc.reallocs;
    fly_sample_counts_t sc;
    fly_sample_counts(&sc);
    _Static_assert(FLY_SAMPLE_DECADES == FLY_PROFILE_DECADES, "lifetime decades");
    run.pf_sampled = sc.sc_taken;
    if (sc.sc_taken) {
        run.pf_cross_permille = sc.sc_cross * 1000 / sc.sc_taken;
        for (unsigned d = 0; d < FLY_PROFILE_DECADES; d++)
            run.pf_lifetime_permille[d] = sc.sc_lifetime[d] * 1000 / sc.sc_taken;
    }
    /* A bad stored profile was reported at start-up; this run replaces it. */
    bool have = fly_profile_read(path, key, keylen, &stored, false);
    fly_profile_fold(&stored, &run, have);
    if (!fly_profile_write(path, &stored))
        fly_warn("FLYMALLOC_PROFILE=1: cannot write the profile; not saved");
}

void fly_report_at_exit_os(void)
{
    if (fly_settings.se_profile)
        save_profile_os();
    int mode = fly_settings.se_stats;
    if (mode == 0 && fly_settings.se_stats_file)
        mode = FLY_STATS_TEXT;
    if (mode == 0)
        return;
    int fd = 2;
    if (fly_settings.se_stats_file) {
        fd = fly_open_output(fly_settings.se_stats_file);
        if (fd < 0) {
            fly_option_warn(FLY_OPT_STATS_FILE, NULL, ": cannot open the file");
            fd = 2;
        }
    }
    fly_stats_print(fd, mode);
    if (fd != 2)
        close(fd);
}
