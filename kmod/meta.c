// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the durable metadata protocol: format, commit, writeback,
 * recovery. The format is in rawkv_format.h; this file is the only one
 * that writes metadata.
 *
 * The committed table is the slot metadata (one entry per slot, in
 * place) with the log replayed over it.
 *
 * Commit (FLUSH, a sync PUT, a DELETE of a sync key, the background
 * commit, a PUT that needs the slots of removed values, rmmod):
 *
 *   1. under the index lock, take the records of every slot changed since
 *      the last commit (the slot now holds this value / is free) and move
 *      the slots removed since then from limbo to committing;
 *   2. append them to the log as one transaction with REQ_PREFLUSH |
 *      REQ_FUA: the flush makes every value they reference durable first
 *      (a PUT publishes its slot only after its writes completed), FUA
 *      makes the transaction durable before the commit returns;
 *   3. mark those records committed; the committing slots are free.
 *
 * Concurrent committers share a transaction: each waits for the mutex,
 * then returns at once if a commit already covered its changes.
 *
 * Writeback (when the log is half full, after a recovery that replayed
 * the log, at rmmod): write the committed state of every block of slot
 * metadata that commits touched, in place, a few blocks at a time under
 * the mutex; then an anchor with REQ_PREFLUSH moves the log's tail to
 * where the log stood when the writeback began. Only committed state is
 * ever written in place, so the slot metadata never holds a change the
 * log does not; a torn block is fixed by the replay of the records the
 * anchor still covers. The anchor needs no FUA: the next log write, the
 * first that may overwrite what it released, carries REQ_PREFLUSH.
 *
 * Load reads the superblock, the anchors, the slot metadata sequentially
 * (skipping all-zero blocks without decoding them), the LRU hint, and the
 * whole log, at most 16 MiB; it never reads a slot.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "rawkv.h"

/* Blocks of slot metadata written back per hold of the mutex. */
#define RAWKV_WB_BLOCKS		64U
/* Bytes read per I/O at load. */
#define RAWKV_LOAD_CHUNK	(4U << 20)

static u64 rawkv_log_pos(struct rawkv_dev *kd, u32 blk)
{
	return kd->geo.log_off + ((u64)blk << RAWKV_BLOCK_SHIFT);
}

static u64 rawkv_meta_pos(struct rawkv_dev *kd, u32 block)
{
	return kd->geo.meta_off + ((u64)block << RAWKV_BLOCK_SHIFT);
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
 * Choose a fresh layout for the device: as many slots as fit, and a new
 * uuid. Nothing is written yet (rawkv_format_write()), so that the index
 * can be allocated first: a load that fails for memory erases nothing.
 */
int rawkv_format_geo(struct rawkv_dev *kd, u64 slot_size)
{
	u64 per_slot = slot_size + sizeof(struct rawkv_meta_ent) + sizeof(__le32);
	u64 n = div64_u64(kd->geo.device_bytes, per_slot);

	n = min_t(u64, n, U32_MAX);
	for (; n; n--) {
		rawkv_geo_set(&kd->geo, slot_size, n);
		if (rawkv_geo_end(&kd->geo) <= kd->geo.device_bytes)
			break;
	}
	if (!n) {
		rawkv_geo_set(&kd->geo, slot_size, 1);
		rawkv_err(kd, "device too small: %llu bytes, a slot size of %llu needs at least %llu\n",
			  kd->geo.device_bytes, slot_size, rawkv_geo_end(&kd->geo));
		return -ENOSPC;
	}
	get_random_bytes(kd->geo.uuid, sizeof(kd->geo.uuid));
	rawkv_geo_set_uuid(&kd->geo, kd->geo.uuid);
	return 0;
}

/*
 * Write the layout rawkv_format_geo() chose: the slot metadata zeroed
 * (every slot free), anchor A zeroed and anchor B pointing at the empty
 * log, then the superblock with a flush and FUA.
 */
int rawkv_format_write(struct rawkv_dev *kd)
{
	struct rawkv_anchor *a;
	struct rawkv_sb *sb;
	struct page *page;
	int ret;

	ret = blkdev_issue_zeroout(kd->bdev, kd->geo.meta_off >> SECTOR_SHIFT,
				   kd->geo.meta_size >> SECTOR_SHIFT,
				   GFP_KERNEL, 0);
	if (ret) {
		rawkv_err(kd, "cannot zero the slot metadata: error %d\n", ret);
		return ret;
	}
	rawkv_count(kd, RAWKV_C_BYTES_WRITTEN, kd->geo.meta_size);

	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	ret = rawkv_rw_block(kd, page, kd->geo.anchor_off[0], REQ_OP_WRITE);
	if (ret)
		goto out_free_page;
	a = page_address(page);
	a->magic = cpu_to_le64(RAWKV_ANCHOR_MAGIC);
	a->seq = cpu_to_le64(1);
	memcpy(a->uuid, kd->geo.uuid, sizeof(a->uuid));
	a->tail_seq = cpu_to_le64(1);
	a->next_gen = cpu_to_le64(1);
	a->crc = cpu_to_le32(rawkv_crc_self(a, offsetof(struct rawkv_anchor, crc)));
	ret = rawkv_rw_block(kd, page, kd->geo.anchor_off[1], REQ_OP_WRITE);
	if (ret)
		goto out_free_page;

	memset(page_address(page), 0, RAWKV_BLOCK_SIZE);
	sb = page_address(page);
	sb->magic = cpu_to_le64(RAWKV_SB_MAGIC);
	sb->version = cpu_to_le32(RAWKV_FORMAT_VERSION);
	sb->block_size = cpu_to_le32(RAWKV_BLOCK_SIZE);
	memcpy(sb->uuid, kd->geo.uuid, sizeof(sb->uuid));
	sb->slot_size = cpu_to_le64(kd->geo.slot_size);
	sb->slot_count = cpu_to_le64(kd->geo.slot_count);
	sb->anchor_off[0] = cpu_to_le64(kd->geo.anchor_off[0]);
	sb->anchor_off[1] = cpu_to_le64(kd->geo.anchor_off[1]);
	sb->log_off = cpu_to_le64(kd->geo.log_off);
	sb->log_blocks = cpu_to_le64(kd->geo.log_blocks);
	sb->meta_off = cpu_to_le64(kd->geo.meta_off);
	sb->meta_size = cpu_to_le64(kd->geo.meta_size);
	sb->lru_off = cpu_to_le64(kd->geo.lru_off);
	sb->lru_size = cpu_to_le64(kd->geo.lru_size);
	sb->data_off = cpu_to_le64(kd->geo.data_off);
	sb->device_bytes = cpu_to_le64(kd->geo.device_bytes);
	sb->crc = cpu_to_le32(rawkv_crc_self(sb, offsetof(struct rawkv_sb, crc)));
	ret = rawkv_rw_block(kd, page, 0,
			     REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA);
	if (!ret)
		rawkv_info(kd, "formatted: %u slots of %llu bytes (values up to %llu bytes), log of %u blocks\n",
			   kd->geo.slot_count, kd->geo.slot_size,
			   kd->geo.value_max, kd->geo.log_blocks);
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
		rawkv_err(kd, "cannot read the superblock: error %d\n", ret);
		goto out_free_page;
	}
	sb = page_address(page);
	err = rawkv_decode_sb(&kd->geo, sb);
	if (err) {
		rawkv_err(kd, "%s; refusing the device. Format it (format=1, or rawkv attach --format) to create a new rawkv layout: this erases the device\n",
			  err);
		ret = -EINVAL;
	}
out_free_page:
	__free_page(page);
	return ret;
}

