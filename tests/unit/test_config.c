/*
 * test_config.c: proves the FLYMALLOC_* settings parser: good values are
 * taken (with k/m/g suffixes for byte sizes), malformed, out-of-range and
 * unknown ones leave the default (each with one warning, checked by the
 * bad-input tests through a real program's stderr).
 */
#include "check.h"
#include "flymalloc.h"
#include "init.h"
#include <string.h>

static fly_settings_t se;

static fly_policy_t parse(const char *a, const char *b, int *stats)
{
    char *env[4] = { (char *)a, (char *)b, NULL, NULL };
    fly_policy_t po;
    fly_policy_defaults(&po);
    memset(&se, 0, sizeof(se));
    fly_config_parse(env, &po, &se);
    *stats = se.se_stats;
    return po;
}

int main(void)
{
    int stats;
    fly_policy_t po = parse("FLYMALLOC_DECAY_MS=250", "FLYMALLOC_TCACHE_BYTES=64k", &stats);
    CHECK(po.po_decay_ms == 250 && po.po_tcache_bytes == 65536, "good values not taken");
    po = parse("FLYMALLOC_TCACHE_BYTES=2M", "FLYMALLOC_STATS=json", &stats);
    CHECK(po.po_tcache_bytes == 2u << 20 && stats == FLY_STATS_JSON, "suffix or json not taken");
    po = parse("FLYMALLOC_STATS=1", "PATH=/bin", &stats);
    CHECK(stats == FLY_STATS_TEXT, "FLYMALLOC_STATS=1 not taken");
    parse("FLYMALLOC_STATS_FILE=/tmp/s.%p", "FLYMALLOC_TRACE=/tmp/t", &stats);
    CHECK(se.se_stats_file && strcmp(se.se_stats_file, "/tmp/s.%p") == 0 &&
          se.se_trace && strcmp(se.se_trace, "/tmp/t") == 0, "file settings not taken");
    parse("FLYMALLOC_TRACE_PID=1234", "FLYMALLOC_TRACE=", &stats);
    CHECK(se.se_trace_pid == 1234 && se.se_trace == NULL, "trace pid not taken or empty trace kept");
    parse("FLYMALLOC_TRACE_PID=abc", NULL, &stats);
    CHECK(se.se_trace_pid == 0, "malformed trace pid taken");
    fly_policy_t def;
    fly_policy_defaults(&def);
    const char *bad[] = { "FLYMALLOC_DECAY_MS=abc", "FLYMALLOC_DECAY_MS=-5", "FLYMALLOC_DECAY_MS=",
                          "FLYMALLOC_DECAY_MS=99999999999999999999", "FLYMALLOC_DECAY_MS=10x",
                          "FLYMALLOC_TCACHE_BYTES=xyz", "FLYMALLOC_TCACHE_BYTES=5g",
                          "FLYMALLOC_TCACHE_BYTES=1q", "FLYMALLOC_NO_SUCH=1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        po = parse(bad[i], NULL, &stats);
        CHECK(po.po_decay_ms == def.po_decay_ms && po.po_tcache_bytes == def.po_tcache_bytes,
              "%s changed a setting", bad[i]);
    }
    return 0;
}
