// SPDX-License-Identifier: GPL-2.0
/*
 * Shared helpers for the pgremap test harness: TAP filter and skips, file
 * and kernel-config lookups, device access, module load/unload through
 * libkmod, and a /dev/kmsg reader.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libkmod.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include "util.h"

/* ---- TAP output, diagnostics, skipping ---------------------------------- */

/*
 * State shared between Check's runner process and its forked test
 * processes: a MAP_SHARED page set up by pgr_tap_init(). Before that (or
 * if the mapping fails) a private fallback is used.
 */
struct pgr_shared {
	char skip[480]; /* skip reason of the running test, "" if none */
	int mod_dirty; /* module currently loaded with test options */
};

static struct pgr_shared pgr_fallback;
static struct pgr_shared *pgr_sh = &pgr_fallback;

static char tap_line[4096];
static size_t tap_len;

/*
 * Check prints "ok N - FILE:TCASE:TEST: MSG" where FILE is that of the
 * last assertion run, which changes with the path taken; drop it so that
 * a test's name is always "TCASE:TEST".
 */
static size_t tap_strip_file(char *line, size_t len)
{
	char *dash, *colon;
	size_t cut;

	if (strncmp(line, "ok ", 3) && strncmp(line, "not ok ", 7))
		return len;
	dash = memmem(line, len, " - ", 3);
	if (!dash)
		return len;
	dash += 3;
	colon = memchr(dash, ':', len - (dash - line));
	if (!colon || memchr(dash, ' ', colon - dash))
		return len;
	cut = colon + 1 - dash;
	memmove(dash, colon + 1, len - (colon + 1 - line));
	return len - cut;
}

static void tap_emit_line(void)
{
	static const char passed[] = ": Passed";
	const size_t plen = sizeof(passed) - 1;
	char *line = tap_line;
	size_t len = tap_len;

	tap_len = 0;
	len = tap_strip_file(line, len);
	if (pgr_sh->skip[0] && !strncmp(line, "ok ", 3)) {
		if (len >= plen && !memcmp(line + len - plen, passed, plen))
			len -= plen;
		dprintf(STDOUT_FILENO, "%.*s # SKIP %s\n", (int)len, line,
			pgr_sh->skip);
		pgr_sh->skip[0] = '\0';
		return;
	}
	dprintf(STDOUT_FILENO, "%.*s\n", (int)len, line);
	if (pgr_sh->skip[0] && !strncmp(line, "not ok ", 7)) {
		dprintf(STDOUT_FILENO, "# (the test had asked to skip: %s)\n",
			pgr_sh->skip);
		pgr_sh->skip[0] = '\0';
	}
}

static ssize_t tap_write(void *cookie, const char *buf, size_t size)
{
	size_t i;

	(void)cookie;
	for (i = 0; i < size; i++) {
		if (buf[i] == '\n') {
			tap_emit_line();
			continue;
		}
		if (tap_len == sizeof(tap_line))
			tap_emit_line();
		tap_line[tap_len++] = buf[i];
	}
	return size;
}

void pgr_tap_init(void)
{
	static const cookie_io_functions_t io = { .write = tap_write };
	struct pgr_shared *sh;
	FILE *f;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh != MAP_FAILED) {
		memset(sh, 0, sizeof(*sh));
		pgr_sh = sh;
	}
	fflush(stdout);
	f = fopencookie(NULL, "w", io);
	if (f) {
		setvbuf(f, NULL, _IOLBF, 0);
		stdout = f;
	}
}

void pgr_diag(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	char *p, *nl;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (p = buf; p; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		if (nl && !*nl)
			nl = NULL;
		printf("# %s\n", p);
	}
	fflush(stdout);
}

void pgr_skip_set(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(pgr_sh->skip, sizeof(pgr_sh->skip), fmt, ap);
	va_end(ap);
	for (p = pgr_sh->skip; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (!pgr_sh->skip[0])
		strcpy(pgr_sh->skip, "skipped");
	pgr_diag("skipping: %s", pgr_sh->skip);
}

/* ---- files -------------------------------------------------------------- */

bool pgr_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

bool pgr_wait_path(const char *path, bool present, int timeout_ms)
{
	const struct timespec tick = { 0, 10 * 1000 * 1000 };
	int waited;

	for (waited = 0;; waited += 10) {
		if (pgr_path_exists(path) == present)
			return true;
		if (waited >= timeout_ms)
			return false;
		nanosleep(&tick, NULL);
	}
}

int pgr_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	if (!len)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len - 1) {
		n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return n;
		}
		if (n == 0)
			break;
		off += n;
	}
	close(fd);
	buf[off] = '\0';
	while (off && buf[off - 1] == '\n')
		buf[--off] = '\0';
	return off;
}

