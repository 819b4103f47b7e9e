/*
 * skip.c - the program meson runs for a test that cannot run in this build
 * (a program, a module or a service it needs is missing): prints
 * "SKIP: <reason>" (its arguments, joined by spaces) and exits 77, which
 * meson reports as SKIP. So a suite that cannot run is listed as skipped
 * with its reason instead of missing from the list, and scripts/test.sh
 * can refuse skips in CI.
 *   usage: test-skip REASON...
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	fputs("SKIP:", stdout);
	for (int i = 1; i < argc; i++)
		printf(" %s", argv[i]);
	if (argc < 2)
		fputs(" (no reason given)", stdout);
	putchar('\n');
	return 77;
}
