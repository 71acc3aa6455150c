// SPDX-License-Identifier: GPL-2.0
/*
 * PGREMAP_IOC_MOVE: move private anonymous pages from src to dst inside
 * current->mm by moving page-table entries, with the semantics of the
 * in-tree UFFDIO_MOVE (mm/userfaultfd.c, 6.8+). The algorithm is the
 * upstream one, step for step, including its post-merge fixes; the
 * differences are how we reach the kernel (resolved symbols, compat.h)
 * and that we map PTE tables ourselves on every kernel.
 *
 * Lock order, outermost first (the order of mm/rmap.c's header):
 *
 *   mmap_lock (read)
 *     mmu_notifier_invalidate_range_start() on the source page
 *       folio lock of the source folio
 *         anon_vma root rwsem of the source folio (write)
 *           both PTLs, lower address first (double_pt_lock)
 *
 * - mmap_lock for read, held for the whole call, keeps both VMAs from
 *   being split, merged, unmapped or having their flags changed, so the
 *   checks made once at the start stay true (the one exception, a step
 *   that keeps failing while a writer waits, drops it and checks the VMAs
 *   again: move_backoff()). It does not keep page tables
 *   still: faults populate them, MADV_DONTNEED zaps entries and THPs,
 *   THPs get split. Hence every entry is read, then re-checked under its
 *   PTL (pte_same) before anything is changed, and -EAGAIN retries.
 *   What it does guarantee on every supported kernel: a PMD that points
 *   to a PTE table keeps pointing to it (anonymous PTE tables are only
 *   freed under mmap_lock for write; no Debian kernel has
 *   CONFIG_PT_RECLAIM).
 *   We still re-check the PMD under the PTL, as upstream 6.5+ does; with
 *   the RCU read section around a mapped PTE table (which protects
 *   nothing on 5.10 and 6.1, where page tables are freed at once) a
 *   kernel that frees tables under RCU would give -EAGAIN here, not
 *   corruption.
 * - The folio lock serialises us against every rmap user that holds it
 *   (try_to_unmap, migration, split, swap-out of a locked folio).
 * - The anon_vma write lock serialises against rmap walkers that do not
 *   take the folio lock (folio_referenced() from reclaim's active-list
 *   scan, page_idle): while we change folio->mapping, none of them is
 *   inside the source anon_vma.
 * - The two PTLs make the PTE swap atomic for faults, zaps and the other
 *   PTE walkers. They are taken in address order, with the second one
 *   nested, so that two moves in opposite directions cannot deadlock.
 * Nothing sleeps while a PTE table is mapped or a PTL is held: whenever a
 * lock must be waited for, everything is unmapped first and the step is
 * retried from the start.
 *
 * That is the per-page path, upstream's. Most pages take the batch path
 * (move_ptes_batched()), which holds the same locks for a whole run of
 * PTEs but takes the PTLs first and the folio and anon_vma locks only
 * with trylock; see the comment above it for why that is deadlock-free.
 */
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include <uapi/linux/pgremap.h>

#include "compat.h"
#include "pgremap.h"
#include "symbols.h"

#define PGREMAP_MOVE_MODES_ALL \
	(PGREMAP_MOVE_MODE_DONTWAKE | PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES)

/* One move call: what stays the same for every page. */
struct move_ctx {
	struct mm_struct *mm;
	struct vm_area_struct *dst_vma;
	struct vm_area_struct *src_vma;
	unsigned long src_end;		/* end of the whole source range */
	u64 mode;
	struct anon_vma *graced;	/* see keep_for_grace() */
	unsigned long stuck_since;	/* jiffies: first -EAGAIN since progress */
	bool split_failed;		/* the last step's split_folio() failed */
	bool unlocked;			/* mmap_lock lost in move_backoff() */
};

/* One page's move: the mapped PTEs and what they held when read. */
struct pte_move {
	unsigned long dst_addr, src_addr;
	pmd_t *dst_pmd, *src_pmd;
	pmd_t dst_pmdval, src_pmdval;
	pte_t *dst_pte, *src_pte;
	spinlock_t *dst_ptl, *src_ptl;
	pte_t orig_dst_pte, orig_src_pte;
};

/* ---- page tables ------------------------------------------------------ */

/*
 * The PMD entry of @addr if the upper levels are populated, whatever the
 * entry holds: 6.1's mm_find_pmd(). Ours, not the kernel's, because
 * before 6.0 mm_find_pmd() also returns NULL for a huge or non-present
 * PMD, which would hide a THP at src.
 */
static pmd_t *find_pmd(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

	if (!pgd_present(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (!p4d_present(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (!pud_present(*pud))
		return NULL;
	return pmd_offset(pud, addr);
}

/* mm_alloc_pmd() of mm/memory.c, through the resolved allocators. */
static pmd_t *alloc_pmd(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;

#ifndef __PAGETABLE_P4D_FOLDED
	/* Only where the p4d level exists: 5.10's config folds it. */
	if (pgd_none(*pgd) && pgremap_sym.__p4d_alloc(mm, pgd, addr))
		return NULL;
#endif
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) && pgremap_sym.__pud_alloc(mm, p4d, addr))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) && pgremap_sym.__pmd_alloc(mm, pud, addr))
		return NULL;
	return pmd_offset(pud, addr);
}

static int alloc_pte_table(struct mm_struct *mm, pmd_t *pmd)
{
	if (pmd_none(READ_ONCE(*pmd)) && pgremap_sym.__pte_alloc(mm, pmd))
		return -ENOMEM;
	return 0;
}

/*
 * Map the PTE of @addr under @pmd without locking it, remembering the PMD
 * value it was found through so the caller can re-check it under the PTL.
 * NULL if the PMD does not point to a PTE table (none, huge, migrating).
 * The RCU read section matches 6.5+'s pte_offset_map(): page tables freed
 * under RCU stay readable until pte_unmap_rcu().
 */
static pte_t *map_pte(struct mm_struct *mm, pmd_t *pmd, unsigned long addr,
		      pmd_t *pmdval, spinlock_t **ptl)
{
	rcu_read_lock();
	*pmdval = READ_ONCE(*pmd);
	if (!pmd_present(*pmdval) || pmd_trans_huge(*pmdval) ||
	    pmd_devmap(*pmdval) || pmd_bad(*pmdval)) {
		rcu_read_unlock();
		return NULL;
	}
	*ptl = pte_lockptr(mm, pmdval);
	return pte_offset_kernel(pmdval, addr);
}

static void unmap_pte(pte_t **pte)
{
	if (*pte) {
		rcu_read_unlock();
		*pte = NULL;
	}
}

/*
 * Map dst's PTE, then src's (if dst's is mapped). True when both are;
 * unmap_ptes() undoes either outcome.
 */
static bool map_ptes(struct mm_struct *mm, struct pte_move *pm)
{
	pm->dst_pte = map_pte(mm, pm->dst_pmd, pm->dst_addr, &pm->dst_pmdval,
			      &pm->dst_ptl);
	if (pm->dst_pte)
		pm->src_pte = map_pte(mm, pm->src_pmd, pm->src_addr,
				      &pm->src_pmdval, &pm->src_ptl);
	return pm->src_pte;
}

/* Unmap both, source first: the reverse of the mapping order. */
static void unmap_ptes(struct pte_move *pm)
{
	unmap_pte(&pm->src_pte);
	unmap_pte(&pm->dst_pte);
}

/*
 * Take two page-table locks (PTE or PMD) in address order, the second
 * nested, so that moves in opposite directions cannot deadlock.
 */
static void double_lock(spinlock_t *a, spinlock_t *b)
{
	if (a > b)
		swap(a, b);
	spin_lock(a);
	if (b != a)
		spin_lock_nested(b, SINGLE_DEPTH_NESTING);
}

static void double_unlock(spinlock_t *a, spinlock_t *b)
{
	if (b != a)
		spin_unlock(b);
	spin_unlock(a);
}

/*
 * Lock both PTLs in address order. Each PMD must still point to the PTE
 * table we mapped, and each PTE must still hold what we decided on:
 * otherwise -EAGAIN and the step starts over.
 */
