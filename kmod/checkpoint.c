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
 * A slot that leaves the table stays out of use (limbo) until a checkpoint
 * that no longer references it commits, so a crash never finds a committed
 * key pointing at a slot that was reused.
 *
 * Values written with RAWKV_PUT_SYNC after the checkpoint are found by
 * reading the headers of the slots the checkpoint left free: only those,
 * so load time is the checkpoint plus the free slots, never every slot.
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

/*
 * Write a fresh layout: as many slots as fit, both checkpoint headers
 * zeroed (no checkpoint yet), then the superblock with a flush and FUA.
 */
int rawkv_format(struct rawkv_dev *kd, u64 slot_size)
{
	u64 n = div64_u64(kd->geo.device_bytes, slot_size + 2 * RAWKV_CKPT_ENTRY_MAX);
	struct rawkv_sb *sb;
	struct page *page;
	int ret;

	n = min_t(u64, n, U32_MAX);
	for (; n; n--) {
		rawkv_geo_set(&kd->geo, slot_size, n);
		if (rawkv_geo_end(&kd->geo) <= kd->geo.device_bytes)
			break;
	}
	if (!n) {
		rawkv_geo_set(&kd->geo, slot_size, 1);
		pr_err("device too small: %llu bytes, a slot size of %llu needs at least %llu\n",
		       kd->geo.device_bytes, slot_size, rawkv_geo_end(&kd->geo));
		return -ENOSPC;
	}
	get_random_bytes(kd->geo.uuid, sizeof(kd->geo.uuid));

	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	ret = rawkv_rw_block(kd, page, kd->geo.ckpt_off[0], REQ_OP_WRITE);
	if (!ret)
		ret = rawkv_rw_block(kd, page, kd->geo.ckpt_off[1], REQ_OP_WRITE);
	if (ret)
		goto out_free_page;

	sb = page_address(page);
	sb->magic = cpu_to_le64(RAWKV_SB_MAGIC);
	sb->version = cpu_to_le32(RAWKV_FORMAT_VERSION);
	sb->block_size = cpu_to_le32(RAWKV_BLOCK_SIZE);
	memcpy(sb->uuid, kd->geo.uuid, sizeof(sb->uuid));
	sb->slot_size = cpu_to_le64(kd->geo.slot_size);
	sb->slot_count = cpu_to_le64(kd->geo.slot_count);
	sb->ckpt_off[0] = cpu_to_le64(kd->geo.ckpt_off[0]);
	sb->ckpt_off[1] = cpu_to_le64(kd->geo.ckpt_off[1]);
	sb->ckpt_size = cpu_to_le64(kd->geo.ckpt_size);
	sb->data_off = cpu_to_le64(kd->geo.data_off);
	sb->device_bytes = cpu_to_le64(kd->geo.device_bytes);
	sb->crc = cpu_to_le32(rawkv_crc(sb, sizeof(*sb)));
	ret = rawkv_rw_block(kd, page, 0,
			     REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA);
	kd->formatted = !ret;
	if (!ret)
		pr_info("formatted: %u slots of %llu bytes (values up to %llu bytes)\n",
			kd->geo.slot_count, kd->geo.slot_size, kd->geo.value_max);
out_free_page:
	__free_page(page);
	return ret;
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
	err = rawkv_decode_sb(&kd->geo, sb);
	if (err) {
		pr_err("%s; refusing the device. Load with format=1 to create a new rawkv layout (this erases the device)\n",
		       err);
		ret = -EINVAL;
	}
out_free_page:
	__free_page(page);
	return ret;
}

/*
 * Read the blocks of a vmalloc'ed buffer from, or write them to, @pos. A
 * block is RAWKV_BLOCK_SIZE bytes at its own offset in its page, so this
 * holds for pages of any size.
 */
static int rawkv_rw_vmalloc(struct rawkv_dev *kd, void *buf, size_t len,
			    u64 pos, blk_opf_t opf)
{
	unsigned int i, nr = len >> RAWKV_BLOCK_SHIFT;
	struct rawkv_io io;
	int ret;

	if (op_is_write(opf))
		flush_kernel_vmap_range(buf, len);
	rawkv_io_init(&io, kd);
	rawkv_io_start(&io, pos, opf, nr);
	for (i = 0; i < nr; i++) {
		void *p = buf + ((size_t)i << RAWKV_BLOCK_SHIFT);

		rawkv_io_add(&io, vmalloc_to_page(p), RAWKV_BLOCK_SIZE,
			     offset_in_page(p));
	}
	ret = rawkv_io_wait(&io);
	if (!op_is_write(opf))
		invalidate_kernel_vmap_range(buf, len);
	return ret;
}

