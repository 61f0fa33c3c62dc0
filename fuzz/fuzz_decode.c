// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: libFuzzer target for kmod/rawkv_decode.c, the decoding of
 * everything rawkv reads from a device (format version 3).
 *
 * An input is a structured device image (little-endian, a short input
 * reads as zero padded):
 *
 *	0	struct fz_ctl: fix-up flags, a fallback geometry, the device
 *		size, the anchor area, the slot of the slot header, the
 *		slot metadata block the first given block is
 *	32	struct rawkv_sb
 *	168	struct rawkv_anchor
 *	240	a slot's header block: its first RAWKV_SLOT_HDR_BYTES (584),
 *		struct rawkv_slot_hdr and, at RAWKV_SLOT_META_OFF, struct
 *		rawkv_slot_meta
 *	1024	one log block (RAWKV_BLOCK_SIZE bytes)
 *	5120	up to FZ_META_BLOCKS blocks of slot metadata: the rest of
 *		the input, a partial last block zero padded
 *
 * One run goes down the recovery path of kmod/meta.c:
 *
 *  1. rawkv_decode_sb() as rawkv_read_super() calls it. A valid superblock
 *     gives the geometry for the rest; otherwise rawkv_geo_set() of the
 *     fallback slot size and count in fz_ctl does (every geometry the
 *     decoders may meet, so slot_count up to U32_MAX), with the uuid of
 *     the superblock.
 *  2. rawkv_decode_anchor() of the anchor, read from area fz_ctl.area.
 *  3. The slot metadata blocks as rawkv_load_meta() walks them: an
 *     all-zero block is skipped, an entry past slot_count must be zero,
 *     every other one goes through rawkv_decode_meta_ent() and, when it
 *     holds a value, into the table. Every entry that verifies must come
 *     back byte for byte from rawkv_encode_meta_ent() of its fields.
 *  4. rawkv_decode_log_block() of the log block, then, for a block that
 *     verifies, rawkv_decode_log_rec() of each of its nrec records, applied
 *     over the table as rawkv_log_apply() does. Every record the replay
 *     accepts is what writeback later puts in the slot metadata: encoded
 *     with rawkv_encode_meta_ent(), it must decode to the same fields.
 *     Whatever the block, each of its 126 record positions is also taken
 *     as arbitrary fields for an encode-then-decode round trip.
 *  5. rawkv_decode_slot_hdr() of the header block, the header and, with
 *     RAWKV_SLOT_HAS_META, its user metadata; then, for a slot in the
 *     table, what a GET checks (rawkv_check_slot_hdr() in store.c):
 *     generation, length and the key's fingerprint (siphash keyed by the
 *     uuid) against the entry.
 *
 * The fz_ctl flags fix fields before decoding (checksums, region offsets,
 * the uuid, sequence parity, ranges; the log block's crc is recomputed
 * with rawkv_log_block_crc(), the user metadata's with
 * rawkv_slot_meta_crc()) so that random bytes get past the checksums to
 * the checks behind them.
 *
 * Every result is checked: a decoder must accept exactly what the format
 * (kmod/rawkv_format.h, version 3) allows, as re-derived here, with every
 * checksum computed here again from its definition; the decoded fields are
 * the bytes they were decoded from. A violation abort()s, which the fuzzer
 * reports. Each structure is decoded from a heap buffer of exactly its
 * size (a log or metadata block: RAWKV_BLOCK_SIZE; a slot header:
 * RAWKV_SLOT_HDR_BYTES), so AddressSanitizer catches any read past it.
 *
 * Built with -DRAWKV_FUZZ_GEN instead of -fsanitize=fuzzer, this file is
 * the seed corpus generator: gen-corpus DIR writes the seeds and runs each
 * through the target, checking it reaches what it was made for.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rawkv_decode.h"

struct fz_ctl {
	__u8 fix;	/* FZ_SB_*, FZ_AN_*, FZ_SL_*, FZ_ME_CRC */
	__u8 log_fix;	/* FZ_LG_* */
	__u8 shift;	/* fallback slot size: RAWKV_SLOT_SIZE_MIN << (shift % 15) */
	__u8 area;	/* bit 0: the anchor area the anchor was read from */
	__le32 count;	/* fallback slot count; 0 means 1 */
	__le32 slot;	/* the slot the slot header was read from */
	__le32 dev;	/* device size in 4 KiB blocks, or see FZ_SB_GEO */
	__le32 meta_block; /* first metadata block given, modulo their number */
	__le32 pad[3];
};

/* sb: the offsets of its slot size and count; dev a signed delta to its end */
#define FZ_SB_GEO	0x01
#define FZ_SB_CRC	0x02	/* sb: fix the crc */
#define FZ_AN_FIX	0x04	/* anchor: magic, uuid, seq of the area, ranges */
#define FZ_AN_CRC	0x08	/* anchor: fix the crc */
#define FZ_SL_FIX	0x10	/* slot: uuid of the geometry, slot modulo slot_count */
#define FZ_SL_CRC	0x20	/* slot: fix the crc */
#define FZ_ME_CRC	0x40	/* meta: fix the crc of every non-zero entry */
#define FZ_SL_META	0x80	/* slot: flags RAWKV_SLOT_HAS_META (before
				 * FZ_SL_CRC); its user metadata's len
				 * 0..RAWKV_META_LEN_MAX + 1, reserved only
				 * its top bit, then the crc */

#define FZ_LG_HDR	0x01	/* log: magic, uuid, seq, blk, nblk, nrec in range */
#define FZ_LG_SLOT	0x02	/* log: every record's slot modulo slot_count */
#define FZ_LG_CRC	0x04	/* log: crc from rawkv_log_block_crc() */

#define FZ_SB_OFF	sizeof(struct fz_ctl)
#define FZ_AN_OFF	(FZ_SB_OFF + sizeof(struct rawkv_sb))
#define FZ_SL_OFF	(FZ_AN_OFF + sizeof(struct rawkv_anchor))
#define FZ_LG_OFF	1024
#define FZ_ME_OFF	(FZ_LG_OFF + RAWKV_BLOCK_SIZE)
#define FZ_META_BLOCKS	3

_Static_assert(sizeof(struct fz_ctl) == 32, "fz_ctl layout");
_Static_assert(FZ_SL_OFF + RAWKV_SLOT_HDR_BYTES <= FZ_LG_OFF,
	       "input layout");

/* The structures as rawkv_format.h documents them, field by field. */
_Static_assert(sizeof(struct rawkv_sb) == 136 &&
	       offsetof(struct rawkv_sb, uuid) == 16 &&
	       offsetof(struct rawkv_sb, slot_size) == 32 &&
	       offsetof(struct rawkv_sb, data_off) == 112 &&
	       offsetof(struct rawkv_sb, crc) == 132, "superblock layout");
_Static_assert(sizeof(struct rawkv_anchor) == 72 &&
	       offsetof(struct rawkv_anchor, tail_seq) == 32 &&
	       offsetof(struct rawkv_anchor, next_gen) == 48 &&
	       offsetof(struct rawkv_anchor, crc) == 68, "anchor layout");
_Static_assert(sizeof(struct rawkv_meta_ent) == 24 &&
	       offsetof(struct rawkv_meta_ent, gen) == 8 &&
	       offsetof(struct rawkv_meta_ent, value_len) == 16 &&
	       offsetof(struct rawkv_meta_ent, crc) == 20 &&
	       RAWKV_META_PER_BLOCK == 170, "slot metadata entry layout");
_Static_assert(sizeof(struct rawkv_log_hdr) == 64 &&
	       offsetof(struct rawkv_log_hdr, next_gen) == 32 &&
	       offsetof(struct rawkv_log_hdr, nrec) == 48 &&
	       offsetof(struct rawkv_log_hdr, crc) == 60, "log header layout");
_Static_assert(sizeof(struct rawkv_log_rec) == 32 &&
	       offsetof(struct rawkv_log_rec, slot) == 16 &&
	       offsetof(struct rawkv_log_rec, flags) == 24 &&
	       RAWKV_LOG_RECS_PER_BLOCK == 126, "log record layout");
_Static_assert(sizeof(struct rawkv_slot_hdr) == 312 &&
	       offsetof(struct rawkv_slot_hdr, flags) == 50 &&
	       offsetof(struct rawkv_slot_hdr, key) == 52 &&
	       offsetof(struct rawkv_slot_hdr, crc) == 308, "slot header layout");
_Static_assert(sizeof(struct rawkv_slot_meta) == 264 &&
	       offsetof(struct rawkv_slot_meta, reserved) == 2 &&
	       offsetof(struct rawkv_slot_meta, crc) == 4 &&
	       offsetof(struct rawkv_slot_meta, data) == 8 &&
	       RAWKV_META_LEN_MAX == 256 && RAWKV_SLOT_HAS_META == 1 &&
	       RAWKV_SLOT_META_OFF == 320 && RAWKV_SLOT_HDR_BYTES == 584,
	       "slot user metadata layout");

/* Generations are 63 bits: bit 63 of a metadata entry's gen is its sync flag. */
#define FZ_GEN_MAX	(RAWKV_META_SYNC - 1)

/* What the last run reached, for the generator's self-check. */
struct fz_result {
	bool sb_ok;		/* superblock valid: its geometry was used */
	bool sb_old;		/* refused as an older format */
	bool an_ok;		/* anchor valid */
	u32 me_loaded;		/* metadata entries that hold a value */
	u32 me_dropped;		/* entries that did not verify or fit */
	u32 me_bad_blocks;	/* blocks rawkv_load_meta() marks for rewrite */
	bool lg_ok;		/* log block valid */
	u32 rec_live;		/* records: the slot holds a value */
	u32 rec_free;		/* records: the slot is free */
	u32 rec_dropped;	/* records outside the geometry */
	bool sl_ok;		/* slot header valid */
	int sl_use;		/* 1: matched its slot's entry, -1: did not,
				 * 0: the slot holds nothing */
	u32 sl_meta;		/* its user metadata's length, 0: none */
};

static struct fz_result fz_last;

