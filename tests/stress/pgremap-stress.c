// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap-stress: minutes of PGREMAP_IOC_MOVE under everything else the
 * memory-management code does to the same pages (issue 5). Runs as root
 * inside a test guest (tests/stress/run-guest, tools/pgremap-vm).
 *
 * Memory. A few "arenas", private anonymous VMAs of 2 MiB multiples, 2 MiB
 * aligned, each with a 256 KiB hole on either side (the neighbours' place)
 * inside a PROT_NONE reservation. Every 4 KiB page of an arena is a slot;
 * 16 slots make a chunk. Protection and THP flips happen in the first half
 * of the arenas only, so that the other half stays one VMA each, as
 * khugepaged needs; two 2 MiB regions there are the shuttle's. A slot is EMPTY (it reads as zero: unpopulated,
 * or populated by the kernel with zeros: THP fault, khugepaged, the zero
 * page) or FULL: it holds the logical page (id, gen), whose 4 KiB are a
 * function of id and gen only (header magic/id/gen/hash, then 508 hashed
 * words), never of the address. One id in 8 is a "twin": its contents
 * depend only on a family (4 of them), so that KSM has identical pages to
 * merge.
 *
 * Ownership. Every chunk has an owner word (0 = free); a thread acquires a
 * chunk with a compare-and-swap and releases it with a store-release.
 * Only the owner reads or writes the pages of a chunk, its model (the
 * (id, gen) of each slot), and its protection; a mover owns the src and
 * the dst chunk(s) of a move. The ledger (id -> live, gen) and the pool of
 * free ids give the inventory an account that movers never touch. Other
 * actors change nothing a check depends on: MADV_PAGEOUT/COLD, khugepaged,
 * KSM and memory pressure keep contents; neighbours live in the holes.
 * fork() takes a rwlock for writing that every owner holds for reading,
 * so a child sees every chunk free and its snapshot consistent.
 *
 * Checks. Every move ioctl's result is checked against the model: the
 * bytes given by .move moved (each moved FULL page holds at dst exactly
 * what src held, src then reads as zero or is unpopulated; no moved page
 * lands on a FULL dst), the rest of both ranges is untouched, .move is
 * consistent with the return, the errno is one the man page documents for
 * the situation (EBUSY on a populated src page, EEXIST on a FULL or
 * populated dst page, ENOENT on an EMPTY src page without
 * ALLOW_SRC_HOLES, EINVAL exactly when the protections differ, src is
 * read-only, or /proc/self/maps shows a VMA boundary in a range, ENOMEM;
 * EAGAIN only with 0 < .move < len, or with .move == -EAGAIN: nothing
 * moved after the module's one-second retry bound). "Populated" is read from
 * /proc/self/pagemap after the call: nothing but the owner ever
 * depopulates a page, so a page unpopulated after the call was so
 * during it. Mutators verify every page before rewriting or discarding
 * it; fork children verify their snapshot, twice, and move their own
 * pages. At the end every slot is checked and the inventory taken: each
 * live id in exactly one slot, with the ledger's generation, none lost,
 * none duplicated, the pool holding exactly the dead ids.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/syscall.h>
#include <uapi/linux/pgremap.h>
#include <uffd-move-compat.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define EX_PASS 0
#define EX_FAIL 1
#define EX_USAGE 2
#define EX_SETUP 3

#define PG 4096UL
#define WORDS (PG / 8)
#define CP 16 /* slots per chunk */
#define PMD_PAGES 512
#define PMD_BYTES (PMD_PAGES * PG)
#define CPR (PMD_PAGES / CP) /* chunks per 2 MiB region */
#define GAP_PAGES 64 /* neighbour hole on each side of an arena */
#define MAX_ARENAS 16
#define TWIN_EVERY 8
#define NFAM 4
#define MAX_KIDS 2
#define MAX_FAIL_MSGS 40
#define NERR 160
#define MV_SENTINEL ((__s64)0x5a5a5a5a5a5a5a5aLL)

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define KPF_THP (1ULL << 22)

#define MAGIC_NORM 0x7067727374726e31ULL
#define MAGIC_TWIN 0x7067727374777431ULL

#define RW (PROT_READ | PROT_WRITE)
#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

#define KSM_DIR "/sys/kernel/mm/ksm/"
#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"
#define CG_ROOT "/sys/fs/cgroup"

/* ---- features ----------------------------------------------------------- */

enum {
	F_FORK = 1 << 0,
	F_CHURN = 1 << 1,
	F_MPROTECT = 1 << 2,
	F_DONTNEED = 1 << 3,
	F_PAGEOUT = 1 << 4,
	F_THP = 1 << 5,
	F_KSM = 1 << 6,
	F_CGROUP = 1 << 7,
	F_BALLOON = 1 << 8,
	F_SWAP = 1 << 9,
	F_BIGMOVE = 1 << 10,
	F_SPLICE = 1 << 11,
};

static const struct {
	const char *name;
	unsigned int bit;
} feature_names[] = {
	{ "fork", F_FORK },	    { "churn", F_CHURN },
	{ "mprotect", F_MPROTECT }, { "dontneed", F_DONTNEED },
	{ "pageout", F_PAGEOUT },   { "thp", F_THP },
	{ "ksm", F_KSM },	    { "cgroup", F_CGROUP },
	{ "balloon", F_BALLOON },   { "swap", F_SWAP },
	{ "shuttle", F_BIGMOVE },   { "splice", F_SPLICE },
};

/* ---- state -------------------------------------------------------------- */

struct chunk {
	atomic_int owner; /* 0: free, else worker index + 1 */
	int prot; /* RW or RWX while free; owner-only */
	int thp; /* MADV_HUGEPAGE (1) or MADV_NOHUGEPAGE (0); owner-only */
	bool shuttle; /* reserved for the shuttle (see shuttle()) */
};

struct slot {
	uint32_t id; /* 0: EMPTY */
	uint32_t gen;
};

struct ledger {
	uint32_t gen;
	uint8_t live;
};

/* Every field an unsigned long: summed as an array. */
struct stats {
	unsigned long ops, calls, ok, partial, refused, pages, swap_moved;
	unsigned long einval_pred, einval_vma, kfill, unshare, skip;
	unsigned long own_pageout, ro_tests;
	unsigned long shuttles, shuttle_thp, shuttle_remaps, shuttle_home;
	unsigned long swap_seen;
	unsigned long collapse_ok, collapse_fail;
	unsigned long busy_chunks, verified;
	unsigned long fills, rewrites, checks, dontneeds, chunk_dontneeds;
	unsigned long forks, fork_fail, kids_ok, kids_killed;
	unsigned long nb_maps, nb_merged, nb_taken, nb_enomem;
	unsigned long mprotects, madv_thp, vma_enomem;
	unsigned long pageouts, colds, splices, spliced, slow_calls;
	unsigned long err[NERR];
};

enum role { R_MOVER, R_MUTATOR, R_FORKER, R_CHURNER, R_FLIPPER, R_PAGER };

struct worker {
	int idx;
	enum role role;
	char name[16];
	uint64_t rng;
	pthread_t tid;
	uint64_t *buf; /* one page of scratch */
	const char *_Atomic where;
	struct stats st;
};

struct knob {
	const char *path;
	char old[64];
	bool saved;
};

static struct {
	/* options */
	unsigned long seconds, iterations, seed;
	unsigned int narenas, arena_mb, nmovers, nmutators, progress_s;
	unsigned long mem_max_mb, balloon_mb, swap_mb;
	unsigned int off;
	bool seed_set, no_coverage, verbose;
	bool uffd; /* --backend uffd: in-tree UFFDIO_MOVE, the oracle */
	int ufd;
	pthread_t uffd_tid;
	atomic_int uffd_stop;
	atomic_ulong uffd_faults;
	unsigned int plant; /* --plant-bug N: the checker's self-test */
	atomic_int planted;
	/* layout */
	char *resv;
	size_t resv_len, arena_bytes, spa, nslots, nchunks, nregions;
	size_t nflip; /* arenas 0..nflip-1 get protection and THP flips */
	size_t sh[2]; /* the shuttle's two 2 MiB regions */
	char *arena[MAX_ARENAS];
	struct chunk *chunks;
	struct slot *slots;
	struct ledger *ledger;
	uint32_t *pool;
	size_t pool_n;
	pthread_mutex_t pool_lock;
	atomic_long live;
	uint64_t cseed;
	/* files */
	int dev, pm_fd, kpf_fd;
	/* run control */
	pthread_rwlock_t quiesce;
	pthread_mutex_t fail_lock;
	atomic_int stop, failed, nfail;
	atomic_ulong mover_ops;
	atomic_int calm;
	double t0;
	bool in_child;
	int child_bad;
	struct worker *workers;
	int nworkers;
	/* environment */
	bool swap_managed, cg_made, ksm_on, have_swap;
	char cg_path[128], cg_orig[256];
	pid_t balloon;
	unsigned long balloon_restarts;
	unsigned long kids_killed_oom;
	/* samples */
	atomic_long ksm_shared_max, ksm_sharing_max, anon_huge_max;
} g = {
	.seconds = 60,
	.narenas = 4,
	.arena_mb = 8,
	.nmovers = 2,
	.nmutators = 4,
	.progress_s = 10,
	.balloon_mb = 16,
	.swap_mb = 512,
	.dev = -1,
	.ufd = -1,
	.pm_fd = -1,
	.kpf_fd = -1,
	.pool_lock = PTHREAD_MUTEX_INITIALIZER,
	.fail_lock = PTHREAD_MUTEX_INITIALIZER,
};

static struct knob knobs[] = {
	{ .path = THP_DIR "enabled" },
	{ .path = THP_DIR "khugepaged/scan_sleep_millisecs" },
	{ .path = THP_DIR "khugepaged/alloc_sleep_millisecs" },
	{ .path = THP_DIR "khugepaged/pages_to_scan" },
	{ .path = THP_DIR "khugepaged/max_ptes_none" },
	{ .path = THP_DIR "khugepaged/max_ptes_swap" },
	{ .path = THP_DIR "khugepaged/max_ptes_shared" },
	{ .path = KSM_DIR "run" },
	{ .path = KSM_DIR "pages_to_scan" },
	{ .path = KSM_DIR "sleep_millisecs" },
};

enum {
	K_THP_ENABLED,
	K_KH_SCAN,
	K_KH_ALLOC,
	K_KH_PAGES,
	K_KH_NONE,
	K_KH_SWAP,
	K_KH_SHARED,
	K_KSM_RUN,
	K_KSM_PAGES,
	K_KSM_SLEEP,
};

/* ---- small helpers ------------------------------------------------------ */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double elapsed(void)
{
	return now_s() - g.t0;
}

static void msleep(unsigned long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static bool stopping(void)
{
	return atomic_load_explicit(&g.stop, memory_order_relaxed);
}

/*
 * khugepaged scans an mm only if mmap_read_trylock() succeeds, which
 * fails while a writer holds or waits for mmap_lock: with mprotect,
 * madvise, mmap/munmap and fork going on all the time, 6.1's khugepaged
 * (without per-VMA locks for faults) would never get in. In calm
 * windows, the threads that take mmap_lock for writing (flipper,
 * churner, forker) pause, and movers skip their mprotect, MAP_FIXED and
 * MADV_COLLAPSE; moves, mutators, reclaim go on.
 */
static void calm_wait(void)
{
	while (atomic_load(&g.calm) && !stopping())
		msleep(50);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t rnd64(struct worker *w)
{
	w->rng += 0x9e3779b97f4a7c15ULL;
	return mix64(w->rng);
}

static unsigned long rnd(struct worker *w, unsigned long n)
{
	return n ? rnd64(w) % n : 0;
}

#define INC(w, f) __atomic_fetch_add(&(w)->st.f, 1, __ATOMIC_RELAXED)
#define ADD(w, f, n) __atomic_fetch_add(&(w)->st.f, (n), __ATOMIC_RELAXED)

static void where(struct worker *w, const char *s)
{
	atomic_store_explicit(&w->where, s, memory_order_relaxed);
}

static bool on(unsigned int feature)
{
	return !(g.off & feature);
}

static int read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (off < len - 1) {
		n = read(fd, buf + off, len - 1 - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	close(fd);
	buf[off] = '\0';
	while (off && buf[off - 1] == '\n')
		buf[--off] = '\0';
	return off;
}

static int write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static long read_long(const char *path)
{
	char buf[64];

	if (read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* A "name value" line of /proc/vmstat, or -1. */
static long vmstat(const char *name)
{
	char line[128], key[64];
	size_t len = strlen(name);
	long v, ret = -1;
	FILE *f;

	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, len) || line[len] != ' ')
			continue;
		if (sscanf(line, "%63s %ld", key, &v) == 2)
			ret = v;
		break;
	}
	fclose(f);
	return ret;
}

/* A "Name: value kB" line of /proc/meminfo or a cgroup file, or -1. */
static long keyed(const char *path, const char *name)
{
	char line[160];
	size_t len = strlen(name);
	long ret = -1;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) &&
		    (line[len] == ':' || line[len] == ' ')) {
			ret = strtol(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return ret;
}

static void amax(atomic_long *m, long v)
{
	long cur = atomic_load(m);

	while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
		;
}

/* ---- reporting ---------------------------------------------------------- */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void setup_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void setup_fail(const char *fmt, ...)
{
	va_list ap;

	printf("pgremap-stress: setup failure: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\nRESULT: SETUP FAILURE (exit %d)\n", EX_SETUP);
	fflush(stdout);
	exit(EX_SETUP);
}

static void fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct worker *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g.in_child) {
		/* No stdio, no locks after fork() in a threaded process. */
		dprintf(STDOUT_FILENO, "FAIL [child %d of %s]: %s\n", getpid(),
			w ? w->name : "?", msg);
		g.child_bad = 1;
		return;
	}
	n = atomic_fetch_add(&g.nfail, 1);
	atomic_store(&g.failed, 1);
	atomic_store(&g.stop, 1);
	if (n >= MAX_FAIL_MSGS)
		return;
	pthread_mutex_lock(&g.fail_lock);
	printf("FAIL [%s, %.1f s]: %s\n", w ? w->name : "main", elapsed(), msg);
	if (n + 1 == MAX_FAIL_MSGS)
		printf("FAIL: further failures not shown\n");
	fflush(stdout);
	pthread_mutex_unlock(&g.fail_lock);
}

/* --plant-bug: true once, for the first caller of that kind after 3 s. */
static bool plant(unsigned int kind)
{
	int zero = 0;

	return g.plant == kind && !g.in_child && elapsed() > 3 &&
	       atomic_compare_exchange_strong(&g.planted, &zero, 1);
}

static bool failed(void)
{
	return atomic_load(&g.failed) || (g.in_child && g.child_bad);
}

/* ---- page contents ------------------------------------------------------ */

static bool is_twin(uint32_t id)
{
	return on(F_KSM) && id % TWIN_EVERY == 0;
}

static unsigned int twin_family(uint32_t id, uint32_t gen)
{
	return (id / TWIN_EVERY + gen) % NFAM;
}

/* The 4 KiB of logical page (id, gen). */
static void content_make(uint64_t *w, uint32_t id, uint32_t gen)
{
	uint64_t key, h = 0xcbf29ce484222325ULL;
	size_t j;

	if (is_twin(id)) {
		unsigned int fam = twin_family(id, gen);

		key = mix64(g.cseed ^ 0x7477696e00000000ULL ^ fam);
		w[0] = MAGIC_TWIN;
		w[1] = fam;
		for (j = 2; j < WORDS; j++)
			w[j] = mix64(key + j);
		return;
	}
	key = mix64(g.cseed ^ ((uint64_t)id << 32 | gen));
	w[0] = MAGIC_NORM;
	w[1] = id;
	w[2] = gen;
	for (j = 4; j < WORDS; j++) {
		w[j] = mix64(key + j);
		h = (h ^ w[j]) * 0x100000001b3ULL;
	}
	w[3] = h;
}

static void describe(const uint64_t *p, char *out, size_t len)
{
	size_t j;

	for (j = 0; j < WORDS && !p[j]; j++)
		;
	if (j == WORDS)
		snprintf(out, len, "all zero");
	else if (p[0] == MAGIC_NORM)
		snprintf(out, len, "header id %llu gen %llu",
			 (unsigned long long)p[1], (unsigned long long)p[2]);
	else if (p[0] == MAGIC_TWIN)
		snprintf(out, len, "twin family %llu",
			 (unsigned long long)p[1]);
	else
		snprintf(out, len,
			 "unknown, words %#llx %#llx (first non-zero %zu)",
			 (unsigned long long)p[0], (unsigned long long)p[1], j);
}

static uint64_t pagemap(const void *addr)
{
	uint64_t e = 0;

	if (pread(g.pm_fd, &e, 8, (uintptr_t)addr / PG * 8) != 8)
		fail(NULL, "pagemap read at %p: %s", addr, strerror(errno));
	return e;
}

static bool populated(uint64_t pm)
{
	return pm & (PM_PRESENT | PM_SWAP);
}

static char *slot_addr(size_t s)
{
	return g.arena[s / g.spa] + (s % g.spa) * PG;
}

static bool full(size_t s)
{
	return g.slots[s].id != 0;
}

static struct chunk *chunk_of(size_t s)
{
	return &g.chunks[s / CP];
}

/* A FULL slot must hold its (id, gen). */
static bool check_full(struct worker *w, size_t s, struct slot want,
		       const char *what)
{
	const uint64_t *p = (const uint64_t *)slot_addr(s);
	char d[128];
	size_t j;

	content_make(w->buf, want.id, want.gen);
	INC(w, verified);
	if (!memcmp(p, w->buf, PG))
		return true;
	for (j = 0; j < WORDS && p[j] == w->buf[j]; j++)
		;
	describe(p, d, sizeof(d));
	fail(w,
	     "%s: slot %zu (%p) should hold id %u gen %u%s, word %zu differs "
	     "(%#llx, want %#llx); page: %s; pagemap %#llx",
	     what, s, (void *)p, want.id, want.gen,
	     is_twin(want.id) ? " (twin)" : "", j, (unsigned long long)p[j],
	     (unsigned long long)w->buf[j], d, (unsigned long long)pagemap(p));
	return false;
}

/* An EMPTY slot must be unpopulated or read as zero. */
static bool check_empty(struct worker *w, size_t s, const char *what)
{
	const uint64_t *p = (const uint64_t *)slot_addr(s);
	uint64_t pm = pagemap(p);
	char d[128];
	size_t j;

	if (!populated(pm))
		return true;
	INC(w, verified);
	for (j = 0; j < WORDS; j++)
		if (p[j])
			break;
	if (j == WORDS)
		return true;
	describe(p, d, sizeof(d));
	fail(w, "%s: EMPTY slot %zu (%p) is not zero: %s; pagemap %#llx", what,
	     s, (void *)p, d, (unsigned long long)pm);
	return false;
}

static bool check_slot(struct worker *w, size_t s, const char *what)
{
	return full(s) ? check_full(w, s, g.slots[s], what) :
			 check_empty(w, s, what);
}

/* ---- ids ------------------------------------------------------------------ */

static uint32_t id_get(void)
{
	uint32_t id = 0;

	pthread_mutex_lock(&g.pool_lock);
	if (g.pool_n)
		id = g.pool[--g.pool_n];
	pthread_mutex_unlock(&g.pool_lock);
	return id;
}

static void id_put(uint32_t id)
{
	pthread_mutex_lock(&g.pool_lock);
	g.pool[g.pool_n++] = id;
	pthread_mutex_unlock(&g.pool_lock);
}

/* Write (id, ++gen) into slot s (owned), in model and ledger. */
static void slot_write(struct worker *w, size_t s, uint32_t id)
{
	uint32_t gen = ++g.ledger[id].gen;

	content_make(w->buf, id, gen);
	memcpy(slot_addr(s), w->buf, PG);
	g.slots[s].id = id;
	g.slots[s].gen = gen;
}

static bool fill(struct worker *w, size_t s)
{
	uint32_t id = id_get();

	if (!id)
		return false;
	if (g.slots[(s + CP) % g.nslots].id && plant(5)) {
		/* Two slots with one id: only the inventory can tell. */
		id_put(id);
		id = g.slots[(s + CP) % g.nslots].id;
		say("plant-bug 5: slot %zu reuses live id %u", s, id);
		g.ledger[id].live = 0;
		atomic_fetch_sub(&g.live, 1);
	}
	g.ledger[id].live = 1;
	atomic_fetch_add(&g.live, 1);
	slot_write(w, s, id);
	INC(w, fills);
	return true;
}

/* Retire the id of FULL slot s whose page has just been discarded. */
static void retire(size_t s)
{
	uint32_t id = g.slots[s].id;

	g.ledger[id].live = 0;
	g.slots[s].id = 0;
	g.slots[s].gen = 0;
	atomic_fetch_sub(&g.live, 1);
	id_put(id);
}

/* ---- chunks ------------------------------------------------------------- */

static bool chunk_try(struct worker *w, size_t c)
{
	int free_ = 0;

	if (atomic_compare_exchange_strong_explicit(
		    &g.chunks[c].owner, &free_, w->idx + 1,
		    memory_order_acquire, memory_order_relaxed))
		return true;
	INC(w, busy_chunks);
	return false;
}

static void chunk_put(size_t c)
{
	atomic_store_explicit(&g.chunks[c].owner, 0, memory_order_release);
}

static bool chunks_try(struct worker *w, size_t c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!chunk_try(w, c + i)) {
			while (i--)
				chunk_put(c + i);
			return false;
		}
	}
	return true;
}

