// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: fault injection for crash and error tests.
 *
 * Loaded with fault_inject=1, rawkv numbers every bio it submits and
 * offers, in /sys/kernel/debug/rawkv/ (root only):
 *
 *   write_bios, read_bios	bios submitted since load
 *   write_log			one line per write bio (the last
 *				RAWKV_WLOG_SIZE): "n kind sector sectors flags",
 *				kind one of sb, anchor, log, meta, lru, slot
 *				(header block, maybe with value), value; sectors
 *				of 512 bytes; flags "-" or P (preflush) and F (FUA)
 *   powercut_at		write bio N and every later one complete
 *				without reaching the device: a power cut. Reads
 *				keep working. 0: off
 *   powercut_torn_sectors	K > 0: bio N keeps its first K sectors (torn)
 *   powercut_fired		1 once bio N was reached
 *   fail_read_at, fail_write_at  that bio fails with an I/O error; 0: off
 *   fail_sticky		1: every later bio of that direction fails too
 *   strip			a mask of RAWKV_STRIP_* (rawkv.h): durability
 *				measures left out, to prove the crash tests
 *				see them ("mutants")
 *   hold_write_at		write bio N is parked instead of submitted
 *   hold_reads			1: every read bio is parked
 *   held_bios			bios parked now
 *   hold_release		write 1: submit the parked bios, disarm both
 *   events, event_count	the order in which write bios were submitted
 *				to the device and completed: one line per
 *				event, "s N" or "c N" (the last
 *				RAWKV_EV_SIZE; events_lost counts the rest)
 *
 * Numbers read and write as decimal text.
 *   kick_checkpoint		write 1: run the periodic checkpoint now and
 *				wait for it
 *   fp_mask			key fingerprints are ANDed with this: a few
 *				bits force collisions (set it before any key
 *				is stored or read, after every load)
 *
 * The module parameters fault_strip, fault_powercut_at,
 * fault_torn_sectors, fault_fail_read_at, fault_fail_write_at and
 * fault_sticky arm the same controls before the device is even read, so
 * that loading and recovery can be cut or fail too.
 *
 * Without fault_inject=1 none of this exists and the bio path pays one
 * static branch.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/debugfs.h>
#include <linux/moduleparam.h>
#include <linux/jump_label.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "rawkv.h"

DEFINE_STATIC_KEY_FALSE(rawkv_faults_on);

#define RAWKV_WLOG_SIZE		65536
#define RAWKV_EV_SIZE		(1U << 18)
#define RAWKV_EV_INFLIGHT	1024

static unsigned int fault_strip;
module_param(fault_strip, uint, 0444);
MODULE_PARM_DESC(fault_strip, "Testing only (fault_inject=1): durability measures to leave out, a mask of RAWKV_STRIP_*");
static unsigned long long fault_powercut_at;
module_param(fault_powercut_at, ullong, 0444);
MODULE_PARM_DESC(fault_powercut_at, "Testing only (fault_inject=1): power cut at write bio N from load on");
static unsigned int fault_torn_sectors;
module_param(fault_torn_sectors, uint, 0444);
MODULE_PARM_DESC(fault_torn_sectors, "Testing only (fault_inject=1): the cut bio keeps its first K sectors");
static unsigned long long fault_fail_read_at;
module_param(fault_fail_read_at, ullong, 0444);
MODULE_PARM_DESC(fault_fail_read_at, "Testing only (fault_inject=1): read bio N from load on fails");
static unsigned long long fault_fail_write_at;
module_param(fault_fail_write_at, ullong, 0444);
MODULE_PARM_DESC(fault_fail_write_at, "Testing only (fault_inject=1): write bio N from load on fails");
static bool fault_sticky;
module_param(fault_sticky, bool, 0444);
MODULE_PARM_DESC(fault_sticky, "Testing only (fault_inject=1): every bio after the failing one fails too");

/* Whether a fault_* parameter is set (they need fault_inject=1). */
bool rawkv_fault_params_set(void)
{
	return fault_strip || fault_powercut_at || fault_torn_sectors ||
	       fault_fail_read_at || fault_fail_write_at || fault_sticky;
}

enum {
	WK_SB, WK_ANCHOR, WK_LOG, WK_META, WK_LRU, WK_SLOT, WK_VALUE, WK_OTHER
};

static const char * const rawkv_wk_name[] = {
	"sb", "anchor", "log", "meta", "lru", "slot", "value", "other",
};

struct rawkv_wlog {
	u64 n;
	u64 sector;
	u32 sectors;
	u8 kind;
	u8 preflush;
	u8 fua;
};

/* A write bio submitted to the device and not completed yet. */
struct rawkv_ev_bio {
	struct bio *bio;
	u64 n;
};