static int lock_ptes(struct pte_move *pm)
{
	double_lock(pm->dst_ptl, pm->src_ptl);
	if (!pmd_same(READ_ONCE(*pm->dst_pmd), pm->dst_pmdval) ||
	    !pmd_same(READ_ONCE(*pm->src_pmd), pm->src_pmdval) ||
	    !pte_same(ptep_get(pm->src_pte), pm->orig_src_pte) ||
	    !pte_same(ptep_get(pm->dst_pte), pm->orig_dst_pte)) {
		double_unlock(pm->dst_ptl, pm->src_ptl);
		return -EAGAIN;
	}
	return 0;
}

static void unlock_ptes(struct pte_move *pm)
{
	double_unlock(pm->dst_ptl, pm->src_ptl);
}

static pte_t read_pte_locked(pte_t *pte, spinlock_t *ptl)
{
	pte_t val;

	spin_lock(ptl);
	val = ptep_get(pte);
	spin_unlock(ptl);
	return val;
}

/*
 * Tell ->invalidate_range() users (IOMMU SVA) right after a clear+flush,
 * under the page-table lock, where the kernel has that callback.
 */
static void secondary_tlb_flush(struct mm_struct *mm, unsigned long start,
				unsigned long end)
{
	if (PGREMAP_SECONDARY_TLB_CALLBACK && mm_has_notifiers(mm))
		pgremap_sym.__mmu_notifier_invalidate_range(mm, start, end);
}

/* ---- rmap ------------------------------------------------------------- */

/*
 * 6.12's folio_move_anon_rmap() plus the index, on every kernel. Not 6.1's
 * page_move_anon_rmap(): it also sets PageAnonExclusive, which must never
 * be set on a swap-cache folio that no PTE maps (do_swap_page() BUG()s).
 * The folio lock is held, so no rmap user that takes it sees the change
 * half done; mapping and PAGE_MAPPING_ANON go in one store for lockless
 * readers such as folio_test_anon().
 */
static void move_anon_rmap(struct folio *folio, struct vm_area_struct *vma,
			   unsigned long addr)
{
	struct page *head = folio_page(folio, 0);
	void *anon_vma = vma->anon_vma;

	VM_WARN_ON_ONCE(!folio_test_locked(folio));
	WRITE_ONCE(head->mapping,
		   (struct address_space *)(anon_vma + PAGE_MAPPING_ANON));
	/* Where rmap walkers and swap-in at @addr look for it. */
	head->index = linear_page_index(vma, addr);
}

static void put_anon_vma_ref(struct anon_vma *anon_vma)
{
	if (atomic_dec_and_test(&anon_vma->refcount))
		pgremap_sym.__put_anon_vma(anon_vma);
}

/*
 * The 6.1 anon_vma lifetime hole, and how it is closed.
 *
 * 6.1's folio_lock_anon_vma_read() reads folio->mapping under RCU and
 * trusts the anon_vma it names because "the folio is still mapped, so its
 * anon_vma is alive". After a move the folio is still mapped, at dst,
 * but through dst's anon_vma: the source anon_vma may be freed (munmap of
 * src) and its type-safe slab object reused while a walker that read the
 * old mapping is preempted inside its RCU section. It would then lock and
 * walk an unrelated anon_vma. Upstream closed this with a ->mapping
 * re-check (6.8); here, the mover keeps a reference on each source
 * anon_vma it moved folios out of and drops it only after an RCU grace
 * period, so every walker that could have read the old mapping has
 * either taken the root lock (which anon_vma_free() waits for) or its own
 * reference before the anon_vma can go. Such a walker then merely walks
 * the source tree and misses the page once.
 */
/*
 * References waiting for their grace period are collected in one open
 * batch, queued as a single rcu_work when it fills or a tick after it
 * opened: one allocation and one RCU callback per batch, not per move
 * call. A move whose anon_vma the open batch already holds just drops its
 * own reference: the batch's is dropped a grace period after the batch is
 * queued, which is later than this move, so it covers the same walkers.
 */
#define GRACE_BATCH_MAX 30

struct anon_vma_grace {
	struct rcu_work rwork;
	unsigned int nr;
	struct anon_vma *anon_vma[GRACE_BATCH_MAX];
};

enum grace_add { GRACE_ADDED, GRACE_HELD, GRACE_NEED_BATCH };

static struct workqueue_struct *pgremap_wq;
static DEFINE_SPINLOCK(grace_lock);
static struct anon_vma_grace *grace_open;	/* under grace_lock */

static void anon_vma_grace_fn(struct work_struct *work)
{
	struct anon_vma_grace *g = container_of(to_rcu_work(work),
						struct anon_vma_grace, rwork);
	unsigned int i;

	for (i = 0; i < g->nr; i++)
		put_anon_vma_ref(g->anon_vma[i]);
	kfree(g);
}

static void grace_queue(struct anon_vma_grace *g)
{
	if (!g)
		return;
	INIT_RCU_WORK(&g->rwork, anon_vma_grace_fn);
	queue_rcu_work(pgremap_wq, &g->rwork);
}

/* Queue the open batch, if any. */
static void grace_close(void)
{
	struct anon_vma_grace *g;

	spin_lock(&grace_lock);
	g = grace_open;
	grace_open = NULL;
	spin_unlock(&grace_lock);
	grace_queue(g);
}

static void grace_close_fn(struct work_struct *work)
{
	grace_close();
}

static DECLARE_DELAYED_WORK(grace_close_work, grace_close_fn);

/*
 * Hand the reference on @anon_vma to the open batch: GRACE_HELD if the
 * batch has one already (the caller drops its own), GRACE_NEED_BATCH if a
 * new batch is needed and *@fresh is NULL. A full batch is queued.
 */
static enum grace_add grace_add(struct anon_vma *anon_vma,
				struct anon_vma_grace **fresh)
{
	struct anon_vma_grace *g, *full = NULL;
	enum grace_add res = GRACE_ADDED;
	unsigned int i;

	spin_lock(&grace_lock);
	g = grace_open;
	if (g) {
		for (i = 0; i < g->nr; i++)
			if (g->anon_vma[i] == anon_vma) {
				res = GRACE_HELD;
				goto unlock;
			}
		if (g->nr < GRACE_BATCH_MAX) {
			g->anon_vma[g->nr++] = anon_vma;
			goto unlock;
		}
		full = g;
		grace_open = NULL;
	}
	if (!*fresh) {
		res = GRACE_NEED_BATCH;
		goto unlock;
	}
	g = *fresh;
	*fresh = NULL;
	g->nr = 1;
	g->anon_vma[0] = anon_vma;
	grace_open = g;
	queue_delayed_work(pgremap_wq, &grace_close_work, 1);
unlock:
	spin_unlock(&grace_lock);
	grace_queue(full);
	return res;
}

/* Drop a reference after a grace period. Takes no lock; may sleep. */
static void put_anon_vma_after_grace(struct anon_vma *anon_vma)
{
	struct anon_vma_grace *fresh = NULL;
	enum grace_add res;

	while ((res = grace_add(anon_vma, &fresh)) == GRACE_NEED_BATCH) {
		fresh = kmalloc(sizeof(*fresh), GFP_KERNEL);
		if (!fresh) {
			synchronize_rcu();
			put_anon_vma_ref(anon_vma);
			return;
		}
	}
	/* The batch holds a reference too: this one is never the last. */
	if (res == GRACE_HELD)
		put_anon_vma_ref(anon_vma);
	kfree(fresh);
}

/*
 * A folio moved out of @anon_vma: hand over the caller's reference on it,
 * kept until a grace period after this move call. Called with no folio,
 * anon_vma or page-table lock held.
 */
static void keep_for_grace(struct move_ctx *mc, struct anon_vma *anon_vma)
{
	if (!PGREMAP_NEED_ANON_VMA_GRACE || mc->graced == anon_vma) {
		put_anon_vma_ref(anon_vma);
		return;
	}
	if (mc->graced)
		put_anon_vma_after_grace(mc->graced);
	mc->graced = anon_vma;
}

