// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the stores, and the control device that attaches and detaches
 * them.
 *
 * Each store is one block device with its own table, metadata and
 * character device: store 0 is /dev/rawkv, store N is /dev/rawkvN. The
 * module parameters attach store 0 at load; /dev/rawkv-control (root
 * only, as /dev/loop-control and /dev/ubi_ctrl are) attaches and detaches
 * more while the module is loaded. A store whose device node is open
 * cannot be detached: an open descriptor is the only way to have a
 * command in flight (io_uring holds the file too).
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/log2.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "rawkv.h"

/*
 * rawkv_stores_mutex guards rawkv_stores (store number -> struct
 * rawkv_dev) and serializes detach and module unload. An attach reserves
 * its number (a NULL entry) under it, creates the store without it (a
 * load may take seconds), and publishes the store under it again. Lock
 * order: rawkv_stores_mutex, then misc_mtx (misc_register/deregister); a
 * store's open (under misc_mtx) takes only its own open_lock.
 */
static DEFINE_MUTEX(rawkv_stores_mutex);
static DEFINE_IDR(rawkv_stores);

int rawkv_check_slot_size(u64 slot_size)
{
	if (!is_power_of_2(slot_size) || slot_size < RAWKV_SLOT_SIZE_MIN ||
	    slot_size > RAWKV_SLOT_SIZE_MAX) {
		pr_err("slot_size=%llu: must be a power of two from %u to %u\n",
		       slot_size, RAWKV_SLOT_SIZE_MIN, RAWKV_SLOT_SIZE_MAX);
		return -EINVAL;
	}
	return 0;
}

static void rawkv_ckpt_work(struct work_struct *work)
{
	struct rawkv_dev *kd = container_of(to_delayed_work(work),
					    struct rawkv_dev, ckpt_work);

	rawkv_commit(kd, U64_MAX);
	if (kd->checkpoint_ms)
		queue_delayed_work(system_long_wq, &kd->ckpt_work,
				   msecs_to_jiffies(kd->checkpoint_ms));
}

static int rawkv_open_bdev(struct rawkv_dev *kd)
{
	int ret;

	ret = rawkv_bdev_open(&kd->bd, kd->path, kd);
	switch (ret) {
	case 0:
		break;
	case -ENOENT:
		rawkv_err(kd, "no such device\n");
		return ret;
	case -ENOTBLK:
		rawkv_err(kd, "not a block device\n");
		return ret;
	case -EBUSY:
		rawkv_err(kd, "in use (mounted, another rawkv store, or claimed by another driver)\n");
		return ret;
	default:
		rawkv_err(kd, "cannot open: error %d\n", ret);
		return ret;
	}
	kd->bdev = kd->bd.bdev;
	kd->lbs = bdev_logical_block_size(kd->bdev);
	kd->hdr_len = round_up(RAWKV_SLOT_HDR_BYTES, kd->lbs);
	kd->geo.device_bytes = bdev_nr_bytes(kd->bdev);
	if (kd->lbs > RAWKV_BLOCK_SIZE) {
		rawkv_err(kd, "logical block size %u is larger than %u\n",
			  kd->lbs, RAWKV_BLOCK_SIZE);
		rawkv_bdev_close(&kd->bd, kd);
		return -EINVAL;
	}
	return 0;
}

/* Open, load (or format) and publish store @id on @a->path. */
static struct rawkv_dev *rawkv_dev_create(const struct rawkv_store_args *a,
					  unsigned int id)
{
	struct rawkv_dev *kd;
	int ret;

	kd = kzalloc(sizeof(*kd), GFP_KERNEL);
	if (!kd)
		return ERR_PTR(-ENOMEM);
	kd->id = id;
	if (id)
		snprintf(kd->name, sizeof(kd->name), "rawkv%u", id);
	else
		strscpy(kd->name, "rawkv", sizeof(kd->name));
	strscpy(kd->path, a->path, sizeof(kd->path));
	spin_lock_init(&kd->open_lock);
	INIT_DELAYED_WORK(&kd->ckpt_work, rawkv_ckpt_work);
	kd->evict = a->evict;
	kd->checkpoint_ms = a->checkpoint_ms;
	ret = -ENOMEM;
	kd->stats = alloc_percpu(struct rawkv_stats);
	if (!kd->stats)
		goto out_free_dev;

	ret = rawkv_open_bdev(kd);
	if (ret)
		goto out_free_stats;
	ret = rawkv_meta_init(kd);
	if (ret)
		goto out_close_bdev;
	if (a->faults) {
		ret = rawkv_faults_init(kd, a->fault_params);
		if (ret)
			goto out_exit_meta;
	}
	/* The index first: a load that fails for memory erases nothing. */
	if (a->format)
		ret = rawkv_format_geo(kd, a->slot_size);
	else
		ret = rawkv_read_super(kd);
	if (ret)
		goto out_exit_faults;
	ret = rawkv_store_init(kd);
	if (ret) {
		rawkv_err(kd, "cannot allocate the table for %u slots (%zu bytes)\n",
			  kd->geo.slot_count,
			  (size_t)kd->geo.slot_count * sizeof(struct rawkv_entry));
		goto out_exit_faults;
	}
	if (a->format) {
		ret = rawkv_format_write(kd);
		if (ret)
			goto out_free_table;
	}
	ret = rawkv_recover(kd);
	if (ret)
		goto out_free_table;

	kd->misc.minor = MISC_DYNAMIC_MINOR;
	kd->misc.name = kd->name;
	kd->misc.fops = &rawkv_fops;
	kd->misc.mode = 0600;
	kd->misc.groups = rawkv_store_groups;
	ret = misc_register(&kd->misc);
	if (ret) {
		rawkv_err(kd, "cannot register /dev/%s: error %d\n", kd->name,
			  ret);
		goto out_free_table;
	}
	if (kd->checkpoint_ms)
		queue_delayed_work(system_long_wq, &kd->ckpt_work,
				   msecs_to_jiffies(kd->checkpoint_ms));
	/* Last: a kick_checkpoint write needs everything above. */
	rawkv_faults_add_files(kd);
	rawkv_info(kd, "serving /dev/%s: %u slots of %llu bytes, %u in use\n",
		   kd->name, kd->geo.slot_count, kd->geo.slot_size,
		   kd->ix.nr_used);
	return kd;

out_free_table:
	cancel_work_sync(&kd->meta.wb_work);
	rawkv_store_free(kd);
out_exit_faults:
	rawkv_faults_exit(kd);
out_exit_meta:
	rawkv_meta_exit(kd);
out_close_bdev:
	rawkv_bdev_close(&kd->bd, kd);
out_free_stats:
	free_percpu(kd->stats);
out_free_dev:
	kfree(kd);
	return ERR_PTR(ret);
}

