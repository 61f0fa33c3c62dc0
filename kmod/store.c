// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the slot table and the commands that use it.
 *
 * The table maps keys to slots: a hash table of entries, an LRU list and a
 * stack of free slots, all under rawkv_dev.lock. A PUT takes a free slot
 * (evicting the least recently used entry when there is none), writes the
 * slot header and value with no lock held, then publishes the entry and
 * frees the slot of the value it replaced. A GET pins its entry, reads the
 * slot with no lock held and checks that the slot still holds that value.
 * A slot is never in the free stack while a GET may read it or a PUT is
 * writing it.
 *
 * The commands take kernel keys and user value buffers, so any transport
 * (the ioctls in main.c today) can call them.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/jhash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "rawkv.h"
#include "../uapi/rawkv.h"

static u32 rawkv_hash(const u8 *key, unsigned int klen)
{
	return jhash(key, klen, 0);
}

static struct hlist_head *rawkv_bucket(struct rawkv_dev *kd, u32 hash)
{
	return &kd->buckets[hash >> (32 - kd->hash_bits)];
}

static struct rawkv_entry *rawkv_lookup(struct rawkv_dev *kd, const u8 *key,
					unsigned int klen, u32 hash)
{
	struct rawkv_entry *e;

	lockdep_assert_held(&kd->lock);
	hlist_for_each_entry(e, rawkv_bucket(kd, hash), hnode)
		if (e->hash == hash && e->key_len == klen &&
		    !memcmp(e->key, key, klen))
			return e;
	return NULL;
}

static struct rawkv_entry *rawkv_entry_alloc(const u8 *key, unsigned int klen)
{
	struct rawkv_entry *e;

	e = kzalloc(struct_size(e, key, klen), GFP_KERNEL);
	if (!e)
		return NULL;
	e->key_len = klen;
	memcpy(e->key, key, klen);
	e->hash = rawkv_hash(key, klen);
	return e;
}

static void rawkv_slot_push(struct rawkv_dev *kd, struct rawkv_slot_list *l,
			    u32 slot)
{
	lockdep_assert_held(&kd->lock);
	kd->slot_next[slot] = l->head;
	l->head = slot;
	if (!l->count++)
		l->tail = slot;
}

static u32 rawkv_slot_pop(struct rawkv_dev *kd, struct rawkv_slot_list *l)
{
	u32 slot = l->head;

	lockdep_assert_held(&kd->lock);
	l->head = kd->slot_next[slot];
	l->count--;
	return slot;
}

/* Move every slot of @src to the front of @dst. */
void rawkv_slot_splice(struct rawkv_dev *kd, struct rawkv_slot_list *dst,
		       struct rawkv_slot_list *src)
{
	lockdep_assert_held(&kd->lock);
	if (!src->count)
		return;
	kd->slot_next[src->tail] = dst->head;
	dst->head = src->head;
	if (!dst->count)
		dst->tail = src->tail;
	dst->count += src->count;
	src->count = 0;
}

/* A PUT waiting for a slot may now find or evict one. */
void rawkv_slot_event(struct rawkv_dev *kd)
{
	lockdep_assert_held(&kd->lock);
	kd->slot_events++;
	wake_up(&kd->slot_wait);
}

static void rawkv_slot_release(struct rawkv_dev *kd, u32 slot)
{
	rawkv_slot_push(kd, &kd->free, slot);
	rawkv_slot_event(kd);
}

/*
 * Free a removed entry. Its slot goes to limbo: the committed checkpoint
 * may still map the key to it, so its bytes must stay until a checkpoint
 * that no longer does has committed. Reusing it earlier would let a crash
 * lose a replaced key's flushed value, or tear the value a resurrected key
 * reads.
 */
static void rawkv_entry_free(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	rawkv_slot_push(kd, &kd->limbo, e->slot);
	kd->entry_mem -= ksize(e);
	kfree(e);
}

static void rawkv_insert(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	hlist_add_head(&e->hnode, rawkv_bucket(kd, e->hash));
	list_add_tail(&e->lru, &kd->lru);
	kd->nr_used++;
	kd->ckpt_bytes += RAWKV_CKPT_ENTRY_BYTES(e->key_len);
	kd->entry_mem += ksize(e);
	kd->mutations++;
	rawkv_slot_event(kd);
}

