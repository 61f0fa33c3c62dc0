/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: private definitions shared by the module's files.
 *
 * Layers, each using only the ones below it:
 *
 * main.c	module parameters, load/unload, the ioctl and io_uring
 *		transports of a store's device
 * stores.c	the stores: attach and detach, the control device
 * sysfs.c	a store's attributes and counters in sysfs
 * store.c	the commands: PUT / GET / DELETE / FLUSH / STAT
 * meta.c	the durable metadata protocol: format, commit, writeback,
 *		recovery
 * index.c	the in-memory index (index.h): no I/O, no sleeping
 * io.c		the bio engine: batches of bios in flight together
 * value.c	the pages of a value: the caller's, pinned, or bounce pages
 * rawkv_decode.c  validation of everything read from the device
 * fault.c	fault injection for tests (fault_inject=1)
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
#include <linux/percpu.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "index.h"
#include "rawkv_decode.h"
#include "rawkv_format.h"
#include "../uapi/rawkv.h"

struct rawkv_ioc_stat;
struct rawkv_faults;
struct bio;

/*
 * Counters of rawkv stat, one set per CPU: a command adds to its own CPU's
 * with rawkv_count() (no shared cache line, safe in any context), and
 * rawkv_fill_stat() sums them.
 */
enum rawkv_counter {
	RAWKV_C_PUTS,
	RAWKV_C_GETS,
	RAWKV_C_HITS,
	RAWKV_C_MISSES,
	RAWKV_C_DELETES,
	RAWKV_C_EVICTIONS,
	RAWKV_C_CHECKPOINTS,
	RAWKV_C_BYTES_WRITTEN,
	RAWKV_C_BYTES_READ,
	RAWKV_C_IO_ERRORS,
	RAWKV_C_LOAD_DROPPED,
	RAWKV_C_STALE_DROPPED,
	RAWKV_C_BYTES_ZERO_COPY,
	RAWKV_C_BYTES_BOUNCED,
	RAWKV_C_NR
};

struct rawkv_stats {
	u64 c[RAWKV_C_NR];
};

/* A PUT or DELETE in flight owns its key's fingerprint. */
struct rawkv_fp_lock {
	struct list_head node;		/* in rawkv_dev.fp_busy */
	u64 fp;
};

/**
 * struct rawkv_meta - the state of the durable metadata (meta.c)
 * @mutex:	one metadata writer at a time (commit, writeback, anchor);
 *		guards every field below
 * @seq:	the last committed log transaction (also written under the
 *		index lock, so either lock is enough to read it)
 * @committed_changes: rawkv_index.changes the last commit covered (also
 *		written under the index lock)
 * @next_seq:	sequence number of the next transaction
 * @head:	log block the next transaction goes to
 * @tail:	first log block the slot metadata may still need
 * @tail_seq:	first transaction the slot metadata may lack
 * @used:	log blocks from @tail to @head, skipped ones included
 * @anchor_seq:	sequence number of the next anchor
 * @lru_count:	entries of the LRU hint the anchors point at
 * @lru_crc:	its crc32c
 * @wb_epoch:	bumped by every writeback that moved the tail
 * @wb_pages:	RAWKV_WB_BLOCKS pages for writeback
 * @wb_work:	the background writeback
 */
struct rawkv_meta {
	struct mutex mutex;		/* see above */
	u64 seq;
	u64 committed_changes;
	u64 next_seq;
	u32 head;
	u32 tail;
	u64 tail_seq;
	u32 used;
	u64 anchor_seq;
	u64 lru_count;
	u32 lru_crc;
	u64 wb_epoch;
	struct page **wb_pages;
	struct work_struct wb_work;
};

