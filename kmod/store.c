// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the commands -- PUT, GET, DELETE, FLUSH, STAT -- on top of the
 * in-memory index (index.c) and the metadata protocol (meta.c).
 *
 * The index holds a 64-bit fingerprint of each key, not the key: the
 * whole key is in the slot header, and every read checks it there. Two
 * keys may share a fingerprint: a GET tries each entry with its
 * fingerprint until a slot header holds its key; a PUT or DELETE reads the
 * headers of the entries with its fingerprint (a PUT while its own value
 * is being written) to find the one that holds its key. PUTs and DELETEs
 * of one fingerprint run one at a time, so the table never holds two
 * entries for one key.
 *
 * A PUT takes a free slot (evicting the least recently used entries when
 * there is none), writes the slot header and value with no lock held,
 * then publishes its entry; a sync PUT then commits. A GET pins the
 * entry, reads the slot with no lock held and checks that it still holds
 * that value. A slot never goes back on the free list while a GET may read
 * it or a PUT is writing it.
 *
 * The commands take kernel keys and user value buffers, and run as begin +
 * end so that a batch can have all its I/O in flight at once; any transport
 * (the ioctls in main.c today) can call them.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/highmem.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "rawkv.h"
#include "../uapi/rawkv.h"

static u64 rawkv_fp(struct rawkv_dev *kd, const u8 *key, unsigned int klen)
{
	/* fp_mask is all ones, except when a test forces collisions. */
	return siphash(key, klen, &kd->fp_key) & READ_ONCE(kd->fp_mask);
}

static void rawkv_unpin_locked(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	if (rawkv_index_unpin(&kd->ix, e))
		rawkv_slot_event(kd);
}

static void rawkv_unpin(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	spin_lock(&kd->ix.lock);
	rawkv_unpin_locked(kd, e);
	spin_unlock(&kd->ix.lock);
}

int rawkv_store_init(struct rawkv_dev *kd)
{
	int ret;

	BUILD_BUG_ON(RAWKV_SLOT_SIZE_MAX - RAWKV_BLOCK_SIZE >=
		     1U << RAWKV_VALUE_LEN_BITS);
	/* The header and its user metadata fit the header block. */
	BUILD_BUG_ON(sizeof(struct rawkv_slot_hdr) > RAWKV_SLOT_META_OFF);
	BUILD_BUG_ON(RAWKV_SLOT_HDR_BYTES > RAWKV_BLOCK_SIZE);
	BUILD_BUG_ON(RAWKV_META_MAX != RAWKV_META_LEN_MAX);
	ret = rawkv_index_init(&kd->ix, kd->geo.slot_count,
			       RAWKV_META_PER_BLOCK);
	if (ret)
		return ret;
	/*
	 * Fingerprints must stay the same across loads and machines: key
	 * them by the uuid, read as two little-endian u64.
	 */
	kd->fp_key.key[0] = get_unaligned_le64(kd->geo.uuid);
	kd->fp_key.key[1] = get_unaligned_le64(kd->geo.uuid + 8);
	kd->fp_mask = U64_MAX;
	/* A quarter of the log: a commit always fits (see meta.c). */
	kd->dirty_max = kd->geo.log_blocks / 4 * RAWKV_LOG_RECS_PER_BLOCK;
	kd->next_gen = 1;
	INIT_LIST_HEAD(&kd->fp_busy);
	init_waitqueue_head(&kd->slot_wait);
	return 0;
}

void rawkv_store_free(struct rawkv_dev *kd)
{
	rawkv_index_free(&kd->ix);
}

/* Most entries one eviction removes: each is a record of the next commit. */
#define RAWKV_EVICT_MAX		1024U

/*
 * Evict the least recently used entries that no GET is reading, a batch of
 * 1/256 of the slots (at most RAWKV_EVICT_MAX), so that one commit frees
 * many slots. Returns how many were evicted.
 */
static u32 rawkv_evict_batch(struct rawkv_dev *kd)
{
	return clamp(kd->geo.slot_count / 256, 1U, RAWKV_EVICT_MAX);
}

static u32 rawkv_evict(struct rawkv_dev *kd)
{
	struct rawkv_index *ix = &kd->ix;
	u32 batch = rawkv_evict_batch(kd), n = 0, slot, next;

	lockdep_assert_held(&ix->lock);
	for (slot = ix->lru_head; slot != RAWKV_NIL && n < batch;
	     slot = next) {
		struct rawkv_entry *e = rawkv_ent(ix, slot);

		next = e->next;
		if (e->pins)
			continue;
		rawkv_index_remove(ix, e);
		n++;
	}
	rawkv_count(kd, RAWKV_C_EVICTIONS, n);
	return n;
}

static bool rawkv_fp_is_busy(struct rawkv_dev *kd, u64 fp)
{
	struct rawkv_fp_lock *l;

	lockdep_assert_held(&kd->ix.lock);
	list_for_each_entry(l, &kd->fp_busy, node)
		if (l->fp == fp)
			return true;
	return false;
}

/*
 * Wait until no other PUT or DELETE of fingerprint @fp is in flight, then
 * claim it. With @nowait, -EAGAIN instead of waiting: the caller holds
 * requests in flight it must complete first.
 */
static int rawkv_fp_claim(struct rawkv_dev *kd, struct rawkv_fp_lock *l,
			  u64 fp, bool nowait)
{
	u64 seen;

	spin_lock(&kd->ix.lock);
	while (rawkv_fp_is_busy(kd, fp)) {
		seen = kd->slot_events;
		spin_unlock(&kd->ix.lock);
		if (nowait)
			return -EAGAIN;
		if (wait_event_interruptible(kd->slot_wait,
					     READ_ONCE(kd->slot_events) != seen))
			return -EINTR;
		spin_lock(&kd->ix.lock);
	}
	l->fp = fp;
	list_add(&l->node, &kd->fp_busy);
	spin_unlock(&kd->ix.lock);
	return 0;
}

