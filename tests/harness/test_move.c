// SPDX-License-Identifier: GPL-2.0
/*
 * move suite: PGREMAP_IOC_MOVE moves pages, and only that. Every test runs
 * through pgremap and through the in-tree UFFDIO_MOVE (the oracle, 6.8+);
 * TAP names end in _pgremap or _uffd.
 *
 * After a move: dst holds exactly the bytes src held (every word of every
 * page, patterns seeded by the source address), src is unmapped (pagemap
 * present bit clear, reads zero), the VMA count and the total Rss of the
 * two mappings are unchanged, and almost no pages were allocated (only
 * page tables: fewer than one allocation per 64 pages moved).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "mover.h"

/*
 * Move npages from src + src_off pages to dst + dst_off pages, both
 * mappings being map_pages long and 2 MiB aligned, and check everything
 * a move must (and must not) change.
 */
static void move_and_verify(enum mover_kind kind, size_t map_pages,
			    size_t src_off, size_t dst_off, size_t npages)
{
	size_t ps = mt_page(), len = npages * ps, mlen = map_pages * ps;
	unsigned long pg0, pg1, allowed;
	long rss0, rss1, anon_dst;
	char *src, *dst, *s, *d;
	int vmas0, vmas1, err;
	struct mover *m;
	__s64 mv;

	MOVER_OPEN_OR_SKIP(m, kind);
	src = mt_map(mlen, MT_PMD_SIZE, false);
	dst = mt_map(mlen, MT_PMD_SIZE, false);
	s = src + src_off * ps;
	d = dst + dst_off * ps;
	mt_fill(src, map_pages, (unsigned long)src);
	mover_prepare_dst(m, dst, mlen);
	ck_assert_uint_eq(mt_pagemap_count(s, npages, PM_PRESENT), npages);

	vmas0 = mt_vma_count();
	rss0 = mt_smaps_kb(src, "Rss") + mt_smaps_kb(dst, "Rss");
	pg0 = mt_pgalloc();
	err = mover_move(m, (unsigned long)d, (unsigned long)s, len, 0, &mv);
	pg1 = mt_pgalloc();
	MT_ASSERT_ERR(err, 0, "move");
	ck_assert_msg(mv == (__s64)len, "move field %lld, want %zu",
		      (long long)mv, len);

	vmas1 = mt_vma_count();
	rss1 = mt_smaps_kb(src, "Rss") + mt_smaps_kb(dst, "Rss");
	anon_dst = mt_smaps_kb(dst, "Rss");
	allowed = npages / 64 + mt_pgalloc_noise();
	pgr_diag("%zu pages: pgalloc +%lu (allowed %lu), Rss %ld -> %ld kB, "
		 "VMAs %d -> %d",
		 npages, pg1 - pg0, allowed, rss0, rss1, vmas0, vmas1);
	ck_assert_msg(vmas1 == vmas0, "VMA count %d -> %d", vmas0, vmas1);
	ck_assert_msg(rss1 == rss0, "Rss of src+dst %ld -> %ld kB", rss0, rss1);
	ck_assert_msg(anon_dst == (long)(len / 1024),
		      "dst Rss %ld kB, want %zu", anon_dst, len / 1024);
	ck_assert_msg(pg1 - pg0 < allowed,
		      "%lu page allocations for %zu pages moved", pg1 - pg0,
		      npages);

	/* src: unmapped where moved, untouched elsewhere. */
	ck_assert_uint_eq(mt_pagemap_count(s, npages, PM_PRESENT), 0);
	ck_assert_uint_eq(mt_pagemap_count(s, npages, PM_SWAP), 0);
	ck_assert_uint_eq(mt_pagemap_count(d, npages, PM_PRESENT), npages);
	ck_assert_uint_eq(mt_pagemap_count(dst, map_pages, PM_PRESENT), npages);
	mover_release_dst(m, dst, mlen);
	mt_assert_pattern(d, npages, (unsigned long)s, "dst");
	mt_assert_pattern(src, src_off, (unsigned long)src, "src before");
	mt_assert_pattern(s + len, map_pages - src_off - npages,
			  (unsigned long)(s + len), "src after");
	ck_assert_msg(mt_check_zero(s, npages) < 0, "moved src not zero");
	ck_assert_msg(mt_check_zero(dst, dst_off) < 0, "dst before not zero");
	ck_assert_msg(mt_check_zero(d + len, map_pages - dst_off - npages) < 0,
		      "dst after not zero");
	mover_close(m);
}