/*
 * struct rawkv_faults - fault injection state of one device
 *
 * The armed values are set from debugfs and read locklessly by the bio
 * path; @lock guards @log, @held and @hold_*, and orders @powercut_fired
 * with the bio numbers. @ev_lock (taken in bio completion, so irq-safe)
 * guards @ev, @ev_count, @ev_lost and @ev_bios.
 */
struct rawkv_faults {
	struct rawkv_dev *kd;
	struct dentry *dir;
	atomic64_t write_bios;
	atomic64_t read_bios;
	u64 powercut_at;
	u32 torn_sectors;
	u8 powercut_fired;
	u64 fail_read_at;
	u64 fail_write_at;
	u8 fail_sticky;
	u32 strip;
	u64 hold_write_at;
	u8 hold_reads;
	spinlock_t lock;		/* @log, @held */
	struct rawkv_wlog *log;
	struct bio_list held;
	u64 nr_held;
	u64 held_write;			/* number of the parked write */
	spinlock_t ev_lock;		/* @ev, @ev_bios */
	u64 *ev;			/* (bio number << 1) | completed */
	u64 ev_count;
	u64 ev_lost;
	struct rawkv_ev_bio ev_bios[RAWKV_EV_INFLIGHT];
};

bool rawkv_fault_strip(struct rawkv_dev *kd, unsigned int what)
{
	return static_branch_unlikely(&rawkv_faults_on) && kd->faults &&
	       (READ_ONCE(kd->faults->strip) & what);
}

static void rawkv_ev_add(struct rawkv_faults *f, u64 n, bool completed)
{
	lockdep_assert_held(&f->ev_lock);
	if (f->ev_count >= RAWKV_EV_SIZE) {
		f->ev_lost++;
		return;
	}
	f->ev[f->ev_count++] = n << 1 | completed;
}

/* Write bio number @n goes to the device now. */
static void rawkv_ev_submit(struct rawkv_faults *f, struct bio *bio, u64 n)
{
	unsigned long flags;
	int i;

	spin_lock_irqsave(&f->ev_lock, flags);
	rawkv_ev_add(f, n, false);
	for (i = 0; i < RAWKV_EV_INFLIGHT && f->ev_bios[i].bio; i++)
		;
	if (i < RAWKV_EV_INFLIGHT)
		f->ev_bios[i] = (struct rawkv_ev_bio) { .bio = bio, .n = n };
	else
		f->ev_lost++;
	spin_unlock_irqrestore(&f->ev_lock, flags);
}

/* A write bio completed (called from its end_io, before bio_put()). */
void rawkv_fault_bio_done(struct rawkv_dev *kd, struct bio *bio)
{
	struct rawkv_faults *f = kd->faults;
	unsigned long flags;
	int i;

	if (!f || !op_is_write(bio_op(bio)))
		return;
	spin_lock_irqsave(&f->ev_lock, flags);
	for (i = 0; i < RAWKV_EV_INFLIGHT; i++) {
		if (f->ev_bios[i].bio == bio) {
			rawkv_ev_add(f, f->ev_bios[i].n, true);
			f->ev_bios[i].bio = NULL;
			break;
		}
	}
	spin_unlock_irqrestore(&f->ev_lock, flags);
}

/* Park @bio until hold_release; true if it was parked. */
static bool rawkv_fault_hold(struct rawkv_faults *f, struct bio *bio, u64 n)
{
	bool hold;

	spin_lock(&f->lock);
	hold = op_is_write(bio_op(bio)) ?
	       READ_ONCE(f->hold_write_at) == n : READ_ONCE(f->hold_reads);
	if (hold) {
		bio_list_add(&f->held, bio);
		f->nr_held++;
		if (op_is_write(bio_op(bio)))
			f->held_write = n;
	}
	spin_unlock(&f->lock);
	return hold;
}

/* Submit every parked bio and disarm the holds. */
static void rawkv_fault_release(struct rawkv_faults *f)
{
	struct bio_list held;
	struct bio *bio;
	u64 n;

	spin_lock(&f->lock);
	WRITE_ONCE(f->hold_write_at, 0);
	WRITE_ONCE(f->hold_reads, 0);
	held = f->held;
	n = f->held_write;
	bio_list_init(&f->held);
	f->nr_held = 0;
	spin_unlock(&f->lock);
	while ((bio = bio_list_pop(&held))) {
		if (op_is_write(bio_op(bio)))
			rawkv_ev_submit(f, bio, n);
		submit_bio(bio);
	}
}

static u8 rawkv_write_kind(struct rawkv_dev *kd, u64 pos)
{
	const struct rawkv_geo *g = &kd->geo;

	if (!pos)
		return WK_SB;
	if (pos == g->anchor_off[0] || pos == g->anchor_off[1])
		return WK_ANCHOR;
	if (pos >= g->log_off && pos < g->meta_off)
		return WK_LOG;
	if (pos >= g->meta_off && pos < g->lru_off)
		return WK_META;
	if (pos >= g->lru_off && pos < g->lru_off + g->lru_size)
		return WK_LRU;
	if (pos < g->data_off)
		return WK_OTHER;
	return (pos - kd->geo.data_off) & (kd->geo.slot_size - 1) ? WK_VALUE : WK_SLOT;
}