/* ---- writeback and anchors ---- */

/*
 * Write the anchor: the log from block @tail (transactions >= @tail_seq)
 * is what the slot metadata may lack. REQ_PREFLUSH first makes the
 * writeback before it durable.
 */
static int rawkv_anchor_write(struct rawkv_dev *kd, u32 tail, u64 tail_seq)
{
	struct rawkv_meta *m = &kd->meta;
	blk_opf_t opf = REQ_OP_WRITE;
	struct rawkv_anchor *a;
	struct page *page;
	u64 next_gen;
	int ret;

	lockdep_assert_held(&m->mutex);
	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page)
		return -ENOMEM;
	spin_lock(&kd->ix.lock);
	next_gen = kd->next_gen;
	spin_unlock(&kd->ix.lock);

	a = page_address(page);
	a->magic = cpu_to_le64(RAWKV_ANCHOR_MAGIC);
	a->seq = cpu_to_le64(m->anchor_seq);
	memcpy(a->uuid, kd->geo.uuid, sizeof(a->uuid));
	a->tail_seq = cpu_to_le64(tail_seq);
	a->tail = cpu_to_le32(tail);
	a->lru_crc = cpu_to_le32(m->lru_crc);
	a->next_gen = cpu_to_le64(next_gen);
	a->lru_count = cpu_to_le64(m->lru_count);
	a->crc = cpu_to_le32(rawkv_crc_self(a, offsetof(struct rawkv_anchor, crc)));
	if (!rawkv_fault_strip(kd, RAWKV_STRIP_ANCHOR_PREFLUSH))
		opf |= REQ_PREFLUSH;
	ret = rawkv_rw_block(kd, page, kd->geo.anchor_off[m->anchor_seq & 1],
			     opf);
	__free_page(page);
	/* On failure the next anchor goes to the same area again. */
	if (!ret)
		m->anchor_seq++;
	return ret;
}

/*
 * Fill @buf with the committed state of the @ix.meta_per_block slots of
 * metadata block @block and forget that it is dirty. Under the index
 * lock: copies fields only; rawkv_wb_seal() computes the checksums.
 */
