// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap-fuzz: random and edge-case ioctls on /dev/pgremap (issue 5).
 *
 * Every call must succeed or fail with an errno that tools/pgremap.4
 * documents for that ioctl (the table `documented` below). On top of that
 * a model predicts, where the man page makes the answer certain, which of
 * the documented answers the call may give, and an oracle checks memory:
 *
 *  args     random and overflowing addresses, lengths and modes, API
 *           handshakes with random api/features, wrong ioctl numbers and
 *           sizes, with a readable and writable struct. Addresses come from
 *           a fixed layout of regions of every kind (private RW, THP,
 *           mlocked, read-only, PROT_NONE, shared, private file) separated
 *           by holes, plus edge constants and random values. A call whose
 *           arguments could pass the checks and touch memory this program
 *           does not own (its stack, heap) is made safe first: that side is
 *           then paired with a hole, so it can only fail with ENOENT.
 *  structs  the struct pointer: NULL, low, unmapped, kernel, non-canonical,
 *           PROT_NONE, read-only (the kernel writes .move back), straddling
 *           into a PROT_NONE page or past the end of a mapping (truncated
 *           struct), unaligned, inside the source or destination range.
 *           Moves whose struct is readable run on a tagged arena and are
 *           checked: whatever moved is a prefix, nothing lost or doubled.
 *  oracle   no other thread; two tagged arenas (one across a page-table
 *           boundary). Each page is empty, the zero page, or carries a tag
 *           (page id + generation). Before each move the model predicts
 *           errno and .move from the page states (pages move in address
 *           order; a populated dst page stops with EEXIST, an empty src
 *           page with ENOENT unless ALLOW_SRC_HOLES; a short move fails
 *           with EAGAIN and .move = bytes moved); after it every page of
 *           both arenas is checked (mincore + tag words).
 *  race     a racer thread munmaps/mmaps/mprotects/MADV_DONTNEEDs/mlocks/
 *           mremaps/forks over an arena (half THP) while this thread and a
 *           helper thread move pages inside it; errnos are checked
 *           against the table and .move against the errno; every round the
 *           threads stop and the arena is scanned: every page is zero or
 *           holds a racer tag that appears exactly once.
 *
 * The generator is seeded per call (seed, call index), and every address
 * lies in a fixed layout (MAP_FIXED_NOREPLACE at FUZZ_BASE), so a failing
 * call is replayed with the same options plus --replay INDEX. See --help.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <linux/pgremap.h>

typedef __u64 u64;
typedef __s64 s64;

#define EXIT_CLEAN 0
#define EXIT_VIOLATION 1
#define EXIT_USAGE 2
#define EXIT_SETUP 3

#define PS 4096UL
#define PMD_SZ (2UL << 20)
#define PGMASK (~(PS - 1))
#define SENTINEL ((s64)0x5a5a5a5a5a5a5a5aLL)
#define GARBAGE 0xa5a5a5a5a5a5a5a5ULL
#define MODES_ALL \
	(PGREMAP_MOVE_MODE_DONTWAKE | PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES)
#define HOLES PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES
#define IOCTLS_SERVED ((1ULL << _PGREMAP_API) | (1ULL << _PGREMAP_MOVE))

/* Where the layout starts: far below mmap_base, far above brk. */
#define FUZZ_BASE 0x3e0000000000UL
#define GAP_PAGES 16

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the documented errnos ---------------------------------------------- */

enum kind { K_API, K_MOVE, K_OTHER, NKIND };

#define EBIT(e) (1ULL << (e))
#define OKBIT 1ULL /* bit 0: the call succeeded */

_Static_assert(EAGAIN < 64 && EBUSY < 64 && EEXIST < 64 && EFAULT < 64 &&
		       EINTR < 64 && EINVAL < 64 && ENOENT < 64 &&
		       ENOMEM < 64 && ESRCH < 64 && ENOTTY < 64,
	       "errno masks are 64 bits");

/*
 * tools/pgremap.4, ERRORS and the section of each ioctl. The ERRORS list
 * is shared; it is split here by what each section says:
 *  - PGREMAP_IOC_API: EINVAL (unknown api, unsupported required feature,
 *    section PGREMAP_IOC_API) and EFAULT ("the argument could not be read
 *    or written").
 *  - PGREMAP_IOC_MOVE: every other entry but ENOTTY.
 *  - any other ioctl number: ENOTTY ("an ioctl the device does not know").
 */
static const struct {
	const char *name;
	u64 errnos;
} documented[NKIND] = {
	[K_API] = { "PGREMAP_IOC_API", EBIT(EFAULT) | EBIT(EINVAL) },
	[K_MOVE] = { "PGREMAP_IOC_MOVE",
		     EBIT(EAGAIN) | EBIT(EBUSY) | EBIT(EEXIST) | EBIT(EFAULT) |
			     EBIT(EINTR) | EBIT(EINVAL) | EBIT(ENOENT) |
			     EBIT(ENOMEM) | EBIT(ESRCH) },
	[K_OTHER] = { "other ioctl number", EBIT(ENOTTY) },
};

/* The table in use: --break errno takes EINVAL out of the MOVE entry. */
static u64 doc_errnos[NKIND];

/*
 * Ioctl numbers the VFS serves itself before the device sees them
 * (fs/ioctl.c do_vfs_ioctl(), 6.1 and 6.12): FIOCLEX, FIONBIO, ... ('T'),
 * FIFREEZE, FITHAW, FS_IOC_FS[GS]ETXATTR ('X'), FS_IOC_FIEMAP,
 * FS_IOC_[GS]ETFLAGS ('f'), FICLONE, FIDEDUPERANGE (0x94),
 * FS_IOC_GETFSUUID, FS_IOC_GETFSSYSFSPATH (0x15), FIBMAP, FIGETBSZ (1, 2).
 * Their answers are the VFS's, not the device's (and FIFREEZE as root
 * would freeze devtmpfs): the generator never issues them.
 */
static bool vfs_ioctl_number(unsigned int cmd)
{
	unsigned int type = (cmd >> 8) & 0xff;

	return type == 'T' || type == 'X' || type == 'f' || type == 0x94 ||
	       type == 0x15 || cmd == 1 || cmd == 2;
}

/* ---- options and state -------------------------------------------------- */

enum phase { PH_ARGS, PH_STRUCTS, PH_ORACLE, PH_RACE, NPHASE };
static const char *const phase_name[NPHASE] = { "args", "structs", "oracle",
						"race" };

static struct {
	u64 seed;
	u64 count;
	unsigned int phases; /* bit per phase */
	unsigned int weight[NPHASE];
	bool replay;
	u64 replay_idx;
	const char *dev;
	bool brk_errno, brk_oracle;
	bool trace;
	unsigned int max_print;
	unsigned int round;
	unsigned int race_ratio;
} opt = {
	.seed = 1,
	.count = 1000000,
	.phases = (1u << NPHASE) - 1,
	.weight = { 94, 2, 2, 2 },
	.dev = "/dev/pgremap",
	.max_print = 20,
	.round = 2000,
	.race_ratio = 16,
};

static char optline[512]; /* the options, for the replay line */

static int fd = -1;
static u64 ts; /* the top of the address space (mm->task_size) */
static u64 mmin; /* the lowest address a move may start at */

struct stats {
	u64 hist[NKIND][256]; /* [0]: success, [e]: errno e, [255]: other */
	u64 calls;
};

static struct stats st_main;
static u64 phase_hist[NPHASE][256]; /* PGREMAP_IOC_MOVE answers per phase */
static u64 phase_calls[NPHASE], helper_calls;
static double phase_secs[NPHASE];
/* Memory checks per phase: calls (or scans) verified, pages verified. */
static u64 checks[NPHASE], check_pages[NPHASE];
/* structs: a valid move whose .move could not be written: pages moved. */
static u64 efault_all, efault_some, efault_none;
static u64 v_undoc, v_model, v_oracle, v_printed;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- random numbers ----------------------------------------------------- */

struct rng {
	u64 s;
};

