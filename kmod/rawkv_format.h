/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv on-device format, version 3. Version 1 kept whole keys in the
 * checkpoint, version 2 the whole table in each checkpoint; devices in
 * either must be formatted again.
 *
 * Every multi-byte field is little-endian. Every checksum is crc32c (the
 * Castagnoli polynomial, seed ~0, result not inverted: the kernel's
 * crc32c(~0, buf, len)) over the structure with its own crc field zero,
 * unless its struct says otherwise (struct rawkv_slot_meta's is seeded
 * with its slot header's crc and does not cover its own crc field).
 * Offsets and sizes are in bytes; every region starts on a
 * RAWKV_BLOCK_SIZE boundary so the format works on devices with 512 B
 * and 4 KiB logical blocks.
 *
 * Layout:
 *
 *   0                 superblock (one block)
 *   anchor_off[0]     anchor A (one block)
 *   anchor_off[1]     anchor B (one block)
 *   log_off           the metadata log: a ring of log_blocks blocks
 *   meta_off          the slot metadata: one 24-byte entry per slot
 *   lru_off           the LRU hint: one __le32 slot index per slot
 *   data_off          slot_count slots of slot_size bytes
 *
 * The table is the slot metadata with the log replayed over it. A change
 * of the table (a slot now holds a value, or no longer does) becomes a
 * log record; a commit appends the records of every change since the
 * previous one as one transaction, written with REQ_PREFLUSH | REQ_FUA.
 * Now and then the committed state of the slots the log touched is
 * written in place into the slot metadata ("writeback"), and an anchor
 * then moves the log's tail past the transactions it no longer needs.
 * Recovery reads the newest valid anchor, the slot metadata and the log,
 * and replays the transactions from the anchor's tail.
 *
 * A slot is a header block (struct rawkv_slot_hdr, then, at
 * RAWKV_SLOT_META_OFF, the value's user metadata if it has any: struct
 * rawkv_slot_meta) followed by the value, so a value starts
 * RAWKV_BLOCK_SIZE bytes into its slot and holds at most
 * slot_size - RAWKV_BLOCK_SIZE bytes. Only the logical blocks of the
 * header block's first RAWKV_SLOT_HDR_BYTES are written (its first
 * 1024 bytes on a device with 512-byte logical blocks); the rest of the
 * block is undefined.
 *
 * User metadata came after the first version 3 devices: their slot
 * headers have no RAWKV_SLOT_HAS_META flag and read as values without
 * metadata. A module older than the flag sees a slot with it as damaged
 * (its GET fails with -EIO and drops the key): no wrong byte, but going
 * back to such a module loses the values that have metadata.
 *
 * This header is also compiled by the user-space tests, so it uses only
 * <linux/types.h>.
 */
#ifndef _RAWKV_FORMAT_H
#define _RAWKV_FORMAT_H

#include <linux/types.h>

#define RAWKV_BLOCK_SIZE	4096U
#define RAWKV_BLOCK_SHIFT	12
#define RAWKV_FORMAT_VERSION	3

#define RAWKV_SB_MAGIC		0x3142534b56574152ULL	/* "RAWKVSB1" */
#define RAWKV_ANCHOR_MAGIC	0x3141434b56574152ULL	/* "RAWKVCA1" */
#define RAWKV_LOG_MAGIC		0x31474c4b56574152ULL	/* "RAWKVLG1" */
#define RAWKV_SLOT_MAGIC	0x314c534b56574152ULL	/* "RAWKVSL1" */

#define RAWKV_SLOT_SIZE_MIN	(8U << 10)
#define RAWKV_SLOT_SIZE_MAX	(128U << 20)
#define RAWKV_KEY_LEN_MAX	255

/* The data region starts on a boundary of min(slot_size, this). */
#define RAWKV_DATA_ALIGN	(1U << 20)

/* Log size: slot_count / RAWKV_LOG_SLOTS_PER_BLOCK blocks, within bounds. */
#define RAWKV_LOG_SLOTS_PER_BLOCK 64U
#define RAWKV_LOG_BLOCKS_MIN	64U
#define RAWKV_LOG_BLOCKS_MAX	4096U		/* 16 MiB */

