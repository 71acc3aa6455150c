// SPDX-License-Identifier: GPL-2.0
/*
 * move-special suite: entries that are not plain present 4 KiB anonymous
 * pages: the shared zero page, the huge zero PMD, transparent huge pages
 * moved whole and split, and swap entries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/uio.h>

#include "mover.h"

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

static bool thp_possible(void)
{
	char m = mt_thp_mode();

	return m == 'a' || m == 'm';
}

/* Read-fault pages (zero page), never write, move them. */
static void zero_page(enum mover_kind kind)
{
	size_t ps = mt_page(), i, n = 8;
	struct mover *m;
	char *src, *dst;
	volatile char c;
	__u64 e;

	MOVER_OPEN_OR_SKIP(m, kind);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	for (i = 0; i < n; i++)
		c = src[i * ps];
	(void)c;
	e = mt_pagemap(src);
	ck_assert_msg((e & PM_PRESENT) && (mt_kpageflags(e & PM_PFN_MASK) &
					   (1ULL << KPF_ZERO_PAGE_BIT)),
		      "read fault did not map the zero page (%#llx)",
		      (unsigned long long)e);
	mover_prepare_dst(m, dst, n * ps);
	mover_move_all(m, dst, src, n * ps, 0);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	for (i = 0; i < n; i++) {
		e = mt_pagemap(dst + i * ps);
		pgr_diag("dst page %zu pagemap %#llx", i,
			 (unsigned long long)e);
		ck_assert_msg(
			!(e & PM_PRESENT) || (mt_kpageflags(e & PM_PFN_MASK) &
					      (1ULL << KPF_ZERO_PAGE_BIT)),
			"dst page %zu is present but not the zero page", i);
		if (i == 0)
			ck_assert_msg(e & PM_PRESENT,
				      "dst zero page not mapped");
	}
	ck_assert_int_eq(mt_smaps_kb(dst, "Rss"), 0);
	mover_release_dst(m, dst, n * ps);
	ck_assert_msg(mt_check_zero(dst, n) < 0, "dst not zero");
	ck_assert_msg(mt_check_zero(src, n) < 0, "src not zero");
	/* Writing to dst now gets a private page. */
	mt_fill(dst, n, 42);
	mt_assert_pattern(dst, n, 42, "dst after write");
	mover_close(m);
}
MOVE_TEST(zero_page)

/* A read fault of an aligned 2 MiB range maps the huge zero PMD. */
static void huge_zero_pmd(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE, n = len / ps;
	char use_zero[16];
	struct mover *m;
	char *src, *dst;
	volatile char c;
	__u64 e;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(!thp_possible(), "THP disabled");
	PGR_SKIP_IF(pgr_read_file("/sys/kernel/mm/transparent_hugepage/"
				  "use_zero_page",
				  use_zero, sizeof(use_zero)) < 0 ||
			    strcmp(use_zero, "1"),
		    "huge zero page disabled");
	src = mt_map(len, MT_PMD_SIZE, true);
	dst = mt_map(len, MT_PMD_SIZE, true);
	c = src[0];
	(void)c;
	e = mt_pagemap(src);
	PGR_SKIP_IF(!(e & PM_PRESENT) ||
			    mt_pagemap_count(src, n, PM_PRESENT) != n,
		    "read fault did not map a huge zero PMD");
	pgr_diag("src pagemap %#llx kpageflags %#llx", (unsigned long long)e,
		 (unsigned long long)mt_kpageflags(e & PM_PFN_MASK));
	mover_prepare_dst(m, dst, len);
	mover_move_all(m, dst, src, len, 0);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(dst, n, PM_PRESENT), n);
	e = mt_pagemap(dst + 17 * ps);
	ck_assert_msg(mt_kpageflags(e & PM_PFN_MASK) &
			      (1ULL << KPF_ZERO_PAGE_BIT),
		      "dst is not the huge zero page (%#llx)",
		      (unsigned long long)mt_kpageflags(e & PM_PFN_MASK));
	mover_release_dst(m, dst, len);
	ck_assert_msg(mt_check_zero(dst, n) < 0, "dst not zero");
	ck_assert_msg(mt_check_zero(src, n) < 0, "src not zero");
	mover_close(m);
}
MOVE_TEST(huge_zero_pmd)

/* Make src a THP filled with its pattern, or return false. */
static bool make_thp(char *p)
{
	mt_fill(p, MT_PMD_SIZE / mt_page(), (unsigned long)p);
	return mt_smaps_kb(p, "AnonHugePages") == 2048;
}