static void rawkv_fp_release(struct rawkv_dev *kd, struct rawkv_fp_lock *l)
{
	lockdep_assert_held(&kd->ix.lock);
	list_del(&l->node);
	rawkv_slot_event(kd);
}

/*
 * Take a free slot for a PUT, and a generation. First, when the changes
 * not yet committed come near what one commit may take, commit them.
 * When no slot is free: commit if that frees slots from limbo, else
 * evict the least recently used entries that no GET is reading
 * (evict=1), else wait for a request in flight to give a slot back (or,
 * with @nowait, return -EAGAIN). Without eviction, -ENOSPC means every
 * slot holds a live value.
 */
static int rawkv_slot_get(struct rawkv_dev *kd, u32 *slot, u64 *gen,
			  bool nowait)
{
	struct rawkv_index *ix = &kd->ix;
	u32 room = rawkv_evict_batch(kd) + 2;
	bool committed = false;
	u64 seen;
	int ret;

	spin_lock(&ix->lock);
	for (;;) {
		if (!committed && (ix->nr_dirty + room > kd->dirty_max ||
				   (!ix->free.count &&
				    (ix->limbo.count || ix->committing.count)))) {
			spin_unlock(&ix->lock);
			ret = rawkv_commit(kd, U64_MAX);
			if (ret)
				return ret;
			committed = true;
			spin_lock(&ix->lock);
			continue;
		}
		if (ix->free.count) {
			*slot = rawkv_slot_pop(ix, &ix->free);
			*gen = kd->next_gen++;
			spin_unlock(&ix->lock);
			return 0;
		}
		if (kd->evict && rawkv_evict(kd)) {
			committed = false;
			continue;
		}
		if (!rawkv_index_busy(ix) &&
		    (!kd->evict || ix->lru_head == RAWKV_NIL)) {
			spin_unlock(&ix->lock);
			return -ENOSPC;
		}
		/* Requests in flight hold slots: wait for one to finish. */
		seen = kd->slot_events;
		spin_unlock(&ix->lock);
		if (nowait)
			return -EAGAIN;
		if (wait_event_interruptible(kd->slot_wait,
					     READ_ONCE(kd->slot_events) != seen))
			return -EINTR;
		committed = false;
		spin_lock(&ix->lock);
	}
}

/*
 * Fill the slot header in @page, a zeroed page that holds the value's
 * @mlen bytes of user metadata, if any, in its struct rawkv_slot_meta
 * (rawkv_put_prepare()).
 */
static void rawkv_fill_slot_hdr(struct rawkv_dev *kd, struct page *page,
				u32 slot, u64 gen, const u8 *key,
				unsigned int klen, u64 vlen, u32 crc,
				unsigned int mlen)
{
	struct rawkv_slot_hdr *h = page_address(page);
	struct rawkv_slot_meta *m = page_address(page) + RAWKV_SLOT_META_OFF;

	h->magic = cpu_to_le64(RAWKV_SLOT_MAGIC);
	h->gen = cpu_to_le64(gen);
	h->value_len = cpu_to_le64(vlen);
	h->slot = cpu_to_le32(slot);
	h->value_crc = cpu_to_le32(crc);
	memcpy(h->uuid, kd->geo.uuid, sizeof(h->uuid));
	h->key_len = cpu_to_le16(klen);
	memcpy(h->key, key, klen);
	if (mlen)
		h->flags = cpu_to_le16(RAWKV_SLOT_HAS_META);
	h->crc = cpu_to_le32(rawkv_crc(h, sizeof(*h)));
	if (mlen) {
		m->len = cpu_to_le16(mlen);
		m->crc = cpu_to_le32(rawkv_slot_meta_crc(h, m));
	}
}

/*
 * Check the header read from @e's slot. Returns 0 when it holds @e's value
 * of @key (*r has the value's crc32c and user metadata), -EXDEV when it
 * holds @e's value of another key with the same fingerprint, -ENOENT when
 * the slot holds another value, -EIO when the header is damaged. *why
 * says what is wrong.
 */
static int rawkv_check_slot_hdr(struct rawkv_dev *kd, struct rawkv_entry *e,
				const struct rawkv_slot_hdr *h, const u8 *key,
				unsigned int klen, struct rawkv_rec *r,
				const char **why)
{
	*why = rawkv_decode_slot_hdr(&kd->geo, h, rawkv_slot_of(&kd->ix, e), r);
	if (*why)
		return -EIO;
	*why = "slot holds another value";
	if (r->gen != e->gen || r->value_len != e->value_len ||
	    rawkv_fp(kd, r->key, r->key_len) != e->fp)
		return -ENOENT;
	if (r->key_len != klen || memcmp(r->key, key, klen))
		return -EXDEV;
	return 0;
}

/*
 * Give the caller the user metadata of a header that proved to hold its
 * value: 0, -ERANGE when @um's buffer is too small (um->len says how
 * large), or -EFAULT.
 */
static int rawkv_umeta_copy(struct rawkv_umeta *um, const struct rawkv_rec *r)
{
	um->len = r->meta_len;
	um->known = true;
	if (r->meta_len > um->buflen)
		return -ERANGE;
	if (r->meta_len && copy_to_user(um->buf, r->meta, r->meta_len))
		return -EFAULT;
	return 0;
}

/*
 * Start reading the header blocks of the @n entries in @slots, pinned,
 * into @pages. The reads complete into @io.
 */
static void rawkv_read_hdrs(struct rawkv_dev *kd, struct rawkv_io *io,
			    const u32 *slots, unsigned int n,
			    struct page **pages)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		rawkv_io_start(io, rawkv_slot_pos(kd, slots[i]), REQ_OP_READ, 1);
		rawkv_io_add(io, pages[i], kd->hdr_len, 0);
	}
	rawkv_io_send(io);
}

/*
 * Of the pinned candidates whose headers are in @pages, the one holding
 * @key and still live with the generation it had: that entry, or NULL.
 * Unpins every candidate.
 */