/* Unpublish the store, write its final metadata and free it. */
static void rawkv_dev_destroy(struct rawkv_dev *kd)
{
	int ret;

	/* Waits for sysfs readers; no open can succeed after this. */
	misc_deregister(&kd->misc);
	/*
	 * No debugfs write (kick_checkpoint) may queue the work once it is
	 * cancelled: remove the files first, which waits for writers.
	 */
	rawkv_faults_remove_files(kd);
	cancel_delayed_work_sync(&kd->ckpt_work);
	cancel_work_sync(&kd->meta.wb_work);
	ret = rawkv_meta_close(kd);
	if (ret)
		rawkv_err(kd, "final commit failed (error %d): changes since commit %llu are lost\n",
			  ret, kd->meta.seq);
	/* The final commit may have queued a writeback: it is done. */
	cancel_work_sync(&kd->meta.wb_work);
	rawkv_store_free(kd);
	rawkv_faults_exit(kd);
	rawkv_meta_exit(kd);
	rawkv_bdev_close(&kd->bd, kd);
	rawkv_info(kd, "released /dev/%s at commit %llu\n", kd->name,
		   kd->meta.seq);
	free_percpu(kd->stats);
	kfree(kd);
}

/**
 * rawkv_store_attach - attach a store
 * @a:		its device and settings
 * @id:		the store number to take, or RAWKV_STORES_MAX for the
 *		lowest free one
 * @idp:	set to the store number on success
 *
 * Context: process context; takes rawkv_stores_mutex, but not while it
 * loads the store.
 * Return: 0, or a negative errno (dmesg says why).
 */
int rawkv_store_attach(const struct rawkv_store_args *a, unsigned int id,
		       unsigned int *idp)
{
	struct rawkv_dev *kd;
	int ret;

	if (a->format) {
		ret = rawkv_check_slot_size(a->slot_size);
		if (ret)
			return ret;
	}
	mutex_lock(&rawkv_stores_mutex);
	/* Reserve the number; the store is published once it is ready. */
	if (id < RAWKV_STORES_MAX)
		ret = idr_alloc(&rawkv_stores, NULL, id, id + 1, GFP_KERNEL);
	else
		ret = idr_alloc(&rawkv_stores, NULL, 0, RAWKV_STORES_MAX,
				GFP_KERNEL);
	if (ret < 0) {
		if (ret == -ENOSPC)
			pr_err("%s: no free store number (%u stores at most)\n",
			       a->path, RAWKV_STORES_MAX);
		goto out_unlock;
	}
	id = ret;
	mutex_unlock(&rawkv_stores_mutex);

	/*
	 * Loading a large store takes seconds: other attaches and detaches
	 * go on meanwhile. Until it is published below, a detach of this
	 * number finds no store (-ENODEV).
	 */
	kd = rawkv_dev_create(a, id);

	mutex_lock(&rawkv_stores_mutex);
	if (IS_ERR(kd)) {
		idr_remove(&rawkv_stores, id);
		ret = PTR_ERR(kd);
		goto out_unlock;
	}
	idr_replace(&rawkv_stores, kd, id);
	*idp = id;
	ret = 0;
out_unlock:
	mutex_unlock(&rawkv_stores_mutex);
	return ret;
}