static void fz_fail(const char *what, int line)
{
	fprintf(stderr, "fuzz_decode.c:%d: invariant violated: %s\n", line,
		what);
	abort();
}

#define FZ_CHECK(cond) do {				\
	if (!(cond))					\
		fz_fail(#cond, __LINE__);		\
} while (0)

static void *fz_alloc(size_t len)
{
	void *p = calloc(1, len ? len : 1);

	if (!p)
		abort();
	return p;
}

/* @len bytes of the input from @off, zero padded, in a buffer of their own. */
static void *fz_take(const u8 *data, size_t size, size_t off, size_t len)
{
	void *p = fz_alloc(len);

	if (off < size)
		memcpy(p, data + off, size - off < len ? size - off : len);
	return p;
}

static bool fz_zero(const void *p, size_t len)
{
	const u8 *b = p;

	while (len--)
		if (*b++)
			return false;
	return true;
}

/*
 * The checksum as rawkv_format.h defines it: crc32c (seed ~0, result not
 * inverted) of @prefix, then of the struct with its crc field zero.
 */
static u32 fz_crc_of(const void *prefix, size_t plen, const void *s,
		     size_t len, size_t crc_off)
{
	u8 copy[RAWKV_BLOCK_SIZE];
	u32 crc;

	FZ_CHECK(len <= sizeof(copy) && crc_off + 4 <= len);
	memcpy(copy, s, len);
	memset(copy + crc_off, 0, 4);
	crc = crc32c(~0U, prefix, plen);
	return crc32c(crc, copy, len);
}

#define FZ_CRC_OF(s) \
	fz_crc_of(NULL, 0, s, sizeof(*(s)), offsetof(__typeof__(*(s)), crc))
#define FZ_CRC_OK(s) (FZ_CRC_OF(s) == le32_to_cpu((s)->crc))
#define FZ_CRC_FIX(s) ((s)->crc = cpu_to_le32(FZ_CRC_OF(s)))

/* A log block's: the whole block with its header's crc zero. */
static u32 fz_log_crc(const void *blk)
{
	return fz_crc_of(NULL, 0, blk, RAWKV_BLOCK_SIZE,
			 offsetof(struct rawkv_log_hdr, crc));
}

/* A metadata entry's: the uuid, the slot (__le32), the entry, crc zero. */
static u32 fz_meta_crc(const struct rawkv_geo *g,
		       const struct rawkv_meta_ent *me, u32 slot)
{
	u8 prefix[20];
	__le32 s = cpu_to_le32(slot);

	memcpy(prefix, g->uuid, 16);
	memcpy(prefix + 16, &s, 4);
	return fz_crc_of(prefix, sizeof(prefix), me, sizeof(*me),
			 offsetof(struct rawkv_meta_ent, crc));
}

static bool fz_slot_size_ok(u64 slot_size)
{
	return slot_size >= RAWKV_SLOT_SIZE_MIN &&
	       slot_size <= RAWKV_SLOT_SIZE_MAX &&
	       !(slot_size & (slot_size - 1));
}

static u64 fz_up(u64 x, u64 to)
{
	return (x + to - 1) / to * to;
}

/* The layout rawkv_format.h describes, derived here again. */
struct fz_layout {
	u64 anchor_off[2], log_off, log_blocks, meta_off, meta_size;
	u64 lru_off, lru_size, data_off, end;
};

static void fz_layout(struct fz_layout *l, u64 slot_size, u64 slot_count)
{
	u64 lb = slot_count / RAWKV_LOG_SLOTS_PER_BLOCK;

	if (lb < RAWKV_LOG_BLOCKS_MIN)
		lb = RAWKV_LOG_BLOCKS_MIN;
	if (lb > RAWKV_LOG_BLOCKS_MAX)
		lb = RAWKV_LOG_BLOCKS_MAX;
	l->anchor_off[0] = RAWKV_BLOCK_SIZE;
	l->anchor_off[1] = 2 * RAWKV_BLOCK_SIZE;
	l->log_off = 3 * RAWKV_BLOCK_SIZE;
	l->log_blocks = lb;
	l->meta_off = l->log_off + lb * RAWKV_BLOCK_SIZE;
	l->meta_size = fz_up(slot_count, 170) / 170 * RAWKV_BLOCK_SIZE;
	l->lru_off = l->meta_off + l->meta_size;
	l->lru_size = fz_up(slot_count * 4, RAWKV_BLOCK_SIZE);
	l->data_off = fz_up(l->lru_off + l->lru_size,
			    slot_size < RAWKV_DATA_ALIGN ? slot_size :
			    RAWKV_DATA_ALIGN);
	l->end = l->data_off + slot_count * slot_size;
}

/* A geometry any decoder may be given: sane, and no region overlaps. */
static void fz_check_geo(const struct rawkv_geo *g)
{
	u64 end;

	FZ_CHECK(fz_slot_size_ok(g->slot_size));
	FZ_CHECK(g->slot_count >= 1);
	FZ_CHECK(g->value_max == g->slot_size - RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->value_max >= RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->anchor_off[0] >= RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->anchor_off[1] >= g->anchor_off[0] + RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->log_off >= g->anchor_off[1] + RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->log_blocks >= RAWKV_LOG_BLOCKS_MIN &&
		 g->log_blocks <= RAWKV_LOG_BLOCKS_MAX);
	FZ_CHECK(g->meta_off >= g->log_off +
		 (u64)g->log_blocks * RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->meta_size / RAWKV_BLOCK_SIZE * RAWKV_META_PER_BLOCK >=
		 g->slot_count);
	FZ_CHECK(g->lru_off >= g->meta_off + g->meta_size);
	FZ_CHECK(g->lru_size >= (u64)g->slot_count * 4);
	FZ_CHECK(g->data_off >= g->lru_off + g->lru_size);
	FZ_CHECK(g->anchor_off[0] % RAWKV_BLOCK_SIZE == 0 &&
		 g->anchor_off[1] % RAWKV_BLOCK_SIZE == 0 &&
		 g->log_off % RAWKV_BLOCK_SIZE == 0 &&
		 g->meta_off % RAWKV_BLOCK_SIZE == 0 &&
		 g->meta_size % RAWKV_BLOCK_SIZE == 0 &&
		 g->lru_off % RAWKV_BLOCK_SIZE == 0 &&
		 g->lru_size % RAWKV_BLOCK_SIZE == 0 &&
		 g->data_off % RAWKV_BLOCK_SIZE == 0);
	FZ_CHECK(g->data_off % g->slot_size == 0 ||
		 g->data_off % RAWKV_DATA_ALIGN == 0);
	FZ_CHECK(!__builtin_mul_overflow((u64)g->slot_count, g->slot_size,
					 &end) &&
		 !__builtin_add_overflow(end, g->data_off, &end));
	FZ_CHECK(rawkv_geo_end(g) == end);
	FZ_CHECK(g->uuid_crc == crc32c(~0U, g->uuid, sizeof(g->uuid)));
}

/* A superblock of format 1 or 2, which must be formatted again. */
static bool fz_sb_older(const struct rawkv_sb *sb)
{
	u32 version = le32_to_cpu(sb->version);

	return le64_to_cpu(sb->magic) == RAWKV_SB_MAGIC &&
	       (version == 1 || version == 2);
}

/* Does the format allow this superblock on a device of @dev bytes? */
static bool fz_sb_ok(const struct rawkv_sb *sb, u64 dev)
{
	u64 slot_size = le64_to_cpu(sb->slot_size);
	u64 slot_count = le64_to_cpu(sb->slot_count);
	struct fz_layout l;

	if (le64_to_cpu(sb->magic) != RAWKV_SB_MAGIC || !FZ_CRC_OK(sb) ||
	    le32_to_cpu(sb->version) != RAWKV_FORMAT_VERSION ||
	    le32_to_cpu(sb->block_size) != RAWKV_BLOCK_SIZE || sb->flags ||
	    !fz_slot_size_ok(slot_size) || !slot_count ||
	    slot_count > U32_MAX)
		return false;
	fz_layout(&l, slot_size, slot_count);
	return le64_to_cpu(sb->anchor_off[0]) == l.anchor_off[0] &&
	       le64_to_cpu(sb->anchor_off[1]) == l.anchor_off[1] &&
	       le64_to_cpu(sb->log_off) == l.log_off &&
	       le64_to_cpu(sb->log_blocks) == l.log_blocks &&
	       le64_to_cpu(sb->meta_off) == l.meta_off &&
	       le64_to_cpu(sb->meta_size) == l.meta_size &&
	       le64_to_cpu(sb->lru_off) == l.lru_off &&
	       le64_to_cpu(sb->lru_size) == l.lru_size &&
	       le64_to_cpu(sb->data_off) == l.data_off && l.end <= dev;
}

static void fz_check_sb(const struct rawkv_geo *g, const struct rawkv_sb *sb,
			u64 dev)
{
	fz_check_geo(g);
	FZ_CHECK(g->device_bytes == dev);
	FZ_CHECK(g->slot_size == le64_to_cpu(sb->slot_size));
	FZ_CHECK(g->slot_count == le64_to_cpu(sb->slot_count));
	FZ_CHECK(g->anchor_off[0] == le64_to_cpu(sb->anchor_off[0]));
	FZ_CHECK(g->anchor_off[1] == le64_to_cpu(sb->anchor_off[1]));
	FZ_CHECK(g->log_off == le64_to_cpu(sb->log_off));
	FZ_CHECK(g->log_blocks == le64_to_cpu(sb->log_blocks));
	FZ_CHECK(g->meta_off == le64_to_cpu(sb->meta_off));
	FZ_CHECK(g->meta_size == le64_to_cpu(sb->meta_size));
	FZ_CHECK(g->lru_off == le64_to_cpu(sb->lru_off));
	FZ_CHECK(g->lru_size == le64_to_cpu(sb->lru_size));
	FZ_CHECK(g->data_off == le64_to_cpu(sb->data_off));
	FZ_CHECK(rawkv_geo_end(g) <= dev);
	FZ_CHECK(!memcmp(g->uuid, sb->uuid, sizeof(g->uuid)));
}

