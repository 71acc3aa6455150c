// SPDX-License-Identifier: GPL-2.0
/*
 * lib suite: libpgremap (tools/libpgremap, linked statically).
 *
 *  - lib-select: which backend pgremap_open() picks, with and without a
 *    userfaultfd and under each PGREMAP_OPEN_* flag, the why strings,
 *    option checking, pgremap_probe()'s fields;
 *  - lib-load: loading the module through libkmod when it is installed but
 *    not loaded (the test unloads it first), and the cases where it must
 *    not or cannot be loaded;
 *  - lib-move: pgremap_move() and pgremap_move_wake() through each backend
 *    (TAP names end in _dev or _uffd; the UFFD backend, in-tree
 *    UFFDIO_MOVE, needs 6.8+ and is skipped on 6.1): moved-byte
 *    accounting of short moves, restarts after EAGAIN, wakes, threads.
 *
 * Restarts after EAGAIN are hard to provoke from a real kernel, so this
 * file interposes ioctl() for the whole harness binary (the static
 * library's calls included). Unarmed it is the plain system call; armed
 * (inj below) it shapes the move ioctls' answers: at most inj.cap bytes
 * per call (a longer success becomes EAGAIN with move = the bytes the
 * kernel really moved), or EAGAIN with nothing moved from call
 * inj.stall_from on. The UFFD backend's real no-progress EAGAIN (mmap
 * changing under a non-cooperative userfaultfd) is tested too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <pgremap.h>

#include "mover.h"

/* libpgremap's bound on consecutive no-progress EAGAINs (move.c). */
#define LIB_MAX_STALLS 1000

/* ---- ioctl() fault injection -------------------------------------------- */

static struct {
	int armed;
	size_t cap; /* bytes per move call, 0: no cap */
	int stall_from; /* calls [stall_from, stall_to) (1-based): EAGAIN */
	int stall_to; /* 0: no end */
	int calls; /* move calls seen while armed */
} inj;

int ioctl(int fd, unsigned long req, ...)
{
	const unsigned int nr = req;
	struct pgremap_move *m;
	__u64 len;
	va_list ap;
	void *arg;
	long ret;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!inj.armed || (nr != PGREMAP_IOC_MOVE && nr != UFFDIO_MOVE))
		return syscall(SYS_ioctl, fd, req, arg);

	m = arg; /* struct uffdio_move has the same layout */
	inj.calls++;
	if (inj.stall_from && inj.calls >= inj.stall_from &&
	    (!inj.stall_to || inj.calls < inj.stall_to)) {
		m->move = -EAGAIN;
		errno = EAGAIN;
		return -1;
	}
	if (!inj.cap || m->len <= inj.cap)
		return syscall(SYS_ioctl, fd, req, arg);
	len = m->len;
	m->len = inj.cap;
	ret = syscall(SYS_ioctl, fd, req, arg);
	m->len = len;
	if (ret)
		return ret; /* the kernel's own answer for the capped part */
	errno = EAGAIN; /* m->move == inj.cap: a short move */
	return -1;
}

static void inj_arm(size_t cap, int stall_from, int stall_to)
{
	inj.cap = cap;
	inj.stall_from = stall_from;
	inj.stall_to = stall_to;
	inj.calls = 0;
	inj.armed = 1;
}

static int inj_disarm(void)
{
	inj.armed = 0;
	return inj.calls;
}

/* ---- helpers ------------------------------------------------------------ */

