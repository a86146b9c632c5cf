/*
 * test_profile_sample.c: the profile's sampled blocks (src/sample.c) and
 * what the profile makes of them (src/profile.c).
 *
 *   table        with sampling on, FLY_SAMPLE_LIVE_MAX samples can be live
 *                at once and the next is refused (counted skipped); each
 *                is a one-page large block of its own, which free_sized
 *                takes with the size asked for; freeing them in a shuffled
 *                order finds every one (the table's backward-shift
 *                deletion keeps probe runs whole), files each lifetime,
 *                and a non-sample large block is not mistaken for one;
 *   cross        a sample freed by another thread counts as cross-thread,
 *                one freed by its own thread does not, and so does one
 *                freed by a thread started after its taker exited (the
 *                new thread often reuses the old one's TLS);
 *   realloc      realloc within a sample's block keeps it; realloc moving
 *                it (to a small block) closes it, once;
 *   fork         a fork child can take and release samples (the table's
 *                lock is reinitialized);
 *   flags        the flags and the balanced dispatch rule from synthetic
 *                profiles: cross-thread frees and a single thread's
 *                short-lived blocks choose busy when allocation is heavy,
 *                several threads with short-lived blocks stay default,
 *                and too few samples raise no flag;
 *   fold         a run with too few samples leaves the stored shares.
 */
#include "check.h"
#include "flymalloc.h"
#include "heap.h"
#include "large.h"
#include "profile.h"
#include "sample.h"
#include "tcache.h"
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>

static void *take(void)
{
    return fly_sample_malloc_os(fly_heap_default.hp_vmem, NULL);
}

static void release(void *p)
{
    fly_free(p);
}

static void table(void)
{
    enum { N = FLY_SAMPLE_LIVE_MAX };
    static void *p[N];
    fly_sample_counts_t before, after;
    fly_sample_counts(&before);
    for (int i = 0; i < N; i++) {
        p[i] = take();
        CHECK(p[i] != NULL, "sample %d refused", i);
        CHECK(fly_malloc_usable_size(p[i]) == 4096, "a sample is not a one-page block");
        memset(p[i], i & 0xff, 64);
    }
    CHECK(take() == NULL, "a sample past FLY_SAMPLE_LIVE_MAX was taken");
    void *plain = fly_malloc(100000);
    fly_free(plain);
    srand(7);
    for (int i = N - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        void *t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    for (int i = 0; i < N; i++) {
        unsigned char c = ((unsigned char *)p[i])[0];
        for (int k = 1; k < 64; k++)
            CHECK(((unsigned char *)p[i])[k] == c, "sample %d's contents changed", i);
        if (i % 2)
            fly_free_sized(p[i], 24);
        else
            release(p[i]);
    }
    fly_sample_counts(&after);
    uint64_t filed = 0;
    for (int d = 0; d < FLY_SAMPLE_DECADES; d++)
        filed += after.sc_lifetime[d] - before.sc_lifetime[d];
    CHECK(after.sc_taken - before.sc_taken == N && after.sc_freed - before.sc_freed == N && filed == N,
          "taken %llu, freed %llu, filed %llu of %d", (unsigned long long)(after.sc_taken - before.sc_taken),
          (unsigned long long)(after.sc_freed - before.sc_freed), (unsigned long long)filed, N);
    CHECK(after.sc_skipped - before.sc_skipped == 1, "skipped %llu",
          (unsigned long long)(after.sc_skipped - before.sc_skipped));
    CHECK(after.sc_cross == before.sc_cross, "own frees counted as cross-thread");
    void *again = take();
    CHECK(again != NULL, "no sample after the table emptied");
    release(again);
}

static void *free_it(void *p)
{
    release(p);
    return NULL;
}

static void *take_one(void *arg)
{
    *(void **)arg = take();
    return NULL;
}

static uint64_t cross_now(void)
{
    fly_sample_counts_t c;
    fly_sample_counts(&c);
    return c.sc_cross;
}

static void cross(void)
{
    uint64_t c0 = cross_now();
    void *p = take();
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_it, p) == 0, "pthread_create");
    pthread_join(t, NULL);
    CHECK(cross_now() == c0 + 1, "a sample freed by another thread is not cross-thread");
    release(take());
    CHECK(cross_now() == c0 + 1, "a sample freed by its taker counted as cross-thread");
    for (int i = 0; i < 20; i++) {
        void *q = NULL;
        CHECK(pthread_create(&t, NULL, take_one, &q) == 0, "pthread_create");
        pthread_join(t, NULL);
        CHECK(q != NULL, "a thread's sample");
        CHECK(pthread_create(&t, NULL, free_it, q) == 0, "pthread_create");
        pthread_join(t, NULL);
    }
    CHECK(cross_now() == c0 + 21, "samples freed by threads started after their takers exited: %llu cross, want 21",
          (unsigned long long)(cross_now() - c0));
}

