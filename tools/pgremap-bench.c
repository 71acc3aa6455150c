// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap-bench: how fast can a process move its own anonymous pages?
 *
 * Compares PGREMAP_IOC_MOVE with the in-tree UFFDIO_MOVE, UFFDIO_COPY,
 * memcpy and mremap in two benchmarks (see pgremap-bench(1)):
 *  - micro: move a populated range into an empty one, BATCH pages per
 *    call, optionally while other threads of the process run on the other
 *    CPUs (so every TLB flush needs real shootdowns);
 *  - compact: the concurrent heap compaction of a GC such as Android ART:
 *    a compactor fills a userfaultfd-registered to-space page by page
 *    while mutator threads already use it and fault on what is missing.
 * Every pass is verified (contents at the destination, source empty).
 *
 * Output: a table on stdout, CSV (--csv) and JSON (--json) with the
 * columns the bench orchestration parses; progress on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <linux/userfaultfd.h>

#include <linux/pgremap.h>
#include <uffd-move-compat.h>

#ifndef PGREMAP_TOOLS_VERSION
#define PGREMAP_TOOLS_VERSION "unknown"
#endif

/*
 * PGREMAP_IOC_MOVE, UFFDIO_MOVE and UFFDIO_COPY take one argument layout
 * ({dst, src, len, mode, result}), so one resume loop serves all three.
 */
_Static_assert(sizeof(struct pgremap_move) == sizeof(struct uffdio_move),
	       "pgremap_move layout");
_Static_assert(sizeof(struct uffdio_copy) == sizeof(struct uffdio_move),
	       "uffdio_copy layout");
_Static_assert(offsetof(struct uffdio_copy, copy) ==
		       offsetof(struct uffdio_move, move),
	       "uffdio_copy result field");

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_ENV 3

#define PS 4096UL
#define HPS (2UL << 20)
#define MiB (1UL << 20)
#define STALL_NS 10000 /* an access slower than 10 us is a stall */
#define TOUCH_PAGES 16 /* private pages of each TLB-shootdown thread */
#define MAX_LIST 32 /* entries of -b and -t */
#define RETRIES 1000 /* EAGAIN without progress before giving up */

/* ---- options -------------------------------------------------------------- */

struct opts {
	unsigned int methods; /* bit i: method_table[i] */
	bool micro, compact;
	unsigned long batch[MAX_LIST]; /* 0 means thp */
	int nbatch;
	unsigned long threads[MAX_LIST];
	int nthreads;
	unsigned long size_mb, reps, heap_mb, live, seed, cbatch, mutators;
	const char *csv, *json;
	bool quiet;
};

/* ---- results -------------------------------------------------------------- */

enum status { ST_OK, ST_SKIPPED, ST_FAILED };
static const char *const status_name[] = { "ok", "skipped", "failed" };

/* One CSV row. Numbers are NAN where they do not apply (empty fields). */
struct row {
	const char *bench; /* "micro" or "compact" */
	const char *method;
	unsigned long batch; /* 0: thp */
	unsigned long threads; /* compact: mutators */
	double pages, ns, median, ratio, pgalloc, vmas;
	double completion_ms, stall_ms, stall_max_us, faults;
	enum status status;
	char reason[160];
};