/* Messages about one store start with the path of its device. */
#define rawkv_err(kd, fmt, ...) \
	pr_err("%s: " fmt, (kd)->path, ##__VA_ARGS__)
#define rawkv_warn(kd, fmt, ...) \
	pr_warn("%s: " fmt, (kd)->path, ##__VA_ARGS__)
#define rawkv_info(kd, fmt, ...) \
	pr_info("%s: " fmt, (kd)->path, ##__VA_ARGS__)
#define rawkv_err_rl(kd, fmt, ...) \
	pr_err_ratelimited("%s: " fmt, (kd)->path, ##__VA_ARGS__)
#define rawkv_warn_rl(kd, fmt, ...) \
	pr_warn_ratelimited("%s: " fmt, (kd)->path, ##__VA_ARGS__)

/* How to attach a store: from the module parameters or RAWKV_CTL_ATTACH. */
struct rawkv_store_args {
	const char *path;
	bool format;
	u64 slot_size;
	unsigned int checkpoint_ms;
	bool evict;
	bool faults;			/* fault_inject=1: debugfs files */
	bool fault_params;		/* armed from the fault_* parameters */
};

/**
 * struct rawkv_dev - one block device served by rawkv: a store
 *
 * @geo, @lbs, @hdr_len, @evict, @checkpoint_ms, @dirty_max, @fp_key, @id,
 * @name and @path are set at attach and never change, so they are read
 * without a lock.
 *
 * @open_lock guards @opens and @detached: a store whose device node is
 * open cannot be detached, and once @detached is set nothing opens it.
 *
 * @hdr_len: bytes of a slot's header block that PUT writes and GET reads,
 * the slot header and its room for user metadata (RAWKV_SLOT_HDR_BYTES)
 * rounded up to the logical block size (1 KiB on a 512-byte-sector
 * device: a 64 KiB value then moves 65 KiB, not 68).
 *
 * @ix.lock guards the index (see index.h) and, here, @fp_busy, @next_gen
 * and @slot_events. No I/O is ever done under it.
 */
struct rawkv_dev {
	struct rawkv_bdev bd;
	struct block_device *bdev;

	struct rawkv_geo geo;
	unsigned int lbs;
	unsigned int hdr_len;
	bool evict;
	unsigned int checkpoint_ms;
	u32 dirty_max;			/* changes a commit takes at most */

	struct rawkv_index ix;
	siphash_key_t fp_key;
	u64 fp_mask;			/* fault_inject's fp_mask */
	struct list_head fp_busy;	/* fingerprints owned by requests */
	u64 next_gen;
	u64 slot_events;		/* bumped when a slot may be free */
	wait_queue_head_t slot_wait;

	struct rawkv_meta meta;
	struct delayed_work ckpt_work;	/* the background commit */

	struct rawkv_stats __percpu *stats;
	struct miscdevice misc;
	struct rawkv_faults *faults;	/* fault_inject=1 only */

	unsigned int id;		/* store number: /dev/rawkv<id> */
	char name[16];			/* "rawkv", "rawkv1", ... */
	char path[RAWKV_PATH_MAX];	/* the block device, as given */
	spinlock_t open_lock;		/* see above */
	unsigned int opens;
	bool detached;
};

static inline void rawkv_count(struct rawkv_dev *kd, enum rawkv_counter c,
			       u64 n)
{
	this_cpu_add(kd->stats->c[c], n);
}

/* A request waiting for a slot or a fingerprint may now go on. */
static inline void rawkv_slot_event(struct rawkv_dev *kd)
{
	lockdep_assert_held(&kd->ix.lock);
	kd->slot_events++;
	wake_up(&kd->slot_wait);
}

/*
 * Writes of values, slot headers and commits: a caller waits for each, as
 * for O_DIRECT (see block/fops.c), so writeback throttling must not hold
 * them back like background writeback.
 */
#define RAWKV_OPF_WRITE		(REQ_OP_WRITE | REQ_SYNC | REQ_IDLE)

/* io.c */
struct rawkv_io {
	struct rawkv_dev *kd;
	atomic_t pending;
	blk_status_t status;
	struct completion done;
	struct bio *bio;		/* being built */
	unsigned int nr_segs;		/* segments in @bio */
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
/* crc32c(): which driver backs it and its speed, measured at module load. */
struct rawkv_crc32c_info {
	char driver[16];
	u32 mbps;
};

extern struct rawkv_crc32c_info rawkv_crc32c_info;
void rawkv_crc32c_probe(void);
void rawkv_vbuf_io(struct rawkv_vbuf *vb, struct rawkv_io *io);
u32 rawkv_vbuf_crc_segs(struct rawkv_vbuf *vb, u32 crc, unsigned int first,
			unsigned int end, u64 *left);
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
	struct rawkv_rec rec;		/* rawkv_match_key()'s, in @pages */
	bool damaged;			/* it met a damaged header */
};

/*
 * GET reads a value in pieces, each its own batch of bios, so that the
 * checksum of a piece is computed while the later ones are in flight.
 */
struct rawkv_piece {
	struct rawkv_io io;
	unsigned int seg_end;		/* the piece ends before this segment */
};

/*
 * A caller's buffer for a value's user metadata (GET and EXISTS): @len is
 * set to the metadata's length (0 when the value has none) once @known.
 */
struct rawkv_umeta {
	void __user *buf;
	u32 buflen;
	u32 len;
	bool known;
};

struct rawkv_req {
	struct rawkv_io io;
	struct rawkv_piece *pieces;	/* GET */
	unsigned int nr_pieces;		/* GET */
	struct rawkv_vbuf vb;
	struct page *hdr;		/* slot header block */
	struct rawkv_entry *e;		/* PUT: the new entry; GET: pinned */
	const u8 *key;
	unsigned int klen;
	void __user *ubuf;		/* GET */
	u64 buflen;			/* GET */
	u64 gen;			/* PUT */
	u32 slot;			/* PUT */
	struct rawkv_fp_lock fpl;	/* PUT */
	struct rawkv_cand cand;		/* PUT: same fingerprint; GET: tried */
	u64 vlen;			/* value length */
	struct rawkv_umeta *um;		/* GET: where the metadata goes */
	unsigned int meta_len;		/* PUT: bytes of metadata in @hdr */
	bool sync;
	bool claimed;			/* PUT: owns a slot and the fingerprint */
	bool busy;			/* bios submitted */
	int ret;
};

/*
 * fault.c. Durability measures fault_inject's "strip" can leave out, one
 * bit each, so that the crash tests can show they would notice.
 */
#define RAWKV_STRIP_LOG_PREFLUSH	BIT(0)	/* log transaction's flush */
#define RAWKV_STRIP_LOG_FUA		BIT(1)	/* log transaction's FUA */
#define RAWKV_STRIP_ANCHOR_PREFLUSH	BIT(2)	/* anchor's flush */
#define RAWKV_STRIP_ANCHOR_WAIT		BIT(3)	/* anchor before writeback */
#define RAWKV_STRIP_SYNC_COMMIT		BIT(4)	/* sync PUT without commit */

DECLARE_STATIC_KEY_FALSE(rawkv_faults_on);
bool rawkv_fault_bio(struct rawkv_dev *kd, struct bio *bio);
void rawkv_fault_bio_done(struct rawkv_dev *kd, struct bio *bio);
bool rawkv_fault_strip(struct rawkv_dev *kd, unsigned int what);
bool rawkv_fault_params_set(void);
int rawkv_faults_init(struct rawkv_dev *kd, bool arm);
void rawkv_faults_add_files(struct rawkv_dev *kd);
void rawkv_faults_remove_files(struct rawkv_dev *kd);
void rawkv_faults_exit(struct rawkv_dev *kd);

/* main.c */
extern const struct file_operations rawkv_fops;
bool rawkv_fault_inject_enabled(void);

/* stores.c */
int rawkv_stores_init(void);
void rawkv_stores_exit(void);
int rawkv_store_attach(const struct rawkv_store_args *a, unsigned int id,
		       unsigned int *idp);
int rawkv_check_slot_size(u64 slot_size);
int rawkv_store_open(struct rawkv_dev *kd);
void rawkv_store_release(struct rawkv_dev *kd);

/* sysfs.c */
extern const struct attribute_group *rawkv_store_groups[];

/* store.c */
int rawkv_store_init(struct rawkv_dev *kd);
void rawkv_store_free(struct rawkv_dev *kd);
int rawkv_put(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      const void __user *val, u64 vlen, const u8 *meta,
	      unsigned int mlen, bool sync);
void rawkv_put_prepare(struct rawkv_dev *kd, struct rawkv_req *rq,
		       const u8 *key, unsigned int klen,
		       const void __user *val, u64 vlen, const u8 *meta,
		       unsigned int mlen, bool sync);
u64 rawkv_put_bounce_bytes(struct rawkv_req *rq);
void rawkv_put_submit(struct rawkv_dev *kd, struct rawkv_req *rq, bool nowait);
int rawkv_put_end(struct rawkv_dev *kd, struct rawkv_req *rq);
void rawkv_get_begin(struct rawkv_dev *kd, struct rawkv_req *rq,
		     const u8 *key, unsigned int klen, void __user *buf,
		     u64 buflen, struct rawkv_umeta *um);
int rawkv_get_end(struct rawkv_dev *kd, struct rawkv_req *rq);
int rawkv_get(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
	      void __user *buf, u64 buflen, u64 *vlen, struct rawkv_umeta *um);
int rawkv_exists_meta(struct rawkv_dev *kd, const u8 *key, unsigned int klen,
		      u64 *vlen, struct rawkv_umeta *um);
int rawkv_delete(struct rawkv_dev *kd, const u8 *key, unsigned int klen);
int rawkv_flush(struct rawkv_dev *kd);
int rawkv_list(struct rawkv_dev *kd, u64 *cursor, void __user *ubuf,
	       u32 len, u32 *count);
void rawkv_fill_stat(struct rawkv_dev *kd, struct rawkv_ioc_stat *st);

/* meta.c */
int rawkv_meta_init(struct rawkv_dev *kd);
void rawkv_meta_exit(struct rawkv_dev *kd);
int rawkv_format_geo(struct rawkv_dev *kd, u64 slot_size);
int rawkv_format_write(struct rawkv_dev *kd);
int rawkv_read_super(struct rawkv_dev *kd);
int rawkv_recover(struct rawkv_dev *kd);
int rawkv_commit(struct rawkv_dev *kd, u64 target);
void rawkv_meta_writeback(struct rawkv_dev *kd);
int rawkv_meta_close(struct rawkv_dev *kd);

static inline u64 rawkv_slot_pos(const struct rawkv_dev *kd, u32 slot)
{
	return kd->geo.data_off + (u64)slot * kd->geo.slot_size;
}

#endif /* _RAWKV_H */
