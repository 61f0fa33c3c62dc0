// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the in-memory index. See index.h.
 *
 * The index knows slots, fingerprints, generations and lengths; it does
 * no I/O, never sleeps once built, and knows nothing of the device format
 * or of keys. The commands (store.c) and the metadata protocol (meta.c)
 * use it under rawkv_index.lock.
 */
#ifdef __KERNEL__
#include <linux/bitmap.h>
#include <linux/bug.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/lockdep.h>
#include <linux/vmalloc.h>
#endif

#include "index.h"

/*
 * The entries of a device with more than about 60 M slots take more than
 * kvmalloc() allows (INT_MAX bytes), and so do the buckets from 2^30
 * slots: those come from vmalloc directly, page by page like any large
 * kvmalloc. kvfree() frees both.
 */
static void *rawkv_big_zalloc(size_t size)
{
	if (size > INT_MAX)
		return vzalloc(size);
	return kvzalloc(size, GFP_KERNEL);
}

/* @n / @d rounded up, for any u32 @n: DIV_ROUND_UP() wraps near U32_MAX. */
static u32 rawkv_div_up(u32 n, u32 d)
{
	return n / d + !!(n % d);
}

static u32 *rawkv_bucket(struct rawkv_index *ix, u64 fp)
{
	return &ix->buckets[fp & ((1U << ix->hash_bits) - 1)];
}

int rawkv_index_init(struct rawkv_index *ix, u32 slot_count,
		     u32 meta_per_block)
{
	u32 chunks = rawkv_div_up(slot_count, RAWKV_DIRTY_CHUNK);
	u32 blocks = rawkv_div_up(slot_count, meta_per_block);
	u32 i;

	memset(ix, 0, sizeof(*ix));
	ix->slot_count = slot_count;
	ix->meta_per_block = meta_per_block;
	/* About two slots per bucket: keys are told apart by fingerprint. */
	ix->hash_bits = max(ilog2(slot_count) - 1, 1);
	ix->buckets = rawkv_big_zalloc(sizeof(u32) << ix->hash_bits);
	ix->ents = rawkv_big_zalloc((size_t)slot_count * sizeof(*ix->ents));
	ix->dirty = kvcalloc(BITS_TO_LONGS(slot_count), sizeof(long),
			     GFP_KERNEL);
	ix->dirty_sum = kvcalloc(BITS_TO_LONGS(chunks), sizeof(long),
				 GFP_KERNEL);
	ix->meta_dirty = kvcalloc(BITS_TO_LONGS(blocks), sizeof(long),
				  GFP_KERNEL);
	if (!ix->buckets || !ix->ents || !ix->dirty || !ix->dirty_sum ||
	    !ix->meta_dirty) {
		rawkv_index_free(ix);
		return -ENOMEM;
	}
	for (i = 0; i < 1U << ix->hash_bits; i++)
		ix->buckets[i] = RAWKV_NIL;
	ix->ents_bytes = (size_t)slot_count * sizeof(*ix->ents);
	ix->table_bytes = (sizeof(u32) << ix->hash_bits) +
			  (BITS_TO_LONGS(slot_count) + BITS_TO_LONGS(chunks) +
			   BITS_TO_LONGS(blocks)) * sizeof(long);
	ix->lru_head = RAWKV_NIL;
	ix->lru_tail = RAWKV_NIL;
	spin_lock_init(&ix->lock);
	return 0;
}

void rawkv_index_free(struct rawkv_index *ix)
{
	kvfree(ix->meta_dirty);
	kvfree(ix->dirty_sum);
	kvfree(ix->dirty);
	kvfree(ix->ents);
	kvfree(ix->buckets);
	ix->ents = NULL;
	ix->buckets = NULL;
	ix->dirty = NULL;
	ix->dirty_sum = NULL;
	ix->meta_dirty = NULL;
}

/*
 * Collect up to @max live entries with fingerprint @fp, skipping the slots
 * in @skip (@nskip of them). Returns how many.
 */