int pgr_read_ulong(const char *path, unsigned long *val)
{
	char buf[64], *end;
	int err;

	err = pgr_read_file(path, buf, sizeof(buf));
	if (err < 0)
		return err;
	errno = 0;
	*val = strtoul(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EINVAL;
	return 0;
}

/* ---- kernel identity and configuration ---------------------------------- */

int pgr_kconfig(const char *sym, char *val, size_t len)
{
	char path[300], name[128], line[1024];
	struct utsname uts;
	size_t nlen;
	FILE *f;
	int ret = 0;

	if (uname(&uts))
		return -errno;
	snprintf(path, sizeof(path), "/boot/config-%s", uts.release);
	snprintf(name, sizeof(name), "%s%s",
		 strncmp(sym, "CONFIG_", 7) ? "CONFIG_" : "", sym);
	nlen = strlen(name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, name, nlen) || line[nlen] != '=')
			continue;
		if (val && len)
			snprintf(val, len, "%s", line + nlen + 1);
		ret = 1;
		break;
	}
	fclose(f);
	return ret;
}

bool pgr_kconfig_enabled(const char *sym)
{
	char val[64];
	int ret;

	ret = pgr_kconfig(sym, val, sizeof(val));
	ck_assert_msg(ret >= 0, "cannot read /boot/config-$(uname -r): %s",
		      strerror(-ret));
	return ret == 1 && (!strcmp(val, "y") || !strcmp(val, "m"));
}

bool pgr_kernel_at_least(int major, int minor)
{
	struct utsname uts;
	int ma = 0, mi = 0;

	ck_assert_int_eq(uname(&uts), 0);
	ck_assert_msg(sscanf(uts.release, "%d.%d", &ma, &mi) == 2,
		      "cannot parse kernel release '%s'", uts.release);
	return ma > major || (ma == major && mi >= minor);
}

/* ---- the device --------------------------------------------------------- */

int pgr_open_dev(int flags)
{
	int fd = open(PGR_DEV_PATH, flags);

	ck_assert_msg(fd >= 0, "open(%s, %#x) failed: %s", PGR_DEV_PATH, flags,
		      strerror(errno));
	return fd;
}

int pgr_api_call(int fd, struct pgremap_api *api)
{
	int ret = ioctl(fd, PGREMAP_IOC_API, api);

	if (ret == 0)
		return 0;
	ck_assert_msg(ret == -1, "PGREMAP_IOC_API returned %d, not 0 or -1",
		      ret);
	return errno;
}

void pgr_assert_handshake(int fd)
{
	struct pgremap_api a = { .api = PGREMAP_API };
	int err;

	err = pgr_api_call(fd, &a);
	ck_assert_msg(err == 0, "PGREMAP_IOC_API failed: %s", strerror(err));
	ck_assert_msg(a.api == PGREMAP_API, "api %#llx, want %#llx",
		      (unsigned long long)a.api,
		      (unsigned long long)PGREMAP_API);
	ck_assert_msg(a.features == PGREMAP_FEATURES_ALL,
		      "features %#llx, want %#llx",
		      (unsigned long long)a.features,
		      (unsigned long long)PGREMAP_FEATURES_ALL);
	ck_assert_msg(a.ioctls == PGR_IOCTLS_SERVED, "ioctls %#llx, want %#llx",
		      (unsigned long long)a.ioctls, 1ULL << _PGREMAP_API);
}

