// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the slot table and the commands that use it.
 *
 * The table is one struct rawkv_entry per slot, 40 bytes whatever the key
 * length, plus one u32 hash bucket per slot or less. An entry holds a
 * 64-bit fingerprint of its key, not the key: the whole key is in the slot
 * header, and every read checks it there. Two keys may share a fingerprint:
 * a GET tries each entry with its fingerprint until a slot header holds its
 * key; a PUT or DELETE reads the headers of the entries with its
 * fingerprint (a PUT while its own value is being written) to find the one
 * that holds its key. PUTs and DELETEs of one fingerprint run one at a
 * time, so the table never holds two entries for one key.
 *
 * Entries live on an LRU list and slots on free / limbo / committing lists,
 * all threaded through the entries by slot index, under rawkv_dev.lock. A
 * PUT takes a free slot (evicting the least recently used entries when
 * there is none), writes the slot header and value with no lock held, then
 * publishes its entry. A GET pins the entry, reads the slot with no lock
 * held and checks that it still holds that value. A slot never goes back
 * on the free list while a GET may read it or a PUT is writing it.
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

static inline struct rawkv_entry *rawkv_ent(struct rawkv_dev *kd, u32 slot)
{
	return &kd->ents[slot];
}

static inline u32 rawkv_slot_of(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	return e - kd->ents;
}

static u32 *rawkv_bucket(struct rawkv_dev *kd, u64 fp)
{
	return &kd->buckets[fp & ((1U << kd->hash_bits) - 1)];
}

/*
 * Collect up to @max live entries with fingerprint @fp, skipping the slots
 * in @skip (@nskip of them). Returns how many.
 */
static unsigned int rawkv_find(struct rawkv_dev *kd, u64 fp, u32 *out,
			       unsigned int max, const u32 *skip,
			       unsigned int nskip)
{
	unsigned int n = 0, i;
	u32 slot;

	lockdep_assert_held(&kd->lock);
	for (slot = *rawkv_bucket(kd, fp); slot != RAWKV_NIL;
	     slot = kd->ents[slot].hnext) {
		if (kd->ents[slot].fp != fp)
			continue;
		for (i = 0; i < nskip && skip[i] != slot; i++)
			;
		if (i < nskip)
			continue;
		out[n++] = slot;
		if (n == max)
			break;
	}
	return n;
}

/* The slot lists are threaded through rawkv_entry.next. */
static void rawkv_slot_push(struct rawkv_dev *kd, struct rawkv_slot_list *l,
			    u32 slot)
{
	lockdep_assert_held(&kd->lock);
	kd->ents[slot].next = l->head;
	l->head = slot;
	if (!l->count++)
		l->tail = slot;
}

static u32 rawkv_slot_pop(struct rawkv_dev *kd, struct rawkv_slot_list *l)
{
	u32 slot = l->head;

	lockdep_assert_held(&kd->lock);
	l->head = kd->ents[slot].next;
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
	kd->ents[src->tail].next = dst->head;
	dst->head = src->head;
	if (!dst->count)
		dst->tail = src->tail;
	dst->count += src->count;
	src->count = 0;
}

/*
 * A checkpoint with @scan_gen committed, and no longer references the
 * slots of @src: free them, except a slot whose header is a sync value
 * recovery could still adopt from that checkpoint (generation >=
 * @scan_gen), which stays in limbo so its header is not half overwritten.
 */
void rawkv_slots_committed(struct rawkv_dev *kd, struct rawkv_slot_list *src,
			   u64 scan_gen)
{
	struct rawkv_slot_list keep = { .count = 0 };

	lockdep_assert_held(&kd->lock);
	while (src->count) {
		u32 slot = rawkv_slot_pop(kd, src);
		struct rawkv_entry *e = rawkv_ent(kd, slot);

		rawkv_slot_push(kd, e->sync && e->gen >= scan_gen ?
				&keep : &kd->free, slot);
	}
	rawkv_slot_splice(kd, &kd->limbo, &keep);
	rawkv_slot_event(kd);
}

/* A request waiting for a slot or a fingerprint may now go on. */
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

