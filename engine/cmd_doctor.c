/* leavesync doctor: placeholder until the checks land (issue 7). */
#include "engine/cli.h"

#include <stdio.h>

int cmd_doctor(const struct cli *cli, int argc, char **argv)
{
	(void)cli;
	(void)argc;
	(void)argv;
	fputs("leavesync: doctor is not built yet\n", stderr);
	return EXIT_USAGE;
}
