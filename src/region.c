/*
 * region.c: the region map, one word per 64 MiB of address space that
 * says whether an address is ours and where its region's header is
 * (region.h).  Arenas publish their regions in it and huge.c its mappings;
 * free and the validity checks read it.
 */
#include "region.h"

uintptr_t fly_region_map[FLY_REGION_MAP_LEN];
