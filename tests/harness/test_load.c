// SPDX-License-Identifier: GPL-2.0
/*
 * load suite: unloading while in use, reload cycles, and the load-time
 * refusals driven by the test-only module parameters, checked through the
 * errno of the load and the kernel log.
 *
 * Every test starts and ends (checked fixture) with the module loaded
 * normally; a test that leaves it unloaded or loaded with test options is
 * repaired by the next fixture (pgr_mod_restore()).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "util.h"

#define PFX "pgremap: "
#define NODE_WAIT_MS 3000

static const char *strerr(int err)
{
	return err ? strerror(err < 0 ? -err : err) : "success";
}

static void unload_ok(void)
{
	int err;

	if (!pgr_mod_loaded())
		return;
	err = pgr_mod_unload();
	ck_assert_msg(err == 0, "unload: %s", strerr(err));
	ck_assert_msg(!pgr_mod_loaded(), "%s still present after unload",
		      PGR_SYSFS_MODULE);
	ck_assert_msg(pgr_wait_path(PGR_DEV_PATH, false, NODE_WAIT_MS),
		      "%s still present %d ms after unload", PGR_DEV_PATH,
		      NODE_WAIT_MS);
}

/* The device node is there and answers the handshake. */
static void device_answers(void)
{
	int fd;

	ck_assert_msg(pgr_wait_path(PGR_DEV_PATH, true, NODE_WAIT_MS),
		      "%s absent %d ms after load", PGR_DEV_PATH, NODE_WAIT_MS);
	fd = pgr_open_dev(O_RDWR);
	pgr_assert_handshake(fd);
	close(fd);
}

/* A normal load (no test options) works and logs "pgremap: loaded". */
static void normal_load_works(void)
{
	struct pgr_log log;
	int kfd, err;

	kfd = pgr_kmsg_mark();
	err = pgr_mod_load(NULL);
	pgr_kmsg_collect(kfd, &log);
	PGR_LOG_ASSERT(&log, err == 0, "normal load: %s", strerr(err));
	PGR_LOG_ASSERT(&log, pgr_log_find_prefix(&log, 0, PFX "loaded") >= 0,
		       "normal load did not log '" PFX "loaded'");
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	device_answers();
}

/*
 * Load with opts, expecting the load to fail with want_err (negative) and
 * to leave nothing behind. The kernel log of the attempt is left in log.
 */
static void load_refused(const char *opts, int want_err, struct pgr_log *log)
{
	int kfd, err;

	unload_ok();
	kfd = pgr_kmsg_mark();
	err = pgr_mod_load(opts);
	pgr_kmsg_collect(kfd, log);
	pgr_diag("load '%s': %s", opts, strerr(err));
	PGR_LOG_ASSERT(log, err == want_err, "load '%s': got '%s', want '%s'",
		       opts, strerr(err), strerr(want_err));
	PGR_LOG_ASSERT(log, !pgr_mod_loaded(),
		       "%s exists after a refused load: half-loaded module",
		       PGR_SYSFS_MODULE);
	PGR_LOG_ASSERT(log, !pgr_path_exists(PGR_DEV_PATH),
		       "%s exists after a refused load", PGR_DEV_PATH);
	PGR_LOG_ASSERT(log, pgr_log_find_prefix(log, 0, PFX "loaded") < 0,
		       "refused load logged '" PFX "loaded'");
	pgr_log_assert_no_splat(log);
}

/* Index of a "pgremap: " line containing a and b (b may be NULL), or fail. */
static int expect_line(const struct pgr_log *log, int from, const char *a,
		       const char *b)
{
	int i = from;

	for (;;) {
		i = pgr_log_find_all(log, i, a, b, NULL);
		if (i < 0 || !strncmp(log->lines[i], PFX, strlen(PFX)))
			break;
		i++;
	}
	PGR_LOG_ASSERT(log, i >= 0,
		       "no kernel log line '" PFX
		       "...%s...%s...' (from record %d)",
		       a, b ? b : "", from);
	return i;
}

/* ---- load-module -------------------------------------------------------- */

START_TEST(load_module_resolved_by_name)
{
	const char *path = pgr_mod_path();
	struct utsname uts;
	char dir[300];

	ck_assert_msg(path != NULL,
		      "libkmod cannot resolve '%s' through modules.dep",
		      PGR_MODULE_NAME);
	pgr_diag("module file: %s", path);
	ck_assert_int_eq(uname(&uts), 0);
	snprintf(dir, sizeof(dir), "/lib/modules/%s/", uts.release);
	ck_assert_msg(!strncmp(path, dir, strlen(dir)),
		      "module file %s is not under %s", path, dir);
	ck_assert_msg(strstr(path, "/pgremap.ko") != NULL,
		      "module file %s is not pgremap.ko[.*]", path);
}
END_TEST

