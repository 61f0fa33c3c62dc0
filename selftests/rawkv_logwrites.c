// SPDX-License-Identifier: GPL-2.0
/*
 * Record writes with dm-log-writes and replay them; see rawkv_logwrites.h.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "rawkv_logwrites.h"

#define LW_MAGIC		0x6a736677736872ULL
#define LW_VERSION		1
#define LW_ENTRY_SIZE		32	/* struct log_write_entry */
#define LW_KNOWN_FLAGS		(LW_FLUSH | LW_FUA | LW_DISCARD | LW_MARK | \
				 LW_METADATA)
#define LW_IO_MAX		(1024 * 1024)	/* bytes per read or write */
#define LW_WAIT_MS		5000		/* node to appear, device to close */

static void lw_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Size in bytes of a block device or regular file. */
static int lw_fd_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size))
			return -errno;
		return 0;
	}
	if (S_ISREG(st.st_mode)) {
		*size = st.st_size;
		return 0;
	}
	return -ENOTBLK;
}

/* ---- device-mapper ioctls ---- */

#define LW_DM_BUF	16384

union lw_dm_buf {
	struct dm_ioctl io;
	uint64_t align;
	unsigned char b[LW_DM_BUF];
};

static int lw_dm_init(union lw_dm_buf *d, const char *name)
{
	memset(d, 0, sizeof(*d));
	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	if (strlen(name) >= sizeof(d->io.name))
		return -ENAMETOOLONG;
	d->io.version[0] = DM_VERSION_MAJOR;	/* any 4.x kernel */
	d->io.data_size = sizeof(d->io);
	d->io.data_start = sizeof(d->io);
	strcpy(d->io.name, name);
	return 0;
}

static int lw_dm_ioctl(unsigned long cmd, union lw_dm_buf *d)
{
	int fd, ret = 0;

	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, cmd, &d->io))
		ret = -errno;
	close(fd);
	return ret;
}

/* Remove NAME, retrying while it is open (the caller may just have closed it). */
int lw_dm_remove(const char *name)
{
	union lw_dm_buf d;
	unsigned int waited = 0;
	int ret;

	for (;;) {
		ret = lw_dm_init(&d, name);
		if (ret)
			return ret;
		ret = lw_dm_ioctl(DM_DEV_REMOVE, &d);
		if (ret != -EBUSY || waited >= LW_WAIT_MS)
			return ret;
		lw_sleep_ms(50);
		waited += 50;
	}
}

static int lw_dm_load(const char *name, uint64_t sectors, const char *params)
{
	union lw_dm_buf d;
	struct dm_target_spec *spec;
	size_t len = strlen(params) + 1;
	int ret;

	ret = lw_dm_init(&d, name);
	if (ret)
		return ret;
	if (sizeof(d.io) + sizeof(*spec) + len > sizeof(d))
		return -ENAMETOOLONG;
	spec = (struct dm_target_spec *)(d.b + d.io.data_start);
	spec->sector_start = 0;
	spec->length = sectors;
	spec->next = 0;
	strcpy(spec->target_type, "log-writes");
	memcpy(spec + 1, params, len);
	d.io.target_count = 1;
	d.io.data_size = (d.io.data_start + sizeof(*spec) + len + 7) & ~7U;
	return lw_dm_ioctl(DM_TABLE_LOAD, &d);
}

