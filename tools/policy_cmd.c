/*
 * policy_cmd.c: the launcher's policy commands.
 *
 *   flymalloc policies [--names]        the catalogue (src/policies.def)
 *   flymalloc policy PROGRAM            which policy PROGRAM gets here, and why
 *   flymalloc profile -- CMD ARGS...    a run that folds CMD's allocation
 *                                       profile into its stored one
 *   flymalloc tune [--objective time|memory|balanced] [--repeat N] -- CMD ARGS...
 *       runs CMD under every policy, N interleaved rounds, prints each
 *       policy's median time and peak RSS with the winner marked, and pins
 *       the winner in CMD's stored profile, so later runs get it
 *   flymalloc tune [--objective O] [--repeat N] TRACE
 *       the same by replaying a trace (flymalloc replay) under every
 *       policy, with no need to run the program; the winner is pinned for
 *       the program the trace recorded
 *   flymalloc seed PROGRAM POLICY       pins POLICY in PROGRAM's profile
 *   flymalloc forget PROGRAM            removes PROGRAM's profile
 *
 * Profiles are read and written with the library's own code (src/profile.c,
 * linked into the launcher), so the launcher and the library never
 * disagree on the format or the dispatch rule.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "profile.h"
#include "tools.h"
#include "trace_read.h"

/* The catalogue of policies, the library's own. */
static const struct policy {
    const char *name, *sizes, *suits, *help;
} policies[] = {
#define FLY_POLICY(name, sizes, suits, help) { #name, sizes, suits, help },
#include "../src/policies.def"
#undef FLY_POLICY
};
#define NPOLICIES (sizeof(policies) / sizeof(policies[0]))

static const struct policy *policy_named(const char *name, size_t len)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        if (strlen(policies[i].name) == len && strncmp(policies[i].name, name, len) == 0)
            return &policies[i];
    return NULL;
}

void fly_policy_names(FILE *f)
{
    for (size_t i = 0; i < NPOLICIES; i++)
        fprintf(f, " %s", policies[i].name);
}

int fly_cmd_policies(int argc, char **argv)
{
    bool names = argc == 1 && strcmp(argv[0], "--names") == 0;
    if (argc > 0 && !names) {
        fprintf(stderr, "usage: flymalloc policies [--names]\n");
        return 2;
    }
    for (size_t i = 0; i < NPOLICIES; i++) {
        const struct policy *p = &policies[i];
        if (names)
            printf("%s\n", p->name);
        else
            printf("%-8s %s\n         sizes: %s; suits: %s\n", p->name, p->help, p->sizes, p->suits);
    }
    if (!names)
        printf("\nFLYMALLOC_POLICY=NAME chooses one for a run; FLYMALLOC_POLICY_SEED(\"NAME\") in a\n"
               "program (flymalloc.h) makes it that program's own; `flymalloc policy PROGRAM` says\n"
               "which one a program gets.\n");
    return 0;
}

/* The descriptor of the first ELF note of owner and type in the program
 * file at path, copied into out (*len bytes); false if it has none.  Reads
 * the file's program headers, as the library reads its own process's. */
static bool file_note(const char *path, const char *owner, unsigned type, unsigned char *out,
                      size_t outlen, size_t *len)
{
    bool found = false;
    size_t owner_len = strlen(owner) + 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    Elf64_Ehdr eh;
    if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
        close(fd);
        return false;
    }
    for (unsigned i = 0; i < eh.e_phnum && !found; i++) {
        Elf64_Phdr ph;
        if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != (ssize_t)sizeof(ph))
            break;
        if (ph.p_type != PT_NOTE || ph.p_filesz > (1u << 20))
            continue;
        char *buf = malloc(ph.p_filesz);
        if (buf == NULL || pread(fd, buf, ph.p_filesz, (off_t)ph.p_offset) != (ssize_t)ph.p_filesz) {
            free(buf);
            break;
        }
        for (size_t off = 0; off + sizeof(Elf64_Nhdr) <= ph.p_filesz;) {
            Elf64_Nhdr *nh = (Elf64_Nhdr *)(void *)(buf + off);
            size_t name = off + sizeof(*nh), desc = name + ((nh->n_namesz + 3) & ~3u);
            size_t next = desc + ((nh->n_descsz + 3) & ~3u);
            if (next > ph.p_filesz)
                break;
            if (nh->n_type == type && nh->n_namesz == owner_len &&
                memcmp(buf + name, owner, owner_len) == 0 && nh->n_descsz <= outlen) {
                memcpy(out, buf + desc, nh->n_descsz);
                *len = nh->n_descsz;
                found = true;
                break;
            }
            off = next;
        }
        free(buf);
    }
    close(fd);
    return found;
}