/* Aligned 2 MiB THP to an aligned empty dst: moved as one PMD. */
static void thp_whole_pmd(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE, n = len / ps;
	unsigned long pg0, pg1;
	struct mover *m;
	char *src, *dst;
	__u64 pfn0;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(!thp_possible(), "THP disabled");
	src = mt_map(len, MT_PMD_SIZE, true);
	dst = mt_map(len, MT_PMD_SIZE, true);
	PGR_SKIP_IF(!make_thp(src), "kernel gave no THP for src");
	pfn0 = mt_pagemap(src) & PM_PFN_MASK;
	mover_prepare_dst(m, dst, len);
	pg0 = mt_pgalloc();
	mover_move_all(m, dst, src, len, 0);
	pg1 = mt_pgalloc();
	pgr_diag("pgalloc +%lu", pg1 - pg0);
	ck_assert_int_eq(mt_smaps_kb(src, "AnonHugePages"), 0);
	ck_assert_int_eq(mt_smaps_kb(src, "Rss"), 0);
	ck_assert_msg(mt_smaps_kb(dst, "AnonHugePages") == 2048,
		      "dst not PMD-mapped: AnonHugePages %ld kB",
		      mt_smaps_kb(dst, "AnonHugePages"));
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	ck_assert_msg((mt_pagemap(dst) & PM_PFN_MASK) == pfn0,
		      "dst THP is not the src THP");
	ck_assert_msg(pg1 - pg0 < mt_pgalloc_noise(), "%lu pages allocated",
		      pg1 - pg0);
	mover_release_dst(m, dst, len);
	mt_assert_pattern(dst, n, (unsigned long)src, "dst THP");
	ck_assert_msg(mt_check_zero(src, n) < 0, "src not zero");
	mover_close(m);
}
MOVE_TEST(thp_whole_pmd)

/* Two THPs, ALLOW_SRC_HOLES over a 2 MiB hole between them. */
static void thp_with_holes(enum mover_kind kind)
{
	size_t ps = mt_page(), len = 3 * MT_PMD_SIZE, n = len / ps;
	size_t per = MT_PMD_SIZE / ps;
	struct mover *m;
	char *src, *dst;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(!thp_possible(), "THP disabled");
	src = mt_map(len, MT_PMD_SIZE, true);
	dst = mt_map(len, MT_PMD_SIZE, true);
	mt_fill(src, per, (unsigned long)src);
	mt_fill(src + 2 * MT_PMD_SIZE, per,
		(unsigned long)(src + 2 * MT_PMD_SIZE));
	PGR_SKIP_IF(mt_smaps_kb(src, "AnonHugePages") != 4096,
		    "kernel gave no THPs for src");
	mover_prepare_dst(m, dst, len);
	mover_move_all(m, dst, src, len, MV_HOLES);
	ck_assert_int_eq(mt_smaps_kb(dst, "AnonHugePages"), 4096);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(dst + MT_PMD_SIZE, per, PM_PRESENT),
			  0);
	mover_release_dst(m, dst, len);
	mt_assert_pattern(dst, per, (unsigned long)src, "first THP");
	mt_assert_pattern(dst + 2 * MT_PMD_SIZE, per,
			  (unsigned long)(src + 2 * MT_PMD_SIZE), "second THP");
	ck_assert_msg(mt_check_zero(dst + MT_PMD_SIZE, per) < 0,
		      "hole not zero");
	mover_close(m);
}
MOVE_TEST(thp_with_holes)

/* 4 KiB out of the middle of a THP: the PMD and the folio are split. */
static void thp_split(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE, n = len / ps, mid = 300;
	struct mover *m;
	char *src, *dst;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(!thp_possible(), "THP disabled");
	src = mt_map(len, MT_PMD_SIZE, true);
	dst = mt_map(len, MT_PMD_SIZE, false);
	PGR_SKIP_IF(!make_thp(src), "kernel gave no THP for src");
	mover_prepare_dst(m, dst, len);
	mover_move_all(m, dst + 5 * ps, src + mid * ps, ps, 0);
	pgr_diag("after split: src AnonHugePages %ld kB, Rss %ld kB",
		 mt_smaps_kb(src, "AnonHugePages"), mt_smaps_kb(src, "Rss"));
	ck_assert_int_eq(mt_smaps_kb(src, "AnonHugePages"), 0);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), n - 1);
	ck_assert_uint_eq(mt_pagemap(src + mid * ps) & PM_PRESENT, 0);
	ck_assert_uint_eq(mt_pagemap_count(dst, n, PM_PRESENT), 1);
	/* And a range that straddles the old THP's tail. */
	mover_move_all(m, dst + 100 * ps, src + (n - 10) * ps, 10 * ps, 0);
	mover_release_dst(m, dst, len);
	mt_assert_pattern(dst + 5 * ps, 1, (unsigned long)(src + mid * ps),
			  "moved page");
	mt_assert_pattern(dst + 100 * ps, 10,
			  (unsigned long)(src + (n - 10) * ps), "moved tail");
	mt_assert_pattern(src, mid, (unsigned long)src, "src head");
	mt_assert_pattern(src + (mid + 1) * ps, n - mid - 11,
			  (unsigned long)(src + (mid + 1) * ps), "src rest");
	ck_assert_msg(mt_check_zero(src + mid * ps, 1) < 0, "src not zero");
	mover_close(m);
}
MOVE_TEST(thp_split)