static void realloc_case(void)
{
    fly_sample_counts_t a, b;
    fly_sample_counts(&a);
    char *p = take();
    memcpy(p, "sampled", 8);
    char *q = fly_realloc(p, 4000);
    CHECK(q == p, "realloc within a sample moved it");
    fly_sample_counts(&b);
    CHECK(b.sc_freed == a.sc_freed, "realloc within the block closed the sample");
    char *r = fly_realloc(q, 40);            /* to another class: it moves */
    CHECK(r && r != q && strcmp(r, "sampled") == 0, "realloc to a small size");
    fly_sample_counts(&b);
    CHECK(b.sc_freed == a.sc_freed + 1, "realloc moved the sample and did not close it");
    fly_free(r);
    fly_sample_counts(&b);
    CHECK(b.sc_freed == a.sc_freed + 1, "the sample was closed %llu times",
          (unsigned long long)(b.sc_freed - a.sc_freed));
}

static void fork_case(void)
{
    void *held = take();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        fly_sample_counts_t a, b;
        fly_sample_counts(&a);
        release(take());
        release(held);
        fly_sample_counts(&b);
        _exit(b.sc_freed == a.sc_freed + 2 ? 0 : 1);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fork child's samples");
    release(held);
}

static fly_profile_t synthetic(uint64_t threads, uint64_t cross, uint64_t brief, uint64_t sampled)
{
    fly_profile_t p;
    memset(&p, 0, sizeof(p));
    p.pf_run_ms = 1000;
    p.pf_threads = threads;
    p.pf_allocs = 50000000;                  /* 50,000 a ms: alloc-heavy */
    p.pf_frees = p.pf_allocs;
    p.pf_sampled = sampled;
    p.pf_cross_permille = cross;
    p.pf_lifetime_permille[1] = brief;
    p.pf_lifetime_permille[5] = 1000 - brief;
    return p;
}

static void flags(void)
{
    fly_profile_t pc = synthetic(3, 990, 100, 500), churn = synthetic(1, 0, 900, 500),
                  threaded_churn = synthetic(3, 10, 900, 500), mixed = synthetic(3, 100, 400, 500),
                  few = synthetic(3, 990, 900, FLY_PF_MIN_SAMPLES - 1);
    CHECK(fly_profile_flags(&pc) & FLY_PF_CROSS_THREAD, "producer/consumer: no cross-thread flag");
    CHECK(fly_profile_policy(&pc, FLY_OBJECTIVE_BALANCED) == FLY_POLICY_busy, "producer/consumer not busy");
    CHECK(fly_profile_flags(&churn) & FLY_PF_SHORT_LIVED, "churn: no short-lived flag");
    CHECK(fly_profile_policy(&churn, FLY_OBJECTIVE_BALANCED) == FLY_POLICY_busy, "single-thread churn not busy");
    CHECK(fly_profile_policy(&threaded_churn, FLY_OBJECTIVE_BALANCED) == FLY_POLICY_default,
          "threaded churn left default");
    CHECK(!(fly_profile_flags(&mixed) & (FLY_PF_CROSS_THREAD | FLY_PF_SHORT_LIVED)) &&
              fly_profile_policy(&mixed, FLY_OBJECTIVE_BALANCED) == FLY_POLICY_default,
          "mixed lifetimes and 10 %% cross-thread frees raised a flag");
    CHECK(!(fly_profile_flags(&few) & (FLY_PF_CROSS_THREAD | FLY_PF_SHORT_LIVED)), "too few samples raised a flag");
    pc.pf_allocs = 1000;                     /* light: no rule applies */
    CHECK(fly_profile_policy(&pc, FLY_OBJECTIVE_BALANCED) == FLY_POLICY_default, "a light program left default");
}

static void fold(void)
{
    fly_profile_t stored = synthetic(3, 800, 100, 400), run = synthetic(3, 0, 900, 4);
    stored.pf_runs = 3;
    fly_profile_fold(&stored, &run, true);
    CHECK(stored.pf_cross_permille == 800 && stored.pf_lifetime_permille[1] == 100,
          "a run of 4 samples moved the shares: cross %llu", (unsigned long long)stored.pf_cross_permille);
    run.pf_sampled = 400;
    fly_profile_fold(&stored, &run, true);
    CHECK(stored.pf_cross_permille == 600 && stored.pf_lifetime_permille[1] == 300,
          "a run's shares count a quarter: cross %llu, brief %llu", (unsigned long long)stored.pf_cross_permille,
          (unsigned long long)stored.pf_lifetime_permille[1]);
}

int main(void)
{
    fly_free(fly_malloc(1));                 /* initialized */
    fly_sample_on = true;
    table();
    cross();
    realloc_case();
    fork_case();
    flags();
    fold();
    return 0;
}