/* Take @e out of the table; its slot is freed once no GET reads it. */
static void rawkv_remove(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	hlist_del(&e->hnode);
	list_del(&e->lru);
	kd->nr_used--;
	kd->ckpt_bytes -= RAWKV_CKPT_ENTRY_BYTES(e->key_len);
	kd->mutations++;
	e->dead = 1;
	if (!e->pins)
		rawkv_entry_free(kd, e);
}

static void rawkv_unpin(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	spin_lock(&kd->lock);
	if (!--e->pins) {
		if (e->dead)
			rawkv_entry_free(kd, e);
		rawkv_slot_event(kd);
	}
	spin_unlock(&kd->lock);
}

int rawkv_table_init(struct rawkv_dev *kd)
{
	kd->hash_bits = max(ilog2(roundup_pow_of_two(kd->geo.slot_count)), 4);
	kd->buckets = kvcalloc(1UL << kd->hash_bits, sizeof(*kd->buckets),
			       GFP_KERNEL);
	if (!kd->buckets)
		return -ENOMEM;
	kd->slot_next = kvmalloc_array(kd->geo.slot_count, sizeof(*kd->slot_next),
				       GFP_KERNEL);
	if (!kd->slot_next) {
		kvfree(kd->buckets);
		return -ENOMEM;
	}
	spin_lock_init(&kd->lock);
	INIT_LIST_HEAD(&kd->lru);
	INIT_LIST_HEAD(&kd->inflight);
	init_waitqueue_head(&kd->slot_wait);
	return 0;
}

void rawkv_table_free(struct rawkv_dev *kd)
{
	struct rawkv_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, &kd->lru, lru)
		kfree(e);
	INIT_LIST_HEAD(&kd->lru);
	kvfree(kd->slot_next);
	kvfree(kd->buckets);
}

/*
 * Add one entry read from a checkpoint, in LRU order. The caller has
 * checked the fields against the geometry; duplicates are refused here.
 * Returns -EEXIST for a key or slot already in the table.
 */
int rawkv_table_load(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
		     u32 slot, u64 gen, u64 value_len, u32 value_crc)
{
	struct rawkv_entry *e;

	e = rawkv_entry_alloc(key, klen);
	if (!e)
		return -ENOMEM;
	e->slot = slot;
	e->gen = gen;
	e->value_len = value_len;
	e->value_crc = value_crc;

	spin_lock(&kd->lock);
	if (rawkv_lookup(kd, key, klen, e->hash)) {
		spin_unlock(&kd->lock);
		kfree(e);
		return -EEXIST;
	}
	rawkv_insert(kd, e);
	kd->next_gen = max(kd->next_gen, gen + 1);
	spin_unlock(&kd->lock);
	return 0;
}

/*
 * After the last rawkv_table_load(): every slot not in @used is free, the
 * lowest first. Nothing persisted is trusted for this. The table now
 * matches the checkpoint it came from.
 */
void rawkv_table_load_done(struct rawkv_dev *kd, const unsigned long *used)
{
	u32 slot;

	spin_lock(&kd->lock);
	for (slot = kd->geo.slot_count; slot-- > 0;)
		if (!test_bit(slot, used))
			rawkv_slot_push(kd, &kd->free, slot);
	kd->mutations = 0;
	kd->ckpt_mutations = 0;
	spin_unlock(&kd->lock);
}

/*
 * Evict the least recently used entries that no GET is reading, a batch of
 * 1/256 of the slots, so that one checkpoint frees many slots. Returns how
 * many were evicted.
 */
static u32 rawkv_evict(struct rawkv_dev *kd)
{
	u32 batch = max(1U, kd->geo.slot_count / 256), n = 0;
	struct rawkv_entry *e, *tmp;

	lockdep_assert_held(&kd->lock);
	list_for_each_entry_safe(e, tmp, &kd->lru, lru) {
		if (e->pins)
			continue;
		rawkv_remove(kd, e);
		if (++n == batch)
			break;
	}
	atomic64_add(n, &kd->stats.evictions);
	return n;
}

/* Slots held by PUTs in flight and by removed values a GET still reads. */
static u32 rawkv_slots_busy(struct rawkv_dev *kd)
{
	lockdep_assert_held(&kd->lock);
	return kd->geo.slot_count - kd->free.count - kd->limbo.count -
	       kd->committing.count - kd->nr_used;
}