/* The program file a command names: a bare name is looked up in PATH, as
 * a shell would run it; false (with a message) if it cannot be read. */
static bool resolve_program(const char *name, char *path, size_t len, const char *cmd)
{
    snprintf(path, len, "%s", name);
    const char *dirs = getenv("PATH");
    while (strchr(name, '/') == NULL && dirs && *dirs) {
        size_t n = strcspn(dirs, ":");
        snprintf(path, len, "%.*s/%s", (int)n, dirs, name);
        if (access(path, X_OK) == 0)
            break;
        snprintf(path, len, "%s", name);
        dirs += n + (dirs[n] == ':');
    }
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "flymalloc %s: cannot read %s: %s\n", cmd, path, strerror(errno));
        return false;
    }
    return true;
}

/* The user's profile directory, as the library finds it (config.c). */
static void profile_dir(char *out, size_t len)
{
    const char *dir = getenv("FLYMALLOC_PROFILE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
    if (dir && *dir)
        snprintf(out, len, "%s", dir);
    else if (xdg && xdg[0] == '/')
        snprintf(out, len, "%s/flymalloc", xdg);
    else if (getenv("HOME") && *getenv("HOME"))
        snprintf(out, len, "%s/.cache/flymalloc", getenv("HOME"));
    else
        out[0] = '\0';
}

int fly_cmd_policy(int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: flymalloc policy PROGRAM\n");
        return 2;
    }
    char path[PATH_MAX], seed[128];
    if (!resolve_program(argv[0], path, sizeof(path), "policy"))
        return 1;
    const char *env = getenv("FLYMALLOC_POLICY");
    size_t seed_len = 0, key_len = 0;
    unsigned char key[FLY_PROFILE_KEY_MAX];
    bool has_seed = file_note(path, "flymalloc", 1, (unsigned char *)seed, sizeof(seed) - 1, &seed_len);
    seed[has_seed ? strnlen(seed, seed_len) : 0] = '\0';
    bool has_key = file_note(path, "GNU", NT_GNU_BUILD_ID, key, sizeof(key), &key_len);
    char dir[PATH_MAX], user[PATH_MAX + 128], sys[PATH_MAX];
    profile_dir(dir, sizeof(dir));
    fly_profile_t prof;
    const char *found = NULL;
    if (has_key && fly_profile_path(user, sizeof(user), dir, key, key_len) &&
        fly_profile_read(user, key, key_len, &prof, true))
        found = user;
    else if (has_key && fly_profile_path(sys, sizeof(sys), FLY_PROFILE_SYSTEM_DIR, key, key_len) &&
             fly_profile_read(sys, key, key_len, &prof, true))
        found = sys;
    if (env) {
        if (policy_named(env, strlen(env)))
            printf("%s: %s (env: FLYMALLOC_POLICY is set here)\n", path, env);
        else
            printf("%s: default (env: FLYMALLOC_POLICY=%s is not a policy, so the default)\n", path, env);
    } else if (has_seed && policy_named(seed, strlen(seed))) {
        printf("%s: %s (seed: linked into the program)\n", path, seed);
    } else if (has_seed) {
        printf("%s: default (seed \"%s\" in the program is not a policy)\n", path, seed);
    } else if (found) {
        const char *obj = getenv("FLYMALLOC_OBJECTIVE");
        unsigned objective = obj && strcmp(obj, "time") == 0     ? FLY_OBJECTIVE_TIME
                             : obj && strcmp(obj, "memory") == 0 ? FLY_OBJECTIVE_MEMORY
                                                                 : FLY_OBJECTIVE_BALANCED;
        printf("%s: %s (profile: %s; objective %s)\n", path,
               policies[fly_profile_policy(&prof, objective)].name, found,
               objective == FLY_OBJECTIVE_TIME     ? "time"
               : objective == FLY_OBJECTIVE_MEMORY ? "memory"
                                                   : "balanced");
    } else {
        printf("%s: default (default: no FLYMALLOC_POLICY, no seed in the program, no profile%s)\n",
               path, has_key ? "" : ": it has no build-id");
    }
    if (found && prof.pf_pinned)
        printf("pinned: %s, by flymalloc tune or flymalloc seed\n",
               prof.pf_pinned <= NPOLICIES ? policies[prof.pf_pinned - 1].name : "(not a policy)");
    if (found && prof.pf_runs) {
        uint32_t f = fly_profile_flags(&prof);
        printf("profile: %u run(s); per run %llu ms, %llu thread(s), %llu allocations, %llu frees, "
               "%llu reallocs, peak %llu bytes, %llu memory system calls\n",
               prof.pf_runs, (unsigned long long)prof.pf_run_ms, (unsigned long long)prof.pf_threads,
               (unsigned long long)prof.pf_allocs, (unsigned long long)prof.pf_frees,
               (unsigned long long)prof.pf_reallocs, (unsigned long long)prof.pf_peak_bytes,
               (unsigned long long)prof.pf_syscalls);
        static const char *const decade[FLY_PROFILE_DECADES] = { "<1us", "<10us", "<100us", "<1ms",
                                                                 "<10ms", "<100ms", "<1s", ">=1s" };
        uint64_t freed = 0;
        printf("sampled blocks: %llu per run; freed by another thread %.1f%%; lifetimes",
               (unsigned long long)prof.pf_sampled, prof.pf_cross_permille / 10.0);
        for (unsigned d = 0; d < FLY_PROFILE_DECADES; d++) {
            printf(" %s %.1f%%", decade[d], prof.pf_lifetime_permille[d] / 10.0);
            freed += prof.pf_lifetime_permille[d];
        }
        printf(", to the end %.1f%%\n", freed < 1000 ? (1000 - freed) / 10.0 : 0.0);
        printf("flags:%s%s%s%s%s%s%s%s\n", f & FLY_PF_SHORT_RUN ? " short-run" : "",
               f & FLY_PF_THREADED ? " threaded" : "", f & FLY_PF_ALLOC_HEAVY ? " alloc-heavy" : "",
               f & FLY_PF_FEW_FREES ? " few-frees" : "", f & FLY_PF_LARGE_HEAP ? " large-heap" : "",
               f & FLY_PF_CROSS_THREAD ? " cross-thread-frees" : "",
               f & FLY_PF_SHORT_LIVED ? " short-lived" : "", f ? "" : " (none)");
    }
    return 0;
}