/*
 * Load the entries of a checkpoint whose payload checksum verifies. Every
 * entry is checked against the geometry and the entries before it; a bad
 * one is dropped and counted. Returns -EBADMSG when the payload is not the
 * one the header commits (then nothing was loaded).
 */
static int rawkv_load_ckpt(struct rawkv_dev *kd, int area,
			   const struct rawkv_ckpt_info *ci, unsigned long *used)
{
	size_t size = round_up(ci->payload_len, RAWKV_BLOCK_SIZE);
	u64 off = 0, count = 0, dropped = 0;
	struct rawkv_rec r;
	void *buf = NULL;
	int ret = 0;

	if (size) {
		/* A payload too big to hold is treated like a damaged one. */
		buf = __vmalloc(size, GFP_KERNEL | __GFP_NOWARN);
		if (!buf)
			return -EFBIG;
		ret = rawkv_rw_vmalloc(kd, buf, size, kd->geo.ckpt_off[area] +
				       RAWKV_BLOCK_SIZE, REQ_OP_READ);
		if (ret)
			goto out_free_buf;
		ret = -EBADMSG;
		if (rawkv_crc(buf, ci->payload_len) != ci->payload_crc)
			goto out_free_buf;
	}

	while ((ret = rawkv_decode_ckpt_entry(&kd->geo, buf, ci->payload_len,
					      &off, &r))) {
		if (ret < 0 && ret != -ERANGE)
			break;
		count++;
		if (ret < 0 || test_bit(r.slot, used)) {
			dropped++;
			continue;
		}
		rawkv_table_load(kd, r.fp, r.slot, r.gen, r.value_len);
		__set_bit(r.slot, used);
	}
	ret = 0;
	if (off < ci->payload_len || count != ci->entry_count) {
		pr_warn("checkpoint %llu: %llu entries where %llu were committed; the rest are dropped\n",
			ci->seq, count, ci->entry_count);
		if (ci->entry_count > count)
			dropped += ci->entry_count - count;
	}
	if (dropped) {
		pr_warn("checkpoint %llu: dropped %llu invalid entries\n",
			ci->seq, dropped);
		atomic64_add(dropped, &kd->stats.load_dropped);
	}
out_free_buf:
	vfree(buf);
	return ret;
}

#define RAWKV_SCAN_BATCH	256U

/*
 * Adopt the values written with RAWKV_PUT_SYNC after the loaded checkpoint:
 * read the header of every slot it left free, RAWKV_SCAN_BATCH at a time,
 * and take those with RAWKV_SLOT_SYNC and a generation >= @scan_gen (the
 * newest per key wins). Slots in use are never read. Sets *@max_gen to the
 * highest generation seen on any valid header.
 */
static int rawkv_scan_sync(struct rawkv_dev *kd, u64 scan_gen,
			   unsigned long *used, u32 *adopted, u64 *max_gen)
{
	struct page **pages;
	u32 *slots, slot = 0;
	int ret = 0;

	pages = rawkv_pages_alloc(RAWKV_SCAN_BATCH);
	slots = kmalloc_array(RAWKV_SCAN_BATCH, sizeof(*slots), GFP_KERNEL);
	if (!pages || !slots) {
		ret = -ENOMEM;
		goto out_free;
	}

	while (slot < kd->geo.slot_count) {
		struct rawkv_io io;
		unsigned int i, n = 0;

		rawkv_io_init(&io, kd);
		for (; slot < kd->geo.slot_count && n < RAWKV_SCAN_BATCH;
		     slot++) {
			if (test_bit(slot, used))
				continue;
			slots[n] = slot;
			rawkv_io_submit(&io, &pages[n], 1,
					rawkv_slot_pos(kd, slot), REQ_OP_READ);
			n++;
		}
		if (rawkv_io_wait(&io)) {
			/*
			 * The next checkpoint would lose the durable PUTs
			 * these headers hold: refuse to load instead.
			 */
			pr_err("read error scanning slots %u..%u for durable PUTs; refusing to load (retry, or format=1 to start over)\n",
			       n ? slots[0] : slot, slot - 1);
			ret = -EIO;
			goto out_free;
		}
		for (i = 0; i < n; i++) {
			struct rawkv_rec r;

			if (rawkv_decode_slot_hdr(&kd->geo,
						  page_address(pages[i]),
						  slots[i], &r))
				continue;
			*max_gen = max(*max_gen, r.gen);
			if (!(r.flags & RAWKV_SLOT_SYNC) || r.gen < scan_gen)
				continue;
			/* Adopted or not, the next recovery could adopt it. */
			spin_lock(&kd->lock);
			kd->last_sync_gen = max(kd->last_sync_gen, r.gen);
			spin_unlock(&kd->lock);
			ret = rawkv_table_adopt(kd, r.key, r.key_len, r.slot,
						r.gen, r.value_len);
			if (ret == -EEXIST)
				continue;
			if (ret == -EIO)
				pr_err("slot %u: read error comparing keys with a durable PUT; refusing to load (retry, or format=1 to start over)\n",
				       slots[i]);
			if (ret)
				goto out_free;
			__set_bit(r.slot, used);
			(*adopted)++;
		}
	}
	ret = 0;
out_free:
	kfree(slots);
	if (pages)
		rawkv_pages_free(pages, RAWKV_SCAN_BATCH);
	return ret;
}