/*
 * Take a free slot for a PUT. When there is none: commit a checkpoint if
 * that frees slots from limbo, else evict the least recently used entry
 * that no GET is reading (evict=1), else wait for a request in flight to
 * give a slot back (or, with @nowait, return -EAGAIN: the caller holds
 * requests in flight it must complete first). Without eviction, -ENOSPC
 * means every slot holds a live value.
 */
static int rawkv_slot_get(struct rawkv_dev *kd, u32 *slot,
			  struct rawkv_inflight *put, bool nowait)
{
	u64 seen;
	int ret;

	spin_lock(&kd->lock);
	for (;;) {
		if (kd->free.count) {
			*slot = rawkv_slot_pop(kd, &kd->free);
			put->gen = kd->next_gen++;
			list_add_tail(&put->node, &kd->inflight);
			spin_unlock(&kd->lock);
			return 0;
		}
		if (kd->limbo.count || kd->committing.count) {
			spin_unlock(&kd->lock);
			ret = rawkv_checkpoint(kd);
			if (ret)
				return ret;
			spin_lock(&kd->lock);
			continue;
		}
		if (kd->evict && rawkv_evict(kd))
			continue;
		if (!rawkv_slots_busy(kd) &&
		    (!kd->evict || list_empty(&kd->lru))) {
			spin_unlock(&kd->lock);
			return -ENOSPC;
		}
		/* Requests in flight hold slots: wait for one to finish. */
		seen = kd->slot_events;
		spin_unlock(&kd->lock);
		if (nowait)
			return -EAGAIN;
		if (wait_event_interruptible(kd->slot_wait,
					     READ_ONCE(kd->slot_events) != seen))
			return -EINTR;
		spin_lock(&kd->lock);
	}
}

static void rawkv_fill_slot_hdr(struct rawkv_dev *kd, struct page *page,
				u32 slot, u64 gen, const u8 *key,
				unsigned int klen, u64 vlen, u32 crc, bool sync)
{
	struct rawkv_slot_hdr *h = page_address(page);

	memset(h, 0, RAWKV_BLOCK_SIZE);
	h->magic = cpu_to_le64(RAWKV_SLOT_MAGIC);
	h->gen = cpu_to_le64(gen);
	h->value_len = cpu_to_le64(vlen);
	h->slot = cpu_to_le32(slot);
	h->value_crc = cpu_to_le32(crc);
	memcpy(h->uuid, kd->geo.uuid, sizeof(h->uuid));
	h->key_len = cpu_to_le16(klen);
	h->flags = cpu_to_le16(sync ? RAWKV_SLOT_SYNC : 0);
	memcpy(h->key, key, klen);
	h->crc = cpu_to_le32(rawkv_crc(h, sizeof(*h)));
}

/*
 * Publish @e, replacing the key's current entry unless that one is newer.
 * Returns false, with nothing changed, when it is.
 */
static bool rawkv_publish(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	struct rawkv_entry *old;

	lockdep_assert_held(&kd->lock);
	old = rawkv_lookup(kd, e->key, e->key_len, e->hash);
	if (old && old->gen > e->gen)
		return false;
	if (old) {
		e->sync |= old->sync;
		rawkv_remove(kd, old);
	}
	rawkv_insert(kd, e);
	return true;
}

/*
 * Start a PUT: take a slot and submit the value and its header, every bio
 * in flight together (the header in the same bio as the value's first
 * blocks). With @sync, only the value is submitted, with FUA; the header
 * follows in rawkv_put_end(), with FUA too, so a durable sync header
 * implies a durable value. On return, rq->busy says whether
 * rawkv_put_end() has I/O to wait for; rq->ret holds any error so far
 * (-EAGAIN with @nowait: complete the caller's other requests first).
 */
