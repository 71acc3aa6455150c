// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-move-app: an ordinary userfaultfd program written against the
 * in-tree UFFDIO_MOVE UAPI of Linux 6.8+ (the constants are defined here
 * as a 6.8+ <linux/userfaultfd.h> would; Debian 12's is 6.1's). It knows
 * nothing of pgremap.
 *
 * It moves pages through UFFDIO_MOVE in the situations that matter (present
 * pages, holes with and without ALLOW_SRC_HOLES, EEXIST, short moves, a
 * thread blocked in a fault on dst woken by the move or, with DONTWAKE,
 * not) and prints a transcript of what the kernel answered: return values,
 * errnos, move fields, residency and checksums of the pages, never
 * addresses. The transcript of a 6.8+ kernel (in-tree UFFDIO_MOVE) is the
 * reference; under LD_PRELOAD=libpgremap-uffd.so on 6.1 it must be the
 * same, line for line.
 *
 * Each step also checks its answer against the documented UFFDIO_MOVE
 * behaviour; a mismatch is reported on stderr.
 *
 * Exit: 0 every step as expected, 1 a mismatch, 2 setup failure, 3 the
 * kernel refused UFFD_FEATURE_MOVE (no UFFDIO_MOVE here: the transcript
 * then says what UFFDIO_MOVE answers on such a kernel).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* From Linux 6.8's <linux/userfaultfd.h>. */
#ifndef _UFFDIO_MOVE
#define _UFFDIO_MOVE (0x05)
#endif
#ifndef UFFD_FEATURE_MOVE
#define UFFD_FEATURE_MOVE (1 << 16)
#endif
#ifndef UFFDIO_MOVE
struct uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
#define UFFDIO_MOVE_MODE_DONTWAKE ((__u64)1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES ((__u64)1 << 1)
	__u64 mode;
	__s64 move;
};
#define UFFDIO_MOVE _IOWR(UFFDIO, _UFFDIO_MOVE, struct uffdio_move)
#endif

#define UNTOUCHED ((__s64)0x5a5a5a5a5a5a5a5aLL)
#define NPAGES 64
#define BIG_PAGES 256

static size_t pg;
static int failed;

/* Rotating result buffers, so that one printf() can show several. */
static char *buf_next(void)
{
	static char bufs[8][BIG_PAGES + 1];
	static unsigned int n;

	return bufs[n++ % 8];
}

#define EXPECT(cond, ...)                                             \
	do {                                                          \
		if (!(cond)) {                                        \
			fprintf(stderr, "MISMATCH %s:%d: ", __FILE__, \
				__LINE__);                            \
			fprintf(stderr, __VA_ARGS__);                 \
			fprintf(stderr, "\n");                        \
			failed = 1;                                   \
		}                                                     \
	} while (0)

static void die(const char *what)
{
	fprintf(stderr, "uffd-move-app: %s: %s\n", what, strerror(errno));
	exit(2);
}

static const char *ename(int e)
{
	static const struct {
		int e;
		const char *name;
	} names[] = {
		{ 0, "0" },	      { EAGAIN, "EAGAIN" },
		{ EBUSY, "EBUSY" },   { EEXIST, "EEXIST" },
		{ EFAULT, "EFAULT" }, { EINVAL, "EINVAL" },
		{ ENOENT, "ENOENT" }, { ENOMEM, "ENOMEM" },
		{ ENOTTY, "ENOTTY" }, { EPERM, "EPERM" },
		{ ESRCH, "ESRCH" },   { EBADF, "EBADF" },
	};
	static char buf[32];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].e == e)
			return names[i].name;
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

/* The move field: bytes as pages ("3p"), -errno by name, or untouched. */
static const char *mname(__s64 m)
{
	char *buf = buf_next();
	const size_t len = BIG_PAGES + 1;

	if (m == UNTOUCHED)
		return "untouched";
	if (m < 0)
		snprintf(buf, len, "-%s", ename((int)-m));
	else if (m % pg == 0)
		snprintf(buf, len, "%lldp", (long long)(m / pg));
	else
		snprintf(buf, len, "%lld", (long long)m);
	return buf;
}

