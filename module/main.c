// SPDX-License-Identifier: GPL-2.0
/*
 * pgremap: move private anonymous pages inside the caller's address space
 * by moving page-table entries, like the in-tree UFFDIO_MOVE (6.8+), on
 * kernels that lack it.
 *
 * Load order, each step undone in reverse on failure:
 *   1. the running kernel must be the exact build the module was compiled
 *      against, since resolved symbols carry no prototype check;
 *   2. every unexported symbol must resolve (symbols.c);
 *   3. the workqueue of deferred anon_vma releases (move.c);
 *   4. only then does /dev/pgremap appear.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/utsname.h>

#include <uapi/linux/pgremap.h>

#include "compat.h"
#include "pgremap.h"
#include "symbols.h"

static ushort dev_mode = 0666;
module_param(dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode,
		 "Permissions of /dev/pgremap (default 0666: the device only acts on the caller's own memory)");

/*
 * Test-only parameters: each makes a load fail (or not) the way a real
 * problem would, so the refusal paths are exercised on kernels that do
 * not have the problem.
 */
static char *test_missing_symbol;
module_param(test_missing_symbol, charp, 0);
MODULE_PARM_DESC(test_missing_symbol,
		 "Test only: one more kernel function that must resolve at load");

static bool test_assume_ibt;
module_param(test_assume_ibt, bool, 0);
MODULE_PARM_DESC(test_assume_ibt,
		 "Test only: behave as if the CPU enforced IBT");

static char *test_expect_version;
module_param(test_expect_version, charp, 0);
MODULE_PARM_DESC(test_expect_version,
		 "Test only: kernel version string (uname -v) to expect instead of the build's");

/*
 * Resolved symbols are called with the prototypes of the headers we were
 * built against. vermagic only compares the release name, which Debian
 * keeps across uploads with different internals, so compare the full
 * build version string too.
 */
static int check_kernel_build(void)
{
	const char *built = test_expect_version ?: UTS_VERSION;
	const char *running = init_utsname()->version;

	if (strcmp(built, running)) {
		pr_err("refusing to load: built for kernel \"%s\" but running \"%s\": rebuild pgremap (dkms) for this kernel\n",
		       built, running);
		return -ENOEXEC;
	}
	return 0;
}

static int __init pgremap_init(void)
{
	int err;

	if (dev_mode & ~0777) {
		pr_err("refusing to load: dev_mode %#o is not a permission mode\n",
		       dev_mode);
		return -EINVAL;
	}

	err = check_kernel_build();
	if (err)
		return err;

	err = pgremap_symbols_init(test_missing_symbol, test_assume_ibt);
	if (err)
		return err;

	err = pgremap_move_init();
	if (err)
		return err;

	err = pgremap_dev_register(dev_mode);
	if (err) {
		pr_err("refusing to load: cannot register /dev/%s (%d)\n",
		       PGREMAP_DEVICE_NAME, err);
		goto err_move;
	}

	pr_info("loaded: version %s, API %#llx, %zu kernel symbols resolved, /dev/%s mode %#o\n",
		PGREMAP_VERSION, PGREMAP_API, pgremap_symbols_count(),
		PGREMAP_DEVICE_NAME, dev_mode);
	return 0;

err_move:
	pgremap_move_exit();
	return err;
}

static void __exit pgremap_exit(void)
{
	pgremap_dev_unregister();
	pgremap_move_exit();
	pr_info("unloaded\n");
}

module_init(pgremap_init);
module_exit(pgremap_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The pgremap developers");
MODULE_DESCRIPTION("Move private anonymous pages by moving page-table entries (UFFDIO_MOVE for older kernels)");
MODULE_VERSION(PGREMAP_VERSION);