/* flymalloc profile -- CMD: a run of CMD on flymalloc that folds its
 * allocation profile into CMD's stored profile at exit. */
int fly_cmd_profile(int argc, char **argv)
{
    int i = argc > 0 && strcmp(argv[0], "--") == 0 ? 1 : 0;
    if (i >= argc) {
        fprintf(stderr, "usage: flymalloc profile -- CMD [ARGS...]\n");
        return 2;
    }
    if (fly_preload_self() != 0)
        return 2;
    setenv("FLYMALLOC_PROFILE", "1", 1);
    execvp(argv[i], argv + i);
    fprintf(stderr, "flymalloc: cannot run %s: %s\n", argv[i], strerror(errno));
    return 127;
}


/* The user's store path of the program at path (by its build-id); false
 * with a message if it has no build-id or there is no store. */
static bool store_path(const char *path, char *out, size_t len, unsigned char *key, size_t *key_len,
                       const char *cmd)
{
    char dir[PATH_MAX];
    if (!file_note(path, "GNU", NT_GNU_BUILD_ID, key, FLY_PROFILE_KEY_MAX, key_len)) {
        fprintf(stderr, "flymalloc %s: %s has no build-id, so no profile can name it\n", cmd, path);
        return false;
    }
    profile_dir(dir, sizeof(dir));
    if (!fly_profile_path(out, len, dir, key, *key_len)) {
        fprintf(stderr, "flymalloc %s: no profile directory (set FLYMALLOC_PROFILE_DIR or HOME)\n",
                cmd);
        return false;
    }
    return true;
}