static struct rawkv_entry *rawkv_match_key(struct rawkv_dev *kd,
					   struct rawkv_cand *c,
					   const u8 *key, unsigned int klen,
					   bool io_ok)
{
	struct rawkv_entry *found = NULL;
	unsigned int i;

	lockdep_assert_held(&kd->ix.lock);
	for (i = 0; i < c->n; i++) {
		struct rawkv_entry *e = rawkv_ent(&kd->ix, c->slots[i]);
		struct rawkv_rec r;
		const char *why;
		int ret;

		if (io_ok && e->state == RAWKV_E_LIVE && e->gen == c->gens[i]) {
			ret = rawkv_check_slot_hdr(kd, e,
						   page_address(c->pages[i]),
						   key, klen, &r, &why);
			if (!ret) {
				found = e;
				c->rec = r;
			}
			c->damaged |= ret == -EIO;
		}
		rawkv_unpin_locked(kd, e);
	}
	return found;
}

/* Pin the live entries with fingerprint @fp: 0, or -EBUSY pinning none. */
static int rawkv_cand_get(struct rawkv_dev *kd, struct rawkv_cand *c, u64 fp)
{
	unsigned int i;

	lockdep_assert_held(&kd->ix.lock);
	c->n = rawkv_index_find(&kd->ix, fp, c->slots, RAWKV_MAX_SAME_FP, NULL, 0);
	for (i = 0; i < c->n; i++) {
		struct rawkv_entry *e = rawkv_ent(&kd->ix, c->slots[i]);

		if (!rawkv_index_pin(&kd->ix, e)) {
			while (i--)
				rawkv_unpin_locked(kd, rawkv_ent(&kd->ix, c->slots[i]));
			c->n = 0;
			return -EBUSY;
		}
		c->gens[i] = e->gen;
	}
	return 0;
}

static int rawkv_cand_pages(struct rawkv_cand *c)
{
	unsigned int i;

	for (i = 0; i < c->n; i++) {
		c->pages[i] = alloc_page(GFP_KERNEL);
		if (!c->pages[i])
			return -ENOMEM;
	}
	return 0;
}

static void rawkv_cand_free_pages(struct rawkv_cand *c)
{
	unsigned int i;

	for (i = 0; i < RAWKV_MAX_SAME_FP; i++)
		if (c->pages[i])
			__free_page(c->pages[i]);
	memset(c->pages, 0, sizeof(c->pages));
}

/*
 * The live entry holding @key among those with fingerprint @fp, found by
 * reading their slot headers, or NULL (*err says if the reads failed).
 * Returns with the index lock held; free @c's pages after unlocking.
 */
static struct rawkv_entry *rawkv_find_key(struct rawkv_dev *kd, u64 fp,
					  const u8 *key, unsigned int klen,
					  struct rawkv_cand *c, int *err)
	__acquires(&kd->ix.lock)
{
	struct rawkv_io io;
	int ret;

	spin_lock(&kd->ix.lock);
	ret = rawkv_cand_get(kd, c, fp);
	spin_unlock(&kd->ix.lock);
	if (!ret)
		ret = rawkv_cand_pages(c);
	if (!ret && c->n) {
		rawkv_io_init(&io, kd);
		rawkv_read_hdrs(kd, &io, c->slots, c->n, c->pages);
		ret = rawkv_io_wait(&io);
	}
	spin_lock(&kd->ix.lock);
	*err = ret;
	return rawkv_match_key(kd, c, key, klen, !ret);
}

/*
 * Submit the value of @rq to or from its slot at byte @pos, all its bios in
 * flight together; with @hdr, the header block too, in the same bio as the
 * value's first blocks.
 */
static void rawkv_submit_slot(struct rawkv_req *rq, u64 pos, blk_opf_t opf,
			      bool hdr)
{
	struct blk_plug plug;

	blk_start_plug(&plug);
	if (hdr) {
		rawkv_io_start(&rq->io, pos, opf, rq->vb.nr_bv + 1);
		rawkv_io_add(&rq->io, rq->hdr, RAWKV_BLOCK_SIZE, 0);
	} else {
		rawkv_io_start(&rq->io, pos + RAWKV_BLOCK_SIZE, opf,
			       rq->vb.nr_bv);
	}
	rawkv_vbuf_io(&rq->vb, &rq->io);
	rawkv_io_send(&rq->io);
	blk_finish_plug(&plug);
	rq->busy = true;
}

/*
 * Segments per GET piece: an eighth of the value, from 16 segments
 * (64 KiB) to 64 (256 KiB). Smaller pieces leave less checksum work after
 * the last completion (an eighth of a 1 MiB value); larger ones cost fewer
 * bios, and below 64 KiB a bio costs more than the checksum it would hide.
 */
static unsigned int rawkv_piece_segs(unsigned int nr_bv)
{
	return clamp(nr_bv / 8, 16U, 64U);
}

/*
 * Submit the read of @rq's slot header and value at byte @pos in pieces
 * (the header in the first), every bio in flight together; of the header
 * block, only the header's logical blocks (struct rawkv_dev's @hdr_len).
 * rawkv_get_end() waits for the pieces in order and checksums each as it
 * completes.
 */
