// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * librawkv: a thin layer over the ioctls of /dev/rawkv.
 *
 * The library checks only what is cheap and certain (NULL handle, key
 * length); everything else, including bad pointers, is left to the kernel.
 * The asynchronous calls (rawkv_ring_*) are in rawkv_ring.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <rawkv.h>	/* the ioctl ABI, uapi/rawkv.h (-I../uapi) */
#include "rawkv.h"	/* the library API, userlib/rawkv.h */
#include "rawkv_priv.h"

/* Issue an ioctl; return 0 or -errno, leaving errno as it was. */
static int kv_ioctl(const struct rawkv *kv, unsigned long cmd, void *arg)
{
	int saved = errno, ret = 0;

	if (ioctl(kv->fd, cmd, arg) < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

static int kv_check(const struct rawkv *kv, size_t klen)
{
	return kv && klen >= 1 && klen <= RAWKV_KEY_MAX ? 0 : -EINVAL;
}

int rawkv_open(const char *path, struct rawkv **kv)
{
	int saved = errno, ret = 0;

	if (!kv)
		return -EINVAL;
	*kv = malloc(sizeof(**kv));
	if (!*kv) {
		errno = saved;
		return -ENOMEM;
	}
	path = path ? path : RAWKV_DEFAULT_DEVICE;
	(*kv)->fd = open(path, O_RDWR | O_CLOEXEC);
	/* Allowed to read only: GET and STAT work, changes get -EBADF. */
	if ((*kv)->fd < 0 && (errno == EACCES || errno == EROFS))
		(*kv)->fd = open(path, O_RDONLY | O_CLOEXEC);
	if ((*kv)->fd < 0) {
		ret = -errno;
		free(*kv);
		*kv = NULL;
	}
	errno = saved;
	return ret;
}

void rawkv_close(struct rawkv *kv)
{
	int saved = errno;

	if (!kv)
		return;
	close(kv->fd);
	free(kv);
	errno = saved;
}

int rawkv_put_meta(struct rawkv *kv, const void *key, size_t klen,
		   const void *val, size_t vlen, const void *meta,
		   size_t mlen, unsigned int flags)
{
	struct rawkv_kv arg = {
		.key_ptr = (uintptr_t)key,
		.val_ptr = (uintptr_t)val,
		.key_len = klen,
		.flags = flags,
		.val_len = vlen,
		.meta_ptr = mlen ? (uintptr_t)meta : 0,
		.meta_len = mlen,
	};

	if (mlen > RAWKV_META_MAX)
		return kv_check(kv, klen) ?: -EMSGSIZE;
	return kv_check(kv, klen) ?: kv_ioctl(kv, RAWKV_IOC_PUT, &arg);
}

int rawkv_put(struct rawkv *kv, const void *key, size_t klen,
	      const void *val, size_t vlen)
{
	return rawkv_put_meta(kv, key, klen, val, vlen, NULL, 0, 0);
}

int rawkv_put_sync(struct rawkv *kv, const void *key, size_t klen,
		   const void *val, size_t vlen)
{
	return rawkv_put_meta(kv, key, klen, val, vlen, NULL, 0,
			      RAWKV_PUT_SYNC);
}

static int kv_batch(struct rawkv *kv, unsigned long cmd,
		    struct rawkv_op *ops, size_t n)
{
	struct rawkv_batch_op bops[RAWKV_BATCH_MAX];
	size_t done, i;

	if (!kv || (!ops && n))
		return -EINVAL;
	for (done = 0; done < n; done += i) {
		struct rawkv_batch b = { .ops_ptr = (uintptr_t)bops };
		size_t count = n - done < RAWKV_BATCH_MAX ? n - done :
							    RAWKV_BATCH_MAX;
		int ret;

		for (i = 0; i < count; i++) {
			struct rawkv_op *op = &ops[done + i];

			/* Lengths the ABI cannot carry fail like rawkv_put(). */
			bops[i] = (struct rawkv_batch_op) {
				.key_ptr = (uintptr_t)op->key,
				.val_ptr = (uintptr_t)op->val,
				.key_len = op->klen > UINT32_MAX ? 0 : op->klen,
				.val_len = op->vlen,
			};
		}
		b.count = count;
		ret = kv_ioctl(kv, cmd, &b);
		if (ret)
			return ret;
		for (i = 0; i < count; i++)
			ops[done + i].result = bops[i].result;
	}
	return 0;
}

int rawkv_put_batch(struct rawkv *kv, struct rawkv_op *ops, size_t n)
{
	return kv_batch(kv, RAWKV_IOC_PUT_BATCH, ops, n);
}

int rawkv_get_batch(struct rawkv *kv, struct rawkv_op *ops, size_t n)
{
	return kv_batch(kv, RAWKV_IOC_GET_BATCH, ops, n);
}

/* GET or EXISTS, with a metadata buffer when @mlen is not NULL. */
static int kv_get(struct rawkv *kv, unsigned long cmd, const void *key,
		  size_t klen, void *buf, size_t buflen, void *meta,
		  size_t *mlen, uint64_t *vlen)
{
	struct rawkv_kv arg = {
		.key_ptr = (uintptr_t)key,
		.val_ptr = buflen ? (uintptr_t)buf : 0,
		.key_len = klen,
		.val_len = buflen,
		.meta_len = kv_meta_buflen(mlen),
	};
	int ret = kv_check(kv, klen);

	if (ret)
		return ret;
	if (mlen && !*mlen)
		return -EINVAL;
	arg.meta_ptr = mlen ? (uintptr_t)meta : 0;
	ret = kv_ioctl(kv, cmd, &arg);
	kv_meta_len_out(mlen, ret, arg.meta_len);
	*vlen = arg.val_len;
	return ret;
}

ssize_t rawkv_get_meta(struct rawkv *kv, const void *key, size_t klen,
		       void *buf, size_t buflen, void *meta, size_t *mlen)
{
	uint64_t vlen;
	int ret = kv_get(kv, RAWKV_IOC_GET, key, klen, buf, buflen, meta,
			 mlen, &vlen);

	if (ret)
		return ret;
	if (vlen > SSIZE_MAX)
		return -EOVERFLOW;
	return vlen;
}

ssize_t rawkv_get(struct rawkv *kv, const void *key, size_t klen,
		  void *buf, size_t buflen)
{
	return rawkv_get_meta(kv, key, klen, buf, buflen, NULL, NULL);
}

int rawkv_delete(struct rawkv *kv, const void *key, size_t klen)
{
	struct rawkv_kv arg = {
		.key_ptr = (uintptr_t)key,
		.key_len = klen,
	};

	return kv_check(kv, klen) ?: kv_ioctl(kv, RAWKV_IOC_DELETE, &arg);
}

int rawkv_exists_meta(struct rawkv *kv, const void *key, size_t klen,
		      void *meta, size_t *mlen)
{
	uint64_t vlen;
	int ret = kv_get(kv, RAWKV_IOC_EXISTS, key, klen, NULL, 0, meta, mlen,
			 &vlen);

	if (ret)
		return ret;
	return vlen > INT_MAX ? -EOVERFLOW : (int)vlen;
}

int rawkv_exists(struct rawkv *kv, const void *key, size_t klen)
{
	return rawkv_exists_meta(kv, key, klen, NULL, NULL);
}

int rawkv_flush(struct rawkv *kv)
{
	struct rawkv_flush arg = { 0 };

	return kv ? kv_ioctl(kv, RAWKV_IOC_FLUSH, &arg) : -EINVAL;
}

int rawkv_stat(struct rawkv *kv, struct rawkv_stat *st)
{
	struct rawkv_ioc_stat s = { 0 };	/* unreported fields stay 0 */
	int ret;

	if (!kv || !st)
		return -EINVAL;
	ret = kv_ioctl(kv, RAWKV_IOC_STAT, &s);
	if (ret)
		return ret;

	memset(st, 0, sizeof(*st));
	st->slot_size = s.slot_size;
	st->value_max = s.value_max;
	st->key_max = s.key_max;
	st->slots_total = s.slots_total;
	st->slots_used = s.slots_used;
	st->device_bytes = s.device_bytes;
	st->checkpoint_seq = s.checkpoint_seq;
	st->puts = s.puts;
	st->gets = s.gets;
	st->hits = s.hits;
	st->misses = s.misses;
	st->deletes = s.deletes;
	st->evictions = s.evictions;
	st->checkpoints = s.checkpoints;
	st->bytes_written = s.bytes_written;
	st->bytes_read = s.bytes_read;
	st->entry_mem_bytes = s.entry_mem_bytes;
	st->table_mem_bytes = s.table_mem_bytes;
	st->io_errors = s.io_errors;
	st->load_dropped = s.load_dropped;
	st->stale_dropped = s.stale_dropped;
	st->logical_block_size = s.logical_block_size;
	st->crc32c_mbps = s.crc32c_mbps;
	memcpy(st->crc32c_driver, s.crc32c_driver, sizeof(st->crc32c_driver));
	st->crc32c_driver[sizeof(st->crc32c_driver) - 1] = '\0';
	st->bytes_zero_copy = s.bytes_zero_copy;
	st->bytes_bounced = s.bytes_bounced;
	return 0;
}

const char *rawkv_strerror(int err)
{
	if (err < 0)
		err = err == INT_MIN ? 0 : -err;

	switch (err) {
	case 0:
		return "success";
	case EINVAL:
		return "invalid argument (keys must be 1..255 bytes)";
	case E2BIG:
		return "value larger than the slot's value area (see rawkv stat: value_max)";
	case EFAULT:
		return "bad address (key, value or buffer not accessible)";
	case ENOSPC:
		return "device full and eviction disabled (evict=0)";
	case EIO:
		return "device I/O error, or a stored value failed verification (see dmesg)";
	case ENOMEM:
		return "out of kernel memory";
	case EINTR:
		return "interrupted by a signal while waiting for a free slot";
	case ENOENT:
		return "no such key";
	case ERANGE:
		return "buffer smaller than the value or its metadata (get the lengths with buflen 0 first)";
	case EMSGSIZE:
		return "user metadata longer than 256 bytes (RAWKV_META_MAX)";
	case ENOTTY:
		return "not a rawkv device, or the module does not know this command";
	case ENODEV:
	case ENXIO:
		return "no such rawkv store (is it attached? is the rawkv module loaded?)";
	case EBUSY:
		return "in use (a store that is open, or a device mounted or claimed elsewhere)";
	case ENOTBLK:
		return "not a block device";
	case ENAMETOOLONG:
		return "device path too long";
	case EACCES:
	case EPERM:
		return "permission denied on the rawkv device";
	case EOVERFLOW:
		return "value length does not fit in ssize_t";
	default:
		return strerror(err);
	}
}

/* An ioctl on /dev/rawkv-control; 0 or -errno, errno kept. */
static int ctl_ioctl(unsigned long cmd, void *arg)
{
	int saved = errno, fd, ret = 0;

	fd = open(RAWKV_CONTROL_DEVICE, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, cmd, arg) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	errno = saved;
	return ret;
}

int rawkv_attach(const char *dev, const struct rawkv_attach_opts *opts,
		 unsigned int *id)
{
	struct rawkv_ctl_attach a = { 0 };
	int ret;

	if (!dev || !id || (opts && opts->flags & ~(RAWKV_ATTACH_FORMAT |
						    RAWKV_ATTACH_NO_EVICT)))
		return -EINVAL;
	a.path_ptr = (uintptr_t)dev;
	if (opts) {
		a.flags = opts->flags;
		a.slot_size = opts->slot_size;
		if (opts->checkpoint_ms >= 0) {
			a.flags |= RAWKV_ATTACH_CHECKPOINT;
			a.checkpoint_ms = opts->checkpoint_ms;
		}
	}
	ret = ctl_ioctl(RAWKV_CTL_ATTACH, &a);
	if (!ret)
		*id = a.id;
	return ret;
}

int rawkv_detach(unsigned int id)
{
	struct rawkv_ctl_detach d = { .id = id };

	return ctl_ioctl(RAWKV_CTL_DETACH, &d);
}

int rawkv_store_path(unsigned int id, char *buf, size_t len)
{
	int n;

	if (!buf || id >= RAWKV_STORES_MAX)
		return -EINVAL;
	n = id ? snprintf(buf, len, "/dev/rawkv%u", id) :
		 snprintf(buf, len, "/dev/rawkv");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int rawkv_store_id(const char *path)
{
	const char *p = path;
	bool named = false;
	char *end;
	long id;

	if (!p)
		return -EINVAL;
	if (!strncmp(p, "/dev/", 5))
		p += 5;
	if (!strncmp(p, "rawkv", 5)) {
		p += 5;
		named = true;
		if (!*p)
			return 0;	/* store 0 is "rawkv", never "rawkv0" */
	} else if (p != path) {
		return -EINVAL;
	}
	/* Digits only, no sign, no leading zero. */
	if (*p < '0' || *p > '9' || (*p == '0' && (named || p[1])))
		return -EINVAL;
	id = strtol(p, &end, 10);
	if (*end || id >= RAWKV_STORES_MAX)
		return -EINVAL;
	return id;
}

/* Entries of RAWKV_IOC_LIST come a buffer of this size at a time. */
#define ITER_BUF	(64 * 1024)

struct rawkv_iter {
	struct rawkv *kv;
	uint64_t cursor;	/* of the next RAWKV_IOC_LIST */
	unsigned int count;	/* entries in @buf */
	unsigned int next;	/* the next of them to return */
	size_t off;		/* its offset in @buf */
	unsigned char *buf;
};

int rawkv_iter_open(struct rawkv *kv, struct rawkv_iter **it)
{
	int saved = errno;

	if (!kv || !it)
		return -EINVAL;
	*it = calloc(1, sizeof(**it));
	if (*it)
		(*it)->buf = malloc(ITER_BUF);
	if (!*it || !(*it)->buf) {
		if (*it)
			free(*it);
		*it = NULL;
		errno = saved;
		return -ENOMEM;
	}
	(*it)->kv = kv;
	return 0;
}

int rawkv_iter_next(struct rawkv_iter *it, const void **key, size_t *klen,
		    uint64_t *vlen)
{
	const struct rawkv_list_ent *e;
	int ret;

	if (!it || !key || !klen)
		return -EINVAL;
	while (it->next == it->count) {
		struct rawkv_list l = {
			.cursor = it->cursor, .buf_ptr = (uintptr_t)it->buf,
			.buf_len = ITER_BUF,
		};

		if (it->cursor == RAWKV_LIST_END)
			return 0;
		ret = kv_ioctl(it->kv, RAWKV_IOC_LIST, &l);
		if (ret)
			return ret;
		it->cursor = l.cursor;
		it->count = l.count;
		it->next = 0;
		it->off = 0;
	}
	e = (const struct rawkv_list_ent *)(it->buf + it->off);
	*key = e + 1;
	*klen = e->key_len;
	if (vlen)
		*vlen = e->value_len;
	it->off += RAWKV_LIST_ENT_SIZE(e->key_len);
	it->next++;
	return 1;
}

void rawkv_iter_close(struct rawkv_iter *it)
{
	if (!it)
		return;
	free(it->buf);
	free(it);
}
