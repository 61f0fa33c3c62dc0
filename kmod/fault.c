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
 *				kind one of sb, ckpt-hdr, ckpt-payload, slot
 *				(header block, maybe with value), value; sectors
 *				of 512 bytes; flags "-" or P (preflush) and F (FUA)
 *   powercut_at		write bio N and every later one complete
 *				without reaching the device: a power cut. Reads
 *				keep working. 0: off
 *   powercut_torn_sectors	K > 0: bio N keeps its first K sectors (torn)
 *   powercut_fired		1 once bio N was reached
 *   fail_read_at, fail_write_at  that bio fails with an I/O error; 0: off
 *   fail_sticky		1: every later bio of that direction fails too
 *
 * Numbers read and write as decimal text.
 *   kick_checkpoint		write 1: run the periodic checkpoint now and
 *				wait for it
 *   fp_mask			key fingerprints are ANDed with this: a few
 *				bits force collisions (set it before any key
 *				is stored or read, after every load)
 *
 * Without fault_inject=1 none of this exists and the bio path pays one
 * static branch.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/bio.h>
#include <linux/debugfs.h>
#include <linux/jump_label.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "rawkv.h"

DEFINE_STATIC_KEY_FALSE(rawkv_faults_on);

#define RAWKV_WLOG_SIZE		8192

enum { WK_SB, WK_CKPT_HDR, WK_CKPT_PAYLOAD, WK_SLOT, WK_VALUE, WK_OTHER };
static const char * const rawkv_wk_name[] = {
	"sb", "ckpt-hdr", "ckpt-payload", "slot", "value", "other",
};

struct rawkv_wlog {
	u64 n;
	u64 sector;
	u32 sectors;
	u8 kind;
	u8 preflush;
	u8 fua;
};

/*
 * struct rawkv_faults - fault injection state of one device
 *
 * The armed values are set from debugfs and read locklessly by the bio
 * path; @lock guards @log and orders @powercut_fired with the bio numbers.
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
	spinlock_t lock;		/* @log */
	struct rawkv_wlog *log;
};

static u8 rawkv_write_kind(struct rawkv_dev *kd, u64 pos)
{
	int i;

	if (!pos)
		return WK_SB;
	for (i = 0; i < 2; i++)
		if (pos >= kd->geo.ckpt_off[i] &&
		    pos < kd->geo.ckpt_off[i] + kd->geo.ckpt_size)
			return pos == kd->geo.ckpt_off[i] ? WK_CKPT_HDR :
							 WK_CKPT_PAYLOAD;
	if (pos < kd->geo.data_off)
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
			return false;
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

int rawkv_faults_init(struct rawkv_dev *kd)
{
	struct rawkv_faults *f;
	struct dentry *d;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	f->log = vzalloc(array_size(RAWKV_WLOG_SIZE, sizeof(*f->log)));
	if (!f->log) {
		kfree(f);
		return -ENOMEM;
	}
	f->kd = kd;
	spin_lock_init(&f->lock);

	d = debugfs_create_dir("rawkv", NULL);
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

	kd->faults = f;
	static_branch_inc(&rawkv_faults_on);
	pr_warn("fault injection enabled in /sys/kernel/debug/rawkv (testing only)\n");
	return 0;
}

/* Called once no bio of @kd can be submitted any more. */
void rawkv_faults_exit(struct rawkv_dev *kd)
{
	struct rawkv_faults *f = kd->faults;

	if (!f)
		return;
	static_branch_dec(&rawkv_faults_on);
	debugfs_remove_recursive(f->dir);
	vfree(f->log);
	kfree(f);
	kd->faults = NULL;
}
