/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Page-move backends and memory probes for the move suites.
 *
 * A struct mover moves pages with one of two backends:
 *  - MOVER_PGREMAP: PGREMAP_IOC_MOVE on /dev/pgremap;
 *  - MOVER_UFFD:    the in-tree UFFDIO_MOVE (Linux 6.8+), the oracle.
 * Every move test runs once per backend; the uffd variant proves the
 * expectation against the kernel, the pgremap variant holds the module to
 * it. The one difference by design: UFFDIO_MOVE needs dst registered with
 * the userfaultfd it is issued on, pgremap needs nothing
 * (mover_prepare_dst() hides that).
 *
 * Page contents are address-derived: page i of a range filled with
 * mt_fill(p, n, seed) holds words derived from seed + i * page size, so a
 * moved page is verified against the address it came from, every word.
 */
#ifndef PGREMAP_TESTS_MOVER_H
#define PGREMAP_TESTS_MOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <linux/userfaultfd.h>
#include <uffd-move-compat.h>

#include "util.h"

/* The mode bits are the same for both backends. */
#define MV_DONTWAKE PGREMAP_MOVE_MODE_DONTWAKE
#define MV_HOLES PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES

/* What the move field holds when the backend did not write it. */
#define MV_UNTOUCHED ((__s64)0x5a5a5a5a5a5a5a5aLL)

#define MT_PMD_SIZE (2UL << 20)

enum mover_kind { MOVER_PGREMAP, MOVER_UFFD };

struct mover {
	enum mover_kind kind;
	int fd; /* /dev/pgremap or the userfaultfd */
};

#define MOVER_PGREMAP_NOT_SERVED "module does not serve PGREMAP_IOC_MOVE yet"

const char *mover_name(enum mover_kind kind);
/* Open a backend, or NULL with *why set (a static string) if unsupported. */
struct mover *mover_open(enum mover_kind kind, const char **why);
void mover_close(struct mover *m);
/* Make [addr, addr+len) a valid dst (uffd: register MISSING); asserts. */
void mover_prepare_dst(struct mover *m, void *addr, size_t len);
/* Undo mover_prepare_dst() so that holes in dst read as zero; asserts. */
void mover_release_dst(struct mover *m, void *addr, size_t len);
/*
 * One move ioctl. Returns 0 or the errno; *move gets the move field as
 * the kernel left it (MV_UNTOUCHED if it was not written).
 */
int mover_move(struct mover *m, unsigned long dst, unsigned long src,
	       unsigned long len, __u64 mode, __s64 *move);
/* Move everything, resuming after short moves; asserts success. */
void mover_move_all(struct mover *m, void *dst, void *src, size_t len,
		    __u64 mode);

/* Open a backend or skip the calling test (must be called from it). */
#define MOVER_OPEN_OR_SKIP(m, kind)                                  \
	do {                                                         \
		const char *why_;                                    \
		(m) = mover_open((kind), &why_);                     \
		PGR_SKIP_IF(!(m), "%s: %s", mover_name(kind), why_); \
	} while (0)

/* A Check test per backend, both calling fn(kind). */
#define MOVE_TEST(fn)              \
	START_TEST(fn##_pgremap)   \
	{                          \
		fn(MOVER_PGREMAP); \
	}                          \
	END_TEST                   \
	START_TEST(fn##_uffd)      \
	{                          \
		fn(MOVER_UFFD);    \
	}                          \
	END_TEST

#define MOVE_TEST_ADD(tc, fn)                     \
	do {                                      \
		tcase_add_test(tc, fn##_pgremap); \
		tcase_add_test(tc, fn##_uffd);    \
	} while (0)

/* userfaultfd(2) with @flags, user-mode-only where the kernel has it. */
int mt_userfaultfd(int flags);
/* A userfaultfd with UFFDIO_API done (features asked), or -errno. */
int mt_uffd_open(__u64 features);
/* UFFDIO_REGISTER MISSING / UFFDIO_WAKE / UFFDIO_UNREGISTER; assert. */
void mt_uffd_register(int ufd, void *addr, size_t len);
void mt_uffd_wake(int ufd, void *addr, size_t len);
void mt_uffd_unregister(int ufd, void *addr, size_t len);

/* ---- memory ------------------------------------------------------------- */

size_t mt_page(void);
/* Private anonymous RW mapping aligned to align; asserts. */
void *mt_map(size_t len, size_t align, bool thp);
/* mmap with explicit prot/flags (anonymous), aligned; asserts. */
void *mt_map_prot(size_t len, size_t align, int prot, int flags, bool thp);
void mt_unmap(void *p, size_t len);
/* Fill n pages at p with the pattern of seed (the "origin" address). */
void mt_fill(void *p, size_t npages, unsigned long seed);
/*
 * Index of the first page of [p, p + n pages) that does not hold the
 * pattern of seed, or -1 if all do. Checks every word.
 */
long mt_check(const void *p, size_t npages, unsigned long seed);
/* Assert the pattern, naming what. */
void mt_assert_pattern(const void *p, size_t npages, unsigned long seed,
		       const char *what);
/* Index of the first page not all zero, or -1. */
long mt_check_zero(const void *p, size_t npages);

/* ---- /proc probes ------------------------------------------------------- */

#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_EXCLUSIVE (1ULL << 56)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_PFN_MASK ((1ULL << 55) - 1)

/* /proc/self/pagemap entry of the page at addr; asserts. */
__u64 mt_pagemap(const void *addr);
/* Entries of n pages from addr into out; asserts. */
void mt_pagemap_range(const void *addr, size_t npages, __u64 *out);
/* Number of pages in range whose entry has all bits of mask set. */
size_t mt_pagemap_count(const void *addr, size_t npages, __u64 mask);
/* /proc/kpageflags of pfn; asserts. */
__u64 mt_kpageflags(__u64 pfn);
#define KPF_ZERO_PAGE_BIT 24
#define KPF_THP_BIT 22
#define KPF_KSM_BIT 21

/* Field ("Rss", "AnonHugePages"...) in kB of the VMA containing addr. */
long mt_smaps_kb(const void *addr, const char *field);
/* Number of lines in /proc/self/maps. */
int mt_vma_count(void);
/* Sum of pgalloc_* in /proc/vmstat. */
unsigned long mt_pgalloc(void);
/*
 * Pages the rest of the system may allocate during a move: pgalloc is
 * system-wide, and a debug kernel (KASAN's stack depot and quarantine,
 * lockdep) allocates pages of its own meanwhile.
 */
unsigned long mt_pgalloc_noise(void);
/* Write a string to a /proc or /sys file: 0 or -errno. */
int mt_write_file(const char *path, const char *s);
/* mm->task_size of this process (4- or 5-level paging). */
unsigned long mt_task_size(void);
/* THP "enabled" mode: 'a'lways, 'm'advise, 'n'ever, or 0 if unknown. */
char mt_thp_mode(void);
/* Set up zram swap once (idempotent): 0 or a reason in why. */
int mt_swap_setup(const char **why);
/* Milliseconds of CLOCK_MONOTONIC. */
long mt_now_ms(void);
/* Environment variable as an unsigned number, or def. */
unsigned long mt_env_ulong(const char *name, unsigned long def);

/* Assert the move returned want (0 or errno); prints what. */
#define MT_ASSERT_ERR(got, want, what)                                  \
	ck_assert_msg((got) == (want), "%s: got %s (%d), want %s (%d)", \
		      (what), (got) ? strerror(got) : "success", (got), \
		      (want) ? strerror(want) : "success", (want))

#endif /* PGREMAP_TESTS_MOVER_H */