/* Pins policy id in the stored profile at store, of the program keyed by
 * key, keeping what the profile learned and folding in learned (a run's
 * profile) if given; false with a message on failure. */
static bool pin_key(const char *store, const unsigned char *key, size_t key_len, size_t id,
                    const fly_profile_t *learned, const char *cmd)
{
    fly_profile_t p;
    bool have = fly_profile_read(store, key, key_len, &p, false);
    if (!have) {
        memset(&p, 0, sizeof(p));
        p.pf_key_len = (uint32_t)key_len;
        memcpy(p.pf_key, key, key_len);
    }
    if (learned)
        fly_profile_fold(&p, learned, have);
    p.pf_pinned = (uint32_t)id + 1;
    if (!fly_profile_write(store, &p)) {
        fprintf(stderr, "flymalloc %s: cannot write %s: %s\n", cmd, store, strerror(errno));
        return false;
    }
    return true;
}

/* Pins policy id in the profile of the program at path; false with a
 * message on failure. */
static bool pin(const char *path, size_t id, const char *cmd)
{
    char store[PATH_MAX + 128];
    unsigned char key[FLY_PROFILE_KEY_MAX];
    size_t key_len = 0;
    if (!store_path(path, store, sizeof(store), key, &key_len, cmd) ||
        !pin_key(store, key, key_len, id, NULL, cmd))
        return false;
    printf("%s: runs under %s from now on (%s; `flymalloc forget %s` undoes it)\n", path,
           policies[id].name, store, path);
    return true;
}

/* The key a profile's file name spells (HEX.prof); its length, 0 if the
 * name is not a profile's. */
static size_t key_of_name(const char *name, unsigned char *key)
{
    size_t n = strlen(name), len = 0;
    if (n < 7 || strcmp(name + n - 5, ".prof") != 0 || (n - 5) % 2 || (n - 5) / 2 > FLY_PROFILE_KEY_MAX)
        return 0;
    for (size_t i = 0; i + 5 < n; i += 2) {
        unsigned v;
        if (sscanf(name + i, "%2x", &v) != 1)
            return 0;
        key[len++] = (unsigned char)v;
    }
    return len;
}


int fly_cmd_seed(int argc, char **argv)
{
    char path[PATH_MAX];
    if (argc != 2) {
        fprintf(stderr, "usage: flymalloc seed PROGRAM POLICY\n");
        return 2;
    }
    const struct policy *p = policy_named(argv[1], strlen(argv[1]));
    if (p == NULL) {
        fprintf(stderr, "flymalloc seed: %s is not a policy (want one of:", argv[1]);
        fly_policy_names(stderr);
        fprintf(stderr, ")\n");
        return 2;
    }
    if (!resolve_program(argv[0], path, sizeof(path), "seed"))
        return 1;
    return pin(path, (size_t)(p - policies), "seed") ? 0 : 1;
}

int fly_cmd_forget(int argc, char **argv)
{
    char path[PATH_MAX], store[PATH_MAX + 128];
    unsigned char key[FLY_PROFILE_KEY_MAX];
    size_t key_len = 0;
    if (argc != 1) {
        fprintf(stderr, "usage: flymalloc forget PROGRAM\n");
        return 2;
    }
    if (!resolve_program(argv[0], path, sizeof(path), "forget") ||
        !store_path(path, store, sizeof(store), key, &key_len, "forget"))
        return 1;
    if (unlink(store) != 0 && errno != ENOENT) {
        fprintf(stderr, "flymalloc forget: cannot remove %s: %s\n", store, strerror(errno));
        return 1;
    }
    printf("%s: its profile is forgotten (%s)\n", path, store);
    return 0;
}

/* One run of argv under policy: wall seconds and peak RSS in KiB; false
 * if it did not exit 0.  Its output goes to /dev/null. */
