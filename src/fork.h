/*
 * fork.h: the fork handlers (fork.c), installed by fly_init with
 * pthread_atfork.
 */
#ifndef FLY_FORK_H
#define FLY_FORK_H

void fly_prefork(void);
void fly_postfork_parent(void);
void fly_postfork_child(void);

#endif