static void rawkv_wb_fill(struct rawkv_dev *kd, u32 block, void *buf)
{
	struct rawkv_index *ix = &kd->ix;
	struct rawkv_meta_ent *me = buf;
	u32 i, slot = block * RAWKV_META_PER_BLOCK;

	lockdep_assert_held(&ix->lock);
	memset(buf, 0, RAWKV_BLOCK_SIZE);
	for (i = 0; i < RAWKV_META_PER_BLOCK && slot < ix->slot_count;
	     i++, slot++, me++) {
		struct rawkv_entry *e = rawkv_ent(ix, slot);

		if (!(e->flags & RAWKV_EF_COMMITTED))
			continue;
		me->fp = cpu_to_le64(e->fp);
		me->gen = cpu_to_le64(e->gen |
				      (e->flags & RAWKV_EF_SYNC ? RAWKV_META_SYNC : 0));
		me->value_len = cpu_to_le32(e->value_len);
	}
	rawkv_index_clear_meta_dirty(ix, block);
}

static void rawkv_wb_seal(struct rawkv_dev *kd, u32 block, void *buf)
{
	struct rawkv_meta_ent *me = buf;
	u32 i, slot = block * RAWKV_META_PER_BLOCK;

	for (i = 0; i < RAWKV_META_PER_BLOCK; i++, slot++, me++)
		if (me->gen)
			me->crc = cpu_to_le32(rawkv_meta_ent_crc(&kd->geo, me,
								 slot));
}

/*
 * Write back up to RAWKV_WB_BLOCKS dirty blocks of slot metadata at or
 * after *@cursor, and wait for them. Returns how many (0: none left), or
 * an error, after which those blocks are dirty again.
 */
static int rawkv_wb_chunk(struct rawkv_dev *kd, u32 *cursor)
{
	struct rawkv_meta *m = &kd->meta;
	u32 blocks[RAWKV_WB_BLOCKS];
	struct rawkv_io io;
	unsigned int n = 0, i;
	int ret;

	lockdep_assert_held(&m->mutex);
	spin_lock(&kd->ix.lock);
	while (n < RAWKV_WB_BLOCKS) {
		u32 b = rawkv_index_next_meta_dirty(&kd->ix, *cursor);

		if (b == RAWKV_NIL)
			break;
		rawkv_wb_fill(kd, b, page_address(m->wb_pages[n]));
		blocks[n++] = b;
		*cursor = b + 1;
	}
	spin_unlock(&kd->ix.lock);
	if (!n)
		return 0;

	rawkv_io_init(&io, kd);
	for (i = 0; i < n; i++) {
		rawkv_wb_seal(kd, blocks[i], page_address(m->wb_pages[i]));
		rawkv_io_submit(&io, &m->wb_pages[i], 1,
				rawkv_meta_pos(kd, blocks[i]), REQ_OP_WRITE);
	}
	ret = rawkv_io_wait(&io);
	if (ret) {
		spin_lock(&kd->ix.lock);
		for (i = 0; i < n; i++)
			rawkv_index_set_meta_dirty(&kd->ix, blocks[i]);
		spin_unlock(&kd->ix.lock);
		return ret;
	}
	return n;
}

/*
 * Write the LRU hint: the live slots, least recently used first. Only at
 * rmmod, when nothing else runs. Sets the hint the next anchors carry.
 */
static int rawkv_lru_write(struct rawkv_dev *kd)
{
	struct rawkv_meta *m = &kd->meta;
	struct rawkv_index *ix = &kd->ix;
	size_t per = RAWKV_LOAD_CHUNK / sizeof(__le32);
	u64 count = 0, off = kd->geo.lru_off;
	u32 crc = ~0U, slot;
	__le32 *buf;
	int ret = 0;

	lockdep_assert_held(&m->mutex);
	buf = vmalloc(RAWKV_LOAD_CHUNK);
	if (!buf)
		return -ENOMEM;
	m->lru_count = 0;
	spin_lock(&ix->lock);
	slot = ix->lru_head;
	while (slot != RAWKV_NIL) {
		size_t n = 0, len;

		for (; slot != RAWKV_NIL && n < per; slot = ix->ents[slot].next)
			buf[n++] = cpu_to_le32(slot);
		spin_unlock(&ix->lock);
		len = round_up(n * sizeof(__le32), RAWKV_BLOCK_SIZE);
		memset((void *)buf + n * sizeof(__le32), 0,
		       len - n * sizeof(__le32));
		crc = crc32c(crc, buf, n * sizeof(__le32));
		ret = rawkv_rw_vmalloc(kd, buf, len, off, REQ_OP_WRITE);
		if (ret)
			goto out_free;
		off += len;
		count += n;
		cond_resched();
		spin_lock(&ix->lock);
	}
	spin_unlock(&ix->lock);
	m->lru_count = count;
	m->lru_crc = crc;
out_free:
	vfree(buf);
	return ret;
}

/*
 * Write back every dirty block of slot metadata, then the anchor that
 * releases the log up to where it stood at the start. With @lru, the LRU
 * hint too (rmmod). The mutex is held throughout: no commit runs
 * meanwhile, so the whole log is released.
 */
