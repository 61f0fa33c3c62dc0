// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: format, superblock, and the checkpoint commit protocol.
 *
 * The table is committed to the device as a checkpoint in one of two
 * areas, A and B. Checkpoint seq goes to area (seq & 1), never to the area
 * holding the checkpoint that is currently valid:
 *
 *   1. write the payload (the entries) into the inactive area;
 *   2. write the header (seq, payload length and crc32c, its own crc32c)
 *      with REQ_PREFLUSH | REQ_FUA: the flush makes the payload and every
 *      value the payload references durable before the header can be,
 *      and FUA makes the header durable before the commit returns.
 *
 * A crash at any point leaves the previous checkpoint intact; recovery
 * takes the valid checkpoint with the highest seq. Only one checkpoint is
 * written at a time (rawkv_dev.ckpt_mutex).
 *
 * A slot whose value was replaced stays out of use (limbo) until a
 * checkpoint that no longer references it commits, so a crash never finds
 * a committed key pointing at a slot that was reused.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/bitmap.h>
#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "rawkv.h"

u32 rawkv_crc(const void *buf, size_t len)
{
	return crc32c(~0U, buf, len);
}

static u64 rawkv_ckpt_area_bytes(u64 slot_count)
{
	return RAWKV_BLOCK_SIZE +
	       round_up(slot_count * RAWKV_CKPT_ENTRY_MAX, RAWKV_BLOCK_SIZE);
}

/* Set the geometry of a device with @slot_count slots of @slot_size bytes. */
static void rawkv_set_geometry(struct rawkv_dev *kd, u64 slot_size,
			       u64 slot_count)
{
	kd->slot_size = slot_size;
	kd->slot_count = slot_count;
	kd->value_max = slot_size - RAWKV_BLOCK_SIZE;
	kd->ckpt_size = rawkv_ckpt_area_bytes(slot_count);
	kd->ckpt_off[0] = RAWKV_BLOCK_SIZE;
	kd->ckpt_off[1] = kd->ckpt_off[0] + kd->ckpt_size;
	kd->data_off = round_up(kd->ckpt_off[1] + kd->ckpt_size,
				min_t(u64, slot_size, RAWKV_DATA_ALIGN));
}

static u64 rawkv_layout_end(struct rawkv_dev *kd)
{
	return kd->data_off + (u64)kd->slot_count * kd->slot_size;
}

/*
 * Write a fresh layout: as many slots as fit, both checkpoint headers
 * zeroed (no checkpoint yet), then the superblock with a flush and FUA.
 */
int rawkv_format(struct rawkv_dev *kd, u64 slot_size)
{
	u64 n = div64_u64(kd->device_bytes, slot_size + 2 * RAWKV_CKPT_ENTRY_MAX);
	struct rawkv_sb *sb;
	struct page *page;
	int ret;

	n = min_t(u64, n, U32_MAX);
	for (; n; n--) {
		rawkv_set_geometry(kd, slot_size, n);
		if (rawkv_layout_end(kd) <= kd->device_bytes)
			break;
	}
	if (!n) {
		rawkv_set_geometry(kd, slot_size, 1);
		pr_err("device too small: %llu bytes, a slot size of %llu needs at least %llu\n",
		       kd->device_bytes, slot_size, rawkv_layout_end(kd));
		return -ENOSPC;
	}
	get_random_bytes(kd->uuid, sizeof(kd->uuid));

	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	ret = rawkv_rw_block(kd, page, kd->ckpt_off[0], REQ_OP_WRITE);
	if (!ret)
		ret = rawkv_rw_block(kd, page, kd->ckpt_off[1], REQ_OP_WRITE);
	if (ret)
		goto out_free_page;

	sb = page_address(page);
	sb->magic = cpu_to_le64(RAWKV_SB_MAGIC);
	sb->version = cpu_to_le32(RAWKV_FORMAT_VERSION);
	sb->block_size = cpu_to_le32(RAWKV_BLOCK_SIZE);
	memcpy(sb->uuid, kd->uuid, sizeof(sb->uuid));
	sb->slot_size = cpu_to_le64(kd->slot_size);
	sb->slot_count = cpu_to_le64(kd->slot_count);
	sb->ckpt_off[0] = cpu_to_le64(kd->ckpt_off[0]);
	sb->ckpt_off[1] = cpu_to_le64(kd->ckpt_off[1]);
	sb->ckpt_size = cpu_to_le64(kd->ckpt_size);
	sb->data_off = cpu_to_le64(kd->data_off);
	sb->device_bytes = cpu_to_le64(kd->device_bytes);
	sb->crc = cpu_to_le32(rawkv_crc(sb, sizeof(*sb)));
	ret = rawkv_rw_block(kd, page, 0,
			     REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA);
	if (!ret)
		pr_info("formatted: %u slots of %llu bytes (values up to %llu bytes)\n",
			kd->slot_count, kd->slot_size, kd->value_max);
out_free_page:
	__free_page(page);
	return ret;
}