/*
 * Does the format allow this anchor in @area of @g? Sequence numbers of
 * transactions are 1 to 2^63, so tail_seq is; every generation is 1 to
 * FZ_GEN_MAX, so next_gen is 1 to FZ_GEN_MAX + 1.
 */
static bool fz_anchor_ok(const struct rawkv_geo *g,
			 const struct rawkv_anchor *a, int area)
{
	u64 seq = le64_to_cpu(a->seq), next_gen = le64_to_cpu(a->next_gen);

	return le64_to_cpu(a->magic) == RAWKV_ANCHOR_MAGIC && FZ_CRC_OK(a) &&
	       !memcmp(a->uuid, g->uuid, sizeof(a->uuid)) && !a->flags &&
	       seq && seq % 2 == (u64)area && le64_to_cpu(a->tail_seq) &&
	       le64_to_cpu(a->tail_seq) <= FZ_GEN_MAX + 1 &&
	       le32_to_cpu(a->tail) < g->log_blocks &&
	       le64_to_cpu(a->lru_count) <= g->slot_count &&
	       next_gen && next_gen <= FZ_GEN_MAX + 1;
}

static void fz_check_anchor(const struct rawkv_geo *g,
			    const struct rawkv_anchor *a,
			    const struct rawkv_anchor_info *ai)
{
	FZ_CHECK(ai->seq == le64_to_cpu(a->seq));
	FZ_CHECK(ai->tail_seq == le64_to_cpu(a->tail_seq));
	FZ_CHECK(ai->tail == le32_to_cpu(a->tail));
	FZ_CHECK(ai->lru_crc == le32_to_cpu(a->lru_crc));
	FZ_CHECK(ai->next_gen == le64_to_cpu(a->next_gen));
	FZ_CHECK(ai->lru_count == le64_to_cpu(a->lru_count));
	FZ_CHECK(ai->tail < g->log_blocks);
	FZ_CHECK(ai->lru_count <= g->slot_count);
}

/* Does the format allow this log block of @g? */
static bool fz_log_ok(const struct rawkv_geo *g, const void *blk)
{
	const struct rawkv_log_hdr *h = blk;
	u64 next_gen = le64_to_cpu(h->next_gen);
	u32 nblk = le32_to_cpu(h->nblk);

	return le64_to_cpu(h->magic) == RAWKV_LOG_MAGIC &&
	       fz_log_crc(blk) == le32_to_cpu(h->crc) &&
	       !memcmp(h->uuid, g->uuid, sizeof(h->uuid)) &&
	       le64_to_cpu(h->seq) && le64_to_cpu(h->seq) <= FZ_GEN_MAX + 1 &&
	       nblk && nblk <= g->log_blocks &&
	       le32_to_cpu(h->blk) < nblk &&
	       le32_to_cpu(h->nrec) <= RAWKV_LOG_RECS_PER_BLOCK &&
	       !h->flags && !h->reserved &&
	       next_gen && next_gen <= FZ_GEN_MAX + 1;
}

static void fz_check_log(const void *blk, const struct rawkv_log_info *li)
{
	const struct rawkv_log_hdr *h = blk;

	FZ_CHECK(li->seq == le64_to_cpu(h->seq));
	FZ_CHECK(li->next_gen == le64_to_cpu(h->next_gen));
	FZ_CHECK(li->blk == le32_to_cpu(h->blk));
	FZ_CHECK(li->nblk == le32_to_cpu(h->nblk));
	FZ_CHECK(li->nrec == le32_to_cpu(h->nrec));
	FZ_CHECK(li->nrec <= RAWKV_LOG_RECS_PER_BLOCK);
}

/* What rawkv_decode_log_rec() must return for @lr. */
static int fz_rec_want(const struct rawkv_geo *g,
		       const struct rawkv_log_rec *lr)
{
	u32 flags = le32_to_cpu(lr->flags);
	u64 gen = le64_to_cpu(lr->gen);

	if (le32_to_cpu(lr->slot) >= g->slot_count || lr->reserved ||
	    (flags & ~(RAWKV_REC_LIVE | RAWKV_REC_SYNC)))
		return -ERANGE;
	if (!(flags & RAWKV_REC_LIVE))
		return flags ? -ERANGE : 0;
	if (!gen || gen > FZ_GEN_MAX ||
	    le32_to_cpu(lr->value_len) > g->value_max)
		return -ERANGE;
	return 1;
}

static void fz_check_rec(const struct rawkv_geo *g,
			 const struct rawkv_log_rec *lr, int ret,
			 const struct rawkv_rec *r)
{
	FZ_CHECK(ret == fz_rec_want(g, lr));
	FZ_CHECK(!r->key && !r->key_len);
	FZ_CHECK(r->fp == le64_to_cpu(lr->fp));
	FZ_CHECK(r->slot == le32_to_cpu(lr->slot));
	FZ_CHECK(r->gen == le64_to_cpu(lr->gen));
	FZ_CHECK(r->value_len == le32_to_cpu(lr->value_len));
	FZ_CHECK(r->value_crc == 0);
	if (ret >= 0) {
		FZ_CHECK(r->flags == le32_to_cpu(lr->flags));
		FZ_CHECK(r->slot < g->slot_count);
	}
}

/* What rawkv_decode_meta_ent() must return for @me of @slot < slot_count. */
static int fz_meta_want(const struct rawkv_geo *g,
			const struct rawkv_meta_ent *me, u32 slot)
{
	u64 gen = le64_to_cpu(me->gen) & ~RAWKV_META_SYNC;

	if (fz_zero(me, sizeof(*me)))
		return 0;
	if (fz_meta_crc(g, me, slot) != le32_to_cpu(me->crc))
		return -EBADMSG;
	if (!gen || le32_to_cpu(me->value_len) > g->value_max)
		return -ERANGE;
	return 1;
}

static void fz_check_meta(const struct rawkv_geo *g,
			  const struct rawkv_meta_ent *me, u32 slot, int ret,
			  const struct rawkv_rec *r)
{
	u64 gen = le64_to_cpu(me->gen);

	FZ_CHECK(ret == fz_meta_want(g, me, slot));
	if (ret == 0 || ret == -EBADMSG)
		return;
	FZ_CHECK(!r->key && !r->key_len);
	FZ_CHECK(r->fp == le64_to_cpu(me->fp));
	FZ_CHECK(r->slot == slot);
	FZ_CHECK(r->gen == (gen & ~RAWKV_META_SYNC));
	FZ_CHECK(r->flags == (RAWKV_REC_LIVE |
			      (gen & RAWKV_META_SYNC ? RAWKV_REC_SYNC : 0)));
	FZ_CHECK(r->value_len == le32_to_cpu(me->value_len));
	FZ_CHECK(r->value_crc == 0);
}

/*
 * rawkv_encode_meta_ent() of these fields at @slot, then decode: the same
 * fields back, and the entry verifies at @slot only (unless the crcs of
 * two slots collide, which the crc re-derived here tells).
 */
static void fz_meta_round_trip(const struct rawkv_geo *g, u32 slot, u64 fp,
			       u64 gen, u32 value_len, bool sync)
{
	struct rawkv_meta_ent me;
	struct rawkv_rec r;
	u32 other;
	int ret;

	FZ_CHECK(slot < g->slot_count && gen <= FZ_GEN_MAX);
	memset(&me, 0x5a, sizeof(me));
	rawkv_encode_meta_ent(g, &me, slot, fp, gen, value_len, sync);
	FZ_CHECK(le64_to_cpu(me.fp) == fp);
	FZ_CHECK(le64_to_cpu(me.gen) == (gen | (sync ? RAWKV_META_SYNC : 0)));
	FZ_CHECK(le32_to_cpu(me.value_len) == value_len);
	FZ_CHECK(le32_to_cpu(me.crc) == fz_meta_crc(g, &me, slot));
	FZ_CHECK(rawkv_meta_ent_crc(g, &me, slot) == le32_to_cpu(me.crc));

	memset(&r, 0xa5, sizeof(r));
	ret = rawkv_decode_meta_ent(g, &me, slot, &r);
	fz_check_meta(g, &me, slot, ret, &r);
	if (gen && value_len <= g->value_max) {
		FZ_CHECK(ret == 1);
		FZ_CHECK(r.fp == fp && r.gen == gen &&
			 r.value_len == value_len && r.slot == slot);
		FZ_CHECK(!!(r.flags & RAWKV_REC_SYNC) == sync);
	} else {
		FZ_CHECK(ret == -ERANGE || (ret == 0 && fz_zero(&me, sizeof(me))));
	}

	/*
	 * The same entry in another slot (copied there) does not verify,
	 * unless the crcs of the two slots collide, or the entry is all zero
	 * (fp, gen and length 0 whose crc happens to be 0: a free slot).
	 */
	other = slot ^ 1;
	if (other < g->slot_count) {
		ret = rawkv_decode_meta_ent(g, &me, other, &r);
		fz_check_meta(g, &me, other, ret, &r);
		FZ_CHECK(ret == -EBADMSG || fz_zero(&me, sizeof(me)) ||
			 fz_meta_crc(g, &me, other) == fz_meta_crc(g, &me, slot));
	}
}

/*
 * The user metadata's checksum: crc32c seeded with the slot header's crc
 * as stored (not ~0), of len and reserved (its first 4 bytes), then of
 * the first len (at most RAWKV_META_LEN_MAX) bytes of data.
 */
static u32 fz_slot_meta_crc(const struct rawkv_slot_hdr *h,
			    const struct rawkv_slot_meta *m)
{
	unsigned int len = le16_to_cpu(m->len);
	u32 crc;

	FZ_CHECK(len <= RAWKV_META_LEN_MAX);
	crc = crc32c(le32_to_cpu(h->crc), m, 4);
	return crc32c(crc, m->data, len);
}

/*
 * Does the format allow the header block of @slot? Its flags are zero, or
 * RAWKV_SLOT_HAS_META with user metadata of 1..RAWKV_META_LEN_MAX bytes,
 * reserved zero, whose crc matches; without the flag, whatever follows
 * the header does not count.
 */
