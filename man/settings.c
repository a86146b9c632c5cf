/*
 * settings.c: prints the SETTINGS section of flymalloc(7), in roff, from
 * the options table (src/options.def), so the manual cannot drift from it.
 * Built and run by the Makefile; not part of the library or the launcher.
 */
#include <stdio.h>

/* Roff needs a backslash before each hyphen that must stay one; in a
 * list of words, '|' separates values and '/' synonyms. */
static void roff(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs(", ", stdout);
        else if (*s == '/')
            fputs(" or ", stdout);
        else {
            if (*s == '-' || *s == '\\')
                putchar('\\');
            putchar(*s);
        }
    }
}

/* opt.NAME in lower case: fly_ctl's name for a run-time setting. */
static void ctl_name(const char *name)
{
    fputs(" fly_ctl(\"opt.", stdout);
    for (; *name; name++)
        putchar(*name >= 'A' && *name <= 'Z' ? *name - 'A' + 'a' : *name);
    fputs("\") changes it at run time.", stdout);
}

int main(void)
{
#define FLY_OPTION(name, type, def, min, max, words, runtime, help)     \
    printf(".TP\n.B FLYMALLOC_%s\n", #name);                         \
    roff(help);                                                     \
    printf(".\n");                                                  \
    if ((words)[0]) {                                               \
        printf("Values: ");                                         \
        roff(words);                                                \
        printf(".\n");                                              \
    } else if ((max) > 0) {                                         \
        printf("From %llu to %llu%s.\n", (unsigned long long)(min), \
               (unsigned long long)(max),                           \
               #type[0] == 'B' ? " bytes (suffix k, m or g)"       \
               : #type[0] == 'M' ? " ms" : "");                     \
    }                                                               \
    printf("Default: ");                                            \
    roff(def);                                                      \
    printf(".");                                                    \
    if (runtime)                                                    \
        ctl_name(#name);                                            \
    printf("\n");
#include "options.def"
#undef FLY_OPTION
    return 0;
}
