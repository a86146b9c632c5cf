/*
 * profile.h: a program's allocation profile and its store (profile.c).
 *
 * A profile is what flymalloc learned of a program over its runs: how much
 * it allocates and frees, in which size classes, how many threads, how
 * long it runs, its peak, its system calls, its reallocs, and from a
 * sample of its small blocks how long they live and how many another
 * thread frees (sample.h).  Each run under
 * FLYMALLOC_PROFILE=1 folds its figures into the stored profile as a
 * moving average (the newest run weighs a quarter).  The store is one
 * small file per program, named by the program's build-id, in the user's
 * profile directory; a read-only system directory can ship profiles.  At
 * start-up a program with no FLYMALLOC_POLICY and no seed runs under the
 * policy its profile's flags choose, or the one `flymalloc tune` measured
 * best and pinned in it (fly_profile_policy).
 */
#ifndef FLY_PROFILE_H
#define FLY_PROFILE_H

#include "catalog.h"
#include "common.h"
#include "policy.h"

#define FLY_PROFILE_MAGIC 0x50594c46u        /* "FLYP" */
#define FLY_PROFILE_VERSION 2
#define FLY_PROFILE_DECADES 8                /* lifetimes: < 1 us, < 10 us, ... < 1 s, longer */
#define FLY_PROFILE_KEY_MAX 32               /* a build-id is 20 bytes (SHA-1) */
#define FLY_PROFILE_SYSTEM_DIR "/var/lib/flymalloc"

/* The file, as written (native byte order: profiles stay on their machine). */
typedef struct fly_profile {
    uint32_t pf_magic, pf_version, pf_size;
    uint32_t pf_runs;                        /* runs folded in */
    uint32_t pf_pinned;                      /* 1 + the policy flymalloc tune or seed
                                              * chose for the program; 0: none */
    uint32_t pf_key_len;
    uint8_t pf_key[FLY_PROFILE_KEY_MAX];     /* the program's build-id */
    /* Per run, moving averages: */
    uint64_t pf_run_ms;                      /* start-up to exit */
    uint64_t pf_threads;                     /* most threads with a cache at once */
    uint64_t pf_allocs, pf_frees;
    uint64_t pf_large_bytes, pf_huge_bytes;  /* live at exit */
    uint64_t pf_peak_bytes;
    uint64_t pf_syscalls;                    /* mmap, munmap, madvise, mremap */
    uint64_t pf_class_allocs[FLY_MAX_CLASSES + 1];
    uint64_t pf_reallocs;
    /* Sampled small blocks (one per 512 KiB a thread asks for): */
    uint64_t pf_sampled;                     /* taken */
    uint64_t pf_cross_permille;              /* of them, freed by another thread */
    uint64_t pf_lifetime_permille[FLY_PROFILE_DECADES];   /* freed, by lifetime; the
                                                           * rest lived to the end */
    char pf_name[64];                        /* the program's file name, for people only */
    uint64_t pf_checksum;                    /* FNV-1a of every byte before it */
} fly_profile_t;

/* The flags a profile's figures raise (fly_profile_flags); the dispatch
 * rule maps them to a policy. */
#define FLY_PF_SHORT_RUN    0x1u             /* runs under FLY_PF_SHORT_MS */
#define FLY_PF_THREADED     0x2u             /* two or more threads allocate */
#define FLY_PF_ALLOC_HEAVY  0x4u             /* FLY_PF_HEAVY_PER_MS allocations a ms or more */
#define FLY_PF_FEW_FREES    0x8u             /* frees under half the allocations */
#define FLY_PF_LARGE_HEAP   0x10u            /* peak of FLY_PF_LARGE_BYTES or more */
#define FLY_PF_CROSS_THREAD 0x20u            /* another thread frees FLY_PF_CROSS_PERMILLE
                                              * of the sampled blocks (producer/consumer) */
#define FLY_PF_SHORT_LIVED  0x40u            /* FLY_PF_SHORT_LIVED_PERMILLE of them die
                                              * within 100 us */
#define FLY_PF_CROSS_PERMILLE 500
#define FLY_PF_SHORT_LIVED_PERMILLE 750
#define FLY_PF_MIN_SAMPLES 16                /* fewer say nothing */
#define FLY_PF_SHORT_MS 300
#define FLY_PF_HEAVY_PER_MS 10000
#define FLY_PF_LARGE_BYTES (1ull << 30)

/* The file name of the profile keyed by key in dir: DIR/HEX.prof; false
 * if it does not fit. */
bool fly_profile_path(char *out, size_t len, const char *dir, const uint8_t *key, size_t keylen);
/* Reads and checks the profile at path for key; false if there is none,
 * or (with one warning naming the file, if warn) if it is corrupt,
 * truncated, foreign or another program's. */
bool fly_profile_read(const char *path, const uint8_t *key, size_t keylen, fly_profile_t *out,
                      bool warn);
/* Writes p (its checksum set here) to path through a temporary file and a
 * rename, so two processes writing at once never leave a torn file;
 * creates path's directory and its parent if missing.  False on failure. */
bool fly_profile_write(const char *path, fly_profile_t *p);
/* Folds one run's figures into a stored profile (or makes run the first). */
void fly_profile_fold(fly_profile_t *stored, const fly_profile_t *run, bool have_stored);
uint32_t fly_profile_flags(const fly_profile_t *p);
/* The bump engine's guard rail for the program (policy.h): the share of
 * its allocations it freed, in thousandths, with FLY_PF_FREE_SLACK more,
 * at most FLY_PF_FREE_MAX. */
#define FLY_PF_FREE_SLACK 250
#define FLY_PF_FREE_MAX 950
uint32_t fly_profile_free_permille(const fly_profile_t *p);
/* What the dispatch rule optimizes (FLYMALLOC_OBJECTIVE), numbered as the
 * option's words. */
#define FLY_OBJECTIVE_BALANCED 0
#define FLY_OBJECTIVE_TIME 1
#define FLY_OBJECTIVE_MEMORY 2
/* The dispatch rule: the policy pinned in the profile (flymalloc tune,
 * flymalloc seed), else the one its flags choose for objective. */
fly_policy_id_t fly_profile_policy(const fly_profile_t *p, unsigned objective);

#endif