static bool timed_run(char **argv, const char *policy, const char *profile_dir, double *secs,
                      long *rss_kib)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        setenv("FLYMALLOC_POLICY", policy, 1);
        if (profile_dir) {
            setenv("FLYMALLOC_PROFILE", "1", 1);
            setenv("FLYMALLOC_PROFILE_DIR", profile_dir, 1);
        } else {
            unsetenv("FLYMALLOC_PROFILE");
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        return false;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    *rss_kib = ru.ru_maxrss;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* One replay of trace under policy: the replay's own time and peak RSS in
 * KiB (the worker's, not the launcher's reading the trace); false if it
 * failed.  json is a scratch file for replay's results. */
static bool replay_run(const char *trace, const char *policy, const char *json, double *secs,
                       long *rss_kib)
{
    char *argv[] = { "/proc/self/exe", "replay", (char *)trace, "--allocator", "flymalloc",
                     "--no-syscalls", "--json", (char *)json, NULL };
    double wall;
    long kib;
    if (!timed_run(argv, policy, NULL, &wall, &kib))
        return false;
    char buf[4096];
    FILE *f = fopen(json, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *t = strstr(buf, "\"time_s\":"), *r = strstr(buf, "\"peak_rss_bytes\":");
    if (t == NULL || r == NULL)
        return false;
    *secs = strtod(t + 9, NULL);
    *rss_kib = (long)(strtoull(r + 17, NULL, 10) / 1024);
    return true;
}

/* Whether path is a trace file (docs/trace-format.md: its magic). */
static bool is_trace(const char *path)
{
    char magic[8] = { 0 };
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    bool yes = read(fd, magic, sizeof magic) == (ssize_t)sizeof magic && memcmp(magic, "FLYTRACE", 8) == 0;
    close(fd);
    return yes;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define TUNE_MAX_PROGRAMS 64

/* The programs cmd ran besides itself (a compiler driver's cc1, a build's
 * tools) that made a tenth or more of all the allocations of a run get
 * policy id pinned too: one more run, under that policy and profiled into
 * a scratch store, finds them by their profiles.  False with a message
 * if that run fails. */
static bool pin_children(char **cmd, size_t id, const unsigned char *top, size_t top_len)
{
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX], file[PATH_MAX + 300], store[PATH_MAX + 128], userdir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/flymalloc-tune-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "flymalloc tune: cannot make a scratch directory: %s\n", strerror(errno));
        return false;
    }
    fprintf(stderr, "flymalloc tune: one more run, profiled, to find the programs it runs\n");
    double secs;
    long kib;
    bool ran = timed_run(cmd, policies[id].name, dir, &secs, &kib);
    static fly_profile_t found[TUNE_MAX_PROGRAMS];
    static unsigned char keys[TUNE_MAX_PROGRAMS][FLY_PROFILE_KEY_MAX];
    size_t lens[TUNE_MAX_PROGRAMS], n = 0;
    uint64_t total = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s/%s", dir, e->d_name);
        size_t len = key_of_name(e->d_name, keys[n < TUNE_MAX_PROGRAMS ? n : 0]);
        if (n < TUNE_MAX_PROGRAMS && len && fly_profile_read(file, keys[n], len, &found[n], false)) {
            lens[n] = len;
            total += found[n++].pf_allocs;
        }
        unlink(file);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    if (!ran) {
        fprintf(stderr, "flymalloc tune: %s failed under policy %s\n", cmd[0], policies[id].name);
        return false;
    }
    profile_dir(userdir, sizeof(userdir));
    for (size_t i = 0; i < n; i++) {
        if ((lens[i] == top_len && memcmp(keys[i], top, top_len) == 0) || found[i].pf_allocs * 10 < total)
            continue;
        if (!fly_profile_path(store, sizeof(store), userdir, keys[i], lens[i]) ||
            !pin_key(store, keys[i], lens[i], id, &found[i], "tune"))
            return false;
        printf("%s, which it runs (%.0f%% of the allocations): runs under %s from now on (%s)\n",
               found[i].pf_name[0] ? found[i].pf_name : "a program", 100.0 * (double)found[i].pf_allocs / (double)total,
               policies[id].name, store);
    }
    return true;
}

#define TUNE_MAX_REPEAT 50

