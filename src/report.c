/*
 * report.c: the statistics report at exit (FLYMALLOC_STATS,
 * FLYMALLOC_STATS_FILE), called by init.c's destructor.
 *
 * It prints as text or JSON to stderr or to the settings' file; a file
 * that cannot be opened gives a warning and stderr.
 */
#include "report.h"
#include "config.h"
#include "flymalloc.h"
#include "stats.h"
#include <unistd.h>

void fly_report_at_exit_os(void)
{
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
