/*
 * text.h: a text writer over a caller's buffer (text.c).
 */
#ifndef FLY_TEXT_H
#define FLY_TEXT_H

#include "common.h"

/* Text built in a caller's buffer (no stdio, no allocation): when full it
 * is written to tx_fd, or, with tx_fd < 0, the rest is cut off. */
typedef struct fly_text {
    char *tx_buf;
    size_t tx_len, tx_cap;
    int tx_fd;
} fly_text_t;
void fly_text_flush(fly_text_t *t);
void fly_text_put(fly_text_t *t, const char *s);
void fly_text_u64(fly_text_t *t, uint64_t v);
/* "12.3 MiB", "512 B" */
void fly_text_bytes(fly_text_t *t, uint64_t v);

#endif