int pgremap_move_init(void)
{
	pgremap_wq = alloc_workqueue("pgremap", 0, 0);
	return pgremap_wq ? 0 : -ENOMEM;
}

void pgremap_move_exit(void)
{
	/* No move runs any more (the open device pins the module). */
	cancel_delayed_work_sync(&grace_close_work);
	grace_close();
	/* The queue_rcu_work() callbacks queue work: let them, then drain. */
	rcu_barrier();
	destroy_workqueue(pgremap_wq);
}

/* ---- one PTE, by kind ------------------------------------------------- */

/* The dst entry for a folio moved out of @src_pte. */
static pte_t moved_pte(struct move_ctx *mc, struct folio *folio,
		       pte_t src_pte)
{
	pte_t pte = mk_pte(folio_page(folio, 0), mc->dst_vma->vm_page_prot);

	/* Soft-dirty tells userspace trackers the page moved here. */
	pte = pte_mksoft_dirty(pte);
	/* Dirty only if it was: a clean page stays cheap to reclaim. */
	if (pte_dirty(src_pte))
		pte = pte_mkdirty(pte);
	/* See PGREMAP_MOVE_MAKES_WRITABLE in compat.h. */
	if (PGREMAP_MOVE_MAKES_WRITABLE || pte_write(src_pte))
		pte = pgremap_pte_mkwrite(pte);
	return pte;
}

/* The dst entry for a moved zero-page entry. */
static pte_t zero_pte(struct move_ctx *mc, unsigned long dst_addr)
{
	return pte_mkspecial(pfn_pte(my_zero_pfn(dst_addr),
				     mc->dst_vma->vm_page_prot));
}

/* A present, exclusive, small anonymous folio, locked, anon_vma locked. */
static int move_present_pte(struct move_ctx *mc, struct pte_move *pm,
			    struct folio *folio)
{
	pte_t src_pte;
	int err;

	err = lock_ptes(pm);
	if (err)
		return err;

	if (folio_test_large(folio) || folio_maybe_dma_pinned(folio) ||
	    !pgremap_anon_exclusive(folio, pm->orig_src_pte) ||
	    !pgremap_anon_exclusive_locked(folio, pm->orig_src_pte)) {
		err = -EBUSY;
		goto out;
	}

	/*
	 * Clear and flush before the page appears at dst, so no CPU can
	 * still write through a stale src translation once it is there.
	 */
	src_pte = pgremap_sym.ptep_clear_flush(mc->src_vma, pm->src_addr,
					       pm->src_pte);
	secondary_tlb_flush(mc->mm, pm->src_addr, pm->src_addr + PAGE_SIZE);
	/*
	 * GUP-fast pins without the PTL; it re-checks the PTE after pinning,
	 * so a pin taken before the clear is visible now (upstream fix).
	 */
	if (folio_maybe_dma_pinned(folio)) {
		set_pte_at(mc->mm, pm->src_addr, pm->src_pte, src_pte);
		err = -EBUSY;
		goto out;
	}

	move_anon_rmap(folio, mc->dst_vma, pm->dst_addr);
	set_pte_at(mc->mm, pm->dst_addr, pm->dst_pte,
		   moved_pte(mc, folio, src_pte));
out:
	unlock_ptes(pm);
	return err;
}

static int move_zeropage_pte(struct move_ctx *mc, struct pte_move *pm)
{
	int err;

	err = lock_ptes(pm);
	if (err)
		return err;

	pgremap_sym.ptep_clear_flush(mc->src_vma, pm->src_addr, pm->src_pte);
	secondary_tlb_flush(mc->mm, pm->src_addr, pm->src_addr + PAGE_SIZE);
	set_pte_at(mc->mm, pm->dst_addr, pm->dst_pte,
		   zero_pte(mc, pm->dst_addr));
	unlock_ptes(pm);
	return 0;
}

/*
 * An exclusive swap entry. @folio is its swap-cache folio, locked, or
 * NULL if there was none when we looked.
 */
static int move_swap_pte(struct move_ctx *mc, struct pte_move *pm,
			 struct folio *folio, struct swap_info_struct *si,
			 swp_entry_t entry)
{
	pte_t src_pte;
	int err;

	/*
	 * Unlocked, the folio may have left the swap cache and been reused
	 * before we locked it: it must still be this entry's (upstream fix).
	 */
	if (folio && (!folio_test_swapcache(folio) ||
		      entry.val != pgremap_folio_swap(folio).val))
		return -EAGAIN;

	err = lock_ptes(pm);
	if (err)
		return err;

	/* Without PageAnonExclusive, decided here (see compat.h). */
	if (!pgremap_swap_entry_exclusive(si, entry, folio)) {
		unlock_ptes(pm);
		return -EBUSY;
	}
	if (folio) {
		/* A later swap-in at dst finds the folio through its rmap. */
		move_anon_rmap(folio, mc->dst_vma, pm->dst_addr);
	} else if (READ_ONCE(si->swap_map[swp_offset(entry)]) &
		   SWAP_HAS_CACHE) {
		/*
		 * A folio entered the swap cache after we looked: its rmap
		 * would still point at src. Look again (upstream fix).
		 */
		unlock_ptes(pm);
		return -EAGAIN;
	}

	/* Not present: no TLB entry to flush. */
	src_pte = ptep_get_and_clear(mc->mm, pm->src_addr, pm->src_pte);
	src_pte = pte_swp_mksoft_dirty(src_pte);
	set_pte_at(mc->mm, pm->dst_addr, pm->dst_pte, src_pte);
	unlock_ptes(pm);
	return 0;
}

/* ---- one PTE: classify, take the folio and anon_vma locks ------------- */

/* State carried across -EAGAIN-free retries of one page's move. */
struct page_locks {
	struct folio *folio;		/* referenced and locked */
	pte_t folio_pte;		/* the src PTE it was found through */
	struct anon_vma *anon_vma;	/* referenced and write-locked */
	struct swap_info_struct *si;	/* get_swap_device() reference */
};

static void release_page_locks(struct page_locks *pl)
{
	if (pl->anon_vma) {
		anon_vma_unlock_write(pl->anon_vma);
		put_anon_vma_ref(pl->anon_vma);
	}
	if (pl->folio) {
		folio_unlock(pl->folio);
		folio_put(pl->folio);
	}
	if (pl->si)
		put_swap_device(pl->si);
	memset(pl, 0, sizeof(*pl));
}

enum step { STEP_DONE, STEP_RETRY };

/*
 * Get the source folio referenced and locked. STEP_RETRY: the PTEs were
 * unmapped to sleep on the lock, start over with pl->folio held.
 */
static int lock_src_folio(struct move_ctx *mc, struct pte_move *pm,
			  struct page_locks *pl, enum step *step)
{
	struct folio *folio;
	bool locked;

	spin_lock(pm->src_ptl);
	if (!pte_same(pm->orig_src_pte, ptep_get(pm->src_pte))) {
		spin_unlock(pm->src_ptl);
		return -EAGAIN;
	}
	folio = pgremap_vm_normal_folio(mc->src_vma, pm->src_addr,
					pm->orig_src_pte);
	/* Shared by fork() or KSM, or not a normal page at all. */
	if (!folio || !pgremap_anon_exclusive(folio, pm->orig_src_pte)) {
		spin_unlock(pm->src_ptl);
		return -EBUSY;
	}
	locked = folio_trylock(folio);
	/*
	 * Never wait for a large folio's lock holding a reference: the
	 * extra reference makes the holder's split fail, and two movers
	 * would livelock (upstream fix).
	 */
	if (!locked && folio_test_large(folio)) {
		spin_unlock(pm->src_ptl);
		return -EAGAIN;
	}
	folio_get(folio);
	pl->folio = folio;
	pl->folio_pte = pm->orig_src_pte;
	spin_unlock(pm->src_ptl);

	if (!locked) {
		unmap_ptes(pm);
		folio_lock(folio);
		*step = STEP_RETRY;
		return 0;
	}
	if (WARN_ON_ONCE(!folio_test_anon(folio)))
		return -EBUSY;
	return 0;
}