static u64 rnd64(struct rng *r)
{
	u64 z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static u64 rnd(struct rng *r, u64 n)
{
	return n ? rnd64(r) % n : 0;
}

static struct rng rng_for(u64 idx, u64 stream)
{
	struct rng r = { opt.seed * 0xd1342543de82ef95ULL ^
			 (idx + 1) * 0x9e3779b97f4a7c15ULL ^
			 stream * 0xc2b2ae3d27d4eb4fULL };

	rnd64(&r);
	return r;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- the layout --------------------------------------------------------- */

/*
 * Regions, each its own VMA (or two), separated by GAP_PAGES unmapped
 * pages. The pool regions are what the args phase aims at and models;
 * the others (struct pages, the arenas of the other phases) are
 * "protected": to the model they are foreign memory.
 */
enum reg_id {
	RG_A, /* private anonymous RW */
	RG_B, /* another one: moves between VMAs */
	RG_THP, /* RW, MADV_HUGEPAGE, 2 MiB aligned */
	RG_MLOCK, /* RW, mlock2(MLOCK_ONFAULT) */
	RG_RO, /* PROT_READ, half populated */
	RG_NONE, /* PROT_NONE */
	RG_SHARED, /* MAP_SHARED anonymous */
	RG_FILE, /* MAP_PRIVATE of a memfd, half COWed */
	RG_SA, /* struct pages: [RW][PROT_NONE] */
	RG_SE, /* struct page: [RW] then a hole */
	RG_SRO, /* struct page, made read-only per call */
	RG_SNONE, /* struct page, PROT_NONE */
	RG_SS, /* structs phase: source arena */
	RG_SD, /* structs phase: destination arena */
	RG_O1, /* oracle arena 1, across a PMD boundary */
	RG_O2, /* oracle arena 2 */
	RG_RACE, /* race arena, 2 MiB aligned, first half THP */
	NREG,
};
#define NPOOL (RG_FILE + 1)

#define SS_PAGES 16
#define O1_PAGES 96
#define O1_PMD_AT 40 /* a PMD boundary before page 40 of O1 */
#define O2_PAGES 32
#define O_PAGES (O1_PAGES + O2_PAGES)
#define R_PAGES 1024

struct region {
	const char *name;
	u64 pages;
	u64 align; /* bytes; 0: none */
	u64 pre; /* bytes after the aligned address */
	int group; /* pool: moves only between regions of the same group */
	u64 start, end;
	char *p;
};

static struct region reg[NREG] = {
	[RG_A] = { "A", 64, 0, 0, 1 },
	[RG_B] = { "B", 64, 0, 0, 1 },
	[RG_THP] = { "THP", 1024, PMD_SZ, 0, 1 },
	[RG_MLOCK] = { "MLOCK", 32, 0, 0, 2 },
	[RG_RO] = { "RO", 16, 0, 0, 0 },
	[RG_NONE] = { "NONE", 16, 0, 0, 0 },
	[RG_SHARED] = { "SHARED", 16, 0, 0, 0 },
	[RG_FILE] = { "FILE", 16, 0, 0, 0 },
	[RG_SA] = { "struct[RW|NONE]", 2, 0, 0, 0 },
	[RG_SE] = { "struct[RW|end]", 1, 0, 0, 0 },
	[RG_SRO] = { "struct[RO]", 1, 0, 0, 0 },
	[RG_SNONE] = { "struct[NONE]", 1, 0, 0, 0 },
	[RG_SS] = { "SS", SS_PAGES, 0, 0, 0 },
	[RG_SD] = { "SD", SS_PAGES, 0, 0, 0 },
	[RG_O1] = { "O1", O1_PAGES, PMD_SZ, (512 - O1_PMD_AT) * PS, 0 },
	[RG_O2] = { "O2", O2_PAGES, 0, 0, 0 },
	[RG_RACE] = { "RACE", R_PAGES, PMD_SZ, 0, 0 },
};

static u64 fuzz_end;

static void die_setup(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pgremap-fuzz: setup: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EXIT_SETUP);
}

static char *map_at(u64 addr, u64 len, int prot, int flags, int mfd)
{
	void *p = mmap((void *)addr, len, prot,
		       flags | MAP_FIXED_NOREPLACE |
			       (mfd < 0 ? MAP_ANONYMOUS : 0),
		       mfd, 0);

	if (p == MAP_FAILED)
		die_setup("mmap %#lx + %#lx: %s", (unsigned long)addr,
			  (unsigned long)len, strerror(errno));
	if ((u64)p != addr)
		die_setup("mmap %#lx: got %p (no MAP_FIXED_NOREPLACE?)",
			  (unsigned long)addr, p);
	return p;
}

static void xmadvise(void *p, u64 len, int advice)
{
	if (madvise(p, len, advice))
		die_setup("madvise %p + %#lx, %d: %s", p, (unsigned long)len,
			  advice, strerror(errno));
}

static void xmprotect(void *p, u64 len, int prot)
{
	if (mprotect(p, len, prot))
		die_setup("mprotect %p + %#lx: %s", p, (unsigned long)len,
			  strerror(errno));
}

static bool mlock_ok = true;

static void layout(void)
{
	u64 cur = FUZZ_BASE + GAP_PAGES * PS;
	int i, mfd;

	for (i = 0; i < NREG; i++) {
		struct region *g = &reg[i];

		if (g->align)
			cur = ((cur + g->align - 1) & ~(g->align - 1)) + g->pre;
		g->start = cur;
		g->end = cur + g->pages * PS;
		cur = g->end + GAP_PAGES * PS;
	}
	fuzz_end = cur;

	for (i = 0; i < NREG; i++) {
		struct region *g = &reg[i];
		u64 len = g->pages * PS;

		switch (i) {
		case RG_SHARED:
			g->p = map_at(g->start, len, PROT_READ | PROT_WRITE,
				      MAP_SHARED, -1);
			break;
		case RG_FILE:
			mfd = memfd_create("pgremap-fuzz", MFD_CLOEXEC);
			if (mfd < 0 || ftruncate(mfd, len))
				die_setup("memfd: %s", strerror(errno));
			g->p = map_at(g->start, len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE, mfd);
			close(mfd);
			break;
		case RG_NONE:
		case RG_SNONE:
			g->p = map_at(g->start, len, PROT_NONE, MAP_PRIVATE,
				      -1);
			break;
		default:
			g->p = map_at(g->start, len, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE, -1);
		}
	}
	xmadvise(reg[RG_THP].p, reg[RG_THP].pages * PS, MADV_HUGEPAGE);
	xmadvise(reg[RG_RACE].p, R_PAGES / 2 * PS, MADV_HUGEPAGE);
	xmadvise(reg[RG_A].p, reg[RG_A].pages * PS, MADV_NOHUGEPAGE);
	xmadvise(reg[RG_B].p, reg[RG_B].pages * PS, MADV_NOHUGEPAGE);
	xmadvise(reg[RG_SS].p, SS_PAGES * PS, MADV_NOHUGEPAGE);
	xmadvise(reg[RG_SD].p, SS_PAGES * PS, MADV_NOHUGEPAGE);
	xmadvise(reg[RG_O1].p, O1_PAGES * PS, MADV_NOHUGEPAGE);
	xmadvise(reg[RG_O2].p, O2_PAGES * PS, MADV_NOHUGEPAGE);
	xmprotect(reg[RG_SA].p + PS, PS, PROT_NONE);
	/* Half of RO and FILE populated (FILE: COWed anonymous pages). */
	for (i = 0; i < (int)reg[RG_RO].pages; i += 2) {
		reg[RG_RO].p[i * PS] = 1;
		reg[RG_FILE].p[i * PS] = 1;
		reg[RG_SHARED].p[i * PS] = 1;
	}
	xmprotect(reg[RG_RO].p, reg[RG_RO].pages * PS, PROT_READ);
	if (mlock2(reg[RG_MLOCK].p, reg[RG_MLOCK].pages * PS, MLOCK_ONFAULT)) {
		/* Not root: a plain RW region then. */
		mlock_ok = false;
		reg[RG_MLOCK].group = 1;
	}
}

/* A random page of the holes between regions. */
static u64 hole_addr(struct rng *r)
{
	u64 i = rnd(r, NREG + 1);
	u64 at = i == NREG ? FUZZ_BASE : reg[i].end;

	return at + rnd(r, GAP_PAGES) * PS;
}

enum cls { C_HOLE, C_INSIDE, C_CROSS, C_UNKNOWN };
static const char *const cls_name[] = { "hole", "inside", "crosses the end of",
					"unknown" };

/* What [addr, addr + len) is to the model; *ri: the pool region. */
static enum cls classify(u64 addr, u64 len, int *ri)
{
	int i;

	*ri = -1;
	if (addr < FUZZ_BASE || addr >= fuzz_end)
		return C_UNKNOWN;
	for (i = 0; i < NREG; i++) {
		if (addr < reg[i].start || addr >= reg[i].end)
			continue;
		if (i >= NPOOL)
			return C_UNKNOWN; /* protected: as foreign memory */
		*ri = i;
		return len <= reg[i].end - addr ? C_INSIDE : C_CROSS;
	}
	return C_HOLE;
}

/* ---- one call ----------------------------------------------------------- */

struct call {
	u64 idx;
	int phase;
	int kind;
	bool helper; /* a race-phase helper thread: not replayable */
	unsigned long cmd;
	unsigned long arg;
	const char *place;
	bool has_move, has_api;
	struct pgremap_move mv; /* the struct as passed */
	struct pgremap_api api;
	bool readable, writable; /* by the kernel, whole struct */
	u64 expect; /* allowed answers */
	bool exact_move; /* .move must equal move_want */
	s64 move_want;
	char note[256];
	/* results */
	long ret;
	int err;
	s64 *mv_back; /* where to read .move after the call, or NULL */
	s64 mv_out;
	struct pgremap_api *api_back;
	struct pgremap_api api_out;
};

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "success";

	return n ? n : "?";
}

static void mask_str(u64 m, char *buf, size_t len)
{
	size_t o = 0;
	int e;

	buf[0] = 0;
	for (e = 0; e < 64 && o < len; e++)
		if (m & (1ULL << e))
			o += snprintf(buf + o, len - o, "%s%s", o ? "," : "",
				      ename(e));
}

static const char *kind_name(int kind)
{
	return documented[kind].name;
}

static void print_call(FILE *o, const struct call *cl)
{
	char exp[256], doc[256];

	fprintf(o, "  call %llu%s, phase %s, seed %llu\n", cl->idx,
		cl->helper ? " (race helper thread)" : "",
		phase_name[cl->phase], opt.seed);
	fprintf(o, "  ioctl(fd, %#lx [%s], %#lx) struct: %s\n", cl->cmd,
		kind_name(cl->kind), cl->arg, cl->place ? cl->place : "-");
	if (cl->has_move)
		fprintf(o,
			"  in:  dst=%#llx src=%#llx len=%#llx mode=%#llx "
			"move=%#llx\n",
			(unsigned long long)cl->mv.dst,
			(unsigned long long)cl->mv.src,
			(unsigned long long)cl->mv.len,
			(unsigned long long)cl->mv.mode,
			(unsigned long long)cl->mv.move);
	if (cl->has_api)
		fprintf(o, "  in:  api=%#llx features=%#llx ioctls=%#llx\n",
			(unsigned long long)cl->api.api,
			(unsigned long long)cl->api.features,
			(unsigned long long)cl->api.ioctls);
	fprintf(o, "  out: ret=%ld errno=%s (%d)", cl->ret,
		ename(cl->ret ? cl->err : 0), cl->ret ? cl->err : 0);
	if (cl->has_move && cl->mv_back)
		fprintf(o, " move=%lld (%#llx)", (long long)cl->mv_out,
			(unsigned long long)cl->mv_out);
	if (cl->has_api && cl->api_back)
		fprintf(o, " api=%#llx features=%#llx ioctls=%#llx",
			(unsigned long long)cl->api_out.api,
			(unsigned long long)cl->api_out.features,
			(unsigned long long)cl->api_out.ioctls);
	fprintf(o, "\n");
	mask_str(cl->expect, exp, sizeof(exp));
	mask_str(doc_errnos[cl->kind], doc, sizeof(doc));
	fprintf(o, "  expected: {%s}", exp);
	if (cl->exact_move)
		fprintf(o, " with move=%lld", (long long)cl->move_want);
	fprintf(o, "; documented for %s: {%s}\n", kind_name(cl->kind), doc);
	if (cl->note[0])
		fprintf(o, "  model: %s\n", cl->note);
}

enum vclass { V_UNDOC, V_MODEL, V_ORACLE };

static void violation(const struct call *cl, enum vclass vc, const char *fmt,
		      ...)
{
	static const char *const vname[] = { "undocumented errno", "model",
					     "oracle" };
	va_list ap;

	pthread_mutex_lock(&report_lock);
	if (vc == V_UNDOC)
		v_undoc++;
	else if (vc == V_MODEL)
		v_model++;
	else
		v_oracle++;
	if (v_printed++ < opt.max_print) {
		printf("VIOLATION [%s] ", vname[vc]);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		if (cl) {
			print_call(stdout, cl);
			if (!cl->helper)
				printf("  replay: pgremap-fuzz %s --replay %llu"
				       "%s\n",
				       optline, cl->idx,
				       cl->phase == PH_RACE ?
					       " (race: the interleaving may not repeat)" :
					       "");
		}
		fflush(stdout);
	} else if (v_printed == opt.max_print + 1) {
		printf("(further violations counted, not printed)\n");
	}
	pthread_mutex_unlock(&report_lock);
}

static void issue(struct call *cl)
{
	errno = 0;
	cl->ret = ioctl(fd, cl->cmd, cl->arg);
	cl->err = errno;
	if (cl->mv_back)
		cl->mv_out = *(volatile s64 *)cl->mv_back;
	if (cl->api_back)
		cl->api_out = *cl->api_back;
}

/*
 * The checks every call gets: a documented answer; one the model allows;
 * a .move consistent with the answer; the API write-back. Returns false
 * on a violation.
 */
static bool check(struct call *cl, struct stats *s)
{
	int e = cl->ret ? cl->err : 0;
	bool ok = true;

	s->calls++;
	s->hist[cl->kind][e < 255 ? e : 255]++;
	if (cl->kind == K_MOVE && s == &st_main)
		phase_hist[cl->phase][e < 255 ? e : 255]++;
	if (opt.trace) {
		pthread_mutex_lock(&report_lock);
		printf("trace:\n");
		print_call(stdout, cl);
		pthread_mutex_unlock(&report_lock);
	}
	if (cl->ret != 0 && cl->ret != -1) {
		violation(cl, V_UNDOC, "ioctl returned %ld", cl->ret);
		return false;
	}
	if (e && (e >= 64 || !(doc_errnos[cl->kind] & EBIT(e)))) {
		violation(cl, V_UNDOC, "%s answered %s, not documented",
			  kind_name(cl->kind), ename(e));
		return false;
	}
	if (!(cl->expect & (1ULL << e))) {
		violation(cl, V_MODEL,
			  "%s answered %s, not what the man page "
			  "says for these arguments",
			  kind_name(cl->kind), ename(e));
		ok = false;
	}
	if (cl->kind == K_MOVE && cl->has_move && cl->mv_back && cl->writable) {
		s64 mv = cl->mv_out;
		bool good;

		if (!e)
			good = mv == (s64)cl->mv.len;
		else if (e == EAGAIN)
			good = mv > 0 && (u64)mv < cl->mv.len &&
			       !(mv & (PS - 1));
		else if (e == EINVAL)
			good = mv == SENTINEL || mv == -EINVAL;
		else
			good = mv == -e;
		if (ok && cl->exact_move && mv != cl->move_want)
			good = false;
		if (!good) {
			violation(cl, V_MODEL, ".move %lld does not fit %s",
				  (long long)mv, ename(e));
			ok = false;
		}
	}
	if (cl->kind == K_API && cl->api_back && cl->writable &&
	    (e == 0 || e == EINVAL)) {
		const struct pgremap_api *a = &cl->api_out;

		if (a->api != PGREMAP_API ||
		    a->features != PGREMAP_FEATURES_ALL ||
		    a->ioctls != (e ? 0 : IOCTLS_SERVED)) {
			violation(cl, V_MODEL, "API write-back wrong");
			ok = false;
		}
	}
	return ok;
}