static int rawkv_writeback_locked(struct rawkv_dev *kd, bool lru)
{
	struct rawkv_meta *m = &kd->meta;
	u32 cursor = 0, tail = m->head;
	u64 tail_seq = m->next_seq;
	bool anchor_first;
	int ret;

	lockdep_assert_held(&m->mutex);
	/* A mutant for the crash tests: the anchor before the writeback. */
	anchor_first = rawkv_fault_strip(kd, RAWKV_STRIP_ANCHOR_WAIT);
	if (anchor_first) {
		ret = rawkv_anchor_write(kd, tail, tail_seq);
		if (ret)
			return ret;
	}
	do {
		ret = rawkv_wb_chunk(kd, &cursor);
	} while (ret > 0);
	if (!ret && lru)
		ret = rawkv_lru_write(kd);
	if (!ret && !anchor_first)
		ret = rawkv_anchor_write(kd, tail, tail_seq);
	if (ret) {
		rawkv_warn_rl(kd,
			      "metadata writeback failed (error %d); the log keeps every change\n",
			      ret);
		return ret;
	}
	m->tail = tail;
	m->tail_seq = tail_seq;
	m->used = 0;
	m->wb_epoch++;
	return 0;
}

/*
 * The background writeback (wb_work): like rawkv_writeback_locked(), but
 * takes the mutex for one chunk at a time, so commits go on in between.
 * It releases the log up to where it stood when it began; a writeback
 * that finished meanwhile makes it stop.
 */
void rawkv_meta_writeback(struct rawkv_dev *kd)
{
	struct rawkv_meta *m = &kd->meta;
	u32 cursor = 0, tail, used;
	u64 tail_seq, epoch;
	int ret;

	mutex_lock(&m->mutex);
	tail = m->head;
	tail_seq = m->next_seq;
	used = m->used;
	epoch = m->wb_epoch;
	if (rawkv_fault_strip(kd, RAWKV_STRIP_ANCHOR_WAIT)) {
		ret = rawkv_writeback_locked(kd, false);
		mutex_unlock(&m->mutex);
		return;
	}
	mutex_unlock(&m->mutex);

	do {
		mutex_lock(&m->mutex);
		ret = m->wb_epoch == epoch ? rawkv_wb_chunk(kd, &cursor) : 0;
		mutex_unlock(&m->mutex);
		cond_resched();
	} while (ret > 0);
	if (ret)
		return;

	mutex_lock(&m->mutex);
	if (m->wb_epoch == epoch && !rawkv_anchor_write(kd, tail, tail_seq)) {
		m->tail = tail;
		m->tail_seq = tail_seq;
		m->used -= used;
		m->wb_epoch++;
	}
	mutex_unlock(&m->mutex);
}

/* ---- commit ---- */

/*
 * Where a transaction of @nblk blocks goes: at the head, or at block 0 when
 * it does not fit before the end. Writes back first when the log has no
 * room. Sets *@pos and *@charge (the blocks it uses up, skipped ones
 * included).
 */
static int rawkv_log_reserve(struct rawkv_dev *kd, u32 nblk, u32 *pos,
			     u32 *charge)
{
	struct rawkv_meta *m = &kd->meta;
	u32 lb = kd->geo.log_blocks;
	int ret, tries;

	lockdep_assert_held(&m->mutex);
	/* Half the log at most, so that it fits wherever the head is. */
	if (nblk > lb / 2) {
		rawkv_err_rl(kd, "a commit of %u log blocks does not fit in the log of %u\n",
			     nblk, lb);
		return -ENOSPC;
	}
	for (tries = 0; tries < 2; tries++) {
		*pos = m->head;
		*charge = nblk;
		if (*pos + nblk > lb) {
			*charge += lb - *pos;
			*pos = 0;
		}
		if (m->used + *charge <= lb)
			return 0;
		ret = rawkv_writeback_locked(kd, false);
		if (ret)
			return ret;
	}
	return -ENOSPC;
}

/* Fill the log block headers of a transaction and checksum its blocks. */
static void rawkv_log_seal(struct rawkv_dev *kd, void *buf, u32 nblk,
			   u32 nrec, u64 seq, u64 next_gen)
{
	u32 i;

	for (i = 0; i < nblk; i++) {
		struct rawkv_log_hdr *h = buf + ((size_t)i << RAWKV_BLOCK_SHIFT);
		u32 n = min_t(u32, nrec, RAWKV_LOG_RECS_PER_BLOCK);

		h->magic = cpu_to_le64(RAWKV_LOG_MAGIC);
		h->seq = cpu_to_le64(seq);
		memcpy(h->uuid, kd->geo.uuid, sizeof(h->uuid));
		h->next_gen = cpu_to_le64(next_gen);
		h->blk = cpu_to_le32(i);
		h->nblk = cpu_to_le32(nblk);
		h->nrec = cpu_to_le32(n);
		h->flags = 0;
		h->reserved = 0;
		h->crc = cpu_to_le32(rawkv_log_block_crc(h));
		nrec -= n;
	}
}

static struct rawkv_log_rec *rawkv_log_rec_at(void *buf, u32 i)
{
	u32 blk = i / RAWKV_LOG_RECS_PER_BLOCK;
	struct rawkv_log_hdr *h = buf + ((size_t)blk << RAWKV_BLOCK_SHIFT);

	return (struct rawkv_log_rec *)(h + 1) + i % RAWKV_LOG_RECS_PER_BLOCK;
}

