// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: libFuzzer target for kmod/rawkv_decode.c, the decoding of
 * everything rawkv reads from a device.
 *
 * An input is a structured device image (little-endian, a short input
 * reads as zero padded):
 *
 *	0	struct fz_ctl: fix-up flags, a fallback geometry, the device
 *		size, the checkpoint area and the slot to decode
 *	16	struct rawkv_sb
 *	112	struct rawkv_ckpt_hdr
 *	200	struct rawkv_slot_hdr
 *	512	the checkpoint payload: the rest of the input
 *
 * One run goes down the recovery path of kmod/checkpoint.c:
 *
 *  1. rawkv_decode_sb() as rawkv_read_super() calls it. A valid superblock
 *     gives the geometry for the rest; otherwise rawkv_geo_set() of the
 *     fallback slot size and count in fz_ctl does (every geometry the
 *     decoders may meet, so slot_count up to U32_MAX).
 *  2. rawkv_decode_ckpt_hdr(), then, for a valid header, the entry loop of
 *     rawkv_load_ckpt(): payload checksum, rawkv_decode_ckpt_entry() until
 *     it stops, a slot taken twice dropped (entries may share a key
 *     fingerprint: distinct keys can collide).
 *  3. rawkv_decode_slot_hdr(), then what rawkv_check_slot_hdr() does for a
 *     slot in use and rawkv_scan_sync() for a free one, with the key
 *     fingerprints computed as rawkv_fp() does (siphash keyed by the uuid).
 *
 * The fz_ctl flags fix fields of the copies before decoding (the
 * checksums, the region offsets, the layout a checkpoint was written for,
 * the payload length) so that random bytes get past the checksums to the
 * checks behind them.
 *
 * Every result is checked: a decoder must accept exactly what the format
 * (kmod/rawkv_format.h, version 2) allows, as re-derived here; *off only
 * grows, by exactly one 24-byte entry, never beyond the payload; a decoded
 * entry's fields are the bytes it was decoded from (a fingerprint, no key),
 * and it is -ERANGE exactly when its slot is not below slot_count or its
 * length exceeds value_max. A violation abort()s, which the fuzzer
 * reports. Each structure is decoded from a heap buffer of exactly its
 * size (the payload of exactly payload_len bytes), so AddressSanitizer
 * catches any read past it; the kernel hands the decoders whole 4 KiB
 * blocks.
 *
 * Built with -DRAWKV_FUZZ_GEN instead of -fsanitize=fuzzer, this file is
 * the seed corpus generator: gen-corpus DIR writes the seeds and runs each
 * through the target, checking it reaches what it was made for.
 */
#include <stdio.h>
#include <stdlib.h>

#include "rawkv_decode.h"

struct fz_ctl {
	__u8 flags;
	__u8 shift;	/* fallback slot size: RAWKV_SLOT_SIZE_MIN << (shift % 15) */
	__u8 area;	/* bit 0: the checkpoint area the header was read from */
	__u8 pad;
	__le32 count;	/* fallback slot count; 0 means 1 */
	__le32 slot;	/* the slot the header was read from */
	__le32 dev;	/* device size in 4 KiB blocks, or see FZ_SB_GEO */
};

/* sb: the offsets of its slot size and count; dev a signed delta to its end */
#define FZ_SB_GEO	0x01
#define FZ_SB_CRC	0x02	/* sb: fix the crc */
#define FZ_CK_LAYOUT	0x04	/* ckpt: uuid, slot size and count of the geometry */
#define FZ_CK_LEN	0x08	/* ckpt: payload_len = the payload bytes given */
#define FZ_CK_PCRC	0x10	/* ckpt: fix payload_crc */
#define FZ_CK_CRC	0x20	/* ckpt: fix the crc */
#define FZ_SL_FIX	0x40	/* slot: uuid of the geometry, slot modulo slot_count */
#define FZ_SL_CRC	0x80	/* slot: fix the crc */

#define FZ_SB_OFF	sizeof(struct fz_ctl)
#define FZ_CK_OFF	(FZ_SB_OFF + sizeof(struct rawkv_sb))
#define FZ_SL_OFF	(FZ_CK_OFF + sizeof(struct rawkv_ckpt_hdr))
#define FZ_PL_OFF	(FZ_SL_OFF + sizeof(struct rawkv_slot_hdr))

_Static_assert(sizeof(struct fz_ctl) == 16, "fz_ctl layout");
_Static_assert(FZ_PL_OFF == 512, "input layout");

/* A checkpoint entry as rawkv_format.h documents it: fp, gen, slot, len. */
#define FZ_ENTRY_BYTES		24
_Static_assert(sizeof(struct rawkv_ckpt_entry) == FZ_ENTRY_BYTES &&
	       RAWKV_CKPT_ENTRY_MAX == FZ_ENTRY_BYTES &&
	       offsetof(struct rawkv_ckpt_entry, fp) == 0 &&
	       offsetof(struct rawkv_ckpt_entry, gen) == 8 &&
	       offsetof(struct rawkv_ckpt_entry, slot) == 16 &&
	       offsetof(struct rawkv_ckpt_entry, value_len) == 20,
	       "checkpoint entry layout");