static void chunks_put(size_t c, size_t n)
{
	while (n--)
		chunk_put(c + n);
}

static void op_begin(void)
{
	pthread_rwlock_rdlock(&g.quiesce);
}

static void op_end(void)
{
	pthread_rwlock_unlock(&g.quiesce);
}

/* mprotect n owned chunks from c (one arena) to prot; false on ENOMEM. */
static bool chunks_protect(struct worker *w, size_t c, size_t n, int prot)
{
	size_t i;

	if (mprotect(slot_addr(c * CP), n * CP * PG, prot)) {
		if (errno == ENOMEM || errno == EAGAIN) {
			INC(w, vma_enomem);
			return false;
		}
		fail(w, "mprotect chunks %zu+%zu to %#x: %s", c, n, prot,
		     strerror(errno));
		return false;
	}
	for (i = 0; i < n; i++)
		g.chunks[c + i].prot = prot;
	INC(w, mprotects);
	return true;
}

/* ---- /proc/self/maps ---------------------------------------------------- */

/* Does one VMA hold [start, end)? */
static bool in_one_vma(unsigned long start, unsigned long end)
{
	unsigned long lo, hi;
	char line[512];
	bool ret = false;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if (start >= lo && start < hi) {
			ret = end <= hi;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* The VMA holding addr, or false. */
static bool vma_of(unsigned long addr, unsigned long *lo, unsigned long *hi)
{
	char line[512];
	bool ret = false;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", lo, hi) != 2)
			continue;
		if (addr >= *lo && addr < *hi) {
			ret = true;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* ---- the move ------------------------------------------------------------ */

static int do_move(unsigned long dst, unsigned long src, unsigned long len,
		   __u64 mode, __s64 *mv)
{
	struct pgremap_move m = { .dst = dst,
				  .src = src,
				  .len = len,
				  .mode = mode,
				  .move = MV_SENTINEL };
	/* struct uffdio_move has the same layout. */
	int ret = g.uffd ? ioctl(g.ufd, UFFDIO_MOVE, &m) :
			   ioctl(g.dev, PGREMAP_IOC_MOVE, &m);

	*mv = m.move;
	if (ret == 0)
		return 0;
	if (ret != -1)
		return -ret - 100000; /* impossible return value */
	return errno;
}

/* --backend uffd: every arena range is registered (missing mode). */
static int uffd_register(void *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (unsigned long)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (!g.uffd)
		return 0;
	if (ioctl(g.ufd, UFFDIO_REGISTER, &reg))
		return -errno;
	return reg.ioctls & (1ULL << _UFFDIO_MOVE) ? 0 : -EOPNOTSUPP;
}

/* Missing faults in registered ranges: map the zero page, as a fault. */
static void *uffd_main(void *arg)
{
	struct pollfd pfd = { .fd = g.ufd, .events = POLLIN };
	struct uffdio_zeropage zp;
	struct uffd_msg msg;
	struct uffdio_range r;

	(void)arg;
	while (!atomic_load(&g.uffd_stop)) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(g.ufd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		zp.range.start = msg.arg.pagefault.address & ~(PG - 1);
		zp.range.len = PG;
		zp.mode = 0;
		if (ioctl(g.ufd, UFFDIO_ZEROPAGE, &zp)) {
			/* EEXIST: populated meanwhile (a move). */
			r = zp.range;
			ioctl(g.ufd, UFFDIO_WAKE, &r);
		}
		atomic_fetch_add(&g.uffd_faults, 1);
	}
	return NULL;
}

static const char *ename(int e)
{
	static const char *const n[NERR] = {
		[EBUSY] = "EBUSY",   [EEXIST] = "EEXIST", [ENOENT] = "ENOENT",
		[EINVAL] = "EINVAL", [ENOMEM] = "ENOMEM", [EAGAIN] = "EAGAIN",
		[EFAULT] = "EFAULT", [EINTR] = "EINTR",	  [ESRCH] = "ESRCH",
		[ENOTTY] = "ENOTTY", [EPERM] = "EPERM",
	};

	return e > 0 && e < NERR && n[e] ? n[e] : "errno";
}

struct mres {
	int err; /* 0, errno, or -1 after a failed check */
	size_t moved; /* pages */
	bool sampled; /* the pages not moved were only sampled */
};

/*
 * One ioctl: move n slots from s to d (all owned), check the result and
 * every page of both ranges against the model, update the model.
 */
static struct mres move_call(struct worker *w, size_t s, size_t d, size_t n,
			     __u64 mode, bool expect_einval)
{
	unsigned long src = (unsigned long)slot_addr(s);
	unsigned long dst = (unsigned long)slot_addr(d);
	unsigned long len = n * PG;
	struct mres r = { 0, 0, false };
	uint64_t pre[PMD_PAGES];
	double t0;
	char what[160];
	size_t i;
	__s64 mv;
	int err;

	snprintf(what, sizeof(what),
		 "move %zu pages slot %zu -> %zu (%#lx -> %#lx, mode %#llx)", n,
		 s, d, src, dst, (unsigned long long)mode);
	if (n > PMD_PAGES ||
	    pread(g.pm_fd, pre, n * 8, src / PG * 8) != (ssize_t)(n * 8))
		memset(pre, 0, sizeof(pre));
	for (i = 0; i < n && i < PMD_PAGES; i++)
		if ((pre[i] & PM_SWAP) && full(s + i))
			INC(w, swap_seen);
	where(w, "ioctl");
	t0 = now_s();
	err = do_move(dst, src, len, mode, &mv);
	/* The module's retry bound is 1 s: this call (probably) hit it. */
	if (err && now_s() - t0 >= 0.9)
		INC(w, slow_calls);
	where(w, "check");
	INC(w, calls);
	r.err = err;
	if (!err) {
		INC(w, ok);
		if (mv != (__s64)len) {
			fail(w, "%s: returned 0 but .move = %lld", what,
			     (long long)mv);
			r.err = -1;
			return r;
		}
		r.moved = n;
	} else if (err == EAGAIN && mv == -EAGAIN) {
		/*
		 * Nothing moved: a source entry kept changing (or its large
		 * folio stayed locked) for the module's retry bound.
		 */
		INC(w, refused);
		INC(w, err[EAGAIN]);
	} else if (err == EAGAIN) {
		INC(w, partial);
		if (mv <= 0 || mv >= (__s64)len || mv % PG) {
			fail(w,
			     "%s: EAGAIN with .move = %lld (must be a page "
			     "multiple in (0, len))",
			     what, (long long)mv);
			r.err = -1;
			return r;
		}
		r.moved = mv / PG;
	} else {
		INC(w, refused);
		if (err > 0 && err < NERR)
			INC(w, err[err]);
		if (err != EBUSY && err != EEXIST && err != ENOENT &&
		    err != EINVAL && err != ENOMEM) {
			fail(w,
			     "%s: %s (%d), .move %lld: not an errno this "
			     "move can give (pgremap.4)",
			     what, err > 0 ? strerror(err) : "bad return", err,
			     (long long)mv);
			r.err = -1;
			return r;
		}
		if (mv != -err && !(err == EINVAL && mv == MV_SENTINEL)) {
			fail(w, "%s: %s but .move = %lld", what, ename(err),
			     (long long)mv);
			r.err = -1;
			return r;
		}
	}
	ADD(w, pages, r.moved);
	if (r.moved && full(s) && plant(1)) {
		/* As if the module lost the page: dst reads zero. */
		say("plant-bug 1: discarding dst slot %zu after the move", d);
		madvise(slot_addr(d), PG, MADV_DONTNEED);
	}
	if (r.moved && full(s) && plant(2)) {
		/* As if the module copied instead of moving. */
		say("plant-bug 2: copying dst slot %zu back to src slot %zu", d,
		    s);
		memcpy(slot_addr(s), slot_addr(d), PG);
	}
	if (err == EAGAIN && full(s + r.moved) && !full(d + r.moved) &&
	    plant(4)) {
		/* Believe one page more moved than .move says. */
		say("plant-bug 4: counting slot %zu as moved beyond .move",
		    s + r.moved);
		r.moved++;
	}

	if (expect_einval && err != EINVAL) {
		fail(w, "%s: %s, want EINVAL (src prot %#x, dst prot %#x)",
		     what, err ? ename(err) : "moved", chunk_of(s)->prot,
		     chunk_of(d)->prot);
		r.err = -1;
		/* Still check the pages below. */
	}
	if (err == EINVAL) {
		if (expect_einval) {
			INC(w, einval_pred);
		} else if (!in_one_vma(src, src + len) ||
			   !in_one_vma(dst, dst + len)) {
			INC(w, einval_vma);
		} else {
			fail(w,
			     "%s: EINVAL, but both ranges are inside one VMA "
			     "each with equal protections (%#x, %#x)",
			     what, chunk_of(s)->prot, chunk_of(d)->prot);
			r.err = -1;
		}
	}

	for (i = 0; i < n; i++) {
		size_t si = s + i, di = d + i;

		if (i >= r.moved) {
			/*
			 * A long rest: its first 16 pages and 16 others here,
			 * all of it once the caller is done (move_range()).
			 */
			if (n - r.moved > 32 && i >= r.moved + 16) {
				r.sampled = true;
				if (rnd(w, n - r.moved - 16) >= 16)
					continue;
			}
			check_slot(w, si, "src page not moved");
			check_slot(w, di, "dst page not moved");
			continue;
		}
		if (full(si)) {
			if (full(di)) {
				fail(w,
				     "%s: page %zu moved onto FULL dst slot %zu "
				     "(id %u lost)",
				     what, i, di, g.slots[di].id);
				r.err = -1;
			}
			if (!check_full(w, di, g.slots[si],
					"moved page at dst") ||
			    !check_empty(w, si, "src after its page moved"))
				r.err = -1;
			if (pre[i] & PM_SWAP)
				INC(w, swap_moved);
			g.slots[di] = g.slots[si];
			g.slots[si].id = 0;
			g.slots[si].gen = 0;
		} else {
			/* A hole (or kernel zeros) moved or skipped. */
			check_slot(w, di, "dst under a moved EMPTY src page");
			check_empty(w, si, "EMPTY src page after the move");
		}
	}
	if (failed()) {
		r.err = -1;
		return r;
	}

	/* The page that stopped the move must justify the errno. */
	if (err == ENOENT && (mode & PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES)) {
		fail(w, "%s: ENOENT with ALLOW_SRC_HOLES", what);
		r.err = -1;
	} else if (err == ENOENT && full(s)) {
		fail(w, "%s: ENOENT, but src slot %zu holds id %u", what, s,
		     g.slots[s].id);
		r.err = -1;
	} else if (err == EEXIST && !full(d) &&
		   !populated(pagemap(slot_addr(d)))) {
		fail(w, "%s: EEXIST, but dst slot %zu is EMPTY and unpopulated",
		     what, d);
		r.err = -1;
	} else if (err == EBUSY && !populated(pagemap(slot_addr(s)))) {
		fail(w, "%s: EBUSY, but src slot %zu is unpopulated", what, s);
		r.err = -1;
	}
	return r;
}

/* Discard an EMPTY owned slot's kernel-made zeros (MADV_DONTNEED). */
static void zap_empty(struct worker *w, size_t s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!check_empty(w, s + i, "EMPTY slot before MADV_DONTNEED"))
			return;
	if (madvise(slot_addr(s), n * PG, MADV_DONTNEED))
		fail(w, "MADV_DONTNEED slot %zu+%zu: %s", s, n,
		     strerror(errno));
}

/* The same for every populated EMPTY slot of [s, s + n), run by run. */
static void zap_empty_runs(struct worker *w, size_t s, size_t n)
{
	uint64_t pm[PMD_PAGES];
	size_t i, j;

	if (n > PMD_PAGES ||
	    pread(g.pm_fd, pm, n * 8, (uintptr_t)slot_addr(s) / PG * 8) !=
		    (ssize_t)(n * 8)) {
		zap_empty(w, s, 1);
		return;
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && !full(s + j) && populated(pm[j]); j++)
			;
		if (j > i)
			zap_empty(w, s + i, j - i);
		else
			j++;
	}
}

/* Make an owned FULL page exclusive again: a write fault (COW, KSM). */
static void make_exclusive(size_t s)
{
	volatile uint64_t *p = (volatile uint64_t *)slot_addr(s);

	p[1] = p[1];
}

/*
 * Move n slots from s to d, resuming after short moves, stepping over
 * obstacles (a FULL dst, an EMPTY src) and clearing the transient ones
 * (a shared src page, kernel zeros in an EMPTY dst) as their owner may.
 */
static void move_range(struct worker *w, size_t s, size_t d, size_t n,
		       __u64 mode, bool expect_einval)
{
	size_t done = 0, tries = 0, i;
	bool sampled = false;
	struct mres r;

	while (done < n && !stopping()) {
		r = move_call(w, s + done, d + done, n - done, mode,
			      expect_einval);
		sampled |= r.sampled;
		if (r.err < 0)
			return;
		done += r.moved;
		if (!r.err || r.err == EINVAL || r.err == ENOMEM ||
		    expect_einval || ++tries > 16 + n / 8)
			break;
		if (r.err == EAGAIN)
			continue;
		if (r.err == EBUSY && rnd(w, 4)) {
			size_t i;

			if (!full(s + done))
				zap_empty(w, s + done, 1);
			for (i = done; i < n; i++)
				if (full(s + i))
					make_exclusive(s + i);
			INC(w, unshare);
			continue;
		}
		if (r.err == EEXIST && !full(d + done)) {
			zap_empty_runs(w, d + done, n - done);
			INC(w, kfill);
			continue;
		}
		INC(w, skip);
		done++;
	}
	/* Every page of both ranges, after the last ioctl on them. */
	for (i = 0; sampled && i < n && !failed(); i++) {
		check_slot(w, s + i, "src range after the move");
		check_slot(w, d + i, "dst range after the move");
	}
}

/* A move between two 16-page chunks. */
static void small_move(struct worker *w)
{
	size_t sc = rnd(w, g.nchunks), dc = rnd(w, g.nchunks);
	size_t s0, d0, os, od, n, i, lim;
	int ro = 0, sprot, dprot;
	bool clean, expect;
	__u64 mode = 0;

	if (sc == dc || g.chunks[sc].shuttle || g.chunks[dc].shuttle ||
	    !chunk_try(w, sc))
		return;
	if (!chunk_try(w, dc)) {
		chunk_put(sc);
		return;
	}
	s0 = sc * CP;
	d0 = dc * CP;
	os = rnd(w, CP);
	od = rnd(w, CP);
	clean = rnd(w, 4) != 0;
	if (clean) {
		/* A run of FULL src slots onto EMPTY dst slots. */
		for (i = 0; i < CP && !full(s0 + (os + i) % CP); i++)
			;
		os = (os + i) % CP;
		for (i = 0; i < CP && full(d0 + (od + i) % CP); i++)
			;
		od = (od + i) % CP;
	}
	lim = CP - (os > od ? os : od);
	n = 1 + rnd(w, lim);
	if (clean)
		for (i = 1; i < n; i++)
			if (!full(s0 + os + i) || full(d0 + od + i))
				n = i;
	if (rnd(w, 4) == 0)
		mode |= PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES;
	if (rnd(w, 8) == 0)
		mode |= PGREMAP_MOVE_MODE_DONTWAKE;
	if (on(F_PAGEOUT) && rnd(w, 8) == 0) {
		/* Our own pages, so their entries are swap entries now. */
		if (madvise(slot_addr(s0 + os), n * PG, MADV_PAGEOUT))
			fail(w, "MADV_PAGEOUT own src: %s", strerror(errno));
		INC(w, own_pageout);
	}
	sprot = g.chunks[sc].prot;
	dprot = g.chunks[dc].prot;
	if (on(F_MPROTECT) && rnd(w, 24) == 0 && !atomic_load(&g.calm)) {
		/* Read-only src, dst or both: EINVAL, nothing touched. */
		ro = 1 + rnd(w, 3);
		if ((ro & 1) && !chunks_protect(w, sc, 1, PROT_READ))
			ro &= ~1;
		if ((ro & 2) && !chunks_protect(w, dc, 1, PROT_READ))
			ro &= ~2;
		if (ro)
			INC(w, ro_tests);
	}
	expect = g.chunks[sc].prot != g.chunks[dc].prot ||
		 !(g.chunks[sc].prot & PROT_WRITE);
	move_range(w, s0 + os, d0 + od, n, mode, expect);
	/* Back to what the chunks were (ENOMEM: retry, they stay ours). */
	while ((ro & 1) && !chunks_protect(w, sc, 1, sprot) && !failed())
		msleep(1);
	while ((ro & 2) && !chunks_protect(w, dc, 1, dprot) && !failed())
		msleep(1);
	chunk_put(dc);
	chunk_put(sc);
}

/*
 * The shuttle: two 2 MiB regions no one else owns, whose pages go back
 * and forth as a whole. The source side is dense (a THP from its fault,
 * or khugepaged's), the other side is left unpopulated (pmd_none), so
 * this is where whole-PMD moves happen, and splits when reclaim, KSM,
 * fork or khugepaged got there first. Some pages are rewritten or added
 * on the way.
 */
static void shuttle_remap(struct worker *w, size_t d0)
{
	char *p = slot_addr(d0);

	if (mmap(p, PMD_BYTES, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) != p) {
		fail(w, "mmap MAP_FIXED shuttle region %p: %s", (void *)p,
		     strerror(errno));
		return;
	}
	if (madvise(p, PMD_BYTES,
		    on(F_THP) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) ||
	    (on(F_KSM) && madvise(p, PMD_BYTES, MADV_MERGEABLE)) ||
	    uffd_register(p, PMD_BYTES))
		fail(w, "madvise/register the remapped shuttle region: %s",
		     strerror(errno));
	INC(w, shuttle_remaps);
}

static void shuttle(struct worker *w)
{
	size_t cp = g.sh[0] * CPR, cq = g.sh[1] * CPR, nf[2] = { 0, 0 };
	size_t s0, d0, i, k;
	uint64_t pm;

	if (!chunks_try(w, cp, CPR))
		return;
	if (!chunks_try(w, cq, CPR)) {
		chunks_put(cp, CPR);
		return;
	}
	INC(w, shuttles);
	for (i = 0; i < PMD_PAGES; i++) {
		nf[0] += full(cp * CP + i);
		nf[1] += full(cq * CP + i);
	}
	s0 = (nf[0] >= nf[1] ? cp : cq) * CP;
	d0 = (nf[0] >= nf[1] ? cq : cp) * CP;
	for (k = 0; k < 8; k++) {
		i = s0 + rnd(w, PMD_PAGES);
		if (!full(i))
			fill(w, i);
		else if (rnd(w, 2) && check_full(w, i, g.slots[i],
						 "shuttle page before rewrite"))
			slot_write(w, i, g.slots[i].id);
	}
	/* Pages left behind at dst (obstacles last time) go home first. */
	for (i = 0, k = 0; i < PMD_PAGES && !stopping(); i++) {
		if (!full(d0 + i))
			continue;
		while (k < PMD_PAGES && full(s0 + k))
			k++;
		if (k == PMD_PAGES)
			break;
		if (populated(pagemap(slot_addr(s0 + k))))
			zap_empty(w, s0 + k, 1);
		move_range(w, d0 + i, s0 + k, 1, 0, false);
		INC(w, shuttle_home);
	}
	for (i = 0; i < PMD_PAGES && !full(d0 + i); i++)
		;
	if (i == PMD_PAGES && rnd(w, 2) && !atomic_load(&g.calm)) {
		/* dst holds nothing: map it afresh, page table and all. */
		for (i = 0; i < PMD_PAGES; i++)
			if (!check_empty(w, d0 + i, "shuttle dst before remap"))
				goto out;
		shuttle_remap(w, d0);
	} else if (i == PMD_PAGES) {
		for (i = 0; i < PMD_PAGES; i++)
			if (populated(pagemap(slot_addr(d0 + i))))
				break;
		if (i < PMD_PAGES)
			zap_empty(w, d0, PMD_PAGES);
	}
	if (on(F_THP) && rnd(w, 2) && !atomic_load(&g.calm)) {
		/* Whatever it is now, make src one THP again if it can. */
		if (madvise(slot_addr(s0), PMD_BYTES, MADV_COLLAPSE))
			INC(w, collapse_fail);
		else
			INC(w, collapse_ok);
	}
	move_range(w, s0, d0, PMD_PAGES, PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES,
		   false);
	pm = pagemap(slot_addr(d0));
	if ((pm & PM_PRESENT) && g.kpf_fd >= 0) {
		uint64_t f = 0;

		if (pread(g.kpf_fd, &f, 8, (pm & PM_PFN_MASK) * 8) == 8 &&
		    (f & KPF_THP))
			INC(w, shuttle_thp);
	}
out:
	chunks_put(cq, CPR);
	chunks_put(cp, CPR);
}

static void *mover_main(void *arg)
{
	struct worker *w = arg;
	unsigned long ops;

	while (!stopping()) {
		op_begin();
		where(w, "op");
		if (on(F_BIGMOVE) && rnd(w, 16) == 0)
			shuttle(w);
		else
			small_move(w);
		where(w, "idle");
		op_end();
		INC(w, ops);
		ops = atomic_fetch_add(&g.mover_ops, 1) + 1;
		if (g.iterations && ops >= g.iterations)
			atomic_store(&g.stop, 1);
	}
	return NULL;
}

/* ---- mutators ------------------------------------------------------------ */

static void dontneed_full(struct worker *w, size_t s)
{
	if (!check_full(w, s, g.slots[s], "page before MADV_DONTNEED"))
		return;
	if (madvise(slot_addr(s), PG, MADV_DONTNEED)) {
		fail(w, "MADV_DONTNEED slot %zu: %s", s, strerror(errno));
		return;
	}
	retire(s);
	INC(w, dontneeds);
	check_empty(w, s, "slot after MADV_DONTNEED");
}

static void mutate_chunk(struct worker *w, size_t c)
{
	size_t s0 = c * CP, s, k, n = 1 + rnd(w, 8);
	unsigned long r;

	if (on(F_DONTNEED) && rnd(w, 100) == 0) {
		/* The whole chunk: every page verified, then discarded. */
		for (s = s0; s < s0 + CP; s++)
			if (!check_slot(w, s, "chunk before MADV_DONTNEED"))
				return;
		if (madvise(slot_addr(s0), CP * PG, MADV_DONTNEED)) {
			fail(w, "MADV_DONTNEED chunk %zu: %s", c,
			     strerror(errno));
			return;
		}
		for (s = s0; s < s0 + CP; s++) {
			if (full(s))
				retire(s);
			check_empty(w, s, "chunk after MADV_DONTNEED");
		}
		INC(w, chunk_dontneeds);
		return;
	}
	for (k = 0; k < n && !failed(); k++) {
		s = s0 + rnd(w, CP);
		r = rnd(w, 100);
		if (full(s)) {
			if (r < 50) {
				check_full(w, s, g.slots[s], "mutator read");
				INC(w, checks);
			} else if (r < 88) {
				if (check_full(w, s, g.slots[s],
					       "page before rewrite")) {
					if (plant(3)) {
						/* The model moves on, the page not. */
						say("plant-bug 3: not writing slot %zu",
						    s);
						g.slots[s].gen =
							++g.ledger[g.slots[s].id]
								  .gen;
					} else {
						slot_write(w, s, g.slots[s].id);
					}
					INC(w, rewrites);
				}
			} else if (on(F_DONTNEED)) {
				dontneed_full(w, s);
			}
		} else if (r < 12) {
			fill(w, s);
		} else if (r < 30) {
			check_empty(w, s, "mutator read of an EMPTY slot");
			INC(w, checks);
		}
	}
}

static void *mutator_main(void *arg)
{
	struct worker *w = arg;
	size_t c;

	while (!stopping()) {
		op_begin();
		c = rnd(w, g.nchunks);
		if (!g.chunks[c].shuttle && chunk_try(w, c)) {
			where(w, "op");
			mutate_chunk(w, c);
			where(w, "idle");
			chunk_put(c);
			INC(w, ops);
		}
		op_end();
	}
	return NULL;
}

/* ---- fork children ------------------------------------------------------ */

/*
 * In the child: verify a few chunks of the snapshot (all chunks were free
 * at the fork), write some pages of its own and move one of them, sleep
 * while the parent keeps moving, verify again: nothing the parent does
 * may show through.
 */
static int child_main(struct worker *w)
{
	size_t chunks[8], c, s, e, k, i;
	uint32_t gen;
	__s64 mv;
	int err;

	g.in_child = true;
	g.pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (g.pm_fd < 0)
		return 3;
	for (k = 0; k < 8; k++) {
		chunks[k] = c = rnd(w, g.nchunks);
		for (i = 0; i < CP; i++)
			check_slot(w, c * CP + i, "child: snapshot");
	}
	for (k = 0; k < 4 && !g.child_bad; k++) {
		c = chunks[k];
		for (i = 0, s = c * CP + rnd(w, CP); i < CP && !full(s); i++)
			s = c * CP + (s - c * CP + 1) % CP;
		if (!full(s))
			continue;
		gen = g.slots[s].gen ^ 0x40000000;
		content_make(w->buf, g.slots[s].id, gen);
		memcpy(slot_addr(s), w->buf, PG);
		g.slots[s].gen = gen;
		check_full(w, s, g.slots[s], "child: own write");
		/* Move it (now exclusive to us) to an unpopulated slot. */
		for (e = c * CP; e < c * CP + CP; e++)
			if (!full(e) && !populated(pagemap(slot_addr(e))))
				break;
		if (e == c * CP + CP || g.uffd) /* uffd: the parent's mm */
			continue;
		err = do_move((unsigned long)slot_addr(e),
			      (unsigned long)slot_addr(s), PG, 0, &mv);
		/* KSM merged src; khugepaged filled dst; no page table. */
		if (err == EBUSY || err == ENOMEM ||
		    (err == EEXIST && populated(pagemap(slot_addr(e)))))
			continue;
		if (err || mv != (__s64)PG) {
			fail(w,
			     "child: move of its own page slot %zu -> %zu: %s, "
			     ".move %lld",
			     s, e, err ? strerror(err) : "0", (long long)mv);
			continue;
		}
		g.slots[e] = g.slots[s];
		g.slots[s].id = 0;
		check_full(w, e, g.slots[e], "child: moved own page");
		check_empty(w, s, "child: src of its move");
	}
	msleep(rnd(w, 300));
	for (k = 0; k < 8; k++)
		for (i = 0; i < CP; i++)
			check_slot(w, chunks[k] * CP + i,
				   "child: snapshot after the parent ran");
	return g.child_bad;
}

static void *forker_main(void *arg)
{
	struct worker *w = arg;
	pid_t kids[MAX_KIDS] = { 0 }, pid;
	int nk = 0, i, st;

	for (;;) {
		for (i = 0; i < MAX_KIDS; i++) {
			if (!kids[i])
				continue;
			pid = waitpid(kids[i], &st, stopping() ? 0 : WNOHANG);
			if (pid == 0)
				continue;
			kids[i] = 0;
			nk--;
			if (pid < 0) {
				fail(w, "waitpid: %s", strerror(errno));
			} else if (WIFEXITED(st) && !WEXITSTATUS(st)) {
				INC(w, kids_ok);
			} else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) {
				INC(w, kids_killed); /* checked: OOM kills */
			} else {
				fail(w, "fork child %d: %s %d", pid,
				     WIFEXITED(st) ? "exit" : "signal",
				     WIFEXITED(st) ? WEXITSTATUS(st) :
						     WTERMSIG(st));
			}
		}
		if (stopping()) {
			if (!nk)
				break;
			continue;
		}
		msleep(200 + rnd(w, 800));
		calm_wait();
		if (nk >= MAX_KIDS)
			continue;
		where(w, "fork");
		pthread_rwlock_wrlock(&g.quiesce);
		pid = fork();
		if (pid == 0)
			_exit(child_main(w));
		pthread_rwlock_unlock(&g.quiesce);
		where(w, "idle");
		rnd64(w); /* the child used the same stream */
		if (pid < 0) {
			INC(w, fork_fail);
			continue;
		}
		INC(w, forks);
		for (i = 0; kids[i]; i++)
			;
		kids[i] = pid;
		nk++;
	}
	return NULL;
}

/* ---- neighbours ------------------------------------------------------------ */

struct nb {
	char *addr;
	size_t len;
	int prot;
	uint64_t stamp;
};

static bool nb_check(struct worker *w, struct nb *b)
{
	size_t i;

	if (!(b->prot & PROT_WRITE))
		return true;
	for (i = 0; i < b->len / PG; i++) {
		uint64_t *p = (uint64_t *)(b->addr + i * PG);

		if (p[0] && p[0] != b->stamp + i) {
			fail(w, "neighbour %p page %zu: %#llx, want %#llx",
			     (void *)b->addr, i, (unsigned long long)p[0],
			     (unsigned long long)(b->stamp + i));
			return false;
		}
	}
	return true;
}

static void nb_unmap(struct worker *w, struct nb *b)
{
	nb_check(w, b);
	if (munmap(b->addr, b->len))
		fail(w, "munmap neighbour %p: %s", (void *)b->addr,
		     strerror(errno));
	b->addr = NULL;
}

/*
 * Map a neighbour in hole h (h = 2a: left of arena a, 2a + 1: right),
 * adjacent to the arena, sometimes with the arena's flags so that it
 * merges into the arena's VMA.
 */
static void nb_map(struct worker *w, struct nb *b, int h)
{
	static const int prots[] = { RW, RW, RW, RWX, PROT_READ };
	char *arena = g.arena[h / 2];
	size_t np = 1 + rnd(w, GAP_PAGES), i;
	unsigned long lo, hi;
	char *addr;
	void *p;

	b->len = np * PG;
	addr = h % 2 ? arena + g.arena_bytes : arena - b->len;
	b->prot = prots[rnd(w, 5)];
	p = mmap(addr, b->len, b->prot,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == MAP_FAILED || p != addr) {
		if (p != MAP_FAILED)
			munmap(p, b->len); /* old kernel: hint only */
		if (p != MAP_FAILED || errno == EEXIST)
			INC(w, nb_taken);
		else if (errno == ENOMEM)
			INC(w, nb_enomem);
		else
			fail(w, "mmap neighbour %p: %s", (void *)addr,
			     strerror(errno));
		return;
	}
	b->addr = addr;
	b->stamp = rnd64(w) & ~0xffffULL;
	INC(w, nb_maps);
	if (b->prot == RW && rnd(w, 4)) {
		/* The arena's flags: now it may merge with the arena. */
		if (on(F_THP))
			madvise(addr, b->len, MADV_HUGEPAGE);
		if (on(F_KSM))
			madvise(addr, b->len, MADV_MERGEABLE);
		uffd_register(addr, b->len);
	}
	if (b->prot & PROT_WRITE)
		for (i = 0; i < np; i += 1 + rnd(w, 3))
			*(uint64_t *)(addr + i * PG) = b->stamp + i;
	if (vma_of((unsigned long)addr, &lo, &hi) &&
	    (lo < (unsigned long)addr || hi > (unsigned long)addr + b->len))
		INC(w, nb_merged);
}

static void *churner_main(void *arg)
{
	struct nb nbs[2 * MAX_ARENAS] = { 0 };
	struct worker *w = arg;
	int h, n = 2 * g.narenas;

	while (!stopping()) {
		h = rnd(w, n);
		where(w, h % 2 ? "nb right" : "nb left");
		if (nbs[h].addr)
			nb_unmap(w, &nbs[h]);
		else
			nb_map(w, &nbs[h], h);
		where(w, "idle");
		msleep(2 + rnd(w, 30));
		calm_wait();
	}
	for (h = 0; h < n; h++)
		if (nbs[h].addr)
			nb_unmap(w, &nbs[h]);
	return NULL;
}

/* ---- protection and THP flips -------------------------------------------- */

static void *flipper_main(void *arg)
{
	struct worker *w = arg;
	size_t c, n, i;
	int prot, what;

	while (!stopping()) {
		msleep(5 + rnd(w, 40));
		calm_wait();
		n = 1 + rnd(w, 4);
		c = rnd(w, g.nflip * (g.spa / CP) - n + 1);
		if (c / (g.spa / CP) != (c + n - 1) / (g.spa / CP) ||
		    g.chunks[c].shuttle || g.chunks[c + n - 1].shuttle)
			continue; /* not one arena, or the shuttle's */
		op_begin();
		if (!chunks_try(w, c, n)) {
			op_end();
			continue;
		}
		where(w, "flip");
		what = on(F_THP) ? (on(F_MPROTECT) ? rnd(w, 3) : 1) : 0;
		if (what != 1 && on(F_MPROTECT)) {
			prot = g.chunks[c].prot == RW ? RWX : RW;
			chunks_protect(w, c, n, prot);
		}
		if (what >= 1) {
			int thp = !g.chunks[c].thp;

			if (madvise(slot_addr(c * CP), n * CP * PG,
				    thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
				if (errno == ENOMEM || errno == EAGAIN)
					INC(w, vma_enomem);
				else
					fail(w, "madvise THP flip: %s",
					     strerror(errno));
			} else {
				for (i = 0; i < n; i++)
					g.chunks[c + i].thp = thp;
				INC(w, madv_thp);
			}
		}
		where(w, "idle");
		chunks_put(c, n);
		op_end();
	}
	return NULL;
}

/*
 * vmsplice() up to 4 FULL pages of one chunk into the pipe fd: the pipe
 * then holds references on them, as I/O in flight would, until it is
 * drained. A THP with such a page cannot be split while they last, and a
 * move that needs the split must give up with EBUSY, not spin holding
 * mmap_lock (module/move.c, move_backoff()). The chunk is owned for the
 * splice itself only: vmsplice() of a hole would map the zero page there.
 * Returns the bytes now in the pipe.
 */
static size_t splice_hold(struct worker *w, int fd)
{
	size_t c = rnd(w, g.nchunks), s, n = 0;
	struct iovec iov[4];
	ssize_t ret = 0;

	op_begin();
	if (!g.chunks[c].shuttle && chunk_try(w, c)) {
		for (s = c * CP; s < (c + 1) * CP && n < 4;
		     s += 1 + rnd(w, 4)) {
			if (!full(s))
				continue;
			iov[n].iov_base = slot_addr(s);
			iov[n++].iov_len = PG;
		}
		where(w, "vmsplice");
		ret = n ? vmsplice(fd, iov, n, SPLICE_F_NONBLOCK) : 0;
		where(w, "idle");
		chunk_put(c);
	}
	op_end();
	if (ret < 0) {
		fail(w, "vmsplice of %zu pages of chunk %zu: %s", n, c,
		     strerror(errno));
		return 0;
	}
	if (ret) {
		INC(w, splices);
		ADD(w, spliced, ret / PG);
	}
	return ret;
}

/* Read and drop what the pipe holds: the references go with it. */
static void splice_drain(struct worker *w, int fd, size_t bytes)
{
	ssize_t ret;

	while (bytes) {
		ret = read(fd, w->buf, bytes < PG ? bytes : PG);
		if (ret <= 0) {
			fail(w, "draining the splice pipe: %s",
			     ret ? strerror(errno) : "EOF");
			return;
		}
		bytes -= ret;
	}
}

/* ---- reclaim ------------------------------------------------------------- */

static void *pager_main(void *arg)
{
	struct worker *w = arg;
	int pfd[2] = { -1, -1 }, adv;
	size_t a, off, n, held = 0;
	double drain_at = 0;

	if (on(F_SPLICE) && pipe2(pfd, O_NONBLOCK | O_CLOEXEC))
		fail(w, "pipe2: %s", strerror(errno));
	while (!stopping()) {
		msleep(10 + rnd(w, 50));
		if (held && now_s() >= drain_at) {
			splice_drain(w, pfd[0], held);
			held = 0;
		} else if (!held && pfd[1] >= 0 && rnd(w, 20) == 0) {
			/* Held for 0.1-1.6 s: around the module's 1 s bound. */
			held = splice_hold(w, pfd[1]);
			drain_at = now_s() + 0.1 + rnd(w, 1500) / 1000.0;
		}
		if (!on(F_PAGEOUT))
			continue;
		a = rnd(w, g.narenas);
		if (rnd(w, 40) == 0) {
			off = 0;
			n = g.spa;
		} else {
			off = rnd(w, g.spa);
			n = 1 + rnd(w, g.spa - off < 256 ? g.spa - off : 256);
		}
		adv = rnd(w, 4) ? MADV_PAGEOUT : MADV_COLD;
		where(w, "madvise");
		if (madvise(g.arena[a] + off * PG, n * PG, adv))
			fail(w, "madvise(%s) arena %zu +%zu pages: %s",
			     adv == MADV_PAGEOUT ? "PAGEOUT" : "COLD", a, n,
			     strerror(errno));
		where(w, "idle");
		if (adv == MADV_PAGEOUT)
			INC(w, pageouts);
		else
			INC(w, colds);
	}
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	return NULL;
}

/* ---- the balloon ------------------------------------------------------- */

/* pgremap-stress --balloon-child MB: touch MB MiB over and over. */
static int balloon_main(unsigned long mb)
{
	size_t len = mb << 20, i, pass;
	char *p;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return 0;
	write_file("/proc/self/oom_score_adj", "1000");
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return 1;
	madvise(p, len, MADV_NOHUGEPAGE);
	for (pass = 0;; pass++) {
		for (i = 0; i < len; i += PG)
			p[i] = (char)(pass + i / PG);
		msleep(300);
		if (pass % 4 == 3)
			madvise(p + (pass % 2) * len / 2, len / 2,
				MADV_DONTNEED);
	}
}

static pid_t balloon_spawn(void)
{
	char mb[32],
		*argv[] = { "pgremap-stress", "--balloon-child", mb, NULL };
	extern char **environ;
	pid_t pid;

	snprintf(mb, sizeof(mb), "%lu", g.balloon_mb);
	if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ))
		return -1;
	return pid;
}

