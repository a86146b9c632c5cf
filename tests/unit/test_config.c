/*
 * test_config.c: proves the FLYMALLOC_* settings parser (src/config.c,
 * driven by src/options.def): good values are taken (with k/m/g suffixes
 * for byte sizes, every word of an enum), malformed, out-of-range and
 * unknown ones leave the default, each with exactly one warning whose text
 * comes from the table (its "using" names the real default); every number
 * default in the table parses within its range and is fly_policy_defaults'
 * value; fly_ctl's opt.NAME lookup finds exactly the run-time rows by their
 * lower-case names.
 */
#include "check.h"
#include "flymalloc.h"
#include "config.h"
#include <string.h>

static fly_settings_t se;

static fly_policy_t parse(const char *a, const char *b, int *stats)
{
    char *env[4] = { (char *)a, (char *)b, NULL, NULL };
    fly_policy_t po;
    fly_policy_defaults(&po);
    memset(&se, 0, sizeof(se));
    fly_config_parse(env, NULL, &po, &se);
    *stats = se.se_stats;
    return po;
}

/* Parses one entry with stderr captured; returns what it wrote. */
static const char *warning_of(const char *entry)
{
    static char buf[1024];
    char path[] = "/tmp/test_config.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    int saved = dup(2);
    dup2(fd, 2);
    int stats;
    parse(entry, NULL, &stats);
    dup2(saved, 2);
    close(saved);
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
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
    parse("FLYMALLOC_STATS=text", NULL, &stats);
    CHECK(stats == FLY_STATS_TEXT, "FLYMALLOC_STATS=text not taken");
    parse("FLYMALLOC_STATS=json", "FLYMALLOC_STATS=0", &stats);
    CHECK(stats == 0, "FLYMALLOC_STATS=0 not taken");
    parse("FLYMALLOC_STATS_FILE=/tmp/s.%p", "FLYMALLOC_TRACE=/tmp/t", &stats);
    CHECK(se.se_stats_file && strcmp(se.se_stats_file, "/tmp/s.%p") == 0 &&
          se.se_trace && strcmp(se.se_trace, "/tmp/t") == 0, "file settings not taken");
    parse("FLYMALLOC_TRACE_PID=1234", "FLYMALLOC_TRACE=", &stats);
    CHECK(se.se_trace_pid == 1234 && se.se_trace == NULL, "trace pid not taken or empty trace kept");
    parse("FLYMALLOC_TRACE_PID=abc", NULL, &stats);
    CHECK(se.se_trace_pid == 0, "malformed trace pid taken");
    parse("FLYMALLOC_TRACE_PID=0", NULL, &stats);
    CHECK(se.se_trace_pid == 0, "trace pid 0 taken");
    parse("FLYMALLOC_TRACE_CLOCK=counter", NULL, &stats);
    CHECK(se.se_trace_counter, "FLYMALLOC_TRACE_CLOCK=counter not taken");
    parse("FLYMALLOC_TRACE_CLOCK=counter", "FLYMALLOC_TRACE_CLOCK=tsc", &stats);
    CHECK(!se.se_trace_counter, "FLYMALLOC_TRACE_CLOCK=tsc not taken");
    parse("FLYMALLOC_TRACE_CLOCK=count", NULL, &stats);
    CHECK(!se.se_trace_counter, "a prefix of a word taken");
    fly_policy_t def;
    fly_policy_defaults(&def);
    const char *bad[] = { "FLYMALLOC_DECAY_MS=abc", "FLYMALLOC_DECAY_MS=-5", "FLYMALLOC_DECAY_MS=",
                          "FLYMALLOC_DECAY_MS=99999999999999999999", "FLYMALLOC_DECAY_MS=10x",
                          "FLYMALLOC_DECAY_MS=86400001", "FLYMALLOC_DECAY_MS",
                          "FLYMALLOC_TCACHE_BYTES=xyz", "FLYMALLOC_TCACHE_BYTES=5g",
                          "FLYMALLOC_TCACHE_BYTES=1q", "FLYMALLOC_TCACHE_BYTES=1025m",
                          "FLYMALLOC_NO_SUCH=1", "FLYMALLOC_DECAY_MSX=5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        po = parse(bad[i], NULL, &stats);
        CHECK(po.po_decay_ms == def.po_decay_ms && po.po_tcache_bytes == def.po_tcache_bytes,
              "%s changed a setting", bad[i]);
        const char *w = warning_of(bad[i]);
        CHECK(strncmp(w, "flymalloc: warning: ", 20) == 0 && strncmp(w + 20, bad[i], strlen(bad[i])) == 0,
              "%s: warning '%s'", bad[i], w);
        CHECK(strchr(w, '\n') == w + strlen(w) - 1, "%s: not one line: '%s'", bad[i], w);
    }
    po = parse("FLYMALLOC_DECAY_MS=86400000", "FLYMALLOC_TCACHE_BYTES=1g", &stats);
    CHECK(po.po_decay_ms == 86400000 && po.po_tcache_bytes == 1u << 30, "range ends refused");

    /* The warnings' words come from the table, defaults included. */
    const char *w = warning_of("FLYMALLOC_TCACHE_BYTES=xyz");
    CHECK(strcmp(w, "flymalloc: warning: FLYMALLOC_TCACHE_BYTES=xyz is malformed (want bytes "
                    "with k/m/g suffix, 0 to 1g); using 4m\n") == 0, "tcache warning '%s'", w);
    w = warning_of("FLYMALLOC_DECAY_MS=abc");
    CHECK(strcmp(w, "flymalloc: warning: FLYMALLOC_DECAY_MS=abc is malformed (want milliseconds, "
                    "0 to 86400000); using 1000\n") == 0, "decay warning '%s'", w);
    w = warning_of("FLYMALLOC_STATS=yes");
    CHECK(strcmp(w, "flymalloc: warning: FLYMALLOC_STATS=yes is malformed (want 0, 1, text or "
                    "json); using 0\n") == 0, "stats warning '%s'", w);
    w = warning_of("FLYMALLOC_STATS_FILE=");
    CHECK(strcmp(w, "flymalloc: warning: FLYMALLOC_STATS_FILE= is empty (want a file name); "
                    "using stderr\n") == 0, "stats file warning '%s'", w);
    w = warning_of("FLYMALLOC_NO_SUCH=1");
    CHECK(strcmp(w, "flymalloc: warning: FLYMALLOC_NO_SUCH=1 is not a flymalloc setting; "
                    "ignored\n") == 0, "unknown warning '%s'", w);
    w = warning_of("FLYMALLOC_DECAY_MS=1000");
    CHECK(*w == '\0', "a good value warned '%s'", w);

    /* The table's number defaults parse, lie in range and are the policy's. */
    for (fly_opt_t id = 0; id < FLY_OPT_COUNT; id++) {
        const fly_option_t *op = &fly_options[id];
        CHECK(strncmp(op->op_name, "FLYMALLOC_", 10) == 0 && op->op_help[0], "row %d", (int)id);
        if (op->op_type == FLY_OPT_TYPE_MS || op->op_type == FLY_OPT_TYPE_BYTES) {
            uint64_t v = fly_option_default(id);
            CHECK(op->op_min <= v && v <= op->op_max, "%s: default %s out of range", op->op_name,
                  op->op_default);
            char entry[128];
            snprintf(entry, sizeof entry, "%s=%s", op->op_name, op->op_default);
            w = warning_of(entry);
            CHECK(*w == '\0', "%s: the default does not parse: '%s'", op->op_name, w);
        }
    }
    CHECK(fly_option_default(FLY_OPT_DECAY_MS) == 1000 && def.po_decay_ms == 1000,
          "decay default not 1000");
    CHECK(fly_option_default(FLY_OPT_TCACHE_BYTES) == 4u << 20 && def.po_tcache_bytes == 4u << 20,
          "tcache default not 4m");

    /* fly_ctl's names: run-time rows only, lower case, whole names. */
    CHECK(fly_option_by_ctl_name("opt.decay_ms") == FLY_OPT_DECAY_MS, "opt.decay_ms");
    CHECK(fly_option_by_ctl_name("opt.tcache_bytes") == FLY_OPT_TCACHE_BYTES, "opt.tcache_bytes");
    const char *none[] = { "opt.DECAY_MS", "opt.decay_m", "opt.decay_ms2", "opt.stats", "opt.",
                           "decay_ms", "opt.trace_pid", "opt.FLYMALLOC_DECAY_MS" };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++)
        CHECK(fly_option_by_ctl_name(none[i]) == FLY_OPT_COUNT, "%s found", none[i]);
    return 0;
}