/* ---- move-basic --------------------------------------------------------- */

static void single_page(enum mover_kind kind)
{
	move_and_verify(kind, 16, 3, 7, 1);
}
MOVE_TEST(single_page)

static void many_pages(enum mover_kind kind)
{
	move_and_verify(kind, 256, 10, 20, 200);
}
MOVE_TEST(many_pages)

static void first_and_last_page(enum mover_kind kind)
{
	move_and_verify(kind, 64, 0, 63, 1);
	move_and_verify(kind, 64, 63, 0, 1);
}
MOVE_TEST(first_and_last_page)

/* Ranges that cross page-table (2 MiB) boundaries at different offsets. */
static void across_pmd_boundaries(enum mover_kind kind)
{
	size_t per = MT_PMD_SIZE / mt_page();

	move_and_verify(kind, 4 * per, per - 16, per - 3, 2 * per + 40);
}
MOVE_TEST(across_pmd_boundaries)

/* 2 MiB aligned, whole page tables, no THP: the PTE path all the way. */
static void aligned_pmd_ranges(enum mover_kind kind)
{
	size_t per = MT_PMD_SIZE / mt_page();

	move_and_verify(kind, 3 * per, per, 0, 2 * per);
}
MOVE_TEST(aligned_pmd_ranges)

static void large_range(enum mover_kind kind)
{
	unsigned long mb = mt_env_ulong("PGREMAP_TEST_MOVE_MB", 256);
	size_t pages = (mb << 20) / mt_page();

	pgr_diag("large range: %lu MiB (PGREMAP_TEST_MOVE_MB)", mb);
	move_and_verify(kind, pages + 8, 3, 5, pages);
}
MOVE_TEST(large_range)

/* DONTWAKE: uffd skips the wake; pgremap accepts and ignores it. */
static void dontwake_accepted(enum mover_kind kind)
{
	size_t ps = mt_page();
	struct mover *m;
	char *src, *dst;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(m, kind);
	src = mt_map(8 * ps, 0, false);
	dst = mt_map(8 * ps, 0, false);
	mt_fill(src, 8, (unsigned long)src);
	mover_prepare_dst(m, dst, 8 * ps);
	err = mover_move(m, (unsigned long)dst, (unsigned long)src, 8 * ps,
			 MV_DONTWAKE, &mv);
	MT_ASSERT_ERR(err, 0, "move with DONTWAKE");
	ck_assert_int_eq(mv, 8 * ps);
	mover_release_dst(m, dst, 8 * ps);
	mt_assert_pattern(dst, 8, (unsigned long)src, "dst");
	ck_assert_uint_eq(mt_pagemap_count(src, 8, PM_PRESENT), 0);
	mover_close(m);
}
MOVE_TEST(dontwake_accepted)

/* The one difference by design: pgremap needs no userfaultfd on dst. */
static void unregistered_dst(enum mover_kind kind)
{
	size_t ps = mt_page();
	struct mover *m;
	char *src, *dst;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(m, kind);
	src = mt_map(4 * ps, 0, false);
	dst = mt_map(4 * ps, 0, false);
	mt_fill(src, 4, (unsigned long)src);
	err = mover_move(m, (unsigned long)dst, (unsigned long)src, 4 * ps, 0,
			 &mv);
	if (kind == MOVER_UFFD) {
		MT_ASSERT_ERR(err, EINVAL, "uffd move to unregistered dst");
		ck_assert_int_eq(mv, -EINVAL);
		mt_assert_pattern(src, 4, (unsigned long)src, "src");
		ck_assert_uint_eq(mt_pagemap_count(dst, 4, PM_PRESENT), 0);
	} else {
		MT_ASSERT_ERR(err, 0, "pgremap move to unregistered dst");
		ck_assert_int_eq(mv, 4 * ps);
		mt_assert_pattern(dst, 4, (unsigned long)src, "dst");
		ck_assert_msg(mt_check_zero(src, 4) < 0, "src not zero");
	}
	mover_close(m);
}
MOVE_TEST(unregistered_dst)