/*
 * Write-lock the source folio's anon_vma (its root rwsem). STEP_RETRY:
 * unmapped to sleep on it, start over with pl->anon_vma held.
 *
 * On 6.1, folio_lock_anon_vma_read() (5.10: page_lock_anon_vma_read())
 * does not re-check folio->mapping after taking the root lock (upstream
 * added that with UFFDIO_MOVE). A walker without the folio lock
 * (folio_referenced() from the active-list scan, page_idle) can
 * therefore read the old anon_vma, wait for our
 * write lock, and walk the source anon_vma after the folio moved to the
 * destination's. That is memory-safe: the walker holds a reference on
 * the old anon_vma and its lock keeps every VMA of its tree alive, and
 * page_vma_mapped_walk() only reports a VMA where this very PFN is mapped
 * at the address the folio's new index gives, which the source VMA no
 * longer holds. The walker merely misses the page once (it ages one page
 * as unreferenced). Walkers that change mappings (try_to_unmap,
 * try_to_migrate, split) hold the folio lock, which we hold across the
 * change, so they always see the new mapping.
 */
static int lock_src_anon_vma(struct pte_move *pm, struct page_locks *pl,
			     enum step *step)
{
	pl->anon_vma = pgremap_folio_get_anon_vma(pl->folio);
	if (!pl->anon_vma)
		return -EAGAIN;		/* unmapped under us */
	/* anon_vma_trylock_write(), which 6.1 lacks. */
	if (!down_write_trylock(&pl->anon_vma->root->rwsem)) {
		unmap_ptes(pm);
		anon_vma_lock_write(pl->anon_vma);
		*step = STEP_RETRY;
	}
	return 0;
}

static int prepare_present(struct move_ctx *mc, struct pte_move *pm,
			   struct page_locks *pl, enum step *step)
{
	int err;

	if (!pl->folio) {
		err = lock_src_folio(mc, pm, pl, step);
		if (err || *step == STEP_RETRY)
			return err;
	}
	if (folio_test_large(pl->folio)) {
		/* A pinned folio cannot be split, and would not move. */
		if (folio_maybe_dma_pinned(pl->folio))
			return -EBUSY;
		/* split_folio() can sleep. */
		unmap_ptes(pm);
		/*
		 * -EAGAIN (an extra reference) retries, as upstream, but
		 * not forever: see move_backoff().
		 */
		err = pgremap_split_folio(pl->folio);
		mc->split_failed = err == -EAGAIN;
		if (err)
			return err;
		/* Look the page up again in its new, small folio. */
		release_page_locks(pl);
		*step = STEP_RETRY;
		return 0;
	}
	if (!pl->anon_vma)
		return lock_src_anon_vma(pm, pl, step);
	return 0;
}

static int prepare_swap(struct move_ctx *mc, struct pte_move *pm,
			struct page_locks *pl, swp_entry_t entry,
			enum step *step)
{
	struct folio *folio;

	if (!pgremap_swp_pte_exclusive(pm->orig_src_pte))
		return -EBUSY;
	pl->si = pgremap_sym.get_swap_device(entry);
	if (!pl->si)
		return -EAGAIN;
	if (pl->folio)
		return 0;
	/*
	 * Lockless swap-cache lookup: the folio's rmap must follow the
	 * entry, since a swap-in at dst finds it there.
	 */
	folio = filemap_get_folio(pgremap_swap_address_space(pgremap_sym.swapper_spaces,
							     entry),
				  pgremap_swap_cache_index(entry));
	folio = pgremap_folio_or_null(folio);
	if (!folio)
		return 0;
	if (folio_test_large(folio)) {
		folio_put(folio);
		return -EBUSY;
	}
	pl->folio = folio;
	pl->folio_pte = pm->orig_src_pte;
	if (!folio_trylock(folio)) {
		unmap_ptes(pm);
		put_swap_device(pl->si);
		pl->si = NULL;
		folio_lock(folio);
		*step = STEP_RETRY;
	}
	return 0;
}

static int move_nonpresent(struct move_ctx *mc, struct pte_move *pm,
			   struct page_locks *pl, enum step *step)
{
	swp_entry_t entry = pte_to_swp_entry(pm->orig_src_pte);
	int err;

	if (non_swap_entry(entry)) {
		if (!is_migration_entry(entry))
			return -EFAULT;	/* hwpoison, device, marker */
		unmap_ptes(pm);
		pgremap_sym.migration_entry_wait(mc->mm, pm->src_pmd,
						 pm->src_addr);
		return -EAGAIN;
	}
	err = prepare_swap(mc, pm, pl, entry, step);
	if (err || *step == STEP_RETRY)
		return err;
	return move_swap_pte(mc, pm, pl->folio, pl->si, entry);
}

/* Map both PTEs and read them. 0, or an error that ends this page. */
static int map_and_read(struct move_ctx *mc, struct pte_move *pm)
{
	if (!map_ptes(mc->mm, pm)) {
		/* The PMD that did not map: dst's, or else src's. */
		pmd_t pmdval = pm->dst_pte ? pm->src_pmdval : pm->dst_pmdval;

		return pmd_bad(pmdval) ? -EFAULT : -EAGAIN;
	}

	pm->orig_dst_pte = read_pte_locked(pm->dst_pte, pm->dst_ptl);
	if (!pte_none(pm->orig_dst_pte))
		return -EEXIST;
	pm->orig_src_pte = read_pte_locked(pm->src_pte, pm->src_ptl);
	return 0;
}

static int move_one_pte(struct move_ctx *mc, struct pte_move *pm,
			struct page_locks *pl, enum step *step)
{
	int err;

	*step = STEP_DONE;
	err = map_and_read(mc, pm);
	if (err)
		return err;

	if (pte_none(pm->orig_src_pte))
		return mc->mode & PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES ?
		       0 : -ENOENT;

	/* The PTE changed after we locked its folio: start over. */
	if (pl->folio && !pte_same(pl->folio_pte, pm->orig_src_pte))
		return -EAGAIN;

	if (!pte_present(pm->orig_src_pte))
		return move_nonpresent(mc, pm, pl, step);

	if (is_zero_pfn(pte_pfn(pm->orig_src_pte)))
		return move_zeropage_pte(mc, pm);

	err = prepare_present(mc, pm, pl, step);
	if (err || *step == STEP_RETRY)
		return err;
	return move_present_pte(mc, pm, pl->folio);
}

/*
 * mmu_notifier_invalidate_range_start()/end() without their inline
 * wrappers, which call the unexported functions directly. Secondary MMUs
 * (KVM, IOMMU SVA) drop their mappings of the source before it changes.
 */
static void notifier_start(struct mm_struct *mm,
			   struct mmu_notifier_range *range)
{
	if (mm_has_notifiers(mm)) {
		range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
		pgremap_sym.__mmu_notifier_invalidate_range_start(range);
	}
}

static void notifier_end(struct mm_struct *mm,
			 struct mmu_notifier_range *range)
{
	if (mm_has_notifiers(mm))
		pgremap_mmu_notifier_end(range);
}

/*
 * Move the one page at @src_addr, under the mmu-notifier range of its
 * source. -EAGAIN asks the caller to try the same page again.
 */
static int move_pages_pte(struct move_ctx *mc, pmd_t *dst_pmd,
			  pmd_t *src_pmd, unsigned long dst_addr,
			  unsigned long src_addr)
{
	struct pte_move pm = {
		.dst_addr = dst_addr, .src_addr = src_addr,
		.dst_pmd = dst_pmd, .src_pmd = src_pmd,
	};
	struct page_locks pl = {};
	struct anon_vma *moved_from = NULL;
	struct mmu_notifier_range range;
	enum step step;
	int err;

	pgremap_mmu_range_init(&range, mc->src_vma, mc->mm, src_addr,
			       src_addr + PAGE_SIZE);
	notifier_start(mc->mm, &range);
	do {
		err = move_one_pte(mc, &pm, &pl, &step);
		unmap_ptes(&pm);
	} while (!err && step == STEP_RETRY);

	/* Only a present page's move takes the anon_vma: it moved. */
	if (!err && pl.anon_vma) {
		moved_from = pl.anon_vma;
		atomic_inc(&moved_from->refcount);
	}
	release_page_locks(&pl);
	notifier_end(mc->mm, &range);
	if (moved_from)
		keep_for_grace(mc, moved_from);
	return err;
}