static char *map(size_t npages)
{
	char *p = mmap(NULL, npages * pg, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	/* THPs would change nothing in the answers, only add variance. */
	madvise(p, npages * pg, MADV_NOHUGEPAGE);
	return p;
}

/* Page i gets words derived from tag and i. */
static void fill(char *p, size_t i, unsigned int tag)
{
	uint64_t *w = (uint64_t *)(p + i * pg);
	size_t j;

	for (j = 0; j < pg / 8; j++)
		w[j] = ((uint64_t)tag << 40) ^ ((uint64_t)i << 20) ^ j;
}

static bool holds(const char *p, size_t i, unsigned int tag)
{
	const uint64_t *w = (const uint64_t *)(p + i * pg);
	size_t j;

	for (j = 0; j < pg / 8; j++)
		if (w[j] != (((uint64_t)tag << 40) ^ ((uint64_t)i << 20) ^ j))
			return false;
	return true;
}

/* FNV-1a of n pages, as 16 hex digits. */
static const char *sum(const char *p, size_t n)
{
	char *buf = buf_next();
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n * pg; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(buf, 24, "%016llx", (unsigned long long)h);
	return buf;
}

/* mincore: '1' per resident page, without touching (faulting) them. */
static const char *resident(const void *p, size_t n)
{
	char *buf = buf_next();
	unsigned char vec[BIG_PAGES];
	size_t i;

	if (mincore((void *)p, n * pg, vec))
		die("mincore");
	for (i = 0; i < n; i++)
		buf[i] = (vec[i] & 1) ? '1' : '0';
	buf[n] = '\0';
	return buf;
}

static int new_uffd(void)
{
	int fd = syscall(SYS_userfaultfd,
			 O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);

	/* UFFD_USER_MODE_ONLY is 5.11+: a portable program retries. */
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		die("userfaultfd");
	return fd;
}

/* One UFFDIO_MOVE: the errno (0: success), *move = the move field. */
static int move(int fd, void *dst, void *src, size_t len, __u64 mode, __s64 *mv)
{
	struct uffdio_move m = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)src,
		.len = len,
		.mode = mode,
		.move = UNTOUCHED,
	};
	int ret = ioctl(fd, UFFDIO_MOVE, &m);

	*mv = m.move;
	if (ret && ret != -1) {
		fprintf(stderr, "UFFDIO_MOVE returned %d\n", ret);
		exit(2);
	}
	return ret ? errno : 0;
}

/* ---- a thread faulting on dst ------------------------------------------ */

struct faulter {
	pthread_t t;
	volatile uint64_t *addr;
	uint64_t value;
	int done; /* atomic */
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
	if (pthread_create(&f->t, NULL, faulter_fn, f))
		die("pthread_create");
}

/* Wait up to ms for the faulter to finish: true if it did. */
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

/* Wait for the pagefault message; returns its page index in base. */
static long read_fault(int uffd, const char *base)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	if (poll(&pfd, 1, 20000) != 1)
		die("poll for the fault (20 s)");
	if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
		die("read uffd_msg");
	if (msg.event != UFFD_EVENT_PAGEFAULT) {
		fprintf(stderr, "unexpected uffd event %u\n", msg.event);
		exit(2);
	}
	return ((long)msg.arg.pagefault.address - (long)(uintptr_t)base) /
	       (long)pg;
}

/* ---- the steps ---------------------------------------------------------- */

/* The kernel refused UFFD_FEATURE_MOVE: say what UFFDIO_MOVE answers. */
static int no_move(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = new_uffd(), err;
	char *a = map(1), *d = map(1);
	__s64 mv;

	if (ioctl(fd, UFFDIO_API, &api))
		die("UFFDIO_API (features 0)");
	printf("api(0): ret=0 move_feature=%d\n",
	       !!(api.features & UFFD_FEATURE_MOVE));
	fill(a, 0, 1);
	err = move(fd, d, a, pg, 0, &mv);
	printf("move without UFFD_FEATURE_MOVE: errno=%s move=%s\n", ename(err),
	       mname(mv));
	return 3;
}

