// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/pgremap: the misc device and its ioctl dispatch.
 *
 * Who may open it: every ioctl acts on current->mm, the address space of
 * the calling process, and only on private anonymous memory that the
 * caller could already read and write. It grants nothing mremap() does not
 * grant, so by default any user may open the device (mode 0666, module
 * parameter dev_mode). The file keeps no reference to the opener's mm: a
 * descriptor inherited over fork() or passed with SCM_RIGHTS lets its new
 * holder move its own pages, never the opener's.
 *
 * The open file pins the module (fops.owner): while any descriptor is open
 * delete_module(2) fails with EAGAIN and rmmod says the module is in use.
 */
#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <uapi/linux/pgremap.h>

#include "pgremap.h"

/* Ioctls served, as reported in pgremap_api.ioctls. */
#define PGREMAP_IOCTLS_ALL	(BIT_ULL(_PGREMAP_API) | BIT_ULL(_PGREMAP_MOVE))

static long pgremap_ioctl_api(struct pgremap_api __user *uapi)
{
	struct pgremap_api api;
	long ret = 0;

	if (copy_from_user(&api, uapi, sizeof(api)))
		return -EFAULT;

	/*
	 * Unlike UFFDIO_API, a refusal still tells the caller what the
	 * module speaks, so it can adapt and retry.
	 */
	if (api.api != PGREMAP_API || api.features & ~PGREMAP_FEATURES_ALL)
		ret = -EINVAL;

	api.api = PGREMAP_API;
	api.features = PGREMAP_FEATURES_ALL;
	api.ioctls = ret ? 0 : PGREMAP_IOCTLS_ALL;

	if (copy_to_user(uapi, &api, sizeof(api)))
		return -EFAULT;
	return ret;
}

static long pgremap_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case PGREMAP_IOC_API:
		return pgremap_ioctl_api(uarg);
	case PGREMAP_IOC_MOVE:
		return pgremap_ioctl_move(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations pgremap_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= pgremap_ioctl,
	/* Only fixed-width fields: 32-bit callers need no translation. */
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice pgremap_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= PGREMAP_DEVICE_NAME,
	.fops	= &pgremap_fops,
};

int pgremap_dev_register(umode_t mode)
{
	pgremap_misc.mode = mode;
	return misc_register(&pgremap_misc);
}

void pgremap_dev_unregister(void)
{
	misc_deregister(&pgremap_misc);
}