/* The numeric columns, in CSV order; json_only: not a CSV column. */
static const struct field {
	const char *name;
	size_t off;
	const char *fmt;
	bool json_only;
} fields[] = {
	{ "pages", offsetof(struct row, pages), "%.0f", false },
	{ "ns_per_page", offsetof(struct row, ns), "%.1f", false },
	{ "median_ns_per_page", offsetof(struct row, median), "%.1f", true },
	{ "ratio", offsetof(struct row, ratio), "%.3f", false },
	{ "pgalloc_per_page", offsetof(struct row, pgalloc), "%.4f", false },
	{ "vmas_after", offsetof(struct row, vmas), "%.0f", false },
	{ "completion_ms", offsetof(struct row, completion_ms), "%.3f", false },
	{ "stall_ms", offsetof(struct row, stall_ms), "%.3f", false },
	{ "stall_max_us", offsetof(struct row, stall_max_us), "%.1f", false },
	{ "faults", offsetof(struct row, faults), "%.0f", false },
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char csv_header[] =
	"kernel,cpus,bench,method,batch,threads,pages,ns_per_page,ratio,"
	"pgalloc_per_page,vmas_after,completion_ms,stall_ms,stall_max_us,"
	"faults,status,reason\n";

static double row_num(const struct row *r, const struct field *f)
{
	return *(const double *)((const char *)r + f->off);
}

/* Record why a measurement did not produce a number; returns -1. */
static int row_set(struct row *row, enum status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int row_set(struct row *row, enum status st, const char *fmt, ...)
{
	va_list ap;

	if (row->status != ST_OK)
		return -1; /* keep the first reason */
	row->status = st;
	va_start(ap, fmt);
	vsnprintf(row->reason, sizeof(row->reason), fmt, ap);
	va_end(ap);
	return -1;
}

#define FAIL(row, ...) row_set(row, ST_FAILED, __VA_ARGS__)
#define SKIP(row, ...) row_set(row, ST_SKIPPED, __VA_ARGS__)

/* ---- system helpers ------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* splitmix64: a seeded, deterministic PRNG and hash. */
static uint64_t mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rng_next(uint64_t *state)
{
	*state += 0x9e3779b97f4a7c15ULL;
	return mix64(*state);
}

/* Sum of all pgalloc_* counters of /proc/vmstat (pages), or 0. */
static unsigned long pgalloc_sum(void)
{
	FILE *f = fopen("/proc/vmstat", "re");
	unsigned long sum = 0, v;
	char name[64];

	if (!f)
		return 0;
	while (fscanf(f, "%63s %lu", name, &v) == 2)
		if (!strncmp(name, "pgalloc_", 8))
			sum += v;
	fclose(f);
	return sum;
}

/* Number of VMAs: lines of /proc/self/maps. */
static long maps_count(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A "Field:" of /proc/self/smaps for the VMA holding addr, in kB, or -1. */
static long smaps_kb(const void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, lo, hi;
	size_t flen = strlen(field);
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = a >= lo && a < hi;
		} else if (in && !strncmp(line, field, flen) &&
			   line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* Pin the calling thread to cpu (-1: leave it alone). */
static void pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* A userfaultfd (non-blocking) with the features asked, or -errno. */
static int uffd_open(__u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd, err;

	/* User-mode-only faults need no privilege (vm.unprivileged_userfaultfd). */
	fd = syscall(SYS_userfaultfd,
		     O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		/* Older kernels refuse feature bits they do not know. */
		err = errno == EINVAL && features ? -EOPNOTSUPP : -errno;
		close(fd);
		return err;
	}
	if ((api.features & features) != features) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static int uffd_register(int fd, void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(fd, UFFDIO_REGISTER, &reg) ? errno : 0;
}

static int uffd_wake(int fd, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (unsigned long)addr, .len = len };

	return ioctl(fd, UFFDIO_WAKE, &r) ? errno : 0;
}

/*
 * Two private anonymous mappings, a and b, each 2 MiB aligned, inside one
 * PROT_NONE reservation with a 2 MiB PROT_NONE gap between them: they
 * never merge into one VMA, and a PMD-sized move is always possible.
 */
struct region {
	char *res;
	size_t reslen;
	char *a, *b;
};

static int region_map(struct region *g, size_t alen, size_t blen, int adv_a,
		      int adv_b)
{
	int prot = PROT_READ | PROT_WRITE;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	uintptr_t base;

	g->reslen = alen + blen + 3 * HPS;
	g->res = mmap(NULL, g->reslen, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g->res == MAP_FAILED) {
		g->res = NULL;
		return -1;
	}
	base = ((uintptr_t)g->res + HPS - 1) & ~(HPS - 1);
	g->a = (char *)base;
	g->b = g->a + ((alen + 2 * HPS - 1) & ~(HPS - 1));
	if (mmap(g->a, alen, prot, flags, -1, 0) == MAP_FAILED ||
	    mmap(g->b, blen, prot, flags, -1, 0) == MAP_FAILED)
		return -1;
	if ((adv_a && madvise(g->a, alen, adv_a)) ||
	    (adv_b && madvise(g->b, blen, adv_b)))
		return -1;
	return 0;
}

static void region_unmap(struct region *g)
{
	if (g->res)
		munmap(g->res, g->reslen);
	g->res = NULL;
}

/*
 * Index of the first resident page of [p, p + npages), -1 if none, -2 if
 * mincore() failed (errno).
 */
static long first_resident(const char *p, size_t npages)
{
	unsigned char *vec = malloc(npages);
	long bad = -1;
	size_t i;

	if (!vec || mincore((void *)p, npages * PS, vec)) {
		free(vec);
		return -2;
	}
	for (i = 0; i < npages && bad < 0; i++)
		if (vec[i] & 1)
			bad = (long)i;
	free(vec);
	return bad;
}

/* Is nothing at all mapped in [p, p + len)? */
static bool range_unmapped(char *p, size_t len)
{
	void *q = mmap(p, len, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		       0);

	if (q == MAP_FAILED)
		return false;
	munmap(q, len);
	return q == p; /* old kernels ignore FIXED_NOREPLACE: hint only */
}

/* ---- methods -------------------------------------------------------------- */

/* What a move operation works with. */
struct mctx {
	int pgr; /* /dev/pgremap, or -1 */
	int uffd; /* the userfaultfd dst is registered with, or -1 */
};

#define M_UFFD_DST (1U << 0) /* micro: dst registered MISSING with a uffd */
#define M_FEAT_MOVE (1U << 1) /* that uffd needs UFFD_FEATURE_MOVE */
#define M_PREFAULT (1U << 2) /* dst populated before the timed pass */
#define M_UNMAPS (1U << 3) /* the source is unmapped, not emptied */
#define M_COMPACT (1U << 4) /* can fill a uffd-registered to-space */
#define M_NO_WAKE (1U << 5) /* leaves uffd waiters asleep: UFFDIO_WAKE */

struct method {
	const char *name;
	unsigned int flags;
	/* "" if usable on this kernel, else why not (into why[len]). */
	void (*probe)(int *pgr, char *why, size_t len);
	/* Move [src, src + len) to dst: 0 or an errno. */
	int (*move)(const struct mctx *c, char *dst, char *src, size_t len);
};

/* A move/copy ioctl, resumed after short moves (EAGAIN, result > 0). */
static int ioctl_resume(int fd, unsigned long req, char *dst, char *src,
			size_t len)
{
	struct uffdio_move a = { .dst = (uintptr_t)dst,
				 .src = (uintptr_t)src,
				 .len = len };
	int tries = 0;

	for (;;) {
		a.move = 0;
		if (!ioctl(fd, req, &a))
			return 0;
		if (errno != EAGAIN)
			return errno;
		if (a.move > 0 && (__u64)a.move < a.len) {
			a.dst += a.move;
			a.src += a.move;
			a.len -= a.move;
			tries = 0;
		} else if (++tries > RETRIES) {
			return EAGAIN;
		}
	}
}

static int move_pgremap(const struct mctx *c, char *dst, char *src, size_t len)
{
	return ioctl_resume(c->pgr, PGREMAP_IOC_MOVE, dst, src, len);
}

static int move_uffd(const struct mctx *c, char *dst, char *src, size_t len)
{
	return ioctl_resume(c->uffd, UFFDIO_MOVE, dst, src, len);
}

/* The old page has to go too: a GC frees from-space as it copies. */
static int move_uffd_copy(const struct mctx *c, char *dst, char *src,
			  size_t len)
{
	int err = ioctl_resume(c->uffd, UFFDIO_COPY, dst, src, len);

	if (!err && madvise(src, len, MADV_DONTNEED))
		err = errno;
	return err;
}

static int move_memcpy(const struct mctx *c, char *dst, char *src, size_t len)
{
	(void)c;
	memcpy(dst, src, len);
	return madvise(src, len, MADV_DONTNEED) ? errno : 0;
}

static int move_mremap(const struct mctx *c, char *dst, char *src, size_t len)
{
	(void)c;
	if (mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
		return errno;
	return 0;
}

static void probe_pgremap(int *pgr, char *why, size_t len)
{
	struct pgremap_api api = { .api = PGREMAP_API };
	int fd = open("/dev/" PGREMAP_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "no /dev/pgremap: %s", strerror(errno));
		return;
	}
	if (ioctl(fd, PGREMAP_IOC_API, &api))
		snprintf(why, len, "PGREMAP_IOC_API: %s", strerror(errno));
	else if (!(api.ioctls & (1ULL << _PGREMAP_MOVE)))
		snprintf(why, len, "module does not serve PGREMAP_IOC_MOVE");
	if (*why) {
		close(fd);
		return;
	}
	*pgr = fd;
}

static void probe_uffd(__u64 features, char *why, size_t len)
{
	int fd = uffd_open(features);

	if (fd == -EOPNOTSUPP)
		snprintf(why, len, "kernel lacks UFFD_FEATURE_MOVE");
	else if (fd < 0)
		snprintf(why, len, "no userfaultfd: %s", strerror(-fd));
	else
		close(fd);
}

static void probe_uffd_move(int *pgr, char *why, size_t len)
{
	(void)pgr;
	probe_uffd(UFFD_FEATURE_MOVE, why, len);
}

static void probe_uffd_copy(int *pgr, char *why, size_t len)
{
	(void)pgr;
	probe_uffd(0, why, len);
}

static void probe_always(int *pgr, char *why, size_t len)
{
	(void)pgr;
	(void)why;
	(void)len;
}

static const struct method method_table[] = {
	{ "pgremap", M_COMPACT | M_NO_WAKE, probe_pgremap, move_pgremap },
	{ "uffd-move", M_UFFD_DST | M_FEAT_MOVE | M_COMPACT, probe_uffd_move,
	  move_uffd },
	{ "uffd-copy", M_UFFD_DST | M_COMPACT, probe_uffd_copy,
	  move_uffd_copy },
	{ "memcpy", M_PREFAULT, probe_always, move_memcpy },
	{ "mremap", M_UNMAPS, probe_always, move_mremap },
};

#define NMETHODS ((int)(sizeof(method_table) / sizeof(method_table[0])))

/* The userfaultfd features a method's moves need. */
static __u64 uffd_features(const struct method *m)
{
	return m->flags & M_FEAT_MOVE ? UFFD_FEATURE_MOVE : 0;
}

/* ---- the run -------------------------------------------------------------- */

struct run {
	struct opts o;
	char kernel[65];
	long cpus; /* online CPUs */
	int cpu[CPU_SETSIZE]; /* CPUs we may use; cpu[0] runs the mover */
	int ncpu;
	int pgr; /* /dev/pgremap, or -1 */
	char why[NMETHODS][96]; /* why a method is unavailable, or "" */
	struct row *rows;
	size_t nrows, cap;
	size_t total, started; /* measurements, for the progress lines */
	uint64_t passes; /* passes so far: each gets its own pattern */
	FILE *csv, *json;
};

/* CPU for extra thread i (-1: do not pin, there is no other CPU). */
static int other_cpu(const struct run *r, unsigned long i)
{
	if (r->ncpu < 2)
		return -1;
	return r->cpu[1 + i % (unsigned long)(r->ncpu - 1)];
}

static struct row *row_new(struct run *r, const char *bench,
			   const struct method *m, unsigned long batch,
			   unsigned long threads)
{
	struct row *row;

	if (r->nrows == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->rows = realloc(r->rows, r->cap * sizeof(*r->rows));
		if (!r->rows) {
			perror("pgremap-bench: realloc");
			exit(EXIT_ENV);
		}
	}
	row = &r->rows[r->nrows++];
	*row = (struct row){ .bench = bench,
			     .method = m->name,
			     .batch = batch,
			     .threads = threads };
	row->pages = row->ns = row->median = row->ratio = NAN;
	row->pgalloc = row->vmas = row->completion_ms = NAN;
	row->stall_ms = row->stall_max_us = row->faults = NAN;
	return row;
}

static const char *batch_str(unsigned long batch, char *buf, size_t len)
{
	if (!batch)
		return "thp";
	snprintf(buf, len, "%lu", batch);
	return buf;
}

static void progress_start(struct run *r, const struct row *row,
			   const char *tname)
{
	char b[24];

	r->started++;
	if (r->o.quiet)
		return;
	fprintf(stderr, "[%zu/%zu] %s %s batch=%s %s=%lu ... ", r->started,
		r->total, row->bench, row->method,
		batch_str(row->batch, b, sizeof(b)), tname, row->threads);
	fflush(stderr);
}

static void progress_end(const struct run *r, const struct row *row)
{
	if (r->o.quiet)
		return;
	if (row->status == ST_OK && !strcmp(row->bench, "compact"))
		fprintf(stderr,
			"%.0f ns/page, %.0f faults, stall %.3f ms (max %.1f us)\n",
			row->ns, row->faults, row->stall_ms, row->stall_max_us);
	else if (row->status == ST_OK)
		fprintf(stderr, "%.0f ns/page\n", row->ns);
	else
		fprintf(stderr, "%s: %s\n", status_name[row->status],
			row->reason);
}

/* ---- micro: one pass ------------------------------------------------------ */

/* Word w of page i of the pattern of a pass: unique per pass, page, word. */
static inline uint64_t pattern(uint64_t seed, size_t page, size_t word)
{
	return seed << 40 ^ (uint64_t)page << 9 ^ word;
}

static void fill(char *p, size_t npages, uint64_t seed)
{
	size_t i, w;

	for (i = 0; i < npages; i++) {
		uint64_t *q = (uint64_t *)(p + i * PS);

		for (w = 0; w < PS / 8; w++)
			q[w] = pattern(seed, i, w);
	}
}

/* First page not holding the pattern (its word in *word), or -1. */
static long check(const char *p, size_t npages, uint64_t seed, size_t *word)
{
	size_t i, w;

	for (i = 0; i < npages; i++) {
		const uint64_t *q = (const uint64_t *)(p + i * PS);

		for (w = 0; w < PS / 8; w++) {
			if (q[w] != pattern(seed, i, w)) {
				*word = w;
				return (long)i;
			}
		}
	}
	return -1;
}

struct pass {
	const struct method *m;
	struct mctx mc;
	struct region g; /* g.a: src, g.b: dst */
	size_t len, chunk;
	uint64_t seed;
	bool thp;
};

/* What one timed pass measured. */
struct sample {
	double ns, pgalloc, vmas;
};

static int pass_setup(struct pass *p, struct row *row)
{
	size_t npages = p->len / PS;
	long kb;

	/* thp: dst keeps the system default, it gets whole PMDs anyway. */
	if (region_map(&p->g, p->len, p->len,
		       p->thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE,
		       p->thp ? 0 : MADV_NOHUGEPAGE))
		return FAIL(row, "mmap: %s", strerror(errno));
	fill(p->g.a, npages, p->seed);
	if (p->thp) {
		kb = smaps_kb(p->g.a, "AnonHugePages");
		if (kb < (long)(p->len >> 10))
			return SKIP(row, "no THP");
	}
	if (p->m->flags & M_PREFAULT)
		memset(p->g.b, 0, p->len);
	if (!(p->m->flags & M_UFFD_DST))
		return 0;
	p->mc.uffd = uffd_open(uffd_features(p->m));
	if (p->mc.uffd < 0)
		return FAIL(row, "userfaultfd: %s", strerror(-p->mc.uffd));
	if (uffd_register(p->mc.uffd, p->g.b, p->len))
		return FAIL(row, "UFFDIO_REGISTER: %s", strerror(errno));
	return 0;
}

/* The timed part: every chunk moved, nothing else. */
static int pass_time(struct pass *p, struct sample *s, struct row *row)
{
	unsigned long pg0, pg1;
	uint64_t t0, t1;
	long vmas0;
	size_t off, n = 0;
	int err = 0;

	vmas0 = maps_count();
	pg0 = pgalloc_sum();
	t0 = now_ns();
	for (off = 0; off < p->len && !err; off += n) {
		n = p->len - off < p->chunk ? p->len - off : p->chunk;
		err = p->m->move(&p->mc, p->g.b + off, p->g.a + off, n);
	}
	t1 = now_ns();
	pg1 = pgalloc_sum();
	if (err)
		return FAIL(row, "%s at offset %#zx: %s", p->m->name, off - n,
			    strerror(err));
	s->ns = (double)(t1 - t0) / (double)(p->len / PS);
	s->pgalloc = (double)(pg1 - pg0) / (double)(p->len / PS);
	s->vmas = (double)(maps_count() - vmas0);
	return 0;
}

/* Every page of dst holds its pattern, and src is gone. */
static int pass_verify(struct pass *p, struct row *row)
{
	size_t npages = p->len / PS, w = 0;
	const uint64_t *q;
	long bad;

	bad = check(p->g.b, npages, p->seed, &w);
	if (bad >= 0) {
		q = (const uint64_t *)(p->g.b + bad * PS);
		return FAIL(row, "dst page %ld word %zu: %#llx want %#llx", bad,
			    w, (unsigned long long)q[w],
			    (unsigned long long)pattern(p->seed, bad, w));
	}
	if (p->m->flags & M_UNMAPS) {
		if (!range_unmapped(p->g.a, p->len))
			return FAIL(row, "src still mapped after mremap");
		return 0;
	}
	bad = first_resident(p->g.a, npages);
	if (bad == -2)
		return FAIL(row, "mincore src: %s", strerror(errno));
	if (bad >= 0)
		return FAIL(row, "src page %ld still resident", bad);
	return 0;
}

/*
 * Threads that keep touching their own pages of this mm on the other CPUs
 * during the timed pass, so every TLB flush of a move has to reach them.
 */
struct toucher {
	pthread_t th;
	int cpu;
	int *stop, *ready;
};

struct touchers {
	struct toucher *t;
	unsigned long n; /* threads running */
	int stop, ready;
};

static void *toucher_main(void *arg)
{
	/* Its own pages of the mm: on its stack, populated before the pass. */
	uint64_t pages[TOUCH_PAGES * PS / 8] __attribute__((aligned(4096)));
	volatile uint64_t *p = pages; /* every access must really happen */
	struct toucher *t = arg;
	size_t i;

	pin_self(t->cpu);
	for (i = 0; i < TOUCH_PAGES; i++)
		p[i * PS / 8] = i;
	__atomic_add_fetch(t->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(t->stop, __ATOMIC_RELAXED))
		for (i = 0; i < TOUCH_PAGES; i++)
			p[i * PS / 8] += 1; /* read and write */
	return NULL;
}

static void touchers_stop(struct touchers *ts)
{
	unsigned long i;

	__atomic_store_n(&ts->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < ts->n; i++)
		pthread_join(ts->t[i].th, NULL);
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

static int touchers_start(const struct run *r, struct touchers *ts,
			  unsigned long n, struct row *row)
{
	unsigned long i;
	int err;

	*ts = (struct touchers){ .t = calloc(n ? n : 1, sizeof(*ts->t)) };
	if (!ts->t)
		return FAIL(row, "calloc: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		ts->t[i] = (struct toucher){ .cpu = other_cpu(r, i),
					     .stop = &ts->stop,
					     .ready = &ts->ready };
		err = pthread_create(&ts->t[i].th, NULL, toucher_main,
				     &ts->t[i]);
		if (err) {
			touchers_stop(ts);
			return FAIL(row, "pthread_create: %s", strerror(err));
		}
		ts->n++;
	}
	while (__atomic_load_n(&ts->ready, __ATOMIC_ACQUIRE) < (int)n)
		sched_yield();
	return 0;
}

static int micro_pass(struct run *r, const struct method *m,
		      unsigned long batch, unsigned long threads,
		      struct sample *s, struct row *row)
{
	struct pass p = { .m = m, .mc = { .pgr = r->pgr, .uffd = -1 } };
	struct touchers ts;
	int ret;

	p.len = r->o.size_mb * MiB;
	p.chunk = batch ? batch * PS : HPS;
	p.thp = !batch;
	p.seed = ++r->passes;
	ret = pass_setup(&p, row);
	if (!ret)
		ret = touchers_start(r, &ts, threads, row);
	if (!ret) {
		ret = pass_time(&p, s, row);
		touchers_stop(&ts);
	}
	/* Unregister dst first: a hole would block the check forever. */
	if (p.mc.uffd >= 0)
		close(p.mc.uffd);
	if (!ret)
		ret = pass_verify(&p, row);
	region_unmap(&p.g);
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* --reps passes: the fastest, the median, the fewest allocations. */
static void micro_measure(struct run *r, const struct method *m,
			  unsigned long batch, unsigned long threads,
			  struct row *row)
{
	double *ns = calloc(r->o.reps, sizeof(*ns));
	struct sample s = { 0 };
	unsigned long i;

	if (!ns) {
		FAIL(row, "calloc: %s", strerror(errno));
		return;
	}
	row->pgalloc = INFINITY;
	for (i = 0; i < r->o.reps; i++) {
		if (micro_pass(r, m, batch, threads, &s, row))
			break;
		ns[i] = s.ns;
		if (s.pgalloc < row->pgalloc)
			row->pgalloc = s.pgalloc;
		row->vmas = s.vmas;
	}
	if (row->status == ST_OK) {
		qsort(ns, r->o.reps, sizeof(*ns), cmp_double);
		row->ns = ns[0];
		row->median = (ns[(r->o.reps - 1) / 2] + ns[r->o.reps / 2]) / 2;
	} else {
		row->pgalloc = row->vmas = NAN;
	}
	free(ns);
}

/* ---- compact -------------------------------------------------------------- */

/* A heap object: 64 bytes, OBJS per page. */
struct obj {
	uint64_t id; /* index among live objects: to-space page * OBJS + slot */
	uint64_t sum; /* checksum of id and payload */
	uint64_t counter; /* mutators' increments */
	uint64_t payload[5];
};

#define OBJS (PS / sizeof(struct obj))
_Static_assert(sizeof(struct obj) == 64, "64-byte objects");

static uint64_t obj_sum(const struct obj *o)
{
	uint64_t s = mix64(o->id);
	size_t i;

	for (i = 0; i < 5; i++)
		s = mix64(s ^ o->payload[i]);
	return s;
}

struct heap {
	struct region g; /* g.a: from-space, g.b: to-space */
	size_t npages, nlive, moved;
	uint32_t *live; /* to-space page k comes from from-space page live[k] */
	unsigned char *done; /* to-space page k is in place */
	uint64_t *shadow; /* per live object: the increments made to it */
};

struct compact {
	const struct method *m;
	struct mctx mc; /* mc.uffd: the userfaultfd of to-space */
	struct heap h;
	size_t batch;
	uint64_t seed;
	unsigned long faults; /* pages moved out of order for a fault */
	int go, stop, ready; /* mutators: start, stop, how many are ready */
};

static struct obj *obj_at(char *space, uint64_t id)
{
	return (struct obj *)(space + id / OBJS * PS) + id % OBJS;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Choose nlive of npages from-space pages (seeded), in address order. */
static int heap_choose(struct heap *h, uint64_t seed)
{
	uint32_t *all = malloc(h->npages * sizeof(*all)), t;
	size_t i, j;

	if (!all)
		return -1;
	for (i = 0; i < h->npages; i++)
		all[i] = (uint32_t)i;
	for (i = 0; i < h->nlive; i++) { /* partial Fisher-Yates */
		j = i + rng_next(&seed) % (h->npages - i);
		t = all[i];
		all[i] = all[j];
		all[j] = t;
	}
	qsort(all, h->nlive, sizeof(*all), cmp_u32);
	memcpy(h->live, all, h->nlive * sizeof(*all));
	free(all);
	return 0;
}

/* From-space: live objects on live pages, garbage on the others. */
static void heap_fill(struct heap *h, uint64_t seed)
{
	struct obj *o;
	size_t k, s, i;

	memset(h->g.a, 0xde, h->npages * PS);
	for (k = 0; k < h->nlive; k++) {
		o = (struct obj *)(h->g.a + (size_t)h->live[k] * PS);
		for (s = 0; s < OBJS; s++, o++) {
			o->id = k * OBJS + s;
			o->counter = 0;
			for (i = 0; i < 5; i++)
				o->payload[i] = mix64(seed ^ (o->id * 8 + i));
			o->sum = obj_sum(o);
		}
	}
}

static void heap_free(struct heap *h)
{
	region_unmap(&h->g);
	free(h->live);
	free(h->done);
	free(h->shadow);
}

static int heap_setup(struct heap *h, size_t heap_mb, unsigned long live_pct,
		      uint64_t seed, struct row *row)
{
	h->npages = heap_mb * MiB / PS;
	h->nlive = h->npages * live_pct / 100;
	if (!h->nlive)
		return SKIP(row, "no live pages");
	h->live = calloc(h->nlive, sizeof(*h->live));
	h->done = calloc(h->nlive, 1);
	h->shadow = calloc(h->nlive * OBJS, sizeof(*h->shadow));
	if (!h->live || !h->done || !h->shadow || heap_choose(h, seed))
		return FAIL(row, "calloc: %s", strerror(errno));
	if (region_map(&h->g, h->npages * PS, h->nlive * PS, MADV_NOHUGEPAGE,
		       MADV_NOHUGEPAGE))
		return FAIL(row, "mmap: %s", strerror(errno));
	heap_fill(h, seed);
	return 0;
}

/*
 * A mutator after the GC flip: it only ever uses to-space addresses, so it
 * faults (and waits for the compactor) on every page not moved in yet.
 */
struct mutator {
	pthread_t th;
	struct compact *c;
	int cpu;
	uint64_t rng;
	uint64_t stall_ns, max_ns, bad;
};

static void *mutator_main(void *arg)
{
	struct mutator *mu = arg;
	struct compact *c = mu->c;
	uint64_t nobj = c->h.nlive * OBJS, id, t0, t1;
	struct obj *o;
	bool ok;

	pin_self(mu->cpu);
	__atomic_add_fetch(&c->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&c->go, __ATOMIC_ACQUIRE))
		sched_yield();
	while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
		id = rng_next(&mu->rng) % nobj;
		o = obj_at(c->h.g.b, id);
		t0 = now_ns();
		ok = o->id == id && o->sum == obj_sum(o);
		__atomic_fetch_add(&o->counter, 1, __ATOMIC_RELAXED);
		t1 = now_ns();
		__atomic_fetch_add(&c->h.shadow[id], 1, __ATOMIC_RELAXED);
		mu->bad += !ok;
		if (t1 - t0 > STALL_NS)
			mu->stall_ns += t1 - t0;
		if (t1 - t0 > mu->max_ns)
			mu->max_ns = t1 - t0;
	}
	return NULL;
}

/*
 * Move to-space pages k..k+n-1 in. UFFDIO_COPY and UFFDIO_MOVE wake the
 * threads waiting for them; /dev/pgremap does not, so after it a page
 * that was asked for (@wake: a fault message named it) is woken with
 * UFFDIO_WAKE. A page moved in order needs no wake: a thread that faulted
 * on it meanwhile left a message, and drain_faults() wakes it.
 */
static int move_run(struct compact *c, size_t k, size_t n, bool wake,
		    struct row *row)
{
	struct heap *h = &c->h;
	char *dst = h->g.b + k * PS, *src = h->g.a + (size_t)h->live[k] * PS;
	int err = c->m->move(&c->mc, dst, src, n * PS);

	/*
	 * Only this thread fills to-space, so EEXIST (a page already there)
	 * cannot be a race here: it is a failure.
	 */
	if (err)
		return FAIL(row, "%s to-space page %zu (+%zu): %s", c->m->name,
			    k, n, strerror(err));
	if (wake && (c->m->flags & M_NO_WAKE) &&
	    uffd_wake(c->mc.uffd, dst, n * PS))
		return FAIL(row, "UFFDIO_WAKE: %s", strerror(errno));
	memset(h->done + k, 1, n);
	h->moved += n;
	return 0;
}

/* Resolve every pending fault first (non-blocking read of the uffd). */
static int drain_faults(struct compact *c, struct row *row)
{
	struct uffd_msg msg[16];
	uintptr_t to = (uintptr_t)c->h.g.b;
	size_t i, k;
	ssize_t n;

	for (;;) {
		n = read(c->mc.uffd, msg, sizeof(msg));
		if (n < 0)
			return errno == EAGAIN ? 0 :
						 FAIL(row, "read uffd: %s",
						      strerror(errno));
		for (i = 0; i < (size_t)n / sizeof(msg[0]); i++) {
			if (msg[i].event != UFFD_EVENT_PAGEFAULT)
				return FAIL(row, "uffd event %u", msg[i].event);
			k = (msg[i].arg.pagefault.address - to) / PS;
			if (k >= c->h.nlive)
				return FAIL(row, "fault outside to-space");
			/*
			 * Moved in order since the fault: the kernel woke the
			 * thread, or (/dev/pgremap) we do it now.
			 */
			if (c->h.done[k]) {
				if ((c->m->flags & M_NO_WAKE) &&
				    uffd_wake(c->mc.uffd, c->h.g.b + k * PS,
					      PS))
					return FAIL(row, "UFFDIO_WAKE: %s",
						    strerror(errno));
				continue;
			}
			if (move_run(c, k, 1, true, row))
				return -1;
			c->faults++;
		}
	}
}

/* Pages from k on, at most batch, contiguous in from-space, not done. */
static size_t run_len(const struct compact *c, size_t k)
{
	const struct heap *h = &c->h;
	size_t n = 1;

	while (n < c->batch && k + n < h->nlive && !h->done[k + n] &&
	       h->live[k + n] == h->live[k] + n)
		n++;
	return n;
}

/* The compactor: live pages in order, faulted pages first. */
static int compact_loop(struct compact *c, struct row *row)
{
	struct heap *h = &c->h;
	size_t next = 0;

	while (h->moved < h->nlive) {
		if (drain_faults(c, row))
			return -1;
		while (next < h->nlive && h->done[next])
			next++;
		if (next == h->nlive)
			break;
		if (move_run(c, next, run_len(c, next), false, row))
			return -1;
	}
	/* Faults on the last pages moved in order have not been read yet. */
	if ((c->m->flags & M_NO_WAKE) &&
	    uffd_wake(c->mc.uffd, h->g.b, h->nlive * PS))
		return FAIL(row, "UFFDIO_WAKE: %s", strerror(errno));
	return 0;
}

/* Every live object in to-space intact, counted; from-space emptied. */
static int compact_verify(struct compact *c, struct row *row)
{
	struct heap *h = &c->h;
	uint64_t id;
	size_t k;

	for (id = 0; id < h->nlive * OBJS; id++) {
		const struct obj *o = obj_at(h->g.b, id);

		if (o->id != id || o->sum != obj_sum(o))
			return FAIL(row, "object %llu corrupt in to-space",
				    (unsigned long long)id);
		if (o->counter != h->shadow[id])
			return FAIL(row, "object %llu counter %llu, want %llu",
				    (unsigned long long)id,
				    (unsigned long long)o->counter,
				    (unsigned long long)h->shadow[id]);
	}
	for (k = 0; k < h->nlive; k++)
		if (first_resident(h->g.a + (size_t)h->live[k] * PS, 1) != -1)
			return FAIL(row, "from-space page %u still resident",
				    h->live[k]);
	return 0;
}

static int mutators_start(struct run *r, struct compact *c, struct mutator *mu,
			  unsigned long n, struct row *row)
{
	unsigned long i;
	int err;

	for (i = 0; i < n; i++) {
		mu[i] = (struct mutator){ .c = c,
					  .cpu = other_cpu(r, i),
					  .rng = r->o.seed * 1000 + i };
		err = pthread_create(&mu[i].th, NULL, mutator_main, &mu[i]);
		if (err) {
			mu[i].c = NULL; /* not to be joined */
			return FAIL(row, "pthread_create: %s", strerror(err));
		}
	}
	while (__atomic_load_n(&c->ready, __ATOMIC_ACQUIRE) < (int)n)
		sched_yield();
	return 0;
}

/* Stop and join the mutators, summing their stalls into row. */
static void mutators_stop(struct compact *c, struct mutator *mu,
			  unsigned long n, struct row *row)
{
	uint64_t stall = 0, max = 0, bad = 0;
	unsigned long i;

	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&c->go, 1, __ATOMIC_RELEASE);
	/*
	 * A mutator still blocked in a fault (after a failure, or on a page
	 * that went missing again) would never return: closing the uffd
	 * wakes it, it then reads a zero page and counts it as corrupt.
	 */
	close(c->mc.uffd);
	c->mc.uffd = -1;
	for (i = 0; i < n && mu[i].c; i++) {
		pthread_join(mu[i].th, NULL);
		stall += mu[i].stall_ns;
		bad += mu[i].bad;
		if (mu[i].max_ns > max)
			max = mu[i].max_ns;
	}
	row->stall_ms = (double)stall / 1e6;
	row->stall_max_us = (double)max / 1e3;
	if (bad)
		FAIL(row, "mutators saw %llu corrupt objects",
		     (unsigned long long)bad);
}

static int compact_uffd(struct compact *c, struct row *row)
{
	c->mc.uffd = uffd_open(uffd_features(c->m));
	if (c->mc.uffd < 0)
		return FAIL(row, "userfaultfd: %s", strerror(-c->mc.uffd));
	if (uffd_register(c->mc.uffd, c->h.g.b, c->h.nlive * PS))
		return FAIL(row, "UFFDIO_REGISTER: %s", strerror(errno));
	return 0;
}

/* Mutators started, compaction timed, mutators stopped: into row. */
static void compact_timed(struct run *r, struct compact *c, struct row *row)
{
	unsigned long n = r->o.mutators, pg0, pg1;
	struct mutator *mu = calloc(n ? n : 1, sizeof(*mu));
	uint64_t t0, t1;

	if (!mu) {
		FAIL(row, "calloc: %s", strerror(errno));
		return;
	}
	if (!mutators_start(r, c, mu, n, row)) {
		pg0 = pgalloc_sum();
		t0 = now_ns();
		__atomic_store_n(&c->go, 1, __ATOMIC_RELEASE);
		if (!compact_loop(c, row)) {
			t1 = now_ns();
			pg1 = pgalloc_sum();
			row->completion_ms = (double)(t1 - t0) / 1e6;
			row->ns = (double)(t1 - t0) / (double)c->h.nlive;
			row->pgalloc = (double)(pg1 - pg0) / (double)c->h.nlive;
			row->faults = (double)c->faults;
		}
	}
	mutators_stop(c, mu, n, row);
	free(mu);
}

static void compact_measure(struct run *r, const struct method *m,
			    struct row *row)
{
	struct compact c = { .m = m,
			     .mc = { .pgr = r->pgr, .uffd = -1 },
			     .batch = r->o.cbatch,
			     .seed = r->o.seed };

	if (!heap_setup(&c.h, r->o.heap_mb, r->o.live, c.seed, row) &&
	    !compact_uffd(&c, row))
		compact_timed(r, &c, row);
	if (c.mc.uffd >= 0)
		close(c.mc.uffd); /* to-space reads no longer block */
	if (row->status == ST_OK)
		compact_verify(&c, row);
	if (row->status != ST_OK)
		row->ns = row->completion_ms = row->pgalloc = row->faults =
			row->stall_ms = row->stall_max_us = NAN;
	heap_free(&c.h);
}

/* ---- output --------------------------------------------------------------- */

static void put_num(FILE *f, double v, const char *fmt, const char *empty)
{
	if (isnan(v) || isinf(v))
		fputs(empty, f);
	else
		fprintf(f, fmt, v);
}

/* A CSV field: quoted if it has a comma, quote or newline. */
static void csv_str(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	putc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			putc('"', f);
		putc(*s == '\n' ? ' ' : *s, f);
	}
	putc('"', f);
}

static void csv_row(const struct run *r, FILE *f, const struct row *row)
{
	char b[24];
	size_t i;

	csv_str(f, r->kernel);
	fprintf(f, ",%ld,%s,%s,%s,%lu", r->cpus, row->bench, row->method,
		batch_str(row->batch, b, sizeof(b)), row->threads);
	for (i = 0; i < NFIELDS; i++) {
		if (fields[i].json_only)
			continue;
		putc(',', f);
		put_num(f, row_num(row, &fields[i]), fields[i].fmt, "");
	}
	fprintf(f, ",%s,", status_name[row->status]);
	csv_str(f, row->reason);
	putc('\n', f);
}

static void json_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			putc(*s, f);
	}
	putc('"', f);
}

