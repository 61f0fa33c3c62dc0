/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: private definitions shared by the module's files.
 *
 * main.c	module parameters, load/unload, the ioctl transport
 * fault.c	fault injection for tests (fault_inject=1)
 * store.c	the slot table and the PUT / GET / DELETE / STAT commands
 * io.c		the bio engine: batches of bios in flight together
 * value.c	the pages of a value: the caller's, pinned, or bounce pages
 * checkpoint.c	format, superblock, checkpoint commit and recovery
 */
#ifndef _RAWKV_H
#define _RAWKV_H

#include <linux/atomic.h>
#include <linux/jump_label.h>
#include <linux/blk_types.h>
#include <linux/completion.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/siphash.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "rawkv_decode.h"
#include "rawkv_format.h"

struct rawkv_ioc_stat;
struct rawkv_faults;
struct bio;

#define RAWKV_NIL		U32_MAX

/* Most entries one fingerprint is expected to have (keys are told apart). */
#define RAWKV_MAX_SAME_FP	8

enum { RAWKV_E_IDLE, RAWKV_E_LIVE, RAWKV_E_DEAD };

/**
 * struct rawkv_entry - the table's record of one slot
 * @fp:		fingerprint of the key (siphash keyed by the device uuid)
 * @gen:	generation of the PUT that wrote the slot
 * @value_len:	value length
 * @hnext:	next slot in the hash chain
 * @prev:	previous slot on the LRU list
 * @next:	next slot on the LRU list, or on the slot list the slot is on
 * @pins:	GETs (and PUTs or DELETEs checking its key) reading the slot
 *		right now; the slot is not reused before the last one is done
 * @state:	RAWKV_E_LIVE: in the table; RAWKV_E_DEAD: removed, freed at
 *		the last unpin; RAWKV_E_IDLE: neither
 * @sync:	the slot's header carries RAWKV_SLOT_SYNC: recovery may adopt
 *		it from a checkpoint whose scan_gen is not above @gen
 *
 * One per slot, indexed by slot, 40 bytes whatever the key length. Guarded
 * by rawkv_dev.lock, except a slot's fields while a PUT in flight owns it.
 */
struct rawkv_entry {
	u64 fp;
	u64 gen;
	u32 value_len;
	u32 hnext;
	u32 prev;
	u32 next;
	u32 pins;
	u8 state;
	u8 sync;
};

struct rawkv_stats {
	atomic64_t puts;
	atomic64_t gets;
	atomic64_t hits;
	atomic64_t misses;
	atomic64_t deletes;
	atomic64_t evictions;
	atomic64_t checkpoints;
	atomic64_t bytes_written;
	atomic64_t bytes_read;
	atomic64_t io_errors;
	atomic64_t load_dropped;
	atomic64_t stale_dropped;
	atomic64_t bytes_zero_copy;
	atomic64_t bytes_bounced;
};

/* A PUT between taking its slot and publishing its entry. */
struct rawkv_inflight {
	struct list_head node;		/* in rawkv_dev.inflight */
	u64 gen;
	u32 slot;
};

/* A PUT or DELETE in flight owns its key's fingerprint. */
struct rawkv_fp_lock {
	struct list_head node;		/* in rawkv_dev.fp_busy */
	u64 fp;
};

/* A list of slots threaded through rawkv_dev.slot_next. */
struct rawkv_slot_list {
	u32 head;
	u32 tail;
	u32 count;
};

/**
 * struct rawkv_dev - one block device served by rawkv
 *
 * @geo, @lbs, @evict and @checkpoint_ms are set at load and never change,
 * so they are read without a lock.
 *
 * @lock guards the table: @ents, @buckets, the LRU list, the slot lists,
 * @inflight, @fp_busy, @nr_used, @next_gen, @last_sync_gen, @mutations,
 * @slot_events. No I/O is ever done under it.
 *
 * Every slot is in exactly one place: @free; @limbo (left the table since
 * the last checkpoint snapshot: the committed checkpoint may still map its
 * key to it, so it keeps its bytes); @committing (was in limbo when the
 * checkpoint being written took its snapshot: free once that checkpoint
 * commits); a table entry; or a PUT in flight (on @inflight, oldest
 * generation first). A slot the committed checkpoint references is thus
 * never rewritten.
 *
 * @ckpt_mutex makes checkpoint writers one at a time and guards
 * @next_seq. @ckpt_seq, @ckpt_mutations and @ckpt_scan_gen are written
 * under both @ckpt_mutex and @lock, so holding either is enough to read
 * them.
 */
struct rawkv_dev {
	struct rawkv_bdev bd;
	struct block_device *bdev;

	struct rawkv_geo geo;
	unsigned int lbs;
	bool formatted;			/* by this load: nothing to scan */
	bool evict;
	unsigned int checkpoint_ms;

