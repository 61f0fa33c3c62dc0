/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: every difference between the kernel versions rawkv builds on.
 *
 * Opening a block device exclusively changed three times:
 *   < 6.5	blkdev_get_by_path(path, FMODE_* | FMODE_EXCL, holder)
 *   6.5, 6.6	blkdev_get_by_path(path, BLK_OPEN_*, holder, NULL)
 *   6.7, 6.8	bdev_open_by_path() returns a struct bdev_handle
 *   >= 6.9	bdev_file_open_by_path() returns a struct file, bdev_fput()
 *
 * <asm/unaligned.h> moved to <linux/unaligned.h> in 6.12.
 *
 * io_uring commands (file_operations.uring_cmd):
 *   < 6.5	ioucmd->cmd points at the SQE's command bytes
 *   >= 6.5	io_uring_sqe_cmd(ioucmd->sqe) (commit fd9b8547bc5c)
 *   < 6.7	struct io_uring_cmd is in <linux/io_uring.h>; then in
 *		<linux/io_uring/cmd.h>
 *   < 6.11	io_uring_cmd() hands a positive result of ->uring_cmd()
 *		back to the io_uring core as if it were an error code: from
 *		the submitter the CQE gets it, but from an io-wq worker the
 *		request is dropped without a CQE (io_wq_submit_work() only
 *		completes results < 0). Fixed by commit 24dce1c538a7
 *		("io_uring: fix lost getsockopt completions", 6.11), which
 *		completes every result other than -EAGAIN and -EIOCBQUEUED.
 *		Before it, rawkv completes the command itself with
 *		io_uring_cmd_done() and returns -EIOCBQUEUED.
 *
 * libcrc32c tells which crypto driver backs crc32c() through crc32c_impl()
 * up to 6.12, which dropped it; there, ask the crypto API which driver it
 * picks for "crc32c", as libcrc32c did when it loaded.
 */
#ifndef _RAWKV_COMPAT_H
#define _RAWKV_COMPAT_H

#include <linux/blkdev.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#include <crypto/hash.h>
#else
#include <asm/unaligned.h>
#include <linux/crc32c.h>
#endif
#include <linux/string.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#include <linux/io_uring/cmd.h>
#else
#include <linux/io_uring.h>
#endif

struct rawkv_bdev {
	struct block_device *bdev;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	struct file *file;
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	struct bdev_handle *handle;
#endif
};

/* Open @path for reading and writing, exclusively for @holder. */
static inline int rawkv_bdev_open(struct rawkv_bdev *rb, const char *path,
				  void *holder)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	rb->file = bdev_file_open_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE,
					  holder, NULL);
	if (IS_ERR(rb->file))
		return PTR_ERR(rb->file);
	rb->bdev = file_bdev(rb->file);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	rb->handle = bdev_open_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE,
				       holder, NULL);
	if (IS_ERR(rb->handle))
		return PTR_ERR(rb->handle);
	rb->bdev = rb->handle->bdev;
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	rb->bdev = blkdev_get_by_path(path, BLK_OPEN_READ | BLK_OPEN_WRITE,
				      holder, NULL);
	if (IS_ERR(rb->bdev))
		return PTR_ERR(rb->bdev);
#else
	rb->bdev = blkdev_get_by_path(path, FMODE_READ | FMODE_WRITE |
				      FMODE_EXCL, holder);
	if (IS_ERR(rb->bdev))
		return PTR_ERR(rb->bdev);
#endif
	return 0;
}

static inline void rawkv_bdev_close(struct rawkv_bdev *rb, void *holder)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 9, 0)
	bdev_fput(rb->file);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	bdev_release(rb->handle);
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	blkdev_put(rb->bdev, holder);
#else
	blkdev_put(rb->bdev, FMODE_READ | FMODE_WRITE | FMODE_EXCL);
#endif
}

/* Copy the name of the driver behind crc32c() into @buf. */
static inline void rawkv_crc32c_driver(char *buf, size_t len)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	struct crypto_shash *tfm = crypto_alloc_shash("crc32c", 0, 0);

	if (IS_ERR(tfm)) {
		strscpy(buf, "unknown", len);
		return;
	}
	strscpy(buf, crypto_shash_driver_name(tfm), len);
	crypto_free_shash(tfm);
#else
	strscpy(buf, crc32c_impl(), len);
#endif
}

/* The command bytes of the SQE of @ioucmd (16 of them in a 64-byte SQE). */
static inline const void *rawkv_uring_cmd_bytes(struct io_uring_cmd *ioucmd)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

/* The bytes of @ioucmd that are the driver's own (32 of them). */
static inline void *rawkv_uring_cmd_pdu(struct io_uring_cmd *ioucmd)
{
	return ioucmd->pdu;
}

/*
 * Return what ->uring_cmd() returns for a command that ran synchronously
 * with result @res (0, a length or a negative errno).
 */
static inline int rawkv_uring_cmd_complete(struct io_uring_cmd *ioucmd,
					   long res, unsigned int issue_flags)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	return res;
#else
	io_uring_cmd_done(ioucmd, res, 0, issue_flags);
	return -EIOCBQUEUED;
#endif
}

#endif /* _RAWKV_COMPAT_H */
