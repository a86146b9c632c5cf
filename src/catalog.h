/*
 * catalog.h: the allocation policies a program can run under (catalog.c;
 * the table is policies.def), and where the running one was chosen.
 */
#ifndef FLY_CATALOG_H
#define FLY_CATALOG_H

#include "common.h"
#include "policy.h"

/* One id per row of policies.def: FLY_POLICY_default, ... */
typedef enum fly_policy_id {
#define FLY_POLICY(name, ...) FLY_POLICY_##name,
#include "policies.def"
#undef FLY_POLICY
    FLY_POLICY_COUNT
} fly_policy_id_t;

/* Where the running policy came from, in precedence order (a source
 * earlier in the list wins). */
typedef enum fly_policy_source {
    FLY_SOURCE_ENV,          /* FLYMALLOC_POLICY */
    FLY_SOURCE_SEED,         /* FLYMALLOC_POLICY_SEED in the program */
    FLY_SOURCE_PROFILE,      /* the program's stored profile (profile.h) */
    FLY_SOURCE_DEFAULT       /* nothing chose one */
} fly_policy_source_t;

typedef struct fly_policy_entry {
    const char *pe_name;
    const char *pe_sizes;    /* the request sizes it is about */
    const char *pe_suits;    /* flags: what program behaviour it is for */
    const char *pe_help;
} fly_policy_entry_t;

extern const fly_policy_entry_t fly_policy_catalog[FLY_POLICY_COUNT];

/* The policy called name (len bytes, not terminated), or FLY_POLICY_COUNT. */
fly_policy_id_t fly_policy_find(const char *name, size_t len);
/* Sets the parameters policy id names in po (fly_policy_defaults filled it). */
void fly_policy_apply(fly_policy_id_t id, fly_policy_t *po);
const char *fly_policy_source_name(fly_policy_source_t source);

#endif
