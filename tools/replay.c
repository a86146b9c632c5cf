/* replay.c: placeholder until the subcommand lands. */
#include "tools.h"
#include <stdio.h>
int fly_cmd_replay(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "flymalloc replay: not built yet\n");
    return 2;
}