int main(void)
{
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_MOVE };
	struct uffdio_register reg;
	struct uffdio_range range;
	struct faulter f;
	int uffd, fd2, err, p[2], status;
	char *a, *d, *big_a, *big_d, *gone;
	bool woke;
	pid_t child;
	__s64 mv;
	long at;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	pg = sysconf(_SC_PAGESIZE);

	/* UFFDIO_API asking for UFFD_FEATURE_MOVE. */
	uffd = new_uffd();
	if (ioctl(uffd, UFFDIO_API, &api)) {
		printf("api(MOVE): errno=%s\n", ename(errno));
		return no_move();
	}
	printf("api(MOVE): ret=0 move_feature=%d\n",
	       !!(api.features & UFFD_FEATURE_MOVE));
	EXPECT(api.features & UFFD_FEATURE_MOVE, "UFFD_FEATURE_MOVE");

	/* Features 0: the answer lists every feature, MOVE included. */
	fd2 = new_uffd();
	api.api = UFFD_API;
	api.features = 0;
	err = ioctl(fd2, UFFDIO_API, &api) ? errno : 0;
	printf("api(0): errno=%s move_feature=%d\n", ename(err),
	       !!(api.features & UFFD_FEATURE_MOVE));
	EXPECT(!err && (api.features & UFFD_FEATURE_MOVE), "api(0)");
	close(fd2);

	a = map(NPAGES);
	d = map(NPAGES);
	memset(&reg, 0, sizeof(reg));
	reg.range.start = (uintptr_t)d;
	reg.range.len = NPAGES * pg;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	err = ioctl(uffd, UFFDIO_REGISTER, &reg) ? errno : 0;
	printf("register dst MISSING: errno=%s move_ioctl=%d wake_copy_zeropage=%d\n",
	       ename(err), !!(reg.ioctls & (1ULL << _UFFDIO_MOVE)),
	       (reg.ioctls & 0x1c) == 0x1c);
	EXPECT(!err && (reg.ioctls & (1ULL << _UFFDIO_MOVE)), "register");
	if (err)
		return 2;

	/* Present pages. */
	for (i = 0; i < 8; i++)
		fill(a, i, 1);
	err = move(uffd, d, a, 8 * pg, 0, &mv);
	printf("present 8p: errno=%s move=%s src=%s ", ename(err), mname(mv),
	       resident(a, 8));
	printf("dst=%s sum=%s\n", resident(d, 8), sum(d, 8));
	EXPECT(!err && mv == (__s64)(8 * pg), "present");
	for (i = 0; i < 8; i++)
		EXPECT(holds(d, i, 1), "present: dst page %zu", i);

	/* Holes allowed: even pages present, odd ones holes. */
	for (i = 8; i < 16; i += 2)
		fill(a, i, 2);
	err = move(uffd, d + 8 * pg, a + 8 * pg, 8 * pg,
		   UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES, &mv);
	printf("holes, ALLOW_SRC_HOLES, 8p: errno=%s move=%s src=%s ",
	       ename(err), mname(mv), resident(a + 8 * pg, 8));
	printf("dst=%s\n", resident(d + 8 * pg, 8));
	EXPECT(!err && mv == (__s64)(8 * pg), "holes allowed");
	for (i = 8; i < 16; i += 2)
		EXPECT(holds(d, i, 2), "holes: dst page %zu", i);

	/* A hole first, without the flag: nothing moves. */
	fill(a, 17, 3);
	err = move(uffd, d + 16 * pg, a + 16 * pg, 2 * pg, 0, &mv);
	printf("hole first: errno=%s move=%s src=%s dst=%s\n", ename(err),
	       mname(mv), resident(a + 16 * pg, 2), resident(d + 16 * pg, 2));
	EXPECT(err == ENOENT && mv == -ENOENT, "hole first");

	/* A hole third: a short move, then the error, then with the flag. */
	fill(a, 20, 4);
	fill(a, 21, 4);
	fill(a, 23, 4);
	err = move(uffd, d + 20 * pg, a + 20 * pg, 4 * pg, 0, &mv);
	printf("hole third: errno=%s move=%s src=%s dst=%s\n", ename(err),
	       mname(mv), resident(a + 20 * pg, 4), resident(d + 20 * pg, 4));
	EXPECT(err == EAGAIN && mv == (__s64)(2 * pg), "hole third");
	err = move(uffd, d + 22 * pg, a + 22 * pg, 2 * pg, 0, &mv);
	printf("hole third, resumed: errno=%s move=%s\n", ename(err),
	       mname(mv));
	EXPECT(err == ENOENT && mv == -ENOENT, "hole third resumed");
	err = move(uffd, d + 22 * pg, a + 22 * pg, 2 * pg,
		   UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES, &mv);
	printf("hole third, resumed with ALLOW_SRC_HOLES: errno=%s move=%s dst=%s\n",
	       ename(err), mname(mv), resident(d + 20 * pg, 4));
	EXPECT(!err && mv == (__s64)(2 * pg), "hole third with flag");
	EXPECT(holds(d, 20, 4) && holds(d, 21, 4) && holds(d, 23, 4),
	       "hole third: contents");

	/* dst populated: EEXIST, the source stays. */
	fill(a, 24, 5);
	err = move(uffd, d, a + 24 * pg, pg, 0, &mv);
	printf("dst populated: errno=%s move=%s src=%s\n", ename(err),
	       mname(mv), resident(a + 24 * pg, 1));
	EXPECT(err == EEXIST && mv == -EEXIST, "eexist");
	EXPECT(holds(a, 24, 5), "eexist: source intact");

	/* dst populated third: a short move, then EEXIST. */
	fill(a, 30, 6);
	err = move(uffd, d + 34 * pg, a + 30 * pg, pg, 0, &mv);
	EXPECT(!err, "populating dst page 34");
	for (i = 26; i < 30; i++)
		fill(a, i, 6);
	err = move(uffd, d + 32 * pg, a + 26 * pg, 4 * pg, 0, &mv);
	printf("dst populated third: errno=%s move=%s src=%s dst=%s\n",
	       ename(err), mname(mv), resident(a + 26 * pg, 4),
	       resident(d + 32 * pg, 4));
	EXPECT(err == EAGAIN && mv == (__s64)(2 * pg), "eexist third");
	err = move(uffd, d + 34 * pg, a + 28 * pg, 2 * pg, 0, &mv);
	printf("dst populated third, resumed: errno=%s move=%s\n", ename(err),
	       mname(mv));
	EXPECT(err == EEXIST && mv == -EEXIST, "eexist third resumed");

	/* Invalid arguments. */
	fill(a, 40, 7);
	err = move(uffd, d + 40 * pg, a + 40 * pg, 100, 0, &mv);
	printf("len not page aligned: errno=%s\n", ename(err));
	EXPECT(err == EINVAL, "unaligned len");
	err = move(uffd, d + 40 * pg + 8, a + 40 * pg, pg, 0, &mv);
	printf("dst not page aligned: errno=%s\n", ename(err));
	EXPECT(err == EINVAL, "unaligned dst");
	err = move(uffd, d + 40 * pg, a + 40 * pg, 0, 0, &mv);
	printf("len 0: errno=%s\n", ename(err));
	EXPECT(err == EINVAL, "len 0");
	err = move(uffd, d + 40 * pg, a + 40 * pg, pg, 1ULL << 5, &mv);
	printf("unknown mode bit: errno=%s\n", ename(err));
	EXPECT(err == EINVAL, "unknown mode");
	gone = map(4);
	munmap(gone, 4 * pg);
	err = move(uffd, d + 40 * pg, gone, pg, 0, &mv);
	printf("no VMA at src: errno=%s move=%s\n", ename(err), mname(mv));
	EXPECT(err == ENOENT, "no vma at src");
	EXPECT(holds(a, 40, 7), "einval: source intact");

	/* Not a userfaultfd: the ioctl is unknown there. */
	if (pipe(p))
		die("pipe");
	err = move(p[0], d + 40 * pg, a + 40 * pg, pg, 0, &mv);
	printf("UFFDIO_MOVE on a pipe: errno=%s move=%s\n", ename(err),
	       mname(mv));
	EXPECT(err == ENOTTY && mv == UNTOUCHED, "pipe");
	close(p[0]);
	close(p[1]);

	/* A thread blocked in a fault on dst, woken by the move. */
	faulter_start(&f, d + 48 * pg);
	at = read_fault(uffd, d);
	fill(a, 48, 8);
	err = move(uffd, d + 48 * pg, a + 48 * pg, pg, 0, &mv);
	woke = faulter_wait(&f, 20000);
	printf("fault at dst page %ld, moved in: errno=%s move=%s woken=%d value_ok=%d\n",
	       at, ename(err), mname(mv), woke,
	       woke && f.value == *(uint64_t *)(d + 48 * pg) &&
		       holds(d, 48, 8));
	EXPECT(at == 48 && !err && woke && holds(d, 48, 8), "fault woken");
	if (!woke) {
		range.start = (uintptr_t)(d + 48 * pg);
		range.len = pg;
		ioctl(uffd, UFFDIO_WAKE, &range);
	}
	pthread_join(f.t, NULL);

	/* The same with DONTWAKE: the thread sleeps until UFFDIO_WAKE. */
	faulter_start(&f, d + 50 * pg);
	at = read_fault(uffd, d);
	fill(a, 50, 9);
	err = move(uffd, d + 50 * pg, a + 50 * pg, pg,
		   UFFDIO_MOVE_MODE_DONTWAKE, &mv);
	woke = faulter_wait(&f, 300);
	printf("fault at dst page %ld, moved in with DONTWAKE: errno=%s move=%s woken=%d\n",
	       at, ename(err), mname(mv), woke);
	EXPECT(at == 50 && !err && !woke, "dontwake");
	range.start = (uintptr_t)(d + 50 * pg);
	range.len = pg;
	err = ioctl(uffd, UFFDIO_WAKE, &range) ? errno : 0;
	woke = faulter_wait(&f, 20000);
	printf("  then UFFDIO_WAKE: errno=%s woken=%d value_ok=%d\n",
	       ename(err), woke, woke && holds(d, 50, 9));
	EXPECT(!err && woke && holds(d, 50, 9), "woken by UFFDIO_WAKE");
	pthread_join(f.t, NULL);

	/* The zero page (a read fault, never written) moves too. */
	if (*(volatile char *)(a + 56 * pg))
		die("zero page not zero");
	err = move(uffd, d + 56 * pg, a + 56 * pg, pg, 0, &mv);
	printf("zero page: errno=%s move=%s src=%s dst=%s\n", ename(err),
	       mname(mv), resident(a + 56 * pg, 1), resident(d + 56 * pg, 1));
	EXPECT(!err && mv == (__s64)pg, "zero page");

	/* A source page shared with a child after fork(): EBUSY. */
	fill(a, 60, 10);
	fflush(NULL);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		pause();
		_exit(0);
	}
	err = move(uffd, d + 60 * pg, a + 60 * pg, pg, 0, &mv);
	printf("src shared with a child: errno=%s move=%s\n", ename(err),
	       mname(mv));
	EXPECT(err == EBUSY && mv == -EBUSY, "fork-shared src");
	kill(child, SIGKILL);
	waitpid(child, &status, 0);

	/* A bigger move, several page tables' worth of work. */
	big_a = map(BIG_PAGES);
	big_d = map(BIG_PAGES);
	reg.range.start = (uintptr_t)big_d;
	reg.range.len = BIG_PAGES * pg;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER big");
	for (i = 0; i < BIG_PAGES; i++)
		fill(big_a, i, 11);
	err = move(uffd, big_d, big_a, BIG_PAGES * pg, 0, &mv);
	printf("%dp: errno=%s move=%s sum=%s\n", BIG_PAGES, ename(err),
	       mname(mv), sum(big_d, BIG_PAGES));
	EXPECT(!err && mv == (__s64)(BIG_PAGES * pg), "big");
	for (i = 0; i < BIG_PAGES; i++)
		EXPECT(holds(big_d, i, 11), "big: page %zu", i);

	printf("end\n");
	return failed;
}