int pgr_run_in_child(int (*fn)(void *arg), void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(fn(arg) & 0xff);
	while (waitpid(pid, &status, 0) < 0)
		ck_assert_msg(errno == EINTR, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	pgr_diag("child %d killed by signal %d", (int)pid, WTERMSIG(status));
	return -1;
}

/* ---- module load / unload (libkmod) ------------------------------------- */

static void pgr_kmod_log(void *data, int priority, const char *file, int line,
			 const char *fn, const char *format, va_list args)
{
	char buf[512];

	(void)data;
	(void)priority;
	(void)file;
	(void)line;
	(void)fn;
	vsnprintf(buf, sizeof(buf), format, args);
	buf[strcspn(buf, "\n")] = '\0';
	pgr_diag("libkmod: %s", buf);
}

/* Returns 0 and a module handle, or -errno. */
static int pgr_kmod_get(struct kmod_ctx **ctx, struct kmod_module **mod)
{
	int err;

	*ctx = kmod_new(NULL, NULL);
	if (!*ctx)
		return -ENOMEM;
	kmod_set_log_fn(*ctx, pgr_kmod_log, NULL);
	err = kmod_module_new_from_name(*ctx, PGR_MODULE_NAME, mod);
	if (err < 0) {
		kmod_unref(*ctx);
		return err;
	}
	return 0;
}

static void pgr_kmod_put(struct kmod_ctx *ctx, struct kmod_module *mod)
{
	kmod_module_unref(mod);
	kmod_unref(ctx);
}

bool pgr_mod_loaded(void)
{
	return pgr_path_exists(PGR_SYSFS_MODULE);
}

const char *pgr_mod_path(void)
{
	static char path[PATH_MAX];
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	const char *p;

	if (pgr_kmod_get(&ctx, &mod))
		return NULL;
	p = kmod_module_get_path(mod);
	if (p)
		snprintf(path, sizeof(path), "%s", p);
	pgr_kmod_put(ctx, mod);
	return p ? path : NULL;
}

int pgr_mod_load(const char *opts)
{
	const unsigned int flags = KMOD_PROBE_FAIL_ON_LOADED |
				   KMOD_PROBE_IGNORE_COMMAND;
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int err;

	err = pgr_kmod_get(&ctx, &mod);
	if (err)
		return err;
	if (!kmod_module_get_path(mod)) {
		pgr_diag("libkmod cannot resolve module '%s' (modules.dep)",
			 PGR_MODULE_NAME);
		pgr_kmod_put(ctx, mod);
		return -ENOPKG;
	}
	err = kmod_module_probe_insert_module(mod, flags, opts, NULL, NULL,
					      NULL);
	pgr_kmod_put(ctx, mod);
	if (err > 0) /* stopped by a libkmod policy, not by the kernel */
		err = -EPERM;
	if (!err)
		pgr_sh->mod_dirty = opts && *opts;
	return err;
}

int pgr_mod_unload(void)
{
	struct kmod_module *mod;
	struct kmod_ctx *ctx;
	int err;

	err = pgr_kmod_get(&ctx, &mod);
	if (err)
		return err;
	err = kmod_module_remove_module(mod, KMOD_REMOVE_NOWAIT);
	pgr_kmod_put(ctx, mod);
	return err;
}

int pgr_mod_restore(void)
{
	int err;

	if (pgr_sh->mod_dirty && pgr_mod_loaded()) {
		err = pgr_mod_unload();
		if (err) {
			pgr_diag("cannot unload test-configured module: %s",
				 strerror(-err));
			return err;
		}
	}
	pgr_sh->mod_dirty = 0;
	if (!pgr_mod_loaded()) {
		err = pgr_mod_load(NULL);
		if (err && err != -EEXIST) {
			pgr_diag("cannot load module: %s", strerror(-err));
			return err;
		}
	}
	if (!pgr_wait_path(PGR_DEV_PATH, true, 5000)) {
		pgr_diag("module loaded but %s did not appear", PGR_DEV_PATH);
		return -ENODEV;
	}
	return 0;
}

void pgr_fixture_module_ready(void)
{
	int err = pgr_mod_restore();

	ck_assert_msg(err == 0, "cannot bring module %s to a normal state: %s",
		      PGR_MODULE_NAME, strerror(-err));
}

/* ---- kernel log (/dev/kmsg) --------------------------------------------- */

int pgr_kmsg_mark(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open /dev/kmsg: %s", strerror(errno));
	ck_assert_msg(lseek(fd, 0, SEEK_END) >= 0, "lseek /dev/kmsg: %s",
		      strerror(errno));
	return fd;
}

void pgr_kmsg_collect(int kfd, struct pgr_log *log)
{
	char rec[8192], *msg;
	ssize_t n;

	log->lines = NULL;
	log->n = 0;
	for (;;) {
		n = read(kfd, rec, sizeof(rec) - 1);
		if (n < 0 && (errno == EINTR || errno == EPIPE))
			continue; /* EPIPE: records were overwritten */
		if (n < 0 && errno == EAGAIN)
			break;
		ck_assert_msg(n >= 0, "read /dev/kmsg: %s", strerror(errno));
		if (n == 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		msg[strcspn(msg, "\n")] = '\0';
		log->lines =
			realloc(log->lines, (log->n + 1) * sizeof(*log->lines));
		ck_assert(log->lines != NULL);
		log->lines[log->n] = strdup(msg);
		ck_assert(log->lines[log->n] != NULL);
		log->n++;
	}
	close(kfd);
}

void pgr_log_free(struct pgr_log *log)
{
	size_t i;

	for (i = 0; i < log->n; i++)
		free(log->lines[i]);
	free(log->lines);
	log->lines = NULL;
	log->n = 0;
}

void pgr_log_dump(const struct pgr_log *log)
{
	size_t i;

	pgr_diag("kernel log since the action (%zu records):", log->n);
	for (i = 0; i < log->n; i++)
		pgr_diag("  kmsg: %s", log->lines[i]);
}

int pgr_log_find_exact(const struct pgr_log *log, int from, const char *text)
{
	size_t i;

	for (i = from < 0 ? 0 : from; i < log->n; i++)
		if (!strcmp(log->lines[i], text))
			return i;
	return -1;
}

int pgr_log_find_prefix(const struct pgr_log *log, int from, const char *prefix)
{
	size_t i, len = strlen(prefix);

	for (i = from < 0 ? 0 : from; i < log->n; i++)
		if (!strncmp(log->lines[i], prefix, len))
			return i;
	return -1;
}

int pgr_log_find_all(const struct pgr_log *log, int from, ...)
{
	const char *s;
	va_list ap;
	size_t i;
	bool all;

	for (i = from < 0 ? 0 : from; i < log->n; i++) {
		all = true;
		va_start(ap, from);
		while (all && (s = va_arg(ap, const char *)))
			all = strstr(log->lines[i], s) != NULL;
		va_end(ap);
		if (all)
			return i;
	}
	return -1;
}

void pgr_log_assert_no_splat(const struct pgr_log *log)
{
	static const char *const bad[] = {
		"WARNING:",   "BUG:",
		"Oops",	      "general protection fault",
		"Call Trace", "kernel BUG",
		"UBSAN:",     "KASAN:",
	};
	size_t i, j;

	for (i = 0; i < log->n; i++) {
		for (j = 0; j < ARRAY_SIZE(bad); j++) {
			if (!strstr(log->lines[i], bad[j]))
				continue;
			pgr_log_dump(log);
			ck_abort_msg("kernel splat in the log: '%s'",
				     log->lines[i]);
		}
	}
}

TCase *pgr_tcase(const char *name, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, pgr_fixture_module_ready, NULL);
	tcase_set_timeout(tc, timeout);
	return tc;
}
/* Run a command, first line of its output into out (may be NULL). */
static int run_first_line(const char *cmd, char *out, size_t len)
{
	char buf[256] = "";
	FILE *f = popen(cmd, "r");
	int st;

	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	st = pclose(f);
	buf[strcspn(buf, "\n")] = 0;
	if (out)
		snprintf(out, len, "%s", buf);
	return st;
}

/*
 * Swap on a loop device over @file (@size bytes, in the guest's tmpfs),
 * above zram: swap-cache folios stay around (zram frees them at once).
 * Returns 0 with the device in @dev, or -1 with a reason in *@why.
 */
int pgr_loop_swap_on(const char *file, size_t size, char *dev, size_t len,
		     const char **why)
{
	char cmd[256];
	int fd;

	if (!pgr_path_exists("/sys/module/loop") &&
	    (system("modprobe loop >/dev/null 2>&1") ||
	     !pgr_wait_path("/sys/module/loop", true, 2000))) {
		*why = "no loop driver (run the rig with --modules "
		       "\"zram loop\")";
		return -1;
	}
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, size)) {
		if (fd >= 0)
			close(fd);
		*why = "cannot create the swap file in /tmp";
		return -1;
	}
	close(fd);
	/* busybox losetup: no --show; -f alone names the next free device. */
	if (run_first_line("losetup -f 2>/dev/null", dev, len) ||
	    strncmp(dev, "/dev/loop", 9) ||
	    (snprintf(cmd, sizeof(cmd), "losetup %s %s 2>/dev/null", dev, file),
	     system(cmd))) {
		unlink(file);
		*why = "losetup failed";
		return -1;
	}
	/* busybox swapon has no -p: swapon(2) with a priority above zram's. */
	snprintf(cmd, sizeof(cmd), "mkswap %s >/dev/null 2>&1", dev);
	if (system(cmd) ||
	    swapon(dev, SWAP_FLAG_PREFER | (10 << SWAP_FLAG_PRIO_SHIFT))) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
		(void)!system(cmd);
		unlink(file);
		*why = "mkswap/swapon on the loop device failed";
		return -1;
	}
	return 0;
}

void pgr_loop_swap_off(const char *file, const char *dev)
{
	char cmd[256];

	ck_assert_msg(!swapoff(dev), "swapoff %s: %s", dev, strerror(errno));
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	ck_assert_msg(!system(cmd), "%s failed", cmd);
	unlink(file);
}
