// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the bio engine.
 *
 * Every device access of rawkv goes through here: a batch (struct
 * rawkv_io) collects runs of segments (rawkv_io_start(), rawkv_io_add()),
 * sent as bios of up to BIO_MAX_VECS segments, all in flight together;
 * rawkv_io_wait() waits for the last one and returns the first error.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/gfp.h>
#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "rawkv.h"

static void rawkv_io_put(struct rawkv_io *io)
{
	if (atomic_dec_and_test(&io->pending))
		complete(&io->done);
}

static void rawkv_io_end(struct bio *bio)
{
	struct rawkv_io *io = bio->bi_private;

	if (bio->bi_status) {
		cmpxchg(&io->status, BLK_STS_OK, bio->bi_status);
		rawkv_count(io->kd, RAWKV_C_IO_ERRORS, 1);
	}
	if (static_branch_unlikely(&rawkv_faults_on))
		rawkv_fault_bio_done(io->kd, bio);
	bio_put(bio);
	rawkv_io_put(io);
}

void rawkv_io_init(struct rawkv_io *io, struct rawkv_dev *kd)
{
	io->kd = kd;
	atomic_set(&io->pending, 1);
	io->status = BLK_STS_OK;
	init_completion(&io->done);
	io->bio = NULL;
}

/* Submit the bio being built, if any. */
void rawkv_io_send(struct rawkv_io *io)
{
	struct rawkv_dev *kd = io->kd;
	struct bio *bio = io->bio;

	if (!bio)
		return;
	io->bio = NULL;
	if (op_is_write(bio_op(bio)))
		rawkv_count(kd, RAWKV_C_BYTES_WRITTEN, bio->bi_iter.bi_size);
	else
		rawkv_count(kd, RAWKV_C_BYTES_READ, bio->bi_iter.bi_size);
	atomic_inc(&io->pending);
	if (!static_branch_unlikely(&rawkv_faults_on) ||
	    !rawkv_fault_bio(kd, bio))
		submit_bio(bio);
}

/*
 * Start a run of segments at byte @pos of the device. About @nr_hint
 * segments will follow; they are sent in bios of up to BIO_MAX_VECS.
 */
void rawkv_io_start(struct rawkv_io *io, u64 pos, blk_opf_t opf,
		    unsigned int nr_hint)
{
	rawkv_io_send(io);
	io->pos = pos;
	io->opf = opf;
	io->nr_hint = nr_hint;
}

/*
 * Add @len bytes at @off of @page to the run; @len is a multiple of lbs.
 * A bio takes as many segments as it has bio_vecs (up to BIO_MAX_VECS, as
 * @nr_hint asked): how a run is cut into bios depends only on its
 * segments, never on where their pages happen to be in memory, so the
 * same request always makes the same bios (the crash test numbers them).
 * Within a bio, segments in physically contiguous pages share one
 * multi-page bio_vec.
 */
void rawkv_io_add(struct rawkv_io *io, struct page *page, unsigned int len,
		  unsigned int off)
{
	struct bio *bio = io->bio;

	if (!bio || io->nr_segs == bio->bi_max_vecs) {
		rawkv_io_send(io);
		/* With a reclaiming gfp, bio_alloc() never fails. */
		bio = bio_alloc(io->kd->bdev,
				clamp_t(unsigned int, io->nr_hint, 1,
					BIO_MAX_VECS), io->opf, GFP_NOIO);
		bio->bi_iter.bi_sector = io->pos >> SECTOR_SHIFT;
		bio->bi_end_io = rawkv_io_end;
		bio->bi_private = io;
		io->bio = bio;
		io->nr_segs = 0;
	}
	/* Room for every segment: bio_add_page() cannot fail here. */
	if (WARN_ON_ONCE(bio_add_page(bio, page, len, off) != len))
		cmpxchg(&io->status, BLK_STS_OK, BLK_STS_RESOURCE);
	io->nr_segs++;
	io->pos += len;
	if (io->nr_hint)
		io->nr_hint--;
}

/*
 * Submit @nr blocks from @pages to or from byte @pos of the device. The
 * bios complete into @io; nothing is waited for here.
 */
void rawkv_io_submit(struct rawkv_io *io, struct page **pages,
		     unsigned int nr, u64 pos, blk_opf_t opf)
{
	unsigned int i;

	rawkv_io_start(io, pos, opf, nr);
	for (i = 0; i < nr; i++)
		rawkv_io_add(io, pages[i], RAWKV_BLOCK_SIZE, 0);
	rawkv_io_send(io);
}

/* Send what is built, wait for every bio of @io; return 0 or an errno. */
int rawkv_io_wait(struct rawkv_io *io)
{
	rawkv_io_send(io);
	rawkv_io_put(io);
	wait_for_completion_io(&io->done);
	return blk_status_to_errno(READ_ONCE(io->status));
}

/* Read or write the one block at byte @pos and wait for it. */
int rawkv_rw_block(struct rawkv_dev *kd, struct page *page, u64 pos,
		   blk_opf_t opf)
{
	struct rawkv_io io;

	rawkv_io_init(&io, kd);
	rawkv_io_submit(&io, &page, 1, pos, opf);
	return rawkv_io_wait(&io);
}

struct page **rawkv_pages_alloc(unsigned int nr)
{
	struct page **pages;
	unsigned int i;

	pages = kvmalloc_array(nr, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return NULL;
	for (i = 0; i < nr; i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		if (!pages[i]) {
			rawkv_pages_free(pages, i);
			return NULL;
		}
	}
	return pages;
}

void rawkv_pages_free(struct page **pages, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++)
		__free_page(pages[i]);
	kvfree(pages);
}