/* Check a superblock; return NULL or what is wrong with it. */
static const char *rawkv_check_super(struct rawkv_dev *kd, struct rawkv_sb *sb)
{
	u64 slot_size = le64_to_cpu(sb->slot_size);
	u64 slot_count = le64_to_cpu(sb->slot_count);
	u32 crc = le32_to_cpu(sb->crc);

	if (le64_to_cpu(sb->magic) != RAWKV_SB_MAGIC)
		return "no rawkv superblock";
	sb->crc = 0;
	if (rawkv_crc(sb, sizeof(*sb)) != crc)
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

	rawkv_set_geometry(kd, slot_size, slot_count);
	if (le64_to_cpu(sb->ckpt_off[0]) != kd->ckpt_off[0] ||
	    le64_to_cpu(sb->ckpt_off[1]) != kd->ckpt_off[1] ||
	    le64_to_cpu(sb->ckpt_size) != kd->ckpt_size ||
	    le64_to_cpu(sb->data_off) != kd->data_off)
		return "region offsets do not match the slot geometry";
	if (rawkv_layout_end(kd) > kd->device_bytes)
		return "layout extends beyond the end of the device";
	return NULL;
}

int rawkv_read_super(struct rawkv_dev *kd)
{
	const char *err;
	struct rawkv_sb *sb;
	struct page *page;
	int ret;

	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	ret = rawkv_rw_block(kd, page, 0, REQ_OP_READ);
	if (ret) {
		pr_err("cannot read the superblock: error %d\n", ret);
		goto out_free_page;
	}
	sb = page_address(page);
	err = rawkv_check_super(kd, sb);
	if (err) {
		pr_err("%s; refusing the device. Load with format=1 to create a new rawkv layout (this erases the device)\n",
		       err);
		ret = -EINVAL;
		goto out_free_page;
	}
	memcpy(kd->uuid, sb->uuid, sizeof(kd->uuid));
out_free_page:
	__free_page(page);
	return ret;
}

/* Check a checkpoint header read from @area; return NULL or what is wrong. */
static const char *rawkv_check_ckpt_hdr(struct rawkv_dev *kd,
					struct rawkv_ckpt_hdr *h, int area)
{
	u32 crc = le32_to_cpu(h->crc);

	if (le64_to_cpu(h->magic) != RAWKV_CKPT_MAGIC)
		return "no checkpoint header";
	h->crc = 0;
	if (rawkv_crc(h, sizeof(*h)) != crc)
		return "header checksum mismatch";
	if (memcmp(h->uuid, kd->uuid, sizeof(h->uuid)) ||
	    le64_to_cpu(h->slot_size) != kd->slot_size ||
	    le64_to_cpu(h->slot_count) != kd->slot_count)
		return "written for another layout";
	if ((le64_to_cpu(h->seq) & 1) != area || !le64_to_cpu(h->seq))
		return "sequence number does not belong to this area";
	if (le64_to_cpu(h->payload_len) > kd->ckpt_size - RAWKV_BLOCK_SIZE ||
	    le64_to_cpu(h->entry_count) > kd->slot_count)
		return "payload larger than the area";
	return NULL;
}

/* Read the blocks of a vmalloc'ed buffer from, or write them to, @pos. */
static int rawkv_rw_vmalloc(struct rawkv_dev *kd, void *buf, size_t len,
			    u64 pos, blk_opf_t opf)
{
	unsigned int i, nr = len >> RAWKV_BLOCK_SHIFT;
	struct page **pages;
	struct rawkv_io io;
	int ret;

	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		pages[i] = vmalloc_to_page(buf + ((size_t)i << RAWKV_BLOCK_SHIFT));

	if (op_is_write(opf))
		flush_kernel_vmap_range(buf, len);
	rawkv_io_init(&io, kd);
	rawkv_io_submit(&io, pages, nr, pos, opf);
	ret = rawkv_io_wait(&io);
	if (!op_is_write(opf))
		invalidate_kernel_vmap_range(buf, len);
	kvfree(pages);
	return ret;
}

/*
 * Load the entries of a checkpoint whose payload checksum verifies. Every
 * entry is checked against the geometry and the entries before it; a bad
 * one is dropped and counted. Returns -EBADMSG when the payload is not the
 * one the header commits (then nothing was loaded).
 */
