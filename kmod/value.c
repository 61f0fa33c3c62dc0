// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv: the pages a value moves through.
 *
 * When the caller's buffer is aligned to the device's logical block size,
 * its pages are pinned and put straight into the bios (as block/fops.c
 * does for O_DIRECT): no copy. Only a last partial block goes through a
 * bounce page. Other buffers go through bounce pages, copied once.
 *
 * The crc32c of a value is computed over the pages the bios use, so it
 * covers exactly the bytes the device got or gave.
 */
#define pr_fmt(fmt) "rawkv: " fmt

#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/sizes.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "rawkv.h"

#ifdef CONFIG_X86
#include <asm/cpufeature.h>
#endif

static int rawkv_vbuf_alloc(struct rawkv_vbuf *vb, unsigned int nr_bv,
			    unsigned int nr_bounce)
{
	unsigned int i;

	vb->bv = kvcalloc(nr_bv, sizeof(*vb->bv), GFP_KERNEL_ACCOUNT);
	vb->bounce = kvcalloc(nr_bounce, sizeof(*vb->bounce),
			      GFP_KERNEL_ACCOUNT);
	if (!vb->bv || !vb->bounce)
		return -ENOMEM;
	for (i = 0; i < nr_bounce; i++) {
		/* Charged to the caller's memory cgroup. */
		vb->bounce[i] = alloc_page(GFP_KERNEL_ACCOUNT);
		if (!vb->bounce[i])
			return -ENOMEM;
		vb->nr_bounce++;
	}
	return 0;
}

static void rawkv_vbuf_add(struct rawkv_vbuf *vb, struct page *page,
			   unsigned int len, unsigned int off)
{
	vb->bv[vb->nr_bv++] = (struct bio_vec) {
		.bv_page = page, .bv_len = len, .bv_offset = off,
	};
}

/* Pin the whole blocks of an aligned buffer; false to use bounce pages. */
static bool rawkv_vbuf_pin(struct rawkv_dev *kd, struct rawkv_vbuf *vb,
			   bool to_device)
{
	unsigned long start = (unsigned long)vb->ubuf;
	unsigned int off = offset_in_page(start);
	u64 head = round_down(vb->len, kd->lbs), left = head;
	bool tail = head < vb->len;
	unsigned int i;
	int n;

	if (!head || !IS_ALIGNED(start, kd->lbs))
		return false;
	vb->nr_upages = DIV_ROUND_UP(off + head, PAGE_SIZE);
	vb->upages = kvmalloc_array(vb->nr_upages, sizeof(*vb->upages),
				    GFP_KERNEL_ACCOUNT);
	if (!vb->upages || rawkv_vbuf_alloc(vb, vb->nr_upages + tail, tail))
		goto out_bounce;
	n = pin_user_pages_fast(start & PAGE_MASK, vb->nr_upages,
				to_device ? 0 : FOLL_WRITE, vb->upages);
	if (n != vb->nr_upages) {
		if (n > 0)
			unpin_user_pages(vb->upages, n);
		goto out_bounce;
	}
	vb->pinned = true;
	for (i = 0; i < vb->nr_upages; i++) {
		unsigned int len = min_t(u64, left, PAGE_SIZE - off);

		rawkv_vbuf_add(vb, vb->upages[i], len, off);
		left -= len;
		off = 0;
	}
	if (tail)
		rawkv_vbuf_add(vb, vb->bounce[0], kd->lbs, 0);
	vb->bounce_off = head;
	return true;

out_bounce:
	rawkv_vbuf_release(vb, false);
	return false;
}

/*
 * Prepare the pages of a @len byte value at user address @ubuf, to be
 * written to the device (@to_device: the bytes are copied in now when a
 * bounce is needed) or read from it; with @bounce, through kernel pages
 * even when the caller's could be used. The segments cover the value
 * rounded up to the logical block size, zero padded.
 */
int rawkv_vbuf_init(struct rawkv_dev *kd, struct rawkv_vbuf *vb,
		    void __user *ubuf, u64 len, bool to_device, bool bounce)
{
	unsigned int i, nr;
	u64 left;
	int ret;

	memset(vb, 0, sizeof(*vb));
	vb->ubuf = ubuf;
	vb->len = len;
	if (bounce || !rawkv_vbuf_pin(kd, vb, to_device)) {
		nr = DIV_ROUND_UP(len, RAWKV_BLOCK_SIZE);
		ret = rawkv_vbuf_alloc(vb, nr, nr);
		if (ret)
			goto out_release;
		for (i = 0; i < nr; i++)
			rawkv_vbuf_add(vb, vb->bounce[i], RAWKV_BLOCK_SIZE, 0);
	}
	if (!to_device)
		return 0;

	/* Copy the bounced bytes in and zero the padding after them. */
	left = len - vb->bounce_off;
	for (i = 0; i < vb->nr_bounce; i++) {
		unsigned int n = min_t(u64, left, RAWKV_BLOCK_SIZE);
		void *p = page_address(vb->bounce[i]);

		if (copy_from_user(p, ubuf + vb->bounce_off +
				   ((u64)i << RAWKV_BLOCK_SHIFT), n)) {
			ret = -EFAULT;
			goto out_release;
		}
		memset(p + n, 0, RAWKV_BLOCK_SIZE - n);
		left -= n;
	}
	return 0;

out_release:
	rawkv_vbuf_release(vb, false);
	return ret;
}