/**
 * struct rawkv_sb - superblock, at byte 0 of the device
 * @magic:	RAWKV_SB_MAGIC
 * @version:	RAWKV_FORMAT_VERSION
 * @block_size:	RAWKV_BLOCK_SIZE
 * @uuid:	random at format; every other structure carries or is
 *		checksummed with it
 * @slot_size:	bytes per slot, a power of two
 * @slot_count:	number of slots
 * @anchor_off:	byte offsets of anchors A and B
 * @log_off:	byte offset of the log
 * @log_blocks:	blocks in the log
 * @meta_off:	byte offset of the slot metadata
 * @meta_size:	bytes of slot metadata (whole blocks)
 * @lru_off:	byte offset of the LRU hint
 * @lru_size:	bytes of the LRU hint (whole blocks)
 * @data_off:	byte offset of slot 0
 * @device_bytes: size of the device when it was formatted
 * @flags:	zero
 * @crc:	crc32c of the struct with @crc zero
 *
 * Every offset and size follows from @slot_size and @slot_count
 * (rawkv_geo_set()); a superblock whose fields do not is refused.
 */
struct rawkv_sb {
	__le64 magic;
	__le32 version;
	__le32 block_size;
	__u8 uuid[16];
	__le64 slot_size;
	__le64 slot_count;
	__le64 anchor_off[2];
	__le64 log_off;
	__le64 log_blocks;
	__le64 meta_off;
	__le64 meta_size;
	__le64 lru_off;
	__le64 lru_size;
	__le64 data_off;
	__le64 device_bytes;
	__le32 flags;
	__le32 crc;
};

/**
 * struct rawkv_anchor - where the log starts; first bytes of an anchor block
 * @magic:	RAWKV_ANCHOR_MAGIC
 * @seq:	anchor sequence number; the valid anchor with the highest wins.
 *		Anchor seq is written to area (seq & 1), never over the valid
 *		anchor it replaces.
 * @uuid:	the superblock's uuid
 * @tail_seq:	every transaction the slot metadata does not hold has a
 *		sequence number >= this; 1..2^63
 * @tail:	log block where the first such transaction starts
 * @lru_crc:	crc32c of the first @lru_count entries of the LRU hint
 * @next_gen:	every generation on the device is below this; 1..2^63
 * @lru_count:	entries in the LRU hint, zero when there is none
 * @flags:	zero
 * @crc:	crc32c of this struct with @crc zero
 *
 * Written with REQ_PREFLUSH after the writeback it ends, so an anchor on
 * the device never points past a transaction whose changes are not in
 * the slot metadata. It needs no FUA: the next log write, which may
 * overwrite the transactions it released, carries REQ_PREFLUSH.
 */
struct rawkv_anchor {
	__le64 magic;
	__le64 seq;
	__u8 uuid[16];
	__le64 tail_seq;
	__le32 tail;
	__le32 lru_crc;
	__le64 next_gen;
	__le64 lru_count;
	__le32 flags;
	__le32 crc;
};

/**
 * struct rawkv_meta_ent - the slot metadata's entry for one slot
 * @fp:		fingerprint of the key: siphash-2-4 of the key bytes, keyed
 *		by the superblock's uuid (as two little-endian u64)
 * @gen:	bits 0..62: generation of the PUT that wrote the slot, never
 *		zero; bit 63: RAWKV_META_SYNC, the PUT was a sync one
 * @value_len:	value length in bytes
 * @crc:	crc32c of the uuid, the slot index (__le32) and this struct
 *		with @crc zero
 *
 * Entry i of the slot metadata is at meta_off + (i / RAWKV_META_PER_BLOCK)
 * blocks + (i % RAWKV_META_PER_BLOCK) * 24 bytes; the last 16 bytes of a
 * block are zero. An all-zero entry is a free slot (format zeroes the
 * region); any other entry must verify, or the slot is counted as dropped
 * and left free. The key itself is only in the slot header.
 */
#define RAWKV_META_SYNC		(1ULL << 63)
struct rawkv_meta_ent {
	__le64 fp;
	__le64 gen;
	__le32 value_len;
	__le32 crc;
};

#define RAWKV_META_PER_BLOCK	(RAWKV_BLOCK_SIZE / sizeof(struct rawkv_meta_ent))