static bool kernel_has_move(void)
{
	int fd = mt_uffd_open(UFFD_FEATURE_MOVE);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static const char *release(void)
{
	static struct utsname u;

	ck_assert_int_eq(uname(&u), 0);
	return u.release;
}

static const char *bname(enum pgremap_backend b)
{
	return b == PGREMAP_BACKEND_UFFD ? "uffd" :
	       b == PGREMAP_BACKEND_DEV	 ? "dev" :
	       b == PGREMAP_BACKEND_NONE ? "none" :
					   "?";
}

static struct pgremap_open_opts opts_of(int uffd, unsigned int flags)
{
	struct pgremap_open_opts o = {
		.size = sizeof(o),
		.uffd = uffd,
		.flags = flags,
	};

	return o;
}

/* pgremap_open(), asserting the result and backend; returns the handle. */
static struct pgremap *open_expect(const struct pgremap_open_opts *o,
				   enum pgremap_backend want)
{
	struct pgremap *h = (struct pgremap *)1;
	int err = pgremap_open(&h, o);

	if (want == PGREMAP_BACKEND_NONE) {
		ck_assert_msg(err == -ENODEV, "pgremap_open: %s, want ENODEV",
			      err ? strerror(-err) : "success");
		ck_assert_msg(h == NULL, "failed pgremap_open left *h set");
		return NULL;
	}
	ck_assert_msg(err == 0, "pgremap_open: %s", strerror(-err));
	ck_assert_msg(pgremap_backend(h) == want,
		      "backend %s, want %s (why: %s)",
		      bname(pgremap_backend(h)), bname(want), pgremap_why(h));
	pgr_diag("backend %s: %s", bname(want), pgremap_why(h));
	return h;
}

static void assert_why(const char *got, const char *want)
{
	ck_assert_msg(!strcmp(got, want), "why:\n  got  '%s'\n  want '%s'", got,
		      want);
}

static void assert_why_has(const char *got, const char *part)
{
	ck_assert_msg(strstr(got, part) != NULL, "why '%s' lacks '%s'", got,
		      part);
}

/* The why of a kernel without UFFDIO_MOVE, as a prefix. */
static const char *no_move_prefix(void)
{
	static char buf[200];

	snprintf(
		buf, sizeof(buf),
		"kernel %s has no UFFDIO_MOVE (UFFD_FEATURE_MOVE not reported)",
		release());
	return buf;
}

static int count_fds(void)
{
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert(d != NULL);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void unload_module(void)
{
	int err = pgr_mod_unload();

	ck_assert_msg(err == 0 || err == -ENOENT, "unload pgremap: %s",
		      strerror(-err));
	ck_assert_msg(pgr_wait_path(PGR_DEV_PATH, false, 3000),
		      "%s still there after unload", PGR_DEV_PATH);
}

/* ---- lib-select --------------------------------------------------------- */

START_TEST(select_default_no_uffd)
{
	struct pgremap *h;
	char want[300];

	h = open_expect(NULL, PGREMAP_BACKEND_DEV);
	if (kernel_has_move())
		snprintf(
			want, sizeof(want),
			"kernel has UFFDIO_MOVE but no userfaultfd was passed; using /dev/pgremap");
	else
		snprintf(want, sizeof(want), "%s; using /dev/pgremap",
			 no_move_prefix());
	assert_why(pgremap_why(h), want);
	pgremap_close(h);
}
END_TEST

START_TEST(select_with_uffd)
{
	int uffd = mt_uffd_open(0);
	struct pgremap_open_opts o = opts_of(uffd, 0);
	struct pgremap *h;
	char want[300];

	ck_assert_msg(uffd >= 0, "userfaultfd: %s", strerror(-uffd));
	if (kernel_has_move()) {
		h = open_expect(&o, PGREMAP_BACKEND_UFFD);
		snprintf(
			want, sizeof(want),
			"kernel %s has UFFDIO_MOVE; using it on the caller's userfaultfd (fd %d)",
			release(), uffd);
	} else {
		h = open_expect(&o, PGREMAP_BACKEND_DEV);
		snprintf(want, sizeof(want), "%s; using /dev/pgremap",
			 no_move_prefix());
	}
	assert_why(pgremap_why(h), want);
	pgremap_close(h);
	/* The handle does not own the userfaultfd. */
	ck_assert_msg(fcntl(uffd, F_GETFD) >= 0,
		      "pgremap_close() closed the caller's userfaultfd");
	close(uffd);
}
END_TEST

/* A userfaultfd that enabled UFFD_FEATURE_MOVE answers by itself. */
START_TEST(select_with_uffd_move_feature)
{
	struct pgremap_open_opts o;
	struct pgremap *h;
	int uffd;

	PGR_SKIP_IF(!kernel_has_move(), "kernel lacks UFFDIO_MOVE");
	uffd = mt_uffd_open(UFFD_FEATURE_MOVE);
	ck_assert_int_ge(uffd, 0);
	o = opts_of(uffd, PGREMAP_OPEN_UFFD_ONLY | PGREMAP_OPEN_NO_LOAD);
	h = open_expect(&o, PGREMAP_BACKEND_UFFD);
	pgremap_close(h);
	close(uffd);
}
END_TEST

START_TEST(select_uffd_only)
{
	struct pgremap_open_opts o = opts_of(-1, PGREMAP_OPEN_UFFD_ONLY);
	struct pgremap_probe p;
	struct pgremap *h;
	char want[300];
	int uffd;

	open_expect(&o, PGREMAP_BACKEND_NONE);
	ck_assert_int_eq(pgremap_probe(&p, &o), 0);
	ck_assert_int_eq(p.backend, PGREMAP_BACKEND_NONE);
	if (kernel_has_move())
		snprintf(
			want, sizeof(want),
			"PGREMAP_OPEN_UFFD_ONLY: kernel has UFFDIO_MOVE but no userfaultfd was passed");
	else
		snprintf(want, sizeof(want), "PGREMAP_OPEN_UFFD_ONLY: %s",
			 no_move_prefix());
	assert_why(p.why, want);

	uffd = mt_uffd_open(0);
	ck_assert_int_ge(uffd, 0);
	o.uffd = uffd;
	h = open_expect(&o, kernel_has_move() ? PGREMAP_BACKEND_UFFD :
						PGREMAP_BACKEND_NONE);
	pgremap_close(h);
	close(uffd);
}
END_TEST

START_TEST(select_dev_only)
{
	int uffd = mt_uffd_open(0);
	struct pgremap_open_opts o = opts_of(uffd, PGREMAP_OPEN_DEV_ONLY);
	struct pgremap *h;

	ck_assert_int_ge(uffd, 0);
	h = open_expect(&o, PGREMAP_BACKEND_DEV);
	assert_why(pgremap_why(h), "PGREMAP_OPEN_DEV_ONLY; using /dev/pgremap");
	pgremap_close(h);
	close(uffd);
}
END_TEST

/* Options pgremap_open() refuses with EINVAL, and what probe says. */
static void bad_opts(const struct pgremap_open_opts *o, const char *why)
{
	struct pgremap *h = (struct pgremap *)1;
	struct pgremap_probe p;
	int err;

	err = pgremap_open(&h, o);
	ck_assert_msg(err == -EINVAL, "pgremap_open (%s): %s, want EINVAL", why,
		      err ? strerror(-err) : "success");
	ck_assert_msg(h == NULL, "failed pgremap_open left *h set");
	err = pgremap_probe(&p, o);
	ck_assert_msg(err == -EINVAL, "pgremap_probe (%s): %s, want EINVAL",
		      why, err ? strerror(-err) : "success");
	ck_assert_int_eq(p.backend, PGREMAP_BACKEND_NONE);
	assert_why_has(p.why, why);
	/* The rest is filled in all the same. */
	ck_assert_int_eq(p.module_loaded, 1);
	ck_assert_int_eq(p.module_installed, 1);
	ck_assert_int_eq(p.kernel_uffd_move, kernel_has_move());
}

START_TEST(select_bad_opts)
{
	struct {
		struct pgremap_open_opts o;
		char more[8];
	} big;
	struct pgremap_open_opts o;
	struct pgremap *h;
	char want[100];
	int p[2], raw;

	o = opts_of(-1, 0);
	o.size = 0;
	bad_opts(&o, "opts->size is 0");
	o.size = sizeof(o) - 1;
	bad_opts(&o, "opts->size is");
	o = opts_of(-1, 1u << 7);
	bad_opts(&o, "unknown opts->flags 0x80");
	o = opts_of(-1, PGREMAP_OPEN_DEV_ONLY | PGREMAP_OPEN_UFFD_ONLY);
	bad_opts(&o, "PGREMAP_OPEN_DEV_ONLY and PGREMAP_OPEN_UFFD_ONLY");
	o = opts_of(-2, 0);
	bad_opts(&o, "opts->uffd is -2");
	ck_assert_int_eq(pipe(p), 0);
	o = opts_of(p[0], 0);
	snprintf(want, sizeof(want), "opts->uffd (fd %d) is not a userfaultfd",
		 p[0]);
	bad_opts(&o, want);
	close(p[0]);
	close(p[1]);
	o = opts_of(p[0], 0); /* closed now */
	snprintf(want, sizeof(want), "opts->uffd (fd %d) is not open", p[0]);
	bad_opts(&o, want);
	raw = mt_userfaultfd(O_CLOEXEC);
	ck_assert_int_ge(raw, 0);
	o = opts_of(raw, 0);
	bad_opts(&o, "without UFFDIO_API done");
	close(raw);
	ck_assert_int_eq(pgremap_open(NULL, NULL), -EINVAL);
	ck_assert_int_eq(pgremap_probe(NULL, NULL), -EINVAL);

	/* A newer caller's larger struct: fine if the unknown tail is 0. */
	memset(&big, 0, sizeof(big));
	big.o = opts_of(-1, 0);
	big.o.size = sizeof(big);
	ck_assert_int_eq(pgremap_open(&h, &big.o), 0);
	pgremap_close(h);
	big.more[3] = 1;
	bad_opts(&big.o, "fields this library does not know");
}
END_TEST

START_TEST(probe_fields)
{
	struct pgremap_probe p, pu;
	struct pgremap_open_opts o;
	struct pgremap *h;
	int uffd, kmove = kernel_has_move();

	ck_assert_int_eq(pgremap_probe(&p, NULL), 0);
	pgr_diag(
		"probe: kernel_uffd_move %d module_loaded %d installed %d api %#llx features %#llx ioctls %#llx backend %s: %s",
		p.kernel_uffd_move, p.module_loaded, p.module_installed,
		(unsigned long long)p.dev_api,
		(unsigned long long)p.dev_features,
		(unsigned long long)p.dev_ioctls, bname(p.backend), p.why);
	ck_assert_int_eq(p.kernel_uffd_move, kmove);
	ck_assert_int_eq(p.kernel_uffd_move, pgr_kernel_at_least(6, 8));
	ck_assert_int_eq(p.module_loaded, 1);
	ck_assert_int_eq(p.module_installed, 1);
	ck_assert_uint_eq(p.dev_api, PGREMAP_API);
	ck_assert_uint_eq(p.dev_features, PGREMAP_FEATURES_ALL);
	ck_assert_uint_eq(p.dev_ioctls, PGR_IOCTLS_SERVED);
	ck_assert_int_eq(p.backend, PGREMAP_BACKEND_DEV);
	/* The probe's answer is pgremap_open()'s. */
	h = open_expect(NULL, PGREMAP_BACKEND_DEV);
	assert_why(p.why, pgremap_why(h));
	pgremap_close(h);

	uffd = mt_uffd_open(0);
	ck_assert_int_ge(uffd, 0);
	o = opts_of(uffd, 0);
	ck_assert_int_eq(pgremap_probe(&pu, &o), 0);
	ck_assert_int_eq(pu.backend,
			 kmove ? PGREMAP_BACKEND_UFFD : PGREMAP_BACKEND_DEV);
	/* The module's fields whatever the backend. */
	ck_assert_int_eq(pu.module_loaded, 1);
	ck_assert_uint_eq(pu.dev_api, PGREMAP_API);
	ck_assert_uint_eq(pu.dev_ioctls, PGR_IOCTLS_SERVED);
	h = open_expect(&o, pu.backend);
	assert_why(pu.why, pgremap_why(h));
	pgremap_close(h);
	/* Each probe's why lives in its own struct. */
	ck_assert_ptr_eq(p.why, p.why_buf);
	ck_assert_msg(kmove ? strcmp(p.why, pu.why) != 0 :
			      strcmp(p.why, pu.why) == 0,
		      "probe whys: '%s' / '%s'", p.why, pu.why);
	close(uffd);
}
END_TEST

/* Neither probe nor open/close leaves a descriptor behind. */
START_TEST(probe_open_no_fd_leak)
{
	struct pgremap_probe p;
	struct pgremap *h;
	int n0, i, uffd;
	struct pgremap_open_opts o;

	uffd = mt_uffd_open(0);
	ck_assert_int_ge(uffd, 0);
	o = opts_of(uffd, 0);
	n0 = count_fds();
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(pgremap_probe(&p, NULL), 0);
		ck_assert_int_eq(pgremap_probe(&p, &o), 0);
		ck_assert_int_eq(pgremap_open(&h, NULL), 0);
		pgremap_close(h);
		ck_assert_int_eq(pgremap_open(&h, &o), 0);
		pgremap_close(h);
	}
	ck_assert_int_eq(count_fds(), n0);
	close(uffd);
}
END_TEST

/* ---- lib-load ----------------------------------------------------------- */

START_TEST(load_by_open)
{
	struct pgremap_open_opts o = opts_of(-1, PGREMAP_OPEN_NO_LOAD);
	struct pgremap_probe p;
	const char *path;
	struct pgremap *h;
	char *mem;
	size_t moved, ps = mt_page();

	path = pgr_mod_path();
	ck_assert(path != NULL);
	unload_module();

	ck_assert_int_eq(pgremap_probe(&p, NULL), 0);
	pgr_diag("probe, module unloaded: %s", p.why);
	ck_assert_int_eq(p.module_loaded, 0);
	ck_assert_int_eq(p.module_installed, 1);
	ck_assert_uint_eq(p.dev_api, 0);
	ck_assert_int_eq(p.backend, PGREMAP_BACKEND_DEV);
	assert_why_has(
		p.why,
		"; the pgremap module is installed but not loaded: pgremap_open() would load it and use /dev/pgremap");

	ck_assert_int_eq(pgremap_probe(&p, &o), 0);
	ck_assert_int_eq(p.backend, PGREMAP_BACKEND_NONE);
	assert_why_has(
		p.why,
		"; the pgremap module is installed but not loaded, and PGREMAP_OPEN_NO_LOAD forbids loading it");
	open_expect(&o, PGREMAP_BACKEND_NONE);
	ck_assert_msg(!pgr_mod_loaded(), "PGREMAP_OPEN_NO_LOAD loaded it");

	h = open_expect(NULL, PGREMAP_BACKEND_DEV);
	ck_assert_msg(pgr_mod_loaded(), "pgremap_open() did not load it");
	assert_why_has(pgremap_why(h), "; loaded the pgremap module (");
	assert_why_has(pgremap_why(h), path);
	assert_why_has(pgremap_why(h), "), using /dev/pgremap");

	/* And it works. */
	mem = mt_map(4 * ps, 0, false);
	mt_fill(mem, 2, (unsigned long)mem);
	ck_assert_int_eq(pgremap_move(h, mem + 2 * ps, mem, 2 * ps, 0, &moved),
			 0);
	ck_assert_uint_eq(moved, 2 * ps);
	mt_assert_pattern(mem + 2 * ps, 2, (unsigned long)mem, "moved");
	pgremap_close(h);
}
END_TEST

/* The UFFD backend needs no module: none is loaded for it. */
START_TEST(load_not_for_uffd)
{
	struct pgremap_open_opts o;
	struct pgremap *h;
	int uffd;

	uffd = mt_uffd_open(0);
	ck_assert_int_ge(uffd, 0);
	unload_module();
	o = opts_of(uffd, 0);
	if (kernel_has_move()) {
		h = open_expect(&o, PGREMAP_BACKEND_UFFD);
		ck_assert_msg(!pgr_mod_loaded(),
			      "module loaded for the UFFD backend");
	} else {
		h = open_expect(&o, PGREMAP_BACKEND_DEV);
		ck_assert(pgr_mod_loaded());
	}
	pgremap_close(h);
	unload_module();
	o = opts_of(-1, PGREMAP_OPEN_UFFD_ONLY);
	open_expect(&o, PGREMAP_BACKEND_NONE);
	ck_assert_msg(!pgr_mod_loaded(), "module loaded for UFFD_ONLY");
	close(uffd);
}
END_TEST

/* Without CAP_SYS_MODULE: probe says so, open fails, nothing loads. */
static int unprivileged_child(void *arg)
{
	struct pgremap_probe p;
	struct pgremap *h;
	int ret = 0;

	(void)arg;
	if (setgroups(0, NULL) || setgid(PGR_NOBODY) || setuid(PGR_NOBODY))
		return 100;
	if (pgremap_probe(&p, NULL))
		ret |= 1;
	if (p.backend != PGREMAP_BACKEND_NONE)
		ret |= 2;
	if (!strstr(p.why,
		    "; the pgremap module is installed but not loaded, and cannot be loaded: this process lacks CAP_SYS_MODULE"))
		ret |= 4;
	if (pgremap_open(&h, NULL) != -ENODEV)
		ret |= 8;
	printf("# unprivileged probe: %s\n", p.why);
	fflush(stdout);
	return ret;
}

START_TEST(load_refused_unprivileged)
{
	int st;

	unload_module();
	st = pgr_run_in_child(unprivileged_child, NULL);
	ck_assert_msg(st == 0, "unprivileged child: status %d", st);
	ck_assert_msg(!pgr_mod_loaded(), "an unprivileged open loaded it");
}
END_TEST

/* The module file gone: "not installed for <release>". */
struct hide {
	const char *path;
	char why[300];
	int installed, backend, open_err;
};

static int hidden_child(void *arg)
{
	struct hide *hd = arg;
	char moved[4200];
	struct pgremap_probe p;
	struct pgremap *h;
	int ret = 0;

	snprintf(moved, sizeof(moved), "%s.hidden", hd->path);
	if (rename(hd->path, moved))
		return 100;
	if (pgremap_probe(&p, NULL))
		ret |= 1;
	hd->installed = p.module_installed;
	hd->backend = p.backend;
	snprintf(hd->why, sizeof(hd->why), "%s", p.why);
	hd->open_err = pgremap_open(&h, NULL);
	if (!hd->open_err)
		pgremap_close(h);
	if (rename(moved, hd->path))
		return 101;
	return ret;
}

START_TEST(load_not_installed)
{
	struct hide *hd;
	char want[300];
	int st;

	hd = mmap(NULL, sizeof(*hd), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert(hd != MAP_FAILED);
	hd->path = pgr_mod_path();
	ck_assert(hd->path != NULL);
	unload_module();
	st = pgr_run_in_child(hidden_child, hd);
	ck_assert_msg(pgr_path_exists(hd->path), "%s not restored", hd->path);
	ck_assert_msg(st == 0, "child: status %d", st);
	pgr_diag("module file hidden: %s", hd->why);
	ck_assert_int_eq(hd->installed, 0);
	ck_assert_int_eq(hd->backend, PGREMAP_BACKEND_NONE);
	ck_assert_int_eq(hd->open_err, -ENODEV);
	snprintf(
		want, sizeof(want),
		"; pgremap module not installed for %s (modules.dep names %s: No such file or directory)",
		release(), hd->path);
	assert_why_has(hd->why, want);
	ck_assert(!pgr_mod_loaded());
}
END_TEST

/* ---- lib-move ----------------------------------------------------------- */

struct env {
	enum pgremap_backend kind;
	struct pgremap *h;
	int uffd; /* registered dsts live here; the UFFD backend's too */
};

/* Open kind with a userfaultfd (DEV: DEV_ONLY), or skip (from the test). */
#define ENV_OPEN_OR_SKIP(e, k)                                                 \
	do {                                                                   \
		struct pgremap_open_opts o_;                                   \
		(e)->kind = (k);                                               \
		PGR_SKIP_IF((k) == PGREMAP_BACKEND_UFFD && !kernel_has_move(), \
			    "kernel lacks UFFDIO_MOVE");                       \
		(e)->uffd = mt_uffd_open(0);                                   \
		ck_assert_int_ge((e)->uffd, 0);                                \
		o_ = opts_of((e)->uffd, (k) == PGREMAP_BACKEND_UFFD ?          \
						PGREMAP_OPEN_UFFD_ONLY :       \
						PGREMAP_OPEN_DEV_ONLY);        \
		(e)->h = open_expect(&o_, (k));                                \
	} while (0)

static void env_close(struct env *e)
{
	pgremap_close(e->h);
	close(e->uffd);
}

/* UFFDIO_MOVE needs dst registered; /dev/pgremap does not care. */
static void env_dst(struct env *e, void *dst, size_t len)
{
	if (e->kind == PGREMAP_BACKEND_UFFD)
		mt_uffd_register(e->uffd, dst, len);
}

static bool present(const void *p)
{
	return mt_pagemap(p) & PM_PRESENT;
}

#define LIB_TEST(fn)                      \
	START_TEST(fn##_dev)              \
	{                                 \
		fn(PGREMAP_BACKEND_DEV);  \
	}                                 \
	END_TEST                          \
	START_TEST(fn##_uffd)             \
	{                                 \
		fn(PGREMAP_BACKEND_UFFD); \
	}                                 \
	END_TEST

#define LIB_TEST_ADD(tc, fn)                   \
	do {                                   \
		tcase_add_test(tc, fn##_dev);  \
		tcase_add_test(tc, fn##_uffd); \
	} while (0)

static void move_all(enum pgremap_backend kind)
{
	const size_t n = 64, ps = mt_page();
	struct env e;
	char *src, *dst;
	size_t moved = 1;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	mt_fill(src, n, (unsigned long)src);
	env_dst(&e, dst, n * ps);
	ck_assert_int_eq(pgremap_move(e.h, dst, src, n * ps, 0, &moved), 0);
	ck_assert_uint_eq(moved, n * ps);
	mt_assert_pattern(dst, n, (unsigned long)src, "dst");
	ck_assert_int_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	ck_assert_int_eq(mt_check_zero(src, n), -1);
	/* moved may be NULL. */
	mt_fill(src, n, (unsigned long)src + 1);
	mt_uffd_unregister(e.uffd, dst, n * ps);
	mt_unmap(dst, n * ps);
	dst = mt_map(n * ps, 0, false);
	env_dst(&e, dst, n * ps);
	ck_assert_int_eq(pgremap_move(e.h, dst, src, n * ps, 0, NULL), 0);
	mt_assert_pattern(dst, n, (unsigned long)src + 1, "dst, moved NULL");
	env_close(&e);
}
LIB_TEST(move_all)

/* A hole in src without ALLOW_SRC_HOLES: moved counts up to it. */
static void move_partial_enoent(enum pgremap_backend kind)
{
	const size_t n = 8, hole = 5, ps = mt_page();
	size_t moved = 12345, i;
	char *src, *dst;
	struct env e;
	int err;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	for (i = 0; i < n; i++)
		if (i != hole)
			mt_fill(src + i * ps, 1, (unsigned long)src + i * ps);
	env_dst(&e, dst, n * ps);
	err = pgremap_move(e.h, dst, src, n * ps, 0, &moved);
	ck_assert_msg(err == -ENOENT, "move: %s, want ENOENT", strerror(-err));
	ck_assert_uint_eq(moved, hole * ps);
	mt_assert_pattern(dst, hole, (unsigned long)src, "dst before the hole");
	for (i = hole; i < n; i++)
		ck_assert_msg(!present(dst + i * ps), "dst page %zu populated",
			      i);
	mt_assert_pattern(src + (hole + 1) * ps, n - hole - 1,
			  (unsigned long)src + (hole + 1) * ps,
			  "src after the hole (untouched)");
	/* With the flag the rest goes. */
	err = pgremap_move(e.h, dst + hole * ps, src + hole * ps,
			   (n - hole) * ps, PGREMAP_MOVE_ALLOW_SRC_HOLES,
			   &moved);
	ck_assert_msg(err == 0, "move with holes: %s", strerror(-err));
	ck_assert_uint_eq(moved, (n - hole) * ps);
	ck_assert(!present(dst + hole * ps));
	mt_assert_pattern(dst + (hole + 1) * ps, n - hole - 1,
			  (unsigned long)src + (hole + 1) * ps, "rest");
	env_close(&e);
}
LIB_TEST(move_partial_enoent)

/* A populated dst page: EEXIST, moved counts up to it. */
static void move_partial_eexist(enum pgremap_backend kind)
{
	const size_t n = 8, busy = 3, ps = mt_page();
	char *src, *dst;
	size_t moved;
	struct env e;
	int err;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	mt_fill(src, n, (unsigned long)src);
	dst[busy * ps] = 1; /* before registering: no fault to serve */
	env_dst(&e, dst, n * ps);
	err = pgremap_move(e.h, dst, src, n * ps, 0, &moved);
	ck_assert_msg(err == -EEXIST, "move: %s, want EEXIST", strerror(-err));
	ck_assert_uint_eq(moved, busy * ps);
	mt_assert_pattern(dst, busy, (unsigned long)src, "dst before busy");
	ck_assert_int_eq(dst[busy * ps], 1);
	mt_assert_pattern(src + busy * ps, n - busy,
			  (unsigned long)src + busy * ps, "src from busy on");
	env_close(&e);
}
LIB_TEST(move_partial_eexist)

static void move_einval(enum pgremap_backend kind)
{
	const size_t ps = mt_page();
	char *src, *dst;
	size_t moved;
	struct env e;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(4 * ps, 0, false);
	dst = mt_map(4 * ps, 0, false);
	mt_fill(src, 4, (unsigned long)src);
	env_dst(&e, dst, 4 * ps);
	moved = 7;
	ck_assert_int_eq(pgremap_move(e.h, dst + 8, src, ps, 0, &moved),
			 -EINVAL);
	ck_assert_uint_eq(moved, 0);
	ck_assert_int_eq(pgremap_move(e.h, dst, src, ps / 2, 0, &moved),
			 -EINVAL);
	ck_assert_int_eq(pgremap_move(e.h, dst, src, 0, 0, &moved), -EINVAL);
	ck_assert_int_eq(pgremap_move(e.h, dst, src, ps, 1u << 5, &moved),
			 -EINVAL);
	ck_assert_int_eq(pgremap_move_wake(e.h, -1, dst, src, ps, 1u << 5,
					   &moved),
			 -EINVAL);
	ck_assert_int_eq(pgremap_move(NULL, dst, src, ps, 0, &moved), -EINVAL);
	ck_assert_uint_eq(moved, 0);
	mt_assert_pattern(src, 4, (unsigned long)src, "src untouched");
	env_close(&e);
}
LIB_TEST(move_einval)

/* Short moves (EAGAIN) are resumed where they stopped. */
static void move_restart_capped(enum pgremap_backend kind)
{
	const size_t n = 64, ps = mt_page();
	char *src, *dst;
	size_t moved;
	struct env e;
	int err, calls;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	mt_fill(src, n, (unsigned long)src);
	env_dst(&e, dst, n * ps);
	inj_arm(3 * ps, 0, 0);
	err = pgremap_move(e.h, dst, src, n * ps, 0, &moved);
	calls = inj_disarm();
	ck_assert_msg(err == 0, "move: %s", strerror(-err));
	ck_assert_uint_eq(moved, n * ps);
	ck_assert_int_eq(calls, (n + 2) / 3);
	mt_assert_pattern(dst, n, (unsigned long)src, "dst");
	env_close(&e);
}
LIB_TEST(move_restart_capped)

/* ... and a later error ends it with the bytes moved before. */
static void move_restart_capped_hole(enum pgremap_backend kind)
{
	const size_t n = 16, hole = 7, ps = mt_page();
	char *src, *dst;
	size_t moved, i;
	struct env e;
	int err, calls;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	for (i = 0; i < n; i++)
		if (i != hole)
			mt_fill(src + i * ps, 1, (unsigned long)src + i * ps);
	env_dst(&e, dst, n * ps);
	inj_arm(3 * ps, 0, 0);
	err = pgremap_move(e.h, dst, src, n * ps, 0, &moved);
	calls = inj_disarm();
	ck_assert_msg(err == -ENOENT, "move: %s", strerror(-err));
	ck_assert_uint_eq(moved, hole * ps);
	/* [0,3) [3,6) [6,9): 1 page then the hole, EAGAIN; [7,10): ENOENT */
	ck_assert_int_eq(calls, 4);
	mt_assert_pattern(dst, hole, (unsigned long)src, "dst");
	env_close(&e);
}
LIB_TEST(move_restart_capped_hole)

/* EAGAIN with nothing moved is retried, a bounded number of times. */
static void move_stalls(enum pgremap_backend kind)
{
	const size_t n = 8, ps = mt_page();
	char *src, *dst;
	size_t moved;
	struct env e;
	int err, calls;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	mt_fill(src, n, (unsigned long)src);
	env_dst(&e, dst, n * ps);

	/* Stalls forever: -EAGAIN after LIB_MAX_STALLS tries. */
	inj_arm(0, 1, 0);
	err = pgremap_move(e.h, dst, src, n * ps, 0, &moved);
	calls = inj_disarm();
	ck_assert_msg(err == -EAGAIN, "move: %s, want EAGAIN", strerror(-err));
	ck_assert_uint_eq(moved, 0);
	ck_assert_int_eq(calls, LIB_MAX_STALLS);
	ck_assert_int_eq(mt_pagemap_count(dst, n, PM_PRESENT), 0);

	/* Progress resets the count: 2 pages, then stalls forever. */
	inj_arm(2 * ps, 2, 0);
	err = pgremap_move(e.h, dst, src, n * ps, 0, &moved);
	calls = inj_disarm();
	ck_assert_msg(err == -EAGAIN, "move: %s, want EAGAIN", strerror(-err));
	ck_assert_uint_eq(moved, 2 * ps);
	ck_assert_int_eq(calls, 1 + LIB_MAX_STALLS);
	mt_assert_pattern(dst, 2, (unsigned long)src, "first 2 pages");

	/* Five stalls, then the rest moves. */
	inj_arm(0, 1, 6);
	err = pgremap_move(e.h, dst + 2 * ps, src + 2 * ps, (n - 2) * ps, 0,
			   &moved);
	calls = inj_disarm();
	ck_assert_msg(err == 0, "move: %s", strerror(-err));
	ck_assert_uint_eq(moved, (n - 2) * ps);
	ck_assert_int_eq(calls, 6);
	mt_assert_pattern(dst, n, (unsigned long)src, "dst");
	env_close(&e);
}
LIB_TEST(move_stalls)

/* ---- wakes -------------------------------------------------------------- */

/* A thread reading one word of dst, blocked in a MISSING fault. */
struct faulter {
	pthread_t t;
	volatile __u64 *addr;
	__u64 value;
	int done;
};

static void *faulter_fn(void *arg)
{
	struct faulter *f = arg;

	f->value = *f->addr;
	__atomic_store_n(&f->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void faulter_start(struct faulter *f, void *addr)
{
	memset(f, 0, sizeof(*f));
	f->addr = addr;
	ck_assert_int_eq(pthread_create(&f->t, NULL, faulter_fn, f), 0);
}

static bool faulter_wait(struct faulter *f, int ms)
{
	const struct timespec tick = { 0, 5 * 1000 * 1000 };
	int waited;

	for (waited = 0; waited <= ms; waited += 5) {
		if (__atomic_load_n(&f->done, __ATOMIC_ACQUIRE))
			return true;
		nanosleep(&tick, NULL);
	}
	return false;
}

/* Wait for the fault message of the page at addr. */
static void wait_fault(int uffd, void *addr)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	ck_assert_msg(poll(&pfd, 1, 20000) == 1, "no fault within 20 s");
	ck_assert_int_eq(read(uffd, &msg, sizeof(msg)), sizeof(msg));
	ck_assert_int_eq(msg.event, UFFD_EVENT_PAGEFAULT);
	ck_assert_msg((msg.arg.pagefault.address & ~(__u64)(mt_page() - 1)) ==
			      (uintptr_t)addr,
		      "fault at %#llx, want %p",
		      (unsigned long long)msg.arg.pagefault.address, addr);
}

/* A fault on dst: the faulter gets the moved page's first word. */
static void assert_woken(struct faulter *f, const void *page)
{
	ck_assert_msg(faulter_wait(f, 20000), "faulting thread not woken");
	ck_assert_int_eq(pthread_join(f->t, NULL), 0);
	ck_assert_uint_eq(f->value, *(const __u64 *)page);
}

static void wake_by_move_wake(enum pgremap_backend kind)
{
	const size_t ps = mt_page();
	struct faulter f;
	struct pgremap *h2;
	char *src, *dst;
	size_t moved;
	struct env e;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(2 * ps, 0, false);
	dst = mt_map(2 * ps, 0, false);
	mt_fill(src, 2, (unsigned long)src);
	mt_uffd_register(e.uffd, dst, 2 * ps);

	/* On the handle's own userfaultfd (-1). */
	faulter_start(&f, dst);
	wait_fault(e.uffd, dst);
	ck_assert_int_eq(pgremap_move_wake(e.h, -1, dst, src, ps, 0, &moved),
			 0);
	ck_assert_uint_eq(moved, ps);
	assert_woken(&f, dst);
	mt_assert_pattern(dst, 1, (unsigned long)src, "dst");

	/* On a userfaultfd passed to a handle that has none (DEV). */
	h2 = open_expect(NULL, PGREMAP_BACKEND_DEV);
	faulter_start(&f, dst + ps);
	wait_fault(e.uffd, dst + ps);
	ck_assert_int_eq(pgremap_move_wake(h2, e.uffd, dst + ps, src + ps, ps,
					   PGREMAP_MOVE_DONTWAKE, &moved),
			 0);
	ck_assert_uint_eq(moved, ps);
	assert_woken(&f, dst + ps);
	mt_assert_pattern(dst + ps, 1, (unsigned long)src + ps, "dst page 1");
	pgremap_close(h2);
	env_close(&e);
}
LIB_TEST(wake_by_move_wake)

/*
 * pgremap_move(): the UFFD backend wakes unless DONTWAKE, /dev/pgremap
 * never does. "Not woken" is judged after 300 ms.
 */
static void wake_by_move(enum pgremap_backend kind)
{
	const size_t ps = mt_page();
	struct faulter f;
	char *src, *dst;
	size_t moved;
	struct env e;

	ENV_OPEN_OR_SKIP(&e, kind);
	src = mt_map(2 * ps, 0, false);
	dst = mt_map(2 * ps, 0, false);
	mt_fill(src, 2, (unsigned long)src);
	mt_uffd_register(e.uffd, dst, 2 * ps);

	faulter_start(&f, dst);
	wait_fault(e.uffd, dst);
	ck_assert_int_eq(pgremap_move(e.h, dst, src, ps, 0, &moved), 0);
	if (kind == PGREMAP_BACKEND_UFFD) {
		assert_woken(&f, dst);
	} else {
		ck_assert_msg(!faulter_wait(&f, 300),
			      "/dev/pgremap move woke the faulting thread");
		mt_uffd_wake(e.uffd, dst, ps);
		assert_woken(&f, dst);
	}

	faulter_start(&f, dst + ps);
	wait_fault(e.uffd, dst + ps);
	ck_assert_int_eq(pgremap_move(e.h, dst + ps, src + ps, ps,
				      PGREMAP_MOVE_DONTWAKE, &moved),
			 0);
	ck_assert_msg(!faulter_wait(&f, 300),
		      "a DONTWAKE move woke the faulting thread");
	mt_uffd_wake(e.uffd, dst + ps, ps);
	assert_woken(&f, dst + ps);
	env_close(&e);
}
LIB_TEST(wake_by_move)

/* move_wake with no userfaultfd anywhere: EINVAL before moving. */
START_TEST(wake_without_uffd)
{
	const size_t ps = mt_page();
	struct pgremap *h;
	char *src, *dst;
	size_t moved = 3;

	h = open_expect(NULL, PGREMAP_BACKEND_DEV);
	src = mt_map(ps, 0, false);
	dst = mt_map(ps, 0, false);
	mt_fill(src, 1, (unsigned long)src);
	ck_assert_int_eq(pgremap_move_wake(h, -1, dst, src, ps, 0, &moved),
			 -EINVAL);
	ck_assert_uint_eq(moved, 0);
	ck_assert(present(src));
	ck_assert_int_eq(pgremap_move_wake(h, -7, dst, src, ps, 0, &moved),
			 -EINVAL);
	pgremap_close(h);
}
END_TEST

/*
 * The in-tree UFFDIO_MOVE's own no-progress EAGAIN: while an mremap()
 * event of a UFFD_FEATURE_EVENT_REMAP userfaultfd is unread, the address
 * space counts as changing and every move answers EAGAIN, moving
 * nothing. pgremap_move() retries, then gives up with -EAGAIN; once the
 * event is read, the move goes through.
 */
struct remapper {
	void *from, *to;
	size_t len;
	void *ret;
};

static void *remapper_fn(void *arg)
{
	struct remapper *r = arg;

	r->ret = mremap(r->from, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED,
			r->to);
	return NULL;
}

START_TEST(move_eagain_mmap_changing_uffd)
{
	const size_t n = 4, ps = mt_page();
	struct pollfd pfd;
	struct pgremap_open_opts o;
	struct remapper r;
	struct uffd_msg msg;
	struct pgremap *h;
	char *src, *dst;
	pthread_t t;
	size_t moved;
	int uffd, err;

	PGR_SKIP_IF(!kernel_has_move(), "kernel lacks UFFDIO_MOVE");
	uffd = mt_uffd_open(UFFD_FEATURE_EVENT_REMAP);
	ck_assert_msg(uffd >= 0, "userfaultfd: %s", strerror(-uffd));
	o = opts_of(uffd, PGREMAP_OPEN_UFFD_ONLY);
	h = open_expect(&o, PGREMAP_BACKEND_UFFD);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	mt_fill(src, n, (unsigned long)src);
	mt_uffd_register(uffd, dst, n * ps);

	r.len = n * ps;
	r.from = mt_map(n * ps, 0, false);
	r.to = mt_map(n * ps, 0, false);
	mt_uffd_register(uffd, r.from, n * ps);
	ck_assert_int_eq(pthread_create(&t, NULL, remapper_fn, &r), 0);
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, 20000) == 1, "no remap event in 20 s");

	err = pgremap_move(h, dst, src, n * ps, 0, &moved);
	ck_assert_msg(err == -EAGAIN, "move while mmap changing: %s",
		      err ? strerror(-err) : "success");
	ck_assert_uint_eq(moved, 0);

	ck_assert_int_eq(read(uffd, &msg, sizeof(msg)), sizeof(msg));
	ck_assert_int_eq(msg.event, UFFD_EVENT_REMAP);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_ptr_eq(r.ret, r.to);

	err = pgremap_move(h, dst, src, n * ps, 0, &moved);
	ck_assert_msg(err == 0, "move after the event: %s", strerror(-err));
	ck_assert_uint_eq(moved, n * ps);
	mt_assert_pattern(dst, n, (unsigned long)src, "dst");
	pgremap_close(h);
	close(uffd);
}
END_TEST

/* ---- threads ------------------------------------------------------------ */

#define TH_THREADS 6
#define TH_CHUNKS 16
#define TH_CHUNK 4 /* pages */

struct worker {
	pthread_t t;
	struct pgremap *h;
	char *src, *dst;
	int err; /* first error */
	size_t moved;
};

static void *worker_fn(void *arg)
{
	const size_t len = TH_CHUNK * mt_page();
	struct worker *w = arg;
	size_t c, m;
	int err;

	for (c = 0; c < TH_CHUNKS; c++) {
		err = pgremap_move(w->h, w->dst + c * len, w->src + c * len,
				   len, 0, &m);
		w->moved += m;
		if (err && !w->err)
			w->err = err;
	}
	return NULL;
}

struct prober {
	pthread_t t;
	int uffd;
	const char *want; /* the why of pgremap_probe(opts with uffd) */
	int bad;
};

static void *prober_fn(void *arg)
{
	struct prober *p = arg;
	struct pgremap_open_opts o = opts_of(p->uffd, 0);
	struct pgremap_probe pr;
	struct pgremap *h;
	int i;

	for (i = 0; i < 10; i++) {
		if (pgremap_probe(&pr, &o) || strcmp(pr.why, p->want))
			p->bad++;
		if (pgremap_open(&h, &o))
			p->bad++;
		else
			pgremap_close(h);
	}
	return NULL;
}

/* Several threads moving through one handle, probing meanwhile. */
static void threads(enum pgremap_backend kind)
{
	const size_t ps = mt_page(), per = TH_CHUNKS * TH_CHUNK;
	struct worker w[TH_THREADS];
	struct pgremap_probe want;
	struct pgremap_open_opts o;
	struct prober pr;
	struct env e;
	int i;

	ENV_OPEN_OR_SKIP(&e, kind);
	o = opts_of(e.uffd, 0);
	ck_assert_int_eq(pgremap_probe(&want, &o), 0);
	pr = (struct prober){ .uffd = e.uffd, .want = want.why };
	for (i = 0; i < TH_THREADS; i++) {
		w[i] = (struct worker){ .h = e.h };
		w[i].src = mt_map(per * ps, 0, false);
		w[i].dst = mt_map(per * ps, 0, false);
		mt_fill(w[i].src, per, (unsigned long)w[i].src);
		env_dst(&e, w[i].dst, per * ps);
	}
	ck_assert_int_eq(pthread_create(&pr.t, NULL, prober_fn, &pr), 0);
	for (i = 0; i < TH_THREADS; i++)
		ck_assert_int_eq(
			pthread_create(&w[i].t, NULL, worker_fn, &w[i]), 0);
	for (i = 0; i < TH_THREADS; i++)
		ck_assert_int_eq(pthread_join(w[i].t, NULL), 0);
	ck_assert_int_eq(pthread_join(pr.t, NULL), 0);
	for (i = 0; i < TH_THREADS; i++) {
		ck_assert_msg(!w[i].err, "thread %d: %s", i,
			      strerror(-w[i].err));
		ck_assert_uint_eq(w[i].moved, per * ps);
		mt_assert_pattern(w[i].dst, per, (unsigned long)w[i].src,
				  "thread's dst");
	}
	ck_assert_msg(!pr.bad, "%d probe/open failures in the prober", pr.bad);
	env_close(&e);
}
LIB_TEST(threads)

Suite *pgr_suite_lib(void)
{
	Suite *s = suite_create("lib");
	TCase *tc;

	tc = pgr_tcase("lib-select", PGR_TIMEOUT_LONG);
	tcase_add_test(tc, select_default_no_uffd);
	tcase_add_test(tc, select_with_uffd);
	tcase_add_test(tc, select_with_uffd_move_feature);
	tcase_add_test(tc, select_uffd_only);
	tcase_add_test(tc, select_dev_only);
	tcase_add_test(tc, select_bad_opts);
	tcase_add_test(tc, probe_fields);
	tcase_add_test(tc, probe_open_no_fd_leak);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("lib-load", PGR_TIMEOUT_LONG);
	tcase_add_test(tc, load_by_open);
	tcase_add_test(tc, load_not_for_uffd);
	tcase_add_test(tc, load_refused_unprivileged);
	tcase_add_test(tc, load_not_installed);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("lib-move", PGR_TIMEOUT_LONG);
	LIB_TEST_ADD(tc, move_all);
	LIB_TEST_ADD(tc, move_partial_enoent);
	LIB_TEST_ADD(tc, move_partial_eexist);
	LIB_TEST_ADD(tc, move_einval);
	LIB_TEST_ADD(tc, move_restart_capped);
	LIB_TEST_ADD(tc, move_restart_capped_hole);
	LIB_TEST_ADD(tc, move_stalls);
	LIB_TEST_ADD(tc, wake_by_move_wake);
	LIB_TEST_ADD(tc, wake_by_move);
	tcase_add_test(tc, wake_without_uffd);
	tcase_add_test(tc, move_eagain_mmap_changing_uffd);
	LIB_TEST_ADD(tc, threads);
	suite_add_tcase(s, tc);
	return s;
}
