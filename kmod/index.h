/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: the in-memory index of a store (index.c).
 *
 * One struct rawkv_entry per slot, a hash of fingerprints, the LRU list,
 * the lists of slots that are free or waiting for a commit, and which
 * slots changed since the last commit. No I/O and no sleeping: every
 * function but init/free runs under rawkv_index.lock (or before the store
 * is shared, at load), and the whole file also builds in user space for
 * its unit test (selftests/index/).
 */
#ifndef _RAWKV_INDEX_H
#define _RAWKV_INDEX_H

#ifdef __KERNEL__
#include <linux/spinlock.h>
#include <linux/types.h>
#else
#include "index_user_compat.h"
#endif

#define RAWKV_NIL		U32_MAX

/* Most entries one fingerprint is expected to have (keys are told apart). */
#define RAWKV_MAX_SAME_FP	8

/* Slots per bit of rawkv_index.dirty_sum. */
#define RAWKV_DIRTY_CHUNK	4096U

enum { RAWKV_E_IDLE, RAWKV_E_LIVE, RAWKV_E_DEAD };

/* rawkv_entry.flags */
#define RAWKV_EF_SYNC		0x1	/* written by a sync PUT */
#define RAWKV_EF_COMMITTED	0x2	/* the committed table has it */
#define RAWKV_EF_MARK		0x4	/* scratch, at load only */

/* Bits of rawkv_entry.value_len: values are below 128 MiB. */
#define RAWKV_VALUE_LEN_BITS	27

/**
 * struct rawkv_entry - the index's record of one slot
 * @fp:		fingerprint of the key (siphash keyed by the device uuid)
 * @gen:	generation of the PUT that wrote the slot
 * @hnext:	next slot in the hash chain
 * @prev:	previous slot on the LRU list
 * @next:	next slot on the LRU list, or on the slot list the slot is on
 * @pins:	readers of the slot right now (GETs, and PUTs or DELETEs
 *		checking its key); the slot is not reused before the last one
 *		is done. 32 bits: a 16-bit count wrapped under 65,536 GETs of
 *		one key in flight
 * @value_len:	value length
 * @state:	RAWKV_E_LIVE: in the table; RAWKV_E_DEAD: removed, freed at
 *		the last unpin; RAWKV_E_IDLE: neither
 * @flags:	RAWKV_EF_*. RAWKV_EF_COMMITTED: the last committed log
 *		transaction (or the slot metadata) says the slot holds this
 *		value. @fp, @gen and @value_len change only when a PUT takes
 *		the slot, which needs it free in the committed table, so
 *		they and this flag are the slot's committed state.
 *
 * 36 bytes per slot whatever the key length. Guarded by rawkv_index.lock
 * (the bit fields share a word: every write to it is under the lock).
 */
struct rawkv_entry {
	u64 fp;
	u64 gen;
	u32 hnext;
	u32 prev;
	u32 next;
	u32 pins;
	u32 value_len:RAWKV_VALUE_LEN_BITS;
	u32 state:2;
	u32 flags:3;
} __packed __aligned(4);

/* A list of slots threaded through rawkv_entry.next. */
struct rawkv_slot_list {
	u32 head;
	u32 tail;
	u32 count;
};

/**
 * struct rawkv_index - the table of one store
 * @lock:	guards everything below once the store is shared
 * @ents:	one entry per slot
 * @buckets:	hash chain heads, 1 << @hash_bits of them
 * @slot_count:	slots of the device
 * @meta_per_block: slots per block of slot metadata (for @meta_dirty)
 * @lru_head:	least recently used live entry
 * @lru_tail:	most recently used
 * @free:	slots free in the committed table and in memory
 * @limbo:	slots that left the table since the last commit collected
 *		its changes: the committed table may still map a key to
 *		them, so they keep their bytes
 * @committing:	slots that were in limbo when the commit being written
 *		collected its changes: free once it is durable
 * @nr_used:	live entries
 * @changes:	bumped by every insert and remove
 * @dirty:	slots changed since the last commit collected them
 * @dirty_sum:	RAWKV_DIRTY_CHUNK slots per bit: some slot there is dirty
 * @nr_dirty:	bits set in @dirty
 * @meta_dirty:	blocks of slot metadata whose committed state is not yet
 *		written in place
 * @nr_meta_dirty: bits set in @meta_dirty
 *
 * Every slot is in exactly one place: @free, @limbo, @committing, the
 * table (live, or dead and still pinned), or a PUT in flight (which took
 * it from @free). A slot the committed table references is thus never
 * rewritten.
 */