/* ---- setup ----------------------------------------------------------------- */

static int knob_set(int k, const char *val)
{
	struct knob *kb = &knobs[k];

	if (!kb->saved) {
		if (read_file(kb->path, kb->old, sizeof(kb->old)) < 0)
			return -errno;
		kb->saved = true;
	}
	return write_file(kb->path, val);
}

static void knobs_restore(void)
{
	char *b, *e, val[64];
	size_t i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (!knobs[i].saved)
			continue;
		/* THP "enabled" reads "always [madvise] never". */
		b = strchr(knobs[i].old, '[');
		e = b ? strchr(b, ']') : NULL;
		if (b && e)
			snprintf(val, sizeof(val), "%.*s", (int)(e - b - 1),
				 b + 1);
		else
			snprintf(val, sizeof(val), "%s", knobs[i].old);
		write_file(knobs[i].path, val);
	}
}

static bool path_exists(const char *p)
{
	struct stat st;

	return !stat(p, &st);
}

static int swap_devices(void)
{
	char buf[4096], *p;
	int n = -1;

	if (read_file("/proc/swaps", buf, sizeof(buf)) < 0)
		return -1;
	for (p = buf; p; p = strchr(p + 1, '\n'))
		n++;
	return n;
}

/* zram swap of g.swap_mb MiB, unless some swap is on already. */
static void swap_setup(void)
{
	static const char magic[] = "SWAPSPACE2";
	uint32_t *hdr;
	char size[32];
	int fd, i;

	if (swap_devices() > 0) {
		say("swap: already on, used as is");
		return;
	}
	if (!path_exists("/sys/block/zram0") &&
	    system("modprobe zram num_devices=1 >/dev/null 2>&1"))
		setup_fail("modprobe zram failed (tools/pgremap-vm --modules "
			   "zram; or --disable swap)");
	for (i = 0; i < 200 && !path_exists("/dev/zram0"); i++)
		msleep(10);
	snprintf(size, sizeof(size), "%luM", g.swap_mb);
	if (write_file("/sys/block/zram0/disksize", size))
		setup_fail("cannot size /dev/zram0 (in use?)");
	/* mkswap: a version-1 header in the first page. */
	hdr = calloc(1, PG);
	hdr[1024 / 4] = 1; /* version */
	hdr[1024 / 4 + 1] = (uint32_t)((g.swap_mb << 20) / PG - 1);
	memcpy((char *)hdr + PG - 10, magic, 10);
	fd = open("/dev/zram0", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, hdr, PG, 0) != (ssize_t)PG || fsync(fd))
		setup_fail("writing the swap header on /dev/zram0: %s",
			   strerror(errno));
	close(fd);
	free(hdr);
	if (swapon("/dev/zram0", 0))
		setup_fail("swapon /dev/zram0: %s", strerror(errno));
	g.swap_managed = true;
	say("swap: zram0, %lu MiB", g.swap_mb);
}

