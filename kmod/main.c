// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: a persistent key-value store on a raw block device.
 *
 * Module parameters, load and unload, and the ioctl and io_uring
 * transports of /dev/rawkv. The commands themselves live in store.c.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/compat.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "rawkv.h"
#include "../uapi/rawkv.h"

static char *dev;
module_param(dev, charp, 0444);
MODULE_PARM_DESC(dev, "Block device to serve as store 0 (/dev/rawkv), e.g. /dev/nvme0n1p3; without it, attach stores with rawkv attach");

static bool format;
module_param(format, bool, 0444);
MODULE_PARM_DESC(format, "0: refuse a device without a valid rawkv superblock (default); 1: write a fresh layout, erasing the device");

static unsigned int slot_size = 1U << 20;
module_param(slot_size, uint, 0444);
MODULE_PARM_DESC(slot_size, "Bytes per slot when formatting: a power of two from 8 KiB to 128 MiB (default 1 MiB); a slot holds a 4 KiB header and the value");

static unsigned int checkpoint_ms = 5000;
module_param(checkpoint_ms, uint, 0444);
MODULE_PARM_DESC(checkpoint_ms, "Period of the background checkpoint when the table changed, in ms (default 5000; 0 disables it)");

static bool evict = true;
module_param(evict, bool, 0444);
MODULE_PARM_DESC(evict, "1: evict the least recently used value when full (default); 0: PUT fails with -ENOSPC");

static bool fault_inject;
module_param(fault_inject, bool, 0444);
MODULE_PARM_DESC(fault_inject, "Testing only: power-cut and I/O error injection in /sys/kernel/debug/rawkv (default 0)");

/* Commands that change the store take a descriptor open for writing. */
static bool rawkv_cmd_writes(unsigned int cmd)
{
	switch (cmd) {
	case RAWKV_IOC_PUT:
	case RAWKV_IOC_DELETE:
	case RAWKV_IOC_PUT_BATCH:
	case RAWKV_IOC_FLUSH:
		return true;
	}
	return false;
}

/*
 * Copy in and check the argument of PUT, GET, DELETE and EXISTS, and the
 * key; and PUT's user metadata, into @meta.
 */
static int rawkv_ioctl_kv_args(unsigned int cmd, struct rawkv_kv *kv,
			       void __user *argp, u8 *key, u8 *meta)
{
	if (copy_from_user(kv, argp, sizeof(*kv)))
		return -EFAULT;
	if (kv->reserved)
		return -EINVAL;
	if (kv->flags & ~(cmd == RAWKV_IOC_PUT ? RAWKV_PUT_SYNC : 0))
		return -EINVAL;
	if ((cmd == RAWKV_IOC_DELETE || cmd == RAWKV_IOC_EXISTS) &&
	    (kv->val_ptr || kv->val_len))
		return -EINVAL;
	if ((cmd == RAWKV_IOC_DELETE && kv->meta_len) ||
	    (kv->meta_ptr && !kv->meta_len))
		return -EINVAL;
	if (!kv->key_len || kv->key_len > RAWKV_KEY_MAX)
		return -EINVAL;
	if (cmd == RAWKV_IOC_PUT && kv->meta_len > RAWKV_META_MAX)
		return -EMSGSIZE;
	if (copy_from_user(key, u64_to_user_ptr(kv->key_ptr), kv->key_len))
		return -EFAULT;
	if (cmd == RAWKV_IOC_PUT &&
	    copy_from_user(meta, u64_to_user_ptr(kv->meta_ptr), kv->meta_len))
		return -EFAULT;
	return 0;
}

/*
 * PUT, GET, DELETE or EXISTS on the struct rawkv_kv at @argp, for the ioctl
 * and for io_uring. Return: 0 (PUT, DELETE), the value length (GET,
 * EXISTS; also written to val_len, as on -ERANGE), or a negative errno.
 */