/*
 * Take the records of every dirty slot into @buf (room for @max) and move
 * limbo to committing. Returns how many, or @max + 1 when they did not fit
 * (then nothing was taken).
 */
static u32 rawkv_commit_collect(struct rawkv_dev *kd, void *buf, u32 max,
				u64 *snap, u64 *next_gen)
{
	struct rawkv_index *ix = &kd->ix;
	u32 n = 0, slot;

	lockdep_assert_held(&ix->lock);
	if (ix->nr_dirty > max)
		return max + 1;
	for (slot = rawkv_index_next_dirty(ix, 0); slot != RAWKV_NIL;
	     slot = rawkv_index_next_dirty(ix, slot + 1)) {
		struct rawkv_entry *e = rawkv_ent(ix, slot);
		struct rawkv_log_rec *r = rawkv_log_rec_at(buf, n++);

		rawkv_index_clear_dirty(ix, slot);
		memset(r, 0, sizeof(*r));
		r->slot = cpu_to_le32(slot);
		if (e->state != RAWKV_E_LIVE)
			continue;
		r->fp = cpu_to_le64(e->fp);
		r->gen = cpu_to_le64(e->gen);
		r->value_len = cpu_to_le32(e->value_len);
		r->flags = cpu_to_le32(RAWKV_REC_LIVE |
				       (e->flags & RAWKV_EF_SYNC ? RAWKV_REC_SYNC : 0));
	}
	rawkv_slot_splice(ix, &ix->committing, &ix->limbo);
	*snap = kd->ix.changes;
	*next_gen = kd->next_gen;
	return n;
}

/* After the transaction in @buf is durable (@ok) or failed. */
static void rawkv_commit_finish(struct rawkv_dev *kd, void *buf, u32 n,
				bool ok, u64 snap, u64 seq)
{
	struct rawkv_index *ix = &kd->ix;
	u32 i;

	spin_lock(&ix->lock);
	for (i = 0; i < n; i++) {
		struct rawkv_log_rec *r = rawkv_log_rec_at(buf, i);
		u32 slot = le32_to_cpu(r->slot);

		if (ok)
			rawkv_index_committed(ix, slot, r->flags != 0);
		else
			rawkv_index_set_dirty(ix, slot);
	}
	if (ok) {
		rawkv_slot_splice(ix, &ix->free, &ix->committing);
		kd->meta.committed_changes = snap;
		kd->meta.seq = seq;
	} else {
		rawkv_slot_splice(ix, &ix->limbo, &ix->committing);
	}
	rawkv_slot_event(kd);
	spin_unlock(&ix->lock);
}

/*
 * Commit every change of the table, unless a commit already covered the
 * first @target changes (kd->ix.changes). Mutex held.
 */
static int rawkv_commit_locked(struct rawkv_dev *kd, u64 target)
{
	struct rawkv_meta *m = &kd->meta;
	struct rawkv_index *ix = &kd->ix;
	u64 snap, next_gen, seq;
	u32 n, max = 0, nblk, pos, charge;
	blk_opf_t opf = RAWKV_OPF_WRITE;
	void *buf = NULL;
	int ret;

	lockdep_assert_held(&m->mutex);
	for (;;) {
		spin_lock(&ix->lock);
		if (m->committed_changes >= target && !ix->limbo.count) {
			spin_unlock(&ix->lock);
			ret = 0;
			goto out_free;
		}
		if (!ix->nr_dirty) {
			/* Every removal in limbo is committed already. */
			rawkv_slot_splice(ix, &ix->free, &ix->limbo);
			m->committed_changes = kd->ix.changes;
			rawkv_slot_event(kd);
			spin_unlock(&ix->lock);
			ret = 0;
			goto out_free;
		}
		n = rawkv_commit_collect(kd, buf, max, &snap, &next_gen);
		spin_unlock(&ix->lock);
		if (n <= max)
			break;
		vfree(buf);
		nblk = DIV_ROUND_UP(n + 64, RAWKV_LOG_RECS_PER_BLOCK);
		buf = vzalloc((size_t)nblk << RAWKV_BLOCK_SHIFT);
		if (!buf)
			return -ENOMEM;
		max = nblk * RAWKV_LOG_RECS_PER_BLOCK;
	}

	nblk = DIV_ROUND_UP(n, RAWKV_LOG_RECS_PER_BLOCK);
	/* Burnt even on failure: a retry never repeats a sequence number. */
	seq = m->next_seq++;
	rawkv_log_seal(kd, buf, nblk, n, seq, next_gen);
	ret = rawkv_log_reserve(kd, nblk, &pos, &charge);
	if (ret)
		goto out_fail;
	if (!rawkv_fault_strip(kd, RAWKV_STRIP_LOG_PREFLUSH))
		opf |= REQ_PREFLUSH;
	if (!rawkv_fault_strip(kd, RAWKV_STRIP_LOG_FUA))
		opf |= REQ_FUA;
	ret = rawkv_rw_vmalloc(kd, buf, (size_t)nblk << RAWKV_BLOCK_SHIFT,
			       rawkv_log_pos(kd, pos), opf);
	if (ret)
		goto out_fail;

	m->head = pos + nblk;
	m->used += charge;
	rawkv_commit_finish(kd, buf, n, true, snap, seq);
	rawkv_count(kd, RAWKV_C_CHECKPOINTS, 1);
	if (m->used > kd->geo.log_blocks / 2)
		queue_work(system_long_wq, &m->wb_work);
	goto out_free;

out_fail:
	rawkv_commit_finish(kd, buf, n, false, snap, seq);
	rawkv_warn_rl(kd,
		      "commit %llu failed (error %d); commit %llu stays the newest, the next flush retries\n",
		      seq, ret, m->seq);
out_free:
	vfree(buf);
	return ret;
}