/* swapoff in a child, killed after 120 s: a leaked swap entry hangs it. */
static bool swap_teardown(void)
{
	int st = 0, i;
	pid_t pid;

	if (!g.swap_managed)
		return true;
	pid = fork();
	if (pid == 0)
		_exit(swapoff("/dev/zram0") ? errno : 0);
	for (i = 0; i < 1200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		msleep(100);
	if (i == 1200) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail(NULL, "swapoff /dev/zram0 did not finish in 120 s "
			   "(swap entries leaked?)");
		return false;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fail(NULL, "swapoff /dev/zram0: %s",
		     WIFEXITED(st) ? strerror(WEXITSTATUS(st)) : "killed");
		return false;
	}
	write_file("/sys/block/zram0/reset", "1");
	return true;
}

static void cgroup_setup(unsigned long max_mb)
{
	char path[256], val[64], buf[256];

	if (!path_exists(CG_ROOT "/cgroup.controllers") &&
	    mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		setup_fail("mount cgroup2 on " CG_ROOT ": %s (or --disable "
			   "cgroup)",
			   strerror(errno));
	if (read_file(CG_ROOT "/cgroup.controllers", buf, sizeof(buf)) < 0 ||
	    !strstr(buf, "memory"))
		setup_fail("no memory controller in cgroup2");
	if (read_file("/proc/self/cgroup", buf, sizeof(buf)) < 0 ||
	    strncmp(buf, "0::", 3))
		setup_fail("cannot read /proc/self/cgroup");
	snprintf(g.cg_orig, sizeof(g.cg_orig), "%s", buf + 3);
	write_file(CG_ROOT "/cgroup.subtree_control", "+memory");
	snprintf(g.cg_path, sizeof(g.cg_path), CG_ROOT "/pgremap-stress-%d",
		 getpid());
	if (mkdir(g.cg_path, 0755))
		setup_fail("mkdir %s: %s", g.cg_path, strerror(errno));
	g.cg_made = true;
	snprintf(path, sizeof(path), "%s/memory.max", g.cg_path);
	snprintf(val, sizeof(val), "%lu", max_mb << 20);
	if (write_file(path, val))
		setup_fail("cannot write %s", path);
	snprintf(path, sizeof(path), "%s/cgroup.procs", g.cg_path);
	snprintf(val, sizeof(val), "%d", getpid());
	if (write_file(path, val))
		setup_fail("cannot join %s", g.cg_path);
	say("cgroup: %s, memory.max %lu MiB", g.cg_path, max_mb);
}

static void cgroup_teardown(void)
{
	char path[300], val[32];
	int i;

	if (!g.cg_made)
		return;
	snprintf(path, sizeof(path), CG_ROOT "%s/cgroup.procs", g.cg_orig);
	snprintf(val, sizeof(val), "%d", getpid());
	write_file(path, val);
	for (i = 0; i < 100 && rmdir(g.cg_path); i++)
		msleep(20);
}

static void open_device(void)
{
	struct pgremap_api api = { .api = PGREMAP_API };
	struct uffdio_api ua = { .api = UFFD_API,
				 .features = UFFD_FEATURE_MOVE };

	if (g.uffd) {
		g.ufd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (g.ufd < 0 || ioctl(g.ufd, UFFDIO_API, &ua) ||
		    !(ua.features & UFFD_FEATURE_MOVE))
			setup_fail("no userfaultfd with UFFD_FEATURE_MOVE (the "
				   "uffd backend needs Linux 6.8+): %s",
				   strerror(errno));
		say("backend: in-tree UFFDIO_MOVE (userfaultfd features %#llx)",
		    (unsigned long long)ua.features);
		goto proc;
	}

	g.dev = open("/dev/" PGREMAP_DEVICE_NAME, O_RDWR | O_CLOEXEC);
	if (g.dev < 0)
		setup_fail("open /dev/%s: %s (module loaded?)",
			   PGREMAP_DEVICE_NAME, strerror(errno));
	if (ioctl(g.dev, PGREMAP_IOC_API, &api))
		setup_fail("PGREMAP_IOC_API: %s", strerror(errno));
	if (!(api.ioctls & (1ULL << _PGREMAP_MOVE)))
		setup_fail("the module does not serve PGREMAP_IOC_MOVE");
	say("device: api %#llx, features %#llx, ioctls %#llx",
	    (unsigned long long)api.api, (unsigned long long)api.features,
	    (unsigned long long)api.ioctls);
proc:
	g.pm_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (g.pm_fd < 0)
		setup_fail("open /proc/self/pagemap: %s", strerror(errno));
	g.kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
}

static void knobs_setup(void)
{
	char buf[128];

	if (on(F_THP)) {
		if (read_file(knobs[K_THP_ENABLED].path, buf, sizeof(buf)) < 0)
			setup_fail("no THP (or --disable thp)");
		if (strstr(buf, "[never]"))
			knob_set(K_THP_ENABLED, "madvise");
		knob_set(K_KH_SCAN, "100");
		knob_set(K_KH_ALLOC, "200");
		knob_set(K_KH_PAGES, "16384");
		knob_set(K_KH_NONE, "511");
		knob_set(K_KH_SWAP, "511");
		knob_set(K_KH_SHARED, "511");
	}
	if (on(F_KSM)) {
		if (knob_set(K_KSM_PAGES, "256") ||
		    knob_set(K_KSM_SLEEP, "20") || knob_set(K_KSM_RUN, "1"))
			setup_fail("cannot start KSM (or --disable ksm)");
		g.ksm_on = true;
	}
}

/* Reserve, map the arenas, fill them. */
static void memory_setup(struct worker *w)
{
	size_t stride, a, r, i, s, nid = 0;
	unsigned long base;
	uint32_t id;
	int kind;

	g.arena_bytes = (size_t)g.arena_mb << 20;
	g.spa = g.arena_bytes / PG;
	g.nslots = g.spa * g.narenas;
	g.nchunks = g.nslots / CP;
	g.nregions = g.nslots / PMD_PAGES;
	stride = g.arena_bytes + PMD_BYTES;
	g.resv_len = stride * g.narenas + 2 * PMD_BYTES;
	g.resv = mmap(NULL, g.resv_len, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (g.resv == MAP_FAILED)
		setup_fail("reserve %zu bytes: %s", g.resv_len,
			   strerror(errno));
	/* THP "always" would have khugepaged scan the reservation too. */
	madvise(g.resv, g.resv_len, MADV_NOHUGEPAGE);
	base = ((unsigned long)g.resv + 2 * PMD_BYTES - 1) & ~(PMD_BYTES - 1);
	for (a = 0; a < g.narenas; a++) {
		char *p = (char *)base + a * stride;

		if (mmap(p, g.arena_bytes, RW,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p ||
		    madvise(p, g.arena_bytes,
			    on(F_THP) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) ||
		    (on(F_KSM) && madvise(p, g.arena_bytes, MADV_MERGEABLE)))
			setup_fail("map arena %zu: %s", a, strerror(errno));
		/* The neighbours' holes. */
		if (munmap(p - GAP_PAGES * PG, GAP_PAGES * PG) ||
		    munmap(p + g.arena_bytes, GAP_PAGES * PG))
			setup_fail("munmap holes: %s", strerror(errno));
		g.arena[a] = p;
	}
	g.chunks = calloc(g.nchunks, sizeof(*g.chunks));
	g.slots = calloc(g.nslots, sizeof(*g.slots));
	g.ledger = calloc(g.nslots + 1, sizeof(*g.ledger));
	g.pool = calloc(g.nslots, sizeof(*g.pool));
	if (!g.chunks || !g.slots || !g.ledger || !g.pool)
		setup_fail("out of memory");
	for (i = 0; i < g.nchunks; i++) {
		g.chunks[i].prot = RW;
		g.chunks[i].thp = on(F_THP);
	}
	for (id = g.nslots; id >= 1; id--)
		g.pool[g.pool_n++] = id;
	g.nflip = g.narenas > 1 ? g.narenas / 2 : 1;
	/* The shuttle: two THP-arena regions, in two arenas if there are. */
	g.sh[0] = g.nregions - 1;
	g.sh[1] = g.narenas > 1 ? g.sh[0] - g.spa / PMD_PAGES : 0;
	for (i = 0; on(F_BIGMOVE) && i < CPR; i++)
		g.chunks[g.sh[0] * CPR + i].shuttle =
			g.chunks[g.sh[1] * CPR + i].shuttle = true;
	/* Per 2 MiB region: empty, dense, or half full (twice as often). */
	for (r = 0; r < g.nregions; r++) {
		kind = rnd(w, 4);
		if (on(F_BIGMOVE) && (r == g.sh[0] || r == g.sh[1]))
			kind = r == g.sh[0] ? 1 : 0;
		for (i = 0; i < PMD_PAGES; i++) {
			s = r * PMD_PAGES + i;
			if (kind == 1 || (kind >= 2 && rnd(w, 2))) {
				fill(w, s);
				nid++;
			}
		}
	}
	say("memory: %u arenas of %u MiB at %p.. (%zu with protection/THP "
	    "flips), %zu slots, %zu chunks, %zu live pages",
	    g.narenas, g.arena_mb, (void *)g.arena[0], g.nflip, g.nslots,
	    g.nchunks, nid);
}

/* ---- the final inventory --------------------------------------------------- */

static void inventory(struct worker *w)
{
	uint8_t *seen = calloc(g.nslots + 1, 1);
	size_t s, live = 0, pool_bad = 0, i;
	uint32_t id;

	if (!seen) {
		fail(w, "inventory: out of memory");
		return;
	}
	for (s = 0; s < g.nslots; s++) {
		if (atomic_load(&g.nfail) >= MAX_FAIL_MSGS)
			break;
		check_slot(w, s, "final inventory");
		id = g.slots[s].id;
		if (!id)
			continue;
		if (id > g.nslots) {
			fail(w, "inventory: slot %zu has id %u out of range", s,
			     id);
			continue;
		}
		if (seen[id]++)
			fail(w,
			     "inventory: id %u in more than one slot (slot %zu)",
			     id, s);
		if (!g.ledger[id].live)
			fail(w,
			     "inventory: slot %zu holds id %u, dead in the ledger",
			     s, id);
		else if (g.ledger[id].gen != g.slots[s].gen)
			fail(w,
			     "inventory: slot %zu: id %u gen %u, ledger gen %u",
			     s, id, g.slots[s].gen, g.ledger[id].gen);
	}
	for (id = 1; id <= g.nslots; id++) {
		if (g.ledger[id].live) {
			live++;
			if (!seen[id])
				fail(w,
				     "inventory: live id %u (gen %u) is in no slot: "
				     "lost",
				     id, g.ledger[id].gen);
		}
	}
	for (i = 0; i < g.pool_n; i++) {
		id = g.pool[i];
		if (!id || id > g.nslots || g.ledger[id].live ||
		    seen[id] == 0xff)
			pool_bad++;
		else
			seen[id] = 0xff;
	}
	if (pool_bad || live + g.pool_n != g.nslots)
		fail(w,
		     "inventory: %zu live + %zu free ids != %zu (%zu bad in "
		     "the pool)",
		     live, g.pool_n, g.nslots, pool_bad);
	if ((long)live != atomic_load(&g.live))
		fail(w, "inventory: %zu live ids, counter says %ld", live,
		     atomic_load(&g.live));
	say("final inventory: %zu slots, %zu live pages, %zu free ids: %s",
	    g.nslots, live, g.pool_n,
	    failed() ? "FAILED" : "each live id in exactly one slot, intact");
	free(seen);
}

/* ---- progress and report ----------------------------------------------------- */

static void sum_stats(struct stats *out)
{
	const size_t n = sizeof(struct stats) / sizeof(unsigned long);
	unsigned long *o = (unsigned long *)out;
	int i;
	size_t j;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < g.nworkers; i++) {
		unsigned long *p = (unsigned long *)&g.workers[i].st;

		for (j = 0; j < n; j++)
			o[j] += __atomic_load_n(&p[j], __ATOMIC_RELAXED);
	}
}

struct vmsnap {
	long pswpout, pswpin, collapse, collapse_fail, fault_thp, split_pmd;
	long kh_collapsed, kh_scans;
};

static void vm_snap(struct vmsnap *v)
{
	v->pswpout = vmstat("pswpout");
	v->pswpin = vmstat("pswpin");
	v->collapse = vmstat("thp_collapse_alloc");
	v->fault_thp = vmstat("thp_fault_alloc");
	v->split_pmd = vmstat("thp_split_pmd");
	v->collapse_fail = vmstat("thp_collapse_alloc_failed");
	v->kh_collapsed = read_long(THP_DIR "khugepaged/pages_collapsed");
	v->kh_scans = read_long(THP_DIR "khugepaged/full_scans");
}

static void sample(void)
{
	amax(&g.ksm_shared_max, read_long(KSM_DIR "pages_shared"));
	amax(&g.ksm_sharing_max, read_long(KSM_DIR "pages_sharing"));
	amax(&g.anon_huge_max, keyed("/proc/meminfo", "AnonHugePages"));
}

static void progress(const struct vmsnap *v0)
{
	struct vmsnap v;
	struct stats st;

	sum_stats(&st);
	vm_snap(&v);
	say("[%4.0f s] moves %lu: ok %lu partial %lu refused %lu (EBUSY %lu "
	    "EEXIST %lu ENOENT %lu EINVAL %lu) | pages moved %lu | forks %lu "
	    "| pswpout +%ld | ksm shared %ld | thp collapse +%ld "
	    "(khugepaged +%ld) | live %ld/%zu",
	    elapsed(), st.calls, st.ok, st.partial, st.refused, st.err[EBUSY],
	    st.err[EEXIST], st.err[ENOENT], st.err[EINVAL], st.pages, st.forks,
	    v.pswpout - v0->pswpout, read_long(KSM_DIR "pages_shared"),
	    v.collapse - v0->collapse, v.kh_collapsed - v0->kh_collapsed,
	    atomic_load(&g.live), g.nslots);
}

static void dump_where(void)
{
	int i;

	for (i = 0; i < g.nworkers; i++)
		say("  %s: %s", g.workers[i].name,
		    atomic_load(&g.workers[i].where) ?: "?");
}

/* ---- usage ------------------------------------------------------------------- */

static const char usage_text[] =
	"Usage: pgremap-stress [OPTIONS]\n"
	"\n"
	"Stress PGREMAP_IOC_MOVE (/dev/pgremap) for a bounded time. Mover\n"
	"threads (2) move checksummed pages back and forth between ranges of\n"
	"a few arenas (private anonymous VMAs) while mutator threads (4) read,\n"
	"rewrite, fill and discard other pages of the same VMAs, and at the\n"
	"same time:\n"
	"  fork      children verify their copy, write and move pages of their\n"
	"            own, sleep while the parent moves, verify again, exit;\n"
	"            the parent's pages are then shared (moves: EBUSY);\n"
	"  churn     ranges right next to the arenas are mmap()ed and\n"
	"            munmap()ed, some with the arenas' flags so that they merge\n"
	"            into (and split from) the arenas' VMAs;\n"
	"  mprotect  RW <-> RWX flips on free chunks of half the arenas (the\n"
	"            \"flip arenas\"), read-only on a mover's own chunks for one\n"
	"            move (EINVAL expected, nothing may change);\n"
	"  thp       MADV_HUGEPAGE arenas, MADV_HUGEPAGE/NOHUGEPAGE flips in\n"
	"            the flip arenas, khugepaged sped up (scan every 100 ms,\n"
	"            16384 pages, max_ptes_swap/shared 511), THP faults; 4 s\n"
	"            of every 15 s without mmap_lock writers (flips, churn,\n"
	"            fork, the movers' mprotect, MAP_FIXED, MADV_COLLAPSE) so\n"
	"            that khugepaged's mmap_read_trylock() gets in;\n"
	"  dontneed  MADV_DONTNEED by a page's owner only (mutators discard\n"
	"            pages and update the model; movers discard the zeros the\n"
	"            kernel put in their EMPTY slots);\n"
	"  pageout   MADV_PAGEOUT / MADV_COLD on any arena range, into swap;\n"
	"  splice    vmsplice() of a few pages of an owned chunk into a pipe,\n"
	"            held there 0.1-1.6 s: references that make a THP\n"
	"            unsplittable, so moves that need the split give up (EBUSY);\n"
	"  swap      zram swap (512 MiB) set up if no swap is on;\n"
	"  ksm       KSM run=1 on MADV_MERGEABLE arenas; every 8th page id is\n"
	"            a twin (4 families of identical pages) so KSM merges;\n"
	"  cgroup    the run in its own cgroup v2 with memory.max;\n"
	"  balloon   a process in that cgroup touching its memory over and\n"
	"            over (oom_score_adj 1000);\n"
	"  shuttle   two reserved 2 MiB regions in the other arenas whose\n"
	"            pages a mover moves back and forth as one 2 MiB move: PMD\n"
	"            moves of THPs (MADV_COLLAPSE first, half of the time; the\n"
	"            empty side is sometimes mapped afresh with MAP_FIXED so\n"
	"            that it has no page table), splits, holes.\n"
	"Run as root in a test guest, through tests/stress/run-guest.\n"
	"\n"
	"Options:\n"
	"  --seconds N       run N seconds (default 60; 0: no limit, then\n"
	"                    --iterations is required)\n"
	"  --iterations N    stop after N mover operations (default 0: no\n"
	"                    limit); the first limit reached ends the run\n"
	"  --seed N          seed of every random choice (default: from the\n"
	"                    clock; always printed first). Each thread's choices\n"
	"                    follow from it; the threads' interleaving does not,\n"
	"                    so a rerun repeats the workload, not the schedule\n"
	"  --arenas N        arenas (default 4, at most 16; half of them, at\n"
	"                    least one, are flip arenas)\n"
	"  --arena-mb N      arena size in MiB, even (default 8)\n"
	"  --movers N        mover threads (default 2)\n"
	"  --mutators N      mutator threads (default 4)\n"
	"  --memory-max MB   memory.max of the run's cgroup (default: the\n"
	"                    arenas' total)\n"
	"  --balloon-mb MB   the balloon's memory (default 16)\n"
	"  --swap-mb MB      zram swap size if no swap is on (default 512)\n"
	"  --disable LIST    leave features out, comma-separated: fork, churn,\n"
	"                    mprotect, thp, dontneed, pageout, swap, ksm, cgroup,\n"
	"                    balloon, shuttle, splice\n"
	"  --no-coverage     report, but do not fail on, features that left no\n"
	"                    trace (see Checks)\n"
	"  --progress N      a progress line every N seconds (default 10)\n"
	"  --verbose         per-thread operation counts at the end\n"
	"  --backend B       pgremap (default): PGREMAP_IOC_MOVE; uffd: the\n"
	"                    kernel's own UFFDIO_MOVE (6.8+), the reference the\n"
	"                    checker is validated against. With uffd every\n"
	"                    arena and neighbour is registered with a\n"
	"                    userfaultfd (missing mode, faults served with the\n"
	"                    zero page), children do not move (the descriptor\n"
	"                    acts on the parent's mm), and khugepaged collapses\n"
	"                    only full regions (uffd-armed VMAs)\n"
	"  --plant-bug N     the checker's self-test: once, 3 s in, act as a\n"
	"                    broken module or a broken checker would; the run\n"
	"                    must then FAIL (exit 1). 1: lose a moved page (dst\n"
	"                    discarded after the move); 2: duplicate one (src\n"
	"                    keeps a copy); 3: skip writing one rewritten page\n"
	"                    (its checksum); 4: count a page as moved beyond\n"
	"                    .move after a partial move; 5: give a live id to a\n"
	"                    second slot (only the final inventory sees it)\n"
	"  --help            this text\n"
	"  --balloon-child MB  internal: run as the balloon\n"
	"\n"
	"Ownership model. Arena pages are slots, 16 to a chunk. A chunk has one\n"
	"owner at a time (compare-and-swap on its owner word); only the owner\n"
	"touches its pages, its model and its protection; a mover owns the\n"
	"source and destination chunks of its move. A slot is EMPTY (reads as\n"
	"zero: unpopulated, or zeros the kernel put there: THP fault,\n"
	"khugepaged, zero page) or FULL: it holds the logical page (id, gen),\n"
	"whose 4 KiB are a function of (id, gen) alone: magic, id, gen, a\n"
	"64-bit hash of the rest, 508 hashed words (twins: a family pattern).\n"
	"A ledger (id -> live, gen) and a pool of free ids, never touched by\n"
	"movers, are the inventory's independent account. What non-owners do\n"
	"(reclaim, swap, KSM, khugepaged, MADV_COLLAPSE, neighbours) keeps\n"
	"contents. fork() waits until every owner has released its chunks (a\n"
	"writer-preferring rwlock), so a child's snapshot is consistent.\n"
	"\n"
	"Checks (any failure: a FAIL line with the details; the run stops):\n"
	"  - every move ioctl: 0 only with .move == len; EAGAIN only with .move\n"
	"    a page multiple in (0, len) or -EAGAIN (nothing moved: an entry\n"
	"    kept changing for a second); any other error with .move == -errno\n"
	"    (EINVAL: or .move unwritten); the errno one of EBUSY, EEXIST,\n"
	"    ENOENT, EINVAL, ENOMEM (pgremap.4; EFAULT, EINTR, ESRCH, ENOTTY\n"
	"    cannot apply here and fail the run);\n"
	"  - the pages .move covers moved: each FULL src page is now at dst,\n"
	"    every word; src reads as zero or is unpopulated; no FULL dst was\n"
	"    overwritten. The rest of both ranges is untouched (every page);\n"
	"  - the first page not moved justifies the errno: ENOENT: src EMPTY\n"
	"    (never with ALLOW_SRC_HOLES); EEXIST: dst FULL or populated;\n"
	"    EBUSY: src populated (shared after fork, KSM, a failed split);\n"
	"    EINVAL exactly when the chunks' protections differ or src is\n"
	"    read-only, or /proc/self/maps shows a VMA boundary in a range.\n"
	"    \"Populated\" is read from /proc/self/pagemap after the call: only\n"
	"    an owner ever depopulates a page;\n"
	"  - mutators verify a page before rewriting or discarding it, and a\n"
	"    discarded page reads zero; children verify their snapshot before\n"
	"    and after the parent ran on, and their own moves; neighbours keep\n"
	"    their contents;\n"
	"  - at the end: every slot verified; each live id in exactly one\n"
	"    slot, with the ledger's gen; the pool holds exactly the dead ids;\n"
	"  - fork children exit 0 (SIGKILL only with an OOM kill in the\n"
	"    cgroup); swapoff of the zram swap set up here ends within 120 s\n"
	"    (a leaked swap entry would hang it);\n"
	"  - coverage (unless --no-coverage or the feature is disabled):\n"
	"    successful and partial moves, a fork child, EBUSY, KSM\n"
	"    pages_shared > 0, a THP collapse (thp_collapse_alloc) and one by\n"
	"    khugepaged (its pages_collapsed), memory.max reached (memory.events\n"
	"    max), pswpout, a swap entry moved, a neighbour merged into an arena VMA, a\n"
	"    predicted EINVAL, a shuttle move.\n"
	"Accepted refusals are counted per errno.\n"
	"\n"
	"Setup, restored at the end: zram swap (if none is on; swapped off\n"
	"again), THP \"enabled\" (madvise if it was never), khugepaged and\n"
	"KSM knobs (KSM run=2 to unmerge, then its old\n"
	"value), the cgroup /sys/fs/cgroup/pgremap-stress-PID (cgroup2 mounted\n"
	"if needed, +memory enabled at the root), the balloon; all mappings\n"
	"are unmapped before exit.\n"
	"\n"
	"Output: the seed, the setup, a progress line every 10 s, then: moves\n"
	"attempted/succeeded/partial/refused, pages moved, refusals per errno,\n"
	"bytes verified, forks, KSM pages_shared (maximum seen), THP collapses\n"
	"(thp_collapse_alloc, khugepaged's pages_collapsed, MADV_COLLAPSE),\n"
	"AnonHugePages (maximum seen), pswpout, and \"RESULT: PASS\" or\n"
	"\"RESULT: FAIL\".\n"
	"\n"
	"Exit status: 0 pass, 1 a check failed, 2 usage, 3 setup failure.\n";

static unsigned long num_arg(const char *opt, const char *s)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || *s == '-') {
		fprintf(stderr, "pgremap-stress: %s: bad number '%s'\n", opt,
			s);
		exit(EX_USAGE);
	}
	return v;
}