/* The in-tree move also works inside one VMA. */
static void within_one_vma(enum mover_kind kind)
{
	size_t ps = mt_page();
	struct mover *m;
	char *p;
	int vmas;

	MOVER_OPEN_OR_SKIP(m, kind);
	p = mt_map(64 * ps, 0, false);
	mt_fill(p, 16, (unsigned long)p);
	mover_prepare_dst(m, p, 64 * ps);
	vmas = mt_vma_count();
	mover_move_all(m, p + 40 * ps, p, 16 * ps, 0);
	ck_assert_int_eq(mt_vma_count(), vmas);
	ck_assert_uint_eq(mt_pagemap_count(p, 16, PM_PRESENT), 0);
	mover_release_dst(m, p, 64 * ps);
	mt_assert_pattern(p + 40 * ps, 16, (unsigned long)p, "dst");
	ck_assert_msg(mt_check_zero(p, 40) < 0, "src not zero");
	mover_close(m);
}
MOVE_TEST(within_one_vma)

/* Moving a page back and forth keeps its bytes; no copy is made. */
static void round_trip(enum mover_kind kind)
{
	size_t ps = mt_page();
	__u64 pfn0, pfn1;
	struct mover *m;
	char *a, *b;
	int i;

	MOVER_OPEN_OR_SKIP(m, kind);
	a = mt_map(4 * ps, 0, false);
	b = mt_map(4 * ps, 0, false);
	mt_fill(a, 4, (unsigned long)a);
	mover_prepare_dst(m, a, 4 * ps);
	mover_prepare_dst(m, b, 4 * ps);
	pfn0 = mt_pagemap(a) & PM_PFN_MASK;
	for (i = 0; i < 50; i++) {
		mover_move_all(m, b, a, 4 * ps, 0);
		mover_move_all(m, a, b, 4 * ps, 0);
	}
	pfn1 = mt_pagemap(a) & PM_PFN_MASK;
	ck_assert_msg(pfn0 == pfn1, "pfn changed %#llx -> %#llx: copied?",
		      (unsigned long long)pfn0, (unsigned long long)pfn1);
	mt_assert_pattern(a, 4, (unsigned long)a, "after 50 round trips");
	ck_assert_uint_eq(mt_pagemap_count(b, 4, PM_PRESENT), 0);
	mover_close(m);
}
MOVE_TEST(round_trip)

/* The moved PTE is soft-dirty at dst (clear_refs 4 cleared it first). */
static void soft_dirty(enum mover_kind kind)
{
	size_t ps = mt_page();
	struct mover *m;
	char *src, *dst;
	size_t i;

	MOVER_OPEN_OR_SKIP(m, kind);
	PGR_SKIP_IF(!pgr_kconfig_enabled("MEM_SOFT_DIRTY"),
		    "no CONFIG_MEM_SOFT_DIRTY");
	src = mt_map(8 * ps, 0, false);
	dst = mt_map(8 * ps, 0, false);
	mt_fill(src, 8, (unsigned long)src);
	mover_prepare_dst(m, dst, 8 * ps);
	ck_assert_int_eq(mt_write_file("/proc/self/clear_refs", "4"), 0);
	ck_assert_msg(mt_pagemap_count(src, 8, PM_SOFT_DIRTY) == 0,
		      "clear_refs 4 left soft-dirty bits");
	mover_move_all(m, dst, src, 8 * ps, 0);
	for (i = 0; i < 8; i++) {
		__u64 e = mt_pagemap(dst + i * ps);

		ck_assert_msg((e & PM_PRESENT) && (e & PM_SOFT_DIRTY),
			      "dst page %zu pagemap %#llx: not soft-dirty", i,
			      (unsigned long long)e);
	}
	mover_close(m);
}
MOVE_TEST(soft_dirty)

/*
 * Overlapping src and dst. pgremap refuses any overlap with EINVAL. The
 * in-tree UFFDIO_MOVE has no overlap check: it walks src upwards, so a
 * move to a lower address whose dst start is a hole works page by page
 * (each dst page was vacated by the step before); a move upwards meets a
 * populated dst page at once (EEXIST); src == dst is EEXIST if populated.
 */
