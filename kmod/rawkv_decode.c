// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: decoding and validation of the superblock, checkpoint headers,
 * checkpoint entries and slot headers. See rawkv_decode.h.
 */
#ifdef __KERNEL__
#include <linux/crc32c.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/log2.h>
#include <linux/string.h>
#endif

#include "rawkv_decode.h"

/* crc32c() takes an unsigned int length: feed it at most 1 GiB at a time. */
u32 rawkv_crc(const void *buf, size_t len)
{
	u32 crc = ~0U;

	while (len) {
		unsigned int n = min_t(size_t, len, 1U << 30);

		crc = crc32c(crc, buf, n);
		buf += n;
		len -= n;
	}
	return crc;
}

/* crc32c of a struct whose last field, at @crc_off, is its own __le32 crc. */
static u32 rawkv_crc_self(const void *buf, size_t crc_off)
{
	static const u8 zero[4];

	return crc32c(rawkv_crc(buf, crc_off), zero, sizeof(zero));
}

void rawkv_geo_set(struct rawkv_geo *g, u64 slot_size, u64 slot_count)
{
	g->slot_size = slot_size;
	g->slot_count = slot_count;
	g->value_max = slot_size - RAWKV_BLOCK_SIZE;
	g->ckpt_size = RAWKV_BLOCK_SIZE +
		       round_up(slot_count * RAWKV_CKPT_ENTRY_MAX,
				(u64)RAWKV_BLOCK_SIZE);
	g->ckpt_off[0] = RAWKV_BLOCK_SIZE;
	g->ckpt_off[1] = g->ckpt_off[0] + g->ckpt_size;
	g->data_off = round_up(g->ckpt_off[1] + g->ckpt_size,
			       min_t(u64, slot_size, RAWKV_DATA_ALIGN));
}

u64 rawkv_geo_end(const struct rawkv_geo *g)
{
	return g->data_off + (u64)g->slot_count * g->slot_size;
}

/*
 * Check a superblock against g->device_bytes and set the rest of @g from
 * it. Returns NULL, or what is wrong.
 */
const char *rawkv_decode_sb(struct rawkv_geo *g, const struct rawkv_sb *sb)
{
	u64 slot_size = le64_to_cpu(sb->slot_size);
	u64 slot_count = le64_to_cpu(sb->slot_count);

	if (le64_to_cpu(sb->magic) != RAWKV_SB_MAGIC)
		return "no rawkv superblock";
	if (rawkv_crc_self(sb, offsetof(struct rawkv_sb, crc)) !=
	    le32_to_cpu(sb->crc))
		return "superblock checksum mismatch";
	if (le32_to_cpu(sb->version) != RAWKV_FORMAT_VERSION)
		return "unsupported format version";
	if (le32_to_cpu(sb->block_size) != RAWKV_BLOCK_SIZE || sb->flags)
		return "unsupported block size or flags";
	if (!is_power_of_2(slot_size) || slot_size < RAWKV_SLOT_SIZE_MIN ||
	    slot_size > RAWKV_SLOT_SIZE_MAX)
		return "bad slot size";
	if (!slot_count || slot_count > U32_MAX)
		return "bad slot count";

	rawkv_geo_set(g, slot_size, slot_count);
	if (le64_to_cpu(sb->ckpt_off[0]) != g->ckpt_off[0] ||
	    le64_to_cpu(sb->ckpt_off[1]) != g->ckpt_off[1] ||
	    le64_to_cpu(sb->ckpt_size) != g->ckpt_size ||
	    le64_to_cpu(sb->data_off) != g->data_off)
		return "region offsets do not match the slot geometry";
	if (rawkv_geo_end(g) > g->device_bytes)
		return "layout extends beyond the end of the device";
	memcpy(g->uuid, sb->uuid, sizeof(g->uuid));
	return NULL;
}