static int rawkv_get_submit(struct rawkv_dev *kd, struct rawkv_req *rq,
			    u64 pos)
{
	unsigned int per = rawkv_piece_segs(rq->vb.nr_bv);
	unsigned int nr = max(DIV_ROUND_UP(rq->vb.nr_bv, per), 1U);
	unsigned int i, seg = 0;
	struct blk_plug plug;

	rq->pieces = kvmalloc_array(nr, sizeof(*rq->pieces), GFP_KERNEL);
	if (!rq->pieces)
		return -ENOMEM;
	rq->nr_pieces = nr;
	blk_start_plug(&plug);
	for (i = 0; i < nr; i++) {
		struct rawkv_piece *p = &rq->pieces[i];
		unsigned int end = min(seg + per, rq->vb.nr_bv);

		rawkv_io_init(&p->io, kd);
		if (!i) {
			rawkv_io_start(&p->io, pos, REQ_OP_READ, end + 1);
			rawkv_io_add(&p->io, rq->hdr, kd->hdr_len, 0);
			pos += RAWKV_BLOCK_SIZE;
			/* A header shorter than its block: the value starts a bio. */
			if (kd->hdr_len < RAWKV_BLOCK_SIZE)
				rawkv_io_start(&p->io, pos, REQ_OP_READ, end);
		} else {
			rawkv_io_start(&p->io, pos, REQ_OP_READ, end - seg);
		}
		for (; seg < end; seg++)
			rawkv_io_add(&p->io, rq->vb.bv[seg].bv_page,
				     rq->vb.bv[seg].bv_len,
				     rq->vb.bv[seg].bv_offset);
		rawkv_io_send(&p->io);
		pos = p->io.pos;
		p->seg_end = seg;
	}
	blk_finish_plug(&plug);
	rq->busy = true;
	return 0;
}

/*
 * Wait for the pieces of a GET in order, computing the value's crc32c
 * piece by piece as each completes: only the last piece's checksum follows
 * the last completion. Returns 0 or the first I/O error (every piece is
 * waited for either way); *crc is valid on 0.
 */
static int rawkv_get_wait(struct rawkv_req *rq, u32 *crc)
{
	u64 left = rq->vb.len;
	unsigned int i, seg = 0;
	int ret = 0;

	*crc = ~0U;
	for (i = 0; i < rq->nr_pieces; i++) {
		struct rawkv_piece *p = &rq->pieces[i];

		ret = rawkv_io_wait(&p->io) ?: ret;
		if (!ret)
			*crc = rawkv_vbuf_crc_segs(&rq->vb, *crc, seg,
						   p->seg_end, &left);
		seg = p->seg_end;
	}
	kvfree(rq->pieces);
	rq->pieces = NULL;
	rq->nr_pieces = 0;
	return ret;
}

/*
 * Write the value of a PUT, then its slot header: the value's bios go out
 * first and its crc32c, which the header holds, is computed while they
 * are in flight. Only the header's logical blocks are written.
 */
static void rawkv_put_write(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	u64 pos = rawkv_slot_pos(kd, rq->slot);

	rawkv_submit_slot(rq, pos, RAWKV_OPF_WRITE, false);
	rawkv_fill_slot_hdr(kd, rq->hdr, rq->slot, rq->gen, rq->key, rq->klen,
			    rq->vlen, rawkv_vbuf_crc(&rq->vb), rq->meta_len);
	rawkv_io_start(&rq->io, pos, RAWKV_OPF_WRITE, 1);
	rawkv_io_add(&rq->io, rq->hdr, kd->hdr_len, 0);
	rawkv_io_send(&rq->io);
}

/*
 * Prepare a PUT: check it, and pin or copy the caller's memory. This comes
 * before the PUT takes a slot (rawkv_put_submit()), so that no slot and no
 * fingerprint is held while a page fault the caller controls is served. A
 * batch prepares every operation before submitting any. The @mlen bytes
 * of user metadata at @meta (kernel memory, at most RAWKV_META_LEN_MAX)
 * go into the header block now. On failure rq->ret holds the error;
 * rawkv_put_end() still cleans up.
 */
void rawkv_put_prepare(struct rawkv_dev *kd, struct rawkv_req *rq,
		       const u8 *key, unsigned int klen,
		       const void __user *val, u64 vlen, const u8 *meta,
		       unsigned int mlen, bool sync)
{
	struct rawkv_slot_meta *m;
	int ret;

	memset(rq, 0, sizeof(*rq));
	rq->sync = sync;
	rq->key = key;
	rq->klen = klen;
	ret = -E2BIG;
	if (vlen > kd->geo.value_max)
		goto out_fail;
	ret = -EMSGSIZE;
	if (mlen > RAWKV_META_LEN_MAX)
		goto out_fail;
	ret = -ENOMEM;
	rq->hdr = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!rq->hdr)
		goto out_fail;
	m = page_address(rq->hdr) + RAWKV_SLOT_META_OFF;
	memcpy(m->data, meta, mlen);
	rq->meta_len = mlen;
	ret = rawkv_vbuf_init(kd, &rq->vb, (void __user *)val, vlen, true,
			      false);
	if (ret)
		goto out_fail;
	rq->vlen = vlen;
	return;

out_fail:
	rq->ret = ret;
}

/* Bounce bytes a prepared PUT holds. */
u64 rawkv_put_bounce_bytes(struct rawkv_req *rq)
{
	return (u64)rq->vb.nr_bounce << RAWKV_BLOCK_SHIFT;
}

/*
 * Submit a prepared PUT: claim the key's fingerprint and a slot (taking a
 * generation), then send the reads of the headers of the entries that
 * share the fingerprint (to tell which one holds the key) and the value,
 * and, once the value's crc32c is computed while those are in flight, its
 * slot header.
 *
 * On return rq->busy says whether rawkv_put_end() has I/O to wait for, and
 * rq->ret holds any error so far: with @nowait, -EAGAIN means "complete
 * the caller's other requests first, then call this again".
 */