static void overlap(enum mover_kind kind)
{
	size_t ps = mt_page();
	struct mover *m;
	char *p;
	__s64 mv;
	int err;

	MOVER_OPEN_OR_SKIP(m, kind);
	p = mt_map(16 * ps, 0, false);
	mt_fill(p + ps, 4, (unsigned long)(p + ps));
	mover_prepare_dst(m, p, 16 * ps);

	/* Downwards by one page: [p, p+4) <- [p+1, p+5). */
	err = mover_move(m, (unsigned long)p, (unsigned long)(p + ps), 4 * ps,
			 0, &mv);
	if (kind == MOVER_PGREMAP) {
		MT_ASSERT_ERR(err, EINVAL, "overlapping move downwards");
		mover_release_dst(m, p, 16 * ps);
		mt_assert_pattern(p + ps, 4, (unsigned long)(p + ps), "src");
		ck_assert_uint_eq(mt_pagemap_count(p, 1, PM_PRESENT), 0);
	} else {
		MT_ASSERT_ERR(err, 0, "uffd overlapping move downwards");
		ck_assert_int_eq(mv, 4 * ps);
		ck_assert_uint_eq(mt_pagemap_count(p + 4 * ps, 1, PM_PRESENT),
				  0);
		mover_release_dst(m, p, 16 * ps);
		mt_assert_pattern(p, 4, (unsigned long)(p + ps), "dst");
		mover_prepare_dst(m, p, 16 * ps);
		/* Back up again: dst p+1 is populated. */
		err = mover_move(m, (unsigned long)(p + ps), (unsigned long)p,
				 4 * ps, 0, &mv);
		MT_ASSERT_ERR(err, EEXIST, "uffd overlapping move upwards");
		ck_assert_int_eq(mv, -EEXIST);
		err = mover_move(m, (unsigned long)p, (unsigned long)p, 4 * ps,
				 0, &mv);
		MT_ASSERT_ERR(err, EEXIST, "uffd src == dst");
		mover_release_dst(m, p, 16 * ps);
		mt_assert_pattern(p, 4, (unsigned long)(p + ps), "unchanged");
		mover_close(m);
		return;
	}
	/* pgremap: every kind of overlap is EINVAL, memory untouched. */
	err = mover_move(m, (unsigned long)(p + 2 * ps),
			 (unsigned long)(p + ps), 4 * ps, 0, &mv);
	MT_ASSERT_ERR(err, EINVAL, "overlapping move upwards");
	err = mover_move(m, (unsigned long)(p + ps), (unsigned long)(p + ps),
			 4 * ps, 0, &mv);
	MT_ASSERT_ERR(err, EINVAL, "src == dst");
	err = mover_move(m, (unsigned long)(p + 4 * ps),
			 (unsigned long)(p + ps), 4 * ps, 0, &mv);
	MT_ASSERT_ERR(err, EINVAL, "last src page is first dst page");
	mt_assert_pattern(p + ps, 4, (unsigned long)(p + ps), "src");
	/* Adjacent is not overlapping. */
	err = mover_move(m, (unsigned long)(p + 5 * ps),
			 (unsigned long)(p + ps), 4 * ps, 0, &mv);
	MT_ASSERT_ERR(err, 0, "adjacent ranges");
	mt_assert_pattern(p + 5 * ps, 4, (unsigned long)(p + ps), "dst");
	mover_close(m);
}
MOVE_TEST(overlap)

/* ---- suite -------------------------------------------------------------- */

static TCase *move_tcase(const char *name, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, pgr_fixture_module_ready, NULL);
	tcase_set_timeout(tc, timeout);
	return tc;
}

Suite *pgr_suite_move(void)
{
	Suite *s = suite_create("move");
	TCase *tc;

	tc = move_tcase("move-basic", PGR_TIMEOUT_SHORT);
	MOVE_TEST_ADD(tc, single_page);
	MOVE_TEST_ADD(tc, many_pages);
	MOVE_TEST_ADD(tc, first_and_last_page);
	MOVE_TEST_ADD(tc, across_pmd_boundaries);
	MOVE_TEST_ADD(tc, aligned_pmd_ranges);
	MOVE_TEST_ADD(tc, dontwake_accepted);
	MOVE_TEST_ADD(tc, unregistered_dst);
	MOVE_TEST_ADD(tc, within_one_vma);
	MOVE_TEST_ADD(tc, round_trip);
	MOVE_TEST_ADD(tc, soft_dirty);
	MOVE_TEST_ADD(tc, overlap);
	suite_add_tcase(s, tc);

	tc = move_tcase("move-large", PGR_TIMEOUT_LONG);
	MOVE_TEST_ADD(tc, large_range);
	suite_add_tcase(s, tc);

	return s;
}