/* A table argument must not be split by the kernel's dm_split_args. */
static bool lw_plain_arg(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s == ' ' || *s == '\\' || (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

int lw_dm_create(const char *name, const char *data_dev, const char *log_dev,
		 char *path, size_t pathlen)
{
	char params[2 * PATH_MAX + 2];
	union lw_dm_buf d;
	uint64_t bytes;
	unsigned int maj, min, waited = 0;
	struct stat st;
	int fd, ret;

	if (!lw_plain_arg(data_dev) || !lw_plain_arg(log_dev))
		return -EINVAL;
	if ((size_t)snprintf(params, sizeof(params), "%s %s", data_dev,
			     log_dev) >= sizeof(params))
		return -ENAMETOOLONG;
	/* "/dev/dm-" and a 20-bit minor */
	if (pathlen < sizeof("/dev/dm-1048575"))
		return -ENAMETOOLONG;

	fd = open(data_dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = lw_fd_size(fd, &bytes);
	close(fd);
	if (ret)
		return ret;
	if (bytes < 512)
		return -EINVAL;

	ret = lw_dm_init(&d, name);
	if (ret)
		return ret;
	ret = lw_dm_ioctl(DM_DEV_CREATE, &d);
	if (ret) /* -EBUSY from the kernel means NAME exists */
		return ret == -EBUSY ? -EEXIST : ret;
	maj = major(d.io.dev);
	min = minor(d.io.dev);

	ret = lw_dm_load(name, bytes >> 9, params);
	if (ret)
		goto remove;
	ret = lw_dm_init(&d, name);
	if (!ret)
		ret = lw_dm_ioctl(DM_DEV_SUSPEND, &d);	/* no DM_SUSPEND_FLAG: resume */
	if (ret)
		goto remove;

	snprintf(path, pathlen, "/dev/dm-%u", min);
	for (;;) {
		if (!stat(path, &st) && S_ISBLK(st.st_mode) &&
		    st.st_rdev == makedev(maj, min))
			return 0;
		if (waited >= LW_WAIT_MS)
			break;
		lw_sleep_ms(20);
		waited += 20;
	}
	ret = -ETIMEDOUT;
remove:
	lw_dm_remove(name);
	return ret;
}

int lw_dm_mark(const char *name, const char *text)
{
	union lw_dm_buf d;
	struct dm_target_msg *msg;
	size_t len = text ? strlen(text) : 0;
	char *out;
	int ret;

	if (!len || len > LW_MARK_MAX)
		return -EINVAL;
	ret = lw_dm_init(&d, name);
	if (ret)
		return ret;
	msg = (struct dm_target_msg *)(d.b + d.io.data_start);
	msg->sector = 0;
	out = msg->message;
	out += sprintf(out, "mark ");
	/* at most 2 * LW_MARK_MAX + 6 bytes: far below LW_DM_BUF */
	for (; *text; text++) {
		if (*text == ' ' || *text == '\\' ||
		    (*text >= '\t' && *text <= '\r'))
			*out++ = '\\';
		*out++ = *text;
	}
	*out++ = 0;
	d.io.data_size = ((unsigned char *)out - d.b + 7) & ~7U;
	return lw_dm_ioctl(DM_TARGET_MSG, &d);
}

/* ---- reading the log ---- */

/* Sequential reads of a device through an aligned window (O_DIRECT). */
struct lw_reader {
	int fd;
	unsigned char *buf;
	uint64_t base;		/* device offset of buf[0] */
	size_t len;		/* valid bytes in buf */
	size_t align;
	uint64_t size;
};

static int lw_reader_get(struct lw_reader *r, uint64_t off, void *dst,
			 size_t n)
{
	unsigned char *d = dst;
	ssize_t got;
	size_t k;

	while (n) {
		if (off >= r->base && off < r->base + r->len) {
			k = r->base + r->len - off;
			if (k > n)
				k = n;
			memcpy(d, r->buf + (off - r->base), k);
			d += k;
			off += k;
			n -= k;
			continue;
		}
		if (off >= r->size)
			return -EBADMSG;	/* the log runs past the device */
		r->base = off & ~(uint64_t)(r->align - 1);
		r->len = 0;
		do {
			got = pread(r->fd, r->buf, LW_IO_MAX, r->base);
		} while (got < 0 && errno == EINTR);
		if (got < 0)
			return -errno;
		if ((uint64_t)got <= off - r->base)
			return -EBADMSG;
		r->len = got;
	}
	return 0;
}

static uint64_t lw_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static int lw_log_push(struct lw_log *log, size_t *cap)
{
	struct lw_entry *ne;

	if (log->n < *cap)
		return 0;
	*cap = *cap ? 2 * *cap : 256;
	ne = realloc(log->e, *cap * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	log->e = ne;
	return 0;
}

static int lw_log_parse(struct lw_reader *r, struct lw_log *log)
{
	unsigned char blk[LW_ENTRY_SIZE];
	uint64_t nr_entries, pos, i, mul, sector, nr, flags, dlen, bytes;
	uint32_t ss;
	size_t cap = 0;
	struct lw_entry *e;
	int ret;

	ret = lw_reader_get(r, 0, blk, LW_ENTRY_SIZE);
	if (ret)
		return ret;
	if (lw_le64(blk) != LW_MAGIC || lw_le64(blk + 8) != LW_VERSION)
		return -EBADMSG;
	nr_entries = lw_le64(blk + 16);
	memcpy(&ss, blk + 24, sizeof(ss));
	ss = le32toh(ss);
	if (ss < 512 || ss > 65536 || (ss & (ss - 1)))
		return -EBADMSG;
	if (nr_entries > r->size / ss)
		return -EBADMSG;
	log->sectorsize = ss;
	mul = ss / 512;

	pos = ss;
	for (i = 0; i < nr_entries; i++) {
		ret = lw_reader_get(r, pos, blk, LW_ENTRY_SIZE);
		if (ret)
			return ret;
		sector = lw_le64(blk);
		nr = lw_le64(blk + 8);
		flags = lw_le64(blk + 16);
		dlen = lw_le64(blk + 24);
		if (flags & ~(uint64_t)LW_KNOWN_FLAGS)
			return -EBADMSG;
		if (pos > r->size || nr > (r->size - pos) / ss ||
		    sector > (UINT64_MAX >> 10) / mul - nr)
			return -EBADMSG;
		if ((flags & LW_MARK) && (nr || dlen > ss - LW_ENTRY_SIZE))
			return -EBADMSG;
		ret = lw_log_push(log, &cap);
		if (ret)
			return ret;
		e = &log->e[log->n];
		memset(e, 0, sizeof(*e));
		e->sector = sector * mul;
		e->nr_sectors = nr * mul;
		e->flags = flags;
		log->n++;
		if (flags & LW_MARK) {
			e->mark = malloc(dlen + 1);
			if (!e->mark)
				return -ENOMEM;
			ret = lw_reader_get(r, pos + LW_ENTRY_SIZE, e->mark, dlen);
			if (ret)
				return ret;
			e->mark[dlen] = 0;
		}
		pos += ss;
		/*
		 * The data follows the entry block, nr blocks of it, for every
		 * entry but a discard (dm-log-writes advances its next_sector
		 * so); a non-mark data_len (inline data) lies in the same place.
		 */
		if (flags & LW_DISCARD)
			continue;
		if (nr) {
			bytes = nr * ss;
			if (bytes > SIZE_MAX)
				return -ENOMEM;
			e->data = malloc(bytes);
			if (!e->data)
				return -ENOMEM;
			ret = lw_reader_get(r, pos, e->data, bytes);
			if (ret)
				return ret;
			pos += bytes;
		}
	}
	return 0;
}

int lw_log_read(const char *log_dev, struct lw_log *log)
{
	struct lw_reader r;
	struct stat st;
	int lbs = 512, ret;

	memset(log, 0, sizeof(*log));
	memset(&r, 0, sizeof(r));
	r.fd = open(log_dev, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (r.fd < 0 && errno == EINVAL)	/* e.g. a file on tmpfs */
		r.fd = open(log_dev, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0)
		return -errno;
	ret = lw_fd_size(r.fd, &r.size);
	if (ret)
		goto out;
	if (fstat(r.fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (S_ISBLK(st.st_mode) && ioctl(r.fd, BLKSSZGET, &lbs)) {
		ret = -errno;
		goto out;
	}
	r.align = lbs > 4096 ? lbs : 4096;
	if (r.align > LW_IO_MAX || (r.align & (r.align - 1))) {
		ret = -EINVAL;
		goto out;
	}
	ret = posix_memalign((void **)&r.buf, r.align, LW_IO_MAX);
	if (ret) {
		r.buf = NULL;
		ret = -ret;
		goto out;
	}
	ret = lw_log_parse(&r, log);
out:
	free(r.buf);
	close(r.fd);
	if (ret)
		lw_log_free(log);
	return ret;
}

void lw_log_free(struct lw_log *log)
{
	size_t i;

	if (!log)
		return;
	for (i = 0; i < log->n; i++) {
		free(log->e[i].mark);
		free(log->e[i].data);
	}
	free(log->e);
	memset(log, 0, sizeof(*log));
}

/* ---- images ---- */

/*
 * What a target sector holds: LW_T_UNKNOWN, LW_T_ZERO, or the sector @off
 * (512 B units) of log entry @e as (e + 1) << 32 | off.
 */
#define LW_T_UNKNOWN	UINT64_MAX
#define LW_T_ZERO	0
#define LW_T_MAX_ENTRY	(UINT32_MAX - 2)

struct lw_image {
	int fd;
	uint64_t sectors;
	uint32_t gran;		/* sectors per write unit (logical block) */
	uint64_t *cur;		/* what the target holds */
	uint64_t *want;		/* what this build wants */
	unsigned char *buf;	/* LW_IO_MAX bytes, aligned */
	const struct lw_log *log;	/* of the last build: tags refer to it */
	const struct lw_entry *log_e;
	size_t log_n;
};

static const unsigned char lw_zero[512];

static const unsigned char *lw_tag_data(const struct lw_log *log, uint64_t t)
{
	if (t == LW_T_ZERO)
		return lw_zero;
	return log->e[(t >> 32) - 1].data + (t & UINT32_MAX) * 512;
}

int lw_image_new(struct lw_image **imgp, const char *target_dev,
		 uint64_t sectors)
{
	struct lw_image *img;
	struct stat st;
	uint64_t size;
	size_t align = 4096;
	int lbs = 512, ret;

	*imgp = NULL;
	if (!sectors || sectors > SIZE_MAX / sizeof(uint64_t))
		return -EINVAL;
	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->fd = open(target_dev, O_RDWR | O_CLOEXEC);
	if (img->fd < 0) {
		ret = -errno;
		free(img);
		return ret;
	}
	if (fstat(img->fd, &st)) {
		ret = -errno;
		goto err;
	}
	ret = lw_fd_size(img->fd, &size);
	if (ret)
		goto err;
	if (S_ISBLK(st.st_mode)) {
		/* reopen with O_DIRECT: no stale page cache for the module */
		close(img->fd);
		img->fd = open(target_dev, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (img->fd < 0) {
			ret = -errno;
			free(img);
			return ret;
		}
		if (ioctl(img->fd, BLKSSZGET, &lbs)) {
			ret = -errno;
			goto err;
		}
	}
	ret = -EINVAL;
	if (lbs < 512 || lbs > 65536 || (lbs & (lbs - 1)))
		goto err;
	img->gran = lbs / 512;
	if (sectors % img->gran)
		goto err;
	ret = -ERANGE;
	if (sectors > size / 512)
		goto err;
	img->sectors = sectors;
	if ((size_t)lbs > align)
		align = lbs;
	ret = posix_memalign((void **)&img->buf, align, LW_IO_MAX);
	if (ret) {
		img->buf = NULL;
		ret = -ret;
		goto err;
	}
	img->cur = malloc(sectors * sizeof(uint64_t));
	img->want = malloc(sectors * sizeof(uint64_t));
	ret = -ENOMEM;
	if (!img->cur || !img->want)
		goto err;
	memset(img->cur, 0xff, sectors * sizeof(uint64_t));	/* unknown */
	memset(img->want, 0, sectors * sizeof(uint64_t));	/* LW_T_ZERO */
	*imgp = img;
	return 0;
err:
	lw_image_free(img);
	return ret;
}

void lw_image_free(struct lw_image *img)
{
	if (!img)
		return;
	if (img->fd >= 0)
		close(img->fd);
	free(img->buf);
	free(img->cur);
	free(img->want);
	free(img);
}

void lw_image_forget(struct lw_image *img, uint64_t sector, uint64_t count)
{
	if (!img || sector >= img->sectors)
		return;
	if (count > img->sectors - sector)
		count = img->sectors - sector;
	memset(img->cur + sector, 0xff, count * sizeof(uint64_t));
}

static int lw_pieces_check(const struct lw_image *img, const struct lw_log *log,
			   const struct lw_piece *p, size_t n)
{
	const struct lw_entry *e;
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i].entry >= log->n || p[i].entry > LW_T_MAX_ENTRY)
			return -EINVAL;
		if (!p[i].count)
			continue;
		e = &log->e[p[i].entry];
		if ((uint64_t)p[i].first + p[i].count > e->nr_sectors)
			return -ERANGE;
		if (!e->data && !(e->flags & LW_DISCARD))
			return -EINVAL;
		if (e->sector > img->sectors ||
		    (uint64_t)p[i].first + p[i].count > img->sectors - e->sector)
			return -ERANGE;
	}
	return 0;
}

/*
 * Does write unit @u need writing? Sectors known to hold the wanted bytes
 * under another tag take the wanted tag.
 */
static bool lw_unit_dirty(struct lw_image *img, const struct lw_log *log,
			  uint64_t u)
{
	uint64_t s = u * img->gran, end = s + img->gran, c, w;
	bool dirty = false;

	for (; s < end; s++) {
		c = img->cur[s];
		w = img->want[s];
		if (c == w)
			continue;
		if (c != LW_T_UNKNOWN &&
		    !memcmp(lw_tag_data(log, c), lw_tag_data(log, w), 512))
			img->cur[s] = w;
		else
			dirty = true;
	}
	return dirty;
}

/* Write sectors [start, start + nr) as wanted. */
static int lw_image_write(struct lw_image *img, const struct lw_log *log,
			  uint64_t start, uint64_t nr)
{
	const uint64_t *w = img->want + start;
	uint64_t s, k;
	ssize_t ret;

	/* one copy per stretch of consecutive sectors of one entry, or zeros */
	for (s = 0; s < nr; s += k) {
		for (k = 1; s + k < nr; k++)
			if (w[s] == LW_T_ZERO ? w[s + k] != LW_T_ZERO :
			    w[s + k] != w[s] + k)
				break;
		if (w[s] == LW_T_ZERO)
			memset(img->buf + s * 512, 0, k * 512);
		else
			memcpy(img->buf + s * 512, lw_tag_data(log, w[s]), k * 512);
	}
	do {
		ret = pwrite(img->fd, img->buf, nr * 512, start * 512);
	} while (ret < 0 && errno == EINTR);
	if (ret != (ssize_t)(nr * 512)) {
		for (s = 0; s < nr; s++)
			img->cur[start + s] = LW_T_UNKNOWN;
		return ret < 0 ? -errno : -EIO;
	}
	for (s = 0; s < nr; s++)
		img->cur[start + s] = w[s];
	return 0;
}

/*
 * Keep the loops below loops: GCC would turn the ones that reset want[] into
 * a memset() call per write unit, and under QEMU TCG, where the tests run,
 * glibc's memset (rep stosb) is ~3x slower than a plain loop even on 1 MiB.
 * Like glibc's own inhibit_loop_to_libcall.
 */
#define LW_NO_LIBCALL \
	__attribute__((__optimize__("-fno-tree-loop-distribute-patterns")))

/*
 * Write every write unit of the target that does not hold what want[] says,
 * and reset want[] to LW_T_ZERO behind the scan, as the next build expects
 * it (so no build clears the whole array). Adds the sectors written to
 * @written.
 */
static LW_NO_LIBCALL int lw_image_sync(struct lw_image *img,
				       const struct lw_log *log,
				       uint64_t *written)
{
	const uint64_t g = img->gran, n = img->sectors, max = LW_IO_MAX / 512;
	uint64_t *cur = img->cur, *want = img->want, s = 0, e, run;
	int ret;

	while (s < n) {
		if (g == 1) {
			while (s < n && cur[s] == want[s])
				want[s++] = LW_T_ZERO;
			if (s == n)
				break;
		}
		for (e = s; e < s + g && cur[e] == want[e]; e++)
			;
		if (e == s + g || !lw_unit_dirty(img, log, s / g)) {
			for (e = s; e < s + g; e++)
				want[e] = LW_T_ZERO;
			s += g;
			continue;
		}
		run = g;
		while (run < max && s + run < n &&
		       lw_unit_dirty(img, log, (s + run) / g))
			run += g;
		ret = lw_image_write(img, log, s, run);
		if (ret) {
			for (e = s; e < n; e++)
				want[e] = LW_T_ZERO;
			return ret;
		}
		for (e = s; e < s + run; e++)
			want[e] = LW_T_ZERO;
		*written += run;
		s += run;
	}
	return 0;
}

int lw_image_build(struct lw_image *img, const struct lw_log *log,
		   const struct lw_piece *p, size_t n)
{
	uint64_t written = 0, *w, tag;
	const struct lw_entry *e;
	size_t i;
	uint32_t k;
	int ret;

	ret = lw_pieces_check(img, log, p, n);
	if (ret)
		return ret;
	if (img->log != log || img->log_e != log->e || img->log_n != log->n) {
		/* tags of another log mean nothing here */
		lw_image_forget(img, 0, img->sectors);
		img->log = log;
		img->log_e = log->e;
		img->log_n = log->n;
	}

	/* want[] is all LW_T_ZERO here (lw_image_new, lw_image_sync) */
	for (i = 0; i < n; i++) {
		if (!p[i].count)
			continue;
		e = &log->e[p[i].entry];
		w = img->want + e->sector + p[i].first;
		if (!e->data) {		/* discard */
			memset(w, 0, p[i].count * sizeof(uint64_t));
			continue;
		}
		tag = ((uint64_t)p[i].entry + 1) << 32 | p[i].first;
		for (k = 0; k < p[i].count; k++)
			w[k] = tag + k;
	}
	ret = lw_image_sync(img, log, &written);
	if (ret)
		return ret;
	return written > INT_MAX ? INT_MAX : (int)written;
}