static bool fz_slot_hdr_ok(const struct rawkv_geo *g,
			   const struct rawkv_slot_hdr *h, u32 slot)
{
	const struct rawkv_slot_meta *m =
		(const void *)((const u8 *)h + RAWKV_SLOT_META_OFF);
	unsigned int key_len = le16_to_cpu(h->key_len);
	unsigned int flags = le16_to_cpu(h->flags);
	unsigned int meta_len = le16_to_cpu(m->len);

	if (le64_to_cpu(h->magic) != RAWKV_SLOT_MAGIC || !FZ_CRC_OK(h) ||
	    memcmp(h->uuid, g->uuid, sizeof(h->uuid)) ||
	    le32_to_cpu(h->slot) != slot ||
	    key_len < 1 || key_len > RAWKV_KEY_LEN_MAX ||
	    le64_to_cpu(h->value_len) > g->value_max ||
	    (flags & ~RAWKV_SLOT_HAS_META))
		return false;
	if (!(flags & RAWKV_SLOT_HAS_META))
		return true;
	return meta_len >= 1 && meta_len <= RAWKV_META_LEN_MAX &&
	       !m->reserved && fz_slot_meta_crc(h, m) == le32_to_cpu(m->crc);
}

static void fz_check_slot_hdr(const struct rawkv_geo *g,
			      const struct rawkv_slot_hdr *h, u32 slot,
			      const struct rawkv_rec *r)
{
	const struct rawkv_slot_meta *m =
		(const void *)((const u8 *)h + RAWKV_SLOT_META_OFF);

	FZ_CHECK(r->key == h->key);
	FZ_CHECK(r->key_len >= 1 && r->key_len <= RAWKV_KEY_LEN_MAX);
	FZ_CHECK(r->key_len == le16_to_cpu(h->key_len));
	FZ_CHECK(r->fp == 0);
	FZ_CHECK(r->slot == slot && r->slot == le32_to_cpu(h->slot));
	FZ_CHECK(r->flags == le16_to_cpu(h->flags));
	FZ_CHECK(!(r->flags & ~RAWKV_SLOT_HAS_META));
	FZ_CHECK(r->gen == le64_to_cpu(h->gen));
	FZ_CHECK(r->value_len == le64_to_cpu(h->value_len));
	FZ_CHECK(r->value_len <= g->value_max);
	FZ_CHECK(r->value_crc == le32_to_cpu(h->value_crc));
	if (r->flags & RAWKV_SLOT_HAS_META) {
		FZ_CHECK(r->meta == m->data);
		FZ_CHECK(r->meta_len == le16_to_cpu(m->len));
		FZ_CHECK(r->meta_len >= 1 &&
			 r->meta_len <= RAWKV_META_LEN_MAX);
	} else {
		FZ_CHECK(!r->meta && !r->meta_len);
	}
}

/*
 * A key's fingerprint as rawkv_fp() computes it: SipHash-2-4 of the key
 * bytes (the kernel's siphash()), keyed by the uuid as two little-endian
 * u64. The generator checks it against the reference test vectors.
 */
#define FZ_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define FZ_SIPROUND(v0, v1, v2, v3) do {			\
	v0 += v1; v1 = FZ_ROTL(v1, 13); v1 ^= v0; v0 = FZ_ROTL(v0, 32); \
	v2 += v3; v3 = FZ_ROTL(v3, 16); v3 ^= v2;		\
	v0 += v3; v3 = FZ_ROTL(v3, 21); v3 ^= v0;		\
	v2 += v1; v1 = FZ_ROTL(v1, 17); v1 ^= v2; v2 = FZ_ROTL(v2, 32); \
} while (0)

static u64 fz_le64_at(const u8 *p)
{
	u64 v;

	memcpy(&v, p, sizeof(v));
	return le64_to_cpu(v);
}