static void json_row(const struct run *r, FILE *f, const struct row *row)
{
	size_t i;

	fputs("  {\"kernel\": ", f);
	json_str(f, r->kernel);
	fprintf(f, ", \"cpus\": %ld, \"bench\": \"%s\", \"method\": \"%s\", ",
		r->cpus, row->bench, row->method);
	if (row->batch)
		fprintf(f, "\"batch\": %lu, ", row->batch);
	else
		fputs("\"batch\": \"thp\", ", f);
	fprintf(f, "\"threads\": %lu", row->threads);
	for (i = 0; i < NFIELDS; i++) {
		fprintf(f, ", \"%s\": ", fields[i].name);
		put_num(f, row_num(row, &fields[i]), fields[i].fmt, "null");
	}
	fprintf(f,
		", \"status\": \"%s\", \"reason\": ", status_name[row->status]);
	if (row->reason[0])
		json_str(f, row->reason);
	else
		fputs("null", f);
	putc('}', f);
}

static void write_json(const struct run *r, FILE *f)
{
	size_t i;

	fputs("[\n", f);
	for (i = 0; i < r->nrows; i++) {
		json_row(r, f, &r->rows[i]);
		fputs(i + 1 < r->nrows ? ",\n" : "\n", f);
	}
	fputs("]\n", f);
}