/*
 * Rebuild the table from the newest valid checkpoint and the durable PUTs
 * written after it. A damaged area falls back to the other one; with
 * neither, the store starts empty and keeps its superblock. A read error
 * fails the load (-EIO): what could not be read may be the newest
 * checkpoint or a durable PUT, which the next commit would destroy. Out of
 * memory fails it too.
 */
int rawkv_recover(struct rawkv_dev *kd)
{
	static const char area_name[] = "AB";
	int valid[2] = { 0, 0 }, seen_magic = 0, loaded = -1, i;
	struct rawkv_ckpt_info ci[2];
	u64 max_seq = 0, max_gen = 0, scan_gen = 1;
	unsigned long *used;
	struct page *page;
	u32 adopted = 0;
	int ret = 0;

	page = alloc_page(GFP_KERNEL);
	used = bitmap_zalloc(kd->geo.slot_count, GFP_KERNEL);
	if (!page || !used) {
		ret = -ENOMEM;
		goto out_free;
	}

	for (i = 0; i < 2; i++) {
		const struct rawkv_ckpt_hdr *h = page_address(page);
		const char *err;

		if (rawkv_rw_block(kd, page, kd->geo.ckpt_off[i], REQ_OP_READ)) {
			/*
			 * It may hold the newest checkpoint, which the next
			 * commit would overwrite: refuse to load instead.
			 */
			pr_err("checkpoint area %c: read error; refusing to load (retry, or format=1 to start over)\n",
			       area_name[i]);
			ret = -EIO;
			goto out_free;
		}
		if (h->magic)
			seen_magic = 1;
		err = rawkv_decode_ckpt_hdr(&kd->geo, h, i, &ci[i]);
		if (err) {
			if (h->magic)
				pr_warn("checkpoint area %c: %s; ignoring it\n",
					area_name[i], err);
			continue;
		}
		valid[i] = 1;
		max_seq = max(max_seq, ci[i].seq);
	}

	/* Newest first: when both are valid they differ in parity, so in seq. */
	i = valid[1] && (!valid[0] || ci[1].seq > ci[0].seq);
	for (; valid[0] || valid[1]; i ^= 1) {
		if (!valid[i])
			continue;
		ret = rawkv_load_ckpt(kd, i, &ci[i], used);
		if (!ret) {
			loaded = i;
			break;
		}
		if (ret != -EBADMSG && ret != -EFBIG) {
			if (ret != -ENOMEM)
				pr_err("checkpoint area %c (seq %llu): payload read error %d; refusing to load (retry, or format=1 to start over)\n",
				       area_name[i], ci[i].seq, ret);
			goto out_free;
		}
		pr_warn("checkpoint area %c (seq %llu): %s; trying the other area\n",
			area_name[i], ci[i].seq,
			ret == -EBADMSG ? "payload checksum mismatch" :
					  "payload too large to hold");
		valid[i] = 0;
		ret = 0;
	}

	if (loaded >= 0) {
		kd->ckpt_seq = ci[loaded].seq;
		kd->ckpt_scan_gen = ci[loaded].scan_gen;
		kd->next_gen = max(kd->next_gen, ci[loaded].next_gen);
		scan_gen = ci[loaded].scan_gen;
		pr_info("loaded checkpoint %llu from area %c: %u keys\n",
			kd->ckpt_seq, area_name[loaded], kd->nr_used);
	} else if (seen_magic) {
		pr_err("no valid checkpoint on the device: starting empty, superblock kept\n");
	} else {
		pr_info("no checkpoint yet: starting empty\n");
	}

	/*
	 * With damaged checkpoints there is no telling which durable PUTs
	 * were deleted since: start empty. Without any checkpoint yet, every
	 * durable PUT since the format counts. Right after a format there is
	 * none: every slot header carries the old uuid.
	 */
	if (!kd->formatted && (loaded >= 0 || !seen_magic)) {
		ret = rawkv_scan_sync(kd, scan_gen, used, &adopted, &max_gen);
		if (ret)
			goto out_free;
	}
	if (adopted)
		pr_info("recovered %u values written with RAWKV_PUT_SYNC after the checkpoint\n",
			adopted);

	/*
	 * Never overwrite the checkpoint just loaded, even if a newer header
	 * with a bad payload sits in the other area; never hand out a
	 * generation already on the device.
	 */
	kd->next_seq = max_seq + 1;
	if (loaded >= 0 && (kd->next_seq & 1) == loaded)
		kd->next_seq++;
	kd->next_gen = max3(kd->next_gen, max_gen + 1, 1ULL);
	rawkv_table_load_done(kd, used);

	/* Commit what differs from the loaded checkpoint before serving. */
	if (adopted || atomic64_read(&kd->stats.load_dropped)) {
		spin_lock(&kd->lock);
		kd->mutations++;
		spin_unlock(&kd->lock);
		if (rawkv_checkpoint(kd))
			pr_warn("cannot commit the recovered table yet; the next checkpoint retries\n");
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
	u64 seq, snap, next_gen, scan_gen, count;
	struct page *page;
	blk_opf_t hdr_opf;
	void *buf = NULL;
	bool hdr_first;
	int area, ret;

	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;

	mutex_lock(&kd->ckpt_mutex);
	for (;;) {
		size_t need;

		spin_lock(&kd->lock);
		if (kd->mutations == kd->ckpt_mutations &&
		    !rawkv_sync_adoptable(kd)) {
			/*
			 * The committed one holds the table, and recovery
			 * adopts no sync value from it; nothing in limbo is
			 * referenced by it.
			 */
			rawkv_slots_committed(kd, &kd->limbo, kd->ckpt_scan_gen);
			spin_unlock(&kd->lock);
			ret = 0;
			goto out_unlock;
		}
		if (rawkv_table_ckpt_bytes(kd) <= size)
			break;
		need = round_up(rawkv_table_ckpt_bytes(kd) +
				16 * RAWKV_CKPT_ENTRY_MAX, RAWKV_BLOCK_SIZE);
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
	scan_gen = rawkv_scan_gen(kd);
	rawkv_slot_splice(kd, &kd->committing, &kd->limbo);
	spin_unlock(&kd->lock);

	seq = kd->next_seq;
	area = seq & 1;
	if (len)
		memset(buf + len, 0, round_up(len, RAWKV_BLOCK_SIZE) - len);
	/* A mutant for the crash tests: the header before its payload. */
	hdr_first = rawkv_fault_strip(kd, RAWKV_STRIP_CKPT_PAYLOAD_WAIT);
	if (len && !hdr_first) {
		ret = rawkv_rw_vmalloc(kd, buf, round_up(len, RAWKV_BLOCK_SIZE),
				       kd->geo.ckpt_off[area] + RAWKV_BLOCK_SIZE,
				       REQ_OP_WRITE);
		if (ret)
			goto out_uncommit;
	}

	h = page_address(page);
	h->magic = cpu_to_le64(RAWKV_CKPT_MAGIC);
	h->seq = cpu_to_le64(seq);
	memcpy(h->uuid, kd->geo.uuid, sizeof(h->uuid));
	h->slot_size = cpu_to_le64(kd->geo.slot_size);
	h->slot_count = cpu_to_le64(kd->geo.slot_count);
	h->payload_len = cpu_to_le64(len);
	h->entry_count = cpu_to_le64(count);
	h->next_gen = cpu_to_le64(next_gen);
	h->scan_gen = cpu_to_le64(scan_gen);
	h->payload_crc = cpu_to_le32(len ? rawkv_crc(buf, len) : ~0U);
	h->crc = cpu_to_le32(rawkv_crc(h, sizeof(*h)));
	hdr_opf = REQ_OP_WRITE;
	if (!rawkv_fault_strip(kd, RAWKV_STRIP_CKPT_PREFLUSH))
		hdr_opf |= REQ_PREFLUSH;
	if (!rawkv_fault_strip(kd, RAWKV_STRIP_CKPT_FUA))
		hdr_opf |= REQ_FUA;
	ret = rawkv_rw_block(kd, page, kd->geo.ckpt_off[area], hdr_opf);
	if (!ret && len && hdr_first)
		ret = rawkv_rw_vmalloc(kd, buf, round_up(len, RAWKV_BLOCK_SIZE),
				       kd->geo.ckpt_off[area] + RAWKV_BLOCK_SIZE,
				       REQ_OP_WRITE);
	if (ret)
		goto out_uncommit;

	spin_lock(&kd->lock);
	kd->ckpt_seq = seq;
	kd->ckpt_mutations = snap;
	kd->ckpt_scan_gen = scan_gen;
	rawkv_slots_committed(kd, &kd->committing, scan_gen);
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