struct rawkv_index {
	spinlock_t lock;		/* see above */
	struct rawkv_entry *ents;
	u32 *buckets;
	unsigned int hash_bits;
	u32 slot_count;
	u32 meta_per_block;
	u32 lru_head;
	u32 lru_tail;
	struct rawkv_slot_list free;
	struct rawkv_slot_list limbo;
	struct rawkv_slot_list committing;
	u32 nr_used;
	u64 changes;
	unsigned long *dirty;
	unsigned long *dirty_sum;
	u32 nr_dirty;
	unsigned long *meta_dirty;
	u32 nr_meta_dirty;
	size_t ents_bytes;		/* @ents, as allocated */
	size_t table_bytes;		/* the rest, as allocated */
};

static inline struct rawkv_entry *rawkv_ent(struct rawkv_index *ix, u32 slot)
{
	return &ix->ents[slot];
}

static inline u32 rawkv_slot_of(struct rawkv_index *ix, struct rawkv_entry *e)
{
	return e - ix->ents;
}

int rawkv_index_init(struct rawkv_index *ix, u32 slot_count,
		     u32 meta_per_block);
void rawkv_index_free(struct rawkv_index *ix);

unsigned int rawkv_index_find(struct rawkv_index *ix, u64 fp, u32 *out,
			      unsigned int max, const u32 *skip,
			      unsigned int nskip);
void rawkv_index_insert(struct rawkv_index *ix, u32 slot, u64 fp, u64 gen,
			u32 value_len, bool sync);
void rawkv_index_remove(struct rawkv_index *ix, struct rawkv_entry *e);
void rawkv_index_touch(struct rawkv_index *ix, struct rawkv_entry *e);
bool rawkv_index_pin(struct rawkv_index *ix, struct rawkv_entry *e);
bool rawkv_index_unpin(struct rawkv_index *ix, struct rawkv_entry *e);

u32 rawkv_slot_pop(struct rawkv_index *ix, struct rawkv_slot_list *l);
void rawkv_slot_push(struct rawkv_index *ix, struct rawkv_slot_list *l,
		     u32 slot);
void rawkv_slot_splice(struct rawkv_index *ix, struct rawkv_slot_list *dst,
		       struct rawkv_slot_list *src);
u32 rawkv_index_busy(struct rawkv_index *ix);

u32 rawkv_index_next_dirty(struct rawkv_index *ix, u32 slot);
void rawkv_index_set_dirty(struct rawkv_index *ix, u32 slot);
void rawkv_index_clear_dirty(struct rawkv_index *ix, u32 slot);
void rawkv_index_committed(struct rawkv_index *ix, u32 slot, bool live);
u32 rawkv_index_next_meta_dirty(struct rawkv_index *ix, u32 block);
void rawkv_index_set_meta_dirty(struct rawkv_index *ix, u32 block);
void rawkv_index_clear_meta_dirty(struct rawkv_index *ix, u32 block);

void rawkv_index_load(struct rawkv_index *ix, u32 slot, u64 fp, u64 gen,
		      u32 value_len, bool sync);
void rawkv_index_load_clear(struct rawkv_index *ix, u32 slot);
void rawkv_index_lru_hint(struct rawkv_index *ix, const __le32 *order,
			  u32 n, bool last);
void rawkv_index_load_done(struct rawkv_index *ix, u32 from, u32 to);

#endif /* _RAWKV_INDEX_H */