/* Detach store @id unless its device node is open. */
static int rawkv_store_detach(unsigned int id)
{
	struct rawkv_dev *kd;
	int ret = 0;

	mutex_lock(&rawkv_stores_mutex);
	kd = id < RAWKV_STORES_MAX ? idr_find(&rawkv_stores, id) : NULL;
	if (!kd) {
		ret = -ENODEV;
		goto out_unlock;
	}
	spin_lock(&kd->open_lock);
	if (kd->opens)
		ret = -EBUSY;
	else
		kd->detached = true;
	spin_unlock(&kd->open_lock);
	if (ret) {
		pr_info("%s: not detached: /dev/%s is open\n", kd->path,
			kd->name);
		goto out_unlock;
	}
	idr_remove(&rawkv_stores, id);
	rawkv_dev_destroy(kd);
out_unlock:
	mutex_unlock(&rawkv_stores_mutex);
	return ret;
}

/* A store's device node opened: fails once the store is being detached. */
int rawkv_store_open(struct rawkv_dev *kd)
{
	int ret = 0;

	spin_lock(&kd->open_lock);
	if (kd->detached)
		ret = -ENODEV;
	else
		kd->opens++;
	spin_unlock(&kd->open_lock);
	return ret;
}

void rawkv_store_release(struct rawkv_dev *kd)
{
	spin_lock(&kd->open_lock);
	kd->opens--;
	spin_unlock(&kd->open_lock);
}

static long rawkv_ctl_attach(void __user *argp)
{
	struct rawkv_store_args a = { .evict = true, .checkpoint_ms = 5000 };
	const u32 known = RAWKV_ATTACH_FORMAT | RAWKV_ATTACH_NO_EVICT |
			  RAWKV_ATTACH_CHECKPOINT;
	struct rawkv_ctl_attach ca;
	unsigned int id;
	char *path;
	long ret;

	if (copy_from_user(&ca, argp, sizeof(ca)))
		return -EFAULT;
	if (ca.flags & ~known || ca.id || ca.reserved0 || ca.reserved[0] ||
	    ca.reserved[1] || ca.reserved[2] || ca.reserved[3])
		return -EINVAL;
	if (!(ca.flags & RAWKV_ATTACH_FORMAT) && ca.slot_size)
		return -EINVAL;
	if (!(ca.flags & RAWKV_ATTACH_CHECKPOINT) && ca.checkpoint_ms)
		return -EINVAL;
	path = strndup_user(u64_to_user_ptr(ca.path_ptr), RAWKV_PATH_MAX);
	if (IS_ERR(path))
		return PTR_ERR(path) == -EINVAL ? -ENAMETOOLONG : PTR_ERR(path);
	ret = -EINVAL;
	if (!*path)
		goto out_free_path;
	a.path = path;
	a.format = ca.flags & RAWKV_ATTACH_FORMAT;
	a.slot_size = ca.slot_size ?: 1U << 20;
	a.evict = !(ca.flags & RAWKV_ATTACH_NO_EVICT);
	if (ca.flags & RAWKV_ATTACH_CHECKPOINT)
		a.checkpoint_ms = ca.checkpoint_ms;
	a.faults = rawkv_fault_inject_enabled();
	ret = rawkv_store_attach(&a, RAWKV_STORES_MAX, &id);
	if (ret)
		goto out_free_path;
	/*
	 * The store stays attached if its number cannot be copied out: it
	 * shows in sysfs, and the error says the copy failed.
	 */
	if (put_user(id, (u32 __user *)(argp +
					offsetof(struct rawkv_ctl_attach, id))))
		ret = -EFAULT;
out_free_path:
	kfree(path);
	return ret;
}

static long rawkv_ctl_detach(void __user *argp)
{
	struct rawkv_ctl_detach cd;

	if (copy_from_user(&cd, argp, sizeof(cd)))
		return -EFAULT;
	if (cd.flags || cd.reserved[0] || cd.reserved[1])
		return -EINVAL;
	return rawkv_store_detach(cd.id);
}

static long rawkv_ctl_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case RAWKV_CTL_ATTACH:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		return rawkv_ctl_attach(argp);
	case RAWKV_CTL_DETACH:
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		return rawkv_ctl_detach(argp);
	}
	return -ENOTTY;
}

static const struct file_operations rawkv_ctl_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= rawkv_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice rawkv_ctl_misc = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= "rawkv-control",
	.fops		= &rawkv_ctl_fops,
	.mode		= 0600,
};

int rawkv_stores_init(void)
{
	int ret = misc_register(&rawkv_ctl_misc);

	if (ret)
		pr_err("cannot register /dev/rawkv-control: error %d\n", ret);
	return ret;
}

/* Module unload: no store's node is open (each holds the module). */
void rawkv_stores_exit(void)
{
	struct rawkv_dev *kd;
	int id;

	misc_deregister(&rawkv_ctl_misc);
	mutex_lock(&rawkv_stores_mutex);
	idr_for_each_entry(&rawkv_stores, kd, id) {
		idr_remove(&rawkv_stores, id);
		rawkv_dev_destroy(kd);
	}
	mutex_unlock(&rawkv_stores_mutex);
	idr_destroy(&rawkv_stores);
}