static u64 fz_siphash(const u8 *p, size_t len, const u8 key[16])
{
	u64 k0 = fz_le64_at(key), k1 = fz_le64_at(key + 8);
	u64 v0 = 0x736f6d6570736575ULL ^ k0;
	u64 v1 = 0x646f72616e646f6dULL ^ k1;
	u64 v2 = 0x6c7967656e657261ULL ^ k0;
	u64 v3 = 0x7465646279746573ULL ^ k1;
	u64 b = (u64)len << 56, m;
	size_t i;

	for (; len >= 8; p += 8, len -= 8) {
		m = fz_le64_at(p);
		v3 ^= m;
		FZ_SIPROUND(v0, v1, v2, v3);
		FZ_SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (i = 0; i < len; i++)
		b |= (u64)p[i] << (8 * i);
	v3 ^= b;
	FZ_SIPROUND(v0, v1, v2, v3);
	FZ_SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (i = 0; i < 4; i++)
		FZ_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

static u64 fz_fp(const struct rawkv_geo *g, const u8 *key, unsigned int len)
{
	return fz_siphash(key, len, g->uuid);
}

/*
 * The table recovery builds, for the slots the input names: an entry per
 * slot that was ever loaded, found through a hash by slot (the kernel
 * indexes its per-slot array), live or cleared again by a log record.
 */
struct fz_ent {
	u32 slot;
	bool live;
	bool sync;
	u64 fp, gen, value_len;
};

#define FZ_TABLE_CAP	(FZ_META_BLOCKS * RAWKV_META_PER_BLOCK + \
			 RAWKV_LOG_RECS_PER_BLOCK + 1)
#define FZ_TABLE_HASH	2048U	/* a power of two above twice the cap */

struct fz_table {
	struct fz_ent ents[FZ_TABLE_CAP];
	u32 nr;
	u32 by_slot[FZ_TABLE_HASH];	/* index + 1 into ents, 0: empty */
	u32 live;
};

static u32 *fz_slot_pos(struct fz_table *t, u32 slot)
{
	u32 i = (slot * 2654435761U) & (FZ_TABLE_HASH - 1);

	while (t->by_slot[i] && t->ents[t->by_slot[i] - 1].slot != slot)
		i = (i + 1) & (FZ_TABLE_HASH - 1);
	return &t->by_slot[i];
}

/* The live entry of @slot, or NULL. */
static struct fz_ent *fz_ent_of_slot(struct fz_table *t, u32 slot)
{
	u32 pos = *fz_slot_pos(t, slot);

	return pos && t->ents[pos - 1].live ? &t->ents[pos - 1] : NULL;
}

/* rawkv_index_load() of @r: the slot holds it, whatever it held. */
static void fz_table_load(struct fz_table *t, const struct rawkv_rec *r)
{
	u32 *pos = fz_slot_pos(t, r->slot);
	struct fz_ent *e;

	if (!*pos) {
		FZ_CHECK(t->nr < FZ_TABLE_CAP);
		*pos = ++t->nr;
	}
	e = &t->ents[*pos - 1];
	if (!e->live)
		t->live++;
	e->slot = r->slot;
	e->live = true;
	e->sync = !!(r->flags & RAWKV_REC_SYNC);
	e->fp = r->fp;
	e->gen = r->gen;
	e->value_len = r->value_len;
}

/* rawkv_index_load_clear(): the slot is free. */
static void fz_table_clear(struct fz_table *t, u32 slot)
{
	struct fz_ent *e = fz_ent_of_slot(t, slot);

	if (e) {
		e->live = false;
		t->live--;
	}
}

/* rawkv_load_meta() of the block at index @block of the slot metadata. */
static void fz_load_meta_block(const struct rawkv_geo *g, u32 block,
			       struct rawkv_meta_ent *me, bool fix_crc,
			       struct fz_table *t)
{
	u64 first = (u64)block * RAWKV_META_PER_BLOCK;
	struct rawkv_meta_ent again;
	struct rawkv_rec r;
	bool bad = false;
	u32 i;
	int ret;

	if (fix_crc)
		for (i = 0; i < RAWKV_META_PER_BLOCK; i++)
			if (first + i < g->slot_count &&
			    !fz_zero(&me[i], sizeof(me[i])))
				me[i].crc = cpu_to_le32(fz_meta_crc(g, &me[i],
								    first + i));
	if (fz_zero(me, RAWKV_BLOCK_SIZE))
		return;
	for (i = 0; i < RAWKV_META_PER_BLOCK; i++) {
		u32 slot = first + i;

		if (first + i >= g->slot_count) {
			bad |= !fz_zero(&me[i], sizeof(me[i]));
			continue;
		}
		memset(&r, 0xa5, sizeof(r));
		ret = rawkv_decode_meta_ent(g, &me[i], slot, &r);
		fz_check_meta(g, &me[i], slot, ret, &r);
		if (ret < 0) {
			fz_last.me_dropped++;
			bad = true;
			continue;
		}
		if (!ret)
			continue;
		fz_last.me_loaded++;
		fz_table_load(t, &r);
		/* What verifies is what writeback writes for its fields. */
		memset(&again, 0x5a, sizeof(again));
		rawkv_encode_meta_ent(g, &again, slot, r.fp, r.gen,
				      r.value_len, r.flags & RAWKV_REC_SYNC);
		FZ_CHECK(!memcmp(&again, &me[i], sizeof(again)));
	}
	fz_last.me_bad_blocks += bad;
}

/* rawkv_log_apply() of the records of a log block that verified. */
static void fz_apply_log(const struct rawkv_geo *g, const void *blk,
			 const struct rawkv_log_info *li, struct fz_table *t)
{
	const struct rawkv_log_rec *lr =
		(const void *)((const u8 *)blk + sizeof(struct rawkv_log_hdr));
	struct rawkv_rec r;
	u32 j;
	int ret;

	for (j = 0; j < li->nrec; j++) {
		memset(&r, 0xa5, sizeof(r));
		ret = rawkv_decode_log_rec(g, &lr[j], &r);
		fz_check_rec(g, &lr[j], ret, &r);
		if (ret < 0) {
			fz_last.rec_dropped++;
			continue;
		}
		if (!ret) {
			fz_last.rec_free++;
			fz_table_clear(t, r.slot);
			continue;
		}
		fz_last.rec_live++;
		fz_table_load(t, &r);
		/* Writeback puts it in the slot metadata: no field changes. */
		fz_meta_round_trip(g, r.slot, r.fp, r.gen, r.value_len,
				   r.flags & RAWKV_REC_SYNC);
	}
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	const struct fz_ctl *ctl = fz_take(data, size, 0, sizeof(*ctl));
	struct rawkv_sb *sb = fz_take(data, size, FZ_SB_OFF, sizeof(*sb));
	struct rawkv_anchor *an = fz_take(data, size, FZ_AN_OFF, sizeof(*an));
	struct rawkv_slot_hdr *sl = fz_take(data, size, FZ_SL_OFF,
					    RAWKV_SLOT_HDR_BYTES);
	struct rawkv_slot_meta *sm = (void *)((u8 *)sl + RAWKV_SLOT_META_OFF);
	u8 *lg = fz_take(data, size, FZ_LG_OFF, RAWKV_BLOCK_SIZE);
	struct rawkv_log_hdr *lh = (void *)lg;
	struct rawkv_log_rec *lr = (void *)(lg + sizeof(*lh));
	static struct fz_table t;
	struct rawkv_anchor_info ai;
	struct rawkv_log_info li;
	u64 slot_size, slot_count, dev;
	u32 slot, nmeta = 0, i;
	struct rawkv_geo g;
	struct rawkv_rec r;
	const char *err;
	int area = ctl->area & 1;
	bool ok;

	memset(&fz_last, 0, sizeof(fz_last));
	memset(&t, 0, sizeof(t));

	/* 1. The superblock, on a device of dev bytes. */
	slot_size = le64_to_cpu(sb->slot_size);
	slot_count = le64_to_cpu(sb->slot_count);
	dev = (u64)le32_to_cpu(ctl->dev) << RAWKV_BLOCK_SHIFT;
	if ((ctl->fix & FZ_SB_GEO) && fz_slot_size_ok(slot_size) &&
	    slot_count && slot_count <= U32_MAX) {
		rawkv_geo_set(&g, slot_size, slot_count);
		sb->anchor_off[0] = cpu_to_le64(g.anchor_off[0]);
		sb->anchor_off[1] = cpu_to_le64(g.anchor_off[1]);
		sb->log_off = cpu_to_le64(g.log_off);
		sb->log_blocks = cpu_to_le64(g.log_blocks);
		sb->meta_off = cpu_to_le64(g.meta_off);
		sb->meta_size = cpu_to_le64(g.meta_size);
		sb->lru_off = cpu_to_le64(g.lru_off);
		sb->lru_size = cpu_to_le64(g.lru_size);
		sb->data_off = cpu_to_le64(g.data_off);
		dev = rawkv_geo_end(&g) + (int32_t)le32_to_cpu(ctl->dev);
	}
	if (ctl->fix & FZ_SB_CRC)
		FZ_CRC_FIX(sb);
	memset(&g, 0xa5, sizeof(g));
	g.device_bytes = dev;
	ok = fz_sb_ok(sb, dev);
	err = rawkv_decode_sb(&g, sb);
	FZ_CHECK(ok == !err);
	/* rawkv_read_super() prints it: a device of format 1 or 2 says so. */
	FZ_CHECK(fz_sb_older(sb) ==
		 (err && strstr(err, "it must be formatted again")));
	fz_last.sb_old = fz_sb_older(sb);
	if (!err) {
		fz_check_sb(&g, sb, dev);
		fz_last.sb_ok = true;
	} else {
		slot_count = le32_to_cpu(ctl->count);
		rawkv_geo_set(&g, (u64)RAWKV_SLOT_SIZE_MIN << (ctl->shift % 15),
			      slot_count ? slot_count : 1);
		rawkv_geo_set_uuid(&g, sb->uuid);
		g.device_bytes = rawkv_geo_end(&g);
		fz_check_geo(&g);
	}

	/* 2. The anchor of @area. */
	if (ctl->fix & FZ_AN_FIX) {
		u64 seq = le64_to_cpu(an->seq);

		an->magic = cpu_to_le64(RAWKV_ANCHOR_MAGIC);
		memcpy(an->uuid, g.uuid, sizeof(an->uuid));
		seq = (seq & ~1ULL) | area;
		an->seq = cpu_to_le64(seq ? seq : 2);
		an->tail = cpu_to_le32(le32_to_cpu(an->tail) % g.log_blocks);
		an->lru_count = cpu_to_le64(le64_to_cpu(an->lru_count) %
					    ((u64)g.slot_count + 1));
		an->flags = 0;
	}
	if (ctl->fix & FZ_AN_CRC)
		FZ_CRC_FIX(an);
	memset(&ai, 0xa5, sizeof(ai));
	ok = fz_anchor_ok(&g, an, area);
	err = rawkv_decode_anchor(&g, an, area, &ai);
	FZ_CHECK(ok == !err);
	if (!err) {
		fz_check_anchor(&g, an, &ai);
		fz_last.an_ok = true;
	}

	/* 3. The slot metadata blocks given, from block meta_block on. */
	if (size > FZ_ME_OFF)
		nmeta = (size - FZ_ME_OFF + RAWKV_BLOCK_SIZE - 1) /
			RAWKV_BLOCK_SIZE;
	if (nmeta > FZ_META_BLOCKS)
		nmeta = FZ_META_BLOCKS;
	for (i = 0; i < nmeta; i++) {
		u32 blocks = g.meta_size / RAWKV_BLOCK_SIZE;
		u32 block = (le32_to_cpu(ctl->meta_block) % blocks + i) % blocks;
		struct rawkv_meta_ent *me;

		me = fz_take(data, size, FZ_ME_OFF + i * RAWKV_BLOCK_SIZE,
			     RAWKV_BLOCK_SIZE);
		fz_load_meta_block(&g, block, me, ctl->fix & FZ_ME_CRC, &t);
		free(me);
	}

	/* 4. The log block, and the records of one that verifies. */
	if (ctl->log_fix & FZ_LG_HDR) {
		u32 nblk = le32_to_cpu(lh->nblk) % g.log_blocks + 1;
		u64 next_gen = le64_to_cpu(lh->next_gen) & FZ_GEN_MAX;

		lh->magic = cpu_to_le64(RAWKV_LOG_MAGIC);
		memcpy(lh->uuid, g.uuid, sizeof(lh->uuid));
		if (!lh->seq)
			lh->seq = cpu_to_le64(1);
		lh->next_gen = cpu_to_le64(next_gen ? next_gen : 1);
		lh->nblk = cpu_to_le32(nblk);
		lh->blk = cpu_to_le32(le32_to_cpu(lh->blk) % nblk);
		lh->nrec = cpu_to_le32(le32_to_cpu(lh->nrec) %
				       (RAWKV_LOG_RECS_PER_BLOCK + 1));
		lh->flags = 0;
		lh->reserved = 0;
	}
	if (ctl->log_fix & FZ_LG_SLOT)
		for (i = 0; i < RAWKV_LOG_RECS_PER_BLOCK; i++)
			lr[i].slot = cpu_to_le32(le32_to_cpu(lr[i].slot) %
						 g.slot_count);
	if (ctl->log_fix & FZ_LG_CRC)
		lh->crc = cpu_to_le32(rawkv_log_block_crc(lg));
	FZ_CHECK(rawkv_log_block_crc(lg) == fz_log_crc(lg));
	memset(&li, 0xa5, sizeof(li));
	ok = fz_log_ok(&g, lg);
	err = rawkv_decode_log_block(&g, lg, &li);
	FZ_CHECK(ok == !err);
	if (!err) {
		fz_check_log(lg, &li);
		fz_last.lg_ok = true;
		fz_apply_log(&g, lg, &li, &t);
	}
	/* Any record's fields, as writeback would encode them. */
	for (i = 0; i < RAWKV_LOG_RECS_PER_BLOCK; i++)
		fz_meta_round_trip(&g, le32_to_cpu(lr[i].slot) % g.slot_count,
				   le64_to_cpu(lr[i].fp),
				   le64_to_cpu(lr[i].gen) & FZ_GEN_MAX,
				   le32_to_cpu(lr[i].value_len),
				   le32_to_cpu(lr[i].flags) & RAWKV_REC_SYNC);
	FZ_CHECK(t.live <= t.nr && t.nr <= g.slot_count);

	/* 5. The header block of one slot, and what a GET makes of it. */
	slot = le32_to_cpu(ctl->slot);
	if (ctl->fix & FZ_SL_FIX) {
		slot %= g.slot_count;
		sl->slot = cpu_to_le32(slot);
		memcpy(sl->uuid, g.uuid, sizeof(sl->uuid));
	}
	if (ctl->fix & FZ_SL_META)
		sl->flags = cpu_to_le16(RAWKV_SLOT_HAS_META);
	if (ctl->fix & FZ_SL_CRC)
		FZ_CRC_FIX(sl);
	if (ctl->fix & FZ_SL_META) {
		sm->len = cpu_to_le16(le16_to_cpu(sm->len) %
				      (RAWKV_META_LEN_MAX + 2));
		sm->reserved &= cpu_to_le16(0x8000);
		sm->crc = cpu_to_le32(rawkv_slot_meta_crc(sl, sm));
	}
	if (le16_to_cpu(sm->len) <= RAWKV_META_LEN_MAX)
		FZ_CHECK(rawkv_slot_meta_crc(sl, sm) ==
			 fz_slot_meta_crc(sl, sm));
	memset(&r, 0xa5, sizeof(r));
	ok = fz_slot_hdr_ok(&g, sl, slot);
	err = rawkv_decode_slot_hdr(&g, sl, slot, &r);
	FZ_CHECK(ok == !err);
	if (!err) {
		struct fz_ent *e = slot < g.slot_count ?
				   fz_ent_of_slot(&t, slot) : NULL;

		fz_check_slot_hdr(&g, sl, slot, &r);
		fz_last.sl_ok = true;
		fz_last.sl_meta = r.meta_len;
		if (e)
			fz_last.sl_use = r.gen == e->gen &&
					 r.value_len == e->value_len &&
					 fz_fp(&g, r.key, r.key_len) == e->fp ?
					 1 : -1;
	}

	free(lg);
	free(sl);
	free(an);
	free(sb);
	free((void *)ctl);
	return 0;
}

#ifdef RAWKV_FUZZ_GEN
/*
 * The seed corpus: valid images of a few geometries, as the kernel writes
 * them, and the damage the decoders must refuse, each checked against
 * what it should reach.
 */
#include <sys/stat.h>

struct fz_seed {
	u8 buf[FZ_ME_OFF + FZ_META_BLOCKS * RAWKV_BLOCK_SIZE];
	size_t len;
	struct fz_ctl *ctl;
	struct rawkv_sb *sb;
	struct rawkv_anchor *an;
	struct rawkv_slot_hdr *sl;
	struct rawkv_log_hdr *lh;
	u32 nrec;
	struct rawkv_geo g;
};

static const u8 fz_uuid[16] = "rawkv-fuzz-seed";

/* A device of @dev bytes formatted as rawkv_format() does. */
static void fz_seed_init(struct fz_seed *s, u64 slot_size, u64 dev)
{
	u64 n = dev / (slot_size + sizeof(struct rawkv_meta_ent) + 4);

	memset(s, 0, sizeof(*s));
	s->ctl = (void *)s->buf;
	s->sb = (void *)(s->buf + FZ_SB_OFF);
	s->an = (void *)(s->buf + FZ_AN_OFF);
	s->sl = (void *)(s->buf + FZ_SL_OFF);
	s->lh = (void *)(s->buf + FZ_LG_OFF);
	s->len = FZ_ME_OFF;

	if (n > U32_MAX)
		n = U32_MAX;
	for (; n; n--) {
		rawkv_geo_set(&s->g, slot_size, n);
		if (rawkv_geo_end(&s->g) <= dev)
			break;
	}
	if (!n)
		abort();
	rawkv_geo_set_uuid(&s->g, fz_uuid);
	s->g.device_bytes = dev;
	s->ctl->dev = cpu_to_le32(dev >> RAWKV_BLOCK_SHIFT);
	s->sb->magic = cpu_to_le64(RAWKV_SB_MAGIC);
	s->sb->version = cpu_to_le32(RAWKV_FORMAT_VERSION);
	s->sb->block_size = cpu_to_le32(RAWKV_BLOCK_SIZE);
	memcpy(s->sb->uuid, s->g.uuid, sizeof(s->sb->uuid));
	s->sb->slot_size = cpu_to_le64(s->g.slot_size);
	s->sb->slot_count = cpu_to_le64(s->g.slot_count);
	s->sb->anchor_off[0] = cpu_to_le64(s->g.anchor_off[0]);
	s->sb->anchor_off[1] = cpu_to_le64(s->g.anchor_off[1]);
	s->sb->log_off = cpu_to_le64(s->g.log_off);
	s->sb->log_blocks = cpu_to_le64(s->g.log_blocks);
	s->sb->meta_off = cpu_to_le64(s->g.meta_off);
	s->sb->meta_size = cpu_to_le64(s->g.meta_size);
	s->sb->lru_off = cpu_to_le64(s->g.lru_off);
	s->sb->lru_size = cpu_to_le64(s->g.lru_size);
	s->sb->data_off = cpu_to_le64(s->g.data_off);
	s->sb->device_bytes = cpu_to_le64(dev);
	s->sb->crc = cpu_to_le32(rawkv_crc_self(s->sb,
						offsetof(struct rawkv_sb, crc)));
}

/* The anchor as rawkv_anchor_write() writes it. */
static void fz_seed_anchor(struct fz_seed *s, u64 seq, u32 tail,
			   u64 tail_seq, u64 next_gen, u64 lru_count)
{
	struct rawkv_anchor *a = s->an;

	s->ctl->area = seq & 1;
	memset(a, 0, sizeof(*a));
	a->magic = cpu_to_le64(RAWKV_ANCHOR_MAGIC);
	a->seq = cpu_to_le64(seq);
	memcpy(a->uuid, s->g.uuid, sizeof(a->uuid));
	a->tail_seq = cpu_to_le64(tail_seq);
	a->tail = cpu_to_le32(tail);
	a->lru_crc = cpu_to_le32(0x1234);
	a->next_gen = cpu_to_le64(next_gen);
	a->lru_count = cpu_to_le64(lru_count);
	a->crc = cpu_to_le32(rawkv_crc_self(a,
					    offsetof(struct rawkv_anchor, crc)));
}

/* Append a record as rawkv_commit_collect() fills it. */
static void fz_seed_rec(struct fz_seed *s, const char *key, u32 slot,
			u64 gen, u32 vlen, u32 flags)
{
	struct rawkv_log_rec *r = (void *)(s->lh + 1);

	if (s->nrec >= RAWKV_LOG_RECS_PER_BLOCK)
		abort();
	r += s->nrec++;
	memset(r, 0, sizeof(*r));
	r->slot = cpu_to_le32(slot);
	if (!(flags & RAWKV_REC_LIVE) && !key)
		return;
	r->fp = cpu_to_le64(fz_fp(&s->g, (const u8 *)key, strlen(key)));
	r->gen = cpu_to_le64(gen);
	r->value_len = cpu_to_le32(vlen);
	r->flags = cpu_to_le32(flags);
}

/* The header of the log block, as rawkv_log_seal() writes it. */
static void fz_seed_log(struct fz_seed *s, u64 seq, u64 next_gen, u32 blk,
			u32 nblk)
{
	struct rawkv_log_hdr *h = s->lh;

	h->magic = cpu_to_le64(RAWKV_LOG_MAGIC);
	h->seq = cpu_to_le64(seq);
	memcpy(h->uuid, s->g.uuid, sizeof(h->uuid));
	h->next_gen = cpu_to_le64(next_gen);
	h->blk = cpu_to_le32(blk);
	h->nblk = cpu_to_le32(nblk);
	h->nrec = cpu_to_le32(s->nrec);
	h->flags = 0;
	h->reserved = 0;
	h->crc = cpu_to_le32(rawkv_log_block_crc(h));
}

/* Entry @slot of the metadata blocks given (starting at ctl->meta_block). */
static struct rawkv_meta_ent *fz_seed_me_at(struct fz_seed *s, u32 slot)
{
	u32 first = le32_to_cpu(s->ctl->meta_block);
	u32 block = slot / RAWKV_META_PER_BLOCK - first;
	size_t off = FZ_ME_OFF + (size_t)block * RAWKV_BLOCK_SIZE +
		     slot % RAWKV_META_PER_BLOCK * sizeof(struct rawkv_meta_ent);

	if (slot / RAWKV_META_PER_BLOCK < first || block >= FZ_META_BLOCKS)
		abort();
	if (s->len < FZ_ME_OFF + (size_t)(block + 1) * RAWKV_BLOCK_SIZE)
		s->len = FZ_ME_OFF + (size_t)(block + 1) * RAWKV_BLOCK_SIZE;
	return (void *)(s->buf + off);
}

/* The entry of @key in slot @slot, as rawkv_wb_fill() and _seal() write it. */
static void fz_seed_me(struct fz_seed *s, const char *key, u32 slot,
		       u64 gen, u32 vlen, bool sync)
{
	rawkv_encode_meta_ent(&s->g, fz_seed_me_at(s, slot), slot,
			      fz_fp(&s->g, (const u8 *)key, strlen(key)), gen,
			      vlen, sync);
}

/* A slot header as a PUT without user metadata writes it. */
static void fz_seed_slot(struct fz_seed *s, u32 slot, const char *key,
			 unsigned int key_len, u64 gen, u64 vlen)
{
	struct rawkv_slot_hdr *h = s->sl;

	s->ctl->slot = cpu_to_le32(slot);
	memset(h, 0, RAWKV_SLOT_HDR_BYTES);
	h->magic = cpu_to_le64(RAWKV_SLOT_MAGIC);
	h->gen = cpu_to_le64(gen);
	h->value_len = cpu_to_le64(vlen);
	h->slot = cpu_to_le32(slot);
	h->value_crc = cpu_to_le32(0x1000 + slot);
	memcpy(h->uuid, s->g.uuid, sizeof(h->uuid));
	h->key_len = cpu_to_le16(key_len);
	memcpy(h->key, key, key_len);
	h->crc = cpu_to_le32(rawkv_crc_self(h,
					    offsetof(struct rawkv_slot_hdr, crc)));
}

/* The slot header's user metadata. */
static struct rawkv_slot_meta *fz_seed_meta(struct fz_seed *s)
{
	return (void *)((u8 *)s->sl + RAWKV_SLOT_META_OFF);
}

/*
 * Give the slot header @len bytes of user metadata, bytes of @meta, as
 * rawkv_fill_slot_hdr() writes them: the flag, the header's crc, then the
 * metadata and its crc.
 */
static void fz_seed_slot_meta(struct fz_seed *s, const u8 *meta,
			      unsigned int len)
{
	struct rawkv_slot_hdr *h = s->sl;
	struct rawkv_slot_meta *m = fz_seed_meta(s);

	memset(m, 0, sizeof(*m));
	h->flags = cpu_to_le16(RAWKV_SLOT_HAS_META);
	h->crc = cpu_to_le32(rawkv_crc_self(h,
					    offsetof(struct rawkv_slot_hdr, crc)));
	m->len = cpu_to_le16(len);
	memcpy(m->data, meta, len);
	m->crc = cpu_to_le32(rawkv_slot_meta_crc(h, m));
}

static int fz_failed;

#define FZ_FIELDS(x) \
	x(sb_ok) x(sb_old) x(an_ok) x(me_loaded) x(me_dropped) \
	x(me_bad_blocks) x(lg_ok) x(rec_live) x(rec_free) x(rec_dropped) \
	x(sl_ok) x(sl_use) x(sl_meta)

/* Write the seed to DIR/name, run it, compare with what it must reach. */
static void fz_seed_write(const char *dir, const char *name,
			  const struct fz_seed *s, const struct fz_result *want)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(s->buf, 1, s->len, f) != s->len || fclose(f)) {
		perror(path);
		exit(1);
	}
	LLVMFuzzerTestOneInput(s->buf, s->len);
