/* leavesync: the command line. The only place that talks to the user. (Skeleton: filled in next.) */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("leavesync %s\n", LEAVESYNC_VERSION);
		return 0;
	}
	fputs("usage: leavesync [-c CONFIG] COMMAND [options]\n", stderr);
	return 2;
}
