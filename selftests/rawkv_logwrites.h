/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Record writes with the kernel's dm-log-writes target and replay them, as
 * xfstests' src/log-writes/replay-log does
 * (Documentation/admin-guide/device-mapper/log-writes.rst,
 * drivers/md/dm-log-writes.c).
 *
 * What dm-log-writes logs, and in which order:
 *
 * - A write without FUA is logged only when a later flush (REQ_PREFLUSH)
 *   completes, and only if it had completed before that flush was
 *   submitted; such writes are logged in the order they completed, then the
 *   flush itself as an entry with LW_FLUSH and no data. A write that
 *   completes while a flush is in flight waits for the next flush.
 * - A FUA write is logged as soon as it completes (LW_FUA), so it can come
 *   before older non-FUA writes that no flush has covered yet.
 * - dm core splits a bio with REQ_PREFLUSH and data into an empty flush
 *   (logged as an LW_FLUSH entry, after the writes it covers) and then the
 *   data without PREFLUSH (an LW_FUA entry if it carried FUA, else an
 *   unflushed write).
 * - A discard is treated like a non-FUA write (LW_DISCARD, no data).
 * - A mark (lw_dm_mark) is logged immediately: writes completed but not yet
 *   flushed when it is placed come after it in the log.
 * - Removing the device (lw_dm_remove) logs every still unflushed write,
 *   then a mark "dm-log-writes-end", and writes the superblock.
 * - The log superblock (its entry count) is rewritten only after FUA and
 *   mark entries; a log read while the device exists may hold more entries
 *   than its superblock counts.
 *
 * So replaying a prefix of the log onto a fresh device gives a state the
 * device could have been in after a power cut at that point: non-FUA writes
 * that no flush made durable are not in the prefix. An image built from a
 * prefix plus some of the writes after it (in any order) is another
 * possible state.
 *
 * On the log device: the superblock at byte 0; entries from byte
 * sectorsize on, each a block of sectorsize bytes (struct log_write_entry,
 * then a mark's text) followed by its data (nr_sectors blocks; none for
 * a discard). sectorsize is the logical block size of the data device; the
 * library converts sector numbers to 512-byte units.
 *
 * Every function returns 0 (or a count) or a negative errno.
 */
#ifndef RAWKV_LOGWRITES_H
#define RAWKV_LOGWRITES_H

#include <stddef.h>
#include <stdint.h>

#define LW_FLUSH	1
#define LW_FUA		2
#define LW_DISCARD	4
#define LW_MARK		8
#define LW_METADATA	16

/* Longest mark text lw_dm_mark accepts (512 B log blocks: 512 - 32 - 1). */
#define LW_MARK_MAX	479

struct lw_entry {
	uint64_t sector;	/* in 512-byte sectors, whatever the log's sectorsize */
	uint64_t nr_sectors;	/* in 512-byte sectors */
	uint64_t flags;		/* LW_* */
	char *mark;		/* LW_MARK: the mark's text, NUL-terminated; else NULL */
	unsigned char *data;	/* nr_sectors * 512 bytes, or NULL (flush, discard, mark) */
};

struct lw_log {
	struct lw_entry *e;
	size_t n;
	uint32_t sectorsize;	/* from the log superblock */
};

/*
 * Create a dm device NAME with table
 * "0 <sectors of data_dev> log-writes <data_dev> <log_dev>" through the
 * device-mapper ioctls on /dev/mapper/control (no dmsetup: the test VM is a
 * busybox initramfs without it): DM_DEV_CREATE, DM_TABLE_LOAD,
 * DM_DEV_SUSPEND (resume). Writes the /dev/dm-<minor> path of the new
 * device into @path (devtmpfs creates it; waits up to 5 s for the node).
 * On failure nothing is left behind. 0 or -errno (-EEXIST: NAME exists;
 * -ETIMEDOUT: the node did not appear).
 */
int lw_dm_create(const char *name, const char *data_dev, const char *log_dev,
		 char *path, size_t pathlen);
/*
 * dmsetup message NAME 0 mark TEXT, via DM_TARGET_MSG. TEXT: 1 to
 * LW_MARK_MAX bytes (whitespace and backslashes are escaped for the
 * kernel's argument splitting); else -EINVAL.
 */
int lw_dm_mark(const char *name, const char *text);
/*
 * DM_DEV_REMOVE (this makes dm-log-writes log its unflushed writes and write
 * its superblock). Retries for up to 5 s while the device is open (-EBUSY).
 */
int lw_dm_remove(const char *name);

/*
 * Read the whole log of @log_dev into memory (every entry's data too), with
 * O_DIRECT so no stale page cache of the log device is seen. 0 or -errno
 * (-EBADMSG for a bad superblock or a truncated/garbled log).
 */
int lw_log_read(const char *log_dev, struct lw_log *log);
void lw_log_free(struct lw_log *log);

/*
 * One piece of an image: sectors [first, first + count) of entry @entry's
 * data (512-byte units, relative to the entry's start), written at
 * entry.sector + first. A piece of a discard entry writes zeros.
 */
struct lw_piece {
	uint32_t entry;
	uint32_t first;
	uint32_t count;
};

/*
 * A target block device (e.g. a brd ramdisk /dev/ram0) onto which images are
 * built. The library keeps, per 512-byte sector, which (entry, offset) the
 * target currently holds, so that building the next image writes only the
 * sectors that differ. Initially every sector is unknown.
 *
 * lw_image_new: @sectors (512 B units) must fit in the target (-ERANGE) and
 * be a multiple of its logical block size (-EINVAL). A regular file also
 * works as a target (written without O_DIRECT).
 */
struct lw_image;
int lw_image_new(struct lw_image **img, const char *target_dev, uint64_t sectors);
/*
 * Make the target hold: zeros everywhere, then every piece applied in order
 * (later pieces win). Writes (O_DIRECT, aligned buffers, adjacent sectors
 * coalesced into one pwrite, up to 1 MiB each) only the sectors whose
 * desired content differs from what the target is known to hold, or is
 * unknown (a sector known to hold the same bytes from another entry is not
 * rewritten). On a target with logical blocks above 512 B, whole blocks are
 * written. Pieces are checked before anything is written: an entry index
 * out of the log is -EINVAL; a piece beyond its entry's data or beyond the
 * target is -ERANGE. Pass the same @log to every build of an image (a
 * different one makes every sector unknown). Returns the number of sectors
 * written (at most INT_MAX), or -errno; after a write error the sectors of
 * the failed write are unknown.
 */
int lw_image_build(struct lw_image *img, const struct lw_log *log,
		   const struct lw_piece *p, size_t n);
/*
 * Someone else (the module under test) may have written sectors
 * [sector, sector+count) of the target: forget what they hold, so the next
 * build rewrites them.
 */
void lw_image_forget(struct lw_image *img, uint64_t sector, uint64_t count);
void lw_image_free(struct lw_image *img);

#endif /* RAWKV_LOGWRITES_H */
