// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the bio engine.
 *
 * Every device access of rawkv goes through here: a batch (struct
 * rawkv_io) collects any number of bios, each of up to BIO_MAX_VECS
 * blocks, all in flight together; rawkv_io_wait() waits for the last one
 * and returns the first error. Each page carries one RAWKV_BLOCK_SIZE
 * block.
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
		atomic64_inc(&io->kd->stats.io_errors);
	}
	bio_put(bio);
	rawkv_io_put(io);
}

void rawkv_io_init(struct rawkv_io *io, struct rawkv_dev *kd)
{
	io->kd = kd;
	atomic_set(&io->pending, 1);
	io->status = BLK_STS_OK;
	init_completion(&io->done);
}

/*
 * Submit @nr blocks from @pages to or from byte @pos of the device. The
 * bios complete into @io; nothing is waited for here.
 */
void rawkv_io_submit(struct rawkv_io *io, struct page **pages,
		     unsigned int nr, u64 pos, blk_opf_t opf)
{
	struct rawkv_dev *kd = io->kd;
	atomic64_t *bytes = op_is_write(opf) ? &kd->stats.bytes_written :
					       &kd->stats.bytes_read;

	while (nr) {
		unsigned int n = min_t(unsigned int, nr, BIO_MAX_VECS);
		struct bio *bio;
		unsigned int i;

		/* With a reclaiming gfp, bio_alloc() of <= BIO_MAX_VECS never fails. */
		bio = bio_alloc(kd->bdev, n, opf, GFP_NOIO);
		bio->bi_iter.bi_sector = pos >> SECTOR_SHIFT;
		bio->bi_end_io = rawkv_io_end;
		bio->bi_private = io;
		for (i = 0; i < n; i++)
			__bio_add_page(bio, pages[i], RAWKV_BLOCK_SIZE, 0);

		atomic64_add((u64)n << RAWKV_BLOCK_SHIFT, bytes);
		atomic_inc(&io->pending);
		if (!static_branch_unlikely(&rawkv_faults_on) ||
		    !rawkv_fault_bio(kd, bio))
			submit_bio(bio);

		pages += n;
		nr -= n;
		pos += (u64)n << RAWKV_BLOCK_SHIFT;
	}
}

/* Wait for every bio of @io; return 0 or the first error as an errno. */
int rawkv_io_wait(struct rawkv_io *io)
{
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