static void rawkv_lru_del(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	if (e->prev == RAWKV_NIL)
		kd->lru_head = e->next;
	else
		kd->ents[e->prev].next = e->next;
	if (e->next == RAWKV_NIL)
		kd->lru_tail = e->prev;
	else
		kd->ents[e->next].prev = e->prev;
}

static void rawkv_lru_add_tail(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	u32 slot = rawkv_slot_of(kd, e);

	e->prev = kd->lru_tail;
	e->next = RAWKV_NIL;
	if (kd->lru_tail == RAWKV_NIL)
		kd->lru_head = slot;
	else
		kd->ents[kd->lru_tail].next = slot;
	kd->lru_tail = slot;
}

/* A GET made @e the most recently used. */
static void rawkv_touch(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	rawkv_lru_del(kd, e);
	rawkv_lru_add_tail(kd, e);
}

static void rawkv_insert(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	u32 *bucket = rawkv_bucket(kd, e->fp);

	lockdep_assert_held(&kd->lock);
	e->state = RAWKV_E_LIVE;
	e->hnext = *bucket;
	*bucket = rawkv_slot_of(kd, e);
	rawkv_lru_add_tail(kd, e);
	kd->nr_used++;
	kd->mutations++;
	rawkv_slot_event(kd);
}

/*
 * Free the slot of a removed entry. It goes to limbo: the committed
 * checkpoint may still map the key to it, so its bytes must stay until a
 * checkpoint that no longer does has committed. Reusing it earlier would
 * let a crash lose a replaced key's flushed value, or tear the value a
 * resurrected key reads.
 */
static void rawkv_entry_free(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	e->state = RAWKV_E_IDLE;
	rawkv_slot_push(kd, &kd->limbo, rawkv_slot_of(kd, e));
}

/* Take @e out of the table; its slot is freed once no GET reads it. */
static void rawkv_remove(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	u32 slot = rawkv_slot_of(kd, e), *p = rawkv_bucket(kd, e->fp);

	lockdep_assert_held(&kd->lock);
	while (*p != slot)
		p = &kd->ents[*p].hnext;
	*p = e->hnext;
	rawkv_lru_del(kd, e);
	kd->nr_used--;
	kd->mutations++;
	e->state = RAWKV_E_DEAD;
	if (!e->pins)
		rawkv_entry_free(kd, e);
}

/* Returns false, pinning nothing, if @e cannot take another pin. */
static bool rawkv_pin(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	if (WARN_ON_ONCE(e->pins == U32_MAX))
		return false;
	e->pins++;
	return true;
}

static void rawkv_unpin_locked(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	lockdep_assert_held(&kd->lock);
	if (!--e->pins) {
		if (e->state == RAWKV_E_DEAD)
			rawkv_entry_free(kd, e);
		rawkv_slot_event(kd);
	}
}

static void rawkv_unpin(struct rawkv_dev *kd, struct rawkv_entry *e)
{
	spin_lock(&kd->lock);
	rawkv_unpin_locked(kd, e);
	spin_unlock(&kd->lock);
}

int rawkv_table_init(struct rawkv_dev *kd)
{
	u32 n = kd->geo.slot_count, i;

	kd->hash_bits = max(ilog2(n), 1);
	/* vmalloc: page granular, so the table costs what its entries do. */
	kd->buckets = vmalloc_array(1U << kd->hash_bits, sizeof(*kd->buckets));
	kd->ents = vcalloc(n, sizeof(*kd->ents));
	if (!kd->buckets || !kd->ents) {
		vfree(kd->buckets);
		vfree(kd->ents);
		return -ENOMEM;
	}
	for (i = 0; i < 1U << kd->hash_bits; i++)
		kd->buckets[i] = RAWKV_NIL;
	/* What vmalloc really took: whole pages. */
	kd->ents_bytes = PAGE_ALIGN((size_t)n * sizeof(*kd->ents));
	kd->buckets_bytes = PAGE_ALIGN(sizeof(*kd->buckets) << kd->hash_bits);
	/*
	 * Fingerprints must stay the same across loads and machines: key
	 * them by the uuid, read as two little-endian u64.
	 */
	kd->fp_key.key[0] = get_unaligned_le64(kd->geo.uuid);
	kd->fp_key.key[1] = get_unaligned_le64(kd->geo.uuid + 8);
	kd->fp_mask = U64_MAX;
	kd->lru_head = RAWKV_NIL;
	kd->lru_tail = RAWKV_NIL;
	spin_lock_init(&kd->lock);
	INIT_LIST_HEAD(&kd->inflight);
	INIT_LIST_HEAD(&kd->fp_busy);
	init_waitqueue_head(&kd->slot_wait);
	return 0;
}