static void parse_disable(const char *list)
{
	char buf[256], *tok, *save;
	size_t i;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0;
		     i < sizeof(feature_names) / sizeof(feature_names[0]); i++)
			if (!strcmp(tok, feature_names[i].name))
				break;
		if (i == sizeof(feature_names) / sizeof(feature_names[0])) {
			fprintf(stderr,
				"pgremap-stress: --disable: unknown "
				"feature '%s'\n",
				tok);
			exit(EX_USAGE);
		}
		g.off |= feature_names[i].bit;
	}
}

static void parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "seed", required_argument, NULL, 'S' },
		{ "arenas", required_argument, NULL, 'a' },
		{ "arena-mb", required_argument, NULL, 'A' },
		{ "movers", required_argument, NULL, 'm' },
		{ "mutators", required_argument, NULL, 'M' },
		{ "memory-max", required_argument, NULL, 'x' },
		{ "balloon-mb", required_argument, NULL, 'b' },
		{ "swap-mb", required_argument, NULL, 'w' },
		{ "disable", required_argument, NULL, 'd' },
		{ "no-coverage", no_argument, NULL, 'C' },
		{ "progress", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "balloon-child", required_argument, NULL, 'B' },
		{ "plant-bug", required_argument, NULL, 'P' },
		{ "backend", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			g.seconds = num_arg("--seconds", optarg);
			break;
		case 'i':
			g.iterations = num_arg("--iterations", optarg);
			break;
		case 'S':
			g.seed = num_arg("--seed", optarg);
			g.seed_set = true;
			break;
		case 'a':
			g.narenas = num_arg("--arenas", optarg);
			break;
		case 'A':
			g.arena_mb = num_arg("--arena-mb", optarg);
			break;
		case 'm':
			g.nmovers = num_arg("--movers", optarg);
			break;
		case 'M':
			g.nmutators = num_arg("--mutators", optarg);
			break;
		case 'x':
			g.mem_max_mb = num_arg("--memory-max", optarg);
			break;
		case 'b':
			g.balloon_mb = num_arg("--balloon-mb", optarg);
			break;
		case 'w':
			g.swap_mb = num_arg("--swap-mb", optarg);
			break;
		case 'd':
			parse_disable(optarg);
			break;
		case 'C':
			g.no_coverage = true;
			break;
		case 'p':
			g.progress_s = num_arg("--progress", optarg);
			break;
		case 'v':
			g.verbose = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(EX_PASS);
		case 'k':
			if (strcmp(optarg, "pgremap") &&
			    strcmp(optarg, "uffd")) {
				fprintf(stderr, "pgremap-stress: --backend: "
						"pgremap or uffd\n");
				exit(EX_USAGE);
			}
			g.uffd = !strcmp(optarg, "uffd");
			break;
		case 'P':
			g.plant = num_arg("--plant-bug", optarg);
			break;
		case 'B':
			exit(balloon_main(num_arg("--balloon-child", optarg)));
		default:
			fputs("Try 'pgremap-stress --help'.\n", stderr);
			exit(EX_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pgremap-stress: unexpected argument '%s'\n",
			argv[optind]);
		exit(EX_USAGE);
	}
	if ((!g.seconds && !g.iterations) || !g.narenas ||
	    g.narenas > MAX_ARENAS || !g.arena_mb || g.arena_mb % 2 ||
	    g.arena_mb > 1024 || !g.nmovers || g.nmovers > 16 ||
	    g.nmutators > 16 || !g.progress_s || g.swap_mb < 16 ||
	    g.plant > 5 || (g.narenas < 2 && g.arena_mb < 4)) {
		fprintf(stderr, "pgremap-stress: bad option values (see "
				"--help)\n");
		exit(EX_USAGE);
	}
	if (!g.mem_max_mb)
		g.mem_max_mb = (unsigned long)g.narenas * g.arena_mb;
}