/* ---- argument generators ------------------------------------------------ */

static bool arg_valid(const struct pgremap_move *m)
{
	if (m->mode & ~(u64)MODES_ALL)
		return false;
	if ((m->dst | m->src | m->len) & (PS - 1) || !m->len)
		return false;
	if (m->dst < mmin || m->src < mmin)
		return false;
	if (m->dst >= ts || m->len > ts - m->dst || m->src >= ts ||
	    m->len > ts - m->src)
		return false;
	return !(m->src < m->dst + m->len && m->dst < m->src + m->len);
}

static u64 edge_addr(struct rng *r)
{
	const u64 e[] = {
		0,
		1,
		PS - 1,
		PS,
		mmin - PS,
		mmin - 1,
		mmin,
		mmin + PS,
		ts - 2 * PS,
		ts - PS,
		ts - 1,
		ts,
		ts + PS,
		(1ULL << 47) - PS,
		1ULL << 47,
		(1ULL << 56) - PS,
		1ULL << 56,
		0x0000800000000000ULL,
		0x8000000000000000ULL,
		0x7ffffffffffff000ULL,
		0xffff800000000000ULL,
		0xffff888000000000ULL,
		0xffffc90000000000ULL,
		0xffffffff81000000ULL,
		0xffffffffff600000ULL, /* vsyscall */
		~0ULL,
		~0ULL & PGMASK,
		~0ULL - 2 * PS + 1,
		FUZZ_BASE - PS,
		fuzz_end,
	};

	return e[rnd(r, ARRAY_SIZE(e))];
}

static u64 pool_addr(struct rng *r, int ri)
{
	u64 n = reg[ri].pages;

	switch (rnd(r, 6)) {
	case 0:
		return reg[ri].start;
	case 1:
		return reg[ri].end - PS;
	case 2:
		return reg[ri].end; /* the hole after it */
	case 3:
		return reg[ri].start - PS; /* the hole before it */
	default:
		return reg[ri].start + rnd(r, n) * PS;
	}
}

static u64 gen_addr(struct rng *r, bool rel, u64 other, u64 len)
{
	u64 a;

	switch (rnd(r, 20)) {
	case 0 ... 7:
		a = pool_addr(r, rnd(r, NPOOL));
		break;
	case 8 ... 9:
		a = hole_addr(r);
		break;
	case 10 ... 12:
		a = edge_addr(r);
		break;
	case 13:
		a = rnd64(r);
		if (rnd(r, 2))
			a &= PGMASK;
		break;
	case 14 ... 15:
		a = rnd(r, ts) & PGMASK;
		break;
	default:
		if (!rel)
			return pool_addr(r, rnd(r, NPOOL));
		switch (rnd(r, 6)) {
		case 0:
			return other; /* the same range */
		case 1:
			return other + len - PS; /* overlaps one page */
		case 2:
			return other - len + PS;
		case 3:
			return other + len; /* adjacent */
		case 4:
			return other - len;
		default:
			return other + (rnd(r, 17) - 8) * PS;
		}
	}
	if (rnd(r, 20) == 0)
		a += 1 + rnd(r, PS - 1);
	return a;
}

static u64 gen_len(struct rng *r, u64 dst)
{
	switch (rnd(r, 30)) {
	case 0:
		return 0;
	case 1:
		return 1;
	case 2:
		return PS - 1;
	case 3:
		return PS + 1 + rnd(r, PS - 1);
	case 4:
		return (1 + rnd(r, 64)) * PS + 1 + rnd(r, PS - 1);
	case 5:
		return PMD_SZ;
	case 6:
		return (1 + rnd(r, 4)) * PMD_SZ + (rnd(r, 2) ? PS : 0);
	case 7:
		return 1ULL << (30 + rnd(r, 18));
	case 8:
		return ts;
	case 9:
		return ts - dst; /* up to the top exactly */
	case 10:
		return ts - dst + PS; /* one page past the top */
	case 11:
		return -dst; /* dst + len wraps to 0 */
	case 12:
		return -dst + PS; /* wraps past 0 */
	case 13:
		return ~0ULL;
	case 14:
		return -PS;
	case 15:
		return 1ULL << 63;
	case 16:
		return rnd64(r);
	case 17:
		return rnd64(r) & PGMASK;
	default:
		return (1 + rnd(r, 32)) * PS;
	}
}

static u64 gen_mode(struct rng *r)
{
	switch (rnd(r, 20)) {
	case 0 ... 11:
		return rnd(r, 4);
	case 12 ... 14:
		return 1ULL << (2 + rnd(r, 62));
	case 15:
		return ~0ULL;
	case 16 ... 17:
		return rnd(r, 4) | 1ULL << (2 + rnd(r, 62));
	default:
		return rnd64(r);
	}
}

/*
 * A call whose arguments pass the checks must not reach memory this
 * program does not own: an unknown side is paired with a hole (the call
 * can then only fail with ENOENT), or, failing that, made invalid.
 */
static void make_safe(struct rng *r, struct pgremap_move *m)
{
	int i, rd, rs;

	for (i = 0; i < 4; i++) {
		enum cls dc, sc;

		if (!arg_valid(m))
			return;
		dc = classify(m->dst, m->len, &rd);
		sc = classify(m->src, m->len, &rs);
		if ((dc != C_UNKNOWN || sc == C_HOLE) &&
		    (sc != C_UNKNOWN || dc == C_HOLE))
			return;
		if (dc == C_UNKNOWN)
			m->src = hole_addr(r);
		else
			m->dst = hole_addr(r);
	}
	if (arg_valid(m))
		m->len |= 1;
}

/* What the man page allows for a readable struct; note says why. */
static u64 expect_move(const struct pgremap_move *m, char *note, size_t nl)
{
	enum cls dc, sc;
	int rd, rs;
	u64 set;

	if (!arg_valid(m)) {
		snprintf(note, nl,
			 "arguments invalid (alignment, length 0, "
			 "range, overlap or mode bit)");
		return EBIT(EINVAL);
	}
	dc = classify(m->dst, m->len, &rd);
	sc = classify(m->src, m->len, &rs);
	snprintf(note, nl, "arguments valid; dst %s %s, src %s %s",
		 cls_name[dc], rd >= 0 ? reg[rd].name : "", cls_name[sc],
		 rs >= 0 ? reg[rs].name : "");
	if (dc == C_HOLE || sc == C_HOLE) {
		enum cls oc = dc == C_HOLE ? sc : dc;
		int ori = dc == C_HOLE ? rs : rd;

		set = EBIT(ENOENT);
		/* The other side may be wrong too: EINVAL fits as well. */
		if (oc == C_CROSS || oc == C_UNKNOWN ||
		    (oc == C_INSIDE && !reg[ori].group))
			set |= EBIT(EINVAL);
		return set;
	}
	/* make_safe() leaves no unknown side without a hole. */
	if (dc == C_UNKNOWN || sc == C_UNKNOWN)
		return 0;
	if (dc == C_CROSS || sc == C_CROSS)
		return EBIT(EINVAL);
	if (!reg[rd].group || reg[rd].group != reg[rs].group)
		return EBIT(EINVAL);
	/* Two compatible VMAs: the page states decide. */
	set = OKBIT | EBIT(EAGAIN) | EBIT(EEXIST);
	if (!(m->mode & HOLES))
		set |= EBIT(ENOENT);
	if (rd == RG_THP || rs == RG_THP)
		set |= EBIT(EBUSY); /* a THP that could not be split */
	return set;
}

static void gen_move(struct rng *r, struct pgremap_move *m)
{
	if (rnd(r, 100) < 30) {
		/* Aimed at the pool: mostly whole, compatible ranges. */
		int rd = rnd(r, NPOOL), rs = rnd(r, NPOOL);
		u64 n, lim;

		if (rnd(r, 2)) {
			rd = rnd(r, 3); /* A, B, THP */
			rs = rnd(r, 3);
		}
		lim = reg[rd].pages < reg[rs].pages ? reg[rd].pages :
						      reg[rs].pages;
		n = 1 + rnd(r, lim < 32 ? lim : 32);
		m->dst = reg[rd].start + rnd(r, reg[rd].pages - n + 1) * PS;
		m->src = reg[rs].start + rnd(r, reg[rs].pages - n + 1) * PS;
		if (rd == RG_THP && rs == RG_THP && rnd(r, 2)) {
			/* A whole PMD, or a part of one, either way. */
			u64 h = rnd(r, 2);

			n = rnd(r, 2) ? 512 : 1 + rnd(r, 512);
			m->src = reg[rs].start + h * PMD_SZ;
			m->dst = reg[rs].start + (1 - h) * PMD_SZ;
		}
		m->len = n * PS;
		if (rnd(r, 10) == 0)
			m->len += (1 + rnd(r, 4)) * PS; /* past the end */
		m->mode = rnd(r, 10) ? rnd(r, 4) : gen_mode(r);
	} else {
		m->dst = gen_addr(r, false, 0, 0);
		m->len = gen_len(r, m->dst);
		m->src = gen_addr(r, true, m->dst, m->len);
		if (rnd(r, 2)) {
			u64 t = m->dst;

			m->dst = m->src;
			m->src = t;
		}
		m->mode = gen_mode(r);
	}
	m->move = SENTINEL;
	make_safe(r, m);
}

static void gen_api(struct rng *r, struct pgremap_api *a)
{
	switch (rnd(r, 8)) {
	case 0 ... 3:
		a->api = PGREMAP_API;
		break;
	case 4:
		a->api = PGREMAP_API + rnd(r, 5) - 2;
		break;
	case 5:
		a->api = PGREMAP_API | 1ULL << rnd(r, 64);
		break;
	case 6:
		a->api = rnd(r, 2) ? 0 : ~0ULL;
		break;
	default:
		a->api = rnd64(r);
	}
	switch (rnd(r, 8)) {
	case 0 ... 2:
		a->features = 0;
		break;
	case 3:
		a->features = PGREMAP_FEATURES_ALL;
		break;
	case 4:
		a->features = rnd64(r) & PGREMAP_FEATURES_ALL;
		break;
	case 5:
		a->features = 1ULL << rnd(r, 64);
		break;
	case 6:
		a->features = ~0ULL;
		break;
	default:
		a->features = rnd64(r);
	}
	a->ioctls = GARBAGE;
}

static u64 expect_api(const struct pgremap_api *a)
{
	return a->api == PGREMAP_API && !(a->features & ~PGREMAP_FEATURES_ALL) ?
		       OKBIT :
		       EBIT(EINVAL);
}

static unsigned long gen_other_cmd(struct rng *r)
{
	unsigned long c;

	do {
		switch (rnd(r, 10)) {
		case 0 ... 3: {
			/* Our magic: other numbers, sizes, directions. */
			static const unsigned int sizes[] = {
				0,  1,	8,  16, 23, 24,	  25,
				32, 39, 40, 41, 48, 4096,
			};
			unsigned int nr = rnd(r, 3) ? rnd(r, 4) : rnd(r, 256);
			unsigned int sz =
				rnd(r, 2) ? sizes[rnd(r, ARRAY_SIZE(sizes))] :
					    rnd(r, 1 << 14);

			c = _IOC(rnd(r, 4), PGREMAP_IOC_MAGIC, nr, sz);
			break;
		}
		case 4 ... 7:
			c = (unsigned int)rnd64(r);
			break;
		default:
			c = rnd64(r);
		}
	} while ((unsigned int)c == PGREMAP_IOC_API ||
		 (unsigned int)c == PGREMAP_IOC_MOVE ||
		 vfs_ioctl_number((unsigned int)c));
	return c;
}