/* A payload_len beyond the input reads zeros up to this, as on a device. */
#define FZ_PAYLOAD_MAX		(64U << 10)
/* Slots in use as a bitmap, as the kernel keeps them, up to this count. */
#define FZ_BITMAP_SLOTS		(1U << 20)
#define FZ_LONG_BITS		(8 * sizeof(unsigned long))

/* What the last run reached, for the generator's self-check. */
struct fz_result {
	bool sb_ok;		/* superblock valid: its geometry was used */
	bool ck_ok;		/* checkpoint header valid */
	bool ck_loaded;		/* payload checksum verified, entries walked */
	u64 entries;		/* entries counted, as rawkv_load_ckpt() does */
	u64 loaded;		/* of which loaded */
	u64 dropped;		/* of which dropped (range, slot twice) */
	int end;		/* last rawkv_decode_ckpt_entry() result */
	bool sl_ok;		/* slot header valid */
	int sl_use;		/* 1: matched its entry, -1: did not, 2: adopted,
				 * 3: adopted unless a newer entry holds its key */
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

/* The checksum as writers compute it: over the struct with its crc zero. */
static u32 fz_crc_of(const void *s, size_t len, size_t crc_off)
{
	u8 copy[512];

	FZ_CHECK(len <= sizeof(copy) && crc_off + 4 == len);
	memcpy(copy, s, len);
	memset(copy + crc_off, 0, 4);
	return crc32c(~0U, copy, len);
}

#define FZ_CRC_OF(s) fz_crc_of(s, sizeof(*(s)), offsetof(__typeof__(*(s)), crc))
#define FZ_CRC_OK(s) (FZ_CRC_OF(s) == le32_to_cpu((s)->crc))
#define FZ_CRC_FIX(s) ((s)->crc = cpu_to_le32(FZ_CRC_OF(s)))

static bool fz_slot_size_ok(u64 slot_size)
{
	return slot_size >= RAWKV_SLOT_SIZE_MIN &&
	       slot_size <= RAWKV_SLOT_SIZE_MAX &&
	       !(slot_size & (slot_size - 1));
}

/* The layout rawkv_format.h describes, derived here again. */
struct fz_layout {
	u64 ckpt_off[2], ckpt_size, data_off, end;
};

static void fz_layout(struct fz_layout *l, u64 slot_size, u64 slot_count)
{
	u64 align = slot_size < RAWKV_DATA_ALIGN ? slot_size : RAWKV_DATA_ALIGN;
	u64 entries = slot_count * FZ_ENTRY_BYTES;

	l->ckpt_size = RAWKV_BLOCK_SIZE +
		       (entries + RAWKV_BLOCK_SIZE - 1) / RAWKV_BLOCK_SIZE *
		       RAWKV_BLOCK_SIZE;
	l->ckpt_off[0] = RAWKV_BLOCK_SIZE;
	l->ckpt_off[1] = RAWKV_BLOCK_SIZE + l->ckpt_size;
	l->data_off = (l->ckpt_off[1] + l->ckpt_size + align - 1) / align * align;
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
	FZ_CHECK(g->ckpt_off[0] >= RAWKV_BLOCK_SIZE);
	FZ_CHECK(g->ckpt_size % RAWKV_BLOCK_SIZE == 0);
	FZ_CHECK(g->ckpt_size - RAWKV_BLOCK_SIZE >=
		 (u64)g->slot_count * FZ_ENTRY_BYTES);
	FZ_CHECK(g->ckpt_off[0] % RAWKV_BLOCK_SIZE == 0);
	FZ_CHECK(g->ckpt_off[1] >= g->ckpt_off[0] + g->ckpt_size);
	FZ_CHECK(g->ckpt_off[1] % RAWKV_BLOCK_SIZE == 0);
	FZ_CHECK(g->data_off >= g->ckpt_off[1] + g->ckpt_size);
	FZ_CHECK(g->data_off % RAWKV_BLOCK_SIZE == 0);
	FZ_CHECK(g->data_off % g->slot_size == 0 ||
		 g->data_off % RAWKV_DATA_ALIGN == 0);
	FZ_CHECK(!__builtin_mul_overflow((u64)g->slot_count, g->slot_size,
					 &end) &&
		 !__builtin_add_overflow(end, g->data_off, &end));
	FZ_CHECK(rawkv_geo_end(g) == end);
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
	return le64_to_cpu(sb->ckpt_off[0]) == l.ckpt_off[0] &&
	       le64_to_cpu(sb->ckpt_off[1]) == l.ckpt_off[1] &&
	       le64_to_cpu(sb->ckpt_size) == l.ckpt_size &&
	       le64_to_cpu(sb->data_off) == l.data_off && l.end <= dev;
}

static void fz_check_sb(const struct rawkv_geo *g, const struct rawkv_sb *sb,
			u64 dev)
{
	fz_check_geo(g);
	FZ_CHECK(g->device_bytes == dev);
	FZ_CHECK(g->slot_size == le64_to_cpu(sb->slot_size));
	FZ_CHECK(g->slot_count == le64_to_cpu(sb->slot_count));
	FZ_CHECK(g->ckpt_off[0] == le64_to_cpu(sb->ckpt_off[0]));
	FZ_CHECK(g->ckpt_off[1] == le64_to_cpu(sb->ckpt_off[1]));
	FZ_CHECK(g->ckpt_size == le64_to_cpu(sb->ckpt_size));
	FZ_CHECK(g->data_off == le64_to_cpu(sb->data_off));
	FZ_CHECK(rawkv_geo_end(g) <= dev);
	FZ_CHECK(!memcmp(g->uuid, sb->uuid, sizeof(g->uuid)));
}

/* Does the format allow this checkpoint header in @area of @g? */
static bool fz_ckpt_hdr_ok(const struct rawkv_geo *g,
			   const struct rawkv_ckpt_hdr *h, int area)
{
	u64 seq = le64_to_cpu(h->seq);

	return le64_to_cpu(h->magic) == RAWKV_CKPT_MAGIC && FZ_CRC_OK(h) &&
	       !memcmp(h->uuid, g->uuid, sizeof(h->uuid)) &&
	       le64_to_cpu(h->slot_size) == g->slot_size &&
	       le64_to_cpu(h->slot_count) == g->slot_count &&
	       seq && seq % 2 == (u64)area &&
	       le64_to_cpu(h->payload_len) <= g->ckpt_size - RAWKV_BLOCK_SIZE &&
	       le64_to_cpu(h->entry_count) <= g->slot_count &&
	       le64_to_cpu(h->scan_gen) <= le64_to_cpu(h->next_gen);
}

static void fz_check_ckpt_hdr(const struct rawkv_geo *g,
			      const struct rawkv_ckpt_hdr *h,
			      const struct rawkv_ckpt_info *ci)
{
	FZ_CHECK(ci->seq == le64_to_cpu(h->seq));
	FZ_CHECK(ci->payload_len == le64_to_cpu(h->payload_len));
	FZ_CHECK(ci->entry_count == le64_to_cpu(h->entry_count));
	FZ_CHECK(ci->next_gen == le64_to_cpu(h->next_gen));
	FZ_CHECK(ci->scan_gen == le64_to_cpu(h->scan_gen));
	FZ_CHECK(ci->payload_crc == le32_to_cpu(h->payload_crc));
	FZ_CHECK(ci->payload_len <= g->ckpt_size - RAWKV_BLOCK_SIZE);
	FZ_CHECK(ci->entry_count <= g->slot_count);
	FZ_CHECK(ci->scan_gen <= ci->next_gen);
}

/* Does the format allow the header of @slot? */
static bool fz_slot_hdr_ok(const struct rawkv_geo *g,
			   const struct rawkv_slot_hdr *h, u32 slot)
{
	unsigned int key_len = le16_to_cpu(h->key_len);

	return le64_to_cpu(h->magic) == RAWKV_SLOT_MAGIC && FZ_CRC_OK(h) &&
	       !memcmp(h->uuid, g->uuid, sizeof(h->uuid)) &&
	       le32_to_cpu(h->slot) == slot &&
	       key_len >= 1 && key_len <= RAWKV_KEY_LEN_MAX &&
	       le64_to_cpu(h->value_len) <= g->value_max &&
	       !(le16_to_cpu(h->flags) & ~RAWKV_SLOT_SYNC);
}

static void fz_check_slot_hdr(const struct rawkv_geo *g,
			      const struct rawkv_slot_hdr *h, u32 slot,
			      const struct rawkv_rec *r)
{
	FZ_CHECK(r->key == h->key);
	FZ_CHECK(r->key_len >= 1 && r->key_len <= RAWKV_KEY_LEN_MAX);
	FZ_CHECK(r->key_len == le16_to_cpu(h->key_len));
	FZ_CHECK(r->fp == 0);
	FZ_CHECK(r->slot == slot && r->slot == le32_to_cpu(h->slot));
	FZ_CHECK(r->flags == le16_to_cpu(h->flags));
	FZ_CHECK(!(r->flags & ~RAWKV_SLOT_SYNC));
	FZ_CHECK(r->gen == le64_to_cpu(h->gen));
	FZ_CHECK(r->value_len == le64_to_cpu(h->value_len));
	FZ_CHECK(r->value_len <= g->value_max);
	FZ_CHECK(r->value_crc == le32_to_cpu(h->value_crc));
}

/*
 * What rawkv_decode_ckpt_entry() must return for the entry at @off, per
 * the comment above it and rawkv_format.h.
 */
static int fz_entry_want(const struct rawkv_geo *g, const u8 *p, u64 len,
			 u64 off)
{
	const struct rawkv_ckpt_entry *ce;

	if (off >= len)
		return 0;
	if (len - off < FZ_ENTRY_BYTES)
		return -EINVAL;
	ce = (const void *)(p + off);
	if (le32_to_cpu(ce->slot) >= g->slot_count ||
	    le32_to_cpu(ce->value_len) > g->value_max)
		return -ERANGE;
	return 1;
}

static void fz_check_entry(const struct rawkv_geo *g, const u8 *p, u64 len,
			   u64 prev, u64 off, int ret,
			   const struct rawkv_rec *r)
{
	const struct rawkv_ckpt_entry *ce;

	FZ_CHECK(prev <= len);
	FZ_CHECK(ret == fz_entry_want(g, p, len, prev));
	FZ_CHECK(off >= prev && off <= len);
	if (ret == 0 || ret == -EINVAL) {
		FZ_CHECK(off == prev);
		return;
	}
	ce = (const void *)(p + prev);
	FZ_CHECK(off - prev == FZ_ENTRY_BYTES);
	FZ_CHECK(off % FZ_ENTRY_BYTES == 0);
	FZ_CHECK(!r->key && !r->key_len);
	FZ_CHECK(r->fp == le64_to_cpu(ce->fp));
	FZ_CHECK(r->slot == le32_to_cpu(ce->slot));
	FZ_CHECK(r->flags == 0);
	FZ_CHECK(r->gen == le64_to_cpu(ce->gen));
	FZ_CHECK(r->value_len == le32_to_cpu(ce->value_len));
	FZ_CHECK(r->value_crc == 0);
	if (ret == 1)
		FZ_CHECK(r->slot < g->slot_count &&
			 r->value_len <= g->value_max);
	else
		FZ_CHECK(ret == -ERANGE);
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
 * The table recovery builds: the entries of the slots in use, found by
 * slot through a hash (the kernel indexes its per-slot array), and a
 * bitmap of those slots, as in rawkv_recover(), for geometries small
 * enough.
 */
struct fz_ent {
	u64 fp;
	u32 slot;
	u64 gen, value_len;
};

struct fz_table {
	struct fz_ent *ents;
	u32 nr, cap, mask;
	u32 *by_slot;		/* index + 1 into ents, 0: empty */
	unsigned long *used;	/* when slot_count <= FZ_BITMAP_SLOTS */
};

static u32 fz_hash(const u8 *p, unsigned int len)
{
	u32 h = 2166136261U;

	while (len--)
		h = (h ^ *p++) * 16777619U;
	return h;
}

static void fz_table_init(struct fz_table *t, u32 slot_count, u64 max_entries)
{
	u32 size = 4;

	t->cap = max_entries + 1;
	while (size < 2 * t->cap)
		size *= 2;
	t->nr = 0;
	t->mask = size - 1;
	t->ents = fz_alloc(t->cap * sizeof(*t->ents));
	t->by_slot = fz_alloc(size * sizeof(*t->by_slot));
	t->used = NULL;
	if (slot_count <= FZ_BITMAP_SLOTS)
		t->used = fz_alloc((slot_count + FZ_LONG_BITS - 1) /
				   FZ_LONG_BITS * sizeof(long));
}

static void fz_table_free(struct fz_table *t)
{
	free(t->ents);
	free(t->by_slot);
	free(t->used);
}

static u32 *fz_slot_pos(struct fz_table *t, u32 slot)
{
	u32 i = fz_hash((const u8 *)&slot, sizeof(slot)) & t->mask;

	while (t->by_slot[i] && t->ents[t->by_slot[i] - 1].slot != slot)
		i = (i + 1) & t->mask;
	return &t->by_slot[i];
}

/* The entry of @slot, or NULL when the slot is not in use. */
static struct fz_ent *fz_ent_of_slot(struct fz_table *t, u32 slot)
{
	u32 pos = *fz_slot_pos(t, slot);

	if (t->used)
		FZ_CHECK(!!pos == !!(t->used[slot / FZ_LONG_BITS] &
				     (1UL << (slot % FZ_LONG_BITS))));
	return pos ? &t->ents[pos - 1] : NULL;
}

/* rawkv_table_load() of @r, its slot marked used. */
static void fz_table_load(struct fz_table *t, const struct rawkv_rec *r)
{
	u32 *pos = fz_slot_pos(t, r->slot);
	struct fz_ent *e;

	FZ_CHECK(!*pos);
	FZ_CHECK(t->nr < t->cap && t->nr + 1 < t->mask);
	e = &t->ents[t->nr++];
	*pos = t->nr;
	e->fp = r->fp;
	e->slot = r->slot;
	e->gen = r->gen;
	e->value_len = r->value_len;
	if (t->used)
		t->used[r->slot / FZ_LONG_BITS] |=
			1UL << (r->slot % FZ_LONG_BITS);
}

/* The entry loop of rawkv_load_ckpt(), on a payload that verified. */
static void fz_load_entries(const struct rawkv_geo *g, const u8 *buf, u64 len,
			    struct fz_table *t)
{
	struct rawkv_rec r;
	u64 off = 0, prev, count = 0, dropped = 0;
	int ret;

	for (;;) {
		prev = off;
		memset(&r, 0xa5, sizeof(r));
		ret = rawkv_decode_ckpt_entry(g, buf, len, &off, &r);
		fz_check_entry(g, buf, len, prev, off, ret, &r);
		fz_last.end = ret;
		if (!ret)
			break;
		if (ret < 0 && ret != -ERANGE)
			break;
		count++;
		FZ_CHECK(count <= len / FZ_ENTRY_BYTES);
		if (ret < 0 || fz_ent_of_slot(t, r.slot)) {
			dropped++;
			continue;
		}
		fz_table_load(t, &r);
	}
	FZ_CHECK(off <= len);
	FZ_CHECK(t->nr + dropped == count);
	FZ_CHECK(t->nr <= g->slot_count);
	fz_last.entries = count;
	fz_last.loaded = t->nr;
	fz_last.dropped = dropped;
}

/*
 * rawkv_check_slot_hdr() for a slot in use (does the slot hold its entry's
 * value?); rawkv_scan_sync() for a free one when recovery scans.
 */
static void fz_use_slot_hdr(const struct rawkv_geo *g, struct fz_table *t,
			    const struct rawkv_rec *r, bool scan, u64 scan_gen)
{
	struct fz_ent *e = fz_ent_of_slot(t, r->slot);
	u64 fp = fz_fp(g, r->key, r->key_len);
	u32 i;

	if (e) {
		fz_last.sl_use = r->gen == e->gen &&
				 r->value_len == e->value_len &&
				 fp == e->fp ? 1 : -1;
		return;
	}
	if (!scan || !(r->flags & RAWKV_SLOT_SYNC) || r->gen < scan_gen)
		return;
	/*
	 * rawkv_table_adopt() refuses the value (-EEXIST) only when a newer
	 * entry with its fingerprint holds its key, which only that entry's
	 * slot header, not in the input, tells.
	 */
	fz_last.sl_use = 2;
	for (i = 0; i < t->nr; i++)
		if (t->ents[i].fp == fp && t->ents[i].gen > r->gen)
			fz_last.sl_use = 3;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	const struct fz_ctl *ctl = fz_take(data, size, 0, sizeof(*ctl));
	struct rawkv_sb *sb = fz_take(data, size, FZ_SB_OFF, sizeof(*sb));
	struct rawkv_ckpt_hdr *ck = fz_take(data, size, FZ_CK_OFF, sizeof(*ck));
	struct rawkv_slot_hdr *sl = fz_take(data, size, FZ_SL_OFF, sizeof(*sl));
	size_t avail = size > FZ_PL_OFF ? size - FZ_PL_OFF : 0;
	u64 slot_size, slot_count, dev, plen, scan_gen = 1;
	struct rawkv_ckpt_info ci;
	struct fz_table t;
	struct rawkv_geo g;
	struct rawkv_rec r;
	const char *err;
	u8 *payload = NULL;
	int area = ctl->area & 1;
	bool ok;
	u32 slot;

	memset(&fz_last, 0, sizeof(fz_last));

	/* 1. The superblock, on a device of dev bytes. */
	slot_size = le64_to_cpu(sb->slot_size);
	slot_count = le64_to_cpu(sb->slot_count);
	dev = (u64)le32_to_cpu(ctl->dev) << RAWKV_BLOCK_SHIFT;
	if ((ctl->flags & FZ_SB_GEO) && fz_slot_size_ok(slot_size) &&
	    slot_count && slot_count <= U32_MAX) {
		rawkv_geo_set(&g, slot_size, slot_count);
		sb->ckpt_off[0] = cpu_to_le64(g.ckpt_off[0]);
		sb->ckpt_off[1] = cpu_to_le64(g.ckpt_off[1]);
		sb->ckpt_size = cpu_to_le64(g.ckpt_size);
		sb->data_off = cpu_to_le64(g.data_off);
		dev = rawkv_geo_end(&g) + (int32_t)le32_to_cpu(ctl->dev);
	}
	if (ctl->flags & FZ_SB_CRC)
		FZ_CRC_FIX(sb);
	memset(&g, 0xa5, sizeof(g));
	g.device_bytes = dev;
	ok = fz_sb_ok(sb, dev);
	err = rawkv_decode_sb(&g, sb);
	FZ_CHECK(ok == !err);
	if (!err) {
		fz_check_sb(&g, sb, dev);
		fz_last.sb_ok = true;
	} else {
		slot_count = le32_to_cpu(ctl->count);
		rawkv_geo_set(&g, (u64)RAWKV_SLOT_SIZE_MIN << (ctl->shift % 15),
			      slot_count ? slot_count : 1);
		memcpy(g.uuid, sb->uuid, sizeof(g.uuid));
		g.device_bytes = rawkv_geo_end(&g);
		fz_check_geo(&g);
	}

	/* 2. The checkpoint header of @area, then its payload. */
	if (ctl->flags & FZ_CK_LAYOUT) {
		memcpy(ck->uuid, g.uuid, sizeof(ck->uuid));
		ck->slot_size = cpu_to_le64(g.slot_size);
		ck->slot_count = cpu_to_le64(g.slot_count);
	}
	if (ctl->flags & FZ_CK_LEN)
		ck->payload_len = cpu_to_le64(avail);
	plen = le64_to_cpu(ck->payload_len);
	if (plen && plen <= FZ_PAYLOAD_MAX) {
		payload = fz_take(data, size, FZ_PL_OFF, plen);
		if (ctl->flags & FZ_CK_PCRC)
			ck->payload_crc = cpu_to_le32(rawkv_crc(payload, plen));
	}
	if (ctl->flags & FZ_CK_CRC)
		FZ_CRC_FIX(ck);
	memset(&ci, 0xa5, sizeof(ci));
	ok = fz_ckpt_hdr_ok(&g, ck, area);
	err = rawkv_decode_ckpt_hdr(&g, ck, area, &ci);
	FZ_CHECK(ok == !err);
	fz_table_init(&t, g.slot_count,
		      (plen <= FZ_PAYLOAD_MAX ? plen : 0) / FZ_ENTRY_BYTES + 1);
	if (!err) {
		fz_check_ckpt_hdr(&g, ck, &ci);
		fz_last.ck_ok = true;
		/* rawkv_load_ckpt(): no buffer for an empty payload */
		if (plen <= FZ_PAYLOAD_MAX &&
		    (!plen || rawkv_crc(payload, plen) == ci.payload_crc)) {
			fz_load_entries(&g, payload, plen, &t);
			fz_last.ck_loaded = true;
			scan_gen = ci.scan_gen;
		}
	}

	/* 3. The header of one slot. */
	slot = le32_to_cpu(ctl->slot);
	if (ctl->flags & FZ_SL_FIX) {
		slot %= g.slot_count;
		sl->slot = cpu_to_le32(slot);
		memcpy(sl->uuid, g.uuid, sizeof(sl->uuid));
	}
	if (ctl->flags & FZ_SL_CRC)
		FZ_CRC_FIX(sl);
	memset(&r, 0xa5, sizeof(r));
	ok = fz_slot_hdr_ok(&g, sl, slot);
	err = rawkv_decode_slot_hdr(&g, sl, slot, &r);
	FZ_CHECK(ok == !err);
	if (!err) {
		fz_check_slot_hdr(&g, sl, slot, &r);
		fz_last.sl_ok = true;
		/*
		 * Only rawkv_scan_sync() and reads of a slot in use get here;
		 * rawkv_recover() scans after a checkpoint it loaded or when
		 * there is none (a header with a magic that did not load is a
		 * damaged one).
		 */
		if (slot < g.slot_count)
			fz_use_slot_hdr(&g, &t, &r,
					fz_last.ck_loaded || !ck->magic,
					scan_gen);
	}

	fz_table_free(&t);
	free(payload);
	free(sl);
	free(ck);
	free(sb);
	free((void *)ctl);
	return 0;
}

#ifdef RAWKV_FUZZ_GEN
/*
 * The seed corpus: valid images of a few geometries and the edge cases
 * the decoders must refuse, each checked against what it should reach.
 */
#include <sys/stat.h>

struct fz_seed {
	u8 buf[FZ_PL_OFF + 8192];
	size_t len;
	struct fz_ctl *ctl;
	struct rawkv_sb *sb;
	struct rawkv_ckpt_hdr *ck;
	struct rawkv_slot_hdr *sl;
	u8 *pl;
	struct rawkv_geo g;
};

static const u8 fz_uuid[16] = "rawkv-fuzz-seed";

/* A device of @dev bytes formatted as rawkv_format() does. */
static void fz_seed_init(struct fz_seed *s, u64 slot_size, u64 dev)
{
	u64 n = dev / (slot_size + 2 * FZ_ENTRY_BYTES);

	memset(s, 0, sizeof(*s));
	s->ctl = (void *)s->buf;
	s->sb = (void *)(s->buf + FZ_SB_OFF);
	s->ck = (void *)(s->buf + FZ_CK_OFF);
	s->sl = (void *)(s->buf + FZ_SL_OFF);
	s->pl = s->buf + FZ_PL_OFF;
	s->len = FZ_PL_OFF;

	if (n > U32_MAX)
		n = U32_MAX;
	for (; n; n--) {
		rawkv_geo_set(&s->g, slot_size, n);
		if (rawkv_geo_end(&s->g) <= dev)
			break;
	}
	if (!n)
		abort();
	memcpy(s->g.uuid, fz_uuid, sizeof(s->g.uuid));
	s->g.device_bytes = dev;
	s->ctl->dev = cpu_to_le32(dev >> RAWKV_BLOCK_SHIFT);
	s->sb->magic = cpu_to_le64(RAWKV_SB_MAGIC);
	s->sb->version = cpu_to_le32(RAWKV_FORMAT_VERSION);
	s->sb->block_size = cpu_to_le32(RAWKV_BLOCK_SIZE);
	memcpy(s->sb->uuid, s->g.uuid, sizeof(s->sb->uuid));
	s->sb->slot_size = cpu_to_le64(s->g.slot_size);
	s->sb->slot_count = cpu_to_le64(s->g.slot_count);
	s->sb->ckpt_off[0] = cpu_to_le64(s->g.ckpt_off[0]);
	s->sb->ckpt_off[1] = cpu_to_le64(s->g.ckpt_off[1]);
	s->sb->ckpt_size = cpu_to_le64(s->g.ckpt_size);
	s->sb->data_off = cpu_to_le64(s->g.data_off);
	s->sb->device_bytes = cpu_to_le64(dev);
	s->sb->crc = cpu_to_le32(rawkv_crc(s->sb, sizeof(*s->sb)));
}

/* Append the entry of @key as rawkv_table_serialize() does. */
static void fz_seed_entry(struct fz_seed *s, const char *key,
			  unsigned int key_len, u32 slot, u64 gen, u32 vlen)
{
	struct rawkv_ckpt_entry *ce = (void *)(s->buf + s->len);

	if (s->len + sizeof(*ce) > sizeof(s->buf))
		abort();
	ce->fp = cpu_to_le64(fz_fp(&s->g, (const u8 *)key, key_len));
	ce->gen = cpu_to_le64(gen);
	ce->slot = cpu_to_le32(slot);
	ce->value_len = cpu_to_le32(vlen);
	s->len += sizeof(*ce);
}

/* The header committing the payload, as rawkv_checkpoint() writes it. */
static void fz_seed_ckpt(struct fz_seed *s, u64 seq, u64 count, u64 next_gen,
			 u64 scan_gen)
{
	struct rawkv_ckpt_hdr *h = s->ck;
	size_t len = s->len - FZ_PL_OFF;

	s->ctl->area = seq & 1;
	memset(h, 0, sizeof(*h));
	h->magic = cpu_to_le64(RAWKV_CKPT_MAGIC);
	h->seq = cpu_to_le64(seq);
	memcpy(h->uuid, s->g.uuid, sizeof(h->uuid));
	h->slot_size = cpu_to_le64(s->g.slot_size);
	h->slot_count = cpu_to_le64(s->g.slot_count);
	h->payload_len = cpu_to_le64(len);
	h->entry_count = cpu_to_le64(count);
	h->next_gen = cpu_to_le64(next_gen);
	h->scan_gen = cpu_to_le64(scan_gen);
	h->payload_crc = cpu_to_le32(len ? rawkv_crc(s->pl, len) : ~0U);
	h->crc = cpu_to_le32(rawkv_crc(h, sizeof(*h)));
}

/* A slot header as rawkv_fill_slot_hdr() writes it. */
static void fz_seed_slot(struct fz_seed *s, u32 slot, const char *key,
			 unsigned int key_len, u64 gen, u64 vlen, bool sync)
{
	struct rawkv_slot_hdr *h = s->sl;

	s->ctl->slot = cpu_to_le32(slot);
	memset(h, 0, sizeof(*h));
	h->magic = cpu_to_le64(RAWKV_SLOT_MAGIC);
	h->gen = cpu_to_le64(gen);
	h->value_len = cpu_to_le64(vlen);
	h->slot = cpu_to_le32(slot);
	h->value_crc = cpu_to_le32(0x1000 + slot);
	memcpy(h->uuid, s->g.uuid, sizeof(h->uuid));
	h->key_len = cpu_to_le16(key_len);
	h->flags = cpu_to_le16(sync ? RAWKV_SLOT_SYNC : 0);
	memcpy(h->key, key, key_len);
	h->crc = cpu_to_le32(rawkv_crc(h, sizeof(*h)));
}

static int fz_failed;

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
	if (fz_last.sb_ok != want->sb_ok || fz_last.ck_ok != want->ck_ok ||
	    fz_last.ck_loaded != want->ck_loaded ||
	    fz_last.entries != want->entries ||
	    fz_last.loaded != want->loaded ||
	    fz_last.dropped != want->dropped || fz_last.end != want->end ||
	    fz_last.sl_ok != want->sl_ok || fz_last.sl_use != want->sl_use) {
		fprintf(stderr,
			"%s: reached sb %d ckpt %d/%d entries %llu loaded %llu dropped %llu end %d slot %d/%d, not sb %d ckpt %d/%d entries %llu loaded %llu dropped %llu end %d slot %d/%d\n",
			name, fz_last.sb_ok, fz_last.ck_ok, fz_last.ck_loaded,
			(unsigned long long)fz_last.entries,
			(unsigned long long)fz_last.loaded,
			(unsigned long long)fz_last.dropped, fz_last.end,
			fz_last.sl_ok, fz_last.sl_use, want->sb_ok,
			want->ck_ok, want->ck_loaded,
			(unsigned long long)want->entries,
			(unsigned long long)want->loaded,
			(unsigned long long)want->dropped, want->end,
			want->sl_ok, want->sl_use);
		fz_failed = 1;
	}
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

int main(int argc, char **argv)
{
	static const char key255[RAWKV_KEY_LEN_MAX] = "k255";
	struct fz_seed s;
	const char *dir;

	if (argc != 3 || strcmp(argv[1], "gen-corpus")) {
		fprintf(stderr, "usage: %s gen-corpus DIR\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	mkdir(dir, 0755);
	fz_check_siphash();

	/* Freshly formatted 1 GiB, 1 MiB slots: no checkpoint, a sync PUT. */
	fz_seed_init(&s, 1 << 20, 1ULL << 30);
	fz_seed_slot(&s, 3, "k", 1, 1, 100, true);
	fz_seed_write(dir, "fresh-sync-put", &s,
		      FZ_WANT(.sb_ok = true, .sl_ok = true, .sl_use = 2));

	/* 64 MiB, 8 KiB slots: a checkpoint of four keys, one slot read. */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_entry(&s, "a", 1, 0, 1, 0);
	fz_seed_entry(&s, "key-8byt", 8, 5, 2, 4096);
	fz_seed_entry(&s, key255, RAWKV_KEY_LEN_MAX, s.g.slot_count - 1, 3, 1);
	fz_seed_entry(&s, "key-7by", 7, 2, 4, 17);
	fz_seed_ckpt(&s, 7, 4, 5, 5);
	fz_seed_slot(&s, 5, "key-8byt", 8, 2, 4096, false);
	fz_seed_write(dir, "ckpt-4-keys", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 4, .loaded = 4, .sl_ok = true,
			      .sl_use = 1));

	/* The same with a sync PUT after it in a free slot: adopted. */
	fz_seed_slot(&s, 9, "key-7by", 7, 6, 0, true);
	fz_seed_write(dir, "ckpt-then-sync-put", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 4, .loaded = 4, .sl_ok = true,
			      .sl_use = 2));

	/* A slot in use whose header holds another key, same gen and length. */
	fz_seed_slot(&s, 5, "key-8byX", 8, 2, 4096, false);
	fz_seed_write(dir, "slot-holds-other-key", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 4, .loaded = 4, .sl_ok = true,
			      .sl_use = -1));

	/*
	 * A sync PUT in a free slot older than an entry with its fingerprint:
	 * adopted unless that entry's slot header holds the same key.
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_entry(&s, "k", 1, 4, 6, 10);
	fz_seed_ckpt(&s, 9, 1, 7, 5);
	fz_seed_slot(&s, 9, "k", 1, 5, 20, true);
	fz_seed_write(dir, "ckpt-newer-same-fp", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 1, .loaded = 1, .sl_ok = true,
			      .sl_use = 3));

	/*
	 * Entries to drop: a slot out of range, a value too long, a slot
	 * twice; a fingerprint twice loads. Then a truncated entry (16 of its
	 * 24 bytes) that ends the walk.
	 */
	fz_seed_init(&s, 16 << 10, 4 << 20);
	fz_seed_entry(&s, "good", 4, 1, 1, 12288);
	fz_seed_entry(&s, "far", 3, s.g.slot_count, 2, 1);
	fz_seed_entry(&s, "long", 4, 2, 3, 12289);
	fz_seed_entry(&s, "slot-twice", 10, 1, 4, 1);
	fz_seed_entry(&s, "good", 4, 3, 5, 1);
	fz_seed_entry(&s, "cut", 3, 4, 6, 1);
	s.len -= 8;
	fz_seed_ckpt(&s, 2, 5, 7, 7);
	fz_seed_slot(&s, 1, "good", 4, 9, 12288, false);
	fz_seed_write(dir, "ckpt-bad-entries", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 5, .loaded = 2, .dropped = 3,
			      .end = -EINVAL, .sl_ok = true, .sl_use = -1));