#define FZ_CMP(field)							\
	if ((long long)fz_last.field != (long long)want->field) {	\
		fprintf(stderr, "%s: reached %s = %lld, not %lld\n",	\
			name, #field, (long long)fz_last.field,		\
			(long long)want->field);			\
		fz_failed = 1;						\
	}
	FZ_FIELDS(FZ_CMP)
#undef FZ_CMP
}

#define FZ_WANT(...) (&(struct fz_result){ __VA_ARGS__ })

/*
 * fz_siphash() against the SipHash-2-4 reference vectors (key 00..0f, the
 * message 00..n-1), as the kernel's lib/test_siphash.c checks siphash().
 */
static void fz_check_siphash(void)
{
	static const u64 want[] = {
		0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL,
		0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
		0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
		0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
		0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL,
		0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
		0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL,
		0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
		0x3f2acc7f57c29bdbULL,
	};
	u8 key[16], msg[sizeof(want) / sizeof(want[0])];
	unsigned int i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = i;
	for (i = 0; i < sizeof(msg); i++) {
		if (fz_siphash(msg, i, key) == want[i])
			continue;
		fprintf(stderr, "siphash of %u bytes: %016llx, not %016llx\n",
			i, (unsigned long long)fz_siphash(msg, i, key),
			(unsigned long long)want[i]);
		fz_failed = 1;
	}
}