/* Ratio to uffd-move where it ran in the group, else to uffd-copy. */
static void group_ratios(struct row *g, size_t n)
{
	static const char *const base[] = { "uffd-move", "uffd-copy" };
	double ref = NAN;
	size_t i, b;

	for (b = 0; b < 2 && isnan(ref); b++)
		for (i = 0; i < n; i++)
			if (g[i].status == ST_OK &&
			    !strcmp(g[i].method, base[b]))
				ref = g[i].ns;
	for (i = 0; i < n; i++)
		if (g[i].status == ST_OK && ref > 0)
			g[i].ratio = g[i].ns / ref;
}

/* A group (bench, batch, threads) is complete: ratios, then its CSV. */
static void group_done(struct run *r, size_t first)
{
	size_t i;

	group_ratios(&r->rows[first], r->nrows - first);
	if (!r->csv)
		return;
	for (i = first; i < r->nrows; i++)
		csv_row(r, r->csv, &r->rows[i]);
	fflush(r->csv); /* a timed-out run still leaves its groups */
}

static void table_micro(const struct run *r)
{
	const struct row *w;
	char b[24];
	size_t i;

	printf("\nmicro: %lu MiB per pass, best of %lu; ns per 4 KiB page, "
	       "ratio to uffd-move (else uffd-copy)\n",
	       r->o.size_mb, r->o.reps);
	printf("%-6s %-7s %-10s %10s %10s %7s %9s %5s  %s\n", "batch",
	       "threads", "method", "ns/page", "median", "ratio", "pgalloc/p",
	       "vmas", "status");
	for (i = 0; i < r->nrows; i++) {
		w = &r->rows[i];
		if (strcmp(w->bench, "micro"))
			continue;
		printf("%-6s %-7lu %-10s ", batch_str(w->batch, b, sizeof(b)),
		       w->threads, w->method);
		if (w->status != ST_OK) {
			printf("%s: %s\n", status_name[w->status], w->reason);
			continue;
		}
		printf("%10.0f %10.0f %7.3f %9.4f %5.0f  ok\n", w->ns,
		       w->median, w->ratio, w->pgalloc, w->vmas);
	}
}

