// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap-tests: the pgremap test runner.
 *
 *	pgremap-tests [SUITE]
 *	pgremap-tests --list
 *
 * Runs every suite (or only SUITE) in Check's fork mode and prints TAP on
 * stdout. Check's own environment variables work as usual: CK_RUN_SUITE,
 * CK_RUN_CASE (a test case, e.g. "api-efault"), CK_FORK=no,
 * CK_TIMEOUT_MULTIPLIER. Exit status: 0 iff at least one test ran and every
 * test that ran passed (or was skipped), 1 otherwise, 2 on usage errors.
 *
 * To add a suite: write its constructor in a new test_<area>.c, declare it
 * in util.h and add one line to pgr_suites[] below.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "util.h"

static const struct {
	const char *name;
	Suite *(*create)(void);
} pgr_suites[] = {
	{ "api", pgr_suite_api },
	{ "load", pgr_suite_load },
	{ "move", pgr_suite_move },
	{ "move-errno", pgr_suite_move_errno },
	{ "move-special", pgr_suite_move_special },
	{ "move-gc", pgr_suite_move_gc },
	{ "move-rmap", pgr_suite_move_rmap },
	{ "move-batch", pgr_suite_move_batch },
	{ "lib", pgr_suite_lib },
	{ "isolation", pgr_suite_isolation },
};

#define PGR_NR_SUITES ARRAY_SIZE(pgr_suites)

static void usage(FILE *f, const char *prog)
{
	size_t i;

	fprintf(f, "usage: %s [SUITE]\n       %s --list\nsuites:", prog, prog);
	for (i = 0; i < PGR_NR_SUITES; i++)
		fprintf(f, " %s", pgr_suites[i].name);
	fprintf(f, "\n");
}

static void report_failures(SRunner *sr)
{
	TestResult **res;
	int i, n;

	n = srunner_ntests_failed(sr);
	if (!n)
		return;
	res = srunner_failures(sr);
	for (i = 0; i < n; i++)
		pgr_diag("FAILED %s: %s:%d: %s", tr_tcname(res[i]),
			 tr_lfile(res[i]), tr_lno(res[i]), tr_msg(res[i]));
	free(res);
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	struct utsname uts;
	SRunner *sr = NULL;
	const char *flavour;
	int nrun, nfail, err;
	size_t i;

	/* Not a run: a helper process of the isolation suite. */
	if (argc >= 2 && !strcmp(argv[1], PGR_ISOLATION_HELPER))
		return pgr_isolation_helper(argc - 2, argv + 2);
	if (argc > 2) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (argc == 2) {
		if (!strcmp(argv[1], "--list")) {
			for (i = 0; i < PGR_NR_SUITES; i++)
				printf("%s\n", pgr_suites[i].name);
			return 0;
		}
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			usage(stdout, argv[0]);
			return 0;
		}
		for (i = 0; i < PGR_NR_SUITES; i++)
			if (!strcmp(argv[1], pgr_suites[i].name))
				only = argv[1];
		if (!only) {
			fprintf(stderr, "%s: unknown suite '%s'\n", argv[0],
				argv[1]);
			usage(stderr, argv[0]);
			return 2;
		}
	}

	pgr_tap_init();
	uname(&uts);
	flavour = getenv("PGREMAP_FLAVOUR");
	pgr_diag("pgremap-tests: kernel %s %s, flavour %s, uid %d", uts.release,
		 uts.version, flavour ? flavour : "(unset)", (int)getuid());

	for (i = 0; i < PGR_NR_SUITES; i++) {
		Suite *s = pgr_suites[i].create();

		if (!sr)
			sr = srunner_create(s);
		else
			srunner_add_suite(sr, s);
	}
	srunner_set_tap(sr, "-");
	/* TAP is the only output on stdout; failures are repeated below. */
	srunner_run(sr, only, NULL, CK_SILENT);

	nrun = srunner_ntests_run(sr);
	nfail = srunner_ntests_failed(sr);
	report_failures(sr);
	srunner_free(sr);

	/* Leave the module as the rig loaded it, whatever the tests did. */
	err = pgr_mod_restore();
	if (err)
		pgr_diag("WARNING: could not restore module %s: %s",
			 PGR_MODULE_NAME, strerror(-err));

	pgr_diag("pgremap-tests: %d run, %d failed", nrun, nfail);
	fflush(stdout);
	return nfail || !nrun ? 1 : 0;
}
