/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv on-device format, version 2 (version 1 kept whole keys in the
 * checkpoint; its devices must be formatted again).
 *
 * Every multi-byte field is little-endian. Every checksum is crc32c (the
 * Castagnoli polynomial, seed ~0, result not inverted: the kernel's
 * crc32c(~0, buf, len)) over the structure with its own crc field zero.
 * Offsets and sizes are in bytes; every region starts on a
 * RAWKV_BLOCK_SIZE boundary so the format works on devices with 512 B
 * and 4 KiB logical blocks.
 *
 * Layout:
 *
 *   0                 superblock (one block)
 *   ckpt_off[0]       checkpoint area A: header block, then payload
 *   ckpt_off[1]       checkpoint area B: same size as A
 *   data_off          slot_count slots of slot_size bytes
 *
 * A slot is a header block (struct rawkv_slot_hdr) followed by the value,
 * so a value starts RAWKV_BLOCK_SIZE bytes into its slot and holds at most
 * slot_size - RAWKV_BLOCK_SIZE bytes.
 *
 * A checkpoint area is sized for a full table: a header block then
 * slot_count entries of RAWKV_CKPT_ENTRY_MAX (24) bytes. The checkpoint
 * with sequence number seq lives in area (seq & 1).
 *
 * This header is also compiled by the user-space tests, so it uses only
 * <linux/types.h>.
 */
#ifndef _RAWKV_FORMAT_H
#define _RAWKV_FORMAT_H

#include <linux/types.h>

#define RAWKV_BLOCK_SIZE	4096U
#define RAWKV_BLOCK_SHIFT	12
#define RAWKV_FORMAT_VERSION	2

#define RAWKV_SB_MAGIC		0x3142534b56574152ULL	/* "RAWKVSB1" */
#define RAWKV_CKPT_MAGIC	0x3150434b56574152ULL	/* "RAWKVCP1" */
#define RAWKV_SLOT_MAGIC	0x314c534b56574152ULL	/* "RAWKVSL1" */

#define RAWKV_SLOT_SIZE_MIN	(8U << 10)
#define RAWKV_SLOT_SIZE_MAX	(128U << 20)
#define RAWKV_KEY_LEN_MAX	255

/* The data region starts on a boundary of min(slot_size, this). */
#define RAWKV_DATA_ALIGN	(1U << 20)

/**
 * struct rawkv_sb - superblock, at byte 0 of the device
 * @magic:	RAWKV_SB_MAGIC
 * @version:	RAWKV_FORMAT_VERSION
 * @block_size:	RAWKV_BLOCK_SIZE
 * @uuid:	random at format; checkpoints and slot headers carry it too
 * @slot_size:	bytes per slot, a power of two
 * @slot_count:	number of slots
 * @ckpt_off:	byte offsets of checkpoint areas A and B
 * @ckpt_size:	bytes per checkpoint area, header block included
 * @data_off:	byte offset of slot 0
 * @device_bytes: size of the device when it was formatted
 * @flags:	zero
 * @crc:	crc32c of the struct with @crc zero
 */
struct rawkv_sb {
	__le64 magic;
	__le32 version;
	__le32 block_size;
	__u8 uuid[16];
	__le64 slot_size;
	__le64 slot_count;
	__le64 ckpt_off[2];
	__le64 ckpt_size;
	__le64 data_off;
	__le64 device_bytes;
	__le32 flags;
	__le32 crc;
};

/**
 * struct rawkv_ckpt_hdr - checkpoint header, first block of an area
 * @magic:	RAWKV_CKPT_MAGIC
 * @seq:	sequence number; the valid checkpoint with the highest wins
 * @uuid:	the superblock's uuid
 * @slot_size:	the superblock's slot_size (a checkpoint of another
 *		layout is refused)
 * @slot_count:	the superblock's slot_count
 * @payload_len: bytes of entries following the header block
 * @entry_count: number of entries in the payload
 * @next_gen:	generation the next PUT will use
 * @scan_gen:	every PUT not in this checkpoint has a generation >= this;
 *		recovery adopts RAWKV_SLOT_SYNC slots from there on
 * @payload_crc: crc32c of the payload
 * @crc:	crc32c of this struct with @crc zero
 *
 * Written after its payload, with REQ_PREFLUSH | REQ_FUA, so a header on
 * the device always commits a payload that is on the device too.
 */
struct rawkv_ckpt_hdr {
	__le64 magic;
	__le64 seq;
	__u8 uuid[16];
	__le64 slot_size;
	__le64 slot_count;
	__le64 payload_len;
	__le64 entry_count;
	__le64 next_gen;
	__le64 scan_gen;
	__le32 payload_crc;
	__le32 crc;
};

/**
 * struct rawkv_ckpt_entry - one live key in a checkpoint payload
 * @fp:		fingerprint of the key: siphash-2-4 of the key bytes, keyed
 *		by the superblock's uuid (as two little-endian u64)
 * @gen:	generation of the PUT; matches the slot header
 * @slot:	slot index
 * @value_len:	value length in bytes
 *
 * The key itself is only in the slot header. Entries follow each other in
 * least- to most-recently-used order.
 */
struct rawkv_ckpt_entry {
	__le64 fp;
	__le64 gen;
	__le32 slot;
	__le32 value_len;
};

#define RAWKV_CKPT_ENTRY_MAX	sizeof(struct rawkv_ckpt_entry)

/**
 * struct rawkv_slot_hdr - first block of a slot
 * @magic:	RAWKV_SLOT_MAGIC
 * @gen:	generation of the PUT that wrote the slot
 * @value_len:	value length in bytes
 * @slot:	index of this slot (catches misdirected writes)
 * @value_crc:	crc32c of the value
 * @uuid:	the superblock's uuid (catches slots of an older format)
 * @key_len:	1..RAWKV_KEY_LEN_MAX
 * @flags:	RAWKV_SLOT_SYNC or zero
 * @key:	the whole key, zero padded
 * @crc:	crc32c of this struct with @crc zero
 *
 * Written together with the value; the rest of the block is zero. A
 * RAWKV_SLOT_SYNC header was written with FUA after its value was durable,
 * so recovery may adopt it without a checkpoint that references it.
 */
#define RAWKV_SLOT_SYNC		0x1
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

#endif /* _RAWKV_FORMAT_H */