void rawkv_put_submit(struct rawkv_dev *kd, struct rawkv_req *rq, bool nowait)
{
	u64 fp = rawkv_fp(kd, rq->key, rq->klen);
	int ret;

	if (rq->ret && rq->ret != -EAGAIN)
		return;
	rq->ret = 0;
	ret = rawkv_fp_claim(kd, &rq->fpl, fp, nowait);
	if (ret)
		goto out_fail;
	ret = rawkv_slot_get(kd, &rq->slot, &rq->gen, nowait);
	if (ret)
		goto out_release_fp;
	spin_lock(&kd->ix.lock);
	ret = rawkv_cand_get(kd, &rq->cand, fp);
	if (ret) {
		/* The slot never held anything: straight back. */
		rawkv_slot_push(&kd->ix, &kd->ix.free, rq->slot);
		rawkv_slot_event(kd);
		spin_unlock(&kd->ix.lock);
		goto out_release_fp;
	}
	spin_unlock(&kd->ix.lock);
	rq->claimed = true;

	ret = rawkv_cand_pages(&rq->cand);
	if (ret)
		goto out_fail;
	rawkv_io_init(&rq->io, kd);
	rawkv_read_hdrs(kd, &rq->io, rq->cand.slots, rq->cand.n,
			rq->cand.pages);
	rawkv_put_write(kd, rq);
	return;

out_release_fp:
	spin_lock(&kd->ix.lock);
	rawkv_fp_release(kd, &rq->fpl);
	spin_unlock(&kd->ix.lock);
out_fail:
	rq->ret = ret;
}

/*
 * Finish a PUT: wait for its bios, then publish the value in place of the
 * entry that held the key, if any. A failed PUT gives its slot back: no
 * commit ever referenced it. A sync PUT then commits, sharing the commit
 * with any other committer waiting at the same time.
 */
int rawkv_put_end(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	struct rawkv_index *ix = &kd->ix;
	struct rawkv_entry *old;
	u64 changes = 0;
	int ret = rq->ret;

	if (rq->busy)
		ret = rawkv_io_wait(&rq->io) ?: ret;
	if (rq->claimed) {
		spin_lock(&ix->lock);
		old = rawkv_match_key(kd, &rq->cand, rq->key, rq->klen, !ret);
		if (ret) {
			rawkv_slot_push(ix, &ix->free, rq->slot);
		} else {
			if (old)
				rawkv_index_remove(ix, old);
			rawkv_index_insert(ix, rq->slot, rq->fpl.fp, rq->gen,
					   rq->vlen, rq->sync);
			changes = ix->changes;
		}
		rawkv_fp_release(kd, &rq->fpl);
		spin_unlock(&ix->lock);
		if (!ret) {
			rawkv_count(kd, RAWKV_C_PUTS, 1);
			rawkv_vbuf_account(kd, &rq->vb);
		}
	}
	rawkv_vbuf_release(&rq->vb, false);
	rawkv_cand_free_pages(&rq->cand);
	if (rq->hdr)
		__free_page(rq->hdr);
	rq->hdr = NULL;
	if (!ret && rq->sync &&
	    !rawkv_fault_strip(kd, RAWKV_STRIP_SYNC_COMMIT))
		ret = rawkv_commit(kd, changes);
	return ret;
}

/*
 * PUT: the whole request in order --
 *   1. check the size, pin or copy the caller's buffer	(prepare)
 *   2. claim the key's fingerprint, then a slot and a generation,
 *      committing or evicting first if needed		(submit)
 *   3. read the headers of the entries sharing the fingerprint, write
 *      the value; compute its crc32c while those are in flight, then
 *      write the slot header that holds it			(submit)
 *   4. wait; publish the entry, replacing the key's old one	(end)
 *   5. sync: commit					(end)
 */
int rawkv_put(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      const void __user *val, u64 vlen, const u8 *meta,
	      unsigned int mlen, bool sync)
{
	struct rawkv_req rq;

	rawkv_put_prepare(kd, &rq, key, klen, val, vlen, meta, mlen, sync);
	rawkv_put_submit(kd, &rq, false);
	return rawkv_put_end(kd, &rq);
}

/* Drop @e after its slot proved not to hold its value. */
static void rawkv_drop_stale(struct rawkv_dev *kd, struct rawkv_entry *e,
			     const char *why)
{
	bool dropped = false;

	spin_lock(&kd->ix.lock);
	if (e->state == RAWKV_E_LIVE) {
		rawkv_index_remove(&kd->ix, e);
		dropped = true;
	}
	spin_unlock(&kd->ix.lock);
	if (dropped) {
		rawkv_count(kd, RAWKV_C_STALE_DROPPED, 1);
		rawkv_warn_rl(kd, "slot %u: %s; key dropped\n",
			      rawkv_slot_of(&kd->ix, e), why);
	}
}

/*
 * Start a GET: find the next entry with the key's fingerprint and submit
 * the read of its slot header and value together. On return, rq->busy says
 * whether rawkv_get_end() has I/O to wait for; otherwise rq->ret is the
 * result (0 for a length query, -ENOENT, -ERANGE) and rq->vlen the value
 * length when the key exists. A length query trusts the fingerprint.
 */
void rawkv_get_begin(struct rawkv_dev *kd, struct rawkv_req *rq,
		     const u8 *key, unsigned int klen, void __user *buf,
		     u64 buflen, struct rawkv_umeta *um)
{
	u64 fp = rawkv_fp(kd, key, klen);
	struct rawkv_entry *e;
	unsigned int tried = rq->cand.n;
	u32 slot;
	int ret;

	if (!tried) {
		memset(rq, 0, sizeof(*rq));
		rawkv_count(kd, RAWKV_C_GETS, 1);
	}
	rq->um = um;
	rq->key = key;
	rq->klen = klen;
	rq->ubuf = buf;
	rq->buflen = buflen;
	spin_lock(&kd->ix.lock);
	if (tried == RAWKV_MAX_SAME_FP ||
	    !rawkv_index_find(&kd->ix, fp, &slot, 1, rq->cand.slots, tried)) {
		spin_unlock(&kd->ix.lock);
		rawkv_count(kd, RAWKV_C_MISSES, 1);
		rq->ret = -ENOENT;
		return;
	}
	e = rawkv_ent(&kd->ix, slot);
	rq->cand.slots[rq->cand.n++] = slot;
	rawkv_index_touch(&kd->ix, e);
	rq->vlen = e->value_len;
	if (!buflen || buflen < e->value_len) {
		spin_unlock(&kd->ix.lock);
		rawkv_count(kd, RAWKV_C_HITS, 1);
		rq->ret = buflen ? -ERANGE : 0;
		return;
	}
	if (!rawkv_index_pin(&kd->ix, e)) {
		spin_unlock(&kd->ix.lock);
		rq->ret = -EBUSY;
		return;
	}
	spin_unlock(&kd->ix.lock);
	rq->e = e;

	ret = -ENOMEM;
	if (!rq->hdr)
		rq->hdr = alloc_page(GFP_KERNEL_ACCOUNT);
	if (!rq->hdr)
		goto out_fail;
	ret = rawkv_vbuf_init(kd, &rq->vb, buf, e->value_len, false, false);
	if (ret)
		goto out_fail;
	ret = rawkv_get_submit(kd, rq, rawkv_slot_pos(kd, slot));
	if (ret) {
		rawkv_vbuf_release(&rq->vb, false);
		goto out_fail;
	}
	return;

out_fail:
	rq->ret = ret;
}

