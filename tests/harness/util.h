/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers for the pgremap test harness.
 *
 * Conventions:
 *  - Helpers that can only fail because the environment is broken (cannot
 *    create a libkmod context, cannot open /dev/kmsg...) abort the current
 *    test with ck_abort_msg(); helpers whose failure is something a test
 *    may want to assert on return a negative errno instead.
 *  - Diagnostics go to stdout as TAP comment lines ("# ...") through
 *    pgr_diag(), so they appear right before the test's "ok"/"not ok" line.
 *
 * Skipping a test
 * ---------------
 * Check has no notion of a skipped test. A test that cannot run on this
 * kernel calls PGR_SKIP("reason") (or PGR_SKIP_IF(cond, "reason")), which
 * records the reason and returns from the test function, so Check counts
 * the test as passed. pgr_tap_init(), called by main() before the runner
 * starts, interposes a line filter on stdout: when Check prints the "ok"
 * line of a test that recorded a skip reason, the filter rewrites
 *	ok 7 - load-refusal:load_ibt_refused_on_ibt_kernel: Passed
 * into
 *	ok 7 - load-refusal:load_ibt_refused_on_ibt_kernel # SKIP <reason>
 * which any TAP consumer counts as a skip, not a pass. (The filter also
 * drops the "FILE:" Check puts before "TCASE:TEST", the file of the last
 * assertion run, so a test's TAP name is always TCASE:TEST; the file and
 * line of each failure are printed as comments at the end of the run.) The reason lives in a
 * MAP_SHARED page, so it survives the fork of Check's CK_FORK mode. A test
 * that records a skip and then fails still prints "not ok" (the skip is
 * dropped and reported as a comment). PGR_SKIP must be called from the test
 * function itself (it expands to a return statement).
 */
#ifndef PGREMAP_TESTS_UTIL_H
#define PGREMAP_TESTS_UTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <uapi/linux/pgremap.h>

/* The ioctls this module version serves, as PGREMAP_IOC_API reports them. */
#define PGR_IOCTLS_SERVED ((1ULL << _PGREMAP_API) | (1ULL << _PGREMAP_MOVE))

#define PGR_MODULE_NAME "pgremap"
#define PGR_DEV_PATH "/dev/" PGREMAP_DEVICE_NAME
#define PGR_SYSFS_MODULE "/sys/module/" PGR_MODULE_NAME
#define PGR_SYSFS_PARAM(p) PGR_SYSFS_MODULE "/parameters/" p
#define PGR_SYSFS_MISC "/sys/class/misc/" PGREMAP_DEVICE_NAME
#define PGR_MISC_MAJOR 10
#define PGR_NOBODY 65534

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Test timeouts, seconds (scaled by CK_TIMEOUT_MULTIPLIER). */
#define PGR_TIMEOUT_SHORT 30
#define PGR_TIMEOUT_LONG 120

/* ---- suites ------------------------------------------------------------ */

/* One constructor per test area; main.c lists them in a table. */
Suite *pgr_suite_api(void);
Suite *pgr_suite_load(void);
Suite *pgr_suite_move(void);
Suite *pgr_suite_move_errno(void);
Suite *pgr_suite_move_special(void);
Suite *pgr_suite_move_gc(void);
Suite *pgr_suite_move_rmap(void);
Suite *pgr_suite_move_batch(void);
Suite *pgr_suite_lib(void);
Suite *pgr_suite_isolation(void);

/*
 * pgremap-tests --isolation-helper FD: a process the isolation suite execs
 * (test_isolation.c); main() hands it the remaining arguments.
 */
#define PGR_ISOLATION_HELPER "--isolation-helper"
int pgr_isolation_helper(int argc, char **argv);

/* ---- TAP output, diagnostics, skipping ---------------------------------- */

/* Install the stdout TAP filter and the shared skip slot (see above). */
void pgr_tap_init(void);
/* Print "# <message>" on stdout and flush. */
void pgr_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Record a skip reason for the running test; prefer PGR_SKIP(). */
void pgr_skip_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define PGR_SKIP(...)                      \
	do {                               \
		pgr_skip_set(__VA_ARGS__); \
		return;                    \
	} while (0)

#define PGR_SKIP_IF(cond, ...)                 \
	do {                                   \
		if (cond)                      \
			PGR_SKIP(__VA_ARGS__); \
	} while (0)

/* ---- files -------------------------------------------------------------- */

bool pgr_path_exists(const char *path);
/*
 * Swap on a loop device over @file (@size bytes), above zram; 0 with the
 * device in @dev, or -1 with a reason. Off again (asserts) and unlinked.
 */
int pgr_loop_swap_on(const char *file, size_t size, char *dev, size_t len,
		     const char **why);