/* ---- a run of PTEs in one lock round ---------------------------------- */

/*
 * The per-page path above pays, for every page, a notifier range, two
 * PTE-table mappings, three PTL rounds, a folio reference, an anon_vma
 * reference and rwsem round trip, and a TLB flush: with other threads of
 * the process running, the flush is a shootdown IPI per page. The batch
 * path moves the entries of one src/dst PTE-table pair under one PTL
 * round and one anon_vma write lock, clears up to BATCH_FLUSH_MAX src
 * entries, flushes their range once, then fills dst.
 *
 * Lock order. The per-page path's order is folio lock -> anon_vma rwsem
 * -> PTLs. Here the PTLs are taken first and the folio lock and the
 * anon_vma rwsem only ever with trylock while they are held: a trylock
 * never waits, so no cycle can form, and lockdep adds no dependency for
 * a trylock. Whatever would have to wait (a contended folio or anon_vma,
 * a large folio to split, a swap or migration entry, a non-empty dst, a
 * src hole without ALLOW_SRC_HOLES, a folio of another anon_vma, a pin)
 * ends the batch just before that entry; the caller hands that one entry
 * to the per-page path, which sleeps or fails exactly as upstream does,
 * and batching resumes after it. So the errno and the moved prefix are
 * those of the per-page path.
 *
 * Ordering against other CPUs is the per-page path's: every src entry is
 * cleared and flushed before the page appears at dst, so no CPU writes
 * through a stale src translation once it is there; GUP-fast pins taken
 * before a clear are seen by the folio_maybe_dma_pinned() check after
 * the flush, and that entry goes back to src. Between clear and fill the
 * entries are invisible to every other kernel path: faults and zaps wait
 * for the PTLs; rmap walkers wait for the src anon_vma lock or, once a
 * placed folio is unlocked and names dst's anon_vma (whose root may
 * differ), for the dst PTL, both held until every chunk is flushed and
 * placed; users of the folio lock find it taken.
 *
 * Latency: the PTLs and the anon_vma root are given up between chunks
 * when someone waits for them or the CPU is wanted, as fork's
 * copy_pte_range() does; a partial run is a valid step.
 */

/*
 * Entries cleared before one flush. 32 stays under x86's ranged-flush
 * ceiling (tlb_single_page_flush_ceiling, 33): one flush invalidates just
 * those pages, where 64 would flush the whole mm on every CPU running it.
 * The shootdown IPI, the cost that matters with other threads running, is
 * paid once per 32 pages instead of once per page. 256 bytes of stack.
 */
#define BATCH_FLUSH_MAX 32

struct pte_batch {
	struct move_ctx *mc;
	struct pte_move pm;		/* both tables; addresses of entry 0 */
	unsigned long nr;		/* entries this step covers */
	struct anon_vma *anon_vma;	/* write-locked, referenced */
	pte_t cleared[BATCH_FLUSH_MAX];	/* src entries taken, not yet placed */
};

static unsigned long batch_src_addr(struct pte_batch *b, unsigned long i)
{
	return b->pm.src_addr + i * PAGE_SIZE;
}

static unsigned long batch_dst_addr(struct pte_batch *b, unsigned long i)
{
	return b->pm.dst_addr + i * PAGE_SIZE;
}

/*
 * The first folio fixes the batch's anon_vma: write-lock it (trylock: we
 * hold the PTLs, which nest inside it) and reference it. Every later
 * folio must belong to that same anon_vma. Called with @folio locked and
 * mapped by a src PTE, so its mapping is stable and its anon_vma alive:
 * it holds src_vma, which mmap_lock keeps, in its tree.
 */
static bool batch_lock_anon_vma(struct pte_batch *b, struct folio *folio)
{
	unsigned long mapping =
		(unsigned long)READ_ONCE(folio_page(folio, 0)->mapping);
	struct anon_vma *anon_vma;

	/* KSM or not anonymous: the per-page path refuses it. */
	if ((mapping & PAGE_MAPPING_FLAGS) != PAGE_MAPPING_ANON)
		return false;
	anon_vma = (struct anon_vma *)(mapping - PAGE_MAPPING_ANON);
	if (b->anon_vma)
		return anon_vma == b->anon_vma;
	if (!down_write_trylock(&anon_vma->root->rwsem))
		return false;
	if (WARN_ON_ONCE(!atomic_inc_not_zero(&anon_vma->refcount))) {
		anon_vma_unlock_write(anon_vma);
		return false;
	}
	b->anon_vma = anon_vma;
	return true;
}

/*
 * Take entry @i off src into *@slot if it can move without sleeping: a
 * hole (where allowed), a zero-page entry, or a small exclusive unpinned
 * anonymous folio, which is then left locked. False ends the batch here.
 */
static bool batch_take(struct pte_batch *b, unsigned long i, pte_t *slot)
{
	struct move_ctx *mc = b->mc;
	pte_t *src_pte = b->pm.src_pte + i;
	pte_t src = ptep_get(src_pte);
	struct folio *folio;

	if (!pte_none(ptep_get(b->pm.dst_pte + i)))
		return false;
	if (pte_none(src)) {
		*slot = src;
		return mc->mode & PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES;
	}
	if (!pte_present(src))
		return false;
	if (!is_zero_pfn(pte_pfn(src))) {
		folio = pgremap_vm_normal_folio(mc->src_vma,
						batch_src_addr(b, i), src);
		if (!folio || folio_test_large(folio) ||
		    folio_maybe_dma_pinned(folio) || !folio_trylock(folio))
			return false;
		/*
		 * With the folio locked: on 5.10 the counts behind
		 * exclusivity change under the page lock (swap-in by a
		 * process sharing the slot), not under our PTL.
		 */
		if (!pgremap_anon_exclusive(folio, src) ||
		    !pgremap_anon_exclusive_locked(folio, src) ||
		    !batch_lock_anon_vma(b, folio)) {
			folio_unlock(folio);
			return false;
		}
	}
	/* Not flushed yet: batch_place() flushes before dst is filled. */
	*slot = ptep_get_and_clear(mc->mm, batch_src_addr(b, i), src_pte);
	return true;
}

/* A taken entry that will not move goes back where it was. */
static void batch_untake(struct pte_batch *b, unsigned long i, pte_t src)
{
	if (pte_none(src))
		return;
	set_pte_at(b->mc->mm, batch_src_addr(b, i), b->pm.src_pte + i, src);
	if (!is_zero_pfn(pte_pfn(src)))
		folio_unlock(page_folio(pte_page(src)));
}

/* Fill dst with a taken entry. False: pinned meanwhile, left untouched. */
static bool batch_put(struct pte_batch *b, unsigned long i, pte_t src)
{
	struct move_ctx *mc = b->mc;
	unsigned long dst_addr = batch_dst_addr(b, i);
	pte_t *dst_pte = b->pm.dst_pte + i;
	struct folio *folio;

	if (pte_none(src))
		return true;		/* an allowed hole: nothing to move */
	if (is_zero_pfn(pte_pfn(src))) {
		set_pte_at(mc->mm, dst_addr, dst_pte, zero_pte(mc, dst_addr));
		return true;
	}
	folio = page_folio(pte_page(src));
	/* GUP-fast pinned it before its clear (see move_present_pte()). */
	if (folio_maybe_dma_pinned(folio))
		return false;
	move_anon_rmap(folio, mc->dst_vma, dst_addr);
	set_pte_at(mc->mm, dst_addr, dst_pte, moved_pte(mc, folio, src));
	folio_unlock(folio);
	return true;
}

/*
 * Flush the src range of the @n entries taken from @first on, then fill
 * dst with them. Returns how many moved; the first that could not, and
 * every one after it, goes back to src.
 */