/*
 * Check what a GET read: 0 when the header proves the slot holds this
 * key's value and the value's crc32c, @value_crc as read, matches; -EXDEV for another key's
 * value (same fingerprint); -ENOENT or -EIO with *why otherwise.
 * *value_bad tells a value checksum mismatch.
 */
static int rawkv_get_verify(struct rawkv_dev *kd, struct rawkv_req *rq,
			    u32 value_crc, const char **why, bool *value_bad)
{
	struct rawkv_rec r;
	int ret;

	*value_bad = false;
	ret = rawkv_check_slot_hdr(kd, rq->e, page_address(rq->hdr), rq->key,
				   rq->klen, &r, why);
	if (!ret && value_crc != r.value_crc) {
		*why = "value checksum mismatch";
		*value_bad = true;
		ret = -EIO;
	}
	if (!ret && rq->um)
		ret = rawkv_umeta_copy(rq->um, &r);
	return ret;
}

/*
 * The value read straight into the caller's pages did not verify. The
 * caller (or a device copying into its buffer) may have written those
 * pages during the read: read the slot again into kernel pages and verify
 * it there before calling the value damaged.
 */
static int rawkv_get_reread(struct rawkv_dev *kd, struct rawkv_req *rq,
			    const char **why)
{
	bool value_bad;
	int ret;

	rawkv_vbuf_release(&rq->vb, false);
	ret = rawkv_vbuf_init(kd, &rq->vb, rq->ubuf, rq->vlen, false, true);
	/* The first read left device bytes in the caller's pages. */
	rq->vb.user_written = true;
	if (!ret) {
		rawkv_io_init(&rq->io, kd);
		rawkv_submit_slot(rq, rawkv_slot_pos(kd, rawkv_slot_of(&kd->ix, rq->e)),
				  REQ_OP_READ, true);
		ret = rawkv_io_wait(&rq->io);
	}
	if (ret) {
		/* Not a verdict on the value: keep the key. */
		*why = NULL;
		return ret;
	}
	return rawkv_get_verify(kd, rq, rawkv_vbuf_crc(&rq->vb), why,
				&value_bad);
}

/*
 * Finish a GET. The value counts only if the header proves the slot holds
 * this key's value and its crc32c matches; otherwise no byte read reaches
 * the caller, and the entry is dropped. An entry of another key with the
 * same fingerprint, or one whose slot holds another value, sends the GET
 * on to the next one.
 */
int rawkv_get_end(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	struct rawkv_entry *e;
	bool value_bad;
	const char *why;
	u32 crc;
	int ret;

again:
	e = rq->e;
	ret = rq->ret;
	if (rq->busy) {
		ret = rawkv_get_wait(rq, &crc);
		if (!ret) {
			ret = rawkv_get_verify(kd, rq, crc, &why, &value_bad);
			if (value_bad && rq->vb.pinned)
				ret = rawkv_get_reread(kd, rq, &why);
			if ((ret == -EIO || ret == -ENOENT) && why)
				rawkv_drop_stale(kd, e, why);
		}
		ret = rawkv_vbuf_copy_out(&rq->vb, !ret) ?: ret;
		if (!ret)
			rawkv_vbuf_account(kd, &rq->vb);
		rawkv_vbuf_release(&rq->vb, true);
		rq->busy = false;
	}
	if (e) {
		rawkv_unpin(kd, e);
		rq->e = NULL;
		if (ret == -EXDEV || ret == -ENOENT) {
			/*
			 * Another key's value, or a stale entry (dropped):
			 * try the next candidate.
			 */
			rawkv_get_begin(kd, rq, rq->key, rq->klen, rq->ubuf,
					rq->buflen, rq->um);
			goto again;
		}
		if (ret == -ENOENT)
			rawkv_count(kd, RAWKV_C_MISSES, 1);
		else
			rawkv_count(kd, RAWKV_C_HITS, 1);
	}
	if (rq->hdr)
		__free_page(rq->hdr);
	rq->hdr = NULL;
	return ret;
}

/*
 * GET: the whole request in order --
 *   1. find the next entry with the key's fingerprint, make it the most
 *      recently used, pin it				(begin)
 *   2. read its slot header and value in pieces, all in flight
 *      together, straight into the caller's pages when aligned	(begin)
 *   3. wait for the pieces in order, checksumming each as it completes;
 *      check the header (key, generation, length, user metadata) and
 *      the value's crc32c, reading again into kernel pages on a
 *      mismatch; copy the user metadata out to @um		(end)
 *   4. another key's value: back to 1 with the next entry;	(end)
 *      damaged: drop the entry; else copy out what was bounced
 * A length query (@buflen 0) that wants the user metadata is EXISTS's.
 */
int rawkv_get(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      void __user *buf, u64 buflen, u64 *vlen, struct rawkv_umeta *um)
{
	struct rawkv_req rq;
	int ret;

	if (!buflen && um)
		return rawkv_exists_meta(kd, key, klen, vlen, um);
	rq.cand.n = 0;
	rawkv_get_begin(kd, &rq, key, klen, buf, buflen, um);
	ret = rawkv_get_end(kd, &rq);
	*vlen = rq.vlen;
	return ret;
}