struct rawkv_crc32c_info rawkv_crc32c_info;

/*
 * Find which driver backs crc32c() and time it over 4 MiB, once at module
 * load, for rawkv stat and the load message. On x86 the SSE4.2 driver
 * (crc32c-intel) is many times faster than crc32c-generic, but libcrc32c
 * binds to whichever was registered when it loaded: say how to get the
 * fast one.
 */
void rawkv_crc32c_probe(void)
{
	struct rawkv_crc32c_info *ci = &rawkv_crc32c_info;
	const unsigned int len = SZ_64K, rounds = 64;
	u64 t0, ns;
	void *buf;
	unsigned int i;

	rawkv_crc32c_driver(ci->driver, sizeof(ci->driver));
	buf = kvmalloc(len, GFP_KERNEL);
	if (buf) {
		memset(buf, 0x5a, len);
		t0 = ktime_get_ns();
		for (i = 0; i < rounds; i++)
			crc32c(~0U, buf, len);
		ns = max_t(u64, ktime_get_ns() - t0, 1);
		ci->mbps = div64_u64((u64)len * rounds * NSEC_PER_SEC,
				     ns * 1000000);
		kvfree(buf);
	}
	pr_info("crc32c by %s, %u MB/s\n", ci->driver, ci->mbps);
#ifdef CONFIG_X86
	if (boot_cpu_has(X86_FEATURE_XMM4_2) &&
	    !strcmp(ci->driver, "crc32c-generic"))
		pr_info("the CPU has SSE4.2 but crc32c-intel was not loaded before libcrc32c: modprobe crc32c-intel first for faster checksums\n");
#endif
}

/* Count the value's bytes as moved, zero-copy or bounced. */
void rawkv_vbuf_account(struct rawkv_dev *kd, struct rawkv_vbuf *vb)
{
	rawkv_count(kd, RAWKV_C_BYTES_ZERO_COPY, vb->bounce_off);
	rawkv_count(kd, RAWKV_C_BYTES_BOUNCED, vb->len - vb->bounce_off);
}

/* Add the value's segments to @io, from its current position on. */
void rawkv_vbuf_io(struct rawkv_vbuf *vb, struct rawkv_io *io)
{
	unsigned int i;

	for (i = 0; i < vb->nr_bv; i++)
		rawkv_io_add(io, vb->bv[i].bv_page, vb->bv[i].bv_len,
			     vb->bv[i].bv_offset);
}

/*
 * Add to @crc the value bytes of segments [@first, @end), of which *@left
 * value bytes remain (the padding after the value is not covered); returns
 * the new crc and lowers *@left. The value's crc32c is the chain over all
 * its segments in order, starting from ~0.
 */
u32 rawkv_vbuf_crc_segs(struct rawkv_vbuf *vb, u32 crc, unsigned int first,
			unsigned int end, u64 *left)
{
	unsigned int i;

	for (i = first; i < end && *left; i++) {
		const struct bio_vec *bv = &vb->bv[i];
		unsigned int n = min_t(u64, *left, bv->bv_len);
		void *p = kmap_local_page(bv->bv_page);

		crc = crc32c(crc, p + bv->bv_offset, n);
		kunmap_local(p);
		*left -= n;
	}
	return crc;
}

/* crc32c of the value's bytes as they sit in its pages. */
u32 rawkv_vbuf_crc(struct rawkv_vbuf *vb)
{
	u64 left = vb->len;

	return rawkv_vbuf_crc_segs(vb, ~0U, 0, vb->nr_bv, &left);
}

/*
 * After a verified read: copy the bounced bytes out to the caller. After a
 * failed one: make sure no byte read reaches the caller.
 */
int rawkv_vbuf_copy_out(struct rawkv_vbuf *vb, bool verified)
{
	u64 left = vb->len - vb->bounce_off;
	unsigned int i;

	if (!verified)
		return (vb->pinned || vb->user_written) &&
		       clear_user(vb->ubuf, vb->len) ? -EFAULT : 0;
	for (i = 0; i < vb->nr_bounce; i++) {
		unsigned int n = min_t(u64, left, RAWKV_BLOCK_SIZE);

		if (copy_to_user(vb->ubuf + vb->bounce_off +
				 ((u64)i << RAWKV_BLOCK_SHIFT),
				 page_address(vb->bounce[i]), n))
			return -EFAULT;
		left -= n;
	}
	return 0;
}

/* Unpin (marking pages read into as dirty) and free everything. */
void rawkv_vbuf_release(struct rawkv_vbuf *vb, bool dirty)
{
	unsigned int i;

	if (vb->pinned)
		unpin_user_pages_dirty_lock(vb->upages, vb->nr_upages, dirty);
	for (i = 0; i < vb->nr_bounce; i++)
		__free_page(vb->bounce[i]);
	kvfree(vb->upages);
	kvfree(vb->bounce);
	kvfree(vb->bv);
	vb->pinned = false;
	vb->upages = NULL;
	vb->bounce = NULL;
	vb->bv = NULL;
	vb->nr_bv = 0;
	vb->nr_bounce = 0;
	vb->bounce_off = 0;
}
