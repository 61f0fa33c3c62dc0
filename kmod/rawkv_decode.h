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
	u64 ckpt_off[2];
	u64 ckpt_size;
	u64 data_off;
	u64 device_bytes;		/* of the device, not the superblock */
};

/* A checkpoint header that passed rawkv_decode_ckpt_hdr(). */
struct rawkv_ckpt_info {
	u64 seq;
	u64 payload_len;
	u64 entry_count;
	u64 next_gen;
	u64 scan_gen;
	u32 payload_crc;
};

/*
 * One value as a checkpoint entry (no key, @fp) or a slot header (@key,
 * @key_len, @flags, @value_crc) describes it.
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
};

u32 rawkv_crc(const void *buf, size_t len);
void rawkv_geo_set(struct rawkv_geo *g, u64 slot_size, u64 slot_count);
u64 rawkv_geo_end(const struct rawkv_geo *g);
const char *rawkv_decode_sb(struct rawkv_geo *g, const struct rawkv_sb *sb);
const char *rawkv_decode_ckpt_hdr(const struct rawkv_geo *g,
				  const struct rawkv_ckpt_hdr *h, int area,
				  struct rawkv_ckpt_info *ci);
int rawkv_decode_ckpt_entry(const struct rawkv_geo *g, const void *payload,
			    u64 len, u64 *off, struct rawkv_rec *r);
const char *rawkv_decode_slot_hdr(const struct rawkv_geo *g,
				  const struct rawkv_slot_hdr *h, u32 slot,
				  struct rawkv_rec *r);

#endif /* _RAWKV_DECODE_H */