/*
 * EXISTS with a buffer for the user metadata: the value length from the
 * table, and the metadata from the slot header, which proves the key --
 *   1. read the headers of the live entries with the key's fingerprint
 *   2. the one holding the key: its length; make it the most recently
 *      used (as a GET would)
 *   3. copy its metadata out from the header read
 * A damaged header is -EIO, as the key may have been its, but is not
 * dropped here: the key's next GET reads the slot again and decides.
 */
int rawkv_exists_meta(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
		      u64 *vlen, struct rawkv_umeta *um)
{
	struct rawkv_cand c = {};
	struct rawkv_entry *e;
	int ret;

	rawkv_count(kd, RAWKV_C_GETS, 1);
	e = rawkv_find_key(kd, rawkv_fp(kd, key, klen), key, klen, &c, &ret);
	if (e) {
		*vlen = e->value_len;
		rawkv_index_touch(&kd->ix, e);
	}
	spin_unlock(&kd->ix.lock);
	if (e) {
		/* c.rec points into the header page, freed below. */
		ret = rawkv_umeta_copy(um, &c.rec);
	} else if (!ret) {
		/* A damaged header may have been the key's. */
		ret = c.damaged ? -EIO : -ENOENT;
	}
	rawkv_count(kd, ret == -ENOENT ? RAWKV_C_MISSES : RAWKV_C_HITS, 1);
	rawkv_cand_free_pages(&c);
	return ret;
}

/*
 * Find the live entry that holds @key among those with its fingerprint, by
 * reading their headers, and remove it. Returns 0, -ENOENT or an I/O
 * error. *sync tells whether the value was written with RAWKV_PUT_SYNC;
 * *changes is the index's change count after the removal.
 */
static int rawkv_remove_key(struct rawkv_dev *kd, const u8 *key,
			    unsigned int klen, bool *sync, u64 *changes)
{
	struct rawkv_fp_lock fpl;
	struct rawkv_cand c = {};
	struct rawkv_entry *e;
	int ret;

	ret = rawkv_fp_claim(kd, &fpl, rawkv_fp(kd, key, klen), false);
	if (ret)
		return ret;
	e = rawkv_find_key(kd, fpl.fp, key, klen, &c, &ret);
	if (e) {
		*sync = e->flags & RAWKV_EF_SYNC;
		rawkv_index_remove(&kd->ix, e);
		*changes = kd->ix.changes;
	}
	rawkv_fp_release(kd, &fpl);
	spin_unlock(&kd->ix.lock);
	rawkv_cand_free_pages(&c);
	return ret ?: e ? 0 : -ENOENT;
}

/*
 * DELETE: the whole request in order --
 *   1. claim the key's fingerprint
 *   2. read the headers of the entries with that fingerprint, find the one
 *      holding the key, remove it (its slot waits in limbo for a commit)
 *   3. when its value was written with RAWKV_PUT_SYNC, commit, so that the
 *      key cannot come back
 */
int rawkv_delete(struct rawkv_dev *kd, const u8 *key, unsigned int klen)
{
	bool sync = false;
	u64 changes = 0;
	int ret;

	ret = rawkv_remove_key(kd, key, klen, &sync, &changes);
	if (ret)
		return ret;
	rawkv_count(kd, RAWKV_C_DELETES, 1);
	return sync ? rawkv_commit(kd, changes) : 0;
}

/*
 * FLUSH: every PUT and DELETE acknowledged before it survives a power cut
 * once it returns 0.
 */
int rawkv_flush(struct rawkv_dev *kd)
{
	return rawkv_commit(kd, U64_MAX);
}

/* The sum of every CPU's counters. */
static void rawkv_sum_stats(struct rawkv_dev *kd, struct rawkv_stats *sum)
{
	int cpu, i;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct rawkv_stats *s = per_cpu_ptr(kd->stats, cpu);

		for (i = 0; i < RAWKV_C_NR; i++)
			sum->c[i] += READ_ONCE(s->c[i]);
	}
}

/* LIST reads the headers of this many keys at once. */
#define RAWKV_LIST_BATCH	32U
/* Slots looked at per hold of the index lock. */
#define RAWKV_LIST_SCAN		4096U

/* A batch of LIST: pinned entries and their header pages. */
struct rawkv_list_batch {
	unsigned int n;
	u32 slots[RAWKV_LIST_BATCH];
	u64 gens[RAWKV_LIST_BATCH];
	struct page *pages[RAWKV_LIST_BATCH];
};

/*
 * Pin up to RAWKV_LIST_BATCH live entries from slot *@from on; *@from
 * moves past the slots looked at.
 */
static void rawkv_list_pin(struct rawkv_dev *kd, struct rawkv_list_batch *b,
			   u32 *from)
{
	struct rawkv_index *ix = &kd->ix;
	u32 s = *from, end;

	b->n = 0;
	while (s < ix->slot_count && b->n < RAWKV_LIST_BATCH) {
		spin_lock(&ix->lock);
		end = min(ix->slot_count - s, RAWKV_LIST_SCAN) + s;
		for (; s < end && b->n < RAWKV_LIST_BATCH; s++) {
			struct rawkv_entry *e = rawkv_ent(ix, s);

			if (e->state != RAWKV_E_LIVE)
				continue;
			/* Pinned 2^32 times over: not listed, not waited for. */
			if (!rawkv_index_pin(ix, e))
				continue;
			b->slots[b->n] = s;
			b->gens[b->n++] = e->gen;
		}
		spin_unlock(&ix->lock);
		cond_resched();
	}
	*from = s;
}