/* Check a checkpoint header read from @area. Returns NULL, or what is wrong. */
const char *rawkv_decode_ckpt_hdr(const struct rawkv_geo *g,
				  const struct rawkv_ckpt_hdr *h, int area,
				  struct rawkv_ckpt_info *ci)
{
	if (le64_to_cpu(h->magic) != RAWKV_CKPT_MAGIC)
		return "no checkpoint header";
	if (rawkv_crc_self(h, offsetof(struct rawkv_ckpt_hdr, crc)) !=
	    le32_to_cpu(h->crc))
		return "header checksum mismatch";
	if (memcmp(h->uuid, g->uuid, sizeof(h->uuid)) ||
	    le64_to_cpu(h->slot_size) != g->slot_size ||
	    le64_to_cpu(h->slot_count) != g->slot_count)
		return "written for another layout";

	ci->seq = le64_to_cpu(h->seq);
	ci->payload_len = le64_to_cpu(h->payload_len);
	ci->entry_count = le64_to_cpu(h->entry_count);
	ci->next_gen = le64_to_cpu(h->next_gen);
	ci->scan_gen = le64_to_cpu(h->scan_gen);
	ci->payload_crc = le32_to_cpu(h->payload_crc);
	if (!ci->seq || (ci->seq & 1) != (u64)area)
		return "sequence number does not belong to this area";
	if (ci->payload_len > g->ckpt_size - RAWKV_BLOCK_SIZE ||
	    ci->entry_count > g->slot_count)
		return "payload larger than the area";
	if (ci->scan_gen > ci->next_gen)
		return "scan generation beyond the next generation";
	return NULL;
}

/*
 * Decode the entry at *@off of a checkpoint payload of @len bytes and
 * advance *@off past it. Returns 1 for a valid entry, 0 at the end of the
 * payload, -ERANGE for an entry outside the geometry (skip it and go on),
 * -EINVAL when the payload cannot be parsed further.
 */
int rawkv_decode_ckpt_entry(const struct rawkv_geo *g, const void *payload,
			    u64 len, u64 *off, struct rawkv_rec *r)
{
	const struct rawkv_ckpt_entry *ce;

	if (*off >= len)
		return 0;
	if (len - *off < sizeof(*ce))
		return -EINVAL;
	ce = payload + *off;
	*off += sizeof(*ce);

	r->key = NULL;
	r->key_len = 0;
	r->fp = le64_to_cpu(ce->fp);
	r->slot = le32_to_cpu(ce->slot);
	r->flags = 0;
	r->gen = le64_to_cpu(ce->gen);
	r->value_len = le32_to_cpu(ce->value_len);
	r->value_crc = 0;
	if (r->slot >= g->slot_count || r->value_len > g->value_max)
		return -ERANGE;
	return 1;
}

/*
 * Check the header block read from @slot. Returns NULL with @r filled, or
 * what is wrong.
 */
const char *rawkv_decode_slot_hdr(const struct rawkv_geo *g,
				  const struct rawkv_slot_hdr *h, u32 slot,
				  struct rawkv_rec *r)
{
	if (le64_to_cpu(h->magic) != RAWKV_SLOT_MAGIC)
		return "bad slot header magic";
	if (rawkv_crc_self(h, offsetof(struct rawkv_slot_hdr, crc)) !=
	    le32_to_cpu(h->crc))
		return "bad slot header checksum";
	if (memcmp(h->uuid, g->uuid, sizeof(h->uuid)) ||
	    le32_to_cpu(h->slot) != slot)
		return "slot header of another device or slot";

	r->key = h->key;
	r->key_len = le16_to_cpu(h->key_len);
	r->fp = 0;
	r->slot = slot;
	r->flags = le16_to_cpu(h->flags);
	r->gen = le64_to_cpu(h->gen);
	r->value_len = le64_to_cpu(h->value_len);
	r->value_crc = le32_to_cpu(h->value_crc);
	if (!r->key_len || r->key_len > RAWKV_KEY_LEN_MAX ||
	    r->value_len > g->value_max || r->flags & ~RAWKV_SLOT_SYNC)
		return "slot header fields out of range";
	return NULL;
}