void pgr_loop_swap_off(const char *file, const char *dev);
/* Wait up to timeout_ms for path to exist (present) or not; true if so. */
bool pgr_wait_path(const char *path, bool present, int timeout_ms);
/* Read a whole small file, NUL-terminated, trailing newline stripped. */
int pgr_read_file(const char *path, char *buf, size_t len);
/* Read a file holding one unsigned decimal number. */
int pgr_read_ulong(const char *path, unsigned long *val);

/* ---- kernel identity and configuration ---------------------------------- */

/*
 * Look up CONFIG_<sym> (sym given with or without the CONFIG_ prefix) in
 * /boot/config-$(uname -r). Returns 1 and copies the value ("y", "m",
 * "\"string\"", "42") to val if set, 0 if unset ("# ... is not set" or
 * absent), or -errno if the config file cannot be read.
 */
int pgr_kconfig(const char *sym, char *val, size_t len);
/* true iff CONFIG_<sym> is y or m; aborts the test if no config file. */
bool pgr_kconfig_enabled(const char *sym);
/* true iff the running kernel is at least major.minor. */
bool pgr_kernel_at_least(int major, int minor);

/* ---- the device --------------------------------------------------------- */

/* open(PGR_DEV_PATH, flags); aborts the test on failure. */
int pgr_open_dev(int flags);
/* PGREMAP_IOC_API on fd: 0 or the errno of the failed call. */
int pgr_api_call(int fd, struct pgremap_api *api);
/* Full handshake (api = PGREMAP_API, features = 0); asserts success. */
void pgr_assert_handshake(int fd);

/*
 * Run fn(arg) in a forked child and return its exit status (0..255), or
 * -1 if it was killed by a signal. fn must not use Check assertions.
 */
int pgr_run_in_child(int (*fn)(void *arg), void *arg);

/* ---- module load / unload (libkmod) ------------------------------------- */

/* true iff /sys/module/pgremap exists. */
bool pgr_mod_loaded(void);
/* Full path of the module file libkmod resolves by name, or NULL. */
const char *pgr_mod_path(void);
/*
 * Load pgremap by name through libkmod (modules.dep, modprobe.d options),
 * with opts appended (NULL for a normal load). Returns 0 or -errno (the
 * errno of init_module/finit_module; -ENOPKG if the module file cannot be
 * resolved). A successful load with non-NULL opts marks the module dirty.
 */
int pgr_mod_load(const char *opts);
/* delete_module("pgremap", O_NONBLOCK) through libkmod: 0 or -errno. */
int pgr_mod_unload(void);
/*
 * Bring the module back to a normal state (loaded with no test options,
 * device node present), reloading if needed. Returns 0 or -errno; never
 * asserts, so it is usable from main() after the run.
 */
int pgr_mod_restore(void);
/* Checked fixture (setup and/or teardown): pgr_mod_restore() must work. */
void pgr_fixture_module_ready(void);
/* A test case with the module-ready fixture and a timeout in seconds. */
TCase *pgr_tcase(const char *name, int timeout);

/* ---- kernel log (/dev/kmsg) --------------------------------------------- */

struct pgr_log {
	char **lines; /* message texts, without the "prio,seq,..;" prefix */
	size_t n;
};

/* Open /dev/kmsg positioned at its end; aborts the test on failure. */
int pgr_kmsg_mark(void);
/* Read every record after the mark into log, close the fd. */
void pgr_kmsg_collect(int kfd, struct pgr_log *log);
void pgr_log_free(struct pgr_log *log);
/* Print the log as diagnostics. */
void pgr_log_dump(const struct pgr_log *log);

/* Index of the first line >= from that equals text, or -1. */
int pgr_log_find_exact(const struct pgr_log *log, int from, const char *text);
/* Index of the first line >= from that starts with prefix, or -1. */
int pgr_log_find_prefix(const struct pgr_log *log, int from,
			const char *prefix);
/*
 * Index of the first line >= from that contains every one of the strings
 * (NULL-terminated list), or -1.
 */
int pgr_log_find_all(const struct pgr_log *log, int from, ...)
	__attribute__((sentinel));
/* Like ck_assert_msg(), but dumps the log first when cond is false. */
#define PGR_LOG_ASSERT(log, cond, ...)             \
	do {                                       \
		if (!(cond)) {                     \
			pgr_log_dump(log);         \
			ck_abort_msg(__VA_ARGS__); \
		}                                  \
	} while (0)

/* Fail the test (dumping the log) if the kernel logged a WARN/BUG/oops. */
void pgr_log_assert_no_splat(const struct pgr_log *log);

#endif /* PGREMAP_TESTS_UTIL_H */