/* ---- main ---------------------------------------------------------------------- */

static void start(struct worker *w, enum role role, const char *name, int n,
		  void *(*fn)(void *))
{
	w->role = role;
	snprintf(w->name, sizeof(w->name), "%s%d", name, n);
	if (pthread_create(&w->tid, NULL, fn, w))
		setup_fail("pthread_create: %s", strerror(errno));
}

static void check_coverage(const struct stats *st, const struct vmsnap *v0,
			   const struct vmsnap *v1)
{
	char path[300];
	long cg_max;

	snprintf(path, sizeof(path), "%s/memory.events", g.cg_path);
	cg_max = g.cg_made ? keyed(path, "max") : 0;

	struct {
		bool want, seen;
		const char *what;
	} cov[] = {
		{ true, st->ok > 0, "a successful move" },
		{ true, st->partial > 0, "a partial move (EAGAIN)" },
		{ on(F_FORK), st->kids_ok > 0,
		  "a fork child that checked out" },
		{ on(F_FORK) || on(F_KSM), st->err[EBUSY] > 0,
		  "EBUSY (page shared after fork / KSM)" },
		{ on(F_KSM), atomic_load(&g.ksm_shared_max) > 0,
		  "KSM pages_shared > 0" },
		{ on(F_THP), v1->collapse > v0->collapse,
		  "a THP collapse (thp_collapse_alloc: khugepaged or "
		  "MADV_COLLAPSE)" },
		{ on(F_THP), v1->kh_collapsed > v0->kh_collapsed,
		  "a collapse by khugepaged (its pages_collapsed)" },
		{ g.have_swap, v1->pswpout > v0->pswpout,
		  "a page swapped out (pswpout)" },
		{ g.have_swap && on(F_PAGEOUT), st->swap_moved > 0,
		  "a swap entry moved" },
		{ on(F_CHURN), st->nb_merged > 0,
		  "a neighbour merged into an arena VMA" },
		{ on(F_MPROTECT), st->einval_pred > 0, "a predicted EINVAL" },
		{ on(F_BIGMOVE), st->shuttles > 0, "a 2 MiB shuttle move" },
		{ on(F_SPLICE), st->spliced > 0, "a page held by a pipe" },
		{ g.cg_made, cg_max > 0,
		  "memory.max reached (memory.events max > 0)" },
	};
	size_t i;

	for (i = 0; i < sizeof(cov) / sizeof(cov[0]); i++) {
		if (!cov[i].want || cov[i].seen)
			continue;
		if (g.no_coverage) {
			say("coverage: not seen: %s (--no-coverage)",
			    cov[i].what);
		} else {
			fail(NULL,
			     "coverage: not seen: %s (longer run, or "
			     "--no-coverage)",
			     cov[i].what);
		}
	}
}