/*
 * Make the first @target changes of the table durable (kd->ix.changes as the
 * caller read it after its own change; U64_MAX: every change so far).
 * Callers that arrive while a commit is written wait for it, and the first
 * of them commits for all: a group commit.
 */
int rawkv_commit(struct rawkv_dev *kd, u64 target)
{
	int ret;

	mutex_lock(&kd->meta.mutex);
	if (target == U64_MAX) {
		spin_lock(&kd->ix.lock);
		target = kd->ix.changes;
		spin_unlock(&kd->ix.lock);
	}
	ret = rawkv_commit_locked(kd, target);
	mutex_unlock(&kd->meta.mutex);
	return ret;
}

/*
 * rmmod: commit, write everything back with the LRU hint, and an anchor
 * that releases the whole log.
 */
int rawkv_meta_close(struct rawkv_dev *kd)
{
	int ret;

	mutex_lock(&kd->meta.mutex);
	ret = rawkv_commit_locked(kd, U64_MAX - 1);
	if (!ret)
		ret = rawkv_writeback_locked(kd, true);
	mutex_unlock(&kd->meta.mutex);
	return ret;
}

static void rawkv_wb_work(struct work_struct *work)
{
	struct rawkv_dev *kd = container_of(work, struct rawkv_dev,
					    meta.wb_work);

	rawkv_meta_writeback(kd);
}

int rawkv_meta_init(struct rawkv_dev *kd)
{
	struct rawkv_meta *m = &kd->meta;

	mutex_init(&m->mutex);
	INIT_WORK(&m->wb_work, rawkv_wb_work);

	m->wb_pages = rawkv_pages_alloc(RAWKV_WB_BLOCKS);
	return m->wb_pages ? 0 : -ENOMEM;
}

void rawkv_meta_exit(struct rawkv_dev *kd)
{
	if (kd->meta.wb_pages)
		rawkv_pages_free(kd->meta.wb_pages, RAWKV_WB_BLOCKS);
	kd->meta.wb_pages = NULL;
}

/* ---- recovery ---- */

struct rawkv_load {
	struct rawkv_anchor_info ai;
	bool anchored;			/* @ai is valid */
	u64 max_gen;
	u64 dropped;
	u32 replayed;			/* transactions */
};

static const char rawkv_area_name[] = "AB";

/* Read both anchors and take the newest valid one. */
static int rawkv_load_anchors(struct rawkv_dev *kd, struct rawkv_load *ld)
{
	struct rawkv_anchor_info ai[2];
	u64 max_seq = 0;
	struct page *page;
	int i, valid[2] = { 0, 0 }, ret = 0;

	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		const struct rawkv_anchor *a = page_address(page);
		const char *err;

		if (rawkv_rw_block(kd, page, kd->geo.anchor_off[i],
				   REQ_OP_READ)) {
			/* It may be the newest, which the next would replace. */
			rawkv_err(kd, "anchor %c: read error; refusing to load (retry, or format it again to start over)\n",
				  rawkv_area_name[i]);
			ret = -EIO;
			goto out_free_page;
		}
		err = rawkv_decode_anchor(&kd->geo, a, i, &ai[i]);
		if (err) {
			if (a->magic)
				rawkv_warn(kd, "anchor %c: %s; ignoring it\n",
					   rawkv_area_name[i], err);
			continue;
		}
		valid[i] = 1;
		max_seq = max(max_seq, ai[i].seq);
	}
	i = valid[1] && (!valid[0] || ai[1].seq > ai[0].seq);
	if (valid[i]) {
		ld->ai = ai[i];
		ld->anchored = true;
	} else {
		rawkv_err(kd, "no valid anchor: loading the slot metadata without the log\n");
	}
	/* Never overwrite the anchor just loaded. */
	kd->meta.anchor_seq = max_seq + 1;
	if (ld->anchored && (kd->meta.anchor_seq & 1) == (u64)i)
		kd->meta.anchor_seq++;
out_free_page:
	__free_page(page);
	return ret;
}