static void table_compact(const struct run *r)
{
	const struct row *w;
	size_t i;

	printf("\ncompact: heap %lu MiB, %lu%% live pages, %lu mutators, "
	       "batch %lu\n",
	       r->o.heap_mb, r->o.live, r->o.mutators, r->o.cbatch);
	printf("%-10s %8s %10s %7s %12s %10s %10s %7s %9s  %s\n", "method",
	       "pages", "ns/page", "ratio", "completion", "stall_ms",
	       "stall_max", "faults", "pgalloc/p", "status");
	for (i = 0; i < r->nrows; i++) {
		w = &r->rows[i];
		if (strcmp(w->bench, "compact"))
			continue;
		printf("%-10s %8.0f ", w->method, w->pages);
		if (w->status != ST_OK) {
			printf("%s: %s\n", status_name[w->status], w->reason);
			continue;
		}
		printf("%10.0f %7.3f %9.3f ms %10.3f %7.1f us %7.0f %9.4f  ok\n",
		       w->ns, w->ratio, w->completion_ms, w->stall_ms,
		       w->stall_max_us, w->faults, w->pgalloc);
	}
}

static void print_table(const struct run *r)
{
	printf("pgremap-bench %s: kernel %s, %ld CPUs\n", PGREMAP_TOOLS_VERSION,
	       r->kernel, r->cpus);
	if (r->o.micro)
		table_micro(r);
	if (r->o.compact)
		table_compact(r);
}