static unsigned long gen_bad_ptr(struct rng *r)
{
	switch (rnd(r, 10)) {
	case 0:
		return 0;
	case 1:
		return 1 + rnd(r, mmin);
	case 2:
		return hole_addr(r) + rnd(r, PS);
	case 3:
		return 0xffff888000000000UL + rnd(r, 1UL << 30);
	case 4:
		return 0xffffffff81000000UL;
	case 5:
		return 0x8000000000000000UL + rnd(r, 1UL << 40);
	case 6:
		return ~0UL - rnd(r, 40);
	case 7:
		return ts - rnd(r, 40);
	case 8:
		return reg[RG_SNONE].start + rnd(r, PS - 40);
	default:
		return rnd64(r);
	}
}

/* ---- phase args --------------------------------------------------------- */

#define ARGS_REFRESH 4096

static void put_tag(char *p, u64 t);

/* Repopulate the pool (deterministic per refresh index). */
static void pool_refresh(u64 idx)
{
	struct rng r = rng_for(idx, 7);
	int ri;
	u64 i;

	for (ri = RG_A; ri <= RG_B; ri++) {
		for (i = 0; i < reg[ri].pages; i++) {
			char *p = reg[ri].p + i * PS;
			u64 k = rnd(&r, 10);

			if (k < 6)
				put_tag(p, idx << 16 | i);
			else if (k < 9)
				madvise(p, PS, MADV_DONTNEED);
			else
				(void)*(volatile char *)p;
		}
	}
	/* THP: one half populated (huge if THP is on), the other empty. */
	i = rnd(&r, 2);
	madvise(reg[RG_THP].p + (1 - i) * PMD_SZ, PMD_SZ, MADV_DONTNEED);
	for (u64 j = 0; j < 512; j++)
		reg[RG_THP].p[i * PMD_SZ + j * PS] = 1;
	if (mlock_ok) {
		munlock(reg[RG_MLOCK].p, reg[RG_MLOCK].pages * PS);
		madvise(reg[RG_MLOCK].p, reg[RG_MLOCK].pages * PS,
			MADV_DONTNEED);
		for (i = 0; i < reg[RG_MLOCK].pages; i++)
			if (rnd(&r, 2))
				reg[RG_MLOCK].p[i * PS] = 1;
		mlock2(reg[RG_MLOCK].p, reg[RG_MLOCK].pages * PS,
		       MLOCK_ONFAULT);
	}
}

/* The struct of the args phase: inside struct[RW|NONE], page 0. */
static void *args_slot(struct rng *r)
{
	return reg[RG_SA].p + 8 * rnd(r, 64);
}

static void args_call(u64 idx, struct call *cl)
{
	struct rng r = rng_for(idx, 0);
	u64 w = rnd(&r, 100);
	unsigned long hi = 0;

	if (idx % ARGS_REFRESH == 0)
		pool_refresh(idx);
	cl->kind = w < 70 ? K_MOVE : w < 85 ? K_API : K_OTHER;
	/* The kernel takes the number as an unsigned int. */
	if (cl->kind != K_OTHER && rnd(&r, 20) == 0)
		hi = (rnd64(&r) | 1) << 32;
	cl->readable = cl->writable = true;
	cl->place = "RW";
	if (cl->kind == K_MOVE) {
		struct pgremap_move *s = args_slot(&r);

		gen_move(&r, &cl->mv);
		cl->has_move = true;
		*s = cl->mv;
		cl->cmd = PGREMAP_IOC_MOVE | hi;
		cl->arg = (unsigned long)s;
		cl->mv_back = &s->move;
		cl->expect = expect_move(&cl->mv, cl->note, sizeof(cl->note));
	} else if (cl->kind == K_API) {
		struct pgremap_api *a = args_slot(&r);

		gen_api(&r, &cl->api);
		cl->has_api = true;
		*a = cl->api;
		cl->cmd = PGREMAP_IOC_API | hi;
		cl->arg = (unsigned long)a;
		cl->api_back = a;
		cl->expect = expect_api(&cl->api);
	} else {
		cl->cmd = gen_other_cmd(&r);
		cl->arg = rnd(&r, 2) ? (unsigned long)args_slot(&r) :
				       gen_bad_ptr(&r);
		cl->place = "any";
		cl->expect = EBIT(ENOTTY);
	}
	if (opt.replay && idx == opt.replay_idx)
		opt.trace = true;
	issue(cl);
	check(cl, &st_main);
}

/* ---- tags --------------------------------------------------------------- */

#define TAG_MAGIC 0x7067726d7461677aULL /* "pgrmtagz" */
#define W_MID (PS / 16)
#define W_LAST (PS / 8 - 1)

static void put_tag(char *p, u64 t)
{
	volatile u64 *w = (volatile u64 *)p;

	w[0] = t;
	w[1] = t ^ TAG_MAGIC;
	w[W_MID] = ~t;
	w[W_LAST] = t * 0x9e3779b97f4a7c15ULL;
}

/* 0: the four words are zero; 1: a tag (*t); -1: anything else. */
static int get_tag(const char *p, u64 *t)
{
	const volatile u64 *w = (const volatile u64 *)p;
	u64 a = w[0], b = w[1], c = w[W_MID], d = w[W_LAST];

	*t = a;
	if (!a && !b && !c && !d)
		return 0;
	if (b == (a ^ TAG_MAGIC) && c == ~a && d == a * 0x9e3779b97f4a7c15ULL)
		return 1;
	return -1;
}

static bool resident(const char *p)
{
	unsigned char v = 0;

	if (mincore((void *)p, PS, &v))
		return false;
	return v & 1;
}

/* ---- phase structs ------------------------------------------------------ */

enum place {
	P_NULL,
	P_LOW,
	P_HOLE,
	P_KERNEL,
	P_NONCANON,
	P_TOP,
	P_NONE,
	P_STRADDLE_NONE,
	P_STRADDLE_END,
	P_RO,
	P_UNALIGNED,
	P_IN_SRC,
	P_IN_DST,
	NPLACE,
};

static const char *const place_name[NPLACE] = {
	"NULL",
	"below mmap_min_addr",
	"unmapped",
	"kernel address",
	"non-canonical",
	"top of the address space",
	"PROT_NONE page",
	"straddles into a PROT_NONE page",
	"straddles the end of its mapping",
	"read-only page",
	"unaligned, accessible",
	"inside the source range",
	"inside the destination range",
};

/* The SS/SD arenas: tags of the current call. */
static u64 ss_tag[SS_PAGES];

static void ss_prepare(u64 idx, u64 s, u64 n)
{
	u64 i;

	madvise(reg[RG_SS].p, SS_PAGES * PS, MADV_DONTNEED);
	madvise(reg[RG_SD].p, SS_PAGES * PS, MADV_DONTNEED);
	for (i = 0; i < n; i++) {
		ss_tag[i] = (idx + 1) << 16 | 0x8000 | i;
		put_tag(reg[RG_SS].p + (s + i) * PS, ss_tag[i]);
	}
}

/*
 * What moved is a prefix of k pages: dst holds their tags, src is empty
 * there; the rest is still at src, dst empty. k_want < 0: any k.
 * in_src/in_dst: the struct lies at offset 64 of the first src/dst page.
 */
static bool ss_verify(struct call *cl, u64 s, u64 d, u64 n, long k_want,
		      enum place pl)
{
	char *sp = reg[RG_SS].p, *dp = reg[RG_SD].p;
	unsigned char vs[SS_PAGES], vd[SS_PAGES];
	u64 i, k = 0, t;
	char what[200] = "";
	bool ok = true;
	int kind;

	if (mincore(sp, SS_PAGES * PS, vs) || mincore(dp, SS_PAGES * PS, vd))
		die_setup("mincore: %s", strerror(errno));
	while (k < n && vd[d + k] & 1 && get_tag(dp + (d + k) * PS, &t) == 1 &&
	       t == ss_tag[k])
		k++;
	checks[PH_STRUCTS]++;
	if (k_want < 0)
		(*(k == n ? &efault_all : k ? &efault_some : &efault_none))++;
	if (k_want >= 0 && k != (u64)k_want) {
		snprintf(what, sizeof(what), "%lu pages moved, want %ld",
			 (unsigned long)k, k_want);
		ok = false;
	}
	for (i = 0; ok && i < SS_PAGES; i++) {
		char *p = sp + i * PS, *q = dp + i * PS;
		bool in_s = i >= s && i < s + n, in_d = i >= d && i < d + n;
		bool moved_s = in_s && i - s < k, moved_d = in_d && i - d < k;

		check_pages[PH_STRUCTS] += 2;
		/* src page i */
		if (pl == P_IN_SRC && i == s && k) {
			const struct pgremap_move *m = (void *)(p + 64);

			kind = get_tag(p, &t);
			if (!(vs[i] & 1) || kind || m->dst || m->src ||
			    m->len || m->mode || m->move != (s64)cl->mv.len)
				snprintf(what, sizeof(what),
					 "src page %lu: want only .move = len "
					 "written back there",
					 (unsigned long)i);
		} else if (in_s && !moved_s) {
			kind = get_tag(p, &t);
			if (!(vs[i] & 1) || kind != 1 || t != ss_tag[i - s])
				snprintf(what, sizeof(what),
					 "src page %lu lost its tag %#llx",
					 (unsigned long)i,
					 (unsigned long long)ss_tag[i - s]);
		} else if (vs[i] & 1) {
			snprintf(what, sizeof(what),
				 "src page %lu populated, want empty",
				 (unsigned long)i);
		}
		/* dst page i */
		if (pl == P_IN_DST && i == d) {
			const struct pgremap_move *m = (void *)(q + 64);

			if (!(vd[i] & 1) || get_tag(q, &t) ||
			    m->move != (cl->writable ? -EEXIST : SENTINEL))
				snprintf(what, sizeof(what),
					 "dst page %lu: struct there, want "
					 ".move = -EEXIST",
					 (unsigned long)i);
		} else if (moved_d) {
			if (pl == P_IN_SRC && i == d) {
				const struct pgremap_move *m = (void *)(q + 64);

				if (memcmp(m, &cl->mv, sizeof(*m)))
					snprintf(what, sizeof(what),
						 "dst page %lu: the moved "
						 "struct changed",
						 (unsigned long)i);
			}
		} else if (vd[i] & 1) {
			snprintf(what, sizeof(what),
				 "dst page %lu populated, want empty",
				 (unsigned long)i);
		}
		if (what[0])
			ok = false;
	}
	if (!ok)
		violation(cl, V_ORACLE,
			  "structs arena (SS+%lu -> SD+%lu, %lu pages): %s",
			  (unsigned long)s, (unsigned long)d, (unsigned long)n,
			  what);
	return ok;
}

/* Break a valid SS->SD move so that the argument checks refuse it. */
static void break_move(struct rng *r, struct pgremap_move *m)
{
	switch (rnd(r, 8)) {
	case 0:
		m->len += 1 + rnd(r, PS - 1);
		break;
	case 1:
		m->len = 0;
		break;
	case 2:
		m->mode |= 1ULL << (2 + rnd(r, 62));
		break;
	case 3:
		m->dst = m->src;
		break;
	case 4:
		m->dst += 8;
		break;
	case 5:
		m->src = ts - PS;
		m->len += PS;
		break;
	case 6:
		m->dst = -PS;
		break;
	default:
		m->src = rnd(r, mmin) & PGMASK;
	}
	if (arg_valid(m))
		m->len |= 1;
}