START_TEST(load_success_logs_loaded)
{
	struct pgr_log log;
	int kfd, err, i;

	unload_ok();
	kfd = pgr_kmsg_mark();
	err = pgr_mod_load(NULL);
	pgr_kmsg_collect(kfd, &log);
	PGR_LOG_ASSERT(&log, err == 0, "load: %s", strerr(err));
	i = pgr_log_find_prefix(&log, 0, PFX "loaded");
	PGR_LOG_ASSERT(&log, i >= 0, "no line starting '" PFX "loaded'");
	pgr_diag("%s", log.lines[i]);
	PGR_LOG_ASSERT(&log, pgr_log_find_all(&log, 0, "refusing", NULL) < 0,
		       "successful load logged a refusal");
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	device_answers();
}
END_TEST

START_TEST(load_dev_mode_param_applied)
{
	unsigned long mode;
	struct stat st;
	int err;

	unload_ok();
	err = pgr_mod_load("dev_mode=0600");
	ck_assert_msg(err == 0, "load dev_mode=0600: %s", strerr(err));
	ck_assert_int_eq(pgr_read_ulong(PGR_SYSFS_PARAM("dev_mode"), &mode), 0);
	ck_assert_msg(mode == 0600, "dev_mode parameter reads %lu, want %u",
		      mode, 0600);
	ck_assert_msg(pgr_wait_path(PGR_DEV_PATH, true, NODE_WAIT_MS),
		      "%s absent after load", PGR_DEV_PATH);
	ck_assert_int_eq(stat(PGR_DEV_PATH, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 0600,
		      "dev_mode=0600 gave node mode %#o", st.st_mode & 07777);
	device_answers();
	ck_assert_int_eq(pgr_mod_restore(), 0);
}
END_TEST

/* ---- load-unload -------------------------------------------------------- */

static unsigned long refcnt(void)
{
	unsigned long n = 0;
	int err;

	err = pgr_read_ulong(PGR_SYSFS_MODULE "/refcnt", &n);
	ck_assert_msg(err == 0, "read %s/refcnt: %s", PGR_SYSFS_MODULE,
		      strerr(err));
	return n;
}

/* The kernel answers EAGAIN (EWOULDBLOCK) for O_NONBLOCK; see report. */
static void assert_unload_busy(const char *when)
{
	int err = pgr_mod_unload();

	ck_assert_msg(err == -EBUSY || err == -EAGAIN,
		      "unload %s: got '%s', want EBUSY/EAGAIN", when,
		      strerr(err));
	pgr_diag("unload %s refused: %s", when, strerr(err));
	ck_assert_msg(pgr_mod_loaded(), "module gone after a refused unload");
	ck_assert_msg(pgr_path_exists(PGR_DEV_PATH),
		      "%s gone after a refused unload", PGR_DEV_PATH);
}

START_TEST(load_unload_refused_while_open)
{
	int fd, fd2, go[2], ready[2], status;
	char c = 0;
	pid_t pid;

	ck_assert_msg(refcnt() == 0, "refcnt %lu with no fd open", refcnt());
	fd = pgr_open_dev(O_RDWR);
	ck_assert_msg(refcnt() >= 1, "open fd holds no module reference");
	assert_unload_busy("with an fd open");
	pgr_assert_handshake(fd);

	/* A dup'ed fd keeps the reference after the original is closed. */
	fd2 = dup(fd);
	ck_assert(fd2 >= 0);
	close(fd);
	assert_unload_busy("with a dup'ed fd open");
	pgr_assert_handshake(fd2);

	/* An fd held only by another process keeps it too. */
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ready), 0);
	fflush(NULL);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(ready[0]);
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	close(fd2);
	assert_unload_busy("with an fd open in another process");
	ck_assert_int_eq(write(go[1], &c, 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(go[1]);
	close(ready[0]);

	/* All closed: the reference is gone and unload works. */
	ck_assert_msg(refcnt() == 0, "refcnt %lu after every fd closed",
		      refcnt());
	unload_ok();
	normal_load_works();
}
END_TEST

START_TEST(load_unload_after_close_node_gone_then_back)
{
	int fd;

	fd = pgr_open_dev(O_RDWR);
	pgr_assert_handshake(fd);
	close(fd);
	unload_ok();
	ck_assert_msg(!pgr_path_exists(PGR_SYSFS_MISC),
		      "%s still present after unload", PGR_SYSFS_MISC);
	fd = open(PGR_DEV_PATH, O_RDWR);
	ck_assert_msg(fd < 0 && (errno == ENOENT || errno == ENXIO ||
				 errno == ENODEV),
		      "open %s after unload: fd %d errno '%s'", PGR_DEV_PATH,
		      fd, strerror(errno));
	normal_load_works();
	ck_assert_msg(pgr_path_exists(PGR_SYSFS_MISC), "%s absent after reload",
		      PGR_SYSFS_MISC);
}
END_TEST

START_TEST(load_reload_cycle_x5)
{
	int i, err;

	for (i = 0; i < 5; i++) {
		unload_ok();
		err = pgr_mod_load(NULL);
		ck_assert_msg(err == 0, "cycle %d: load: %s", i, strerr(err));
		device_answers();
	}
}
END_TEST

/* ---- load-refusal ------------------------------------------------------- */

START_TEST(load_missing_symbol_refused_enoent)
{
	struct pgr_log log;
	int i;

	load_refused("test_missing_symbol=pgremap_test_no_such_symbol", -ENOENT,
		     &log);
	i = pgr_log_find_exact(
		&log, 0,
		PFX "kernel symbol 'pgremap_test_no_such_symbol' not found");
	PGR_LOG_ASSERT(
		&log, i >= 0,
		"no line '" PFX
		"kernel symbol 'pgremap_test_no_such_symbol' not found'");
	expect_line(&log, i + 1, "refusing to load", NULL);
	pgr_log_free(&log);
	normal_load_works();
}
END_TEST

START_TEST(load_ibt_refused_on_ibt_kernel)
{
	struct pgr_log log;
	bool uffdio_move = pgr_kernel_at_least(6, 8);

	PGR_SKIP_IF(!pgr_kconfig_enabled("X86_KERNEL_IBT"),
		    "kernel built without CONFIG_X86_KERNEL_IBT");
	load_refused("test_assume_ibt=1", -EOPNOTSUPP, &log);
	expect_line(&log, 0, "refusing to load", "IBT");
	if (uffdio_move)
		expect_line(&log, 0, "UFFDIO_MOVE", NULL);
	pgr_log_free(&log);
	normal_load_works();
}
END_TEST

START_TEST(load_ibt_ignored_on_non_ibt_kernel)
{
	struct pgr_log log;
	int kfd, err, i;

	PGR_SKIP_IF(pgr_kconfig_enabled("X86_KERNEL_IBT"),
		    "kernel built with CONFIG_X86_KERNEL_IBT");
	unload_ok();
	kfd = pgr_kmsg_mark();
	err = pgr_mod_load("test_assume_ibt=1");
	pgr_kmsg_collect(kfd, &log);
	PGR_LOG_ASSERT(&log, err == 0, "load test_assume_ibt=1: %s",
		       strerr(err));
	i = pgr_log_find_exact(
		&log, 0,
		PFX
		"test_assume_ibt ignored: kernel built without CONFIG_X86_KERNEL_IBT");
	PGR_LOG_ASSERT(&log, i >= 0, "no 'test_assume_ibt ignored' line");
	PGR_LOG_ASSERT(&log, pgr_log_find_prefix(&log, i, PFX "loaded") > i,
		       "no '" PFX "loaded' after the 'ignored' line");
	pgr_log_assert_no_splat(&log);
	pgr_log_free(&log);
	device_answers();
	ck_assert_int_eq(pgr_mod_restore(), 0);
}
END_TEST

START_TEST(load_version_mismatch_refused_enoexec)
{
	struct pgr_log log;

	load_refused("test_expect_version=bogus", -ENOEXEC, &log);
	expect_line(&log, 0, "refusing to load", "built for");
	pgr_log_free(&log);
	normal_load_works();
}
END_TEST

START_TEST(load_version_matching_uname_v_accepted)
{
	struct pgr_log log;
	struct utsname uts;
	char opts[300];
	int kfd, err;

	ck_assert_int_eq(uname(&uts), 0);
	PGR_SKIP_IF(strchr(uts.version, '"'),
		    "uname -v contains a double quote");
	snprintf(opts, sizeof(opts), "test_expect_version=\"%s\"", uts.version);
	unload_ok();
	kfd = pgr_kmsg_mark();
	err = pgr_mod_load(opts);
	pgr_kmsg_collect(kfd, &log);
	PGR_LOG_ASSERT(&log, err == 0, "load %s: %s", opts, strerr(err));
	PGR_LOG_ASSERT(&log, pgr_log_find_prefix(&log, 0, PFX "loaded") >= 0,
		       "no '" PFX "loaded' line");
	pgr_log_free(&log);
	device_answers();
	ck_assert_int_eq(pgr_mod_restore(), 0);
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

static TCase *load_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, pgr_fixture_module_ready,
				  pgr_fixture_module_ready);
	tcase_set_timeout(tc, PGR_TIMEOUT_LONG);
	return tc;
}

Suite *pgr_suite_load(void)
{
	Suite *s = suite_create("load");
	TCase *tc;

	tc = load_tcase("load-module");
	tcase_add_test(tc, load_module_resolved_by_name);
	tcase_add_test(tc, load_success_logs_loaded);
	tcase_add_test(tc, load_dev_mode_param_applied);
	suite_add_tcase(s, tc);

	tc = load_tcase("load-unload");
	tcase_add_test(tc, load_unload_refused_while_open);
	tcase_add_test(tc, load_unload_after_close_node_gone_then_back);
	tcase_add_test(tc, load_reload_cycle_x5);
	suite_add_tcase(s, tc);

	tc = load_tcase("load-refusal");
	tcase_add_test(tc, load_missing_symbol_refused_enoent);
	tcase_add_test(tc, load_ibt_refused_on_ibt_kernel);
	tcase_add_test(tc, load_ibt_ignored_on_non_ibt_kernel);
	tcase_add_test(tc, load_version_mismatch_refused_enoexec);
	tcase_add_test(tc, load_version_matching_uname_v_accepted);
	suite_add_tcase(s, tc);

	return s;
}