/* ---- driving -------------------------------------------------------------- */

static bool method_on(const struct run *r, int i, bool compact)
{
	return (r->o.methods & (1U << i)) &&
	       (!compact || (method_table[i].flags & M_COMPACT));
}

static void count_measurements(struct run *r)
{
	int i, n = 0, nc = 0;

	for (i = 0; i < NMETHODS; i++) {
		n += method_on(r, i, false);
		nc += method_on(r, i, true);
	}
	r->total = 0;
	if (r->o.micro)
		r->total += (size_t)(r->o.nbatch * r->o.nthreads * n);
	if (r->o.compact)
		r->total += (size_t)nc;
}

static void micro_group(struct run *r, unsigned long batch,
			unsigned long threads)
{
	size_t first = r->nrows;
	struct row *row;
	int i;

	for (i = 0; i < NMETHODS; i++) {
		if (!method_on(r, i, false))
			continue;
		row = row_new(r, "micro", &method_table[i], batch, threads);
		row->pages = (double)(r->o.size_mb * MiB / PS);
		progress_start(r, row, "threads");
		if (r->why[i][0])
			SKIP(row, "%s", r->why[i]);
		else if (threads && r->ncpu < 2)
			SKIP(row, "1 CPU");
		else
			micro_measure(r, &method_table[i], batch, threads, row);
		progress_end(r, row);
	}
	group_done(r, first);
}

