// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: decoding and validation of the superblock, the anchors, log
 * blocks and records, slot metadata entries and slot headers. See
 * rawkv_decode.h.
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
u32 rawkv_crc_self(const void *buf, size_t crc_off)
{
	static const u8 zero[4];

	return crc32c(rawkv_crc(buf, crc_off), zero, sizeof(zero));
}

/* Log blocks for @slot_count slots. */
static u32 rawkv_log_blocks(u64 slot_count)
{
	return clamp_t(u64, slot_count / RAWKV_LOG_SLOTS_PER_BLOCK,
		       RAWKV_LOG_BLOCKS_MIN, RAWKV_LOG_BLOCKS_MAX);
}

void rawkv_geo_set(struct rawkv_geo *g, u64 slot_size, u64 slot_count)
{
	u64 meta_blocks = (slot_count + RAWKV_META_PER_BLOCK - 1) /
			  RAWKV_META_PER_BLOCK;

	g->slot_size = slot_size;
	g->slot_count = slot_count;
	g->value_max = slot_size - RAWKV_BLOCK_SIZE;
	g->anchor_off[0] = RAWKV_BLOCK_SIZE;
	g->anchor_off[1] = 2 * RAWKV_BLOCK_SIZE;
	g->log_off = 3 * RAWKV_BLOCK_SIZE;
	g->log_blocks = rawkv_log_blocks(slot_count);
	g->meta_off = g->log_off + (u64)g->log_blocks * RAWKV_BLOCK_SIZE;
	g->meta_size = meta_blocks * RAWKV_BLOCK_SIZE;
	g->lru_off = g->meta_off + g->meta_size;
	g->lru_size = round_up(slot_count * sizeof(__le32),
			       (u64)RAWKV_BLOCK_SIZE);
	g->data_off = round_up(g->lru_off + g->lru_size,
			       min_t(u64, slot_size, RAWKV_DATA_ALIGN));
}

u64 rawkv_geo_end(const struct rawkv_geo *g)
{
	return g->data_off + (u64)g->slot_count * g->slot_size;
}

void rawkv_geo_set_uuid(struct rawkv_geo *g, const u8 *uuid)
{
	memcpy(g->uuid, uuid, sizeof(g->uuid));
	g->uuid_crc = rawkv_crc(g->uuid, sizeof(g->uuid));
}

/*
 * Check a superblock against g->device_bytes and set the rest of @g from
 * it. Returns NULL, or what is wrong.
 */
const char *rawkv_decode_sb(struct rawkv_geo *g, const struct rawkv_sb *sb)
{
	u64 slot_size = le64_to_cpu(sb->slot_size);
	u64 slot_count = le64_to_cpu(sb->slot_count);
	u32 version = le32_to_cpu(sb->version);

	if (le64_to_cpu(sb->magic) != RAWKV_SB_MAGIC)
		return "no rawkv superblock";
	/* Older versions have a shorter superblock: check this first. */
	if (version && version < RAWKV_FORMAT_VERSION)
		return "device in an older rawkv format: it must be formatted again";
	if (rawkv_crc_self(sb, offsetof(struct rawkv_sb, crc)) !=
	    le32_to_cpu(sb->crc))
		return "superblock checksum mismatch";
	if (version != RAWKV_FORMAT_VERSION)
		return "unsupported format version";
	if (le32_to_cpu(sb->block_size) != RAWKV_BLOCK_SIZE || sb->flags)
		return "unsupported block size or flags";
	if (!is_power_of_2(slot_size) || slot_size < RAWKV_SLOT_SIZE_MIN ||
	    slot_size > RAWKV_SLOT_SIZE_MAX)
		return "bad slot size";
	if (!slot_count || slot_count > U32_MAX)
		return "bad slot count";

	rawkv_geo_set(g, slot_size, slot_count);
	if (le64_to_cpu(sb->anchor_off[0]) != g->anchor_off[0] ||
	    le64_to_cpu(sb->anchor_off[1]) != g->anchor_off[1] ||
	    le64_to_cpu(sb->log_off) != g->log_off ||
	    le64_to_cpu(sb->log_blocks) != g->log_blocks ||
	    le64_to_cpu(sb->meta_off) != g->meta_off ||
	    le64_to_cpu(sb->meta_size) != g->meta_size ||
	    le64_to_cpu(sb->lru_off) != g->lru_off ||
	    le64_to_cpu(sb->lru_size) != g->lru_size ||
	    le64_to_cpu(sb->data_off) != g->data_off)
		return "region offsets do not match the slot geometry";
	if (rawkv_geo_end(g) > g->device_bytes)
		return "layout extends beyond the end of the device";
	rawkv_geo_set_uuid(g, sb->uuid);
	return NULL;
}