unsigned int rawkv_index_find(struct rawkv_index *ix, u64 fp, u32 *out,
			      unsigned int max, const u32 *skip,
			      unsigned int nskip)
{
	unsigned int n = 0, i;
	u32 slot;

	lockdep_assert_held(&ix->lock);
	for (slot = *rawkv_bucket(ix, fp); slot != RAWKV_NIL;
	     slot = ix->ents[slot].hnext) {
		if (ix->ents[slot].fp != fp)
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
void rawkv_slot_push(struct rawkv_index *ix, struct rawkv_slot_list *l,
		     u32 slot)
{
	ix->ents[slot].next = l->head;
	l->head = slot;
	if (!l->count++)
		l->tail = slot;
}

u32 rawkv_slot_pop(struct rawkv_index *ix, struct rawkv_slot_list *l)
{
	u32 slot = l->head;

	lockdep_assert_held(&ix->lock);
	l->head = ix->ents[slot].next;
	l->count--;
	return slot;
}

/* Move every slot of @src to the front of @dst. */
void rawkv_slot_splice(struct rawkv_index *ix, struct rawkv_slot_list *dst,
		       struct rawkv_slot_list *src)
{
	lockdep_assert_held(&ix->lock);
	if (!src->count)
		return;
	ix->ents[src->tail].next = dst->head;
	dst->head = src->head;
	if (!dst->count)
		dst->tail = src->tail;
	dst->count += src->count;
	src->count = 0;
}

/* Slots held by PUTs in flight and by removed values still pinned. */
u32 rawkv_index_busy(struct rawkv_index *ix)
{
	lockdep_assert_held(&ix->lock);
	return ix->slot_count - ix->free.count - ix->limbo.count -
	       ix->committing.count - ix->nr_used;
}

static void rawkv_lru_del(struct rawkv_index *ix, struct rawkv_entry *e)
{
	if (e->prev == RAWKV_NIL)
		ix->lru_head = e->next;
	else
		ix->ents[e->prev].next = e->next;
	if (e->next == RAWKV_NIL)
		ix->lru_tail = e->prev;
	else
		ix->ents[e->next].prev = e->prev;
}

static void rawkv_lru_add_tail(struct rawkv_index *ix, struct rawkv_entry *e)
{
	u32 slot = rawkv_slot_of(ix, e);

	e->prev = ix->lru_tail;
	e->next = RAWKV_NIL;
	if (ix->lru_tail == RAWKV_NIL)
		ix->lru_head = slot;
	else
		ix->ents[ix->lru_tail].next = slot;
	ix->lru_tail = slot;
}

/* A GET made @e the most recently used. */
void rawkv_index_touch(struct rawkv_index *ix, struct rawkv_entry *e)
{
	lockdep_assert_held(&ix->lock);
	rawkv_lru_del(ix, e);
	rawkv_lru_add_tail(ix, e);
}

/* Link @e, whose fields are set, into the hash and the LRU list. */
static void rawkv_link(struct rawkv_index *ix, struct rawkv_entry *e)
{
	u32 *bucket = rawkv_bucket(ix, e->fp);

	e->state = RAWKV_E_LIVE;
	e->hnext = *bucket;
	*bucket = rawkv_slot_of(ix, e);
	rawkv_lru_add_tail(ix, e);
	ix->nr_used++;
}

static void rawkv_unlink(struct rawkv_index *ix, struct rawkv_entry *e)
{
	u32 slot = rawkv_slot_of(ix, e), *p = rawkv_bucket(ix, e->fp);

	while (*p != slot)
		p = &ix->ents[*p].hnext;
	*p = e->hnext;
	rawkv_lru_del(ix, e);
	ix->nr_used--;
}

void rawkv_index_set_dirty(struct rawkv_index *ix, u32 slot)
{
	if (__test_and_set_bit(slot, ix->dirty))
		return;
	ix->nr_dirty++;
	__set_bit(slot / RAWKV_DIRTY_CHUNK, ix->dirty_sum);
}

void rawkv_index_clear_dirty(struct rawkv_index *ix, u32 slot)
{
	if (__test_and_clear_bit(slot, ix->dirty))
		ix->nr_dirty--;
}

/* The first dirty slot at or after @slot, or RAWKV_NIL. */
u32 rawkv_index_next_dirty(struct rawkv_index *ix, u32 slot)
{
	u32 chunks = rawkv_div_up(ix->slot_count, RAWKV_DIRTY_CHUNK);
	u32 chunk = slot / RAWKV_DIRTY_CHUNK;

	lockdep_assert_held(&ix->lock);
	while (slot < ix->slot_count) {
		u32 start, end, s;

		chunk = find_next_bit(ix->dirty_sum, chunks, chunk);
		if (chunk >= chunks)
			break;
		start = max(slot, chunk * RAWKV_DIRTY_CHUNK);
		/* (chunk + 1) * RAWKV_DIRTY_CHUNK wraps for the last one */
		end = chunk + 1 < chunks ? (chunk + 1) * RAWKV_DIRTY_CHUNK :
					   ix->slot_count;
		s = find_next_bit(ix->dirty, end, start);
		if (s < end)
			return s;
		/* Nothing dirty left in the chunk: forget it. */
		if (start == chunk * RAWKV_DIRTY_CHUNK)
			__clear_bit(chunk, ix->dirty_sum);
		if (++chunk >= chunks)
			break;
		slot = chunk * RAWKV_DIRTY_CHUNK;
	}
	return RAWKV_NIL;
}

void rawkv_index_set_meta_dirty(struct rawkv_index *ix, u32 block)
{
	if (!__test_and_set_bit(block, ix->meta_dirty))
		ix->nr_meta_dirty++;
}

void rawkv_index_clear_meta_dirty(struct rawkv_index *ix, u32 block)
{
	if (__test_and_clear_bit(block, ix->meta_dirty))
		ix->nr_meta_dirty--;
}

/* The first block of slot metadata at or after @block to write back. */
u32 rawkv_index_next_meta_dirty(struct rawkv_index *ix, u32 block)
{
	u32 blocks = rawkv_div_up(ix->slot_count, ix->meta_per_block);

	block = find_next_bit(ix->meta_dirty, blocks, block);
	return block < blocks ? block : RAWKV_NIL;
}

/*
 * A commit made durable that @slot holds its value (@live) or is free:
 * that is now its committed state, to be written back in place.
 */
void rawkv_index_committed(struct rawkv_index *ix, u32 slot, bool live)
{
	struct rawkv_entry *e = rawkv_ent(ix, slot);

	lockdep_assert_held(&ix->lock);
	if (live)
		e->flags |= RAWKV_EF_COMMITTED;
	else
		e->flags &= ~RAWKV_EF_COMMITTED;
	rawkv_index_set_meta_dirty(ix, slot / ix->meta_per_block);
}

/*
 * Publish a value a PUT wrote into @slot, which it took from the free
 * list: the slot is free in the committed table, so not committed yet.
 */
void rawkv_index_insert(struct rawkv_index *ix, u32 slot, u64 fp, u64 gen,
			u32 value_len, bool sync)
{
	struct rawkv_entry *e = rawkv_ent(ix, slot);

	lockdep_assert_held(&ix->lock);
	e->fp = fp;
	e->gen = gen;
	e->value_len = value_len;
	e->flags = sync ? RAWKV_EF_SYNC : 0;
	rawkv_link(ix, e);
	rawkv_index_set_dirty(ix, slot);
	ix->changes++;
}

/*
 * Free the slot of a removed entry. It goes to limbo: the committed table
 * may still map the key to it, so its bytes must stay until a commit that
 * no longer does is durable. Reusing it earlier would let a crash lose a
 * replaced key's flushed value, or tear the value a resurrected key reads.
 */
static void rawkv_entry_free(struct rawkv_index *ix, struct rawkv_entry *e)
{
	e->state = RAWKV_E_IDLE;
	rawkv_slot_push(ix, &ix->limbo, rawkv_slot_of(ix, e));
}

/* Take @e out of the table; its slot is freed once no reader pins it. */
void rawkv_index_remove(struct rawkv_index *ix, struct rawkv_entry *e)
{
	lockdep_assert_held(&ix->lock);
	rawkv_unlink(ix, e);
	rawkv_index_set_dirty(ix, rawkv_slot_of(ix, e));
	ix->changes++;
	e->state = RAWKV_E_DEAD;
	if (!e->pins)
		rawkv_entry_free(ix, e);
}

/* Returns false, pinning nothing, if @e cannot take another pin. */
bool rawkv_index_pin(struct rawkv_index *ix, struct rawkv_entry *e)
{
	lockdep_assert_held(&ix->lock);
	if (WARN_ON_ONCE(e->pins == U32_MAX))
		return false;
	e->pins++;
	return true;
}

/* Returns true when that was the last pin: a slot may have come free. */
bool rawkv_index_unpin(struct rawkv_index *ix, struct rawkv_entry *e)
{
	lockdep_assert_held(&ix->lock);
	if (--e->pins)
		return false;
	if (e->state == RAWKV_E_DEAD)
		rawkv_entry_free(ix, e);
	return true;
}

/*
 * At load, before the store is shared: @slot holds a committed value,
 * replacing what the index had for the slot. Entries go to the LRU tail
 * in the order they are loaded.
 */
void rawkv_index_load(struct rawkv_index *ix, u32 slot, u64 fp, u64 gen,
		      u32 value_len, bool sync)
{
	struct rawkv_entry *e = rawkv_ent(ix, slot);

	if (e->state == RAWKV_E_LIVE)
		rawkv_unlink(ix, e);
	e->fp = fp;
	e->gen = gen;
	e->value_len = value_len;
	e->flags = RAWKV_EF_COMMITTED | (sync ? RAWKV_EF_SYNC : 0);
	rawkv_link(ix, e);
}

/* At load: @slot is free in the committed table. */
void rawkv_index_load_clear(struct rawkv_index *ix, u32 slot)
{
	struct rawkv_entry *e = rawkv_ent(ix, slot);

	if (e->state == RAWKV_E_LIVE)
		rawkv_unlink(ix, e);
	e->state = RAWKV_E_IDLE;
	e->flags = 0;
}

/*
 * At load: put the live entries of @order (@n slot indices, least
 * recently used first, untrusted) in that order at the LRU tail, each
 * once. After the @last part, the entries no part named (newer than the
 * hint) follow them, in the order they were loaded.
 */
void rawkv_index_lru_hint(struct rawkv_index *ix, const __le32 *order,
			  u32 n, bool last)
{
	u32 i, slot;

	for (i = 0; i < n; i++) {
		struct rawkv_entry *e;

		slot = le32_to_cpu(order[i]);
		if (slot >= ix->slot_count)
			continue;
		e = rawkv_ent(ix, slot);
		if (e->state != RAWKV_E_LIVE || e->flags & RAWKV_EF_MARK)
			continue;
		rawkv_lru_del(ix, e);
		rawkv_lru_add_tail(ix, e);
		e->flags |= RAWKV_EF_MARK;
	}
	if (!last)
		return;
	/* The unnamed entries are now at the head: move them behind. */
	for (i = 0; i < ix->nr_used; i++) {
		struct rawkv_entry *e = rawkv_ent(ix, ix->lru_head);

		if (e->flags & RAWKV_EF_MARK)
			break;
		rawkv_lru_del(ix, e);
		rawkv_lru_add_tail(ix, e);
	}
	for (slot = ix->lru_head; slot != RAWKV_NIL; slot = ix->ents[slot].next)
		ix->ents[slot].flags &= ~RAWKV_EF_MARK;
}

/*
 * At load, after the last rawkv_index_load(): the slots in [@from, @to)
 * that hold nothing go on the free list. Called for ranges from the top
 * down, so the lowest slot ends up first. Nothing persisted is trusted
 * for this.
 */
void rawkv_index_load_done(struct rawkv_index *ix, u32 from, u32 to)
{
	u32 slot;

	for (slot = to; slot-- > from;)
		if (ix->ents[slot].state != RAWKV_E_LIVE)
			rawkv_slot_push(ix, &ix->free, slot);
}