void rawkv_table_free(struct rawkv_dev *kd)
{
	vfree(kd->ents);
	vfree(kd->buckets);
}

/*
 * Add one entry read from a checkpoint, in LRU order. The caller has
 * checked the fields against the geometry and that the slot is not taken.
 */
void rawkv_table_load(struct rawkv_dev *kd, u64 fp, u32 slot, u64 gen,
		      u64 value_len)
{
	struct rawkv_entry *e = rawkv_ent(kd, slot);

	spin_lock(&kd->lock);
	e->fp = fp;
	e->gen = gen;
	e->value_len = value_len;
	rawkv_insert(kd, e);
	kd->next_gen = max(kd->next_gen, gen + 1);
	spin_unlock(&kd->lock);
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
	u32 batch = max(1U, kd->geo.slot_count / 256), n = 0, slot, next;

	lockdep_assert_held(&kd->lock);
	for (slot = kd->lru_head; slot != RAWKV_NIL && n < batch;
	     slot = next) {
		struct rawkv_entry *e = rawkv_ent(kd, slot);

		next = e->next;
		if (e->pins)
			continue;
		rawkv_remove(kd, e);
		n++;
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

static bool rawkv_fp_is_busy(struct rawkv_dev *kd, u64 fp)
{
	struct rawkv_fp_lock *l;

	lockdep_assert_held(&kd->lock);
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

	spin_lock(&kd->lock);
	while (rawkv_fp_is_busy(kd, fp)) {
		seen = kd->slot_events;
		spin_unlock(&kd->lock);
		if (nowait)
			return -EAGAIN;
		if (wait_event_interruptible(kd->slot_wait,
					     READ_ONCE(kd->slot_events) != seen))
			return -EINTR;
		spin_lock(&kd->lock);
	}
	l->fp = fp;
	list_add(&l->node, &kd->fp_busy);
	spin_unlock(&kd->lock);
	return 0;
}

static void rawkv_fp_release(struct rawkv_dev *kd, struct rawkv_fp_lock *l)
{
	lockdep_assert_held(&kd->lock);
	list_del(&l->node);
	rawkv_slot_event(kd);
}

/*
 * Take a free slot for a PUT. When there is none:
 * commit a checkpoint if that frees slots from limbo, else evict the least
 * recently used entries that no GET is reading (evict=1), else wait for a
 * request in flight to give a slot back (or, with @nowait, return -EAGAIN).
 * Without eviction, -ENOSPC means every slot holds a live value.
 */
static int rawkv_slot_get(struct rawkv_dev *kd, u32 *slot,
			  struct rawkv_inflight *put, bool nowait)
{
	bool committed = false;
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
		if (!committed && (kd->limbo.count || kd->committing.count)) {
			spin_unlock(&kd->lock);
			ret = rawkv_checkpoint(kd);
			if (ret)
				return ret;
			committed = true;
			spin_lock(&kd->lock);
			continue;
		}
		if (kd->evict && rawkv_evict(kd)) {
			committed = false;
			continue;
		}
		if (!rawkv_slots_busy(kd) &&
		    (!kd->evict || kd->lru_head == RAWKV_NIL)) {
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
		committed = false;
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
 * Check the header read from @e's slot. Returns 0 when it holds @e's value
 * of @key (*crc is the value's crc32c), -EXDEV when it holds @e's value of
 * another key with the same fingerprint, -ENOENT when the slot holds
 * another value, -EIO when the header is damaged. *why says what is wrong.
 */
static int rawkv_check_slot_hdr(struct rawkv_dev *kd, struct rawkv_entry *e,
				const struct rawkv_slot_hdr *h, const u8 *key,
				unsigned int klen, u32 *crc, const char **why)
{
	struct rawkv_rec r;

	*why = rawkv_decode_slot_hdr(&kd->geo, h, rawkv_slot_of(kd, e), &r);
	if (*why)
		return -EIO;
	*why = "slot holds another value";
	if (r.gen != e->gen || r.value_len != e->value_len ||
	    rawkv_fp(kd, r.key, r.key_len) != e->fp)
		return -ENOENT;
	*crc = r.value_crc;
	if (r.key_len != klen || memcmp(r.key, key, klen))
		return -EXDEV;
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

	for (i = 0; i < n; i++)
		rawkv_io_submit(io, &pages[i], 1, rawkv_slot_pos(kd, slots[i]),
				REQ_OP_READ);
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

	lockdep_assert_held(&kd->lock);
	for (i = 0; i < c->n; i++) {
		struct rawkv_entry *e = rawkv_ent(kd, c->slots[i]);
		const char *why;
		u32 crc;

		if (io_ok && e->state == RAWKV_E_LIVE && e->gen == c->gens[i] &&
		    !rawkv_check_slot_hdr(kd, e, page_address(c->pages[i]),
					  key, klen, &crc, &why))
			found = e;
		rawkv_unpin_locked(kd, e);
	}
	return found;
}

/* Pin the live entries with fingerprint @fp: 0, or -EBUSY pinning none. */
static int rawkv_cand_get(struct rawkv_dev *kd, struct rawkv_cand *c, u64 fp)
{
	unsigned int i;

	lockdep_assert_held(&kd->lock);
	c->n = rawkv_find(kd, fp, c->slots, RAWKV_MAX_SAME_FP, NULL, 0);
	for (i = 0; i < c->n; i++) {
		struct rawkv_entry *e = rawkv_ent(kd, c->slots[i]);

		if (!rawkv_pin(kd, e)) {
			while (i--)
				rawkv_unpin_locked(kd, rawkv_ent(kd, c->slots[i]));
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
 * Returns with kd->lock held; free @c's pages after unlocking.
 */
static struct rawkv_entry *rawkv_find_key(struct rawkv_dev *kd, u64 fp,
					  const u8 *key, unsigned int klen,
					  struct rawkv_cand *c, int *err)
	__acquires(&kd->lock)
{
	struct rawkv_io io;
	int ret;

	spin_lock(&kd->lock);
	ret = rawkv_cand_get(kd, c, fp);
	spin_unlock(&kd->lock);
	if (!ret)
		ret = rawkv_cand_pages(c);
	if (!ret && c->n) {
		rawkv_io_init(&io, kd);
		rawkv_read_hdrs(kd, &io, c->slots, c->n, c->pages);
		ret = rawkv_io_wait(&io);
	}
	spin_lock(&kd->lock);
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
	if (hdr) {
		rawkv_io_start(&rq->io, pos, opf, rq->vb.nr_bv + 1);
		rawkv_io_add(&rq->io, rq->hdr, RAWKV_BLOCK_SIZE, 0);
	} else {
		rawkv_io_start(&rq->io, pos + RAWKV_BLOCK_SIZE, opf,
			       rq->vb.nr_bv);
	}
	rawkv_vbuf_io(&rq->vb, &rq->io);
	rawkv_io_send(&rq->io);
	rq->busy = true;
}

/*
 * Prepare a PUT: check it, and pin or copy the caller's memory. This comes
 * before the PUT takes a generation (rawkv_put_submit()): a PUT in flight
 * holds back the checkpoints' scan_gen, and FLUSH and DELETE wait for the
 * older ones, so none may wait on a page fault the caller controls. A
 * batch prepares every operation before submitting any. On failure rq->ret
 * holds the error; rawkv_put_end() still cleans up.
 */
void rawkv_put_prepare(struct rawkv_dev *kd, struct rawkv_req *rq,
		       const u8 *key, unsigned int klen,
		       const void __user *val, u64 vlen, bool sync)
{
	int ret;

	memset(rq, 0, sizeof(*rq));
	rq->sync = sync;
	rq->key = key;
	rq->klen = klen;
	ret = -E2BIG;
	if (vlen > kd->geo.value_max)
		goto out_fail;
	ret = -ENOMEM;
	rq->hdr = alloc_page(GFP_KERNEL_ACCOUNT);
	if (!rq->hdr)
		goto out_fail;
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
 * generation), then send the value and its header, every bio in flight
 * together (the header in the same bio as the value's first blocks), and
 * the reads of the headers of the entries that share the fingerprint, to
 * tell which one holds the key. With sync, only the value is submitted,
 * with FUA; the header follows in rawkv_put_end(), with FUA too, so a
 * durable sync header implies a durable value.
 *
 * On return rq->busy says whether rawkv_put_end() has I/O to wait for, and
 * rq->ret holds any error so far: with @nowait, -EAGAIN means "complete
 * the caller's other requests first, then call this again".
 */
void rawkv_put_submit(struct rawkv_dev *kd, struct rawkv_req *rq, bool nowait)
{
	bool sync = rq->sync, hdr_first;
	u64 fp = rawkv_fp(kd, rq->key, rq->klen), pos;
	blk_opf_t opf = REQ_OP_WRITE;
	struct rawkv_entry *e;
	u32 slot;
	int ret;

	if (rq->ret && rq->ret != -EAGAIN)
		return;
	rq->ret = 0;
	ret = rawkv_fp_claim(kd, &rq->fpl, fp, nowait);
	if (ret)
		goto out_fail;
	ret = rawkv_slot_get(kd, &slot, &rq->put, nowait);
	if (ret)
		goto out_release_fp;
	spin_lock(&kd->lock);
	ret = rawkv_cand_get(kd, &rq->cand, fp);
	if (ret) {
		/* The slot never held anything: straight back. */
		list_del(&rq->put.node);
		rawkv_slot_release(kd, slot);
		kd->mutations++;
		spin_unlock(&kd->lock);
		goto out_release_fp;
	}
	spin_unlock(&kd->lock);
	rq->claimed = true;

	e = rawkv_ent(kd, slot);
	rq->e = e;
	e->fp = fp;
	e->gen = rq->put.gen;
	e->value_len = rq->vlen;
	e->sync = sync;
	ret = rawkv_cand_pages(&rq->cand);
	if (ret)
		goto out_fail;
	rawkv_fill_slot_hdr(kd, rq->hdr, slot, e->gen, rq->key, rq->klen,
			    rq->vlen, rawkv_vbuf_crc(&rq->vb), sync);

	pos = rawkv_slot_pos(kd, slot);
	rawkv_io_init(&rq->io, kd);
	rawkv_read_hdrs(kd, &rq->io, rq->cand.slots, rq->cand.n,
			rq->cand.pages);
	if (sync && !rawkv_fault_strip(kd, RAWKV_STRIP_SYNC_VALUE_FUA))
		opf |= REQ_FUA;
	/* A mutant for the crash tests: the sync header before its value. */
	hdr_first = sync && rawkv_fault_strip(kd, RAWKV_STRIP_SYNC_VALUE_WAIT);
	if (hdr_first) {
		rq->hdr_done = true;
		ret = rawkv_rw_block(kd, rq->hdr, pos, opf | REQ_FUA);
		if (ret) {
			rq->ret = ret;
			rq->busy = true;
			rawkv_io_send(&rq->io);
			return;
		}
	}
	rawkv_submit_slot(rq, pos, opf, !sync);
	return;

out_release_fp:
	spin_lock(&kd->lock);
	rawkv_fp_release(kd, &rq->fpl);
	spin_unlock(&kd->lock);
out_fail:
	rq->ret = ret;
}

/*
 * Finish a PUT: wait for its bios (with sync, then write the header with
 * FUA), then publish the value in place of the entry that held the key, if
 * any. A PUT that fails still counts as a change of the table, so the next
 * FLUSH commits a checkpoint whatever the failed PUT left on the device.
 */
int rawkv_put_end(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	struct rawkv_entry *e = rq->e, *old;
	int ret = rq->ret;

	if (rq->busy) {
		ret = rawkv_io_wait(&rq->io) ?: ret;
		if (!ret && rq->sync && !rq->hdr_done) {
			rq->hdr_done = true;
			ret = rawkv_rw_block(kd, rq->hdr,
					     rawkv_slot_pos(kd, rawkv_slot_of(kd, e)),
					     REQ_OP_WRITE |
					     (rawkv_fault_strip(kd, RAWKV_STRIP_SYNC_HDR_FUA) ?
					      0 : REQ_FUA));
		}
	}
	if (rq->claimed) {
		spin_lock(&kd->lock);
		old = rawkv_match_key(kd, &rq->cand, rq->key, rq->klen, !ret);
		list_del(&rq->put.node);
		/* A sync header was sent: recovery may adopt it. */
		if (rq->hdr_done)
			kd->last_sync_gen = max(kd->last_sync_gen, e->gen);
		if (ret && !rq->sync) {
			/* No checkpoint ever referenced the slot: free it. */
			rawkv_slot_release(kd, rawkv_slot_of(kd, e));
			kd->mutations++;
		} else if (ret) {
			/* Its header may be a sync one: as if deleted. */
			rawkv_slot_push(kd, &kd->limbo, rawkv_slot_of(kd, e));
			kd->mutations++;
			rawkv_slot_event(kd);
		} else {
			if (old)
				rawkv_remove(kd, old);
			rawkv_insert(kd, e);
		}
		rawkv_fp_release(kd, &rq->fpl);
		spin_unlock(&kd->lock);
		if (!ret) {
			atomic64_inc(&kd->stats.puts);
			rawkv_vbuf_account(kd, &rq->vb);
		}
	}
	rawkv_vbuf_release(&rq->vb, false);
	rawkv_cand_free_pages(&rq->cand);
	if (rq->hdr)
		__free_page(rq->hdr);
	rq->hdr = NULL;
	return ret;
}

int rawkv_put(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      const void __user *val, u64 vlen, bool sync)
{
	struct rawkv_req rq;

	rawkv_put_prepare(kd, &rq, key, klen, val, vlen, sync);
	rawkv_put_submit(kd, &rq, false);
	return rawkv_put_end(kd, &rq);
}

/* Drop @e after its slot proved not to hold its value. */
static void rawkv_drop_stale(struct rawkv_dev *kd, struct rawkv_entry *e,
			     const char *why)
{
	bool dropped = false;

	spin_lock(&kd->lock);
	if (e->state == RAWKV_E_LIVE) {
		rawkv_remove(kd, e);
		dropped = true;
	}
	spin_unlock(&kd->lock);
	if (dropped) {
		atomic64_inc(&kd->stats.stale_dropped);
		pr_warn_ratelimited("slot %u: %s; key dropped\n",
				    rawkv_slot_of(kd, e), why);
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
		     u64 buflen)
{
	u64 fp = rawkv_fp(kd, key, klen);
	struct rawkv_entry *e;
	unsigned int tried = rq->cand.n;
	u32 slot;
	int ret;

	if (!tried) {
		memset(rq, 0, sizeof(*rq));
		atomic64_inc(&kd->stats.gets);
	}
	rq->key = key;
	rq->klen = klen;
	rq->ubuf = buf;
	rq->buflen = buflen;
	spin_lock(&kd->lock);
	if (tried == RAWKV_MAX_SAME_FP ||
	    !rawkv_find(kd, fp, &slot, 1, rq->cand.slots, tried)) {
		spin_unlock(&kd->lock);
		atomic64_inc(&kd->stats.misses);
		rq->ret = -ENOENT;
		return;
	}
	e = rawkv_ent(kd, slot);
	rq->cand.slots[rq->cand.n++] = slot;
	rawkv_touch(kd, e);
	rq->vlen = e->value_len;
	if (!buflen || buflen < e->value_len) {
		spin_unlock(&kd->lock);
		atomic64_inc(&kd->stats.hits);
		rq->ret = buflen ? -ERANGE : 0;
		return;
	}
	if (!rawkv_pin(kd, e)) {
		spin_unlock(&kd->lock);
		rq->ret = -EBUSY;
		return;
	}
	spin_unlock(&kd->lock);
	rq->e = e;

	ret = -ENOMEM;
	if (!rq->hdr)
		rq->hdr = alloc_page(GFP_KERNEL_ACCOUNT);
	if (!rq->hdr)
		goto out_fail;
	ret = rawkv_vbuf_init(kd, &rq->vb, buf, e->value_len, false, false);
	if (ret)
		goto out_fail;
	rawkv_io_init(&rq->io, kd);
	rawkv_submit_slot(rq, rawkv_slot_pos(kd, slot), REQ_OP_READ, true);
	return;

out_fail:
	rq->ret = ret;
}

/*
 * Check what a GET read: 0 when the header proves the slot holds this
 * key's value and the value's crc32c matches; -EXDEV for another key's
 * value (same fingerprint); -ENOENT or -EIO with *why otherwise.
 * *value_bad tells a value checksum mismatch.
 */
static int rawkv_get_verify(struct rawkv_dev *kd, struct rawkv_req *rq,
			    const char **why, bool *value_bad)
{
	u32 crc;
	int ret;

	*value_bad = false;
	ret = rawkv_check_slot_hdr(kd, rq->e, page_address(rq->hdr), rq->key,
				   rq->klen, &crc, why);
	if (!ret && rawkv_vbuf_crc(&rq->vb) != crc) {
		*why = "value checksum mismatch";
		*value_bad = true;
		ret = -EIO;
	}
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
		rawkv_submit_slot(rq, rawkv_slot_pos(kd, rawkv_slot_of(kd, rq->e)),
				  REQ_OP_READ, true);
		ret = rawkv_io_wait(&rq->io);
	}
	if (ret) {
		/* Not a verdict on the value: keep the key. */
		*why = NULL;
		return ret;
	}
	return rawkv_get_verify(kd, rq, why, &value_bad);
}

/*
 * Finish a GET. The value counts only if the header proves the slot holds
 * this key's value and its crc32c matches; otherwise no byte read reaches
 * the caller, and the entry is dropped. An entry of another key with the
 * same fingerprint sends the GET on to the next one.
 */
int rawkv_get_end(struct rawkv_dev *kd, struct rawkv_req *rq)
{
	struct rawkv_entry *e;
	bool value_bad;
	const char *why;
	int ret;

again:
	e = rq->e;
	ret = rq->ret;
	if (rq->busy) {
		ret = rawkv_io_wait(&rq->io);
		if (!ret) {
			ret = rawkv_get_verify(kd, rq, &why, &value_bad);
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
		if (ret == -EXDEV) {
			/* Another key's value: try the next candidate. */
			rawkv_get_begin(kd, rq, rq->key, rq->klen, rq->ubuf,
					rq->buflen);
			goto again;
		}
		atomic64_inc(ret == -ENOENT ? &kd->stats.misses :
					      &kd->stats.hits);
	}
	if (rq->hdr)
		__free_page(rq->hdr);
	rq->hdr = NULL;
	return ret;
}

int rawkv_get(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      void __user *buf, u64 buflen, u64 *vlen)
{
	struct rawkv_req rq;
	int ret;

	rq.cand.n = 0;
	rawkv_get_begin(kd, &rq, key, klen, buf, buflen);
	ret = rawkv_get_end(kd, &rq);
	*vlen = rq.vlen;
	return ret;
}

/*
 * Find the live entry that holds @key among those with its fingerprint, by
 * reading their headers, and remove it. Returns 0, -ENOENT or an I/O
 * error. *adoptable tells whether the deletion must be committed now: the
 * key's value was written with RAWKV_PUT_SYNC, or some value written so
 * may still be adopted by recovery from the committed checkpoint (its
 * generation is not below that checkpoint's scan_gen) -- this key's
 * earlier one, maybe, for an evicted or overwritten key keeps no record of
 * how it was written. *gen is the generation the next PUT will take.
 */
static int rawkv_remove_key(struct rawkv_dev *kd, const u8 *key,
			    unsigned int klen, bool *adoptable, u64 *gen)
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
		*adoptable = e->sync || rawkv_sync_adoptable(kd);
		*gen = kd->next_gen;
		rawkv_remove(kd, e);
	}
	rawkv_fp_release(kd, &fpl);
	spin_unlock(&kd->lock);
	rawkv_cand_free_pages(&c);
	return ret ?: e ? 0 : -ENOENT;
}

/*
 * Whether recovery could adopt a value written with RAWKV_PUT_SYNC from the
 * committed checkpoint: one has a generation at or above its scan_gen.
 */
bool rawkv_sync_adoptable(struct rawkv_dev *kd)
{
	lockdep_assert_held(&kd->lock);
	return kd->last_sync_gen && kd->last_sync_gen >= kd->ckpt_scan_gen;
}

static bool rawkv_puts_done_below(struct rawkv_dev *kd, u64 gen)
{
	bool done;

	spin_lock(&kd->lock);
	done = rawkv_scan_gen(kd) >= gen;
	spin_unlock(&kd->lock);
	return done;
}

/*
 * Commit a checkpoint that covers every change made before the next PUT
 * would take generation @gen: wait until the PUTs that took a lower one
 * have finished (their I/O only: nothing a caller controls), so that the
 * checkpoint's scan_gen is at least @gen and recovery adopts no older sync
 * value, then commit.
 */
static int rawkv_commit_upto(struct rawkv_dev *kd, u64 gen)
{
	if (wait_event_interruptible(kd->slot_wait,
				     rawkv_puts_done_below(kd, gen)))
		return -EINTR;
	return rawkv_checkpoint(kd);
}

/*
 * DELETE: remove the key. When its value was written with RAWKV_PUT_SYNC,
 * or recovery could adopt a sync value from the committed checkpoint (a
 * rawkv_put_sync() not yet covered by one), the deletion is committed
 * before returning, so the key cannot come back.
 */
int rawkv_delete(struct rawkv_dev *kd, const u8 *key, unsigned int klen)
{
	bool adoptable = false;
	u64 gen = 0;
	int ret;

	ret = rawkv_remove_key(kd, key, klen, &adoptable, &gen);
	if (ret)
		return ret;
	atomic64_inc(&kd->stats.deletes);
	if (!adoptable)
		return 0;
	return rawkv_commit_upto(kd, gen);
}

/*
 * FLUSH: every PUT and DELETE acknowledged before it survives a power cut
 * once it returns 0.
 */
int rawkv_flush(struct rawkv_dev *kd)
{
	u64 gen;

	spin_lock(&kd->lock);
	gen = kd->next_gen;
	spin_unlock(&kd->lock);
	return rawkv_commit_upto(kd, gen);
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
 * checkpoint: it replaces the entry of the same key if that one is older.
 * Returns -EEXIST, with nothing changed, when a newer one is there.
 */
int rawkv_table_adopt(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
		      u32 slot, u64 gen, u64 value_len)
{
	struct rawkv_entry *e = rawkv_ent(kd, slot), *old;
	u64 fp = rawkv_fp(kd, key, klen);
	struct rawkv_cand c = {};
	int ret;

	old = rawkv_find_key(kd, fp, key, klen, &c, &ret);
	if (old && old->gen > gen) {
		ret = -EEXIST;
	} else if (!ret) {
		if (old)
			rawkv_remove(kd, old);
		e->fp = fp;
		e->gen = gen;
		e->value_len = value_len;
		e->sync = 1;
		rawkv_insert(kd, e);
		kd->next_gen = max(kd->next_gen, gen + 1);
	}
	spin_unlock(&kd->lock);
	rawkv_cand_free_pages(&c);
	return ret;
}

/* Payload bytes a checkpoint of the table needs. */
size_t rawkv_table_ckpt_bytes(struct rawkv_dev *kd)
{
	lockdep_assert_held(&kd->lock);
	return (size_t)kd->nr_used * sizeof(struct rawkv_ckpt_entry);
}

/*
 * Write the table into @buf, which has room for rawkv_table_ckpt_bytes(),
 * as checkpoint entries, least recently used first. Returns the length.
 */
size_t rawkv_table_serialize(struct rawkv_dev *kd, void *buf)
{
	struct rawkv_ckpt_entry *ce = buf;
	u32 slot;

	lockdep_assert_held(&kd->lock);
	for (slot = kd->lru_head; slot != RAWKV_NIL;
	     slot = kd->ents[slot].next, ce++) {
		struct rawkv_entry *e = rawkv_ent(kd, slot);

		ce->fp = cpu_to_le64(e->fp);
		ce->gen = cpu_to_le64(e->gen);
		ce->slot = cpu_to_le32(slot);
		ce->value_len = cpu_to_le32(e->value_len);
	}
	return (void *)ce - buf;
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
	st->entry_mem_bytes = kd->ents_bytes;
	st->table_mem_bytes = kd->buckets_bytes;

	spin_lock(&kd->lock);
	st->slots_used = kd->nr_used;
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
