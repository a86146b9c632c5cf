/*
 * exe.c: the running program's ELF notes, read through the program
 * headers the kernel passes in the auxiliary vector (AT_PHDR, AT_PHNUM):
 * no file is opened, nothing is allocated, and it works the same for a
 * static, dynamic or position-independent program and under LD_PRELOAD,
 * where a symbol of the program would not be visible to the library
 * unless the program exported it.
 *
 * FLYMALLOC_POLICY_SEED (flymalloc.h) puts a note of owner "flymalloc",
 * type FLY_NOTE_POLICY, whose descriptor is the policy's name, in the
 * program's PT_NOTE segment, the way the linker places the GNU build-id,
 * which is read the same way: it names the program's stored profile.
 */
#include "exe.h"
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>

#define FLY_NOTE_POLICY 1

static size_t note_align(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* The descriptor of the first note of owner and type in [p, end). */
static const char *find_note(const char *p, const char *end, const char *owner, uint32_t type,
                             size_t *len)
{
    size_t owner_len = strlen(owner) + 1;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
        const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
        const char *name = p + sizeof(*nh);
        const char *desc = name + note_align(nh->n_namesz);
        const char *next = desc + note_align(nh->n_descsz);
        if (next > end || next <= p)
            return NULL;
        if (nh->n_type == type && nh->n_namesz == owner_len && memcmp(name, owner, owner_len) == 0) {
            *len = nh->n_descsz;
            return desc;
        }
        p = next;
    }
    return NULL;
}

/* The descriptor of the program's first note of owner and type. */
static const char *program_note(const char *owner, uint32_t type, size_t *len)
{
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    size_t n = (size_t)getauxval(AT_PHNUM);
    if (ph == NULL || n == 0)
        return NULL;
    /* The load bias: where the headers are, less where they say they are. */
    uintptr_t bias = 0;
    for (size_t i = 0; i < n; i++)
        if (ph[i].p_type == PT_PHDR)
            bias = (uintptr_t)ph - ph[i].p_vaddr;
    for (size_t i = 0; i < n; i++) {
        if (ph[i].p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(bias + ph[i].p_vaddr);
        const char *desc = find_note(p, p + ph[i].p_memsz, owner, type, len);
        if (desc)
            return desc;
    }
    return NULL;
}

const char *fly_exe_policy_seed(size_t *len)
{
    const char *seed = program_note("flymalloc", FLY_NOTE_POLICY, len);
    if (seed)
        *len = strnlen(seed, *len);
    return seed;
}

const uint8_t *fly_exe_build_id(size_t *len)
{
    return (const uint8_t *)program_note("GNU", NT_GNU_BUILD_ID, len);
}

bool fly_exe_secure(void)
{
    return getauxval(AT_SECURE) != 0;
}
