/*
 * catalog.c: the catalogue of allocation policies (policies.def): their
 * names and descriptions, and each one's parameters over the default
 * policy.  Which policy a process runs is decided once, at start-up
 * (config.c reads FLYMALLOC_POLICY and the program's seed); the heap is
 * then made with the result, so nothing here is on any allocation path.
 */
#include "catalog.h"
#include <string.h>

const fly_policy_entry_t fly_policy_catalog[FLY_POLICY_COUNT] = {
#define FLY_POLICY(name, sizes, suits, help) [FLY_POLICY_##name] = { #name, sizes, suits, help },
#include "policies.def"
#undef FLY_POLICY
};

fly_policy_id_t fly_policy_find(const char *name, size_t len)
{
    for (fly_policy_id_t id = 0; id < FLY_POLICY_COUNT; id++)
        if (strlen(fly_policy_catalog[id].pe_name) == len &&
            memcmp(fly_policy_catalog[id].pe_name, name, len) == 0)
            return id;
    return FLY_POLICY_COUNT;
}

void fly_policy_apply(fly_policy_id_t id, fly_policy_t *po)
{
#define FLY_POLICY_PARAM(name, field, value) \
    if (id == FLY_POLICY_##name)             \
        po->po_##field = (value);
#include "policies.def"
#undef FLY_POLICY_PARAM
    (void)po;
}

const char *fly_policy_source_name(fly_policy_source_t source)
{
    switch (source) {
    case FLY_SOURCE_ENV:
        return "env";
    case FLY_SOURCE_SEED:
        return "seed";
    case FLY_SOURCE_PROFILE:
        return "profile";
    case FLY_SOURCE_DEFAULT:
        break;
    }
    return "default";
}