static long rawkv_kv_cmd(struct file *file, unsigned int cmd,
			 void __user *argp)
{
	struct miscdevice *misc = file->private_data;
	struct rawkv_dev *kd = container_of(misc, struct rawkv_dev, misc);
	u8 key[RAWKV_KEY_MAX], meta[RAWKV_META_MAX];
	struct rawkv_umeta um = {}, *ump = NULL;
	struct rawkv_kv kv;
	u64 vlen = 0;
	int ret;

	if (rawkv_cmd_writes(cmd) && !(file->f_mode & FMODE_WRITE))
		return -EBADF;
	ret = rawkv_ioctl_kv_args(cmd, &kv, argp, key, meta);
	if (ret)
		return ret;
	if (kv.meta_len) {
		um.buf = u64_to_user_ptr(kv.meta_ptr);
		um.buflen = kv.meta_len;
		ump = &um;
	}

	switch (cmd) {
	case RAWKV_IOC_PUT:
		return rawkv_put(kd, key, kv.key_len,
				 u64_to_user_ptr(kv.val_ptr), kv.val_len,
				 meta, kv.meta_len, kv.flags & RAWKV_PUT_SYNC);
	case RAWKV_IOC_DELETE:
		return rawkv_delete(kd, key, kv.key_len);
	case RAWKV_IOC_EXISTS:
		/*
		 * GET's length query: no buffer; no I/O unless the user
		 * metadata is asked for.
		 */
		ret = rawkv_get(kd, key, kv.key_len, NULL, 0, &vlen, ump);
		break;
	default:
		ret = rawkv_get(kd, key, kv.key_len,
				u64_to_user_ptr(kv.val_ptr), kv.val_len, &vlen,
				ump);
		break;
	}
	if (ret && ret != -ERANGE)
		return ret;
	if (put_user(vlen, (u64 __user *)(argp +
					  offsetof(struct rawkv_kv, val_len))))
		return -EFAULT;
	if (um.known &&
	    put_user(um.len, (u32 __user *)(argp +
					    offsetof(struct rawkv_kv, meta_len))))
		return -EFAULT;
	if (ret)
		return ret;
	return vlen;
}

/* What a batch holds while its operations are in flight. */
struct rawkv_batch_ctx {
	struct rawkv_batch_op op;
	u8 key[RAWKV_KEY_MAX];
	struct rawkv_req rq;
	bool begun;
};

static int rawkv_batch_op_check(unsigned int cmd, struct rawkv_batch_op *op,
				u8 *key)
{
	u32 flags_ok = cmd == RAWKV_IOC_PUT_BATCH ? RAWKV_PUT_SYNC : 0;

	if (op->reserved || op->flags & ~flags_ok ||
	    !op->key_len || op->key_len > RAWKV_KEY_MAX)
		return -EINVAL;
	if (copy_from_user(key, u64_to_user_ptr(op->key_ptr), op->key_len))
		return -EFAULT;
	return 0;
}

/* Complete ops [from, to) and store their results. */
static void rawkv_batch_end(struct rawkv_dev *kd, unsigned int cmd,
			    struct rawkv_batch_ctx *ctx, unsigned int from,
			    unsigned int to)
{
	for (; from < to; from++) {
		struct rawkv_batch_ctx *c = &ctx[from];

		if (!c->begun)
			continue;
		c->begun = false;
		if (cmd == RAWKV_IOC_PUT_BATCH) {
			c->op.result = rawkv_put_end(kd, &c->rq);
		} else {
			c->op.result = rawkv_get_end(kd, &c->rq);
			c->op.val_len = c->rq.vlen;
			if (!c->op.result)
				c->op.result = c->rq.vlen;
		}
	}
}

/*
 * Most bounce bytes a PUT batch prepares before it submits: every buffer is
 * pinned or copied before any operation takes a generation (see
 * rawkv_put_prepare()), so a batch of unaligned values is run in parts of
 * this many bytes. Zero-copy values cost no bounce memory.
 */
#define RAWKV_BATCH_BOUNCE_MAX	(64ULL << 20)

/* PUT_BATCH ops [from, *to): prepare up to the bounce budget; sets *to. */
static void rawkv_batch_put_prepare(struct rawkv_dev *kd,
				    struct rawkv_batch_ctx *ctx,
				    unsigned int from, unsigned int count,
				    unsigned int *to)
{
	u64 bounce = 0;
	unsigned int i;

	for (i = from; i < count && (i == from ||
				     bounce < RAWKV_BATCH_BOUNCE_MAX); i++) {
		struct rawkv_batch_ctx *c = &ctx[i];
		struct rawkv_batch_op *op = &c->op;

		op->result = rawkv_batch_op_check(RAWKV_IOC_PUT_BATCH, op,
						  c->key);
		if (op->result)
			continue;
		rawkv_put_prepare(kd, &c->rq, c->key, op->key_len,
				  u64_to_user_ptr(op->val_ptr), op->val_len,
				  NULL, 0, op->flags & RAWKV_PUT_SYNC);
		bounce += rawkv_put_bounce_bytes(&c->rq);
		c->begun = true;
	}
	*to = i;
}

