/*
 * report.h: the statistics report at exit (report.c).
 */
#ifndef FLY_REPORT_H
#define FLY_REPORT_H

/* Prints the statistics as the settings ask (FLYMALLOC_STATS,
 * FLYMALLOC_STATS_FILE); nothing if they do not.  From init.c's
 * destructor, so that linking init.o links this too. */
void fly_report_at_exit_os(void);

#endif