static void structs_call(u64 idx, struct call *cl)
{
	struct rng r = rng_for(idx, 1);
	u64 w = rnd(&r, 100), n = 0, s = 0, d = 0;
	enum place pl = rnd(&r, NPLACE);
	size_t size, k = 0; /* straddle: bytes before the boundary */
	bool valid = false, arena = false;
	long k_want = 0;
	char *slot = NULL;

	cl->kind = w < 50 ? K_MOVE : w < 85 ? K_API : K_OTHER;
	if (cl->kind != K_MOVE && (pl == P_IN_SRC || pl == P_IN_DST))
		pl = P_UNALIGNED;
	cl->place = place_name[pl];
	size = cl->kind == K_API ? sizeof(struct pgremap_api) :
				   sizeof(struct pgremap_move);

	if (cl->kind == K_MOVE) {
		struct pgremap_move *m = &cl->mv;

		n = 1 + rnd(&r, SS_PAGES);
		s = rnd(&r, SS_PAGES - n + 1);
		d = rnd(&r, SS_PAGES - n + 1);
		m->src = reg[RG_SS].start + s * PS;
		m->dst = reg[RG_SD].start + d * PS;
		m->len = n * PS;
		m->mode = rnd(&r, 4);
		m->move = SENTINEL;
		valid = pl == P_IN_SRC || pl == P_IN_DST || rnd(&r, 100) < 60;
		if (!valid)
			break_move(&r, m);
		cl->has_move = true;
	} else if (cl->kind == K_API) {
		gen_api(&r, &cl->api);
		cl->has_api = true;
	}

	switch (pl) {
	case P_NULL:
		cl->arg = 0;
		break;
	case P_LOW:
		cl->arg = 1 + rnd(&r, mmin - 1);
		break;
	case P_HOLE:
		cl->arg = hole_addr(&r) + rnd(&r, PS);
		break;
	case P_KERNEL:
		cl->arg = rnd(&r, 2) ? 0xffff888000000000UL + rnd(&r, 1 << 30) :
				       0xffffffff81000000UL;
		break;
	case P_NONCANON:
		cl->arg = 0x0000800000000000UL + rnd(&r, 1UL << 46);
		break;
	case P_TOP:
		cl->arg = rnd(&r, 2) ? ~0UL - rnd(&r, size) :
				       ts - rnd(&r, size);
		break;
	case P_NONE:
		cl->arg = reg[RG_SNONE].start + rnd(&r, PS - size);
		break;
	case P_STRADDLE_NONE:
	case P_STRADDLE_END:
		k = 1 + rnd(&r, size - 1);
		slot = (pl == P_STRADDLE_NONE ? reg[RG_SA].p : reg[RG_SE].p) +
		       PS - k;
		cl->arg = (unsigned long)slot;
		if (cl->has_move)
			memcpy(slot, &cl->mv, k);
		else if (cl->has_api)
			memcpy(slot, &cl->api, k);
		break;
	case P_RO:
		slot = reg[RG_SRO].p + 8 * rnd(&r, 64);
		mprotect(reg[RG_SRO].p, PS, PROT_READ | PROT_WRITE);
		if (cl->has_move)
			memcpy(slot, &cl->mv, size);
		else
			memcpy(slot, &cl->api, size);
		mprotect(reg[RG_SRO].p, PS, PROT_READ);
		cl->arg = (unsigned long)slot;
		break;
	case P_UNALIGNED:
		slot = reg[RG_SE].p + 1 + rnd(&r, PS - size - 1);
		if (cl->has_move)
			memcpy(slot, &cl->mv, size);
		else
			memcpy(slot, &cl->api, size);
		cl->arg = (unsigned long)slot;
		break;
	case P_IN_SRC:
	case P_IN_DST:
		break; /* after ss_prepare() */
	case NPLACE:
		break;
	}

	if (cl->kind == K_OTHER) {
		cl->cmd = gen_other_cmd(&r);
		cl->expect = EBIT(ENOTTY);
		goto issue;
	}
	cl->cmd = cl->kind == K_API ? PGREMAP_IOC_API : PGREMAP_IOC_MOVE;
	/* How much of the struct the kernel can read and write. */
	switch (pl) {
	case P_STRADDLE_NONE:
	case P_STRADDLE_END:
		cl->readable = cl->kind == K_MOVE &&
			       k >= offsetof(struct pgremap_move, move);
		break;
	case P_RO:
		cl->readable = true;
		break;
	case P_UNALIGNED:
	case P_IN_SRC:
	case P_IN_DST:
		cl->readable = cl->writable = true;
		break;
	default:
		break;
	}
	if (cl->kind == K_API) {
		if (cl->writable) {
			cl->expect = expect_api(&cl->api);
			cl->api_back = (void *)slot;
		} else {
			cl->expect = EBIT(EFAULT);
		}
		goto issue;
	}
	/* MOVE */
	arena = slot || pl == P_IN_SRC || pl == P_IN_DST;
	if (arena)
		ss_prepare(idx, s, n);
	if (pl == P_IN_SRC || pl == P_IN_DST) {
		slot = (pl == P_IN_SRC ? reg[RG_SS].p + s * PS :
					 reg[RG_SD].p + d * PS) +
		       64;
		memcpy(slot, &cl->mv, size);
		cl->arg = (unsigned long)slot;
	}
	if (!cl->readable) {
		cl->expect = EBIT(EFAULT);
		k_want = 0;
	} else if (!cl->writable) {
		/* Read, maybe moved, then .move not written. */
		cl->expect = valid ? EBIT(EFAULT) : EBIT(EINVAL) | EBIT(EFAULT);
		k_want = valid ? -1 : 0;
		if (pl == P_RO)
			cl->mv_back = &((struct pgremap_move *)slot)->move;
	} else {
		cl->mv_back = &((struct pgremap_move *)slot)->move;
		if (!valid) {
			cl->expect = EBIT(EINVAL);
			k_want = 0;
		} else if (pl == P_IN_DST) {
			cl->expect = EBIT(EEXIST);
			cl->exact_move = true;
			cl->move_want = -EEXIST;
			k_want = 0;
		} else {
			cl->expect = OKBIT;
			k_want = n;
		}
	}
	snprintf(cl->note, sizeof(cl->note),
		 "arguments %s; struct %s (%zu bytes before the boundary), "
		 "the kernel can %s it",
		 valid ? "valid (SS -> SD)" : "invalid", place_name[pl], k,
		 cl->writable ? "read and write" :
		 cl->readable ? "read, not write" :
				"not read");
issue:
	if (opt.replay && idx == opt.replay_idx)
		opt.trace = true;
	issue(cl);
	if (cl->mv_back && !cl->writable)
		cl->mv_back = NULL; /* not written: nothing to check */
	check(cl, &st_main);
	if (cl->kind == K_MOVE && arena)
		ss_verify(cl, s, d, n, k_want, pl);
}

/* ---- phase oracle ------------------------------------------------------- */

#define O_EMPTY 0
#define O_ZERO 1

static u64 ost[O_PAGES]; /* per page: O_EMPTY, O_ZERO or its tag */
static u64 ogen;
static bool broke_oracle;

static char *opage(u64 g)
{
	return g < O1_PAGES ? reg[RG_O1].p + g * PS :
			      reg[RG_O2].p + (g - O1_PAGES) * PS;
}

static void o_write(u64 g)
{
	u64 t = ++ogen << 16 | g;

	put_tag(opage(g), t);
	ost[g] = t;
}

static void o_read(u64 g)
{
	(void)*(volatile u64 *)opage(g);
	if (ost[g] == O_EMPTY)
		ost[g] = O_ZERO;
}

static void o_dontneed(u64 g, u64 n)
{
	u64 i;

	madvise(opage(g), n * PS, MADV_DONTNEED);
	for (i = 0; i < n; i++)
		ost[g + i] = O_EMPTY;
}

static void o_zero(u64 g)
{
	if (ost[g] != O_EMPTY)
		o_dontneed(g, 1);
	o_read(g);
}

static void o_state_str(u64 v, char *b, size_t l)
{
	if (v == O_EMPTY)
		snprintf(b, l, "empty");
	else if (v == O_ZERO)
		snprintf(b, l, "zero page");
	else
		snprintf(b, l, "tag %#llx (page %llu, generation %llu)",
			 (unsigned long long)v,
			 (unsigned long long)(v & 0xffff),
			 (unsigned long long)(v >> 16));
}

/* Set the model from memory (after a violation, to go on). */
static void o_resync(void)
{
	u64 g, t;
	int k;

	for (g = 0; g < O_PAGES; g++) {
		char *p = opage(g);

		if (!resident(p)) {
			ost[g] = O_EMPTY;
			continue;
		}
		k = get_tag(p, &t);
		if (k == 0)
			ost[g] = O_ZERO;
		else if (k == 1 && t > O_ZERO)
			ost[g] = t;
		else
			o_write(g);
	}
}

/* Every page of both arenas against the model. */
static bool o_verify(struct call *cl)
{
	unsigned char v1[O1_PAGES], v2[O2_PAGES];
	u64 g, t;
	int bad = 0;
	char want[96], got[96], msg[600] = "";
	size_t o = 0;

	if (mincore(reg[RG_O1].p, O1_PAGES * PS, v1) ||
	    mincore(reg[RG_O2].p, O2_PAGES * PS, v2))
		die_setup("mincore: %s", strerror(errno));
	checks[PH_ORACLE]++;
	for (g = 0; g < O_PAGES; g++) {
		bool res = (g < O1_PAGES ? v1[g] : v2[g - O1_PAGES]) & 1;
		int k = 0;

		check_pages[PH_ORACLE]++;
		if (ost[g] == O_EMPTY) {
			if (!res)
				continue;
			snprintf(got, sizeof(got), "populated");
		} else if (!res) {
			snprintf(got, sizeof(got), "empty");
		} else {
			k = get_tag(opage(g), &t);
			if (ost[g] == O_ZERO ? k == 0 : k == 1 && t == ost[g])
				continue;
			if (k == 0)
				snprintf(got, sizeof(got), "zero");
			else if (k == 1)
				o_state_str(t, got, sizeof(got));
			else
				snprintf(got, sizeof(got), "garbage %#llx",
					 (unsigned long long)t);
		}
		o_state_str(ost[g], want, sizeof(want));
		if (bad++ < 4 && o < sizeof(msg))
			o += snprintf(
				msg + o, sizeof(msg) - o,
				"%s  %s page %llu (%#llx): want %s, got %s",
				bad > 1 ? "\n" : "", g < O1_PAGES ? "O1" : "O2",
				(unsigned long long)(g < O1_PAGES ?
							     g :
							     g - O1_PAGES),
				(unsigned long long)opage(g), want, got);
	}
	if (!bad)
		return true;
	violation(cl, V_ORACLE, "%d page(s) differ from the model:\n%s", bad,
		  msg);
	o_resync();
	return false;
}

static void oracle_begin(void)
{
	u64 g;

	madvise(reg[RG_O1].p, O1_PAGES * PS, MADV_DONTNEED);
	madvise(reg[RG_O2].p, O2_PAGES * PS, MADV_DONTNEED);
	for (g = 0; g < O_PAGES; g++)
		ost[g] = O_EMPTY;
	ogen = 0;
}

static u64 o_base(int ri)
{
	return ri ? O1_PAGES : 0;
}

static u64 o_size(int ri)
{
	return ri ? O2_PAGES : O1_PAGES;
}

static void oracle_mutate(struct rng *r)
{
	int runs = 1 + rnd(r, 3), i;

	for (i = 0; i < runs; i++) {
		int ri = rnd(r, 4) ? 0 : 1;
		u64 n = 1 + rnd(r, 16), s, j, op = rnd(r, 3);

		if (n > o_size(ri))
			n = o_size(ri);
		s = o_base(ri) + rnd(r, o_size(ri) - n + 1);
		if (op == 2) {
			o_dontneed(s, n);
			continue;
		}
		for (j = 0; j < n; j++)
			if (op == 0)
				o_write(s + j);
			else
				o_read(s + j);
	}
}