/*
 * LIST: the keys of the live entries from slot *@cursor on, as struct
 * rawkv_list_ent records in @ubuf (@len bytes, at least
 * RAWKV_LIST_BUF_MIN); *@count of them. Steps, per batch:
 *   1. pin the next live entries (their slots cannot be reused)
 *   2. read their slot headers together
 *   3. keep those whose header proves the entry (still live, same
 *      generation), unpin all
 *   4. copy them out while they fit; the first that does not is where
 *      the next call starts
 * *@cursor ends as RAWKV_LIST_END when every slot was looked at.
 */
int rawkv_list(struct rawkv_dev *kd, u64 *cursor, void __user *ubuf,
	       u32 len, u32 *count)
{
	struct rawkv_list_batch b = {};
	struct rawkv_list_ent le = {};
	u32 from, done = 0, off = 0;
	unsigned int i;
	int ret = 0;

	*count = 0;
	if (*cursor >= kd->ix.slot_count) {
		*cursor = RAWKV_LIST_END;
		return 0;
	}
	from = *cursor;
	for (i = 0; i < RAWKV_LIST_BATCH; i++) {
		b.pages[i] = alloc_page(GFP_KERNEL);
		if (!b.pages[i]) {
			ret = -ENOMEM;
			goto out_free;
		}
	}
	while (from < kd->ix.slot_count) {
		struct rawkv_io io;
		u32 next = from;
		int io_ret;

		rawkv_list_pin(kd, &b, &next);
		if (!b.n) {
			from = next;
			continue;
		}
		rawkv_io_init(&io, kd);
		rawkv_read_hdrs(kd, &io, b.slots, b.n, b.pages);
		io_ret = rawkv_io_wait(&io);

		for (i = 0; i < b.n; i++) {
			struct rawkv_entry *e = rawkv_ent(&kd->ix, b.slots[i]);
			const struct rawkv_slot_hdr *h =
				page_address(b.pages[i]);
			struct rawkv_rec r;
			bool ok;

			spin_lock(&kd->ix.lock);
			ok = !io_ret && !ret && e->state == RAWKV_E_LIVE &&
			     e->gen == b.gens[i] &&
			     !rawkv_decode_slot_hdr(&kd->geo, h, b.slots[i], &r) &&
			     r.gen == e->gen && r.value_len == e->value_len &&
			     rawkv_fp(kd, r.key, r.key_len) == e->fp;
			rawkv_unpin_locked(kd, e);
			spin_unlock(&kd->ix.lock);
			if (ret || io_ret)
				continue;
			if (!ok) {
				from = b.slots[i] + 1;
				continue;
			}
			if (off + RAWKV_LIST_ENT_SIZE(r.key_len) > len) {
				ret = 1;	/* full: the next call starts here */
				continue;
			}
			le.value_len = r.value_len;
			le.key_len = r.key_len;
			if (copy_to_user(ubuf + off, &le, sizeof(le)) ||
			    copy_to_user(ubuf + off + sizeof(le), r.key,
					 r.key_len) ||
			    clear_user(ubuf + off + sizeof(le) + r.key_len,
				       RAWKV_LIST_ENT_SIZE(r.key_len) -
				       sizeof(le) - r.key_len)) {
				ret = -EFAULT;
				continue;
			}
			off += RAWKV_LIST_ENT_SIZE(r.key_len);
			done++;
			from = b.slots[i] + 1;
		}
		/* Not past the headers not read: the caller retries. */
		if (io_ret && !ret)
			ret = io_ret;
		if (ret)
			break;
		from = next;
	}
	*count = done;
	if (ret == 1 || (ret < 0 && done))
		ret = 0;
	if (!ret)
		*cursor = from < kd->ix.slot_count ? from : RAWKV_LIST_END;
out_free:
	for (i = 0; i < RAWKV_LIST_BATCH; i++)
		if (b.pages[i])
			__free_page(b.pages[i]);
	return ret;
}

void rawkv_fill_stat(struct rawkv_dev *kd, struct rawkv_ioc_stat *st)
{
	struct rawkv_stats s;

	st->size = sizeof(*st);
	st->slot_size = kd->geo.slot_size;
	st->value_max = kd->geo.value_max;
	st->key_max = RAWKV_KEY_MAX;
	st->slots_total = kd->geo.slot_count;
	st->device_bytes = kd->geo.device_bytes;
	st->logical_block_size = kd->lbs;
	st->entry_mem_bytes = kd->ix.ents_bytes;
	st->table_mem_bytes = kd->ix.table_bytes;
	st->crc32c_mbps = rawkv_crc32c_info.mbps;
	BUILD_BUG_ON(sizeof(st->crc32c_driver) !=
		     sizeof(rawkv_crc32c_info.driver));
	memcpy(st->crc32c_driver, rawkv_crc32c_info.driver,
	       sizeof(st->crc32c_driver));

	spin_lock(&kd->ix.lock);
	st->slots_used = kd->ix.nr_used;
	st->checkpoint_seq = kd->meta.seq;
	spin_unlock(&kd->ix.lock);

	rawkv_sum_stats(kd, &s);
	st->puts = s.c[RAWKV_C_PUTS];
	st->gets = s.c[RAWKV_C_GETS];
	st->hits = s.c[RAWKV_C_HITS];
	st->misses = s.c[RAWKV_C_MISSES];
	st->deletes = s.c[RAWKV_C_DELETES];
	st->evictions = s.c[RAWKV_C_EVICTIONS];
	st->checkpoints = s.c[RAWKV_C_CHECKPOINTS];
	st->bytes_written = s.c[RAWKV_C_BYTES_WRITTEN];
	st->bytes_read = s.c[RAWKV_C_BYTES_READ];
	st->io_errors = s.c[RAWKV_C_IO_ERRORS];
	st->load_dropped = s.c[RAWKV_C_LOAD_DROPPED];
	st->stale_dropped = s.c[RAWKV_C_STALE_DROPPED];
	st->bytes_zero_copy = s.c[RAWKV_C_BYTES_ZERO_COPY];
	st->bytes_bounced = s.c[RAWKV_C_BYTES_BOUNCED];
}