int fly_cmd_tune(int argc, char **argv)
{
    const char *objective = "balanced";
    int repeat = 5, i = 0;
    bool dashdash = false;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            dashdash = true;
            break;
        } else if (strcmp(argv[i], "--objective") == 0 && i + 1 < argc) {
            objective = argv[++i];
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else {
            break;
        }
    }
    bool known = !strcmp(objective, "time") || !strcmp(objective, "memory") ||
                 !strcmp(objective, "balanced");
    if (i >= argc || !known || repeat < 1 || repeat > TUNE_MAX_REPEAT) {
        fprintf(stderr, "usage: flymalloc tune [--objective time|memory|balanced] [--repeat N (1-%d)] "
                        "-- CMD [ARGS...] | TRACE\n", TUNE_MAX_REPEAT);
        return 2;
    }
    char **cmd = argv + i, path[PATH_MAX], recorded[PATH_MAX], json[PATH_MAX];
    const char *trace = NULL;
    if (i + 1 == argc && !dashdash && is_trace(argv[i])) {
        /* A trace: the program it recorded gets the winner. */
        trace = argv[i];
        fly_trace t;
        char err[256];
        if (fly_trace_open(&t, trace, err, sizeof(err)) != 0) {
            fprintf(stderr, "flymalloc tune: %s\n", err);
            return 1;
        }
        bool named = t.argc > 0 && t.argv[0][0];
        size_t events = t.nevents;
        if (named)
            snprintf(recorded, sizeof(recorded), "%s", t.argv[0]);
        fly_trace_close(&t);
        if (!named || events == 0) {
            fprintf(stderr, "flymalloc tune: %s records %s\n", trace,
                    named ? "no allocation to replay" : "no command line");
            return 1;
        }
        const char *tmp = getenv("TMPDIR");
        snprintf(json, sizeof(json), "%s/flymalloc-tune-%d.json", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    }
    if (!resolve_program(trace ? recorded : cmd[0], path, sizeof(path), "tune") || fly_preload_self() != 0)
        return 1;
    static double secs[NPOLICIES][TUNE_MAX_REPEAT], rss[NPOLICIES][TUNE_MAX_REPEAT];
    /* Rounds interleave the policies, so a change in the machine's load
     * falls on all of them alike. */
    for (int r = 0; r < repeat; r++) {
        for (size_t p = 0; p < NPOLICIES; p++) {
            fprintf(stderr, "\rflymalloc tune: round %d of %d, %-8s", r + 1, repeat, policies[p].name);
            long kib = 0;
            bool ok = trace ? replay_run(trace, policies[p].name, json, &secs[p][r], &kib)
                            : timed_run(cmd, policies[p].name, NULL, &secs[p][r], &kib);
            if (!ok) {
                fprintf(stderr, "\nflymalloc tune: %s failed under policy %s\n", trace ? trace : cmd[0],
                        policies[p].name);
                if (trace)
                    unlink(json);
                return 1;
            }
            rss[p][r] = (double)kib;
        }
    }
    fprintf(stderr, "\r%60s\r", "");
    if (trace)
        unlink(json);
    double t[NPOLICIES], m[NPOLICIES], score[NPOLICIES];
    size_t best = 0;
    for (size_t p = 0; p < NPOLICIES; p++) {
        t[p] = median(secs[p], repeat);
        m[p] = median(rss[p], repeat);
    }
    /* Scores relative to default (policy 0): time, peak RSS, or their
     * product, which weighs a change of either by the same ratio. */
    for (size_t p = 0; p < NPOLICIES; p++) {
        double tr = t[p] / t[0], mr = m[p] / m[0];
        score[p] = !strcmp(objective, "time") ? tr : !strcmp(objective, "memory") ? mr : tr * mr;
        if (score[p] < score[best])
            best = p;
    }
    printf("%s%s%s, %d round(s), objective %s (scores relative to default, lower is better)\n", path,
           trace ? ", replaying " : "", trace ? trace : "", repeat, objective);
    printf("  %-8s %10s %12s %8s\n", "policy", "time (s)", "peak RSS", "score");
    for (size_t p = 0; p < NPOLICIES; p++)
        printf("%c %-8s %10.3f %9.1f MiB %8.3f\n", p == best ? '*' : ' ', policies[p].name, t[p],
               m[p] / 1024, score[p]);
    if (!pin(path, best, "tune"))
        return 1;
    if (trace)
        return 0;
    unsigned char top[FLY_PROFILE_KEY_MAX];
    size_t top_len = 0;
    file_note(path, "GNU", NT_GNU_BUILD_ID, top, sizeof(top), &top_len);
    return pin_children(cmd, best, top, top_len) ? 0 : 1;
}