static void oracle_call(u64 idx, struct call *cl)
{
	struct rng r = rng_for(idx, 2);
	int rs = rnd(&r, 4) ? 0 : 1, rd = rnd(&r, 3) ? 0 : 1;
	u64 lim = o_size(rs) < o_size(rd) ? o_size(rs) : o_size(rd);
	u64 n = 1 + rnd(&r, rnd(&r, 2) ? 8 : lim), s, d, sg, dg, i, k;
	u64 p = rnd(&r, 100), mode = rnd(&r, 4), extra = 0, misalign = 0;
	u64 variant = rnd(&r, 50);
	int stop = 0, alt = 0, tries;
	struct pgremap_move *slot;
	bool valid = true, cross = false;

	s = rnd(&r, o_size(rs) - n + 1);
	d = rnd(&r, o_size(rd) - n + 1);
	if (variant == 2 || variant == 3) {
		/* The source range runs off its VMA into the hole after it. */
		s = o_size(rs) - n;
		extra = 1 + rnd(&r, 4);
		cross = true;
	}
	for (tries = 0; rs == rd && tries < 8 && rnd(&r, 20); tries++) {
		if (s + n <= d || d + n <= s)
			break;
		d = rnd(&r, o_size(rd) - n + 1);
	}
	sg = o_base(rs) + s;
	dg = o_base(rd) + d;

	/* Prepare the pages. */
	if (p < 55) {
		o_dontneed(dg, n);
		for (i = 0; i < n; i++) {
			u64 q = rnd(&r, 100);

			if (rs == rd && sg + i >= dg && sg + i < dg + n)
				continue; /* overlapping: EINVAL anyway */
			if (q < 80)
				o_write(sg + i);
			else if (q < 88)
				o_zero(sg + i);
			else if (q < 95)
				o_dontneed(sg + i, 1);
		}
		if (rnd(&r, 3) == 0) {
			k = rnd(&r, n);
			if (rnd(&r, 4) == 0)
				o_zero(dg + k);
			else if (rnd(&r, 2))
				o_write(dg + k);
			else
				o_dontneed(sg + k, 1);
		}
	} else if (p < 85) {
		oracle_mutate(&r);
	}

	/* Rare invalid variants: nothing may change. */
	if (variant == 0) {
		mode |= 1ULL << (2 + rnd(&r, 62));
		valid = false;
	} else if (variant == 1) {
		misalign = 8;
		valid = false;
	}
	cl->kind = K_MOVE;
	cl->has_move = true;
	cl->readable = cl->writable = true;
	cl->place = "RW";
	cl->mv.src = (u64)opage(sg);
	cl->mv.dst = (u64)opage(dg) + misalign;
	cl->mv.len = (n + extra) * PS;
	cl->mv.mode = mode;
	cl->mv.move = SENTINEL;
	if (rs == rd && sg < dg + n + extra && dg < sg + n + extra)
		valid = false;

	/* Predict. */
	k = 0;
	if (!valid || cross) {
		cl->expect = EBIT(EINVAL);
		snprintf(cl->note, sizeof(cl->note),
			 "%s: EINVAL, nothing moves",
			 cross && valid ? "a range runs off its VMA" :
					  "arguments invalid");
	} else {
		for (i = 0; i < n; i++) {
			bool dpop = ost[dg + i] != O_EMPTY;
			bool shole = ost[sg + i] == O_EMPTY && !(mode & HOLES);

			if (dpop) {
				stop = EEXIST;
				alt = shole ? ENOENT : 0;
				break;
			}
			if (shole) {
				stop = ENOENT;
				break;
			}
		}
		k = i;
		cl->exact_move = true;
		if (k == n) {
			cl->expect = OKBIT;
			cl->move_want = n * PS;
		} else if (k) {
			cl->expect = EBIT(EAGAIN);
			cl->move_want = k * PS;
		} else {
			cl->expect = EBIT(stop) | (alt ? EBIT(alt) : 0);
			cl->move_want = -stop;
			if (alt)
				cl->exact_move = false; /* -stop or -alt */
		}
		snprintf(cl->note, sizeof(cl->note),
			 "%s[%llu] -> %s[%llu], %llu pages: %llu move, then "
			 "%s",
			 rs ? "O2" : "O1", (unsigned long long)s,
			 rd ? "O2" : "O1", (unsigned long long)d,
			 (unsigned long long)n, (unsigned long long)k,
			 k == n ? "done" : ename(stop));
	}

	slot = (void *)(reg[RG_SA].p + 8 * rnd(&r, 64));
	*slot = cl->mv;
	cl->cmd = PGREMAP_IOC_MOVE;
	cl->arg = (unsigned long)slot;
	cl->mv_back = &slot->move;
	if (opt.replay && idx == opt.replay_idx)
		opt.trace = true;
	issue(cl);
	if (!check(cl, &st_main)) {
		/* Go on from what the kernel says it did. */
		int e = cl->ret ? cl->err : 0;

		if (!valid || cross)
			k = 0;
		else if (!e)
			k = n;
		else if (e == EAGAIN && cl->mv_out > 0 &&
			 (u64)cl->mv_out < n * PS)
			k = cl->mv_out / PS;
		else
			k = 0;
	}
	for (i = 0; i < k; i++) {
		ost[dg + i] = ost[sg + i];
		ost[sg + i] = O_EMPTY;
	}
	if (opt.brk_oracle && !broke_oracle) {
		for (i = 0; i < k; i++) {
			if (ost[dg + i] > O_ZERO) {
				/* Self-test: expect another generation. */
				ost[dg + i] ^= 1ULL << 20;
				broke_oracle = true;
				printf("--break oracle: expected tag of %s page "
				       "%llu corrupted after call %llu\n",
				       rd ? "O2" : "O1",
				       (unsigned long long)(d + i),
				       (unsigned long long)idx);
				break;
			}
		}
	}
	o_verify(cl);
}

/* ---- phase race --------------------------------------------------------- */

enum { RS_UNMAPPED, RS_RW, RS_RO, RS_NONE };

#define RACE_MAGIC 0x5241434500000000ULL /* "RACE" */

static unsigned char rstate[R_PAGES];
static volatile int race_stop, race_finish;
static int race_parked;
static pthread_mutex_t race_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t race_cond = PTHREAD_COND_INITIALIZER;
static u64 racer_ops, racer_tag;
static struct stats st_helper;

static char *rpage(u64 i)
{
	return reg[RG_RACE].p + i * PS;
}

static void race_park(void)
{
	pthread_mutex_lock(&race_lock);
	race_parked++;
	pthread_cond_broadcast(&race_cond);
	while (race_stop && !race_finish)
		pthread_cond_wait(&race_cond, &race_lock);
	race_parked--;
	pthread_mutex_unlock(&race_lock);
}

static bool r_all(u64 s, u64 n, int want)
{
	u64 i;

	for (i = 0; i < n; i++)
		if (want < 0 ? rstate[s + i] == RS_UNMAPPED :
			       rstate[s + i] != want)
			return false;
	return true;
}

static void r_set(u64 s, u64 n, int v)
{
	memset(rstate + s, v, n);
}

/* After a failed mremap(MREMAP_FIXED): which target pages are gone. */
static void r_probe(u64 s, u64 n)
{
	unsigned char v;
	u64 i;

	for (i = 0; i < n; i++)
		if (mincore(rpage(s + i), PS, &v) && errno == ENOMEM)
			rstate[s + i] = RS_UNMAPPED;
}

enum {
	RO_DONTNEED,
	RO_MUNMAP,
	RO_MMAP,
	RO_MPROTECT,
	RO_WRITE,
	RO_THP,
	RO_HUGEPAGE,
	RO_MLOCK,
	RO_MREMAP,
	RO_COLD,
	RO_FORK,
	RO_YIELD,
	NRO,
};
static const char *const ro_name[NRO] = {
	"dontneed", "munmap", "mmap",	"mprotect", "write", "thp-write",
	"hugepage", "mlock",  "mremap", "cold",	    "fork",  "yield",
};
/* Which op each of the 24 draws is. */
static const unsigned char ro_of[24] = {
	RO_DONTNEED, RO_DONTNEED, RO_DONTNEED, RO_DONTNEED, RO_DONTNEED,
	RO_MUNMAP,   RO_MMAP,	  RO_MMAP,     RO_MPROTECT, RO_MPROTECT,
	RO_WRITE,    RO_WRITE,	  RO_WRITE,    RO_WRITE,    RO_WRITE,
	RO_WRITE,    RO_THP,	  RO_HUGEPAGE, RO_MLOCK,    RO_MREMAP,
	RO_COLD,     RO_FORK,	  RO_YIELD,    RO_YIELD,
};
static u64 ro_count[NRO];
static double ro_secs[NRO];