void rawkv_put_begin(struct rawkv_dev *kd, struct rawkv_req *rq,
		     const u8 *key, unsigned int klen,
		     const void __user *val, u64 vlen, bool sync, bool nowait)
{
	blk_opf_t opf = REQ_OP_WRITE | (sync ? REQ_FUA : 0);
	struct rawkv_entry *e;
	u64 pos;
	u32 slot;
	int ret;

	memset(rq, 0, sizeof(*rq));
	rq->sync = sync;
	ret = -E2BIG;
	if (vlen > kd->geo.value_max)
		goto out_fail;
	ret = -ENOMEM;
	e = rawkv_entry_alloc(key, klen);
	if (!e)
		goto out_fail;
	rq->e = e;
	rq->hdr = alloc_page(GFP_KERNEL);
	if (!rq->hdr)
		goto out_fail;
	ret = rawkv_slot_get(kd, &slot, &rq->put, nowait);
	if (ret)
		goto out_fail;
	e->slot = slot;
	e->gen = rq->put.gen;
	e->value_len = vlen;
	e->sync = sync;
	ret = rawkv_vbuf_init(kd, &rq->vb, (void __user *)val, vlen, true);
	if (ret)
		goto out_release_slot;
	e->value_crc = rawkv_vbuf_crc(&rq->vb);
	rawkv_fill_slot_hdr(kd, rq->hdr, slot, e->gen, key, klen, vlen,
			    e->value_crc, sync);

	pos = rawkv_slot_pos(kd, slot);
	rawkv_io_init(&rq->io, kd);
	if (sync) {
		rawkv_io_start(&rq->io, pos + RAWKV_BLOCK_SIZE, opf,
			       rq->vb.nr_bv);
	} else {
		rawkv_io_start(&rq->io, pos, opf, rq->vb.nr_bv + 1);
		rawkv_io_add(&rq->io, rq->hdr, RAWKV_BLOCK_SIZE, 0);
	}
	rawkv_vbuf_io(&rq->vb, &rq->io);
	rawkv_io_send(&rq->io);
	rq->busy = true;
	return;

out_release_slot:
	spin_lock(&kd->lock);
	list_del(&rq->put.node);
	rawkv_slot_release(kd, slot);
	spin_unlock(&kd->lock);
out_fail:
	rq->ret = ret;
}

/* Finish a PUT: wait for its bios, then publish the value. */
int rawkv_put_end(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	struct rawkv_entry *e = rq->e;
	int ret = rq->ret;

	if (rq->busy) {
		ret = rawkv_io_wait(&rq->io);
		if (!ret && rq->sync)
			ret = rawkv_rw_block(kd, rq->hdr,
					     rawkv_slot_pos(kd, e->slot),
					     REQ_OP_WRITE | REQ_FUA);

		spin_lock(&kd->lock);
		list_del(&rq->put.node);
		if (ret) {
			/* No checkpoint ever referenced the slot: free it. */
			rawkv_slot_release(kd, e->slot);
		} else if (rawkv_publish(kd, e)) {
			e = NULL;
		} else {
			/* A PUT that started later already replaced it. */
			rawkv_slot_release(kd, e->slot);
		}
		spin_unlock(&kd->lock);
		if (!ret) {
			atomic64_inc(&kd->stats.puts);
			rawkv_vbuf_account(kd, &rq->vb);
		}
		rawkv_vbuf_release(&rq->vb, false);
	}
	if (rq->hdr)
		__free_page(rq->hdr);
	kfree(e);
	return ret;
}

int rawkv_put(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      const void __user *val, u64 vlen, bool sync)
{
	struct rawkv_req rq;

	rawkv_put_begin(kd, &rq, key, klen, val, vlen, sync, false);
	return rawkv_put_end(kd, &rq);
}

/* Drop @e after its slot proved not to hold its value. */
static void rawkv_drop_stale(struct rawkv_dev *kd, struct rawkv_entry *e,
			     const char *why)
{
	bool dropped = false;

	spin_lock(&kd->lock);
	if (!e->dead) {
		rawkv_remove(kd, e);
		dropped = true;
	}
	spin_unlock(&kd->lock);
	if (dropped) {
		atomic64_inc(&kd->stats.stale_dropped);
		pr_warn_ratelimited("slot %u: %s; key dropped\n", e->slot, why);
	}
}

/*
 * Check that the header read from @e's slot describes @e's value. Returns
 * 0, -ENOENT when the slot holds another (valid) value, -EIO when the
 * header is damaged. *why says what is wrong.
 */
static int rawkv_check_slot_hdr(struct rawkv_dev *kd,
				const struct rawkv_entry *e,
				const struct rawkv_slot_hdr *h, const char **why)
{
	struct rawkv_rec r;

	*why = rawkv_decode_slot_hdr(&kd->geo, h, e->slot, &r);
	if (*why)
		return -EIO;
	*why = "slot holds another value";
	if (r.gen != e->gen || r.key_len != e->key_len ||
	    memcmp(r.key, e->key, e->key_len) ||
	    r.value_len != e->value_len || r.value_crc != e->value_crc)
		return -ENOENT;
	return 0;
}