/* Unaligned dst: a whole THP moved page by page after a split. */
static void thp_unaligned_dst(enum mover_kind kind)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE, n = len / ps;
	struct mover *m;
	char *src, *dst;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(!thp_possible(), "THP disabled");
	src = mt_map(len, MT_PMD_SIZE, true);
	dst = mt_map(2 * len, MT_PMD_SIZE, false);
	PGR_SKIP_IF(!make_thp(src), "kernel gave no THP for src");
	mover_prepare_dst(m, dst, 2 * len);
	mover_move_all(m, dst + 3 * ps, src, len, 0);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(dst + 3 * ps, n, PM_PRESENT), n);
	mover_release_dst(m, dst, 2 * len);
	mt_assert_pattern(dst + 3 * ps, n, (unsigned long)src, "dst");
	mover_close(m);
}
MOVE_TEST(thp_unaligned_dst)

/* Swapped-out pages move as swap entries and swap back in at dst. */
static void swapped_out(enum mover_kind kind)
{
	size_t ps = mt_page(), n = 64, swapped = 0, i;
	struct mover *m;
	char *src, *dst;
	const char *why;
	long t0;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(mt_swap_setup(&why), "no swap: %s", why);
	src = mt_map(n * ps, 0, false);
	dst = mt_map(n * ps, 0, false);
	mt_fill(src, n, (unsigned long)src);
	for (t0 = mt_now_ms(); mt_now_ms() - t0 < 5000;) {
		PGR_SKIP_IF(madvise(src, n * ps, MADV_PAGEOUT),
			    "MADV_PAGEOUT: %s", strerror(errno));
		swapped = mt_pagemap_count(src, n, PM_SWAP);
		if (swapped == n)
			break;
		usleep(10000);
	}
	pgr_diag("%zu of %zu pages swapped out", swapped, n);
	PGR_SKIP_IF(swapped == 0, "MADV_PAGEOUT swapped nothing out");
	mover_prepare_dst(m, dst, n * ps);
	mover_move_all(m, dst, src, n * ps, 0);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(src, n, PM_SWAP), 0);
	ck_assert_uint_eq(mt_pagemap_count(dst, n, PM_SWAP) +
				  mt_pagemap_count(dst, n, PM_PRESENT),
			  n);
	pgr_diag("dst: %zu swap entries, %zu present",
		 mt_pagemap_count(dst, n, PM_SWAP),
		 mt_pagemap_count(dst, n, PM_PRESENT));
	mover_release_dst(m, dst, n * ps);
	mt_assert_pattern(dst, n, (unsigned long)src, "dst after swap-in");
	ck_assert_msg(mt_check_zero(src, n) < 0, "src not zero");
	/* A swapped-in page moves on again (src read as zero pages: drop). */
	for (i = 0; i < n; i++)
		ck_assert(mt_pagemap(dst + i * ps) & PM_PRESENT);
	ck_assert_int_eq(madvise(src, n * ps, MADV_DONTNEED), 0);
	mover_prepare_dst(m, src, n * ps);
	mover_move_all(m, src, dst, n * ps, 0);
	mover_release_dst(m, src, n * ps);
	mt_assert_pattern(src, n, (unsigned long)src, "moved back");
	mover_close(m);
}
MOVE_TEST(swapped_out)

/* Another thread's mmap()+munmap() rounds (each takes mmap_lock for write). */
struct writer {
	pthread_t thread;
	volatile int stop;
	long rounds, worst_ms;
};

static void *writer_loop(void *arg)
{
	struct writer *w = arg;

	while (!w->stop) {
		long t0 = mt_now_ms(), ms;
		void *p = mmap(NULL, 4096, PROT_READ,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, 4096);
		ms = mt_now_ms() - t0;
		if (ms > w->worst_ms)
			w->worst_ms = ms;
		w->rounds++;
	}
	return NULL;
}

