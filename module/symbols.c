// SPDX-License-Identifier: GPL-2.0
/*
 * Resolution of unexported kernel symbols, once, at module load.
 *
 * kallsyms_lookup_name() itself is not exported since 5.7. A kprobe on it
 * tells its address without calling anything; from then on it is called
 * through a pointer. Every symbol of the table is looked up into a local
 * copy, which is committed to pgremap_sym (read-only after init) only when
 * all of them were found and pass the checks below, so the module never
 * runs half-resolved.
 *
 * Indirect calls and IBT: on a kernel built with CONFIG_X86_KERNEL_IBT the
 * boot code overwrites ("seals") the ENDBR instruction of every function
 * whose address is never taken inside the kernel, which is most of what we
 * call here. On a CPU that enforces IBT an indirect call to a function
 * without ENDBR raises #CP and the kernel BUG()s. So when IBT is enforced,
 * every function is checked for a live ENDBR before it is ever called, and
 * the module refuses to load if one is missing. The kernel's is_endbr()
 * cannot be used for that: it deliberately also matches the poison that
 * replaced a sealed ENDBR.
 */
#include <linux/kprobes.h>
#include <linux/stddef.h>
#include <linux/string.h>
#include <linux/stringify.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#ifdef CONFIG_X86_KERNEL_IBT
#include <asm/ibt.h>	/* 5.18+; IBT kernels have it */
#endif

#include "symbols.h"

struct pgremap_syms pgremap_sym __ro_after_init;

struct pgremap_symbol {
	const char *name;
	size_t offset;		/* of the pointer in struct pgremap_syms */
	bool is_func;		/* text, to be called; else data */
};

#define SYM_FUNC(field, sym) \
	{ sym, offsetof(struct pgremap_syms, field), true }
#define SYM_DATA(field, sym) \
	{ sym, offsetof(struct pgremap_syms, field), false }

static const struct pgremap_symbol pgremap_symbols[] = {
#ifndef __PAGETABLE_P4D_FOLDED
	/* Only with a p4d level (5-level capable builds; 5.10's is not). */
	SYM_FUNC(__p4d_alloc, "__p4d_alloc"),
#endif
	SYM_FUNC(__pud_alloc, "__pud_alloc"),
	SYM_FUNC(__pmd_alloc, "__pmd_alloc"),
	SYM_FUNC(__pte_alloc, "__pte_alloc"),
	SYM_FUNC(__anon_vma_prepare, "__anon_vma_prepare"),
	SYM_FUNC(__pmd_trans_huge_lock, "__pmd_trans_huge_lock"),
	SYM_FUNC(__split_huge_pmd, "__split_huge_pmd"),
	SYM_FUNC(split_huge_page, PGREMAP_SPLIT_HUGE_PAGE_SYM),
	SYM_FUNC(pgtable_trans_huge_withdraw, "pgtable_trans_huge_withdraw"),
	SYM_FUNC(pgtable_trans_huge_deposit, "pgtable_trans_huge_deposit"),
	SYM_DATA(huge_zero_pfn, "huge_zero_pfn"),
	SYM_FUNC(ptep_clear_flush, "ptep_clear_flush"),
	SYM_FUNC(pmdp_huge_clear_flush, "pmdp_huge_clear_flush"),
	SYM_FUNC(flush_tlb_mm_range, "flush_tlb_mm_range"),
	SYM_FUNC(__mmu_notifier_invalidate_range_start, "__mmu_notifier_invalidate_range_start"),
#ifdef HAVE_MMU_NOTIFIER_INVALIDATE_RANGE
	SYM_FUNC(__mmu_notifier_invalidate_range,
		 "__mmu_notifier_invalidate_range"),
#endif
	SYM_FUNC(__mmu_notifier_invalidate_range_end, "__mmu_notifier_invalidate_range_end"),
	SYM_FUNC(vm_normal, __stringify(PGREMAP_VM_NORMAL)),
	SYM_FUNC(get_anon_vma, __stringify(PGREMAP_GET_ANON_VMA)),
	SYM_FUNC(__put_anon_vma, "__put_anon_vma"),
#ifndef HAVE_PAGE_ANON_EXCLUSIVE
	SYM_FUNC(page_swapcount, "page_swapcount"),
	SYM_FUNC(total_mapcount, "total_mapcount"),
#endif
	SYM_FUNC(migration_entry_wait, "migration_entry_wait"),
	SYM_FUNC(pmd_migration_entry_wait, "pmd_migration_entry_wait"),
	SYM_FUNC(get_swap_device, "get_swap_device"),
	SYM_DATA(swapper_spaces, "swapper_spaces"),
	SYM_DATA(mmap_min_addr, "mmap_min_addr"),
};

typedef unsigned long (*kallsyms_lookup_name_t)(const char *name);

/* What a lookup run found; committed to pgremap_sym only if all is well. */
struct resolver {
	kallsyms_lookup_name_t lookup;
	unsigned long stext, etext;	/* bounds of the core kernel text */
	bool ibt;			/* IBT enforced (or assumed) */
	bool ibt_assumed;		/* ... only because a test said so */
	int missing;			/* not found, or of the wrong kind */
	int sealed;			/* functions with no live ENDBR */
};

#ifdef CONFIG_X86_KERNEL_IBT
static bool ibt_enforced(bool assume)
{
	return assume || cpu_feature_enabled(X86_FEATURE_IBT);
}

static bool has_live_endbr(unsigned long addr)
{
	u32 insn;

	if (copy_from_kernel_nofault(&insn, (void *)addr, sizeof(insn)))
		return false;
	return insn == gen_endbr();
}