/*
 * Start a GET: find the key and submit the read of its slot header and
 * value together. On return, rq->busy says whether rawkv_get_end() has I/O
 * to wait for; otherwise rq->ret is the result (0 for a length query,
 * -ENOENT, -ERANGE) and rq->vlen the value length when the key exists.
 */
void rawkv_get_begin(struct rawkv_dev *kd, struct rawkv_req *rq,
		     const u8 *key, unsigned int klen, void __user *buf,
		     u64 buflen)
{
	u32 hash = rawkv_hash(key, klen);
	struct rawkv_entry *e;
	int ret;

	memset(rq, 0, sizeof(*rq));
	atomic64_inc(&kd->stats.gets);
	spin_lock(&kd->lock);
	e = rawkv_lookup(kd, key, klen, hash);
	if (!e) {
		spin_unlock(&kd->lock);
		atomic64_inc(&kd->stats.misses);
		rq->ret = -ENOENT;
		return;
	}
	list_move_tail(&e->lru, &kd->lru);
	rq->vlen = e->value_len;
	if (!buflen || buflen < e->value_len) {
		spin_unlock(&kd->lock);
		atomic64_inc(&kd->stats.hits);
		rq->ret = buflen ? -ERANGE : 0;
		return;
	}
	e->pins++;
	spin_unlock(&kd->lock);
	rq->e = e;

	ret = -ENOMEM;
	rq->hdr = alloc_page(GFP_KERNEL);
	if (!rq->hdr)
		goto out_fail;
	ret = rawkv_vbuf_init(kd, &rq->vb, buf, e->value_len, false);
	if (ret)
		goto out_fail;
	rawkv_io_init(&rq->io, kd);
	rawkv_io_start(&rq->io, rawkv_slot_pos(kd, e->slot), REQ_OP_READ,
		       rq->vb.nr_bv + 1);
	rawkv_io_add(&rq->io, rq->hdr, RAWKV_BLOCK_SIZE, 0);
	rawkv_vbuf_io(&rq->vb, &rq->io);
	rawkv_io_send(&rq->io);
	rq->busy = true;
	return;

out_fail:
	rq->ret = ret;
}

/*
 * Finish a GET. The value counts only if the header proves the slot holds
 * this key's value and its crc32c matches; otherwise no byte read reaches
 * the caller, and the entry is dropped.
 */
int rawkv_get_end(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	struct rawkv_entry *e = rq->e;
	const char *why;
	int ret = rq->ret;

	if (rq->busy) {
		ret = rawkv_io_wait(&rq->io);
		if (!ret) {
			ret = rawkv_check_slot_hdr(kd, e,
						   page_address(rq->hdr), &why);
			if (!ret && rawkv_vbuf_crc(&rq->vb) != e->value_crc) {
				why = "value checksum mismatch";
				ret = -EIO;
			}
			if (ret)
				rawkv_drop_stale(kd, e, why);
		}
		ret = rawkv_vbuf_copy_out(&rq->vb, !ret) ?: ret;
		if (!ret)
			rawkv_vbuf_account(kd, &rq->vb);
		rawkv_vbuf_release(&rq->vb, true);
	}
	if (rq->hdr)
		__free_page(rq->hdr);
	if (e) {
		rawkv_unpin(kd, e);
		atomic64_inc(ret == -ENOENT ? &kd->stats.misses :
					      &kd->stats.hits);
	}
	return ret;
}

int rawkv_get(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      void __user *buf, u64 buflen, u64 *vlen)
{
	struct rawkv_req rq;
	int ret;

	rawkv_get_begin(kd, &rq, key, klen, buf, buflen);
	ret = rawkv_get_end(kd, &rq);
	*vlen = rq.vlen;
	return ret;
}

int rawkv_delete(struct rawkv_dev *kd, const u8 *key, unsigned int klen)
{
	u32 hash = rawkv_hash(key, klen);
	struct rawkv_entry *e;
	bool sync = false;

	spin_lock(&kd->lock);
	e = rawkv_lookup(kd, key, klen, hash);
	if (e) {
		sync = e->sync;
		rawkv_remove(kd, e);
	}
	spin_unlock(&kd->lock);
	if (!e)
		return -ENOENT;
	atomic64_inc(&kd->stats.deletes);
	/* Recovery would adopt the sync value again: commit the deletion. */
	return sync ? rawkv_checkpoint(kd) : 0;
}