static bool rawkv_fault_hits(u64 n, u64 at, bool sticky)
{
	return at && (n == at || (sticky && n > at));
}

/*
 * Apply the armed faults to @bio before it is submitted. Returns true when
 * the bio was completed here and must not be submitted.
 */
bool rawkv_fault_bio(struct rawkv_dev *kd, struct bio *bio)
{
	struct rawkv_faults *f = kd->faults;
	bool sticky = READ_ONCE(f->fail_sticky);
	u64 n, at;

	if (!op_is_write(bio_op(bio))) {
		n = atomic64_inc_return(&f->read_bios);
		if (!rawkv_fault_hits(n, READ_ONCE(f->fail_read_at), sticky))
			return rawkv_fault_hold(f, bio, n);
		bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
		return true;
	}

	spin_lock(&f->lock);
	n = atomic64_inc_return(&f->write_bios);
	f->log[n % RAWKV_WLOG_SIZE] = (struct rawkv_wlog) {
		.n = n,
		.sector = bio->bi_iter.bi_sector,
		.sectors = bio_sectors(bio),
		.kind = rawkv_write_kind(kd, (u64)bio->bi_iter.bi_sector <<
					 SECTOR_SHIFT),
		.preflush = !!(bio->bi_opf & REQ_PREFLUSH),
		.fua = !!(bio->bi_opf & REQ_FUA),
	};
	at = READ_ONCE(f->powercut_at);
	if (at && n == at)
		f->powercut_fired = 1;
	spin_unlock(&f->lock);

	if (at && n >= at) {
		u32 torn = READ_ONCE(f->torn_sectors);

		if (n == at && torn && bio_sectors(bio) > torn) {
			bio_trim(bio, 0, torn);
			rawkv_ev_submit(f, bio, n);
			return false;
		}
		bio_endio(bio);
		return true;
	}
	if (rawkv_fault_hits(n, READ_ONCE(f->fail_write_at), sticky)) {
		bio->bi_status = BLK_STS_IOERR;
		bio_endio(bio);
		return true;
	}
	if (rawkv_fault_hold(f, bio, n))
		return true;
	rawkv_ev_submit(f, bio, n);
	return false;
}