/* crc32c() against the standard check value, CRC-32C("123456789"). */
static void fz_check_crc32c(void)
{
	if (crc32c(~0U, "123456789", 9) == ~0xe3069283U)
		return;
	fprintf(stderr, "crc32c(\"123456789\") is wrong\n");
	fz_failed = 1;
}

int main(int argc, char **argv)
{
	static const char key255[RAWKV_KEY_LEN_MAX] = "k255";
	struct rawkv_slot_meta *sm, saved;
	u8 meta[RAWKV_META_LEN_MAX];
	struct rawkv_meta_ent *me;
	struct fz_seed s;
	const char *dir;
	unsigned int i;
	u32 last;

	if (argc != 3 || strcmp(argv[1], "gen-corpus")) {
		fprintf(stderr, "usage: %s gen-corpus DIR\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	mkdir(dir, 0755);
	fz_check_siphash();
	fz_check_crc32c();
	for (i = 0; i < sizeof(meta); i++)
		meta[i] = 0x20 + i % 95;

	/*
	 * Freshly formatted 1 GiB, 1 MiB slots: anchor B of format, an empty
	 * log, the zeroed slot metadata; a slot header no entry points at.
	 */
	fz_seed_init(&s, 1 << 20, 1ULL << 30);
	fz_seed_anchor(&s, 1, 0, 1, 1, 0);
	fz_seed_me_at(&s, 0);
	fz_seed_slot(&s, 3, "k", 1, 1, 100);
	fz_seed_write(dir, "fresh-format", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .sl_ok = true));

	/*
	 * 64 MiB, 8 KiB slots: three keys in the slot metadata (one of a
	 * sync PUT), then a commit of four changes: a new key, a new value
	 * of "a" in another slot, its old slot freed, a sync PUT. The slot
	 * header of the new "a".
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	last = s.g.slot_count - 1;
	fz_seed_anchor(&s, 4, 7, 3, 4, 3);
	fz_seed_me(&s, "a", 0, 1, 0, false);
	fz_seed_me(&s, "key-8byt", 5, 2, 4096, false);
	fz_seed_me(&s, "sync", 169, 3, 17, true);
	fz_seed_rec(&s, "a", 2, 4, 4096, RAWKV_REC_LIVE);
	fz_seed_rec(&s, NULL, 0, 0, 0, 0);
	fz_seed_rec(&s, "new", 170, 5, 1, RAWKV_REC_LIVE | RAWKV_REC_SYNC);
	fz_seed_rec(&s, key255, last, 6, 8192 - 4096, RAWKV_REC_LIVE);
	fz_seed_log(&s, 3, 7, 0, 1);
	fz_seed_slot(&s, 2, "a", 1, 4, 4096);
	fz_seed_write(dir, "meta-and-commit", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 3,
			      .lg_ok = true, .rec_live = 3, .rec_free = 1,
			      .sl_ok = true, .sl_use = 1));

	/* The same with the slot header of the old "a", whose slot is free. */
	fz_seed_slot(&s, 0, "a", 1, 1, 0);
	fz_seed_write(dir, "slot-freed-by-log", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 3,
			      .lg_ok = true, .rec_live = 3, .rec_free = 1,
			      .sl_ok = true));

	/* A slot in use whose header holds another key, same gen and length. */
	fz_seed_slot(&s, 5, "key-8byX", 8, 2, 4096);
	fz_seed_write(dir, "slot-holds-other-key", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 3,
			      .lg_ok = true, .rec_live = 3, .rec_free = 1,
			      .sl_ok = true, .sl_use = -1));

	/*
	 * The header of the new "a" with user metadata as a PUT writes it:
	 * 40 bytes; RAWKV_META_LEN_MAX; 100 with the bytes after them not
	 * zero (no crc covers them); and valid metadata after a header
	 * without the flag, which has none.
	 */
#define FZ_WANT_A(...) \
	FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 3, .lg_ok = true, \
		.rec_live = 3, .rec_free = 1, __VA_ARGS__)
	fz_seed_slot(&s, 2, "a", 1, 4, 4096);
	fz_seed_slot_meta(&s, meta, 40);
	fz_seed_write(dir, "slot-meta", &s,
		      FZ_WANT_A(.sl_ok = true, .sl_use = 1, .sl_meta = 40));
	saved = *fz_seed_meta(&s);
	fz_seed_slot_meta(&s, meta, RAWKV_META_LEN_MAX);
	fz_seed_write(dir, "slot-meta-max", &s,
		      FZ_WANT_A(.sl_ok = true, .sl_use = 1,
				.sl_meta = RAWKV_META_LEN_MAX));
	fz_seed_slot_meta(&s, meta, 100);
	memset(fz_seed_meta(&s)->data + 100, 0xee, RAWKV_META_LEN_MAX - 100);
	fz_seed_write(dir, "slot-meta-tail", &s,
		      FZ_WANT_A(.sl_ok = true, .sl_use = 1, .sl_meta = 100));
	fz_seed_slot(&s, 2, "a", 1, 4, 4096);
	*fz_seed_meta(&s) = saved;
	fz_seed_write(dir, "slot-meta-no-flag", &s,
		      FZ_WANT_A(.sl_ok = true, .sl_use = 1));

	/*
	 * Damaged user metadata: a bit flipped; the metadata of the header
	 * of generation 4 after the same header of generation 5 (its crc is
	 * seeded with the other header's); behind a valid crc, length 0,
	 * length RAWKV_META_LEN_MAX + 1, a reserved field not zero.
	 */
	fz_seed_slot(&s, 2, "a", 1, 4, 4096);
	fz_seed_slot_meta(&s, meta, 40);
	fz_seed_meta(&s)->data[39] ^= 0x10;
	fz_seed_write(dir, "slot-meta-bit-flip", &s, FZ_WANT_A(.sl_ok = false));
	fz_seed_slot(&s, 2, "a", 1, 5, 4096);
	fz_seed_slot_meta(&s, meta, 40);
	*fz_seed_meta(&s) = saved;
	fz_seed_write(dir, "slot-meta-of-other-header", &s,
		      FZ_WANT_A(.sl_ok = false));
	fz_seed_slot(&s, 2, "a", 1, 4, 4096);
	fz_seed_slot_meta(&s, meta, 0);
	fz_seed_write(dir, "slot-meta-len-0", &s, FZ_WANT_A(.sl_ok = false));
	fz_seed_slot_meta(&s, meta, RAWKV_META_LEN_MAX);
	sm = fz_seed_meta(&s);
	sm->len = cpu_to_le16(RAWKV_META_LEN_MAX + 1);
	sm->crc = cpu_to_le32(rawkv_slot_meta_crc(s.sl, sm));
	fz_seed_write(dir, "slot-meta-too-long", &s, FZ_WANT_A(.sl_ok = false));
	fz_seed_slot_meta(&s, meta, 40);
	sm->reserved = cpu_to_le16(1);
	sm->crc = cpu_to_le32(rawkv_slot_meta_crc(s.sl, sm));
	fz_seed_write(dir, "slot-meta-reserved", &s, FZ_WANT_A(.sl_ok = false));