/* Load the slot metadata, every block, in RAWKV_LOAD_CHUNK reads. */
static int rawkv_load_meta(struct rawkv_dev *kd, struct rawkv_load *ld,
			   void *buf)
{
	u64 off, size = kd->geo.meta_size;
	struct rawkv_index *ix = &kd->ix;

	for (off = 0; off < size; off += RAWKV_LOAD_CHUNK) {
		size_t len = min_t(u64, size - off, RAWKV_LOAD_CHUNK);
		u32 block = off >> RAWKV_BLOCK_SHIFT;
		size_t b;
		int ret;

		ret = rawkv_rw_vmalloc(kd, buf, len, kd->geo.meta_off + off,
				       REQ_OP_READ);
		if (ret) {
			rawkv_err(kd, "slot metadata: read error %d at block %u; refusing to load (retry, or format it again to start over)\n",
				  ret, block);
			return -EIO;
		}
		for (b = 0; b < len; b += RAWKV_BLOCK_SIZE, block++) {
			const struct rawkv_meta_ent *me = buf + b;
			u32 i, slot = block * RAWKV_META_PER_BLOCK;
			bool bad = false;

			if (!memchr_inv(me, 0, RAWKV_BLOCK_SIZE))
				continue;
			for (i = 0; i < RAWKV_META_PER_BLOCK; i++, slot++) {
				struct rawkv_rec r;
				int v;

				if (slot >= ix->slot_count) {
					bad |= !!memchr_inv(&me[i], 0, sizeof(me[i]));
					continue;
				}
				v = rawkv_decode_meta_ent(&kd->geo, &me[i],
							  slot, &r);
				if (v < 0) {
					ld->dropped++;
					bad = true;
				} else if (v) {
					rawkv_index_load(ix, slot, r.fp, r.gen,
							 r.value_len,
							 r.flags & RAWKV_REC_SYNC);
					ld->max_gen = max(ld->max_gen, r.gen);
				}
			}
			/* Rewrite what did not verify at the next writeback. */
			if (bad)
				rawkv_index_set_meta_dirty(ix, block);
		}
		cond_resched();
	}
	return 0;
}

/* Apply the LRU hint the anchor points at (an ordering only). */
static int rawkv_load_lru(struct rawkv_dev *kd, struct rawkv_load *ld,
			  void *buf)
{
	u64 count = ld->anchored ? ld->ai.lru_count : 0, done = 0;
	size_t per = RAWKV_LOAD_CHUNK / sizeof(__le32);
	u32 crc = ~0U;

	while (done < count) {
		u32 n = min_t(u64, count - done, per);
		size_t len = round_up(n * sizeof(__le32), RAWKV_BLOCK_SIZE);
		int ret;

		ret = rawkv_rw_vmalloc(kd, buf, len, kd->geo.lru_off +
				       done * sizeof(__le32), REQ_OP_READ);
		if (ret) {
			rawkv_err(kd, "LRU hint: read error %d; refusing to load (retry, or format it again to start over)\n",
				  ret);
			return -EIO;
		}
		crc = crc32c(crc, buf, n * sizeof(__le32));
		done += n;
		rawkv_index_lru_hint(&kd->ix, buf, n, false);
		cond_resched();
	}
	rawkv_index_lru_hint(&kd->ix, NULL, 0, true);
	if (count && crc != ld->ai.lru_crc)
		rawkv_warn(kd, "LRU hint does not verify: eviction order after this load is approximate\n");
	return 0;
}

/*
 * The transaction starting at block @pos of the log in @log, if it is
 * whole, verifies, and is newer than @prev: its block count, else 0.
 */
static u32 rawkv_log_txn_at(struct rawkv_dev *kd, const void *log, u32 pos,
			    u64 prev, struct rawkv_log_info *first)
{
	u32 i, lb = kd->geo.log_blocks;
	struct rawkv_log_info li;

	if (pos >= lb ||
	    rawkv_decode_log_block(&kd->geo, log + ((size_t)pos << RAWKV_BLOCK_SHIFT),
				   first) ||
	    first->blk || first->seq <= prev || pos + first->nblk > lb)
		return 0;
	for (i = 1; i < first->nblk; i++) {
		const void *b = log + ((size_t)(pos + i) << RAWKV_BLOCK_SHIFT);

		if (rawkv_decode_log_block(&kd->geo, b, &li) ||
		    li.seq != first->seq || li.nblk != first->nblk ||
		    li.blk != i)
			return 0;
	}
	return first->nblk;
}

/* Apply the records of the verified transaction at block @pos. */
static void rawkv_log_apply(struct rawkv_dev *kd, struct rawkv_load *ld,
			    const void *log, u32 pos, u32 nblk)
{
	struct rawkv_index *ix = &kd->ix;
	u32 i, j;

	for (i = 0; i < nblk; i++) {
		const struct rawkv_log_hdr *h =
			log + ((size_t)(pos + i) << RAWKV_BLOCK_SHIFT);
		const struct rawkv_log_rec *lr = (const void *)(h + 1);
		u32 nrec = le32_to_cpu(h->nrec);

		for (j = 0; j < nrec; j++) {
			struct rawkv_rec r;
			int v = rawkv_decode_log_rec(&kd->geo, &lr[j], &r);

			if (v < 0) {
				ld->dropped++;
				continue;
			}
			if (v) {
				rawkv_index_load(ix, r.slot, r.fp, r.gen,
						 r.value_len,
						 r.flags & RAWKV_REC_SYNC);
				ld->max_gen = max(ld->max_gen, r.gen);
			} else {
				rawkv_index_load_clear(ix, r.slot);
			}
			rawkv_index_set_meta_dirty(ix, r.slot / RAWKV_META_PER_BLOCK);
		}
	}
}

