// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * librawkv: the asynchronous API, PUT, GET, DELETE and EXISTS as io_uring
 * commands (IORING_OP_URING_CMD, see "io_uring commands" in uapi/rawkv.h),
 * with liburing.
 *
 * A file of its own, so that programs linking librawkv.a statically need
 * -luring only when they use a ring.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <liburing.h>

#include <rawkv.h>	/* the ioctl ABI, uapi/rawkv.h (-I../uapi) */
#include "rawkv.h"	/* the library API, userlib/rawkv.h */
#include "rawkv_priv.h"

/*
 * The asynchronous API. Each operation prepared and not yet reaped owns
 * one entry of ops[]: its struct rawkv_kv, which the kernel reads (and,
 * for GET, writes) until the completion, and the caller's user_data. The
 * entry's index is the SQE's user_data; free entries are on a stack.
 */
struct rawkv_ring_op {
	struct rawkv_kv kv;
	uint64_t user_data;
	size_t *mlen;		/* GET with metadata: where its length goes */
};

struct rawkv_ring {
	struct io_uring ring;
	int fd;			/* the device: not owned */
	int efd;		/* eventfd registered on the ring */
	uint64_t value_max;
	unsigned int depth;
	unsigned int nfree;	/* entries on free[] */
	unsigned int submitted;	/* submitted and not yet reaped */
	unsigned int *free;
	struct rawkv_ring_op *ops;
};

static void ring_free(struct rawkv_ring *r)
{
	free(r->free);
	free(r->ops);
	free(r);
}

int rawkv_ring_open(struct rawkv *kv, unsigned int depth,
		    struct rawkv_ring **ring)
{
	int saved = errno, ret;
	struct rawkv_stat st;
	struct rawkv_ring *r;
	unsigned int i;

	if (!ring)
		return -EINVAL;
	*ring = NULL;
	if (!kv || depth < 1 || depth > RAWKV_RING_DEPTH_MAX)
		return -EINVAL;
	ret = rawkv_stat(kv, &st);
	if (ret)
		return ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		goto out_nomem;
	r->ops = calloc(depth, sizeof(*r->ops));
	r->free = calloc(depth, sizeof(*r->free));
	if (!r->ops || !r->free) {
		ring_free(r);
		goto out_nomem;
	}
	r->fd = kv->fd;
	r->depth = depth;
	r->value_max = st.value_max;
	for (i = 0; i < depth; i++)
		r->free[i] = depth - 1 - i;
	r->nfree = depth;

	/* depth SQEs, 2 * depth CQEs: the CQ cannot overflow. */
	ret = io_uring_queue_init(depth, &r->ring, 0);
	if (ret)
		goto out_free;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		ret = -errno;
		goto out_exit;
	}
	ret = io_uring_register_eventfd(&r->ring, r->efd);
	if (ret)
		goto out_close_efd;
	*ring = r;
	errno = saved;
	return 0;

out_close_efd:
	close(r->efd);
out_exit:
	io_uring_queue_exit(&r->ring);
out_free:
	ring_free(r);
	errno = saved;
	return ret;
out_nomem:
	errno = saved;
	return -ENOMEM;
}

/* Take the completion at the head of the CQ; its entry becomes free. */
static void ring_take(struct rawkv_ring *r, struct io_uring_cqe *cqe,
		      struct rawkv_completion *c)
{
	uint64_t idx = cqe->user_data;

	if (idx < r->depth) {
		struct rawkv_ring_op *op = &r->ops[idx];

		c->user_data = op->user_data;
		kv_meta_len_out(op->mlen, cqe->res, op->kv.meta_len);
		r->free[r->nfree++] = idx;
	} else {
		/* Not ours: cannot happen; report it rather than lose it. */
		c->user_data = idx;
	}
	c->result = cqe->res;
	io_uring_cqe_seen(&r->ring, cqe);
	r->submitted--;
}

void rawkv_ring_close(struct rawkv_ring *r)
{
	int saved = errno;

	if (!r)
		return;
	/* Everything submitted writes into ops[]: wait for all of it. */
	while (r->submitted) {
		struct rawkv_completion c;
		struct io_uring_cqe *cqe;
		int ret = io_uring_wait_cqe(&r->ring, &cqe);

		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret)
			break;
		ring_take(r, cqe, &c);
	}
	io_uring_queue_exit(&r->ring);
	close(r->efd);
	/*
	 * Could not wait (never seen): the kernel may still write val_len
	 * into ops[], so leave it allocated rather than free it.
	 */
	if (r->submitted)
		r->ops = NULL;
	ring_free(r);
	errno = saved;
}

int rawkv_ring_eventfd(struct rawkv_ring *r)
{
	return r ? r->efd : -EINVAL;
}