/*
 * PUT_BATCH ops [from, to), prepared: submit each, then complete them all.
 * When one cannot get a slot or its fingerprint without waiting for the
 * batch's own PUTs in flight, those are completed first.
 */
static void rawkv_batch_put_run(struct rawkv_dev *kd,
				struct rawkv_batch_ctx *ctx,
				unsigned int from, unsigned int to)
{
	unsigned int i, done = from;

	for (i = from; i < to; i++) {
		struct rawkv_batch_ctx *c = &ctx[i];

		if (!c->begun)
			continue;
		rawkv_put_submit(kd, &c->rq, done < i);
		if (c->rq.ret == -EAGAIN) {
			rawkv_batch_end(kd, RAWKV_IOC_PUT_BATCH, ctx, done, i);
			done = i;
			rawkv_put_submit(kd, &c->rq, false);
		}
	}
	rawkv_batch_end(kd, RAWKV_IOC_PUT_BATCH, ctx, done, to);
}

static long rawkv_ioctl_batch(struct rawkv_dev *kd, unsigned int cmd,
			      void __user *argp)
{
	struct rawkv_batch_op __user *uops;
	struct rawkv_batch_ctx *ctx;
	struct rawkv_batch b;
	struct blk_plug plug;
	unsigned int i, to;
	long ret = 0;

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if (b.flags || b.reserved[0] || b.reserved[1] || !b.count ||
	    b.count > RAWKV_BATCH_MAX)
		return -EINVAL;
	uops = u64_to_user_ptr(b.ops_ptr);
	ctx = kvcalloc(b.count, sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; i < b.count; i++)
		if (copy_from_user(&ctx[i].op, &uops[i], sizeof(ctx[i].op))) {
			ret = -EFAULT;
			goto out_free_ctx;
		}

	if (cmd == RAWKV_IOC_PUT_BATCH) {
		for (i = 0; i < b.count; i = to) {
			rawkv_batch_put_prepare(kd, ctx, i, b.count, &to);
			rawkv_batch_put_run(kd, ctx, i, to);
		}
	} else {
		/* Every read of the batch reaches the driver in one go. */
		blk_start_plug(&plug);
		for (i = 0; i < b.count; i++) {
			struct rawkv_batch_ctx *c = &ctx[i];
			struct rawkv_batch_op *op = &c->op;

			op->result = rawkv_batch_op_check(cmd, op, c->key);
			if (op->result)
				continue;
			rawkv_get_begin(kd, &c->rq, c->key, op->key_len,
					u64_to_user_ptr(op->val_ptr),
					op->val_len, NULL);
			c->begun = true;
		}
		blk_finish_plug(&plug);
		rawkv_batch_end(kd, cmd, ctx, 0, b.count);
	}

	for (i = 0; i < b.count; i++)
		if (put_user(ctx[i].op.result, &uops[i].result) ||
		    put_user(ctx[i].op.val_len, &uops[i].val_len))
			ret = -EFAULT;
out_free_ctx:
	kvfree(ctx);
	return ret;
}

static long rawkv_ioctl_flush(struct rawkv_dev *kd, void __user *argp)
{
	struct rawkv_flush fl;
	int ret;

	if (copy_from_user(&fl, argp, sizeof(fl)))
		return -EFAULT;
	if (fl.flags || fl.reserved0 || fl.reserved[0] || fl.reserved[1])
		return -EINVAL;
	ret = rawkv_flush(kd);
	if (ret)
		return ret;
	fl.checkpoint_seq = READ_ONCE(kd->meta.seq);
	if (copy_to_user(argp, &fl, sizeof(fl)))
		return -EFAULT;
	return 0;
}

static long rawkv_ioctl_list(struct rawkv_dev *kd, void __user *argp)
{
	struct rawkv_list l;
	int ret;

	if (copy_from_user(&l, argp, sizeof(l)))
		return -EFAULT;
	if (l.flags || l.reserved0 || l.reserved[0] || l.reserved[1] ||
	    l.buf_len < RAWKV_LIST_BUF_MIN)
		return -EINVAL;
	ret = rawkv_list(kd, &l.cursor, u64_to_user_ptr(l.buf_ptr),
			 l.buf_len, &l.count);
	if (ret)
		return ret;
	if (copy_to_user(argp, &l, sizeof(l)))
		return -EFAULT;
	return 0;
}