/* Check an anchor read from @area. Returns NULL, or what is wrong. */
const char *rawkv_decode_anchor(const struct rawkv_geo *g,
				const struct rawkv_anchor *a, int area,
				struct rawkv_anchor_info *ai)
{
	if (le64_to_cpu(a->magic) != RAWKV_ANCHOR_MAGIC)
		return "no anchor";
	if (rawkv_crc_self(a, offsetof(struct rawkv_anchor, crc)) !=
	    le32_to_cpu(a->crc))
		return "anchor checksum mismatch";
	if (memcmp(a->uuid, g->uuid, sizeof(a->uuid)))
		return "anchor of another format";
	if (a->flags)
		return "unknown anchor flags";

	ai->seq = le64_to_cpu(a->seq);
	ai->tail_seq = le64_to_cpu(a->tail_seq);
	ai->tail = le32_to_cpu(a->tail);
	ai->lru_crc = le32_to_cpu(a->lru_crc);
	ai->next_gen = le64_to_cpu(a->next_gen);
	ai->lru_count = le64_to_cpu(a->lru_count);
	if (!ai->seq || (ai->seq & 1) != (u64)area)
		return "sequence number does not belong to this area";
	/* Transactions are numbered from 1; generations have 63 bits. */
	if (!ai->tail_seq || ai->tail_seq > RAWKV_META_SYNC ||
	    !ai->next_gen || ai->next_gen > RAWKV_META_SYNC)
		return "sequence or generation out of range";
	if (ai->tail >= g->log_blocks)
		return "log tail beyond the log";
	if (ai->lru_count > g->slot_count)
		return "LRU hint larger than the table";
	return NULL;
}

/* crc32c of a log block, its header's crc field taken as zero. */
u32 rawkv_log_block_crc(const void *blk)
{
	size_t off = offsetof(struct rawkv_log_hdr, crc);
	u32 crc = rawkv_crc_self(blk, off);

	return crc32c(crc, blk + off + sizeof(__le32),
		      RAWKV_BLOCK_SIZE - off - sizeof(__le32));
}

/*
 * Check one RAWKV_BLOCK_SIZE block read from the log. Returns NULL with
 * @li filled, or what is wrong. The records are checked one by one with
 * rawkv_decode_log_rec().
 */
const char *rawkv_decode_log_block(const struct rawkv_geo *g, const void *blk,
				   struct rawkv_log_info *li)
{
	const struct rawkv_log_hdr *h = blk;

	if (le64_to_cpu(h->magic) != RAWKV_LOG_MAGIC)
		return "no log block";
	if (rawkv_log_block_crc(blk) != le32_to_cpu(h->crc))
		return "log block checksum mismatch";
	if (memcmp(h->uuid, g->uuid, sizeof(h->uuid)))
		return "log block of another format";
	li->seq = le64_to_cpu(h->seq);
	li->next_gen = le64_to_cpu(h->next_gen);
	li->blk = le32_to_cpu(h->blk);
	li->nblk = le32_to_cpu(h->nblk);
	li->nrec = le32_to_cpu(h->nrec);
	/* Sequence numbers, like generations, stay below 2^63. */
	if (!li->seq || li->seq > RAWKV_META_SYNC ||
	    !li->nblk || li->nblk > g->log_blocks ||
	    li->blk >= li->nblk || li->nrec > RAWKV_LOG_RECS_PER_BLOCK ||
	    !li->next_gen || li->next_gen > RAWKV_META_SYNC ||
	    h->flags || h->reserved)
		return "log block fields out of range";
	return NULL;
}

/*
 * Decode a record of a verified log block. Returns 1 when the slot holds
 * the value @r describes, 0 when the slot is free, -ERANGE for a record
 * outside the geometry (skip it).
 */
int rawkv_decode_log_rec(const struct rawkv_geo *g,
			 const struct rawkv_log_rec *lr, struct rawkv_rec *r)
{
	u32 flags = le32_to_cpu(lr->flags);

	r->key = NULL;
	r->key_len = 0;
	r->fp = le64_to_cpu(lr->fp);
	r->slot = le32_to_cpu(lr->slot);
	r->flags = flags;
	r->gen = le64_to_cpu(lr->gen);
	r->value_len = le32_to_cpu(lr->value_len);
	r->value_crc = 0;
	if (r->slot >= g->slot_count ||
	    (flags & ~(RAWKV_REC_LIVE | RAWKV_REC_SYNC)) || lr->reserved)
		return -ERANGE;
	if (!(flags & RAWKV_REC_LIVE))
		return flags ? -ERANGE : 0;
	/* Bit 63 is not the generation's: the slot metadata's sync flag. */
	if (!r->gen || r->gen & RAWKV_META_SYNC ||
	    r->value_len > g->value_max)
		return -ERANGE;
	return 1;
}