static void racer_op(struct rng *r)
{
	u64 n = rnd(r, 8) ? 1 + rnd(r, 64) : 512;
	u64 s = n == 512 ? rnd(r, 2) * 512 : rnd(r, R_PAGES - n + 1);
	char *p = rpage(s);
	u64 i, t, draw = rnd(r, 24);
	double t0 = now();

	__atomic_add_fetch(&racer_ops, 1, __ATOMIC_RELAXED);
	switch (draw) {
	case 0 ... 4:
		madvise(p, n * PS, MADV_DONTNEED);
		break;
	case 5:
		munmap(p, n * PS);
		r_set(s, n, RS_UNMAPPED);
		break;
	case 6 ... 7:
		if (mmap(p, n * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) != MAP_FAILED)
			r_set(s, n, RS_RW);
		else
			r_probe(s, n);
		break;
	case 8 ... 9: {
		static const int prot[] = { PROT_READ | PROT_WRITE, PROT_READ,
					    PROT_NONE };
		static const int stv[] = { RS_RW, RS_RO, RS_NONE };
		int k = rnd(r, 4) ? 0 : 1 + rnd(r, 2);

		if (r_all(s, n, -1) && !mprotect(p, n * PS, prot[k]))
			r_set(s, n, stv[k]);
		break;
	}
	case 10 ... 15:
		for (i = 0; i < n; i++)
			if (rstate[s + i] == RS_RW)
				*(volatile u64 *)rpage(s + i) = RACE_MAGIC |
								++racer_tag;
		break;
	case 16:
		t = rnd(r, 2) * 512;
		if (r_all(t, 512, RS_RW))
			for (i = 0; i < 512; i++)
				*(volatile u64 *)rpage(t + i) = RACE_MAGIC |
								++racer_tag;
		break;
	case 17:
		if (r_all(s, n, -1))
			madvise(p, n * PS,
				rnd(r, 2) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		break;
	case 18:
		if (r_all(s, n, RS_RW) && rnd(r, 2))
			mlock2(p, n * PS, rnd(r, 2) ? MLOCK_ONFAULT : 0);
		else if (r_all(s, n, -1))
			munlock(p, n * PS);
		break;
	case 19: {
		u64 d = rnd(r, R_PAGES - n + 1);

		if (d + n <= s || s + n <= d) {
			if (r_all(s, n, -1) &&
			    mremap(p, n * PS, n * PS,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   rpage(d)) != MAP_FAILED) {
				memcpy(rstate + d, rstate + s, n);
				r_set(s, n, RS_UNMAPPED);
			} else {
				r_probe(d, n);
			}
		}
		break;
	}
	case 20:
		madvise(p, n * PS, rnd(r, 2) ? MADV_COLD : MADV_PAGEOUT);
		break;
	case 21:
		if (rnd(r, 16) == 0) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
		break;
	default:
		sched_yield();
	}
	ro_count[ro_of[draw]]++;
	ro_secs[ro_of[draw]] += now() - t0;
}

static void *racer_main(void *arg)
{
	struct rng r = rng_for((u64)(uintptr_t)arg, 3);

	while (!race_finish) {
		if (race_stop)
			race_park();
		else
			racer_op(&r);
	}
	return NULL;
}

/*
 * Under TCG on a busy host a racer op (an IPI round for every TLB flush)
 * costs milliseconds, a failing move microseconds: without a brake the
 * movers would make hundreds of calls per racer op. At most
 * --race-ratio moves (both movers) per racer op.
 */
static u64 race_moves;

static void race_throttle(void)
{
	u64 m = __atomic_add_fetch(&race_moves, 1, __ATOMIC_RELAXED);
	struct timespec nap = { 0, 100000 };
	int i;

	for (i = 0; i < 20000 && !race_stop && !race_finish; i++) {
		u64 ops = __atomic_load_n(&racer_ops, __ATOMIC_RELAXED);

		if (m <= (ops + 1) * opt.race_ratio)
			break;
		nanosleep(&nap, NULL);
	}
}

static void race_move(struct rng *r, struct call *cl)
{
	u64 n = 1 + rnd(r, 1ULL << rnd(r, 11)), s, d;
	struct pgremap_move *slot;

	if (n > R_PAGES / 2)
		n = R_PAGES / 2;
	if (rnd(r, 8) == 0) {
		/* A whole PMD, THP half <-> the other. */
		n = 512;
		s = rnd(r, 2) * 512;
		d = 512 - s;
	} else {
		s = rnd(r, R_PAGES - n + 1);
		d = rnd(r, R_PAGES - n + 1);
	}
	cl->kind = K_MOVE;
	cl->has_move = true;
	cl->readable = cl->writable = true;
	cl->place = "RW";
	cl->mv.src = reg[RG_RACE].start + s * PS;
	cl->mv.dst = reg[RG_RACE].start + d * PS;
	cl->mv.len = n * PS;
	if (rnd(r, 30) == 0)
		cl->mv.len += PS * (1 + rnd(r, 4)); /* may run off */
	cl->mv.mode = rnd(r, 4);
	if (rnd(r, 50) == 0)
		cl->mv.mode |= 1ULL << (2 + rnd(r, 62));
	cl->mv.move = SENTINEL;
	if (!arg_valid(&cl->mv)) {
		cl->expect = EBIT(EINVAL);
		snprintf(cl->note, sizeof(cl->note), "arguments invalid");
	} else {
		/* The racer changes anything at any time. */
		cl->expect = OKBIT | doc_errnos[K_MOVE];
		snprintf(cl->note, sizeof(cl->note),
			 "RACE[%llu] -> RACE[%llu], %llu pages, racing",
			 (unsigned long long)s, (unsigned long long)d,
			 (unsigned long long)n);
	}
	slot = (void *)(reg[RG_SA].p + PS / 2 + 8 * rnd(r, 32) +
			(cl->helper ? PS / 4 : 0));
	*slot = cl->mv;
	cl->cmd = PGREMAP_IOC_MOVE;
	cl->arg = (unsigned long)slot;
	cl->mv_back = &slot->move;
	race_throttle();
	issue(cl);
}

static void *helper_main(void *arg)
{
	u64 i = 0;

	(void)arg;
	while (!race_finish) {
		struct rng r;
		struct call cl = { .phase = PH_RACE, .helper = true };

		if (race_stop) {
			race_park();
			continue;
		}
		r = rng_for(i, 4);
		cl.idx = i++;
		race_move(&r, &cl);
		check(&cl, &st_helper);
	}
	return NULL;
}

static void race_wait_parked(int n)
{
	pthread_mutex_lock(&race_lock);
	race_stop = 1;
	while (race_parked < n)
		pthread_cond_wait(&race_cond, &race_lock);
	pthread_mutex_unlock(&race_lock);
}

static void race_resume(void)
{
	pthread_mutex_lock(&race_lock);
	race_stop = 0;
	pthread_cond_broadcast(&race_cond);
	pthread_mutex_unlock(&race_lock);
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Threads parked: make the arena RW, then every tag must be unique. */
static void race_scan(u64 idx)
{
	static u64 tags[R_PAGES];
	u64 i, j, nt = 0;
	struct call cl = { .idx = idx, .phase = PH_RACE, .kind = K_MOVE };

	/* Map the holes (inside the arena: MAP_FIXED is safe), then RW. */
	r_probe(0, R_PAGES);
	for (i = 0; i < R_PAGES; i = j) {
		for (j = i; j < R_PAGES && rstate[j] == rstate[i]; j++)
			;
		if (rstate[i] == RS_UNMAPPED &&
		    mmap(rpage(i), (j - i) * PS, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
			 0) == MAP_FAILED)
			die_setup("race arena: mmap: %s", strerror(errno));
	}
	xmprotect(rpage(0), R_PAGES * PS, PROT_READ | PROT_WRITE);
	r_set(0, R_PAGES, RS_RW);
	checks[PH_RACE]++;
	for (i = 0; i < R_PAGES; i++) {
		const volatile u64 *w = (const volatile u64 *)rpage(i);
		u64 a = w[0];

		check_pages[PH_RACE]++;
		if (w[1] || w[W_MID] || w[W_LAST] ||
		    (a && (a & 0xffffffff00000000ULL) != RACE_MAGIC)) {
			violation(
				&cl, V_ORACLE,
				"race arena page %llu (%p): words %#llx %#llx "
				"%#llx %#llx: neither zero nor a racer tag",
				(unsigned long long)i, (void *)w,
				(unsigned long long)a, (unsigned long long)w[1],
				(unsigned long long)w[W_MID],
				(unsigned long long)w[W_LAST]);
			continue;
		}
		if (a)
			tags[nt++] = a;
	}
	qsort(tags, nt, sizeof(tags[0]), cmp_u64);
	for (i = 1; i < nt; i++)
		if (tags[i] == tags[i - 1])
			violation(&cl, V_ORACLE,
				  "race arena: tag %#llx on two pages (a page "
				  "duplicated)",
				  (unsigned long long)tags[i]);
}

static pthread_t racer_thr, helper_thr;

static void race_begin(u64 idx)
{
	race_stop = race_finish = 0;
	race_moves = 0;
	race_parked = 0;
	madvise(reg[RG_RACE].p, R_PAGES * PS, MADV_DONTNEED);
	r_set(0, R_PAGES, RS_RW);
	if (pthread_create(&racer_thr, NULL, racer_main,
			   (void *)(uintptr_t)idx) ||
	    pthread_create(&helper_thr, NULL, helper_main, NULL))
		die_setup("pthread_create failed");
}

static void race_end(u64 idx)
{
	race_wait_parked(2);
	race_scan(idx);
	race_finish = 1;
	race_resume();
	pthread_join(racer_thr, NULL);
	pthread_join(helper_thr, NULL);
}

static void race_call(u64 idx, u64 first, struct call *cl)
{
	struct rng r = rng_for(idx, 5);

	if (idx > first && (idx - first) % opt.round == 0) {
		race_wait_parked(2);
		race_scan(idx);
		race_resume();
	}
	if (opt.replay && idx == opt.replay_idx)
		opt.trace = true;
	race_move(&r, cl);
	check(cl, &st_main);
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *o)
{
	fprintf(o,
		"Usage: pgremap-fuzz [OPTIONS]\n"
		"\n"
		"Issues random and edge-case ioctls on /dev/pgremap and checks "
		"every answer\nagainst tools/pgremap.4: a documented errno for "
		"that ioctl (or success),\nthe one the man page implies where "
		"the arguments decide it, a .move that\nfits the answer, and, "
		"on tagged arenas, the memory itself.\n"
		"\n"
		"Options:\n"
		"  --seed N         generator seed [1]; the same seed, count, "
		"phases and\n"
		"                   weights give the same calls\n"
		"  --count N        calls in all [1000000], shared among the "
		"phases by weight\n"
		"  --phase LIST     comma-separated: args, structs, oracle, "
		"race, all [all]\n"
		"                   args:    random/overflowing/kernel "
		"addresses, lengths,\n"
		"                            modes, API api/features, wrong "
		"ioctl numbers\n"
		"                   structs: NULL/unmapped/kernel/PROT_NONE/"
		"read-only/\n"
		"                            truncated/unaligned struct "
		"pointers\n"
		"                   oracle:  moves on tagged arenas, errno and "
		".move\n"
		"                            predicted, every page checked "
		"after each call\n"
		"                   race:    moves (2 threads) while a thread "
		"munmaps/mmaps/\n"
		"                            mprotects/MADV_DONTNEEDs/mlocks/"
		"mremaps/forks;\n"
		"                            arena scanned for duplicated pages "
		"every round\n"
		"  --weights A:S:O:R  share of args:structs:oracle:race [94:2:2:2]\n"
		"  --round N        race: calls between two scans [2000]\n"
		"  --race-ratio N   race: at most N moves (both movers) per "
		"racer op [16]\n"
		"  --replay INDEX   run up to call INDEX (stateless phases skip "
		"ahead),\n"
		"                   print it in full and stop: exit 1 if it "
		"violates.\n"
		"                   Give the other options as in the run that "
		"failed\n"
		"  --trace          print every call\n"
		"  --max-print N    print the first N violations in full [20]\n"
		"  --device PATH    [/dev/pgremap]\n"
		"  --break WHAT     self-test of the checker; the run must then "
		"exit 1:\n"
		"                   errno:  EINVAL is taken out of the "
		"documented set of\n"
		"                           PGREMAP_IOC_MOVE\n"
		"                   oracle: the expected tag of one moved page "
		"is corrupted\n"
		"                           (needs the oracle phase)\n"
		"  -h, --help       this text\n"
		"\n"
		"Progress goes to stdout about every 10 %% of the calls; a "
		"summary ends the\nrun: calls, per ioctl and errno counts, "
		"oracle checks, violations, calls/s.\n"
		"A violation prints the call (index, phase, arguments, answer, "
		"expectation)\nand the command line that replays it.\n"
		"\n"
		"Exit codes:\n"
		"  0  clean\n"
		"  1  a violation: undocumented errno, model or oracle "
		"failure\n"
		"  2  usage error\n"
		"  3  setup failure (no device, API handshake, mappings)\n");
}

static bool parse_u64(const char *s, u64 *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && *s && !*end && *s != '-';
}

static void bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "pgremap-fuzz: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(pgremap-fuzz --help)\n");
	exit(EXIT_USAGE);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "phase", required_argument, NULL, 'p' },
		{ "weights", required_argument, NULL, 'w' },
		{ "round", required_argument, NULL, 'R' },
		{ "race-ratio", required_argument, NULL, 'T' },
		{ "replay", required_argument, NULL, 'r' },
		{ "trace", no_argument, NULL, 't' },
		{ "max-print", required_argument, NULL, 'm' },
		{ "device", required_argument, NULL, 'd' },
		{ "break", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	char phases[64] = "all";
	int c, i;
	u64 v;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!parse_u64(optarg, &opt.seed))
				bad_usage("bad --seed '%s'", optarg);
			break;
		case 'c':
			if (!parse_u64(optarg, &opt.count) || !opt.count)
				bad_usage("bad --count '%s'", optarg);
			break;
		case 'p': {
			char buf[64], *tok, *save;

			snprintf(buf, sizeof(buf), "%s", optarg);
			snprintf(phases, sizeof(phases), "%s", optarg);
			opt.phases = 0;
			for (tok = strtok_r(buf, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				if (!strcmp(tok, "all")) {
					opt.phases = (1u << NPHASE) - 1;
					continue;
				}
				for (i = 0; i < NPHASE; i++)
					if (!strcmp(tok, phase_name[i]))
						break;
				if (i == NPHASE)
					bad_usage("unknown phase '%s'", tok);
				opt.phases |= 1u << i;
			}
			if (!opt.phases)
				bad_usage("no phase in '%s'", optarg);
			break;
		}
		case 'w':
			if (sscanf(optarg, "%u:%u:%u:%u", &opt.weight[0],
				   &opt.weight[1], &opt.weight[2],
				   &opt.weight[3]) != 4)
				bad_usage("bad --weights '%s' (A:S:O:R)",
					  optarg);
			break;
		case 'R':
			if (!parse_u64(optarg, &v) || !v || v > 1000000000)
				bad_usage("bad --round '%s'", optarg);
			opt.round = v;
			break;
		case 'T':
			if (!parse_u64(optarg, &v) || !v || v > 1000000000)
				bad_usage("bad --race-ratio '%s'", optarg);
			opt.race_ratio = v;
			break;
		case 'r':
			if (!parse_u64(optarg, &opt.replay_idx))
				bad_usage("bad --replay '%s'", optarg);
			opt.replay = true;
			break;
		case 't':
			opt.trace = true;
			break;
		case 'm':
			if (!parse_u64(optarg, &v) || v > 1000000)
				bad_usage("bad --max-print '%s'", optarg);
			opt.max_print = v;
			break;
		case 'd':
			opt.dev = optarg;
			break;
		case 'b':
			if (!strcmp(optarg, "errno"))
				opt.brk_errno = true;
			else if (!strcmp(optarg, "oracle"))
				opt.brk_oracle = true;
			else
				bad_usage("bad --break '%s' (errno, oracle)",
					  optarg);
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_CLEAN);
		default:
			fprintf(stderr, "(pgremap-fuzz --help)\n");
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (opt.replay && opt.replay_idx >= opt.count)
		bad_usage("--replay %s: beyond --count", "INDEX");
	for (i = 0, v = 0; i < NPHASE; i++)
		if (opt.phases & 1u << i)
			v += opt.weight[i];
	if (!v)
		bad_usage("the chosen phases all have weight 0%s", "");
	if (opt.brk_oracle &&
	    (!(opt.phases & 1u << PH_ORACLE) || !opt.weight[PH_ORACLE]))
		bad_usage("--break oracle needs the oracle phase%s", "");
	snprintf(optline, sizeof(optline),
		 "--seed %llu --count %llu --phase %s --weights %u:%u:%u:%u "
		 "--round %u --race-ratio %u%s%s",
		 (unsigned long long)opt.seed, (unsigned long long)opt.count,
		 phases, opt.weight[0], opt.weight[1], opt.weight[2],
		 opt.weight[3], opt.round, opt.race_ratio,
		 opt.brk_errno ? " --break errno" : "",
		 opt.brk_oracle ? " --break oracle" : "");
}