	spinlock_t lock;			/* the table: see above */
	struct rawkv_entry *ents;	/* one per slot */
	u32 *buckets;			/* hash chain heads */
	unsigned int hash_bits;
	siphash_key_t fp_key;
	u64 fp_mask;			/* fault_inject's fp_mask */
	size_t ents_bytes;		/* @ents, as allocated */
	size_t buckets_bytes;		/* @buckets, as allocated */
	u32 lru_head;			/* least recently used */
	u32 lru_tail;
	struct rawkv_slot_list free;	/* lowest slot first after load */
	struct rawkv_slot_list limbo;
	struct rawkv_slot_list committing;
	u32 nr_used;			/* entries in the table */
	struct list_head inflight;	/* PUTs in flight, oldest first */
	struct list_head fp_busy;	/* fingerprints owned by requests */
	u64 next_gen;
	u64 last_sync_gen;		/* highest RAWKV_PUT_SYNC generation */
	u64 mutations;			/* bumped by every table change */
	u64 slot_events;		/* bumped when a slot may be free */
	wait_queue_head_t slot_wait;

	struct mutex ckpt_mutex;	/* one checkpoint writer */
	u64 ckpt_seq;			/* last committed checkpoint */
	u64 ckpt_mutations;		/* @mutations it holds */
	u64 ckpt_scan_gen;		/* its scan_gen */
	u64 next_seq;			/* sequence of the next checkpoint */
	struct delayed_work ckpt_work;

	struct rawkv_stats stats;
	struct miscdevice misc;
	struct rawkv_faults *faults;	/* fault_inject=1 only */
};

/* io.c */
struct rawkv_io {
	struct rawkv_dev *kd;
	atomic_t pending;
	blk_status_t status;
	struct completion done;
	struct bio *bio;		/* being built */
	u64 pos;			/* device byte of the next segment */
	blk_opf_t opf;
	unsigned int nr_hint;
};

void rawkv_io_init(struct rawkv_io *io, struct rawkv_dev *kd);
void rawkv_io_start(struct rawkv_io *io, u64 pos, blk_opf_t opf,
		    unsigned int nr_hint);
void rawkv_io_add(struct rawkv_io *io, struct page *page, unsigned int len,
		  unsigned int off);
void rawkv_io_submit(struct rawkv_io *io, struct page **pages,
		     unsigned int nr, u64 pos, blk_opf_t opf);
void rawkv_io_send(struct rawkv_io *io);
int rawkv_io_wait(struct rawkv_io *io);
int rawkv_rw_block(struct rawkv_dev *kd, struct page *page, u64 pos,
		   blk_opf_t opf);
struct page **rawkv_pages_alloc(unsigned int nr);
void rawkv_pages_free(struct page **pages, unsigned int nr);

/* value.c */
struct rawkv_vbuf {
	void __user *ubuf;
	u64 len;
	bool pinned;			/* the caller's pages are in @bv */
	bool user_written;		/* a read went to the caller's pages */
	struct page **upages;		/* pinned pages */
	unsigned int nr_upages;
	struct page **bounce;		/* RAWKV_BLOCK_SIZE bounce pages */
	unsigned int nr_bounce;
	u64 bounce_off;			/* value byte the bounce pages start at */
	struct bio_vec *bv;		/* the segments, in value order */
	unsigned int nr_bv;
};

void rawkv_vbuf_account(struct rawkv_dev *kd, struct rawkv_vbuf *vb);
int rawkv_vbuf_init(struct rawkv_dev *kd, struct rawkv_vbuf *vb,
		    void __user *ubuf, u64 len, bool to_device, bool bounce);
void rawkv_vbuf_io(struct rawkv_vbuf *vb, struct rawkv_io *io);
u32 rawkv_vbuf_crc(struct rawkv_vbuf *vb);
int rawkv_vbuf_copy_out(struct rawkv_vbuf *vb, bool verified);
void rawkv_vbuf_release(struct rawkv_vbuf *vb, bool dirty);

/*
 * One PUT or GET between submitting its bios and completing: the commands
 * run as begin + end, so a batch can submit every request before waiting
 * for any.
 */
/* Entries sharing a fingerprint, pinned while their headers are read. */
struct rawkv_cand {
	unsigned int n;
	u32 slots[RAWKV_MAX_SAME_FP];
	u64 gens[RAWKV_MAX_SAME_FP];
	struct page *pages[RAWKV_MAX_SAME_FP];
};