	/* The smallest layout: one 8 KiB slot, the device just large enough. */
	fz_seed_init(&s, 8 << 10, 8 * RAWKV_BLOCK_SIZE);
	fz_seed_entry(&s, "only", 4, 0, 1, 4096);
	fz_seed_ckpt(&s, 1, 1, 2, 2);
	fz_seed_slot(&s, 0, "only", 4, 1, 4096, false);
	fz_seed_write(dir, "one-slot", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 1, .loaded = 1, .sl_ok = true,
			      .sl_use = 1));

	/*
	 * A device one block short of that layout: refused, and the fallback
	 * geometry (two slots) is not the checkpoint's.
	 */
	s.ctl->dev = cpu_to_le32(le32_to_cpu(s.ctl->dev) - 1);
	s.ctl->count = cpu_to_le32(2);
	fz_seed_write(dir, "sb-beyond-device", &s, FZ_WANT(.sl_ok = true));

	/* The largest layout: 2^32 - 1 slots of 128 MiB, fix-ups for the rest. */
	fz_seed_init(&s, 128 << 20, 1ULL << 60);
	s.ctl->flags = FZ_SB_GEO | FZ_SB_CRC | FZ_CK_LEN | FZ_CK_PCRC |
		       FZ_CK_CRC;
	s.ctl->dev = 0;
	fz_seed_entry(&s, "huge", 4, U32_MAX - 1, 1, (128 << 20) - 4096);
	fz_seed_ckpt(&s, 3, 1, 2, 2);
	fz_seed_write(dir, "max-geometry", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true, .ck_loaded = true,
			      .entries = 1, .loaded = 1));

	/*
	 * No superblock: the fallback geometry, every fix-up on. The slot
	 * header holds the one key also in the checkpoint, newer: adopted.
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	memset(s.sb, 0, sizeof(*s.sb));
	memcpy(s.sb->uuid, fz_uuid, sizeof(s.sb->uuid));
	s.ctl->flags = 0xff & ~(FZ_SB_GEO | FZ_SB_CRC);
	s.ctl->shift = 1;
	s.ctl->count = cpu_to_le32(100);
	fz_seed_entry(&s, "fallback", 8, 99, 1, 12288);
	fz_seed_ckpt(&s, 4, 1, 3, 2);
	s.ck->slot_count = 0;
	s.ck->crc = 0;
	fz_seed_slot(&s, 7 + 100, "fallback", 8, 2, 0, true);
	fz_seed_write(dir, "no-sb-fixups", &s,
		      FZ_WANT(.ck_ok = true, .ck_loaded = true, .entries = 1,
			      .loaded = 1, .sl_ok = true, .sl_use = 2));

	/*
	 * A checkpoint header in the wrong area, and a slot header of slot 2
	 * read from slot 3.
	 */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_entry(&s, "x", 1, 0, 1, 0);
	fz_seed_ckpt(&s, 5, 1, 2, 2);
	s.ctl->area = 0;
	fz_seed_slot(&s, 2, "x", 1, 1, 0, true);
	s.ctl->slot = cpu_to_le32(3);
	fz_seed_write(dir, "wrong-area-wrong-slot", &s,
		      FZ_WANT(.sb_ok = true));

	/* A payload whose checksum does not match: nothing loaded. */
	fz_seed_init(&s, 8 << 10, 64 << 20);
	fz_seed_entry(&s, "y", 1, 0, 1, 0);
	fz_seed_ckpt(&s, 6, 1, 2, 2);
	s.pl[8] ^= 1;
	fz_seed_write(dir, "payload-crc", &s,
		      FZ_WANT(.sb_ok = true, .ck_ok = true));

	return fz_failed;
}
#endif /* RAWKV_FUZZ_GEN */