static void compact_group(struct run *r)
{
	size_t first = r->nrows;
	struct row *row;
	int i;

	for (i = 0; i < NMETHODS; i++) {
		if (!method_on(r, i, true))
			continue;
		row = row_new(r, "compact", &method_table[i], r->o.cbatch,
			      r->o.mutators);
		row->pages =
			(double)(r->o.heap_mb * MiB / PS * r->o.live / 100);
		progress_start(r, row, "mutators");
		if (r->why[i][0])
			SKIP(row, "%s", r->why[i]);
		else
			compact_measure(r, &method_table[i], row);
		progress_end(r, row);
	}
	group_done(r, first);
}

static void run_all(struct run *r)
{
	int b, t;

	count_measurements(r);
	if (r->o.micro)
		for (b = 0; b < r->o.nbatch; b++)
			for (t = 0; t < r->o.nthreads; t++)
				micro_group(r, r->o.batch[b], r->o.threads[t]);
	if (r->o.compact)
		compact_group(r);
}

/* Kernel, CPUs (the mover pinned to the first), available methods. */
static int run_init(struct run *r)
{
	struct utsname u;
	cpu_set_t set;
	int i;

	if (sysconf(_SC_PAGESIZE) != (long)PS) {
		fprintf(stderr, "pgremap-bench: needs 4 KiB pages\n");
		return -1;
	}
	uname(&u);
	snprintf(r->kernel, sizeof(r->kernel), "%s", u.release);
	r->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (sched_getaffinity(0, sizeof(set), &set))
		CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &set))
			r->cpu[r->ncpu++] = i;
	if (r->ncpu > 1)
		pin_self(r->cpu[0]);
	r->pgr = -1;
	for (i = 0; i < NMETHODS; i++)
		if (r->o.methods & (1U << i))
			method_table[i].probe(&r->pgr, r->why[i],
					      sizeof(r->why[i]));
	return 0;
}

/* 0 all ok, 1 anything failed, 3 nothing measured. */
static int run_status(const struct run *r)
{
	size_t i, ok = 0;

	for (i = 0; i < r->nrows; i++) {
		if (r->rows[i].status == ST_FAILED)
			return EXIT_FAIL;
		ok += r->rows[i].status == ST_OK;
	}
	return ok ? 0 : EXIT_ENV;
}

/* ---- command line --------------------------------------------------------- */

static const char usage_text[] =
	"Usage: pgremap-bench [OPTIONS]\n"
	"\n"
	"Measures page moves inside one process: PGREMAP_IOC_MOVE (pgremap),\n"
	"UFFDIO_MOVE (uffd-move), UFFDIO_COPY + MADV_DONTNEED (uffd-copy),\n"
	"memcpy + MADV_DONTNEED (memcpy) and mremap. See pgremap-bench(1).\n"
	"\n"
	"Benchmarks (default: both):\n"
	"      --micro             move a populated range into an empty one\n"
	"      --compact           concurrent GC heap compaction with mutators\n"
	"Options:\n"
	"  -m, --methods LIST      methods to run [all]\n"
	"  -b, --batches LIST      micro: pages per call, or thp [1,16,512]\n"
	"      --no-thp            micro: no thp batch (2 MiB THP per call)\n"
	"  -s, --size-mb N         micro: MiB moved per pass [64]\n"
	"  -t, --threads LIST      micro: extra threads touching memory [0,3]\n"
	"      --reps N            micro: passes per measurement, best kept [3]\n"
	"      --heap-mb N         compact: from-space size [64]\n"
	"      --live PCT          compact: percentage of live pages [50]\n"
	"      --seed N            compact: PRNG seed of the live pages [1]\n"
	"      --compact-batch N   compact: contiguous pages per call [1]\n"
	"      --mutators N        compact: mutator threads [2]\n"
	"      --quick             4 MiB micro, 4 MiB heap, 1 rep (smoke test)\n"
	"      --csv FILE          CSV to FILE ('-': stdout, no table)\n"
	"      --json FILE         JSON array to FILE ('-': stdout, no table)\n"
	"  -q, --quiet             no progress on stderr\n"
	"  -h, --help              this text\n"
	"      --version           print the version\n"
	"\n"
	"Exit status: 0 every measurement ok or skipped; 1 a verification or a\n"
	"method failed; 2 usage error; 3 nothing could be measured.\n";