/*
 * A kprobe on a function entry is placed after its ENDBR, live or sealed
 * (see arch_adjust_kprobe_addr()); step back to the real entry.
 */
static unsigned long kprobe_entry(unsigned long addr)
{
	u32 insn;

	if (copy_from_kernel_nofault(&insn, (void *)(addr - 4), sizeof(insn)))
		return addr;
	if (insn == gen_endbr() || insn == gen_endbr_poison())
		return addr - 4;
	return addr;
}
#else
static bool ibt_enforced(bool assume)
{
	if (assume)
		pr_info("test_assume_ibt ignored: kernel built without CONFIG_X86_KERNEL_IBT\n");
	return false;
}

static bool has_live_endbr(unsigned long addr)
{
	return true;
}

static unsigned long kprobe_entry(unsigned long addr)
{
	return addr;
}
#endif

static void refuse_ibt(const struct resolver *r, const char *name,
		       unsigned long addr)
{
	pr_err("refusing to load: %s and %s at %pS has no live ENDBR (sealed at boot): calling it through a pointer would crash the kernel\n",
	       r->ibt_assumed ? "IBT is assumed enforced (test_assume_ibt)" :
	       "the CPU enforces IBT", name, (void *)addr);
}

static int find_kallsyms_lookup_name(struct resolver *r)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long addr;
	int err;

	err = register_kprobe(&kp);
	if (err) {
		pr_err("refusing to load: cannot locate kallsyms_lookup_name: register_kprobe() failed (%d); pgremap needs CONFIG_KPROBES\n",
		       err);
		return err;
	}
	addr = kprobe_entry((unsigned long)kp.addr);
	unregister_kprobe(&kp);

	if (r->ibt && !has_live_endbr(addr)) {
		refuse_ibt(r, "kallsyms_lookup_name", addr);
		pr_err("%s, or boot with ibt=off\n", PGREMAP_INTREE_HINT);
		return -EOPNOTSUPP;
	}
	r->lookup = (kallsyms_lookup_name_t)addr;

	/* The entry we computed must be what kallsyms itself reports. */
	if (r->lookup("kallsyms_lookup_name") != addr) {
		pr_err("refusing to load: kallsyms_lookup_name found at %pS but kallsyms disagrees\n",
		       (void *)addr);
		return -ENOENT;
	}
	return 0;
}

static bool in_kernel_text(const struct resolver *r, unsigned long addr)
{
	return addr >= r->stext && addr < r->etext;
}

/* Look one symbol up and check it is of the kind the table expects. */
static unsigned long resolve_one(struct resolver *r, const char *name,
				 bool is_func)
{
	unsigned long addr = r->lookup(name);

	if (!addr) {
		pr_err("kernel symbol '%s' not found\n", name);
		r->missing++;
		return 0;
	}
	if (in_kernel_text(r, addr) != is_func) {
		pr_err("kernel symbol '%s' at %pS is not %s\n", name,
		       (void *)addr, is_func ? "a function" : "data");
		r->missing++;
		return 0;
	}
	if (is_func && r->ibt && !has_live_endbr(addr)) {
		refuse_ibt(r, name, addr);
		r->sealed++;
		return 0;
	}
	return addr;
}

static int resolve_text_bounds(struct resolver *r)
{
	r->stext = r->lookup("_stext");
	r->etext = r->lookup("_etext");
	if (!r->stext || r->etext <= r->stext) {
		pr_err("refusing to load: kernel text bounds _stext/_etext not found\n");
		return -ENOENT;
	}
	return 0;
}

/**
 * pgremap_symbols_init - resolve every symbol of the table into pgremap_sym
 * @test_missing: test only: one more function name that must resolve
 * @test_assume_ibt: test only: behave as if the CPU enforced IBT
 *
 * Return: 0 with pgremap_sym complete; -ENOENT if a symbol is missing or
 * of the wrong kind; -EOPNOTSUPP if IBT forbids calling one; or the error
 * of register_kprobe(). Each problem is logged by name.
 */
int pgremap_symbols_init(const char *test_missing, bool test_assume_ibt)
{
	struct resolver r = {
		.ibt = ibt_enforced(test_assume_ibt),
		.ibt_assumed = test_assume_ibt,
	};
	struct pgremap_syms syms;
	size_t i;
	int err;

	err = find_kallsyms_lookup_name(&r);
	if (err)
		return err;
	err = resolve_text_bounds(&r);
	if (err)
		return err;

	memset(&syms, 0, sizeof(syms));
	for (i = 0; i < ARRAY_SIZE(pgremap_symbols); i++) {
		const struct pgremap_symbol *s = &pgremap_symbols[i];
		unsigned long addr = resolve_one(&r, s->name, s->is_func);

		memcpy((char *)&syms + s->offset, &addr, sizeof(addr));
	}
	if (test_missing && *test_missing)
		resolve_one(&r, test_missing, true);

	if (r.missing) {
		pr_err("refusing to load: %d kernel symbol(s) could not be resolved\n",
		       r.missing);
		return -ENOENT;
	}
	if (r.sealed) {
		pr_err("%s, or boot with ibt=off\n", PGREMAP_INTREE_HINT);
		return -EOPNOTSUPP;
	}

	pgremap_sym = syms;
	pr_debug("resolved %zu kernel symbols\n", ARRAY_SIZE(pgremap_symbols));
	return 0;
}

size_t pgremap_symbols_count(void)
{
	return ARRAY_SIZE(pgremap_symbols);
}
