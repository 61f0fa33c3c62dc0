/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: decoding and validation of everything rawkv reads from a device.
 *
 * rawkv_decode.c trusts nothing it is given: every function takes raw
 * device bytes and either returns the decoded fields or says what is wrong.
 * It builds both into the module and into the user-space fuzzer
 * (fuzz/), which provides the few kernel helpers it uses.
 */
#ifndef _RAWKV_DECODE_H
#define _RAWKV_DECODE_H

#ifdef __KERNEL__
#include <linux/types.h>
#else
#include "rawkv_user_compat.h"
#endif

#include "rawkv_format.h"

/* The layout of a formatted device, from its superblock. */
struct rawkv_geo {
	u8 uuid[16];
	u64 slot_size;
	u64 value_max;
	u32 slot_count;
	u64 anchor_off[2];
	u64 log_off;
	u32 log_blocks;
	u64 meta_off;
	u64 meta_size;
	u64 lru_off;
	u64 lru_size;
	u64 data_off;
	u64 device_bytes;		/* of the device, not the superblock */
	u32 uuid_crc;			/* crc32c of @uuid: seeds entry crcs */
};

/* An anchor that passed rawkv_decode_anchor(). */
struct rawkv_anchor_info {
	u64 seq;
	u64 tail_seq;
	u32 tail;
	u32 lru_crc;
	u64 next_gen;
	u64 lru_count;
};

/* A log block header that passed rawkv_decode_log_block(). */
struct rawkv_log_info {
	u64 seq;
	u64 next_gen;
	u32 blk;
	u32 nblk;
	u32 nrec;
};

/*
 * One value as the slot metadata or a log record (no key, @fp) or a slot
 * header (@key, @key_len, @value_crc) describes it.
 */
struct rawkv_rec {
	const u8 *key;
	unsigned int key_len;
	u64 fp;
	u32 slot;
	u16 flags;
	u64 gen;
	u64 value_len;
	u32 value_crc;
	const u8 *meta;			/* slot header: user metadata */
	unsigned int meta_len;		/* or 0 and NULL when it has none */
};

u32 rawkv_crc(const void *buf, size_t len);
u32 rawkv_crc_self(const void *buf, size_t crc_off);
void rawkv_geo_set(struct rawkv_geo *g, u64 slot_size, u64 slot_count);
u64 rawkv_geo_end(const struct rawkv_geo *g);
void rawkv_geo_set_uuid(struct rawkv_geo *g, const u8 *uuid);
const char *rawkv_decode_sb(struct rawkv_geo *g, const struct rawkv_sb *sb);
const char *rawkv_decode_anchor(const struct rawkv_geo *g,
				const struct rawkv_anchor *a, int area,
				struct rawkv_anchor_info *ai);
u32 rawkv_log_block_crc(const void *blk);
const char *rawkv_decode_log_block(const struct rawkv_geo *g, const void *blk,
				   struct rawkv_log_info *li);
int rawkv_decode_log_rec(const struct rawkv_geo *g,
			 const struct rawkv_log_rec *lr, struct rawkv_rec *r);
u32 rawkv_meta_ent_crc(const struct rawkv_geo *g,
		       const struct rawkv_meta_ent *me, u32 slot);
void rawkv_encode_meta_ent(const struct rawkv_geo *g,
			   struct rawkv_meta_ent *me, u32 slot, u64 fp,
			   u64 gen, u32 value_len, bool sync);
int rawkv_decode_meta_ent(const struct rawkv_geo *g,
			  const struct rawkv_meta_ent *me, u32 slot,
			  struct rawkv_rec *r);
u32 rawkv_slot_meta_crc(const struct rawkv_slot_hdr *h,
			const struct rawkv_slot_meta *m);
const char *rawkv_decode_slot_hdr(const struct rawkv_geo *g,
				  const struct rawkv_slot_hdr *h, u32 slot,
				  struct rawkv_rec *r);

#endif /* _RAWKV_DECODE_H */