static int rawkv_wlog_show(struct seq_file *m, void *v)
{
	struct rawkv_faults *f = m->private;
	u64 last = atomic64_read(&f->write_bios), n;
	u64 first = last > RAWKV_WLOG_SIZE ? last - RAWKV_WLOG_SIZE + 1 : 1;

	for (n = first; n <= last; n++) {
		struct rawkv_wlog e;

		spin_lock(&f->lock);
		e = f->log[n % RAWKV_WLOG_SIZE];
		spin_unlock(&f->lock);
		if (e.n != n)
			continue;
		seq_printf(m, "%llu %s %llu %u %s%s%s\n", e.n,
			   rawkv_wk_name[e.kind], e.sector, e.sectors,
			   e.preflush ? "P" : "", e.fua ? "F" : "",
			   e.preflush || e.fua ? "" : "-");
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(rawkv_wlog);

static int rawkv_write_bios_get(void *data, u64 *val)
{
	*val = atomic64_read(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(rawkv_bios_fops, rawkv_write_bios_get, NULL,
			 "%llu\n");

static int rawkv_kick_set(void *data, u64 val)
{
	struct rawkv_dev *kd = data;

	if (val != 1)
		return -EINVAL;
	mod_delayed_work(system_long_wq, &kd->ckpt_work, 0);
	flush_delayed_work(&kd->ckpt_work);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(rawkv_kick_fops, NULL, rawkv_kick_set, "%llu\n");

static int rawkv_release_set(void *data, u64 val)
{
	if (val != 1)
		return -EINVAL;
	rawkv_fault_release(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(rawkv_release_fops, NULL, rawkv_release_set,
			 "%llu\n");

static int rawkv_held_get(void *data, u64 *val)
{
	struct rawkv_faults *f = data;

	spin_lock(&f->lock);
	*val = f->nr_held;
	spin_unlock(&f->lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(rawkv_held_fops, rawkv_held_get, NULL, "%llu\n");

static int rawkv_ev_count_get(void *data, u64 *val)
{
	struct rawkv_faults *f = data;

	spin_lock_irq(&f->ev_lock);
	*val = f->ev_count;
	spin_unlock_irq(&f->ev_lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(rawkv_ev_count_fops, rawkv_ev_count_get, NULL,
			 "%llu\n");

static int rawkv_events_show(struct seq_file *m, void *v)
{
	struct rawkv_faults *f = m->private;
	u64 i, count;

	spin_lock_irq(&f->ev_lock);
	count = f->ev_count;
	spin_unlock_irq(&f->ev_lock);
	/* Events below ev_count are never rewritten. */
	for (i = 0; i < count; i++)
		seq_printf(m, "%c %llu\n", f->ev[i] & 1 ? 'c' : 's',
			   f->ev[i] >> 1);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(rawkv_events);

int rawkv_faults_init(struct rawkv_dev *kd, bool arm)
{
	struct rawkv_faults *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->log = vzalloc(array_size(RAWKV_WLOG_SIZE, sizeof(*f->log)));
	f->ev = vmalloc_array(RAWKV_EV_SIZE, sizeof(*f->ev));
	if (!f->log || !f->ev) {
		vfree(f->log);
		vfree(f->ev);
		kfree(f);
		return -ENOMEM;
	}
	f->kd = kd;
	spin_lock_init(&f->lock);
	spin_lock_init(&f->ev_lock);
	bio_list_init(&f->held);
	/* The fault_* parameters arm the store attached at load only. */
	if (arm) {
		f->strip = fault_strip;
		f->powercut_at = fault_powercut_at;
		f->torn_sectors = fault_torn_sectors;
		f->fail_read_at = fault_fail_read_at;
		f->fail_write_at = fault_fail_write_at;
		f->fail_sticky = fault_sticky;
	}

	kd->faults = f;
	static_branch_inc(&rawkv_faults_on);
	rawkv_warn(kd, "fault injection enabled in /sys/kernel/debug/%s (testing only)\n",
		   kd->name);
	return 0;
}

/*
 * The debugfs files, once the device is ready: a write to kick_checkpoint
 * runs a checkpoint, which needs the table.
 */
void rawkv_faults_add_files(struct rawkv_dev *kd)
{
	struct rawkv_faults *f = kd->faults;
	struct dentry *d;

	if (!f)
		return;
	d = debugfs_create_dir(kd->name, NULL);
	f->dir = d;
	debugfs_create_file_unsafe("write_bios", 0400, d, &f->write_bios,
				   &rawkv_bios_fops);
	debugfs_create_file_unsafe("read_bios", 0400, d, &f->read_bios,
				   &rawkv_bios_fops);
	debugfs_create_file("write_log", 0400, d, f, &rawkv_wlog_fops);
	debugfs_create_u64("powercut_at", 0600, d, &f->powercut_at);
	debugfs_create_u32("powercut_torn_sectors", 0600, d,
			   &f->torn_sectors);
	debugfs_create_u8("powercut_fired", 0400, d, &f->powercut_fired);
	debugfs_create_u64("fail_read_at", 0600, d, &f->fail_read_at);
	debugfs_create_u64("fail_write_at", 0600, d, &f->fail_write_at);
	debugfs_create_u8("fail_sticky", 0600, d, &f->fail_sticky);
	debugfs_create_file_unsafe("kick_checkpoint", 0200, d, kd,
				   &rawkv_kick_fops);
	debugfs_create_x64("fp_mask", 0600, d, &kd->fp_mask);
	debugfs_create_u32("strip", 0600, d, &f->strip);
	debugfs_create_u64("hold_write_at", 0600, d, &f->hold_write_at);
	debugfs_create_u8("hold_reads", 0600, d, &f->hold_reads);
	debugfs_create_file_unsafe("held_bios", 0400, d, f, &rawkv_held_fops);
	debugfs_create_file_unsafe("hold_release", 0200, d, f,
				   &rawkv_release_fops);
	debugfs_create_file_unsafe("event_count", 0400, d, f,
				   &rawkv_ev_count_fops);
	debugfs_create_u64("events_lost", 0400, d, &f->ev_lost);
	debugfs_create_file("events", 0400, d, f, &rawkv_events_fops);
}

/*
 * Remove the debugfs files, waiting for any write to them in progress (a
 * kick_checkpoint queues work): nothing can reach @kd through them after
 * this. Submits whatever is parked, so teardown can wait for it.
 */
void rawkv_faults_remove_files(struct rawkv_dev *kd)
{
	struct rawkv_faults *f = kd->faults;

	if (!f)
		return;
	debugfs_remove_recursive(f->dir);
	f->dir = NULL;
	rawkv_fault_release(f);
}

/* Called once no bio of @kd can be submitted or complete any more. */
void rawkv_faults_exit(struct rawkv_dev *kd)
{
	struct rawkv_faults *f = kd->faults;

	if (!f)
		return;
	rawkv_faults_remove_files(kd);
	static_branch_dec(&rawkv_faults_on);
	vfree(f->ev);
	vfree(f->log);
	kfree(f);
	kd->faults = NULL;
}