/*
 * Every PUT not yet in the table has a generation >= the returned one, and
 * every later PUT will: the threshold recovery scans from.
 */
u64 rawkv_scan_gen(struct rawkv_dev *kd)
{
	struct rawkv_inflight *put;

	lockdep_assert_held(&kd->lock);
	put = list_first_entry_or_null(&kd->inflight, struct rawkv_inflight,
				       node);
	return put ? put->gen : kd->next_gen;
}

/*
 * Add a value recovery found in a RAWKV_SLOT_SYNC slot after the
 * checkpoint. The newest generation of a key wins.
 */
int rawkv_table_adopt(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
		      u32 slot, u64 gen, u64 value_len, u32 value_crc)
{
	struct rawkv_entry *e;
	bool published;

	e = rawkv_entry_alloc(key, klen);
	if (!e)
		return -ENOMEM;
	e->slot = slot;
	e->gen = gen;
	e->value_len = value_len;
	e->value_crc = value_crc;
	e->sync = 1;

	spin_lock(&kd->lock);
	published = rawkv_publish(kd, e);
	if (published)
		kd->next_gen = max(kd->next_gen, gen + 1);
	spin_unlock(&kd->lock);
	if (!published)
		kfree(e);
	return published ? 0 : -EEXIST;
}

/*
 * Write the table into @buf, which has room for kd->ckpt_bytes, as
 * checkpoint entries, least recently used first. Returns the length.
 */
size_t rawkv_table_serialize(struct rawkv_dev *kd, void *buf)
{
	struct rawkv_entry *e;
	size_t len = 0;

	lockdep_assert_held(&kd->lock);
	list_for_each_entry(e, &kd->lru, lru) {
		struct rawkv_ckpt_entry *ce = buf + len;

		ce->value_len = cpu_to_le64(e->value_len);
		ce->gen = cpu_to_le64(e->gen);
		ce->slot = cpu_to_le32(e->slot);
		ce->value_crc = cpu_to_le32(e->value_crc);
		ce->key_len = cpu_to_le16(e->key_len);
		memset(ce->pad, 0, sizeof(ce->pad));
		memcpy(ce->key, e->key, e->key_len);
		memset(ce->key + e->key_len, 0,
		       RAWKV_CKPT_ENTRY_BYTES(e->key_len) - sizeof(*ce) -
		       e->key_len);
		len += RAWKV_CKPT_ENTRY_BYTES(e->key_len);
	}
	return len;
}

void rawkv_fill_stat(struct rawkv_dev *kd, struct rawkv_ioc_stat *st)
{
	struct rawkv_stats *s = &kd->stats;

	st->size = sizeof(*st);
	st->slot_size = kd->geo.slot_size;
	st->value_max = kd->geo.value_max;
	st->key_max = RAWKV_KEY_MAX;
	st->slots_total = kd->geo.slot_count;
	st->device_bytes = kd->geo.device_bytes;
	st->logical_block_size = kd->lbs;
	st->table_mem_bytes = ((size_t)sizeof(*kd->buckets) << kd->hash_bits) +
			      (size_t)kd->geo.slot_count * sizeof(*kd->slot_next);

	spin_lock(&kd->lock);
	st->slots_used = kd->nr_used;
	st->entry_mem_bytes = kd->entry_mem;
	st->checkpoint_seq = kd->ckpt_seq;
	spin_unlock(&kd->lock);

	st->puts = atomic64_read(&s->puts);
	st->gets = atomic64_read(&s->gets);
	st->hits = atomic64_read(&s->hits);
	st->misses = atomic64_read(&s->misses);
	st->deletes = atomic64_read(&s->deletes);
	st->evictions = atomic64_read(&s->evictions);
	st->checkpoints = atomic64_read(&s->checkpoints);
	st->bytes_written = atomic64_read(&s->bytes_written);
	st->bytes_read = atomic64_read(&s->bytes_read);
	st->io_errors = atomic64_read(&s->io_errors);
	st->load_dropped = atomic64_read(&s->load_dropped);
	st->stale_dropped = atomic64_read(&s->stale_dropped);
	st->bytes_zero_copy = atomic64_read(&s->bytes_zero_copy);
	st->bytes_bounced = atomic64_read(&s->bytes_bounced);
}