static void report(const struct stats *st, const struct vmsnap *v0,
		   const struct vmsnap *v1, double secs)
{
	static const int errs[] = { EBUSY,  EEXIST, ENOENT,
				    EINVAL, ENOMEM, EAGAIN };
	char line[1024];
	size_t i, n = 0;
	int e;
	char path[300];

	say("---- pgremap-stress: seed %lu, %.1f s", g.seed, secs);
	say("moves attempted (ioctls) %lu, succeeded %lu, partial %lu, "
	    "refused %lu; mover operations %lu",
	    st->calls, st->ok, st->partial, st->refused,
	    atomic_load(&g.mover_ops));
	say("pages moved %lu (%lu of them swap entries, of %lu seen at src); "
	    "2 MiB shuttle moves %lu (%lu with a THP at dst, %lu onto a "
	    "freshly mapped dst, %lu pages left behind brought home)",
	    st->pages, st->swap_moved, st->swap_seen, st->shuttles,
	    st->shuttle_thp, st->shuttle_remaps, st->shuttle_home);
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		n += snprintf(line + n, sizeof(line) - n, "%s %lu%s",
			      ename(errs[i]), st->err[errs[i]],
			      i + 1 < sizeof(errs) / sizeof(errs[0]) ? ", " :
								       "");
	for (e = 1; e < NERR; e++) {
		bool listed = false;

		for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
			listed |= errs[i] == e;
		if (!listed && st->err[e] && n < sizeof(line) - 32)
			n += snprintf(line + n, sizeof(line) - n,
				      ", errno %d %lu", e, st->err[e]);
	}
	say("refusals: %s", line);
	say("  EINVAL predicted by protections %lu, VMA boundary %lu; "
	    "read-only tests %lu; EEXIST on kernel zeros cleared %lu; shared "
	    "src made exclusive %lu; obstacles stepped over %lu",
	    st->einval_pred, st->einval_vma, st->ro_tests, st->kfill,
	    st->unshare, st->skip);
	say("bytes verified %lu (%lu pages)", st->verified * PG, st->verified);
	say("forks %lu (children ok %lu, killed %lu, fork failures %lu)",
	    st->forks, st->kids_ok, st->kids_killed, st->fork_fail);
	say("KSM pages_shared max %ld (pages_sharing max %ld)",
	    atomic_load(&g.ksm_shared_max), atomic_load(&g.ksm_sharing_max));
	say("THP collapses (thp_collapse_alloc) +%ld (failed +%ld): by "
	    "khugepaged (pages_collapsed) +%ld in %ld full scans, by "
	    "MADV_COLLAPSE %lu (%lu refused); AnonHugePages max %ld kB, "
	    "thp_fault_alloc +%ld, thp_split_pmd +%ld",
	    v1->collapse - v0->collapse, v1->collapse_fail - v0->collapse_fail,
	    v1->kh_collapsed - v0->kh_collapsed, v1->kh_scans - v0->kh_scans,
	    st->collapse_ok, st->collapse_fail, atomic_load(&g.anon_huge_max),
	    v1->fault_thp - v0->fault_thp, v1->split_pmd - v0->split_pmd);
	say("pages swapped out (pswpout) +%ld, in (pswpin) +%ld; MADV_PAGEOUT "
	    "%lu, MADV_COLD %lu, mover's own PAGEOUT %lu; vmsplice %lu "
	    "(%lu pages held by the pipe); failed moves that took >= 0.9 s "
	    "(the module's retry bound) %lu",
	    v1->pswpout - v0->pswpout, v1->pswpin - v0->pswpin, st->pageouts,
	    st->colds, st->own_pageout, st->splices, st->spliced,
	    st->slow_calls);
	say("mutators: reads %lu, rewrites %lu, fills %lu, MADV_DONTNEED %lu "
	    "pages + %lu chunks",
	    st->checks, st->rewrites, st->fills, st->dontneeds,
	    st->chunk_dontneeds);
	say("neighbours: %lu mapped, %lu merged into an arena VMA, %lu hole "
	    "taken, %lu ENOMEM; mprotect %lu, MADV_(NO)HUGEPAGE %lu, ENOMEM "
	    "%lu",
	    st->nb_maps, st->nb_merged, st->nb_taken, st->nb_enomem,
	    st->mprotects, st->madv_thp, st->vma_enomem);
	if (g.cg_made) {
		snprintf(path, sizeof(path), "%s/memory.events", g.cg_path);
		say("cgroup: memory.max %lu MiB; memory.events max %ld oom %ld "
		    "oom_kill %ld; balloon restarts %lu",
		    g.mem_max_mb, keyed(path, "max"), keyed(path, "oom"),
		    keyed(path, "oom_kill"), g.balloon_restarts);
	}
	say("chunks found busy %lu; operations: movers %lu, others %lu",
	    st->busy_chunks, atomic_load(&g.mover_ops),
	    st->ops - atomic_load(&g.mover_ops));
	for (i = 0; g.verbose && i < (size_t)g.nworkers; i++)
		if (g.workers[i].tid)
			say("  %-10s ops %lu, ioctls %lu, pages moved %lu, pages "
			    "verified %lu",
			    g.workers[i].name, g.workers[i].st.ops,
			    g.workers[i].st.calls, g.workers[i].st.pages,
			    g.workers[i].st.verified);
}

