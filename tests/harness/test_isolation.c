// SPDX-License-Identifier: GPL-2.0
/*
 * isolation suite: every move acts on the address space of the process
 * that calls it, whoever opened the file, and a process that dies or exits
 * in the middle of a move leaves nothing behind.
 *
 *  isolation-mm (16-page ranges, patterns checked word by word):
 *   - a forked process B asks to move process A's addresses: with nothing
 *     of its own there it gets ENOENT; with its own pages there it moves
 *     those. A's pages at src and dst stay as they were (same bytes, same
 *     page frames), and A's own move of them works afterwards, so a module
 *     that used the opener's mm would have moved them for B;
 *   - the fd passed with SCM_RIGHTS to a process B that never shared A's
 *     mm (a fresh exec of this binary, "--isolation-helper FD"): B moves
 *     its own pages at A's addresses, A's stay; B's copy still works once
 *     A has closed its own and exited, and it alone pins the module;
 *   - the fd inherited over fork(): pages still COW-shared with the parent
 *     are not exclusive (EBUSY, nothing changes in either process); after
 *     the child writes them (COW broken) its move succeeds and the parent
 *     keeps its own pages at src and an empty dst.
 *
 *  isolation-exit (PGREMAP_TEST_MOVE_MB, default 256 MiB, make check 1 GiB):
 *   a child process opens the device, populates its range and moves it
 *   back and forth between two mappings until it dies;
 *   - SIGKILL in the middle of a move. Before the kill, in the middle of
 *     the same move, unloading the module is refused: the child holds the
 *     only fd (test_load covers idle holders: this process, a dup, a
 *     child that sleeps). One child serves both: populating 1 GiB takes
 *     12-14 s under TCG, and a dying process's pages cannot be reused;
 *   - exit_group() from a sibling thread in the middle of a move.
 *   After the child is gone, AnonPages and PageTables in /proc/meminfo,
 *   and the free pages (MemFree plus the per-cpu free lists), return to
 *   the baseline taken before the fork, the module is not pinned any more
 *   and unloads (and loads again), and the kernel log has no splat.
 *
 * "In the middle of a move" is proven, not assumed. /proc/<pid>/syscall
 * cannot show it: the kernel reports the syscall of a blocked task only,
 * and a task that is moving pages is running (task_current_syscall()
 * returns -EAGAIN for TASK_RUNNING, the file then reads "running"). The
 * tests sample it anyway and print what it said. The proof is the child's
 * page tables and the kernel's own answer instead:
 *  - the test polls the child's /proc/<pid>/pagemap until, in one round,
 *    the destination page at a quarter of the range is present (moved)
 *    while the last source page is still present (not yet moved) and the
 *    move field is still the sentinel the child wrote before the call;
 *  - struct pgremap_move lives in a MAP_SHARED page, so after the child
 *    is dead the test reads the move field the module wrote on its way
 *    out: 0 < move < len means the fatal signal stopped the move part
 *    way. The sentinel (the kill landed outside the ioctl) or len (the
 *    move had finished) fail the test as a failed precondition, never a
 *    silent pass.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "mover.h"

/* Pages of the ranges of the isolation-mm tests. */
#define ISO_NP 16
/* Where the exec'd test maps: free in a fresh process and in a fork. */
#define ISO_X_ADDR 0x2a0000000000UL
#define ISO_Y_ADDR 0x2a0040000000UL
/* B's pattern is seeded by X + this, A's by X: they differ on every page. */
#define ISO_Q_OFF 0x5a5a000000UL
/* How long a peer may take to answer, ms. */
#define ISO_MSG_MS 60000
/* What the move field holds until the module writes it. */
#define ISO_SENTINEL MV_UNTOUCHED
/* Exit status of the exit_group() test's child. */
#define ISO_EXIT_CODE 42
/* Tries of the unload attempt inside one move. */
#define ISO_UNLOAD_TRIES 5

/*
 * Tolerances after a kill or exit, against the baseline taken before the
 * fork (the child's range is PGREMAP_TEST_MOVE_MB, 1 GiB in make check).
 * Counters are read after /proc/sys/vm/stat_refresh, which folds every
 * CPU's pending vmstat deltas into the global counters (drop_caches would
 * only drop page cache and slab, not anonymous memory); pages and page
 * tables are freed synchronously by the exit, before the parent can reap
 * the child, but page-table pages go back to the allocator after an RCU
 * grace period, so the test polls for up to ISO_SETTLE_MS. What remains
 * is noise from this process and the kernel's own caches: 0-160 kB
 * measured after a 1 GiB child on 6.1 and 6.12.
 */
#define ISO_ANON_TOL_KB 2048 /* 512 pages */
#define ISO_PT_TOL_KB 512 /* 128 page-table pages */
#define ISO_FREE_TOL_KB (8L << 10) /* slab, vmalloc'd stacks, RCU */
#define ISO_SETTLE_MS 5000

static const char *strerr(int err)
{
	return err ? strerror(err < 0 ? -err : err) : "success";
}

/* ---- processes and messages ---------------------------------------------- */

/* In a child (no Check there): note why in buf and return 1. */
#define ISO_CHECK(buf, cond, ...)                                \
	do {                                                     \
		if (!(cond)) {                                   \
			snprintf(buf, sizeof(buf), __VA_ARGS__); \
			return 1;                                \
		}                                                \
	} while (0)

enum iso_op { ISO_READY = 1, ISO_GO, ISO_RESULT, ISO_FD, ISO_AGAIN };

/* One message between the processes of a test (SOCK_SEQPACKET). */
struct iso_msg {
	int op;
	int err; /* errno of the last move, 0 if it worked */
	__s64 move; /* its move field */
	unsigned long x, y, len;
	char text[384]; /* the check that failed, "" if none */
};

/* A page shared with the children (MAP_SHARED survives fork). */
struct iso_shared {
	char msg[512]; /* the check a child failed, "" if none */
	/* The mover child of isolation-exit: its move, written by the module. */
	struct pgremap_move m;
	unsigned long len;
	int round; /* the move the child is in: 1, 2...; 0 before */
	int ready; /* the range is populated */
};

static struct iso_shared *iso_shared_new(void)
{
	struct iso_shared *sh;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_msg(sh != MAP_FAILED, "mmap shared: %s", strerror(errno));
	memset(sh, 0, sizeof(*sh));
	return sh;
}

/*
 * Fork a child that runs fn(arg) and exits with its value. The child dies
 * with the test process (PR_SET_PDEATHSIG), also across an exec.
 */
