/*
 * fuzz_trace.c: libFuzzer target: arbitrary bytes as a trace file.
 *
 * The reader behind `flymalloc analyze`, `replay` and `report`
 * (tools/trace_read.c) must reject anything that is not a valid trace with
 * a message, or accept it and give a consistent result, never crash, hang
 * or read out of bounds.  The input is written to a memory file and opened
 * by path; an accepted trace is then walked as analyze walks it (live
 * bytes over the merged order, the live curve), and the live counts must
 * never go negative.  Built with AddressSanitizer and UBSan
 * (tests/fuzz/test_fuzz.sh), so every out-of-bounds read is a finding.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    int fd = memfd_create("trace", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (len && write(fd, data, len) != (ssize_t)len)
        abort();
    char path[64], err[512];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    fly_trace t;
    memset(&t, 0, sizeof t);
    if (fly_trace_open(&t, path, err, sizeof err) != 0) {
        if (err[0] == '\0')
            abort();                              /* a rejection must say why */
        close(fd);
        return 0;
    }
    fly_live l;
    if (fly_live_init(&l, &t) == 0) {
        for (size_t i = 0; i < t.nevents; i++) {
            uint32_t ended[2];
            int n = fly_live_step(&l, &t, i, ended);
            if (n < 0 || n > 2)
                abort();
        }
        fly_live_free(&l);
    }
    size_t pts[FLY_CURVE_POINTS + 1];
    size_t np = fly_trace_curve_points(&t, FLY_CURVE_POINTS, pts);
    for (size_t i = 0; i < np; i++)
        if (pts[i] >= t.nevents || (i && pts[i] <= pts[i - 1]))
            abort();
    fly_trace_close(&t);
    close(fd);
    return 0;
}