/**
 * struct rawkv_log_hdr - first 64 bytes of a log block
 * @magic:	RAWKV_LOG_MAGIC
 * @seq:	sequence number of the transaction, 1..2^63; transactions
 *		follow each other in the ring with increasing (not always
 *		consecutive) numbers
 * @uuid:	the superblock's uuid
 * @next_gen:	every generation on the device was below this at commit
 * @blk:	index of this block in its transaction
 * @nblk:	blocks in the transaction, 1..log_blocks
 * @nrec:	records in this block, 0..RAWKV_LOG_RECS_PER_BLOCK
 * @flags:	zero
 * @reserved:	zero
 * @crc:	crc32c of the whole block with @crc zero
 *
 * A transaction is @nblk consecutive blocks of the ring (it never wraps:
 * one that does not fit before the end starts at block 0). It counts only
 * when every block verifies and carries the same @seq and @nblk.
 */
struct rawkv_log_hdr {
	__le64 magic;
	__le64 seq;
	__u8 uuid[16];
	__le64 next_gen;
	__le32 blk;
	__le32 nblk;
	__le32 nrec;
	__le32 flags;
	__le32 reserved;
	__le32 crc;
};

/**
 * struct rawkv_log_rec - one change of the table, after a log block header
 * @fp:		the key's fingerprint (RAWKV_REC_LIVE only)
 * @gen:	the PUT's generation (RAWKV_REC_LIVE only)
 * @slot:	slot index
 * @value_len:	value length (RAWKV_REC_LIVE only)
 * @flags:	RAWKV_REC_LIVE: the slot holds this value, written by a sync
 *		PUT if RAWKV_REC_SYNC too; zero: the slot is free
 * @reserved:	zero
 */
#define RAWKV_REC_LIVE		0x1
#define RAWKV_REC_SYNC		0x2
struct rawkv_log_rec {
	__le64 fp;
	__le64 gen;
	__le32 slot;
	__le32 value_len;
	__le32 flags;
	__le32 reserved;
};

#define RAWKV_LOG_RECS_PER_BLOCK \
	((RAWKV_BLOCK_SIZE - sizeof(struct rawkv_log_hdr)) / \
	 sizeof(struct rawkv_log_rec))

/**
 * struct rawkv_slot_hdr - first block of a slot
 * @magic:	RAWKV_SLOT_MAGIC
 * @gen:	generation of the PUT that wrote the slot
 * @value_len:	value length in bytes
 * @slot:	index of this slot (catches misdirected writes)
 * @value_crc:	crc32c of the value
 * @uuid:	the superblock's uuid (catches slots of an older format)
 * @key_len:	1..RAWKV_KEY_LEN_MAX
 * @flags:	zero or RAWKV_SLOT_HAS_META: a struct rawkv_slot_meta
 *		follows at RAWKV_SLOT_META_OFF
 * @key:	the whole key, zero padded
 * @crc:	crc32c of this struct with @crc zero
 *
 * Written together with the value; the rest of the first
 * RAWKV_SLOT_HDR_BYTES is zero. A slot holds a value of the table only
 * once a committed log record (or the slot metadata) says so.
 */
struct rawkv_slot_hdr {
	__le64 magic;
	__le64 gen;
	__le64 value_len;
	__le32 slot;
	__le32 value_crc;
	__u8 uuid[16];
	__le16 key_len;
	__le16 flags;
	__u8 key[RAWKV_KEY_LEN_MAX + 1];
	__le32 crc;
};

#define RAWKV_SLOT_HAS_META	0x1
#define RAWKV_META_LEN_MAX	256

/**
 * struct rawkv_slot_meta - a value's user metadata, in its slot's header block
 * @len:	1..RAWKV_META_LEN_MAX bytes of @data
 * @reserved:	zero
 * @crc:	crc32c, seeded with the slot header's @crc (so it belongs to
 *		that header: its slot, generation and key), of @len and
 *		@reserved, then of the first @len bytes of @data
 * @data:	the metadata; the bytes after the first @len are written as
 *		zero and not covered by @crc
 *
 * Present, at RAWKV_SLOT_META_OFF of the header block, only when the slot
 * header has RAWKV_SLOT_HAS_META. rawkv stores the bytes; what they mean
 * is the caller's (LMCache keeps a chunk's shape, dtype and format there).
 */
struct rawkv_slot_meta {
	__le16 len;
	__le16 reserved;
	__le32 crc;
	__u8 data[RAWKV_META_LEN_MAX];
};

#define RAWKV_SLOT_META_OFF	320
/* Bytes of the header block a slot header and its metadata occupy. */
#define RAWKV_SLOT_HDR_BYTES	(RAWKV_SLOT_META_OFF + \
				 sizeof(struct rawkv_slot_meta))

#endif /* _RAWKV_FORMAT_H */