/* Prepare one command: an entry of ops[] and an SQE. */
static int ring_prep(struct rawkv_ring *r, unsigned int cmd,
		     const struct rawkv_kv *kv, size_t *mlen,
		     uint64_t user_data)
{
	struct rawkv_uring_cmd uc = { .kv_ptr = 0 };
	struct io_uring_sqe *sqe;
	unsigned int idx;

	if (!r->nfree)
		return -EBUSY;
	sqe = io_uring_get_sqe(&r->ring);
	if (!sqe)
		return -EBUSY;	/* cannot happen: depth SQEs at least */
	idx = r->free[--r->nfree];
	r->ops[idx].kv = *kv;
	r->ops[idx].user_data = user_data;
	r->ops[idx].mlen = mlen;

	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = r->fd;
	sqe->cmd_op = cmd;
	sqe->user_data = idx;
	uc.kv_ptr = (uintptr_t)&r->ops[idx].kv;
	memcpy(sqe->cmd, &uc, sizeof(uc));
	return 0;
}

static int ring_check(const struct rawkv_ring *r, size_t klen)
{
	return r && klen >= 1 && klen <= RAWKV_KEY_MAX ? 0 : -EINVAL;
}

int rawkv_ring_put_meta(struct rawkv_ring *r, const void *key, size_t klen,
			const void *val, size_t vlen, const void *meta,
			size_t mlen, unsigned int flags, uint64_t user_data)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key,
		.val_ptr = (uintptr_t)val,
		.key_len = klen,
		.flags = flags,
		.val_len = vlen,
		.meta_ptr = mlen ? (uintptr_t)meta : 0,
		.meta_len = mlen,
	};
	int ret = ring_check(r, klen);

	if (ret)
		return ret;
	if (flags & ~RAWKV_PUT_SYNC)
		return -EINVAL;
	if (vlen > r->value_max)
		return -E2BIG;
	if (mlen > RAWKV_META_MAX)
		return -EMSGSIZE;
	return ring_prep(r, RAWKV_IOC_PUT, &kv, NULL, user_data);
}

int rawkv_ring_put(struct rawkv_ring *r, const void *key, size_t klen,
		   const void *val, size_t vlen, uint64_t user_data)
{
	return rawkv_ring_put_meta(r, key, klen, val, vlen, NULL, 0, 0,
				   user_data);
}

int rawkv_ring_put_sync(struct rawkv_ring *r, const void *key, size_t klen,
			const void *val, size_t vlen, uint64_t user_data)
{
	return rawkv_ring_put_meta(r, key, klen, val, vlen, NULL, 0,
				   RAWKV_PUT_SYNC, user_data);
}

int rawkv_ring_get_meta(struct rawkv_ring *r, const void *key, size_t klen,
			void *buf, size_t buflen, void *meta, size_t *mlen,
			uint64_t user_data)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key,
		.val_ptr = buflen ? (uintptr_t)buf : 0,
		.key_len = klen,
		.val_len = buflen,
		.meta_ptr = mlen ? (uintptr_t)meta : 0,
		.meta_len = kv_meta_buflen(mlen),
	};

	if (mlen && !*mlen)
		return -EINVAL;
	return ring_check(r, klen) ?:
	       ring_prep(r, RAWKV_IOC_GET, &kv, mlen, user_data);
}

int rawkv_ring_get(struct rawkv_ring *r, const void *key, size_t klen,
		   void *buf, size_t buflen, uint64_t user_data)
{
	return rawkv_ring_get_meta(r, key, klen, buf, buflen, NULL, NULL,
				   user_data);
}

int rawkv_ring_delete(struct rawkv_ring *r, const void *key, size_t klen,
		      uint64_t user_data)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key,
		.key_len = klen,
	};

	return ring_check(r, klen) ?:
	       ring_prep(r, RAWKV_IOC_DELETE, &kv, NULL, user_data);
}

int rawkv_ring_exists(struct rawkv_ring *r, const void *key, size_t klen,
		      uint64_t user_data)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key,
		.key_len = klen,
	};

	return ring_check(r, klen) ?:
	       ring_prep(r, RAWKV_IOC_EXISTS, &kv, NULL, user_data);
}

int rawkv_ring_submit(struct rawkv_ring *r)
{
	int saved = errno, ret;

	if (!r)
		return -EINVAL;
	ret = io_uring_submit(&r->ring);
	if (ret > 0)
		r->submitted += ret;
	errno = saved;
	return ret;
}

int rawkv_ring_reap(struct rawkv_ring *r, struct rawkv_completion *c,
		    unsigned int max, unsigned int wait_min)
{
	int saved = errno, ret = 0;
	unsigned int n = 0;

	if (!r || (!c && max) || wait_min > max || wait_min > r->submitted)
		return -EINVAL;
	while (n < max && r->submitted) {
		struct io_uring_cqe *cqe;

		if (n < wait_min)
			ret = io_uring_wait_cqe(&r->ring, &cqe);
		else
			ret = io_uring_peek_cqe(&r->ring, &cqe);
		if (ret)
			break;
		ring_take(r, cqe, &c[n++]);
	}
	errno = saved;
	/* -EAGAIN from the peek: nothing more is ready. */
	if (ret && ret != -EAGAIN && !n)
		return ret;
	return n;
}
