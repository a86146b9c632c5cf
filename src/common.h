/*
 * common.h: constants, compiler helpers and the fatal-error interface shared
 * by every flymalloc source file.
 *
 * Address-space geometry (all powers of two, named with their derivation):
 *   FLY_PAGE     4 KiB, the granule of vmem and of the page map;
 *   FLY_REGION   64 MiB, the unit the os layer reserves, aligned to its own
 *                size so that any pointer finds its region header by masking;
 *   FLY_ZONE_MIN 64 KiB, the smallest slab zone (the pagemap's zone slot).
 */
#ifndef FLY_COMMON_H
#define FLY_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define FLY_PAGE_SHIFT      12
#define FLY_PAGE            ((size_t)1 << FLY_PAGE_SHIFT)
#define FLY_REGION_SHIFT    26
#define FLY_REGION          ((size_t)1 << FLY_REGION_SHIFT)
#define FLY_REGION_PAGES    (FLY_REGION >> FLY_PAGE_SHIFT)          /* 16384 */
#define FLY_ZONE_MIN_SHIFT  16
#define FLY_ZONE_MIN        ((size_t)1 << FLY_ZONE_MIN_SHIFT)
#define FLY_REGION_SLOTS    (FLY_REGION >> FLY_ZONE_MIN_SHIFT)      /* 1024 */
/* User addresses are below 2^47 on x86-64 and arm64 (48-bit VA). */
#define FLY_VA_BITS         47
#define FLY_REGION_MAP_LEN  ((size_t)1 << (FLY_VA_BITS - FLY_REGION_SHIFT))

#define fly_likely(x)    __builtin_expect(!!(x), 1)
#define fly_unlikely(x)  __builtin_expect(!!(x), 0)
#define FLY_INLINE       static inline __attribute__((always_inline))
#define FLY_NOINLINE     __attribute__((noinline))
#define FLY_EXPORT       __attribute__((visibility("default")))
#define FLY_CACHELINE    64
#define FLY_ALIGNED_CL   __attribute__((aligned(FLY_CACHELINE)))

#define FLY_ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((a) - 1))
#define FLY_MIN(a, b)        ((a) < (b) ? (a) : (b))
#define FLY_MAX(a, b)        ((a) > (b) ? (a) : (b))

/* Aborts with "flymalloc: FUNC(): WHAT 0xADDR".  Never allocates. */
__attribute__((noreturn)) void fly_panic_ptr(const char *func, const char *what,
                                             const void *addr);
/* Aborts with "flymalloc: fatal: MSG" (internal invariant broken). */
__attribute__((noreturn)) void fly_panic(const char *msg);
/* Writes "flymalloc: warning: MSG" and a newline to stderr. */
void fly_warn(const char *msg);

/* Formatting without stdio, for messages and statistics. */
size_t fly_fmt_u64(char *buf, uint64_t v);          /* decimal, returns length */
size_t fly_fmt_hex(char *buf, uint64_t v);          /* 0x..., returns length */
void fly_write_all(int fd, const char *s, size_t len);
void fly_write_str(int fd, const char *s);

#ifdef FLY_DEBUG
#define FLY_ASSERT(c) do { if (fly_unlikely(!(c))) fly_panic("assertion failed: " #c); } while (0)
#else
#define FLY_ASSERT(c) do { (void)sizeof(c); } while (0)
#endif

/* Milliseconds of a coarse monotonic clock (cheap: vDSO, no syscall). */
uint64_t fly_now_ms(void);

#endif