static u64 read_ulong_file(const char *path, u64 dflt)
{
	unsigned long long v;
	FILE *f = fopen(path, "r");

	if (!f)
		return dflt;
	if (fscanf(f, "%llu", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* CONFIG_LSM_MMAP_MIN_ADDR of the running kernel, if /boot says. */
static u64 lsm_mmap_min(const char *release)
{
	char path[256], line[256];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/boot/config-%s", release);
	f = fopen(path, "r");
	if (!f)
		return 65536; /* Debian's value */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CONFIG_LSM_MMAP_MIN_ADDR=%llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void setup(struct utsname *u)
{
	struct pgremap_api a = { .api = PGREMAP_API };
	void *p;

	if (sysconf(_SC_PAGESIZE) != PS)
		die_setup("page size %ld, want %lu", sysconf(_SC_PAGESIZE), PS);
	uname(u);
	fd = open(opt.dev, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die_setup("open %s: %s", opt.dev, strerror(errno));
	if (ioctl(fd, PGREMAP_IOC_API, &a))
		die_setup("PGREMAP_IOC_API: %s", strerror(errno));
	if (!(a.ioctls & 1ULL << _PGREMAP_MOVE))
		die_setup("the module does not serve PGREMAP_IOC_MOVE");
	/* A hint above 47 bits is honoured only with 5-level paging. */
	p = mmap((void *)(1UL << 50), PS, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die_setup("mmap: %s", strerror(errno));
	ts = (u64)p >= 1ULL << 47 ? (1ULL << 56) - PS : (1ULL << 47) - PS;
	munmap(p, PS);
	mmin = read_ulong_file("/proc/sys/vm/mmap_min_addr", 65536);
	if (lsm_mmap_min(u->release) > mmin)
		mmin = lsm_mmap_min(u->release);
	mmin = (mmin + PS - 1) & PGMASK;
	if (!mmin)
		mmin = PS; /* page 0 is never a valid start either way */
	layout();
}

static void print_hist(const char *title, const struct stats *s)
{
	int k, e;

	printf("%s\n", title);
	for (k = 0; k < NKIND; k++) {
		u64 tot = 0;

		for (e = 0; e < 256; e++)
			tot += s->hist[k][e];
		printf("  %-20s %10llu:", documented[k].name,
		       (unsigned long long)tot);
		for (e = 0; e < 256; e++)
			if (s->hist[k][e])
				printf(" %s %llu",
				       e == 255 ? "errno>=255" : ename(e),
				       (unsigned long long)s->hist[k][e]);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	u64 n[NPHASE] = {}, first[NPHASE], wsum = 0, idx, total, done = 0;
	u64 step, next_progress;
	double t0, tp;
	struct utsname u;
	int ph, k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	for (k = 0; k < NKIND; k++)
		doc_errnos[k] = documented[k].errnos;
	if (opt.brk_errno)
		doc_errnos[K_MOVE] &= ~EBIT(EINVAL);
	setup(&u);

	for (ph = 0; ph < NPHASE; ph++)
		if (opt.phases & 1u << ph)
			wsum += opt.weight[ph];
	total = 0;
	for (ph = 0; ph < NPHASE; ph++) {
		if (opt.phases & 1u << ph)
			n[ph] = (u64)((double)opt.count * opt.weight[ph] /
				      wsum);
		total += n[ph];
	}
	/* The rounding remainder goes to the first phase that runs. */
	for (ph = 0; ph < NPHASE; ph++)
		if (opt.phases & 1u << ph && opt.weight[ph])
			break;
	n[ph] += opt.count - total;
	total = opt.count;
	for (idx = 0, ph = 0; ph < NPHASE; ph++) {
		first[ph] = idx;
		idx += n[ph];
	}

	printf("pgremap-fuzz: kernel %s %s, seed %llu, %llu calls (args %llu, "
	       "structs %llu, oracle %llu, race %llu)\n",
	       u.release, u.version, (unsigned long long)opt.seed,
	       (unsigned long long)total, (unsigned long long)n[0],
	       (unsigned long long)n[1], (unsigned long long)n[2],
	       (unsigned long long)n[3]);
	printf("pgremap-fuzz: task size %#llx, mmap_min_addr %#llx, layout "
	       "%#llx-%#llx, mlock %s%s%s\n",
	       (unsigned long long)ts, (unsigned long long)mmin,
	       (unsigned long long)FUZZ_BASE, (unsigned long long)fuzz_end,
	       mlock_ok ? "yes" : "no (not root?)",
	       opt.brk_errno ? ", --break errno" : "",
	       opt.brk_oracle ? ", --break oracle" : "");

	step = total / 10 ? total / 10 : 1;
	next_progress = step;
	t0 = now();
	for (ph = 0; ph < NPHASE; ph++) {
		u64 start = first[ph];

		if (!n[ph])
			continue;
		if (opt.replay && opt.replay_idx >= first[ph] + n[ph]) {
			done += n[ph];
			continue; /* every phase starts from its own state */
		}
		if (opt.replay && (ph == PH_ARGS || ph == PH_STRUCTS))
			start = opt.replay_idx; /* stateless: skip ahead */
		done += start - first[ph];
		tp = now();
		if (ph == PH_ORACLE)
			oracle_begin();
		if (ph == PH_RACE)
			race_begin(first[ph]);
		for (idx = start; idx < first[ph] + n[ph]; idx++) {
			struct call cl = { .idx = idx, .phase = ph };

			switch (ph) {
			case PH_ARGS:
				args_call(idx, &cl);
				break;
			case PH_STRUCTS:
				structs_call(idx, &cl);
				break;
			case PH_ORACLE:
				oracle_call(idx, &cl);
				break;
			default:
				race_call(idx, first[ph], &cl);
			}
			phase_calls[ph]++;
			done++;
			if (opt.replay && idx == opt.replay_idx)
				break;
			if (done >= next_progress && !opt.replay) {
				double t = now() - t0;

				printf("[%3llu%%] %llu/%llu calls, phase %s, "
				       "%.1f s, %.0f calls/s, violations %llu\n",
				       (unsigned long long)(done * 100 / total),
				       (unsigned long long)done,
				       (unsigned long long)total,
				       phase_name[ph], t, done / t,
				       (unsigned long long)(v_undoc + v_model +
							    v_oracle));
				next_progress += step;
			}
		}
		if (ph == PH_RACE)
			race_end(idx);
		phase_secs[ph] = now() - tp;
		if (opt.replay && idx == opt.replay_idx)
			break;
	}
	tp = now() - t0;

	helper_calls = st_helper.calls;
	for (k = 0; k < NKIND; k++)
		for (int e = 0; e < 256; e++) {
			st_main.hist[k][e] += st_helper.hist[k][e];
			phase_hist[PH_RACE][e] +=
				k == K_MOVE ? st_helper.hist[k][e] : 0;
		}
	printf("== pgremap-fuzz summary: kernel %s, seed %llu\n", u.release,
	       (unsigned long long)opt.seed);
	printf("calls: %llu indexed + %llu race helper = %llu in %.1f s, "
	       "%.0f calls/s\n",
	       (unsigned long long)st_main.calls,
	       (unsigned long long)helper_calls,
	       (unsigned long long)(st_main.calls + helper_calls), tp,
	       tp > 0 ? (st_main.calls + helper_calls) / tp : 0.0);
	for (ph = 0; ph < NPHASE; ph++)
		if (phase_calls[ph])
			printf("  phase %-8s %10llu calls %8.1f s %10.0f "
			       "calls/s\n",
			       phase_name[ph],
			       (unsigned long long)phase_calls[ph],
			       phase_secs[ph],
			       phase_secs[ph] > 0 ?
				       phase_calls[ph] / phase_secs[ph] :
				       0.0);
	print_hist("answers (per ioctl: total: errno count):", &st_main);
	printf("PGREMAP_IOC_MOVE answers per phase:\n");
	for (ph = 0; ph < NPHASE; ph++) {
		if (!phase_calls[ph])
			continue;
		printf("  %-8s", phase_name[ph]);
		for (int e = 0; e < 256; e++)
			if (phase_hist[ph][e])
				printf(" %s %llu",
				       e == 255 ? "errno>=255" : ename(e),
				       (unsigned long long)phase_hist[ph][e]);
		printf("\n");
	}
	printf("memory checks: %llu (structs %llu calls, %llu pages; oracle "
	       "%llu calls, %llu pages; race %llu scans, %llu pages)\n",
	       (unsigned long long)(checks[PH_STRUCTS] + checks[PH_ORACLE] +
				    checks[PH_RACE]),
	       (unsigned long long)checks[PH_STRUCTS],
	       (unsigned long long)check_pages[PH_STRUCTS],
	       (unsigned long long)checks[PH_ORACLE],
	       (unsigned long long)check_pages[PH_ORACLE],
	       (unsigned long long)checks[PH_RACE],
	       (unsigned long long)check_pages[PH_RACE]);
	if (efault_all + efault_some + efault_none)
		printf("structs: valid moves whose .move could not be written "
		       "(EFAULT): %llu moved everything, %llu a part, %llu "
		       "nothing\n",
		       (unsigned long long)efault_all,
		       (unsigned long long)efault_some,
		       (unsigned long long)efault_none);
	if (racer_ops) {
		printf("racer: %llu ops (count, mean ms):",
		       (unsigned long long)racer_ops);
		for (k = 0; k < NRO; k++)
			if (ro_count[k])
				printf(" %s %llu %.2f", ro_name[k],
				       (unsigned long long)ro_count[k],
				       1e3 * ro_secs[k] / ro_count[k]);
		printf("\n");
	}
	printf("violations: %llu (undocumented errno %llu, model %llu, oracle "
	       "%llu)\n",
	       (unsigned long long)(v_undoc + v_model + v_oracle),
	       (unsigned long long)v_undoc, (unsigned long long)v_model,
	       (unsigned long long)v_oracle);
	if (opt.brk_oracle && !broke_oracle)
		printf("--break oracle: no moved tag to corrupt\n");
	printf("result: %s\n", v_undoc + v_model + v_oracle ? "FAIL" : "PASS");
	return v_undoc + v_model + v_oracle ? EXIT_VIOLATION : EXIT_CLEAN;
}