#undef FZ_WANT_A

	/*
	 * Slot metadata to drop: a bit flip, the entry of another slot
	 * copied in, a value too long and a generation 0 with their crcs
	 * recomputed; a nonzero entry past slot_count in the last block.
	 * 4 MiB of 16 KiB slots: two blocks of slot metadata.
	 */
	fz_seed_init(&s, 16 << 10, 4 << 20);
	last = s.g.slot_count - 1;
	fz_seed_anchor(&s, 2, 0, 1, 9, 0);
	fz_seed_me(&s, "good", 1, 1, 12288, false);
	fz_seed_me(&s, "flip", 2, 2, 100, false);
	fz_seed_me_at(&s, 2)->fp ^= cpu_to_le64(1ULL << 40);
	fz_seed_me(&s, "copied", 3, 3, 100, true);
	*fz_seed_me_at(&s, 4) = *fz_seed_me_at(&s, 3);
	fz_seed_me(&s, "long", 5, 5, 12289, false);
	fz_seed_me(&s, "gen0", 6, 0, 1, true);
	fz_seed_me(&s, "last", last, 8, 1, false);
	fz_seed_me_at(&s, last + 1)->value_len = cpu_to_le32(1);
	fz_seed_write(dir, "meta-bad-entries", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 3,
			      .me_dropped = 4, .me_bad_blocks = 2));

	/*
	 * Log records to skip in a block that verifies: a slot out of range,
	 * an unknown flag, reserved bits, sync without live, generation 0,
	 * a value too long; and a free record and a live one that load.
	 */
	fz_seed_init(&s, 16 << 10, 4 << 20);
	fz_seed_anchor(&s, 3, 10, 5, 9, 0);
	fz_seed_rec(&s, "far", s.g.slot_count, 1, 1, RAWKV_REC_LIVE);
	fz_seed_rec(&s, "flag", 1, 2, 1, RAWKV_REC_LIVE | 4);
	fz_seed_rec(&s, "resv", 2, 3, 1, RAWKV_REC_LIVE);
	((struct rawkv_log_rec *)(s.lh + 1))[2].reserved = cpu_to_le32(1);
	fz_seed_rec(&s, "sync", 3, 4, 1, RAWKV_REC_SYNC);
	fz_seed_rec(&s, "gen0", 4, 0, 1, RAWKV_REC_LIVE);
	fz_seed_rec(&s, "long", 5, 6, 12289, RAWKV_REC_LIVE);
	fz_seed_rec(&s, NULL, 6, 0, 0, 0);
	fz_seed_rec(&s, "ok", 7, 8, 12288, RAWKV_REC_LIVE);
	fz_seed_log(&s, 5, 9, 0, 1);
	fz_seed_slot(&s, 7, "ok", 2, 8, 12288);
	fz_seed_write(dir, "log-bad-records", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .lg_ok = true,
			      .rec_live = 1, .rec_free = 1, .rec_dropped = 6,
			      .sl_ok = true, .sl_use = 1));

	/* A full block: the second of three of a transaction, 126 records. */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_anchor(&s, 5, 60, 40, 1000, 0);
	while (s.nrec < RAWKV_LOG_RECS_PER_BLOCK)
		fz_seed_rec(&s, s.nrec % 3 ? "x" : NULL, 200 + s.nrec,
			    500 + s.nrec, s.nrec,
			    s.nrec % 3 ? RAWKV_REC_LIVE : 0);
	fz_seed_log(&s, 41, 1000, 1, 3);
	fz_seed_write(dir, "log-full-block", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .lg_ok = true,
			      .rec_live = 84, .rec_free = 42));

	/*
	 * The smallest layout: one 8 KiB slot, the device just large enough;
	 * its entry, a commit that frees it, and its header.
	 */
	fz_seed_init(&s, 8 << 10, 72 * RAWKV_BLOCK_SIZE);
	fz_seed_anchor(&s, 6, 63, 2, 3, 1);
	fz_seed_me(&s, "only", 0, 1, 4096, true);
	fz_seed_rec(&s, NULL, 0, 0, 0, 0);
	fz_seed_log(&s, 2, 3, 0, 1);
	fz_seed_slot(&s, 0, "only", 4, 1, 4096);
	fz_seed_write(dir, "one-slot", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 1,
			      .lg_ok = true, .rec_free = 1, .sl_ok = true));

	/*
	 * A device one block short of that layout: refused. The fallback
	 * geometry (two 16 KiB slots) is not the image's, but nothing else
	 * depends on the slot size: the rest decodes the same.
	 */
	s.ctl->dev = cpu_to_le32(le32_to_cpu(s.ctl->dev) - 1);
	s.ctl->count = cpu_to_le32(2);
	s.ctl->shift = 1;
	fz_seed_write(dir, "sb-beyond-device", &s,
		      FZ_WANT(.an_ok = true, .me_loaded = 1, .lg_ok = true,
			      .rec_free = 1, .sl_ok = true));

	/*
	 * A superblock of format version 2 (its struct was shorter, its crc
	 * is not this one's): refused as a device to format again.
	 */
	fz_seed_init(&s, 1 << 20, 1ULL << 30);
	s.sb->version = cpu_to_le32(2);
	fz_seed_write(dir, "sb-version-2", &s, FZ_WANT(.sb_old = true));

	/*
	 * The largest layout: 2^32 - 1 slots of 128 MiB, with the fix-ups:
	 * the last metadata block, the record of the last slot.
	 */
	fz_seed_init(&s, 128 << 20, 1ULL << 60);
	s.ctl->fix = FZ_SB_GEO | FZ_SB_CRC | FZ_AN_FIX | FZ_AN_CRC |
		     FZ_ME_CRC;
	s.ctl->log_fix = FZ_LG_HDR | FZ_LG_CRC;
	s.ctl->dev = 0;
	s.ctl->meta_block = cpu_to_le32(U32_MAX / RAWKV_META_PER_BLOCK);
	fz_seed_anchor(&s, 7, 4095, 1, 2, U32_MAX);
	fz_seed_me(&s, "huge", U32_MAX - 1, 1, (128 << 20) - 4096, false);
	fz_seed_rec(&s, "huge", U32_MAX - 1, 2, 1, RAWKV_REC_LIVE);
	fz_seed_log(&s, 1, 3, 0, 4096);
	fz_seed_write(dir, "max-geometry", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true, .me_loaded = 1,
			      .lg_ok = true, .rec_live = 1));

	/*
	 * No superblock: the fallback geometry (100 slots of 16 KiB), every
	 * fix-up on, so that random anchors, entries, log blocks and slot
	 * headers with their user metadata get past their checksums.
	 */
	fz_seed_init(&s, 16 << 10, 4 << 20);
	memset(s.sb, 0, sizeof(*s.sb));
	memcpy(s.sb->uuid, fz_uuid, sizeof(s.sb->uuid));
	s.ctl->fix = 0xff & ~(FZ_SB_GEO | FZ_SB_CRC);
	s.ctl->log_fix = FZ_LG_HDR | FZ_LG_SLOT | FZ_LG_CRC;
	s.ctl->shift = 1;
	s.ctl->count = cpu_to_le32(100);
	rawkv_geo_set(&s.g, 16 << 10, 100);
	rawkv_geo_set_uuid(&s.g, fz_uuid);
	fz_seed_anchor(&s, 0, 77, 3, 4, 101);
	fz_seed_me(&s, "fallback", 99, 1, 12288, false);
	me = fz_seed_me_at(&s, 98);
	me->gen = cpu_to_le64(2);
	fz_seed_rec(&s, "fallback", 99 + 100, 3, 0, RAWKV_REC_LIVE);
	fz_seed_log(&s, 0, 0, 5, 0);
	s.lh->nrec = cpu_to_le32(1 + 127);
	fz_seed_slot(&s, 99 + 100, "fallback", 8, 3, 0);
	fz_seed_slot_meta(&s, (const u8 *)"fallback", 8);
	fz_seed_write(dir, "no-sb-fixups", &s,
		      FZ_WANT(.an_ok = true, .me_loaded = 2, .lg_ok = true,
			      .rec_live = 1, .sl_ok = true, .sl_use = 1,
			      .sl_meta = 8));

	/*
	 * An anchor in the wrong area, a log block of another uuid, and a
	 * slot header of slot 2 read from slot 3.
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_anchor(&s, 5, 0, 1, 2, 0);
	s.ctl->area = 0;
	fz_seed_rec(&s, "x", 0, 1, 0, RAWKV_REC_LIVE);
	fz_seed_log(&s, 1, 2, 0, 1);
	s.lh->uuid[0] ^= 1;
	s.lh->crc = cpu_to_le32(rawkv_log_block_crc(s.lh));
	fz_seed_slot(&s, 2, "x", 1, 1, 0);
	s.ctl->slot = cpu_to_le32(3);
	fz_seed_write(dir, "wrong-area-uuid-slot", &s, FZ_WANT(.sb_ok = true));

	/*
	 * Fields out of range behind valid checksums: a superblock of zero
	 * slots, an anchor with flags, a log block of more blocks than the
	 * log; then a log offset off the layout, an anchor tail past the log,
	 * a log block with next_gen 0. The fallback geometry (100 slots of
	 * 8 KiB, a log of 64 blocks) judges the rest.
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	s.ctl->count = cpu_to_le32(100);
	s.sb->slot_count = 0;
	s.sb->crc = cpu_to_le32(rawkv_crc_self(s.sb,
					       offsetof(struct rawkv_sb, crc)));
	fz_seed_anchor(&s, 2, 0, 1, 2, 0);
	s.an->flags = cpu_to_le32(1);
	s.an->crc = cpu_to_le32(rawkv_crc_self(s.an,
					       offsetof(struct rawkv_anchor, crc)));
	fz_seed_log(&s, 1, 2, 0, 65);
	fz_seed_write(dir, "fields-out-of-range-1", &s, FZ_WANT(.sb_ok = false));

	fz_seed_init(&s, 8 << 10, 64 << 20);
	s.ctl->count = cpu_to_le32(100);
	s.sb->log_off = cpu_to_le64(4 * RAWKV_BLOCK_SIZE);
	s.sb->crc = cpu_to_le32(rawkv_crc_self(s.sb,
					       offsetof(struct rawkv_sb, crc)));
	fz_seed_anchor(&s, 2, 64, 1, 2, 0);
	fz_seed_log(&s, 1, 0, 0, 1);
	fz_seed_write(dir, "fields-out-of-range-2", &s, FZ_WANT(.sb_ok = false));

	/*
	 * A uuid starting with ff ff ff ff cancels crc32c's initial ~0: the
	 * uuid's crc is 0, and so is the crc of an entry of slot 0 whose
	 * fields are all zero. Encoded, it is the all-zero entry of a free
	 * slot, in any slot (found by the fuzzer in the round trips of the
	 * zero records of an empty log block).
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	memset(s.buf, 0, sizeof(s.buf));
	s.ctl->count = cpu_to_le32(2);
	memset(s.sb->uuid, 0xff, 4);
	s.len = FZ_ME_OFF;
	fz_seed_write(dir, "uuid-zeroes-crc", &s, FZ_WANT(.sb_ok = false));

	/* A log block whose checksum does not match: no record decoded. */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_anchor(&s, 2, 0, 1, 2, 0);
	fz_seed_rec(&s, "y", 0, 1, 0, RAWKV_REC_LIVE);
	fz_seed_log(&s, 1, 2, 0, 1);
	((u8 *)(s.lh + 1))[8] ^= 1;
	fz_seed_write(dir, "log-crc", &s,
		      FZ_WANT(.sb_ok = true, .an_ok = true));

	return fz_failed;
}
#endif /* RAWKV_FUZZ_GEN */