static int rawkv_load_ckpt(struct rawkv_dev *kd, int area,
			   const struct rawkv_ckpt_hdr *h, unsigned long *used)
{
	u64 len = le64_to_cpu(h->payload_len);
	u64 expected = le64_to_cpu(h->entry_count);
	u64 off = 0, count = 0, dropped = 0;
	size_t size = round_up(len, RAWKV_BLOCK_SIZE);
	void *buf;
	int ret;

	if (!len)
		goto out_count;
	buf = vmalloc(size);
	if (!buf)
		return -ENOMEM;
	ret = rawkv_rw_vmalloc(kd, buf, size, kd->ckpt_off[area] +
			       RAWKV_BLOCK_SIZE, REQ_OP_READ);
	if (ret)
		goto out_free_buf;
	ret = -EBADMSG;
	if (rawkv_crc(buf, len) != le32_to_cpu(h->payload_crc))
		goto out_free_buf;

	while (off < len) {
		const struct rawkv_ckpt_entry *ce = buf + off;
		unsigned int klen;
		u64 vlen;
		u32 slot;

		if (len - off < sizeof(*ce))
			break;
		klen = le16_to_cpu(ce->key_len);
		if (!klen || klen > RAWKV_KEY_LEN_MAX ||
		    RAWKV_CKPT_ENTRY_BYTES(klen) > len - off)
			break;
		off += RAWKV_CKPT_ENTRY_BYTES(klen);
		count++;

		slot = le32_to_cpu(ce->slot);
		vlen = le64_to_cpu(ce->value_len);
		if (slot >= kd->slot_count || vlen > kd->value_max ||
		    test_bit(slot, used)) {
			dropped++;
			continue;
		}
		ret = rawkv_table_load(kd, ce->key, klen, slot,
				       le64_to_cpu(ce->gen), vlen,
				       le32_to_cpu(ce->value_crc));
		if (ret == -EEXIST) {
			dropped++;
			continue;
		}
		if (ret)
			goto out_free_buf;
		__set_bit(slot, used);
	}
	ret = 0;
out_free_buf:
	vfree(buf);
	if (ret)
		return ret;
out_count:
	if (off < len || count != expected) {
		pr_warn("checkpoint %llu: %llu entries where %llu were committed; the rest are dropped\n",
			le64_to_cpu(h->seq), count, expected);
		if (expected > count)
			dropped += expected - count;
	}
	if (dropped) {
		pr_warn("checkpoint %llu: dropped %llu invalid entries\n",
			le64_to_cpu(h->seq), dropped);
		atomic64_add(dropped, &kd->stats.load_dropped);
	}
	return 0;
}

/*
 * Rebuild the table from the newest valid checkpoint. A damaged area falls
 * back to the other one; with neither, the store starts empty and keeps its
 * superblock. Only out-of-memory fails the load.
 */
int rawkv_recover(struct rawkv_dev *kd)
{
	static const char area_name[] = "AB";
	struct rawkv_ckpt_hdr hdr[2];
	int valid[2] = { 0, 0 }, seen_magic = 0, loaded = -1, i;
	unsigned long *used;
	struct page *page;
	u64 max_seq = 0;
	int ret = 0;

	page = alloc_page(GFP_KERNEL);
	used = bitmap_zalloc(kd->slot_count, GFP_KERNEL);
	if (!page || !used) {
		ret = -ENOMEM;
		goto out_free;
	}

	for (i = 0; i < 2; i++) {
		const char *err;

		if (rawkv_rw_block(kd, page, kd->ckpt_off[i], REQ_OP_READ)) {
			pr_warn("checkpoint area %c: read error; ignoring it\n",
				area_name[i]);
			continue;
		}
		memcpy(&hdr[i], page_address(page), sizeof(hdr[i]));
		if (hdr[i].magic)
			seen_magic = 1;
		err = rawkv_check_ckpt_hdr(kd, &hdr[i], i);
		if (err) {
			if (hdr[i].magic)
				pr_warn("checkpoint area %c: %s; ignoring it\n",
					area_name[i], err);
			continue;
		}
		valid[i] = 1;
		max_seq = max(max_seq, le64_to_cpu(hdr[i].seq));
	}

	/* Newest first: when both are valid they differ in parity, so in seq. */
	i = valid[1] && (!valid[0] ||
			 le64_to_cpu(hdr[1].seq) > le64_to_cpu(hdr[0].seq));
	for (; loaded < 0 && (valid[0] || valid[1]); i ^= 1) {
		if (!valid[i])
			continue;
		ret = rawkv_load_ckpt(kd, i, &hdr[i], used);
		if (!ret) {
			loaded = i;
			break;
		}
		if (ret == -ENOMEM)
			goto out_free;
		pr_warn("checkpoint area %c (seq %llu): %s; trying the other area\n",
			area_name[i], le64_to_cpu(hdr[i].seq),
			ret == -EBADMSG ? "payload checksum mismatch" :
					  "payload read error");
		valid[i] = 0;
		ret = 0;
	}

	if (loaded >= 0) {
		kd->ckpt_seq = le64_to_cpu(hdr[loaded].seq);
		kd->next_gen = max(kd->next_gen,
				   le64_to_cpu(hdr[loaded].next_gen));
		pr_info("loaded checkpoint %llu from area %c: %u keys\n",
			kd->ckpt_seq, area_name[loaded], kd->nr_used);
	} else if (seen_magic) {
		pr_err("no valid checkpoint on the device: starting empty, superblock kept\n");
	} else {
		pr_info("no checkpoint yet: starting empty\n");
	}

	/* Never overwrite the checkpoint just loaded, even if a newer header
	 * with a bad payload sits in the other area.
	 */
	kd->next_seq = max_seq + 1;
	if (loaded >= 0 && (kd->next_seq & 1) == loaded)
		kd->next_seq++;
	kd->next_gen = max_t(u64, kd->next_gen, 1);
	rawkv_table_load_done(kd, used);
	if (atomic64_read(&kd->stats.load_dropped)) {
		spin_lock(&kd->lock);
		kd->mutations++;
		spin_unlock(&kd->lock);
	}
out_free:
	bitmap_free(used);
	if (page)
		__free_page(page);
	return ret;
}