static unsigned long batch_place(struct pte_batch *b, unsigned long first,
				 unsigned long n)
{
	struct move_ctx *mc = b->mc;
	unsigned long start = batch_src_addr(b, first);
	unsigned long end = start + n * PAGE_SIZE;
	unsigned long i, placed;

	for (i = 0; i < n && pte_none(b->cleared[i]); i++)
		;
	/* Only present entries were cleared: holes need no flush. */
	if (i < n) {
		pgremap_sym.flush_tlb_mm_range(mc->mm, start, end, PAGE_SHIFT,
					       false);
		secondary_tlb_flush(mc->mm, start, end);
	}
	for (i = 0; i < n && batch_put(b, first + i, b->cleared[i]); i++)
		;
	for (placed = i; i < n; i++)
		batch_untake(b, first + i, b->cleared[i]);
	return placed;
}

/* Whether to give the locks up between chunks (see above). */
static bool batch_should_break(struct pte_batch *b)
{
	return need_resched() || spin_needbreak(b->pm.src_ptl) ||
	       spin_needbreak(b->pm.dst_ptl) ||
	       (b->anon_vma && rwsem_is_contended(&b->anon_vma->root->rwsem));
}

/* Under both PTLs: move entries until one cannot be moved here. */
static unsigned long batch_run(struct pte_batch *b)
{
	unsigned long done = 0, n, taken, placed;

	while (done < b->nr) {
		if (done && batch_should_break(b))
			break;
		n = min_t(unsigned long, b->nr - done, BATCH_FLUSH_MAX);
		for (taken = 0; taken < n; taken++)
			if (!batch_take(b, done + taken, &b->cleared[taken]))
				break;
		placed = batch_place(b, done, taken);
		done += placed;
		if (placed < n)
			break;
	}
	return done;
}

/*
 * Without locks: how many leading entries the batch could take. It sizes
 * the notifier range, and 0 skips the batch, so that with secondary MMUs
 * attached (KVM, IOMMU SVA) a run of entries only the per-page path
 * handles (swap entries, say) does not pay for a 2 MiB invalidation each.
 * The locked pass decides; it never goes further. For a single entry
 * there is nothing to size, and the scan would cost as much as it saves.
 */
static unsigned long batch_scan(struct move_ctx *mc, struct pte_move *pm,
				unsigned long nr)
{
	bool holes = mc->mode & PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES;
	unsigned long i = 0;
	pte_t src;

	map_ptes(mc->mm, pm);
	for (; pm->src_pte && i < nr; i++) {
		if (!pte_none(ptep_get(pm->dst_pte + i)))
			break;
		src = ptep_get(pm->src_pte + i);
		if (pte_none(src) ? !holes : !pte_present(src))
			break;
	}
	unmap_ptes(pm);
	return i;
}

/*
 * Move up to @nr entries from @src_addr, all in one src and one dst PTE
 * table, in one lock round. Returns how many moved: 0 leaves the first
 * entry to the per-page path.
 */
static unsigned long move_ptes_batched(struct move_ctx *mc, pmd_t *dst_pmd,
				       pmd_t *src_pmd, unsigned long dst_addr,
				       unsigned long src_addr, unsigned long nr)
{
	struct pte_batch b = {
		.mc = mc,
		.pm = { .dst_addr = dst_addr, .src_addr = src_addr,
			.dst_pmd = dst_pmd, .src_pmd = src_pmd },
	};
	struct mmu_notifier_range range;
	unsigned long done = 0;

	b.nr = nr > 1 ? batch_scan(mc, &b.pm, nr) : nr;
	if (!b.nr)
		return 0;
	pgremap_mmu_range_init(&range, mc->src_vma, mc->mm, src_addr,
			       src_addr + b.nr * PAGE_SIZE);
	notifier_start(mc->mm, &range);
	if (map_ptes(mc->mm, &b.pm)) {
		double_lock(b.pm.dst_ptl, b.pm.src_ptl);
		/* Still the tables we mapped: else leave it to the slow path. */
		if (pmd_same(READ_ONCE(*dst_pmd), b.pm.dst_pmdval) &&
		    pmd_same(READ_ONCE(*src_pmd), b.pm.src_pmdval))
			done = batch_run(&b);
		double_unlock(b.pm.dst_ptl, b.pm.src_ptl);
	}
	unmap_ptes(&b.pm);
	/* The outer lock, so released after the PTLs. */
	if (b.anon_vma)
		anon_vma_unlock_write(b.anon_vma);
	notifier_end(mc->mm, &range);
	if (b.anon_vma)
		keep_for_grace(mc, b.anon_vma);
	return done;
}

/* ---- huge PMDs -------------------------------------------------------- */

/* pmd_trans_huge_lock(), through the resolved slow path. */
static spinlock_t *huge_pmd_lock(pmd_t *pmd, struct vm_area_struct *vma)
{
	pmd_t val = READ_ONCE(*pmd);

	if (is_swap_pmd(val) || pmd_trans_huge(val) || pmd_devmap(val))
		return pgremap_sym.__pmd_trans_huge_lock(pmd, vma);
	return NULL;
}

static bool is_huge_zero(pmd_t pmd)
{
	return pmd_present(pmd) &&
	       READ_ONCE(*pgremap_sym.huge_zero_pfn) == pmd_pfn(pmd);
}

/*
 * Move a whole PMD-mapped THP (or the huge zero PMD), under both PMD
 * locks, with the deposited page table following it. The folio and
 * anon_vma locks are taken as for a small page, in the same order.
 */
static int move_whole_pmd_locked(struct move_ctx *mc, pmd_t *dst_pmd,
				 pmd_t *src_pmd, pmd_t src_pmdval,
				 pmd_t dst_pmdval, unsigned long dst_addr,
				 unsigned long src_addr, struct folio *folio)
{
	spinlock_t *src_ptl = pmd_lockptr(mc->mm, src_pmd);
	spinlock_t *dst_ptl = pmd_lockptr(mc->mm, dst_pmd);
	pgtable_t pgtable;
	pmd_t new;
	int err = 0;

	double_lock(src_ptl, dst_ptl);
	if (!pmd_same(*src_pmd, src_pmdval) ||
	    !pmd_same(*dst_pmd, dst_pmdval)) {
		err = -EAGAIN;
		goto out;
	}
	if (folio) {
		if (folio_maybe_dma_pinned(folio) ||
		    !pgremap_pmd_exclusive(folio_page(folio, 0), src_pmdval) ||
		    WARN_ON_ONCE(!folio_test_head(folio) ||
				 !folio_test_anon(folio))) {
			err = -EBUSY;
			goto out;
		}
		src_pmdval = pgremap_sym.pmdp_huge_clear_flush(mc->src_vma,
							       src_addr,
							       src_pmd);
		secondary_tlb_flush(mc->mm, src_addr,
				    src_addr + HPAGE_PMD_SIZE);
		/* Pinned by GUP-fast before the clear: put it back. */
		if (folio_maybe_dma_pinned(folio)) {
			set_pmd_at(mc->mm, src_addr, src_pmd, src_pmdval);
			err = -EBUSY;
			goto out;
		}
		move_anon_rmap(folio, mc->dst_vma, dst_addr);
		new = mk_huge_pmd(folio_page(folio, 0),
				  mc->dst_vma->vm_page_prot);
		/* As mremap() does, the moved entry counts as dirty. */
		new = pmd_mkdirty(new);
		/* See PGREMAP_MOVE_MAKES_WRITABLE in compat.h. */
		if (PGREMAP_MOVE_MAKES_WRITABLE || pmd_write(src_pmdval))
			new = pgremap_pmd_mkwrite(new);
	} else {
		src_pmdval = pgremap_sym.pmdp_huge_clear_flush(mc->src_vma,
							       src_addr,
							       src_pmd);
		secondary_tlb_flush(mc->mm, src_addr,
				    src_addr + HPAGE_PMD_SIZE);
		new = mk_huge_pmd(pmd_page(src_pmdval),
				  mc->dst_vma->vm_page_prot);
	}
	set_pmd_at(mc->mm, dst_addr, dst_pmd, new);
	/* The table a later split of this PMD will use moves with it. */
	pgtable = pgremap_sym.pgtable_trans_huge_withdraw(mc->mm, src_pmd);
	pgremap_sym.pgtable_trans_huge_deposit(mc->mm, dst_pmd, pgtable);
out:
	double_unlock(src_ptl, dst_ptl);
	return err;
}

