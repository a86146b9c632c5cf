/*
 * test_stress_traced_tsan: the thread stress of test_stress_tsan with every
 * event recorded (FLYMALLOC_TRACE), under ThreadSanitizer and UBSan.
 *
 * Proves: the recorder's per-thread buffers, its shadow words (written by
 * the allocating thread, read by the freeing one), the sequence numbers,
 * the samples taken by whichever thread notices that 10 ms have passed, and
 * the thread-exit flushes of 200 short-lived threads have no data race and
 * no undefined behaviour that the sanitizers can see; the runner fails the
 * test on any report.
 * flytest: timeout=400
 */
#define STRESS_TRACED 1
#include "test_stress_tsan.c"