enum {
	OPT_MICRO = 256,
	OPT_COMPACT,
	OPT_NO_THP,
	OPT_REPS,
	OPT_HEAP,
	OPT_LIVE,
	OPT_SEED,
	OPT_CBATCH,
	OPT_MUTATORS,
	OPT_QUICK,
	OPT_CSV,
	OPT_JSON,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "micro", no_argument, NULL, OPT_MICRO },
	{ "compact", no_argument, NULL, OPT_COMPACT },
	{ "methods", required_argument, NULL, 'm' },
	{ "batches", required_argument, NULL, 'b' },
	{ "no-thp", no_argument, NULL, OPT_NO_THP },
	{ "size-mb", required_argument, NULL, 's' },
	{ "threads", required_argument, NULL, 't' },
	{ "reps", required_argument, NULL, OPT_REPS },
	{ "heap-mb", required_argument, NULL, OPT_HEAP },
	{ "live", required_argument, NULL, OPT_LIVE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "compact-batch", required_argument, NULL, OPT_CBATCH },
	{ "mutators", required_argument, NULL, OPT_MUTATORS },
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static bool parse_num(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}

static bool parse_methods(const char *list, unsigned int *mask)
{
	char *copy = strdup(list), *tok, *save = NULL;
	bool ok = copy != NULL;
	int i;

	*mask = 0;
	for (tok = strtok_r(copy, ",", &save); ok && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all")) {
			*mask |= (1U << NMETHODS) - 1;
			continue;
		}
		for (i = 0; i < NMETHODS; i++)
			if (!strcmp(tok, method_table[i].name))
				break;
		ok = i < NMETHODS;
		*mask |= 1U << i;
	}
	free(copy);
	return ok && *mask;
}

/* "1,16,thp": numbers in [min, max], "thp" as 0 if thp_ok. */
static bool parse_list(const char *list, unsigned long min, unsigned long max,
		       bool thp_ok, unsigned long *out, int *n)
{
	char *copy = strdup(list), *tok, *save = NULL;
	bool ok = copy != NULL;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); ok && tok;
	     tok = strtok_r(NULL, ",", &save)) {
		ok = *n < MAX_LIST;
		if (ok && thp_ok && !strcmp(tok, "thp"))
			out[*n] = 0;
		else
			ok = ok && parse_num(tok, min, max, &out[*n]);
		(*n)++;
	}
	free(copy);
	return ok && *n;
}

/* Sizes left 0 here get their (--quick or normal) default after parsing. */
static void opts_default(struct opts *o)
{
	*o = (struct opts){ .methods = (1U << NMETHODS) - 1,
			    .batch = { 1, 16, 512 },
			    .nbatch = 3,
			    .threads = { 0, 3 },
			    .nthreads = 2,
			    .live = 50,
			    .seed = 1,
			    .cbatch = 1,
			    .mutators = 2 };
}

/* The argument of one option; false for a bad value. */
static bool parse_opt(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case 'm':
		return parse_methods(arg, &o->methods);
	case 'b':
		return parse_list(arg, 1, 1UL << 20, true, o->batch,
				  &o->nbatch);
	case 't':
		return parse_list(arg, 0, 1024, false, o->threads,
				  &o->nthreads);
	case 's':
		return parse_num(arg, 1, 1UL << 20, &o->size_mb);
	case OPT_REPS:
		return parse_num(arg, 1, 1000, &o->reps);
	case OPT_HEAP:
		return parse_num(arg, 1, 1UL << 20, &o->heap_mb);
	case OPT_LIVE:
		return parse_num(arg, 1, 100, &o->live);
	case OPT_SEED:
		return parse_num(arg, 0, ULONG_MAX, &o->seed);
	case OPT_CBATCH:
		return parse_num(arg, 1, 1UL << 20, &o->cbatch);
	case OPT_MUTATORS:
		return parse_num(arg, 0, 1024, &o->mutators);
	}
	return false;
}

/* The thp batch: appended unless --no-thp, which also drops a listed one. */
static void opts_thp(struct opts *o, bool no_thp)
{
	bool has = false;
	int i, n = 0;

	for (i = 0; i < o->nbatch; i++) {
		if (o->batch[i] == 0 && (no_thp || has))
			continue;
		has |= o->batch[i] == 0;
		o->batch[n++] = o->batch[i];
	}
	o->nbatch = n;
	if (!no_thp && !has && o->nbatch < MAX_LIST)
		o->batch[o->nbatch++] = 0;
}

static void opts_finish(struct opts *o, bool quick, bool no_thp)
{
	if (!o->size_mb)
		o->size_mb = quick ? 4 : 64;
	if (!o->heap_mb)
		o->heap_mb = quick ? 4 : 64;
	if (!o->reps)
		o->reps = quick ? 1 : 3;
	opts_thp(o, no_thp);
	if (!o->micro && !o->compact)
		o->micro = o->compact = true;
}

/* Options into o; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	bool quick = false, no_thp = false;
	int c;

	opts_default(o);
	while ((c = getopt_long(argc, argv, "m:b:s:t:qh", long_opts, NULL)) !=
	       -1) {
		switch (c) {
		case OPT_MICRO:
			o->micro = true;
			break;
		case OPT_COMPACT:
			o->compact = true;
			break;
		case OPT_NO_THP:
			no_thp = true;
			break;
		case OPT_QUICK:
			quick = true;
			break;
		case OPT_CSV:
			o->csv = optarg;
			break;
		case OPT_JSON:
			o->json = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_VERSION:
			printf("pgremap-bench %s\n", PGREMAP_TOOLS_VERSION);
			return 0;
		case '?':
			return EXIT_USAGE;
		default:
			if (!parse_opt(o, c, optarg)) {
				fprintf(stderr,
					"pgremap-bench: bad value '%s' (see --help)\n",
					optarg);
				return EXIT_USAGE;
			}
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pgremap-bench: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	opts_finish(o, quick, no_thp);
	return -1;
}

/* "-" is stdout; a file is created now, so a bad path fails early. */
static FILE *open_out(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;

	if (!f)
		fprintf(stderr, "pgremap-bench: %s: %s\n", path,
			strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path)
{
	if (f == stdout ? !fflush(f) : !fclose(f))
		return 0;
	fprintf(stderr, "pgremap-bench: %s: %s\n", path, strerror(errno));
	return -1;
}

int main(int argc, char **argv)
{
	static struct run r; /* large (CPU list): not on the stack */
	int ret = parse_args(argc, argv, &r.o);

	if (ret >= 0)
		return ret;
	r.csv = r.o.csv ? open_out(r.o.csv) : NULL;
	r.json = r.o.json ? open_out(r.o.json) : NULL;
	if ((r.o.csv && !r.csv) || (r.o.json && !r.json))
		return EXIT_USAGE;
	if (r.csv)
		fputs(csv_header, r.csv);
	if (run_init(&r))
		return EXIT_ENV;
	run_all(&r);
	if (r.json)
		write_json(&r, r.json);
	if ((r.csv && close_out(r.csv, r.o.csv)) ||
	    (r.json && close_out(r.json, r.o.json)))
		return EXIT_ENV;
	if (r.csv != stdout && r.json != stdout)
		print_table(&r);
	return run_status(&r);
}