/*
 * move_pages_huge_pmd(): called with the src PMD lock (@ptl) held, on an
 * aligned 2 MiB step whose dst PMD was none; returns with it released.
 */
static int move_whole_pmd(struct move_ctx *mc, pmd_t *dst_pmd,
			  pmd_t *src_pmd, pmd_t dst_pmdval,
			  unsigned long dst_addr, unsigned long src_addr,
			  spinlock_t *ptl)
{
	pmd_t src_pmdval = *src_pmd;
	struct mmu_notifier_range range;
	struct anon_vma *anon_vma = NULL;
	struct folio *folio = NULL;
	int err;

	if (!pmd_trans_huge(src_pmdval)) {
		spin_unlock(ptl);
		if (is_pmd_migration_entry(src_pmdval)) {
			pgremap_sym.pmd_migration_entry_wait(mc->mm, src_pmd);
			return -EAGAIN;
		}
		return -ENOENT;
	}
	if (!is_huge_zero(src_pmdval)) {
		if (!pgremap_pmd_exclusive(pmd_page(src_pmdval), src_pmdval)) {
			spin_unlock(ptl);
			return -EBUSY;
		}
		folio = page_folio(pmd_page(src_pmdval));
		folio_get(folio);
	}
	spin_unlock(ptl);

	pgremap_mmu_range_init(&range, mc->src_vma, mc->mm, src_addr,
			       src_addr + HPAGE_PMD_SIZE);
	notifier_start(mc->mm, &range);
	if (folio) {
		/*
		 * Sleeping on the lock with a reference is fine here: the
		 * folio is moved whole, never split.
		 */
		folio_lock(folio);
		/* Splits walk the anon_vma without the folio lock. */
		anon_vma = pgremap_folio_get_anon_vma(folio);
		if (!anon_vma) {
			err = -EAGAIN;
			goto unlock_folio;
		}
		anon_vma_lock_write(anon_vma);
	}
	err = move_whole_pmd_locked(mc, dst_pmd, src_pmd, src_pmdval,
				    dst_pmdval, dst_addr, src_addr, folio);
	if (anon_vma)
		anon_vma_unlock_write(anon_vma);
unlock_folio:
	if (folio)
		folio_unlock(folio);
	notifier_end(mc->mm, &range);
	if (folio)
		folio_put(folio);
	if (anon_vma) {
		if (err)
			put_anon_vma_ref(anon_vma);
		else
			keep_for_grace(mc, anon_vma);
	}
	return err;
}

/* Whether this step must split the src THP rather than move it whole. */
static bool move_splits_huge_pmd(struct move_ctx *mc, unsigned long dst_addr,
				 unsigned long src_addr, pmd_t dst_pmdval)
{
	return (src_addr & ~HPAGE_PMD_MASK) || (dst_addr & ~HPAGE_PMD_MASK) ||
	       mc->src_end - src_addr < HPAGE_PMD_SIZE ||
	       !pmd_none(dst_pmdval);
}

/*
 * A huge PMD at src, locked by @ptl, which this returns unlocked. Refuse
 * first if it is shared, as a split would not make it movable.
 */
static int split_src_pmd(struct move_ctx *mc, pmd_t *src_pmd,
			 unsigned long src_addr, spinlock_t *ptl)
{
	pmd_t val = *src_pmd;

	if (pmd_present(val) && !is_huge_zero(val) &&
	    !pgremap_pmd_exclusive(pmd_page(val), val)) {
		spin_unlock(ptl);
		return -EBUSY;
	}
	spin_unlock(ptl);
	pgremap_sym.__split_huge_pmd(mc->src_vma, src_pmd, src_addr, false,
				     NULL);
	return -EAGAIN;		/* now move the PTEs */
}

static int move_huge_step(struct move_ctx *mc, pmd_t *dst_pmd,
			  pmd_t *src_pmd, unsigned long dst_addr,
			  unsigned long src_addr, spinlock_t *ptl,
			  unsigned long *step)
{
	pmd_t dst_pmdval = READ_ONCE(*dst_pmd);
	pmd_t src_pmdval = *src_pmd;

	/*
	 * Not for swap/migration PMDs: on x86-64 their inverted offset sets
	 * the devmap bit (upstream 6.12 returns -ENOENT for them here).
	 */
	if (!is_swap_pmd(src_pmdval) && pmd_devmap(src_pmdval)) {
		spin_unlock(ptl);
		return -ENOENT;
	}
	if (move_splits_huge_pmd(mc, dst_addr, src_addr, dst_pmdval))
		return split_src_pmd(mc, src_pmd, src_addr, ptl);
	*step = HPAGE_PMD_SIZE;
	return move_whole_pmd(mc, dst_pmd, src_pmd, dst_pmdval, dst_addr,
			      src_addr, ptl);
}

/* ---- the range -------------------------------------------------------- */

/* Find the PMDs for one step; allocates what the move needs at dst. */
static int find_pmds(struct move_ctx *mc, unsigned long dst_addr,
		     unsigned long src_addr, pmd_t **dst_pmd, pmd_t **src_pmd)
{
	*src_pmd = find_pmd(mc->mm, src_addr);
	if (!*src_pmd) {
		if (!(mc->mode & PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES))
			return -ENOENT;
		*src_pmd = alloc_pmd(mc->mm, src_addr);
		if (!*src_pmd)
			return -ENOMEM;
	}
	*dst_pmd = alloc_pmd(mc->mm, dst_addr);
	if (!*dst_pmd)
		return -ENOMEM;
	/* Never overwrite a huge PMD at dst. */
	if (pmd_trans_huge(READ_ONCE(**dst_pmd)))
		return -EEXIST;
	return 0;
}

/* Entries from here to the end of the range, of either PTE table. */
static unsigned long batch_entries(struct move_ctx *mc, unsigned long dst_addr,
				   unsigned long src_addr)
{
	unsigned long end = mc->src_end - src_addr;

	end = min(end, pmd_addr_end(src_addr, ULONG_MAX) - src_addr);
	end = min(end, pmd_addr_end(dst_addr, ULONG_MAX) - dst_addr);
	return end >> PAGE_SHIFT;
}

/*
 * Move what is at @src_addr: a run of PTEs, one page, or one huge PMD;
 * *@step says how much.
 */
static int move_step(struct move_ctx *mc, unsigned long dst_addr,
		     unsigned long src_addr, unsigned long *step)
{
	pmd_t *dst_pmd, *src_pmd;
	spinlock_t *ptl;	/* of a huge src PMD */
	unsigned long nr;
	int err;

	*step = PAGE_SIZE;
	err = find_pmds(mc, dst_addr, src_addr, &dst_pmd, &src_pmd);
	if (err)
		return err;

	ptl = huge_pmd_lock(src_pmd, mc->src_vma);
	if (ptl)
		return move_huge_step(mc, dst_pmd, src_pmd, dst_addr,
				      src_addr, ptl, step);

	if (pmd_none(READ_ONCE(*src_pmd))) {
		if (!(mc->mode & PGREMAP_MOVE_MODE_ALLOW_SRC_HOLES))
			return -ENOENT;
		if (alloc_pte_table(mc->mm, src_pmd))
			return -ENOMEM;
	}
	if (alloc_pte_table(mc->mm, dst_pmd))
		return -ENOMEM;
	nr = batch_entries(mc, dst_addr, src_addr);
	nr = move_ptes_batched(mc, dst_pmd, src_pmd, dst_addr, src_addr, nr);
	if (nr) {
		*step = nr * PAGE_SIZE;
		return 0;
	}
	return move_pages_pte(mc, dst_pmd, src_pmd, dst_addr, src_addr);
}