/*
 * A THP one of whose pages a pipe holds (vmsplice()): that reference makes
 * every split_folio() fail with -EAGAIN for as long as the pipe is full.
 * Moving another page of it needs the split. The module must give up
 * (EBUSY, nothing moved, src untouched) within its one-second bound, and
 * must not hold mmap_lock against a writer meanwhile: another thread
 * mmap()s and munmap()s all along, and must get rounds done during the
 * call. Before the fix the call spun until SIGKILL with the writer stuck,
 * the pattern of a stress-test stall on 6.1 (ksmd holding the reference
 * while waiting behind the writer). Once the pipe is drained the move
 * succeeds: it was the reference. pgremap only: 6.12's in-tree UFFDIO_MOVE
 * retries forever here.
 */
START_TEST(thp_split_referenced_pgremap)
{
	size_t ps = mt_page(), len = MT_PMD_SIZE, n = len / ps, held = 7;
	size_t mid = 100;
	struct writer w = { 0 };
	struct iovec iov;
	char *src, *dst;
	struct mover *m;
	long t0, took, rounds;
	int pfd[2], err;
	__s64 move;

	MOVER_OPEN_OR_SKIP(m, MOVER_PGREMAP);
	PGR_SKIP_IF(!thp_possible(), "THP disabled");
	src = mt_map(len, MT_PMD_SIZE, true);
	dst = mt_map(len, MT_PMD_SIZE, false);
	PGR_SKIP_IF(!make_thp(src), "kernel gave no THP for src");
	ck_assert_int_eq(pipe(pfd), 0);
	iov.iov_base = src + held * ps;
	iov.iov_len = ps;
	ck_assert_int_eq(vmsplice(pfd[1], &iov, 1, 0), (ssize_t)ps);
	ck_assert_int_eq(pthread_create(&w.thread, NULL, writer_loop, &w), 0);
	while (w.rounds < 10)
		usleep(1000);

	rounds = w.rounds;
	t0 = mt_now_ms();
	err = mover_move(m, (unsigned long)dst, (unsigned long)(src + mid * ps),
			 ps, 0, &move);
	took = mt_now_ms() - t0;
	rounds = w.rounds - rounds;
	w.stop = 1;
	pthread_join(w.thread, NULL);
	pgr_diag("move: %s after %ld ms; writer: %ld rounds meanwhile, "
		 "worst %ld ms",
		 strerror(err), took, rounds, w.worst_ms);
	ck_assert_msg(err == EBUSY && move == -EBUSY,
		      "move of a page of a referenced THP: errno %d move %lld, "
		      "want EBUSY",
		      err, (long long)move);
	ck_assert_msg(took < 10000, "the move took %ld ms", took);
	/* Held all along, the writer would finish one round at most. */
	ck_assert_msg(rounds >= 10 && w.worst_ms < took * 3 / 4,
		      "the writer did %ld rounds during the %ld ms move and "
		      "waited up to %ld ms for mmap_lock",
		      rounds, took, w.worst_ms);
	ck_assert_uint_eq(mt_pagemap_count(dst, n, PM_PRESENT), 0);
	mt_assert_pattern(src, n, (unsigned long)src, "src after EBUSY");

	/* With the pipe gone, so is the reference: split and move go. */
	close(pfd[0]);
	close(pfd[1]);
	mover_move_all(m, dst, src + mid * ps, ps, 0);
	mt_assert_pattern(dst, 1, (unsigned long)(src + mid * ps),
			  "moved page");
	ck_assert_int_eq(mt_smaps_kb(src, "AnonHugePages"), 0);
	mover_close(m);
}
END_TEST

/* ---- suite -------------------------------------------------------------- */

Suite *pgr_suite_move_special(void)
{
	Suite *s = suite_create("move-special");
	TCase *tc;

	tc = pgr_tcase("move-zero", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, zero_page);
	MOVE_TEST_ADD(tc, huge_zero_pmd);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-thp", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, thp_whole_pmd);
	MOVE_TEST_ADD(tc, thp_with_holes);
	MOVE_TEST_ADD(tc, thp_split);
	MOVE_TEST_ADD(tc, thp_unaligned_dst);
	tcase_add_test(tc, thp_split_referenced_pgremap);
	suite_add_tcase(s, tc);

	tc = pgr_tcase("move-swap", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, swapped_out);
	suite_add_tcase(s, tc);

	return s;
}