/* crc32c of the uuid, the slot index and the entry with its crc zero. */
u32 rawkv_meta_ent_crc(const struct rawkv_geo *g,
		       const struct rawkv_meta_ent *me, u32 slot)
{
	static const u8 zero[4];
	__le32 s = cpu_to_le32(slot);
	u32 crc;

	crc = crc32c(g->uuid_crc, &s, sizeof(s));
	crc = crc32c(crc, me, offsetof(struct rawkv_meta_ent, crc));
	return crc32c(crc, zero, sizeof(zero));
}

void rawkv_encode_meta_ent(const struct rawkv_geo *g,
			   struct rawkv_meta_ent *me, u32 slot, u64 fp,
			   u64 gen, u32 value_len, bool sync)
{
	me->fp = cpu_to_le64(fp);
	me->gen = cpu_to_le64(gen | (sync ? RAWKV_META_SYNC : 0));
	me->value_len = cpu_to_le32(value_len);
	me->crc = cpu_to_le32(rawkv_meta_ent_crc(g, me, slot));
}

/*
 * Decode the slot metadata entry of @slot. Returns 1 when the slot holds
 * the value @r describes (RAWKV_REC_SYNC in r->flags for a sync PUT), 0
 * when it is free (all zero), -EBADMSG when the entry does not verify,
 * -ERANGE when its fields are outside the geometry.
 */
int rawkv_decode_meta_ent(const struct rawkv_geo *g,
			  const struct rawkv_meta_ent *me, u32 slot,
			  struct rawkv_rec *r)
{
	if (!me->fp && !me->gen && !me->value_len && !me->crc)
		return 0;
	if (rawkv_meta_ent_crc(g, me, slot) != le32_to_cpu(me->crc))
		return -EBADMSG;
	r->key = NULL;
	r->key_len = 0;
	r->fp = le64_to_cpu(me->fp);
	r->slot = slot;
	r->gen = le64_to_cpu(me->gen);
	r->flags = RAWKV_REC_LIVE |
		   (r->gen & RAWKV_META_SYNC ? RAWKV_REC_SYNC : 0);
	r->gen &= ~RAWKV_META_SYNC;
	r->value_len = le32_to_cpu(me->value_len);
	r->value_crc = 0;
	if (!r->gen || slot >= g->slot_count || r->value_len > g->value_max)
		return -ERANGE;
	return 1;
}

/* The crc of the user metadata @m that follows the slot header @h. */
u32 rawkv_slot_meta_crc(const struct rawkv_slot_hdr *h,
			const struct rawkv_slot_meta *m)
{
	unsigned int len = min_t(unsigned int, le16_to_cpu(m->len),
				 RAWKV_META_LEN_MAX);
	u32 crc;

	crc = crc32c(le32_to_cpu(h->crc), m, offsetof(struct rawkv_slot_meta, crc));
	return crc32c(crc, m->data, len);
}

/*
 * Check the header block read from @slot: its first RAWKV_SLOT_HDR_BYTES,
 * the header and, when it has RAWKV_SLOT_HAS_META, the user metadata after
 * it. Returns NULL with @r filled, or what is wrong.
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
	r->meta = NULL;
	r->meta_len = 0;
	if (!r->key_len || r->key_len > RAWKV_KEY_LEN_MAX ||
	    r->value_len > g->value_max || r->flags & ~RAWKV_SLOT_HAS_META)
		return "slot header fields out of range";
	if (r->flags & RAWKV_SLOT_HAS_META) {
		const struct rawkv_slot_meta *m =
			(const void *)h + RAWKV_SLOT_META_OFF;

		if (rawkv_slot_meta_crc(h, m) != le32_to_cpu(m->crc))
			return "bad user metadata checksum";
		r->meta_len = le16_to_cpu(m->len);
		if (!r->meta_len || r->meta_len > RAWKV_META_LEN_MAX ||
		    m->reserved)
			return "user metadata fields out of range";
		r->meta = m->data;
	}
	return NULL;
}