struct rawkv_req {
	struct rawkv_io io;
	struct rawkv_vbuf vb;
	struct page *hdr;		/* slot header block */
	struct rawkv_entry *e;		/* PUT: the new entry; GET: pinned */
	const u8 *key;
	unsigned int klen;
	void __user *ubuf;		/* GET */
	u64 buflen;			/* GET */
	struct rawkv_inflight put;
	struct rawkv_fp_lock fpl;	/* PUT */
	struct rawkv_cand cand;		/* PUT: same fingerprint; GET: tried */
	u64 vlen;			/* value length */
	bool sync;
	bool hdr_done;			/* PUT: sync header sent */
	bool claimed;			/* PUT: owns a slot and the fingerprint */
	bool busy;			/* bios submitted */
	int ret;
};

/*
 * fault.c. Durability measures fault_inject's "strip" can leave out, one
 * bit each, so that the crash tests can show they would notice.
 */
#define RAWKV_STRIP_CKPT_PREFLUSH	BIT(0)	/* checkpoint header's flush */
#define RAWKV_STRIP_CKPT_FUA		BIT(1)	/* checkpoint header's FUA */
#define RAWKV_STRIP_SYNC_VALUE_FUA	BIT(2)	/* sync PUT: value's FUA */
#define RAWKV_STRIP_SYNC_HDR_FUA	BIT(3)	/* sync PUT: header's FUA */
#define RAWKV_STRIP_SYNC_VALUE_WAIT	BIT(4)	/* sync PUT: header first */
#define RAWKV_STRIP_CKPT_PAYLOAD_WAIT	BIT(5)	/* checkpoint: header first */

DECLARE_STATIC_KEY_FALSE(rawkv_faults_on);
bool rawkv_fault_bio(struct rawkv_dev *kd, struct bio *bio);
void rawkv_fault_bio_done(struct rawkv_dev *kd, struct bio *bio);
bool rawkv_fault_strip(struct rawkv_dev *kd, unsigned int what);
bool rawkv_fault_params_set(void);
int rawkv_faults_init(struct rawkv_dev *kd);
void rawkv_faults_add_files(struct rawkv_dev *kd);
void rawkv_faults_remove_files(struct rawkv_dev *kd);
void rawkv_faults_exit(struct rawkv_dev *kd);

/* store.c */
int rawkv_table_init(struct rawkv_dev *kd);
void rawkv_table_free(struct rawkv_dev *kd);
void rawkv_table_load(struct rawkv_dev *kd, u64 fp, u32 slot, u64 gen,
		      u64 value_len);
void rawkv_table_load_done(struct rawkv_dev *kd, const unsigned long *used);
void rawkv_slot_splice(struct rawkv_dev *kd, struct rawkv_slot_list *dst,
		       struct rawkv_slot_list *src);
void rawkv_slot_event(struct rawkv_dev *kd);
void rawkv_slots_committed(struct rawkv_dev *kd, struct rawkv_slot_list *src,
			   u64 scan_gen);
int rawkv_put(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      const void __user *val, u64 vlen, bool sync);
void rawkv_put_prepare(struct rawkv_dev *kd, struct rawkv_req *rq,
		       const u8 *key, unsigned int klen,
		       const void __user *val, u64 vlen, bool sync);
u64 rawkv_put_bounce_bytes(struct rawkv_req *rq);
void rawkv_put_submit(struct rawkv_dev *kd, struct rawkv_req *rq, bool nowait);
int rawkv_put_end(struct rawkv_dev *kd, struct rawkv_req *rq);
void rawkv_get_begin(struct rawkv_dev *kd, struct rawkv_req *rq,
		     const u8 *key, unsigned int klen, void __user *buf,
		     u64 buflen);
int rawkv_get_end(struct rawkv_dev *kd, struct rawkv_req *rq);
int rawkv_get(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      void __user *buf, u64 buflen, u64 *vlen);
int rawkv_delete(struct rawkv_dev *kd, const u8 *key, unsigned int klen);
int rawkv_flush(struct rawkv_dev *kd);
bool rawkv_sync_adoptable(struct rawkv_dev *kd);
void rawkv_fill_stat(struct rawkv_dev *kd, struct rawkv_ioc_stat *st);
size_t rawkv_table_ckpt_bytes(struct rawkv_dev *kd);
size_t rawkv_table_serialize(struct rawkv_dev *kd, void *buf);
u64 rawkv_scan_gen(struct rawkv_dev *kd);
int rawkv_table_adopt(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
		      u32 slot, u64 gen, u64 value_len);

/* checkpoint.c */
int rawkv_format(struct rawkv_dev *kd, u64 slot_size);
int rawkv_read_super(struct rawkv_dev *kd);
int rawkv_recover(struct rawkv_dev *kd);
int rawkv_checkpoint(struct rawkv_dev *kd);

static inline u64 rawkv_slot_pos(const struct rawkv_dev *kd, u32 slot)
{
	return kd->geo.data_off + (u64)slot * kd->geo.slot_size;
}

#endif /* _RAWKV_H */