/*
 * Commit the table as a new checkpoint, unless the last committed one
 * already holds it. On failure the previous checkpoint stays valid and the
 * next call writes the same area again.
 */
int rawkv_checkpoint(struct rawkv_dev *kd)
{
	struct rawkv_ckpt_hdr *h;
	size_t len, size = 0;
	u64 seq, snap, next_gen, count;
	struct page *page;
	void *buf = NULL;
	int area, ret;

	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;

	mutex_lock(&kd->ckpt_mutex);
	for (;;) {
		size_t need;

		spin_lock(&kd->lock);
		if (kd->mutations == kd->ckpt_mutations) {
			/* Nothing in limbo is referenced by the committed one. */
			if (kd->limbo.count) {
				rawkv_slot_splice(kd, &kd->free, &kd->limbo);
				rawkv_slot_event(kd);
			}
			spin_unlock(&kd->lock);
			ret = 0;
			goto out_unlock;
		}
		if (kd->ckpt_bytes <= size)
			break;
		need = round_up(kd->ckpt_bytes + 16 * RAWKV_CKPT_ENTRY_MAX,
				RAWKV_BLOCK_SIZE);
		spin_unlock(&kd->lock);
		vfree(buf);
		buf = vmalloc(need);
		if (!buf) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		size = need;
	}
	len = rawkv_table_serialize(kd, buf);
	count = kd->nr_used;
	snap = kd->mutations;
	next_gen = kd->next_gen;
	rawkv_slot_splice(kd, &kd->committing, &kd->limbo);
	spin_unlock(&kd->lock);

	seq = kd->next_seq;
	area = seq & 1;
	if (len) {
		memset(buf + len, 0, round_up(len, RAWKV_BLOCK_SIZE) - len);
		ret = rawkv_rw_vmalloc(kd, buf, round_up(len, RAWKV_BLOCK_SIZE),
				       kd->ckpt_off[area] + RAWKV_BLOCK_SIZE,
				       REQ_OP_WRITE);
		if (ret)
			goto out_uncommit;
	}

	h = page_address(page);
	h->magic = cpu_to_le64(RAWKV_CKPT_MAGIC);
	h->seq = cpu_to_le64(seq);
	memcpy(h->uuid, kd->uuid, sizeof(h->uuid));
	h->slot_size = cpu_to_le64(kd->slot_size);
	h->slot_count = cpu_to_le64(kd->slot_count);
	h->payload_len = cpu_to_le64(len);
	h->entry_count = cpu_to_le64(count);
	h->next_gen = cpu_to_le64(next_gen);
	h->payload_crc = cpu_to_le32(len ? rawkv_crc(buf, len) : ~0U);
	h->crc = cpu_to_le32(rawkv_crc(h, sizeof(*h)));
	ret = rawkv_rw_block(kd, page, kd->ckpt_off[area],
			     REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA);
	if (ret)
		goto out_uncommit;

	spin_lock(&kd->lock);
	kd->ckpt_seq = seq;
	kd->ckpt_mutations = snap;
	rawkv_slot_splice(kd, &kd->free, &kd->committing);
	rawkv_slot_event(kd);
	spin_unlock(&kd->lock);
	kd->next_seq = seq + 1;
	atomic64_inc(&kd->stats.checkpoints);
	goto out_unlock;

out_uncommit:
	spin_lock(&kd->lock);
	rawkv_slot_splice(kd, &kd->limbo, &kd->committing);
	spin_unlock(&kd->lock);
	pr_warn_ratelimited("checkpoint %llu failed (error %d); checkpoint %llu stays valid, the next flush retries\n",
			    seq, ret, kd->ckpt_seq);
out_unlock:
	mutex_unlock(&kd->ckpt_mutex);
	vfree(buf);
	__free_page(page);
	return ret;
}