int main(int argc, char **argv)
{
	struct worker *w, setup_w = { .name = "setup" };
	struct vmsnap v0, v1;
	struct stats st;
	double next, t_end;
	struct utsname u;
	int i, st_b;
	long kids_killed;
	char path[300];

	setvbuf(stdout, NULL, _IOLBF, 0);
	parse_args(argc, argv);
	if (!g.seed_set)
		g.seed = (unsigned long)time(NULL) ^
			 ((unsigned long)getpid() << 16);
	uname(&u);
	say("pgremap-stress: seed %lu (--seed %lu to repeat the choices), "
	    "kernel %s, %lu s, %lu iterations",
	    g.seed, g.seed, u.release, g.seconds, g.iterations);
	if (geteuid())
		setup_fail("must run as root");
	if (sysconf(_SC_PAGESIZE) != (long)PG)
		setup_fail("page size is not 4 KiB");
	g.cseed = mix64(g.seed ^ 0x636f6e74656e74ULL);
	setup_w.rng = mix64(g.seed);
	setup_w.buf = malloc(PG);

	open_device();
	if (on(F_SWAP))
		swap_setup();
	g.have_swap = swap_devices() > 0;
	knobs_setup();
	if (on(F_CGROUP))
		cgroup_setup(g.mem_max_mb);
	if (on(F_BALLOON)) {
		g.balloon = balloon_spawn();
		if (g.balloon < 0)
			setup_fail("cannot start the balloon");
		say("balloon: pid %d, %lu MiB", g.balloon, g.balloon_mb);
	}
	memory_setup(&setup_w);
	if (g.uffd) {
		size_t a;
		int err;

		if (pthread_create(&g.uffd_tid, NULL, uffd_main, NULL))
			setup_fail("pthread_create: %s", strerror(errno));
		for (a = 0; a < g.narenas; a++) {
			err = uffd_register(g.arena[a], g.arena_bytes);
			if (err)
				setup_fail("UFFDIO_REGISTER arena %zu: %s", a,
					   strerror(-err));
		}
	}

	pthread_rwlockattr_t ra;

	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&g.quiesce, &ra);

	g.nworkers = g.nmovers + g.nmutators + 4;
	g.workers = calloc(g.nworkers, sizeof(*g.workers));
	for (i = 0; i < g.nworkers; i++) {
		g.workers[i].idx = i;
		g.workers[i].rng = mix64(g.seed + 0x1000 * (i + 1));
		g.workers[i].buf = aligned_alloc(PG, PG);
		atomic_store(&g.workers[i].where, "start");
	}
	vm_snap(&v0);
	g.t0 = now_s();
	t_end = g.seconds ? g.t0 + g.seconds : 1e300;
	w = g.workers;
	for (i = 0; i < (int)g.nmovers; i++)
		start(w++, R_MOVER, "mover", i, mover_main);
	for (i = 0; i < (int)g.nmutators; i++)
		start(w++, R_MUTATOR, "mutator", i, mutator_main);
	if (on(F_FORK))
		start(w, R_FORKER, "forker", 0, forker_main);
	w++;
	if (on(F_CHURN))
		start(w, R_CHURNER, "churner", 0, churner_main);
	w++;
	if (on(F_MPROTECT) || on(F_THP))
		start(w, R_FLIPPER, "flipper", 0, flipper_main);
	w++;
	if (on(F_PAGEOUT) || on(F_SPLICE))
		start(w, R_PAGER, "pager", 0, pager_main);
	w++;

	next = g.t0 + g.progress_s;
	{
		unsigned long last_ops = 0;
		double last_change = now_s();

		while (!stopping()) {
			msleep(250);
			sample();
			/* 4 s of every 15 s: no mmap_lock writers (calm_wait()). */
			atomic_store(&g.calm,
				     on(F_THP) && (long)elapsed() % 15 >= 11);
			if (now_s() >= t_end)
				atomic_store(&g.stop, 1);
			if (g.balloon > 0 &&
			    waitpid(g.balloon, &st_b, WNOHANG) == g.balloon) {
				g.balloon = balloon_spawn();
				g.balloon_restarts++;
			}
			if (atomic_load(&g.mover_ops) != last_ops) {
				last_ops = atomic_load(&g.mover_ops);
				last_change = now_s();
			} else if (now_s() - last_change > 120) {
				say("WARNING: no mover progress for 120 s; "
				    "threads:");
				dump_where();
				last_change = now_s();
			}
			if (now_s() >= next) {
				progress(&v0);
				next += g.progress_s;
			}
		}
	}
	say("stopping after %.1f s%s", elapsed(),
	    failed() ? " (a check failed)" : "");
	for (i = 0; i < g.nworkers; i++)
		if (g.workers[i].tid)
			pthread_join(g.workers[i].tid, NULL);
	sample();
	if (g.balloon > 0) {
		kill(g.balloon, SIGKILL);
		waitpid(g.balloon, &st_b, 0);
	}
	vm_snap(&v1);
	sum_stats(&st);
	if (!atomic_load(&g.failed) || atomic_load(&g.nfail) < MAX_FAIL_MSGS)
		inventory(&setup_w);
	report(&st, &v0, &v1, elapsed());

	/* OOM kills of children are fine, other SIGKILLs are not. */
	if (g.cg_made) {
		snprintf(path, sizeof(path), "%s/memory.events", g.cg_path);
		kids_killed = keyed(path, "oom_kill");
		if (st.kids_killed && kids_killed <= 0)
			fail(NULL,
			     "%lu fork children were killed (SIGKILL) "
			     "without an OOM kill",
			     st.kids_killed);
	} else if (st.kids_killed) {
		fail(NULL, "%lu fork children were killed (SIGKILL)",
		     st.kids_killed);
	}
	if (!failed())
		check_coverage(&st, &v0, &v1);

	/* Leave nothing behind: mappings, KSM, knobs, cgroup, swap. */
	if (munmap(g.resv, g.resv_len))
		fail(NULL, "munmap the arenas: %s", strerror(errno));
	if (g.uffd) {
		atomic_store(&g.uffd_stop, 1);
		pthread_join(g.uffd_tid, NULL);
		say("userfaultfd: %lu missing faults served",
		    atomic_load(&g.uffd_faults));
		close(g.ufd);
	}
	if (g.ksm_on)
		write_file(KSM_DIR "run", "2");
	knobs_restore();
	close(g.dev);
	cgroup_teardown();
	swap_teardown();
	if (failed()) {
		say("RESULT: FAIL (seed %lu; %d failure%s)", g.seed,
		    atomic_load(&g.nfail),
		    atomic_load(&g.nfail) == 1 ? "" : "s");
		return EX_FAIL;
	}
	say("RESULT: PASS");
	return EX_PASS;
}