static pid_t iso_spawn(int (*fn)(void *), void *arg)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid)
		return pid;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(99);
	_exit(fn(arg) & 0xff);
}

static int iso_wait(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		ck_assert_msg(errno == EINTR, "waitpid %d: %s", (int)pid,
			      strerror(errno));
	return st;
}

/* Reap a child that must exit 0; why: what it reported otherwise. */
static void iso_reap_ok(pid_t pid, const char *who, const char *why)
{
	int st = iso_wait(pid);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "%s (pid %d) %s %d: %s", who, (int)pid,
		      WIFEXITED(st) ? "exited" : "killed by signal",
		      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
		      why && *why ? why : "(no reason given)");
}

static void iso_socketpair(int sv[2])
{
	ck_assert_msg(!socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
				  sv),
		      "socketpair: %s", strerror(errno));
}

/* Send msg, and fd with SCM_RIGHTS if fd >= 0: 0 or -errno. */
static int iso_send(int sock, const struct iso_msg *msg, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { (void *)msg, sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == sizeof(*msg) ? 0 : -EIO;
}

static int iso_send_op(int sock, int op)
{
	struct iso_msg msg = { .op = op };

	return iso_send(sock, &msg, -1);
}

/*
 * Receive one message within timeout_ms, and the fd it carries into *fd
 * (-1 if none) when fd is not NULL: 0, -ETIMEDOUT, -EPIPE (the peer is
 * gone) or -errno.
 */
static int iso_recv(int sock, struct iso_msg *msg, int *fd, int timeout_ms)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { msg, sizeof(*msg) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;
	int r;

	if (fd)
		*fd = -1;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (!n)
		return -EPIPE;
	if (n != sizeof(*msg))
		return -EIO;
	msg->text[sizeof(msg->text) - 1] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); fd && c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* In the test: receive a message of kind op that reports no failure. */
static void iso_expect(int sock, int op, struct iso_msg *msg, const char *who)
{
	int err = iso_recv(sock, msg, NULL, ISO_MSG_MS);

	ck_assert_msg(!err, "no message from %s: %s", who, strerr(err));
	ck_assert_msg(!msg->text[0], "%s: %s", who, msg->text);
	ck_assert_msg(msg->op == op, "%s sent message %d, want %d", who,
		      msg->op, op);
}

/* ---- memory, without Check (usable in children) -------------------------- */

/* Private anonymous RW range at `at` (MAP_FIXED_NOREPLACE), or NULL. */
static void *iso_map(void *at, size_t len)
{
	void *p = mmap(at, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS |
			       (at ? MAP_FIXED_NOREPLACE : 0),
		       -1, 0);

	if (p == MAP_FAILED || (at && p != at))
		return NULL;
	if (madvise(p, len, MADV_NOHUGEPAGE)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* PGREMAP_IOC_MOVE: 0 or the errno; *mv: the move field afterwards. */
static int iso_move(int fd, const void *dst, const void *src, size_t len,
		    __u64 mode, __s64 *mv)
{
	struct pgremap_move m = { .dst = (unsigned long)dst,
				  .src = (unsigned long)src,
				  .len = len,
				  .mode = mode,
				  .move = ISO_SENTINEL };
	int ret = ioctl(fd, PGREMAP_IOC_MOVE, &m);

	*mv = m.move;
	return ret ? errno : 0;
}

/* Pagemap entries of n pages at addr in pid (0: this process): 0/-errno. */
static int iso_pagemap(pid_t pid, const void *addr, size_t n, __u64 *out)
{
	char path[64];
	ssize_t got;
	int fd, err = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/pagemap");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = pread(fd, out, n * 8, (unsigned long)addr / mt_page() * 8);
	if (got != (ssize_t)(n * 8))
		err = got < 0 ? -errno : -EIO;
	close(fd);
	return err;
}

/* Present pages among n at addr of pid (0: self), or -errno. */
static long iso_present(pid_t pid, const void *addr, size_t n)
{
	__u64 e[ISO_NP];
	long count = 0;
	size_t i;
	int err;

	if (n > ISO_NP)
		return -EINVAL;
	err = iso_pagemap(pid, addr, n, e);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		count += !!(e[i] & PM_PRESENT);
	return count;
}

/*
 * True if n pages at p read as zero. Reading maps the zero page, which
 * is a populated destination for a later move: drop it again.
 */
static bool iso_reads_zero(void *p, size_t n)
{
	bool zero = mt_check_zero(p, n) < 0;

	madvise(p, n * mt_page(), MADV_DONTNEED);
	return zero;
}

#define ISO_PM_PAGE (PM_PRESENT | PM_PFN_MASK)

/*
 * A's memory after B's move: X still holds A's pattern on the same page
 * frames as before (entries in before[]), Y is empty and reads zero.
 * False with the reason in why.
 */
static bool iso_untouched(char *x, char *y, size_t n, const __u64 *before,
			  char *why, size_t wlen)
{
	__u64 now[ISO_NP];
	long bad, pres;
	size_t i;
	int err;

	err = iso_pagemap(0, x, n, now);
	if (err) {
		snprintf(why, wlen, "pagemap: %s", strerr(err));
		return false;
	}
	for (i = 0; i < n; i++) {
		if ((now[i] & ISO_PM_PAGE) == (before[i] & ISO_PM_PAGE))
			continue;
		snprintf(why, wlen,
			 "src page %zu: pagemap %#llx, was %#llx (moved or "
			 "replaced)",
			 i, (unsigned long long)now[i],
			 (unsigned long long)before[i]);
		return false;
	}
	bad = mt_check(x, n, (unsigned long)x);
	if (bad >= 0) {
		snprintf(why, wlen, "src page %ld lost its bytes", bad);
		return false;
	}
	pres = iso_present(0, y, n);
	if (pres) {
		snprintf(why, wlen, "dst: %ld pages present (%s)", pres,
			 pres < 0 ? strerr(pres) : "want none");
		return false;
	}
	if (!iso_reads_zero(y, n)) {
		snprintf(why, wlen, "dst does not read zero");
		return false;
	}
	return true;
}

static void iso_assert_untouched(char *x, char *y, const __u64 *before,
				 const char *what)
{
	char why[256];

	ck_assert_msg(iso_untouched(x, y, ISO_NP, before, why, sizeof(why)),
		      "%s: %s", what, why);
}

/* ---- isolation-mm: the small tests --------------------------------------- */

/* Process A's side of a test: the fd and A's ranges, B's socket end. */
struct iso_fx {
	int fd, sock;
	char *x, *y;
	size_t len;
	bool own; /* test 1: B maps its own pages at X */
};

/* A (the test): open the device, map X and Y (empty). */
static void iso_fx_setup(struct iso_fx *f)
{
	f->len = ISO_NP * mt_page();
	f->fd = pgr_open_dev(O_RDWR);
	pgr_assert_handshake(f->fd);
	f->x = mt_map(f->len, 0, false);
	f->y = mt_map(f->len, 0, false);
}

/* A moves its own pages X -> Y with its fd: it can, so B could have. */
static void iso_fx_own_move(struct iso_fx *f, const char *what)
{
	__s64 mv;
	int err;

	err = iso_move(f->fd, f->y, f->x, f->len, 0, &mv);
	MT_ASSERT_ERR(err, 0, what);
	ck_assert_msg(mv == (__s64)f->len, "%s: move %lld of %zu", what,
		      (long long)mv, f->len);
	mt_assert_pattern(f->y, ISO_NP, (unsigned long)f->x, what);
	ck_assert_msg(iso_present(0, f->x, ISO_NP) == 0, "%s: src still mapped",
		      what);
	close(f->fd);
}

/* Run a child body with its result sent as an ISO_RESULT message. */
static int iso_child_result(struct iso_fx *f,
			    int (*body)(struct iso_fx *, struct iso_msg *))
{
	struct iso_msg msg = { .op = ISO_RESULT };
	int ret = body(f, &msg);

	if (iso_send(f->sock, &msg, -1))
		return 3;
	return ret;
}

/* B, forked from A: drop A's X, maybe map its own there, then move. */
static int foreign_body(struct iso_fx *f, struct iso_msg *msg)
{
	unsigned long q = (unsigned long)f->x + ISO_Q_OFF;
	struct iso_msg go;
	long bad;
	__s64 mv;
	int err;

	ISO_CHECK(msg->text, !munmap(f->x, f->len), "B: munmap X: %s",
		  strerror(errno));
	if (f->own) {
		ISO_CHECK(msg->text, iso_map(f->x, f->len) == f->x,
			  "B: cannot map its own range at X %p: %s", f->x,
			  strerror(errno));
		mt_fill(f->x, ISO_NP, q);
	}
	ISO_CHECK(msg->text,
		  !iso_send_op(f->sock, ISO_READY) &&
			  !iso_recv(f->sock, &go, NULL, ISO_MSG_MS) &&
			  go.op == ISO_GO,
		  "B: no go from A");
	msg->err = iso_move(f->fd, f->y, f->x, f->len, 0, &msg->move);
	if (!f->own) {
		ISO_CHECK(msg->text, msg->err == ENOENT && msg->move == -ENOENT,
			  "B: move at A's addresses, nothing of B's at src: "
			  "%s, move %lld; want ENOENT, -ENOENT",
			  strerr(msg->err), (long long)msg->move);
		err = iso_move(f->fd, f->y, f->x, f->len, MV_HOLES, &mv);
		ISO_CHECK(msg->text, err == ENOENT && mv == -ENOENT,
			  "B: the same with ALLOW_SRC_HOLES: %s, move %lld; "
			  "want ENOENT (no VMA)",
			  strerr(err), (long long)mv);
		return 0;
	}
	ISO_CHECK(msg->text, !msg->err && msg->move == (__s64)f->len,
		  "B: move of its own pages at A's addresses: %s, move %lld "
		  "of %zu",
		  strerr(msg->err), (long long)msg->move, f->len);
	bad = mt_check(f->y, ISO_NP, q);
	ISO_CHECK(msg->text, bad < 0,
		  "B: dst page %ld does not hold B's bytes (A's? %s)", bad,
		  mt_check(f->y, ISO_NP, (unsigned long)f->x) < 0 ? "yes" :
								    "no");
	ISO_CHECK(msg->text, iso_present(0, f->x, ISO_NP) == 0,
		  "B: its src pages still mapped after the move");
	ISO_CHECK(msg->text, iso_reads_zero(f->x, ISO_NP),
		  "B: its src does not read zero after the move");
	return 0;
}

static int foreign_child(void *arg)
{
	return iso_child_result(arg, foreign_body);
}

/*
 * Test 1. B (forked, with A's fd) calls the move with A's addresses.
 * A writes its pattern only after the fork and after B has dropped X, so
 * A's pages were never shared with B and are exclusive to A: a module
 * that acted on the opener's mm (A's) would have moved them.
 */
static void foreign_addresses(bool own)
{
	struct iso_fx f = { .own = own };
	__u64 before[ISO_NP];
	struct iso_msg msg;
	int sv[2];
	pid_t pid;

	iso_fx_setup(&f);
	iso_socketpair(sv);
	f.sock = sv[1];
	pid = iso_spawn(foreign_child, &f);
	close(sv[1]);
	iso_expect(sv[0], ISO_READY, &msg, "B");
	mt_fill(f.x, ISO_NP, (unsigned long)f.x);
	mt_pagemap_range(f.x, ISO_NP, before);
	ck_assert_int_eq(iso_send_op(sv[0], ISO_GO), 0);
	iso_expect(sv[0], ISO_RESULT, &msg, "B");
	iso_reap_ok(pid, "B", NULL);
	pgr_diag("B (%s at X) moved A's addresses: %s, move %lld",
		 own ? "own pages" : "nothing", strerr(msg.err),
		 (long long)msg.move);
	iso_assert_untouched(f.x, f.y, before, "A after B's move");
	iso_fx_own_move(&f, "A's own move of the same range");
	close(sv[0]);
}

START_TEST(isolation_foreign_addresses_unmapped)
{
	foreign_addresses(false);
}
END_TEST

START_TEST(isolation_foreign_addresses_own_pages)
{
	foreign_addresses(true);
}
END_TEST

/* B, forked from A after A filled X: the pages are COW-shared. */
static int cow_body(struct iso_fx *f, struct iso_msg *msg)
{
	unsigned long q = (unsigned long)f->x + ISO_Q_OFF;
	__u64 e0, e1;
	struct iso_msg go;
	long bad;

	msg->err = iso_move(f->fd, f->y, f->x, f->len, 0, &msg->move);
	ISO_CHECK(msg->text, msg->err == EBUSY && msg->move == -EBUSY,
		  "B: move of pages COW-shared with A: %s, move %lld; want "
		  "EBUSY, -EBUSY",
		  strerr(msg->err), (long long)msg->move);
	bad = mt_check(f->x, ISO_NP, (unsigned long)f->x);
	ISO_CHECK(msg->text, bad < 0, "B: src page %ld changed after EBUSY",
		  bad);
	ISO_CHECK(msg->text, iso_present(0, f->y, ISO_NP) == 0,
		  "B: dst populated after EBUSY");
	ISO_CHECK(msg->text,
		  !iso_send_op(f->sock, ISO_READY) &&
			  !iso_recv(f->sock, &go, NULL, ISO_MSG_MS) &&
			  go.op == ISO_GO,
		  "B: no go from A");

	/* Writing breaks COW: B gets pages of its own. */
	ISO_CHECK(msg->text, !iso_pagemap(0, f->x, 1, &e0), "B: pagemap");
	mt_fill(f->x, ISO_NP, q);
	ISO_CHECK(msg->text, !iso_pagemap(0, f->x, 1, &e1), "B: pagemap");
	/* (Page frames read as 0 without CAP_SYS_ADMIN.) */
	ISO_CHECK(msg->text,
		  !(e0 & PM_PFN_MASK) ||
			  (e0 & PM_PFN_MASK) != (e1 & PM_PFN_MASK),
		  "B: a write kept the shared page frame %#llx",
		  (unsigned long long)(e1 & PM_PFN_MASK));
	msg->err = iso_move(f->fd, f->y, f->x, f->len, 0, &msg->move);
	ISO_CHECK(msg->text, !msg->err && msg->move == (__s64)f->len,
		  "B: move after breaking COW: %s, move %lld of %zu",
		  strerr(msg->err), (long long)msg->move, f->len);
	bad = mt_check(f->y, ISO_NP, q);
	ISO_CHECK(msg->text, bad < 0, "B: dst page %ld lacks B's bytes", bad);
	ISO_CHECK(msg->text,
		  iso_present(0, f->x, ISO_NP) == 0 &&
			  iso_reads_zero(f->x, ISO_NP),
		  "B: src not empty after the move");
	return 0;
}

static int cow_child(void *arg)
{
	return iso_child_result(arg, cow_body);
}

/* Test 3. The fd inherited over fork() moves only in the child's mm. */
START_TEST(isolation_fork_inherited_fd_cow)
{
	struct iso_fx f = {};
	__u64 before[ISO_NP];
	struct iso_msg msg;
	int sv[2];
	pid_t pid;

	iso_fx_setup(&f);
	mt_fill(f.x, ISO_NP, (unsigned long)f.x);
	mt_pagemap_range(f.x, ISO_NP, before);
	iso_socketpair(sv);
	f.sock = sv[1];
	pid = iso_spawn(cow_child, &f);
	close(sv[1]);
	iso_expect(sv[0], ISO_READY, &msg, "B (COW-shared pages)");
	iso_assert_untouched(f.x, f.y, before, "A after B's EBUSY");
	ck_assert_int_eq(iso_send_op(sv[0], ISO_GO), 0);
	iso_expect(sv[0], ISO_RESULT, &msg, "B (after breaking COW)");
	iso_reap_ok(pid, "B", NULL);
	iso_assert_untouched(f.x, f.y, before, "A after B's move");
	/* A's pages are A's alone now; a write makes them exclusive. */
	mt_fill(f.x, ISO_NP, (unsigned long)f.x);
	iso_fx_own_move(&f, "A's own move after the child's");
	close(sv[0]);
}
END_TEST

/* ---- isolation-mm: SCM_RIGHTS to a fresh process ------------------------- */

/* File descriptors of this process open on the device. */
static int iso_dev_fds(void)
{
	char target[256];
	struct dirent *de;
	int n = 0;
	ssize_t len;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		len = readlinkat(dirfd(d), de->d_name, target,
				 sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += !strcmp(target, PGR_DEV_PATH);
	}
	closedir(d);
	return n;
}

/* B, exec'd: receive A's fd, then move pages of its own at A's addresses. */
static int helper_first(int sock, int *fd, struct iso_msg *in,
			struct iso_msg *msg)
{
	struct pgremap_api api = { .api = PGREMAP_API };
	struct stat fst, dst;
	char *x, *y;
	size_t n;
	int err, fds;
	__s64 mv;
	long bad;

	fds = iso_dev_fds();
	ISO_CHECK(msg->text, fds == 0,
		  "B: holds %d fds on %s before receiving A's (%s)", fds,
		  PGR_DEV_PATH, fds < 0 ? strerr(fds) : "leaked by exec");
	err = iso_recv(sock, in, fd, ISO_MSG_MS);
	ISO_CHECK(msg->text, !err && in->op == ISO_FD && *fd >= 0,
		  "B: no fd from A: %s, op %d", strerr(err), in->op);
	ISO_CHECK(msg->text,
		  !fstat(*fd, &fst) && !stat(PGR_DEV_PATH, &dst) &&
			  S_ISCHR(fst.st_mode) && fst.st_rdev == dst.st_rdev,
		  "B: the fd received is not %s", PGR_DEV_PATH);
	ISO_CHECK(msg->text, !ioctl(*fd, PGREMAP_IOC_API, &api),
		  "B: PGREMAP_IOC_API on A's fd: %s", strerror(errno));
	x = (char *)in->x;
	y = (char *)in->y;
	n = in->len / mt_page();

	/* Nothing of B's at A's addresses (A's pages are there, in A). */
	err = iso_move(*fd, y, x, in->len, 0, &mv);
	ISO_CHECK(msg->text, err == ENOENT && mv == -ENOENT,
		  "B: move of A's addresses with nothing mapped: %s, move "
		  "%lld; want ENOENT",
		  strerr(err), (long long)mv);
	ISO_CHECK(msg->text,
		  iso_map(x, in->len) == x && iso_map(y, in->len) == y,
		  "B: cannot map at A's addresses %p/%p: %s", x, y,
		  strerror(errno));
	mt_fill(x, n, in->x + ISO_Q_OFF);
	msg->err = iso_move(*fd, y, x, in->len, 0, &msg->move);
	ISO_CHECK(msg->text, !msg->err && msg->move == (__s64)in->len,
		  "B: move of its own pages with A's fd: %s, move %lld",
		  strerr(msg->err), (long long)msg->move);
	bad = mt_check(y, n, in->x + ISO_Q_OFF);
	ISO_CHECK(msg->text, bad < 0, "B: dst page %ld lacks B's bytes", bad);
	ISO_CHECK(msg->text, iso_present(0, x, n) == 0 && iso_reads_zero(x, n),
		  "B: src not empty after the move");
	return 0;
}

/* B again, once A has closed its fd and exited: move the pages back. */
static int helper_again(int sock, int fd, const struct iso_msg *in,
			struct iso_msg *msg)
{
	size_t n = in->len / mt_page();
	char *x = (char *)in->x, *y = (char *)in->y;
	struct iso_msg again;
	long bad;
	int err;

	err = iso_recv(sock, &again, NULL, ISO_MSG_MS);
	ISO_CHECK(msg->text, !err && again.op == ISO_AGAIN,
		  "B: no word from the test: %s", strerr(err));
	msg->err = iso_move(fd, x, y, in->len, 0, &msg->move);
	ISO_CHECK(msg->text, !msg->err && msg->move == (__s64)in->len,
		  "B: move after A closed its fd and exited: %s, move %lld",
		  strerr(msg->err), (long long)msg->move);
	bad = mt_check(x, n, in->x + ISO_Q_OFF);
	ISO_CHECK(msg->text, bad < 0, "B: page %ld lacks B's bytes", bad);
	ISO_CHECK(msg->text, iso_present(0, y, n) == 0,
		  "B: src not empty after the move back");
	return 0;
}

/*
 * pgremap-tests --isolation-helper SOCKFD: process B of the SCM_RIGHTS
 * test, exec'd so that it never shared an mm with A. It answers each
 * step with an ISO_RESULT message on SOCKFD. No Check in here.
 */
int pgr_isolation_helper(int argc, char **argv)
{
	struct iso_msg in = {}, msg = { .op = ISO_RESULT };
	int sock, fd = -1, ret;

	if (argc != 1)
		return 2;
	sock = atoi(argv[0]);
	ret = helper_first(sock, &fd, &in, &msg);
	if (iso_send(sock, &msg, -1) || ret)
		return 1;
	memset(&msg, 0, sizeof(msg));
	msg.op = ISO_RESULT;
	ret = helper_again(sock, fd, &in, &msg);
	close(fd);
	if (iso_send(sock, &msg, -1) || ret)
		return 1;
	return 0;
}

static int exec_helper(void *arg)
{
	int sock = *(int *)arg;
	char num[16];

	if (fcntl(sock, F_SETFD, 0))
		return 126;
	snprintf(num, sizeof(num), "%d", sock);
	execl("/proc/self/exe", "pgremap-tests", PGR_ISOLATION_HELPER, num,
	      (char *)NULL);
	return 127;
}

struct owner {
	struct iso_shared *sh;
	int sock;
};

/* A: open the device, fill X, pass the fd to B, check its own memory. */
static int owner_child(void *arg)
{
	struct owner *o = arg;
	size_t len = ISO_NP * mt_page();
	__u64 before[ISO_NP];
	struct iso_msg msg = { .op = ISO_FD };
	char *x, *y, why[256];
	__s64 mv;
	int fd, err;

	fd = open(PGR_DEV_PATH, O_RDWR | O_CLOEXEC);
	ISO_CHECK(o->sh->msg, fd >= 0, "A: open: %s", strerror(errno));
	x = iso_map((void *)ISO_X_ADDR, len);
	y = iso_map((void *)ISO_Y_ADDR, len);
	ISO_CHECK(o->sh->msg, x && y, "A: map at %#lx/%#lx: %s", ISO_X_ADDR,
		  ISO_Y_ADDR, strerror(errno));
	mt_fill(x, ISO_NP, (unsigned long)x);
	ISO_CHECK(o->sh->msg, !iso_pagemap(0, x, ISO_NP, before), "A: pagemap");
	msg.x = (unsigned long)x;
	msg.y = (unsigned long)y;
	msg.len = len;
	err = iso_send(o->sock, &msg, fd);
	ISO_CHECK(o->sh->msg, !err, "A: sendmsg SCM_RIGHTS: %s", strerr(err));
	err = iso_recv(o->sock, &msg, NULL, ISO_MSG_MS);
	ISO_CHECK(o->sh->msg, !err, "A: no answer from B: %s", strerr(err));
	ISO_CHECK(o->sh->msg, !msg.text[0] && msg.op == ISO_RESULT, "%s",
		  msg.text);
	ISO_CHECK(o->sh->msg,
		  iso_untouched(x, y, ISO_NP, before, why, sizeof(why)),
		  "A after B's move with A's fd: %s", why);
	err = iso_move(fd, y, x, len, 0, &mv);
	ISO_CHECK(o->sh->msg, !err && mv == (__s64)len,
		  "A: its own move of the same range: %s, move %lld",
		  strerr(err), (long long)mv);
	ISO_CHECK(o->sh->msg, mt_check(y, ISO_NP, (unsigned long)x) < 0,
		  "A: its own move lost bytes");
	close(fd);
	return 0;
}

/* /sys/module/pgremap/refcnt, or -1. */
static long iso_refcnt(void)
{
	unsigned long n;

	return pgr_read_ulong(PGR_SYSFS_MODULE "/refcnt", &n) ? -1 : (long)n;
}

/* Wait up to 2 s for the module's reference count to be want. */
static long iso_refcnt_wait(long want)
{
	long t0 = mt_now_ms(), n;

	while ((n = iso_refcnt()) != want && mt_now_ms() - t0 < 2000)
		usleep(10000);
	return n;
}

/* Test 2. The fd passed over SCM_RIGHTS to a process that never shared A's mm. */
START_TEST(isolation_scm_rights_fresh_process)
{
	struct owner o = { .sh = iso_shared_new() };
	struct iso_msg msg;
	long ref0, ref;
	pid_t a, b;
	int sv[2];

	ref0 = iso_refcnt();
	ck_assert_msg(ref0 >= 0, "cannot read %s/refcnt", PGR_SYSFS_MODULE);
	iso_socketpair(sv);
	b = iso_spawn(exec_helper, &sv[1]);
	close(sv[1]);
	o.sock = sv[0];
	a = iso_spawn(owner_child, &o);
	iso_reap_ok(a, "A (opened the fd, passed it, exited)", o.sh->msg);
	ck_assert_msg(kill(a, 0) < 0 && errno == ESRCH, "A still exists");

	/* B's copy of the file alone pins the module now. */
	ref = iso_refcnt();
	pgr_diag("module refcnt %ld before, %ld with only B's copy open", ref0,
		 ref);
	ck_assert_msg(ref == ref0 + 1,
		      "refcnt %ld with B's copy of A's fd open, want %ld", ref,
		      ref0 + 1);
	ck_assert_int_eq(iso_send_op(sv[0], ISO_AGAIN), 0);
	iso_expect(sv[0], ISO_RESULT, &msg, "B (after A exited)");
	iso_reap_ok(b, "B", NULL);
	ref = iso_refcnt_wait(ref0);
	ck_assert_msg(ref == ref0, "refcnt %ld after B exited, want %ld", ref,
		      ref0);
	close(sv[0]);
}
END_TEST

/* ---- isolation-exit: a large move cut short ------------------------------ */

struct big {
	struct iso_shared *sh;
	size_t len;
	int exit_fd; /* read end: a sibling thread exit_group()s on a byte */
};

static void *big_exiter(void *arg)
{
	char c;
	ssize_t n;

	do
		n = read(*(int *)arg, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		_exit(ISO_EXIT_CODE); /* exit_group() */
	return NULL;
}

/*
 * The mover: map src and dst (a PROT_NONE page between them), populate
 * src, then move the range src -> dst, dst -> src, ... until it dies.
 * Moving back and forth, a kill that comes after one move has finished
 * still lands in the middle of the next. struct pgremap_move is in the
 * shared page: the module's answer stays readable after this process is
 * dead.
 */
static int big_child(void *arg)
{
	struct big *b = arg;
	struct iso_shared *sh = b->sh;
	size_t ps = mt_page(), n = b->len / ps, i;
	char *base, *src, *dst;
	pthread_t t;
	int fd, r, ret;

	fd = open(PGR_DEV_PATH, O_RDWR | O_CLOEXEC);
	ISO_CHECK(sh->msg, fd >= 0, "open: %s", strerror(errno));
	base = iso_map(NULL, 2 * b->len + ps);
	ISO_CHECK(sh->msg, base, "mmap %zu MiB: %s", 2 * b->len >> 20,
		  strerror(errno));
	ISO_CHECK(sh->msg, !mprotect(base + b->len, ps, PROT_NONE),
		  "mprotect: %s", strerror(errno));
	src = base;
	dst = base + b->len + ps;
	if (madvise(src, b->len, MADV_POPULATE_WRITE))
		for (i = 0; i < n; i++)
			src[i * ps] = 1;
	if (b->exit_fd >= 0)
		ISO_CHECK(sh->msg,
			  !pthread_create(&t, NULL, big_exiter, &b->exit_fd),
			  "pthread_create failed");
	sh->len = b->len;
	__atomic_store_n(&sh->ready, 1, __ATOMIC_SEQ_CST);
	for (r = 1;; r++) {
		sh->m.src = (unsigned long)(r & 1 ? src : dst);
		sh->m.dst = (unsigned long)(r & 1 ? dst : src);
		sh->m.len = b->len;
		sh->m.mode = 0;
		sh->m.move = ISO_SENTINEL;
		__atomic_store_n(&sh->round, r, __ATOMIC_SEQ_CST);
		ret = ioctl(fd, PGREMAP_IOC_MOVE, &sh->m);
		ISO_CHECK(sh->msg, !ret && sh->m.move == (__s64)b->len,
			  "round %d: %s, move %lld of %zu", r,
			  ret ? strerror(errno) : "success",
			  (long long)sh->m.move, b->len);
	}
}

/* What /proc/<pid>/syscall said while the test waited. */
struct mid {
	int round; /* the round seen in the middle of its move */
	long running, in_ioctl, other;
	char other_text[48];
	long waited_ms;
};

static void mid_sample_syscall(pid_t pid, struct mid *md)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (pgr_read_file(path, buf, sizeof(buf)) <= 0)
		return;
	if (!strncmp(buf, "running", 7)) {
		md->running++;
	} else if (isdigit((unsigned char)buf[0]) &&
		   strtol(buf, NULL, 10) == SYS_ioctl) {
		md->in_ioctl++;
	} else {
		md->other++;
		snprintf(md->other_text, sizeof(md->other_text), "%.40s", buf);
	}
}

static __s64 big_move_field(struct iso_shared *sh)
{
	return __atomic_load_n(&sh->m.move, __ATOMIC_SEQ_CST);
}

/*
 * True if, in one round, the child's destination page at a quarter of
 * the range is present and its last source page still is, while the
 * move field is still the sentinel: the ioctl is between the two.
 */
static bool big_in_middle(pid_t pid, struct iso_shared *sh, int *round)
{
	size_t ps = mt_page(), n = sh->len / ps;
	int r = __atomic_load_n(&sh->round, __ATOMIC_SEQ_CST);
	char *s = (char *)__atomic_load_n(&sh->m.src, __ATOMIC_SEQ_CST);
	char *d = (char *)__atomic_load_n(&sh->m.dst, __ATOMIC_SEQ_CST);

	if (r < 1 || big_move_field(sh) != ISO_SENTINEL)
		return false;
	if (iso_present(pid, d + n / 4 * ps, 1) != 1 ||
	    iso_present(pid, s + (n - 1) * ps, 1) != 1)
		return false;
	*round = r;
	return __atomic_load_n(&sh->round, __ATOMIC_SEQ_CST) == r &&
	       big_move_field(sh) == ISO_SENTINEL;
}

/* Wait for the child to be populated: the time it took, ms. */
static long big_wait_ready(pid_t pid, struct iso_shared *sh)
{
	long t0 = mt_now_ms();
	int st;

	while (!__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST)) {
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0,
			      "mover child ended while populating: %s",
			      sh->msg[0] ? sh->msg : "(no reason)");
		ck_assert_msg(mt_now_ms() - t0 < 90000,
			      "mover child not populated after 90 s");
		usleep(10000);
	}
	return mt_now_ms() - t0;
}

static void big_wait_middle(pid_t pid, struct iso_shared *sh, struct mid *md)
{
	const struct timespec tick = { 0, 1000 * 1000 };
	long t0 = mt_now_ms();
	int st;

	memset(md, 0, sizeof(*md));
	while (!big_in_middle(pid, sh, &md->round)) {
		mid_sample_syscall(pid, md);
		ck_assert_msg(waitpid(pid, &st, WNOHANG) == 0,
			      "mover child ended before a move was seen in "
			      "progress: %s",
			      sh->msg[0] ? sh->msg : "(no reason)");
		ck_assert_msg(mt_now_ms() - t0 < 60000,
			      "no move seen in progress after 60 s (round %d)",
			      __atomic_load_n(&sh->round, __ATOMIC_SEQ_CST));
		nanosleep(&tick, NULL);
	}
	md->waited_ms = mt_now_ms() - t0;
}

static void mid_diag(const struct mid *md)
{
	pgr_diag("in the middle of round %d after %ld ms; /proc/<pid>/syscall "
		 "read %ld times: %ld 'running', %ld in ioctl (16), %ld "
		 "other%s%s",
		 md->round, md->waited_ms,
		 md->running + md->in_ioctl + md->other, md->running,
		 md->in_ioctl, md->other, md->other ? ", last: " : "",
		 md->other ? md->other_text : "");
}

/*
 * The dead child's move field, written by the module when the fatal
 * signal stopped the move: 0 < move < len, page aligned.
 */
static void big_assert_cut(struct iso_shared *sh, const struct mid *md,
			   const char *how)
{
	__s64 mv = big_move_field(sh);
	int r = __atomic_load_n(&sh->round, __ATOMIC_SEQ_CST);

	ck_assert_msg(mv != ISO_SENTINEL,
		      "precondition failed: %s landed outside the ioctl (round "
		      "%d, move field never written)",
		      how, r);
	ck_assert_msg(mv != (__s64)sh->len,
		      "precondition failed: the move of round %d had finished "
		      "when %s landed (move %lld = len)",
		      r, how, (long long)mv);
	ck_assert_msg(mv > 0 && mv < (__s64)sh->len && !(mv % mt_page()),
		      "%s in round %d: move field %lld, want 0 < move < %lu, "
		      "page aligned",
		      how, r, (long long)mv, sh->len);
	pgr_diag("%s stopped round %d (seen in progress in round %d) after "
		 "%lld of %lu bytes (%lld %%)",
		 how, r, md->round, (long long)mv, sh->len,
		 (long long)(mv * 100 / (__s64)sh->len));
}

/* ---- /proc/meminfo ------------------------------------------------------- */

/* kB: AnonPages, PageTables; free: MemFree plus the per-cpu free lists. */
struct iso_mem {
	long anon, pt, free;
};

/* Sum of the numbers after key on every line starting with it, or -1. */
static long iso_sum_lines(const char *buf, const char *key)
{
	size_t klen = strlen(key);
	const char *p = buf;
	bool found = false;
	long sum = 0;

	while (p && *p) {
		p += strspn(p, " \t");
		if (!strncmp(p, key, klen)) {
			sum += strtol(p + klen, NULL, 10);
			found = true;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return found ? sum : -1;
}

static void iso_mem_read(struct iso_mem *m)
{
	static char buf[1 << 16];
	long pages, pcp;
	int err;

	/* Fold every CPU's vmstat deltas into the global counters. */
	err = mt_write_file("/proc/sys/vm/stat_refresh", "1");
	ck_assert_msg(!err, "write /proc/sys/vm/stat_refresh: %s", strerr(err));
	ck_assert_int_gt(pgr_read_file("/proc/meminfo", buf, sizeof(buf)), 0);
	m->anon = iso_sum_lines(buf, "AnonPages:");
	m->pt = iso_sum_lines(buf, "PageTables:");
	ck_assert_msg(m->anon >= 0 && m->pt >= 0,
		      "no AnonPages/PageTables in /proc/meminfo");
	/* Freed pages may sit on per-cpu lists, outside MemFree. */
	ck_assert_int_gt(pgr_read_file("/proc/zoneinfo", buf, sizeof(buf)), 0);
	pages = iso_sum_lines(buf, "pages free");
	pcp = iso_sum_lines(buf, "count:");
	ck_assert_msg(pages >= 0 && pcp >= 0,
		      "no 'pages free'/'count:' in /proc/zoneinfo");
	m->free = (pages + pcp) * (long)(mt_page() / 1024);
}

static bool iso_mem_back(const struct iso_mem *b, const struct iso_mem *m)
{
	return labs(m->anon - b->anon) <= ISO_ANON_TOL_KB &&
	       labs(m->pt - b->pt) <= ISO_PT_TOL_KB &&
	       m->free >= b->free - ISO_FREE_TOL_KB;
}

/* Poll until the counters are back at the baseline, then assert them. */
static void iso_mem_settle(const struct iso_mem *b, const struct iso_mem *mid)
{
	long t0 = mt_now_ms();
	struct iso_mem m;

	for (;;) {
		iso_mem_read(&m);
		if (iso_mem_back(b, &m) || mt_now_ms() - t0 >= ISO_SETTLE_MS)
			break;
		usleep(100 * 1000);
	}
	pgr_diag("kB before fork / during / after (%ld ms): AnonPages %ld / "
		 "%ld / %ld, PageTables %ld / %ld / %ld, free+pcp %ld / %ld / "
		 "%ld",
		 mt_now_ms() - t0, b->anon, mid->anon, m.anon, b->pt, mid->pt,
		 m.pt, b->free, mid->free, m.free);
	ck_assert_msg(labs(m.anon - b->anon) <= ISO_ANON_TOL_KB,
		      "AnonPages %ld kB, baseline %ld kB (tolerance %d kB)",
		      m.anon, b->anon, ISO_ANON_TOL_KB);
	ck_assert_msg(labs(m.pt - b->pt) <= ISO_PT_TOL_KB,
		      "PageTables %ld kB, baseline %ld kB (tolerance %d kB)",
		      m.pt, b->pt, ISO_PT_TOL_KB);
	ck_assert_msg(m.free >= b->free - ISO_FREE_TOL_KB,
		      "free pages %ld kB, baseline %ld kB: %ld kB not "
		      "returned (tolerance %ld kB)",
		      m.free, b->free, b->free - m.free, ISO_FREE_TOL_KB);
}

/* ---- isolation-exit: the tests ------------------------------------------- */

/* No fd left: the module unloads, then comes back and answers. */
static void iso_unload_reload(const char *when)
{
	long ref = iso_refcnt_wait(0);
	int err, fd;

	ck_assert_msg(ref == 0, "%s: module refcnt %ld, want 0", when, ref);
	err = pgr_mod_unload();
	ck_assert_msg(!err, "%s: unload: %s", when, strerr(err));
	ck_assert_msg(!pgr_mod_loaded(), "%s: module still loaded", when);
	ck_assert_msg(pgr_wait_path(PGR_DEV_PATH, false, 3000),
		      "%s: %s still there after unload", when, PGR_DEV_PATH);
	err = pgr_mod_restore();
	ck_assert_msg(!err, "%s: reload: %s", when, strerr(err));
	fd = pgr_open_dev(O_RDWR);
	pgr_assert_handshake(fd);
	close(fd);
}

/* The kernel log of the test: no splat, no negative vmstat counter. */
static void iso_log_clean(int kfd)
{
	struct pgr_log log;

	pgr_kmsg_collect(kfd, &log);
	pgr_log_assert_no_splat(&log);
	PGR_LOG_ASSERT(&log, pgr_log_find_prefix(&log, 0, "vmstat_refresh") < 0,
		       "a vmstat counter went negative");
	pgr_log_free(&log);
}

static size_t big_len(void)
{
	unsigned long mb = mt_env_ulong("PGREMAP_TEST_MOVE_MB", 256);

	return (mb < 16 ? 16 : mb) << 20;
}

/* What an unload attempt in the middle of the child's move found. */
struct unload_try {
	int err, tries; /* the attempt's answer; attempts made */
	bool loaded, node; /* the module and its node afterwards */
	long refcnt; /* the module's count afterwards */
};

/*
 * Try to unload while the child, the only holder of an fd, is in the
 * middle of a move. The attempt counts if it fell inside one move: the
 * move seen in progress before it (big_wait_middle()) is still running
 * after it (same round, move field still the sentinel). Returns with that
 * move still running.
 */
static void big_unload_attempt(pid_t pid, struct iso_shared *sh, struct mid *md,
			       struct unload_try *u)
{
	for (u->tries = 1;; u->tries++) {
		u->err = pgr_mod_unload();
		u->loaded = pgr_mod_loaded();
		u->node = pgr_path_exists(PGR_DEV_PATH);
		u->refcnt = iso_refcnt();
		if (__atomic_load_n(&sh->round, __ATOMIC_SEQ_CST) ==
			    md->round &&
		    big_move_field(sh) == ISO_SENTINEL)
			return;
		ck_assert_msg(u->tries < ISO_UNLOAD_TRIES,
			      "precondition failed: no unload attempt fell "
			      "inside one move in %d tries",
			      u->tries);
		big_wait_middle(pid, sh, md);
	}
}

static void big_assert_refused(const struct unload_try *u)
{
	pgr_diag("unload with the child mid-move (attempt %d): %s; module %s, "
		 "node %s, refcnt %ld",
		 u->tries, strerr(u->err), u->loaded ? "loaded" : "GONE",
		 u->node ? "present" : "GONE", u->refcnt);
	ck_assert_msg(u->err == -EAGAIN || u->err == -EBUSY,
		      "unload while the only holder was moving: %s, want "
		      "EAGAIN/EBUSY",
		      strerr(u->err));
	ck_assert_msg(u->loaded && u->node,
		      "module or %s gone after a refused unload", PGR_DEV_PATH);
	ck_assert_msg(u->refcnt == 1,
		      "refcnt %ld with the child's fd open, want 1", u->refcnt);
}

/*
 * Tests 4 and 5: a fatal signal in the middle of the move, by SIGKILL
 * from the test after a refused unload (sibling false), or by exit_group()
 * from a sibling thread of the mover (sibling true).
 */
static void big_cut(bool sibling)
{
	const char *how = sibling ? "exit_group() from a sibling thread" :
				    "SIGKILL";
	struct big b = { .sh = iso_shared_new(),
			 .len = big_len(),
			 .exit_fd = -1 };
	int kfd, st, p[2] = { -1, -1 };
	struct iso_mem base, during;
	struct unload_try u = {};
	long t_ready, t0;
	struct mid md;
	pid_t pid;

	kfd = pgr_kmsg_mark();
	ck_assert_msg(iso_refcnt_wait(0) == 0, "module refcnt %ld before",
		      iso_refcnt());
	if (sibling) {
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		b.exit_fd = p[0];
	}
	iso_mem_read(&base);
	pid = iso_spawn(big_child, &b);
	t_ready = big_wait_ready(pid, b.sh);
	iso_mem_read(&during);
	big_wait_middle(pid, b.sh, &md);
	if (!sibling)
		big_unload_attempt(pid, b.sh, &md, &u);
	t0 = mt_now_ms();
	if (sibling)
		ck_assert_int_eq(write(p[1], "x", 1), 1);
	else
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
	st = iso_wait(pid);
	pgr_diag("%zu MiB populated in %ld ms; child gone %ld ms after the %s",
		 b.len >> 20, t_ready, mt_now_ms() - t0, how);
	mid_diag(&md);
	if (!sibling)
		big_assert_refused(&u);
	if (sibling)
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == ISO_EXIT_CODE,
			      "child status %#x, want exit %d (%s)", st,
			      ISO_EXIT_CODE, b.sh->msg);
	else
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			      "child status %#x, want SIGKILL (%s)", st,
			      b.sh->msg);
	big_assert_cut(b.sh, &md, how);
	ck_assert_msg(during.anon - base.anon >= (long)(b.len >> 10) * 9 / 10,
		      "AnonPages grew by %ld kB only with %zu kB populated",
		      during.anon - base.anon, b.len >> 10);
	iso_mem_settle(&base, &during);
	iso_unload_reload(sibling ? "after the exit" : "after the kill");
	iso_log_clean(kfd);
	if (sibling) {
		close(p[0]);
		close(p[1]);
	}
}

/* Tests 4 and 6. */
START_TEST(isolation_unload_refused_then_sigkill_mid_move)
{
	big_cut(false);
}
END_TEST

/* Test 5. */
START_TEST(isolation_exit_group_mid_move)
{
	big_cut(true);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

Suite *pgr_suite_isolation(void)
{
	Suite *s = suite_create("isolation");
	TCase *tc;

	tc = pgr_tcase("isolation-mm", PGR_TIMEOUT_SHORT);
	tcase_add_test(tc, isolation_foreign_addresses_unmapped);
	tcase_add_test(tc, isolation_foreign_addresses_own_pages);
	tcase_add_test(tc, isolation_scm_rights_fresh_process);
	tcase_add_test(tc, isolation_fork_inherited_fd_cow);
	suite_add_tcase(s, tc);

	/* These unload the module: put it back after each, as test_load does. */
	tc = pgr_tcase("isolation-exit", PGR_TIMEOUT_LONG);
	tcase_add_checked_fixture(tc, NULL, pgr_fixture_module_ready);
	tcase_add_test(tc, isolation_unload_refused_then_sigkill_mid_move);
	tcase_add_test(tc, isolation_exit_group_mid_move);
	suite_add_tcase(s, tc);

	return s;
}