/*
 * Read the whole log, and replay the transactions from the anchor's tail:
 * each must start where the previous ended (or at block 0 if it would not
 * have fitted there), verify whole, and be newer than the previous.
 */
static int rawkv_load_log(struct rawkv_dev *kd, struct rawkv_load *ld)
{
	struct rawkv_meta *m = &kd->meta;
	u32 lb = kd->geo.log_blocks, pos, used = 0, i;
	size_t size = (size_t)lb << RAWKV_BLOCK_SHIFT;
	u64 prev, max_seq = 0;
	void *log;
	int ret;

	log = vmalloc(size);
	if (!log)
		return -ENOMEM;
	ret = rawkv_rw_vmalloc(kd, log, size, kd->geo.log_off, REQ_OP_READ);
	if (ret) {
		rawkv_err(kd, "log: read error %d; refusing to load (retry, or format it again to start over)\n",
			  ret);
		ret = -EIO;
		goto out_free;
	}
	/* New transactions must be newer than anything in the log. */
	for (i = 0; i < lb; i++) {
		struct rawkv_log_info li;

		if (!rawkv_decode_log_block(&kd->geo,
					    log + ((size_t)i << RAWKV_BLOCK_SHIFT),
					    &li)) {
			max_seq = max(max_seq, li.seq);
			ld->max_gen = max(ld->max_gen, li.next_gen - 1);
		}
	}

	pos = ld->anchored ? ld->ai.tail : 0;
	prev = ld->anchored ? ld->ai.tail_seq - 1 : U64_MAX;
	m->tail = pos;
	m->tail_seq = prev + 1;
	while (ld->anchored && used < lb) {
		struct rawkv_log_info li;
		u32 nblk, skip = 0;

		nblk = rawkv_log_txn_at(kd, log, pos, prev, &li);
		if (!nblk && pos) {
			/* One that did not fit before the end starts at 0. */
			nblk = rawkv_log_txn_at(kd, log, 0, prev, &li);
			if (nblk && pos + nblk <= lb)
				nblk = 0;
			skip = lb - pos;
			if (nblk)
				pos = 0;
		}
		if (!nblk || used + skip + nblk > lb)
			break;
		rawkv_log_apply(kd, ld, log, pos, nblk);
		used += skip + nblk;
		pos += nblk;
		prev = li.seq;
		ld->replayed++;
		cond_resched();
	}
	m->head = pos;
	m->used = used;
	m->seq = ld->anchored ? prev : 0;
	m->next_seq = max(max_seq, ld->anchored ? prev : 0) + 1;
	if (ld->replayed)
		rawkv_info(kd, "replayed %u log transactions (through %llu)\n",
			   ld->replayed, prev);
out_free:
	vfree(log);
	return ret;
}

/*
 * Rebuild the index from the slot metadata and the log. A damaged anchor
 * falls back to the other one; with neither, the slot metadata alone is
 * loaded. A read error fails the load (-EIO): what could not be read may
 * be the newest metadata, which the next writeback would destroy. Out of
 * memory fails it too. What differs from the slot metadata is written
 * back before the store is served.
 */
int rawkv_recover(struct rawkv_dev *kd)
{
	struct rawkv_index *ix = &kd->ix;
	struct rawkv_load ld = {};
	u32 from;
	void *buf;
	int ret;

	buf = vmalloc(RAWKV_LOAD_CHUNK);
	if (!buf)
		return -ENOMEM;
	ret = rawkv_load_anchors(kd, &ld);
	if (!ret)
		ret = rawkv_load_meta(kd, &ld, buf);
	if (!ret)
		ret = rawkv_load_lru(kd, &ld, buf);
	if (!ret)
		ret = rawkv_load_log(kd, &ld);
	vfree(buf);
	if (ret)
		return ret;

	if (ld.anchored) {
		kd->meta.lru_count = ld.ai.lru_count;
		kd->meta.lru_crc = ld.ai.lru_crc;
	}
	kd->next_gen = max3(ld.anchored ? ld.ai.next_gen : 1, ld.max_gen + 1,
			    1ULL);
	for (from = ix->slot_count; from;) {
		u32 to = from;

		from = from > 65536 ? from - 65536 : 0;
		rawkv_index_load_done(ix, from, to);
		cond_resched();
	}
	if (ld.dropped) {
		rawkv_warn(kd, "dropped %llu metadata entries that do not verify\n",
			   ld.dropped);
		rawkv_count(kd, RAWKV_C_LOAD_DROPPED, ld.dropped);
	}
	rawkv_info(kd, "loaded %u keys (commit %llu)\n", ix->nr_used, kd->meta.seq);

	/* Write back what the log or a repair changed, before serving. */
	if (ld.replayed || ld.dropped || !ld.anchored) {
		mutex_lock(&kd->meta.mutex);
		if (rawkv_writeback_locked(kd, false))
			rawkv_warn(kd, "cannot write back the recovered metadata yet; the log keeps it\n");
		mutex_unlock(&kd->meta.mutex);
	}
	return 0;
}