static long rawkv_ioctl_stat(struct rawkv_dev *kd, void __user *argp)
{
	struct rawkv_ioc_stat st;
	u32 flags;

	if (get_user(flags, (u32 __user *)argp))
		return -EFAULT;
	if (flags)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	rawkv_fill_stat(kd, &st);
	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long rawkv_ioctl(struct file *file, unsigned int cmd,
			unsigned long arg)
{
	struct miscdevice *misc = file->private_data;
	struct rawkv_dev *kd = container_of(misc, struct rawkv_dev, misc);
	void __user *argp = (void __user *)arg;
	long ret;

	if (rawkv_cmd_writes(cmd) && !(file->f_mode & FMODE_WRITE))
		return -EBADF;

	switch (cmd) {
	case RAWKV_IOC_PUT:
	case RAWKV_IOC_GET:
	case RAWKV_IOC_DELETE:
	case RAWKV_IOC_EXISTS:
		/* The value length is in val_len: the ioctl returns 0. */
		ret = rawkv_kv_cmd(file, cmd, argp);
		return ret > 0 ? 0 : ret;
	case RAWKV_IOC_PUT_BATCH:
	case RAWKV_IOC_GET_BATCH:
		return rawkv_ioctl_batch(kd, cmd, argp);
	case RAWKV_IOC_FLUSH:
		return rawkv_ioctl_flush(kd, argp);
	case RAWKV_IOC_STAT:
		return rawkv_ioctl_stat(kd, argp);
	case RAWKV_IOC_LIST:
		return rawkv_ioctl_list(kd, argp);
	}
	return -ENOTTY;
}

/*
 * io_uring: IORING_OP_URING_CMD with cmd_op RAWKV_IOC_PUT, GET, DELETE or
 * EXISTS and a struct rawkv_uring_cmd in the SQE's command bytes; the CQE's
 * res is what rawkv_kv_cmd() returns.
 *
 * Every one of these commands may block: a PUT or GET waits for its bios,
 * and PUT and DELETE may wait for a fingerprint another command holds, for
 * a free slot or for a commit. So the non-blocking issue
 * (IO_URING_F_NONBLOCK, in the submitter's io_uring_enter()) returns
 * -EAGAIN, and io_uring queues the command to an io-wq worker, a thread
 * that shares the submitter's mm; the worker issues it again without
 * IO_URING_F_NONBLOCK, and there it runs synchronously, exactly as the
 * ioctl does. A native non-blocking path (submit the bios here, complete
 * from their end_io with io_uring_cmd_done()) may come later.
 *
 * The SQE is read once, at the first issue: from 6.10 to 6.13 (before
 * commit e663da62ba86, "io_uring/uring_cmd: switch sqe to async_data on
 * EAGAIN"; Debian's 6.12 has not got it) the worker's issue still reads
 * the SQE in the submission ring, which user space may have reused by
 * then. So the non-blocking issue keeps the command in the pdu and marks
 * cmd_op; a first issue in the worker (IOSQE_ASYNC) reads an SQE that
 * io_uring copied at prep.
 */
struct rawkv_uring_pdu {
	u32 magic;
	u32 cmd_op;
	struct rawkv_uring_cmd uc;
};

#define RAWKV_URING_PDU_MAGIC	0x72776b76	/* "rwkv" */
/* cmd_op of a command punted to io-wq: not a valid command. */
#define RAWKV_URING_PUNTED	0xffffffffU

static bool rawkv_uring_op_valid(u32 cmd)
{
	switch (cmd) {
	case RAWKV_IOC_PUT:
	case RAWKV_IOC_GET:
	case RAWKV_IOC_DELETE:
	case RAWKV_IOC_EXISTS:
		return true;
	}
	return false;
}

static int rawkv_uring_cmd(struct io_uring_cmd *ioucmd,
			   unsigned int issue_flags)
{
	struct rawkv_uring_pdu *pdu = rawkv_uring_cmd_pdu(ioucmd);
	struct rawkv_uring_cmd uc;
	u32 cmd = ioucmd->cmd_op;
	long ret;

	BUILD_BUG_ON(sizeof(*pdu) > sizeof_field(struct io_uring_cmd, pdu));
	if (cmd == RAWKV_URING_PUNTED && pdu->magic == RAWKV_URING_PDU_MAGIC &&
	    !(issue_flags & IO_URING_F_NONBLOCK)) {
		/* The worker's issue of a command punted below. */
		pdu->magic = 0;
		cmd = pdu->cmd_op;
		uc = pdu->uc;
	} else if (rawkv_uring_op_valid(cmd)) {
		/* Read the command bytes once: user space may change them. */
		memcpy(&uc, rawkv_uring_cmd_bytes(ioucmd), sizeof(uc));
		if (issue_flags & IO_URING_F_NONBLOCK) {
			pdu->magic = RAWKV_URING_PDU_MAGIC;
			pdu->cmd_op = cmd;
			pdu->uc = uc;
			ioucmd->cmd_op = RAWKV_URING_PUNTED;
			return -EAGAIN;
		}
	} else {
		return -ENOTTY;
	}

	if (uc.reserved)
		ret = -EINVAL;
	else
		ret = rawkv_kv_cmd(ioucmd->file, cmd,
				   u64_to_user_ptr(uc.kv_ptr));
	return rawkv_uring_cmd_complete(ioucmd, ret, issue_flags);
}

static struct rawkv_dev *rawkv_file_dev(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return container_of(misc, struct rawkv_dev, misc);
}

/* Counted, so that a store in use cannot be detached (stores.c). */
static int rawkv_open(struct inode *inode, struct file *file)
{
	return rawkv_store_open(rawkv_file_dev(file));
}

static int rawkv_release(struct inode *inode, struct file *file)
{
	rawkv_store_release(rawkv_file_dev(file));
	return 0;
}

const struct file_operations rawkv_fops = {
	.owner		= THIS_MODULE,
	.open		= rawkv_open,
	.release	= rawkv_release,
	.unlocked_ioctl	= rawkv_ioctl,
	/* Every struct has the same layout for 32-bit callers. */
	.compat_ioctl	= compat_ptr_ioctl,
	.uring_cmd	= rawkv_uring_cmd,
	.llseek		= noop_llseek,
};

static int rawkv_check_params(void)
{
	if (!fault_inject && rawkv_fault_params_set()) {
		pr_err("the fault_* parameters are for testing and need fault_inject=1\n");
		return -EINVAL;
	}
	if (PAGE_SIZE > RAWKV_BLOCK_SIZE)
		pr_info("page size %lu: each %u-byte block of metadata and bounced values takes a page\n",
			PAGE_SIZE, RAWKV_BLOCK_SIZE);
	return rawkv_check_slot_size(slot_size);
}

bool rawkv_fault_inject_enabled(void)
{
	return fault_inject;
}

/*
 * Load: the control device, then store 0 from the parameters when dev= is
 * given. A store that cannot be attached fails the load, as it always did.
 */
static int __init rawkv_init(void)
{
	struct rawkv_store_args a = {
		.path = dev, .format = format, .slot_size = slot_size,
		.checkpoint_ms = checkpoint_ms, .evict = evict,
		.faults = fault_inject, .fault_params = true,
	};
	unsigned int id;
	int ret;

	ret = rawkv_check_params();
	if (ret)
		return ret;
	rawkv_crc32c_probe();
	ret = rawkv_stores_init();
	if (ret)
		return ret;
	if (!dev || !*dev) {
		pr_info("no dev= given: attach block devices through /dev/rawkv-control (rawkv attach)\n");
		return 0;
	}
	ret = rawkv_store_attach(&a, 0, &id);
	if (ret)
		rawkv_stores_exit();
	return ret;
}

static void __exit rawkv_exit(void)
{
	rawkv_stores_exit();
}

module_init(rawkv_init);
module_exit(rawkv_exit);

/*
 * libcrc32c binds to the crc32c driver registered when it loads: with
 * modprobe, have the SSE4.2 one there first on x86 (see rawkv_crc32c_probe()).
 */
#ifdef CONFIG_X86
MODULE_SOFTDEP("pre: crc32c-intel");
#endif
MODULE_DESCRIPTION("rawkv: persistent key-value store on a raw block device");
MODULE_AUTHOR("The rawkv developers");
MODULE_LICENSE("GPL");