static bool vma_move_compatible(struct vm_area_struct *vma)
{
	return vma_is_anonymous(vma) && !(vma->vm_flags &
		(VM_SHARED | VM_PFNMAP | VM_IO | VM_HUGETLB | VM_MIXEDMAP |
		 VM_SHADOW_STACK));
}

/* Both ranges inside one VMA each, VMAs that a page may move between. */
static int validate_vmas(struct move_ctx *mc, unsigned long dst,
			 unsigned long src, unsigned long len)
{
	struct vm_area_struct *dst_vma = mc->dst_vma, *src_vma = mc->src_vma;

	if (src + len > src_vma->vm_end || dst + len > dst_vma->vm_end)
		return -EINVAL;
	if (!vma_move_compatible(src_vma) || !vma_move_compatible(dst_vma))
		return -EINVAL;
	/* Same access and protection, so the PTE keeps its meaning. */
	if ((src_vma->vm_flags & VM_ACCESS_FLAGS) !=
	    (dst_vma->vm_flags & VM_ACCESS_FLAGS) ||
	    pgprot_val(src_vma->vm_page_prot) !=
	    pgprot_val(dst_vma->vm_page_prot))
		return -EINVAL;
	/* mlock accounting is per VMA: both locked or neither. */
	if ((src_vma->vm_flags & VM_LOCKED) != (dst_vma->vm_flags & VM_LOCKED))
		return -EINVAL;
	/* Access flags are equal: checking src checks both. */
	if (!(src_vma->vm_flags & VM_WRITE))
		return -EINVAL;
	return 0;
}

static int lookup_vmas(struct move_ctx *mc, unsigned long dst,
		       unsigned long src, unsigned long len)
{
	int err;

	mc->dst_vma = vma_lookup(mc->mm, dst);
	mc->src_vma = vma_lookup(mc->mm, src);
	if (!mc->dst_vma || !mc->src_vma)
		return -ENOENT;
	err = validate_vmas(mc, dst, src, len);
	if (err)
		return err;
	/* Moved folios will belong to dst's anon_vma: make sure it has one. */
	if (unlikely(!mc->dst_vma->anon_vma) &&
	    pgremap_sym.__anon_vma_prepare(mc->dst_vma))
		return -ENOMEM;
	return 0;
}

/*
 * How long a step may keep answering -EAGAIN before the call gives up on
 * it. A lost race (an entry changed between read and lock) is over in
 * microseconds; an extra reference that makes split_folio() fail is
 * usually gone in milliseconds (LRU isolation by reclaim or compaction),
 * but may last as long as its holder likes (a pipe holding a page given
 * to it by vmsplice()). A second, even under TCG, is long enough for the
 * first kind and bounds the second.
 */
#define PGREMAP_STUCK_JIFFIES	HZ

/*
 * A step answered -EAGAIN at dst/src with len bytes left. Upstream
 * retries at once, forever, holding mmap_lock; we cannot, for two
 * reasons found by the stress test and its reproducer:
 *
 * 1. The reference that makes split_folio() fail may belong to a task
 *    that is waiting for our mmap_lock. ksmd holds a reference on the
 *    page it scans while it takes mmap_read_lock() to merge it (as do
 *    GUP, on the pages it has collected, when it retakes the lock after
 *    a retried fault, and move_pages(2) on the folios it has isolated);
 *    a down_read() queues behind a waiting writer (munmap, mmap,
 *    mprotect of another thread), and the writer waits for our read
 *    lock: a cycle, with us spinning. So when a writer waits, we let
 *    it go first: drop mmap_lock, take it again and look the VMAs up
 *    again, as they may have changed while it was dropped (the move then
 *    stops with the error a new call would get, and what moved so far).
 * 2. The reference may never go away on its own (vmsplice()), and even
 *    with nobody waiting a call must not spin in the kernel for good.
 *    After PGREMAP_STUCK_JIFFIES without progress the call stops: -EBUSY
 *    if a large folio could not be split (documented: not movable while
 *    referenced elsewhere), else -EAGAIN with the bytes moved so far.
 *    The bound is wall-clock time, waits for the lock included: with
 *    writers queueing all the time, counting only our own retries let a
 *    call last 8 s on 5.10, and a compacting GC wants its latency
 *    bounded. A wait never ends the call by itself, though: the step is
 *    always retried once after the lock is taken back.
 *    (While the lock is dropped, khugepaged may collapse a PMD we had
 *    split, and the step splits it again: that too is bounded.)
 *
 * Returns 0 to retry the step, or the error that ends the call.
 */
static int move_backoff(struct move_ctx *mc, unsigned long dst,
			unsigned long src, unsigned long len)
{
	if (!mc->stuck_since)
		mc->stuck_since = jiffies ? jiffies : 1;
	else if (time_after(jiffies, mc->stuck_since + PGREMAP_STUCK_JIFFIES))
		return mc->split_failed ? -EBUSY : -EAGAIN;
	if (!mmap_lock_is_contended(mc->mm))
		return 0;
	mmap_read_unlock(mc->mm);
	/*
	 * Our down_read() may still take the lock back before the woken
	 * writer runs; it stops doing so once the writer has waited long
	 * enough to set the rwsem's handoff bit (a jiffy or so), so this
	 * costs at most a few more rounds.
	 */
	cond_resched();
	if (mmap_read_lock_killable(mc->mm)) {
		mc->unlocked = true;
		return -EINTR;
	}
	/* 0: the step is retried at least once after a wait, bound or not. */
	return lookup_vmas(mc, dst, src, len);
}

/* Bytes moved if any, else the error. Never 0. */
static ssize_t move_pages(struct mm_struct *mm, unsigned long dst,
			  unsigned long src, unsigned long len, u64 mode)
{
	struct move_ctx mc = { .mm = mm, .mode = mode, .src_end = src + len };
	unsigned long done = 0, step;
	int err;

	mmap_read_lock(mm);
	err = lookup_vmas(&mc, dst, src, len);
	while (!err && done < len) {
		mc.split_failed = false;
		err = move_step(&mc, dst + done, src + done, &step);
		/* Counted before a signal ends the loop: it did move. */
		if (!err) {
			done += step;
			mc.stuck_since = 0;
		}
		cond_resched();
		if (fatal_signal_pending(current)) {
			/* Do not override an error. */
			if (!err || err == -EAGAIN)
				err = -EINTR;
			break;
		}
		if (err == -EAGAIN)	/* the same page again, or stop */
			err = move_backoff(&mc, dst + done, src + done,
					   len - done);
	}
	if (mc.graced)
		put_anon_vma_after_grace(mc.graced);
	if (!mc.unlocked)
		mmap_read_unlock(mm);
	return done ? done : err;
}

/* validate_range() of fs/userfaultfd.c, plus: the ranges may not overlap. */
static int validate_args(const struct pgremap_move *m,
			 unsigned long task_size)
{
	if (m->mode & ~PGREMAP_MOVE_MODES_ALL)
		return -EINVAL;
	if ((m->dst | m->src | m->len) & ~PAGE_MASK || !m->len)
		return -EINVAL;
	if (m->dst < READ_ONCE(*pgremap_sym.mmap_min_addr) ||
	    m->src < READ_ONCE(*pgremap_sym.mmap_min_addr))
		return -EINVAL;
	if (m->dst >= task_size || m->len > task_size - m->dst ||
	    m->src >= task_size || m->len > task_size - m->src)
		return -EINVAL;
	if (m->src < m->dst + m->len && m->dst < m->src + m->len)
		return -EINVAL;
	return 0;
}

long pgremap_ioctl_move(struct pgremap_move __user *umove)
{
	struct mm_struct *mm = current->mm;
	struct pgremap_move m;
	ssize_t ret;

	/* Not the output field: a caller may leave it unset. */
	if (copy_from_user(&m, umove, offsetof(struct pgremap_move, move)))
		return -EFAULT;
	ret = validate_args(&m, mm->task_size);
	if (ret)
		return ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	ret = move_pages(mm, m.dst, m.src, m.len, m.mode);
	mmput(mm);

	if (put_user(ret, &umove->move))
		return -EFAULT;
	if (ret < 0)
		return ret;
	return ret == m.len ? 0 : -EAGAIN;
}
