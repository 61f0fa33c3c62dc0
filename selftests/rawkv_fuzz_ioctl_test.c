// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv ioctl fuzzer: at least a million random ioctls on /dev/rawkv.
 *
 * Commands are the six real ones (half the calls), numbers next to them
 * (magic RAWKV_IOC_MAGIC, nr 0..15, random direction and size), other
 * drivers' magics and entirely random numbers. The argument pointer and the
 * key_ptr/val_ptr/meta_ptr of the struct it points to come from one pool:
 * NULL, low addresses, an unmapped page, a read-only mapping, kernel and
 * non-canonical addresses, the end of user space, and a read-write arena at
 * any alignment, up to a PROT_NONE guard page. Lengths are small, near
 * RAWKV_KEY_MAX, near value_max or huge; flags and reserved fields are
 * mostly zero. Three calls in four carry no user metadata; the others have
 * a metadata length of 1..RAWKV_META_MAX (mostly; for GET and EXISTS often
 * about the key's), RAWKV_META_MAX + 1 or huge, or a meta_ptr without one.
 *
 * About one call in 200 goes through io_uring instead (IORING_OP_URING_CMD,
 * sometimes with IOSQE_ASYNC): cmd_op is one of the four commands served
 * there, any other rawkv number or a random one; kv_ptr comes from the same
 * pool, and the reserved field is mostly zero. Its CQE must carry what the
 * ioctl would return (a length for GET and EXISTS), -ENOTTY for any other
 * cmd_op, -EINVAL for a nonzero reserved field.
 *
 * Every call is checked against a model of the store and of our memory:
 * the result must be one the ABI allows for that call (0, or an errno
 * whose condition holds: -EINVAL, -E2BIG, -EMSGSIZE, -EFAULT, -ENOENT,
 * -ERANGE, -ENOSPC, -ENOTTY; -ENOMEM always), and GET, EXISTS, DELETE and
 * successful PUTs must agree with the keys the fuzzer put: the model keeps
 * each key's value and user metadata (length and hash), so GET and EXISTS
 * with a metadata buffer must write back the metadata's length, on -ERANGE
 * for a buffer too small too, and its bytes. No call may return -EIO or an
 * undocumented errno, and the kernel must not log an Oops (vm.sh checks).
 *
 * Eight known keys, put first (some with metadata), start with the byte
 * KNOWN_PREFIX; the fuzzer never issues a call whose key starts with it,
 * so they must come through untouched, and survive an rmmod and reload
 * with format=0, as must every key of the model, metadata included.
 *
 * The store runs with evict=0, so that nothing can push the known keys
 * out, and without the periodic checkpoint, so that a seed replays the
 * same calls with the same results. The fuzzer's keys are mostly 64 keys
 * of its own; the other keys it creates are deleted again whenever it has
 * more than MODEL_HIGH, far below the 1014 slots: -ENOSPC is a failure.
 * Most calls are cheap (rejected, or small values); FLUSH and the largest
 * values are rare, for the test to take well under a minute in the TCG VM.
 *
 * RAWKV_FUZZ_SEED=N and RAWKV_FUZZ_CALLS=N override the seed (random and
 * printed by default) and the number of calls (1,000,000); a failed call
 * is printed with the values of both that replay up to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <asm/ioctls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rawkv_test_util.h"
#include "../uapi/rawkv.h"
#include "kselftest_harness.h"

#define DEFAULT_CALLS	1000000UL
#define SLOT_SIZE	65536UL
#define PAGE		4096UL

#define KNOWN_PREFIX	0xA5	/* first byte of every known key */
#define NKNOWN		8
#define NCANON		64	/* the fuzzer's own key space */
#define CANON_STRIDE	256
#define MODEL_MAX	1024	/* fuzzer keys the model can hold */
#define MODEL_HIGH	192	/* prune the fuzzer's keys above this... */
#define MODEL_LOW	96	/* ...down to this */
#define MAX_REPORTS	8	/* bad calls logged in detail */

/*
 * Our memory, at fixed addresses so that a seed replays the same keys:
 * the arena (read-write) and the read-only area are each followed by a
 * PROT_NONE guard page; the unmapped page has nothing mapped.
 */
#define ARENA_ADDR	0x200000000000UL
#define ARENA_BYTES	(17 * PAGE)	/* > value_max: 60 KiB */
#define RO_ADDR		0x200040000000UL
#define RO_BYTES	(20 * PAGE)
#define RO_KEYS_OFF	0		/* NCANON keys, CANON_STRIDE apart */
#define RO_STRUCTS_OFF	(4 * PAGE)	/* NRO_STRUCTS prebuilt structs */
#define RO_STRUCT_STRIDE 256
#define NRO_STRUCTS	8
#define RO_DATA_OFF	(5 * PAGE)	/* value bytes */
#define UNMAPPED_ADDR	0x200080000000UL
#define TASK_END	0x7ffffffff000UL	/* TASK_SIZE_MAX on x86-64 */

/* Result codes: bit i of an "allowed" mask is result i. */
enum res { RES_OK, RES_EINVAL, RES_E2BIG, RES_EMSGSIZE, RES_EFAULT,
	   RES_ENOENT, RES_ERANGE, RES_ENOSPC, RES_ENOTTY, RES_ENOMEM,
	   RES_OTHER, RES_NR };
static const char *const res_name[RES_NR] = {
	"0", "EINVAL", "E2BIG", "EMSGSIZE", "EFAULT", "ENOENT", "ERANGE",
	"ENOSPC", "ENOTTY", "ENOMEM", "other",
};
#define B(r)	(1U << (r))

/* Command classes, for the histogram. */
enum cls { C_PUT, C_GET, C_DELETE, C_EXISTS, C_FLUSH, C_STAT, C_NEAR,
	   C_OTHER, C_URING, C_NR };
static const char *const cls_name[C_NR] = {
	"PUT", "GET", "DELETE", "EXISTS", "FLUSH", "STAT", "magic-B7", "other",
	"uring",
};
/* The classes that take a struct rawkv_kv. */
#define C_IS_KV(c)	((c) <= C_EXISTS)

/* Pointer kinds of the pool. */
enum pk { PK_NULL, PK_LOW, PK_UNMAPPED, PK_RO, PK_KERNEL, PK_HIGH,
	  PK_TASK_END, PK_ARENA, PK_ARENA_ODD, PK_ARENA_END, PK_NR };

static const uint64_t kernel_addrs[] = {
	0xffffffff81000000ULL,	/* kernel text */
	0xffff888000000000ULL,	/* direct map */
	0xffffc90000000000ULL,	/* vmalloc */
	0xffffea0000000000ULL,	/* vmemmap */
	0xffffffffff600000ULL,	/* vsyscall page */
	0xfffffffffffff000ULL,	/* ERR_PTR range */
	0xfffffffffffffff8ULL,	/* wraps with any length > 8 */
	0xffffffffffffffffULL,
	0x8000000000000000ULL,	/* non-canonical */
	0x0000800000000000ULL,	/* first non-canonical address */
	0xdead000000000100ULL,	/* LIST_POISON1 */
};

/* The generic ioctls fs/ioctl.c handles before the driver sees them. */
static const uint32_t vfs_cmds[] = {
	FIOCLEX, FIONCLEX, FIONBIO, FIOASYNC, FIOQSIZE, FIFREEZE, FITHAW,
	FS_IOC_FIEMAP, FIGETBSZ, FICLONE, FICLONERANGE, FIDEDUPERANGE,
	FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_IOC_FSGETXATTR,
	FS_IOC_FSSETXATTR,
};

/* A key of the fuzzer's that exists in the store, its value and metadata. */
struct mkey {
	uint8_t key[RAWKV_KEY_MAX];
	uint32_t klen;
	uint32_t mlen;		/* metadata length, 0: none */
	uint64_t vlen;
	uint64_t vhash;
	uint64_t mhash;		/* hash of the metadata */
	int next;		/* hash chain, -1 ends */
	bool used;
};

struct known {
	uint8_t key[RAWKV_KEY_MAX];
	uint32_t klen;
	uint8_t *val;
	uint64_t vlen;
	uint8_t meta[RAWKV_META_MAX];
	uint32_t mlen;
};

struct fuzz {
	int fd;
	struct io_uring ring;
	bool ring_ok;
	uint64_t seed, rng, calls;
	uint64_t value_max, slots_total;
	uint8_t *arena, *ro;
	uint32_t canon_len[NCANON];
	struct known known[NKNOWN];

	/* the model: the fuzzer's keys in the store */
	struct mkey *m;
	int buckets[1024];
	int nkeys, free_hint;

	/* statistics */
	uint64_t hist[C_NR][RES_NR];
	uint64_t cls_ns[C_NR];		/* time in ioctl() */
	uint64_t bad, unexpected_errno, skipped, pruned, new_keys;
	uint64_t puts_ok, gets_data, flushes_ok, uring_calls;
	uint64_t puts_meta, metas_got, metas_range;
	uint64_t ns;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t rnd(struct fuzz *f)
{
	return kv_rand(&f->rng);
}

/* Uniform in [0, n); n > 0. */
static uint64_t below(struct fuzz *f, uint64_t n)
{
	return rnd(f) % n;
}

static bool chance(struct fuzz *f, unsigned int percent)
{
	return below(f, 100) < percent;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static uint64_t hash_bytes(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL ^ len, w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; len; p++, len--)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h;
}

/* [p, p + n) lies within [base, base + size); n == 0 always does. */
static bool within(uint64_t p, uint64_t n, const void *base, uint64_t size)
{
	uint64_t b = (uintptr_t)base;

	if (!n)
		return true;
	return p >= b && p - b <= size && n <= size - (p - b);
}

/* Whether the kernel can read [p, p + n) in our address space. */
static bool readable(struct fuzz *f, uint64_t p, uint64_t n)
{
	return within(p, n, f->arena, ARENA_BYTES) ||
	       within(p, n, f->ro, RO_BYTES);
}

static bool writable(struct fuzz *f, uint64_t p, uint64_t n)
{
	return within(p, n, f->arena, ARENA_BYTES);
}

static bool overlap(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
	return an && bn && a < b + bn && b < a + an;
}

static enum res res_of(int err)
{
	switch (err) {
	case 0: return RES_OK;
	case EINVAL: return RES_EINVAL;
	case E2BIG: return RES_E2BIG;
	case EMSGSIZE: return RES_EMSGSIZE;
	case EFAULT: return RES_EFAULT;
	case ENOENT: return RES_ENOENT;
	case ERANGE: return RES_ERANGE;
	case ENOSPC: return RES_ENOSPC;
	case ENOTTY: return RES_ENOTTY;
	case ENOMEM: return RES_ENOMEM;
	}
	return RES_OTHER;
}

static const char *mask_str(unsigned int mask, char *buf, size_t size)
{
	size_t n = 0;
	int r;

	buf[0] = 0;
	for (r = 0; r < RES_NR; r++)
		if (mask & B(r))
			n += snprintf(buf + n, size - n, "%s%s", n ? "|" : "",
				      res_name[r]);
	return buf;
}

/* The flags @c accepts in struct rawkv_kv. */
static uint32_t kv_flags_valid(enum cls c)
{
#ifdef RAWKV_PUT_SYNC
	if (c == C_PUT)
		return RAWKV_PUT_SYNC;
#endif
	(void)c;
	return 0;
}

/* ---- the model of the fuzzer's keys ------------------------------------ */

static unsigned int bucket_of(const void *key, uint32_t klen)
{
	return hash_bytes(key, klen) & 1023;
}

static struct mkey *model_find(struct fuzz *f, const void *key, uint32_t klen)
{
	int i;

	for (i = f->buckets[bucket_of(key, klen)]; i >= 0; i = f->m[i].next)
		if (f->m[i].klen == klen && !memcmp(f->m[i].key, key, klen))
			return &f->m[i];
	return NULL;
}

/* Record a successful PUT; false when the model is full. */
static bool model_put(struct fuzz *f, const void *key, uint32_t klen,
		      uint64_t vlen, uint64_t vhash, uint32_t mlen,
		      uint64_t mhash)
{
	struct mkey *e = model_find(f, key, klen);
	unsigned int b;
	int i;

	if (!e) {
		for (i = 0; i < MODEL_MAX; i++) {
			int j = (f->free_hint + i) % MODEL_MAX;

			if (!f->m[j].used)
				break;
		}
		if (i == MODEL_MAX)
			return false;
		i = (f->free_hint + i) % MODEL_MAX;
		f->free_hint = i + 1;
		e = &f->m[i];
		memcpy(e->key, key, klen);
		e->klen = klen;
		e->used = true;
		b = bucket_of(key, klen);
		e->next = f->buckets[b];
		f->buckets[b] = i;
		f->nkeys++;
		f->new_keys++;
	}
	e->vlen = vlen;
	e->vhash = vhash;
	e->mlen = mlen;
	e->mhash = mhash;
	return true;
}

static void model_delete(struct fuzz *f, struct mkey *e)
{
	int *pp = &f->buckets[bucket_of(e->key, e->klen)];
	int i = e - f->m;

	while (*pp != i)
		pp = &f->m[*pp].next;
	*pp = e->next;
	e->used = false;
	f->nkeys--;
}

/* ---- choosing commands, pointers and lengths ------------------------- */

/* A pointer of kind @k; in the arena, with room for @need bytes if it has. */
static uint64_t ptr_of_kind(struct fuzz *f, enum pk k, uint64_t need)
{
	uint64_t room, a = (uintptr_t)f->arena;

	switch (k) {
	case PK_NULL:
		return 0;
	case PK_LOW:
		return 1 + below(f, PAGE - 1);
	case PK_UNMAPPED:
		return UNMAPPED_ADDR + below(f, PAGE);
	case PK_RO:
		room = need < RO_BYTES ? RO_BYTES - need : 0;
		return (uintptr_t)f->ro + below(f, room + 1);
	case PK_KERNEL:
		return kernel_addrs[below(f, ARRAY_SIZE(kernel_addrs))] -
		       (chance(f, 50) ? 0 : below(f, 64));
	case PK_HIGH:
		/* at or above 2^47: never mapped in user space */
		return rnd(f) | (1ULL << (47 + below(f, 17)));
	case PK_TASK_END:
		/* below it may be our stack (no ASLR): never point there */
		return TASK_END + below(f, PAGE);
	case PK_ARENA:
		room = need < ARENA_BYTES ? ARENA_BYTES - need : 0;
		return a + (below(f, room + 1) & ~7ULL);
	case PK_ARENA_ODD:
		room = need < ARENA_BYTES ? ARENA_BYTES - need : 0;
		return a + below(f, room + 1);
	case PK_ARENA_END:
		/* ends at the guard page, or runs a few bytes into it */
		if (need > ARENA_BYTES)
			return a;
		return a + ARENA_BYTES - need +
		       (chance(f, 60) ? 0 : 1 + below(f, 8));
	default:
		break;
	}
	return 0;
}

static uint64_t any_ptr(struct fuzz *f, uint64_t need)
{
	return ptr_of_kind(f, below(f, PK_NR), need);
}

/* The argument of the call, for a struct of @size bytes. */
static uint64_t arg_ptr(struct fuzz *f, uint64_t size)
{
	unsigned int r = below(f, 100);

	if (r < 72)
		return ptr_of_kind(f, PK_ARENA, size);
	if (r < 75)
		return ptr_of_kind(f, PK_ARENA_ODD, size);
	if (r < 80)
		return ptr_of_kind(f, PK_ARENA_END, size);
	if (r < 84)
		return (uintptr_t)f->ro + RO_STRUCTS_OFF +
		       below(f, NRO_STRUCTS) * RO_STRUCT_STRIDE;
	return any_ptr(f, size);
}

static uint32_t rnd_flags32(struct fuzz *f, unsigned int zero_percent)
{
	if (chance(f, zero_percent))
		return 0;
	return chance(f, 50) ? 1U << below(f, 32) : (uint32_t)rnd(f);
}

static uint64_t rnd_flags64(struct fuzz *f, unsigned int zero_percent)
{
	if (chance(f, zero_percent))
		return 0;
	return chance(f, 50) ? 1ULL << below(f, 64) : rnd(f);
}

static uint32_t rnd_key_len(struct fuzz *f)
{
	static const uint32_t odd[] = { 0, 1, 254, 255, 256, 257, 1024,
					0x7fffffff, 0x80000000, 0xffffffff };
	unsigned int r = below(f, 100);

	if (r < 40)
		return 1 + below(f, 16);
	if (r < 60)
		return 1 + below(f, RAWKV_KEY_MAX);
	if (r < 90)
		return odd[below(f, ARRAY_SIZE(odd))];
	return (uint32_t)rnd(f);
}

/* A value (PUT) or buffer (GET) length. */
static uint64_t rnd_val_len(struct fuzz *f)
{
	uint64_t vm = f->value_max;
	unsigned int r = below(f, 1000);

	if (r < 120)
		return 0;
	if (r < 560)
		return 1 + below(f, 64);
	if (r < 760)
		return 65 + below(f, PAGE - 64);
	if (r < 790)
		return PAGE + 1 + below(f, 3 * PAGE);
	if (r < 800)
		return vm - below(f, 2);		/* the largest values */
	if (r < 850) {				/* just too large */
		static const uint64_t d[] = { 1, 2, PAGE, PAGE + 1 };

		return vm + d[below(f, ARRAY_SIZE(d))];
	}
	if (r < 950) {				/* huge */
		static const uint64_t h[] = {
			1ULL << 32, (1ULL << 32) + 1, 1ULL << 63, ~0ULL,
			~0ULL - PAGE, 1ULL << 47, SLOT_SIZE, 2 * SLOT_SIZE,
		};

		return chance(f, 70) ? h[below(f, ARRAY_SIZE(h))] : rnd(f);
	}
	return below(f, 2 * vm);
}

/* A metadata (PUT) or metadata buffer (GET, EXISTS) length, not 0. */
static uint32_t rnd_meta_len(struct fuzz *f)
{
	static const uint32_t odd[] = { RAWKV_META_MAX + 2, 4096, 65536,
					0x7fffffff, 0x80000000, 0xffffffff };
	unsigned int r = below(f, 100);

	if (r < 45)
		return 1 + below(f, 32);
	if (r < 80)
		return 1 + below(f, RAWKV_META_MAX);
	if (r < 86)
		return RAWKV_META_MAX;
	if (r < 92)
		return RAWKV_META_MAX + 1;		/* just too long */
	if (r < 98)
		return odd[below(f, ARRAY_SIZE(odd))];	/* huge */
	return (uint32_t)rnd(f);
}

/* Where a value, metadata or a buffer for either is: mostly the arena. */
static uint64_t data_ptr(struct fuzz *f, uint64_t need)
{
	unsigned int r = below(f, 100);

	if (r < 60)
		return ptr_of_kind(f, chance(f, 70) ? PK_ARENA : PK_ARENA_ODD,
				   need);
	if (r < 72)
		return ptr_of_kind(f, PK_ARENA_END, need);
	if (r < 80)
		return ptr_of_kind(f, PK_RO, need);
	return any_ptr(f, need);
}

/* The key of *kv in the model, if the kernel can read it. */
static struct mkey *kv_model_key(struct fuzz *f, const struct rawkv_kv *kv)
{
	if (!kv->key_len || kv->key_len > RAWKV_KEY_MAX ||
	    !readable(f, kv->key_ptr, kv->key_len))
		return NULL;
	return model_find(f, (void *)(uintptr_t)kv->key_ptr, kv->key_len);
}

/*
 * Fill *kv for @c (PUT, GET, DELETE, or a fake command). Keys are mostly
 * the fuzzer's own 64 keys (in the read-only area); sometimes bytes of the
 * arena or of any pool pointer, with any length. Most calls carry no user
 * metadata; the others take it, or a buffer for it, from the same pool as
 * values.
 */
static void gen_kv(struct fuzz *f, enum cls c, struct rawkv_kv *kv)
{
	unsigned int r = below(f, 100);
	struct mkey *e;
	uint64_t vlen;

	memset(kv, 0, sizeof(*kv));
	if (r < 70) {
		unsigned int i = below(f, NCANON);

		kv->key_ptr = (uintptr_t)f->ro + RO_KEYS_OFF + i * CANON_STRIDE;
		kv->key_len = chance(f, 92) ? f->canon_len[i] : rnd_key_len(f);
	} else if (r < 80) {
		kv->key_len = chance(f, 80) ? 1 + below(f, 8) : rnd_key_len(f);
		kv->key_ptr = ptr_of_kind(f, chance(f, 50) ? PK_ARENA_ODD :
					  PK_ARENA_END, kv->key_len);
	} else {
		kv->key_len = rnd_key_len(f);
		kv->key_ptr = any_ptr(f, kv->key_len);
	}

	vlen = rnd_val_len(f);
	e = c == C_GET || c == C_EXISTS ? kv_model_key(f, kv) : NULL;
	/* GET: sometimes a buffer of exactly (or about) the value's size */
	if (e && c == C_GET && chance(f, 25))
		vlen = e->vlen + below(f, 3) - (e->vlen ? 1 : 0);
	kv->val_len = vlen;
	kv->val_ptr = data_ptr(f, vlen);

	if ((c == C_DELETE || c == C_EXISTS) && chance(f, 85)) {
		kv->val_ptr = 0;
		kv->val_len = 0;
	}

	/* user metadata: mostly none (a DELETE's, nearly always) */
	if (!chance(f, 75) && (c != C_DELETE || chance(f, 15))) {
		kv->meta_len = rnd_meta_len(f);
		/* GET, EXISTS: sometimes a buffer of about its size */
		if (e && e->mlen && chance(f, 30))
			kv->meta_len = e->mlen - 1 + below(f, 3);
		kv->meta_ptr = data_ptr(f, kv->meta_len);
		if (chance(f, 8))
			kv->meta_len = 0;	/* a pointer, no length */
	}
	kv->flags = rnd_flags32(f, 92);
	if (c == C_PUT && chance(f, 3))
		kv->flags = kv_flags_valid(c);	/* RAWKV_PUT_SYNC */
	kv->reserved = rnd_flags32(f, 95);
}

static void gen_flush(struct fuzz *f, struct rawkv_flush *fl)
{
	fl->flags = rnd_flags32(f, 90);
	fl->reserved0 = rnd_flags32(f, 95);
	fl->checkpoint_seq = chance(f, 50) ? 0 : rnd(f);	/* output */
	fl->reserved[0] = rnd_flags64(f, 95);
	fl->reserved[1] = rnd_flags64(f, 95);
}

static void gen_stat(struct fuzz *f, struct rawkv_ioc_stat *st)
{
	uint64_t *w = (uint64_t *)st;
	size_t i;

	/* everything but flags is output; fill it with junk sometimes */
	memset(st, 0, sizeof(*st));
	if (chance(f, 30))
		for (i = 0; i < sizeof(*st) / 8; i++)
			w[i] = rnd(f);
	st->flags = rnd_flags32(f, 88);
}

static bool is_vfs_cmd(uint32_t cmd)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vfs_cmds); i++)
		if (vfs_cmds[i] == cmd)
			return true;
	return false;
}

/* The command number, as passed to ioctl() (upper bits are dropped). */
static unsigned long gen_cmd(struct fuzz *f)
{
	static const unsigned long real[] = {
		RAWKV_IOC_PUT, RAWKV_IOC_GET, RAWKV_IOC_DELETE,
		RAWKV_IOC_EXISTS, RAWKV_IOC_FLUSH, RAWKV_IOC_STAT,
	};
	/* the mix of the real commands, out of 500 */
	static const unsigned int share[] = { 60, 150, 100, 40, 5, 145 };
	static const unsigned int sizes[] = {
		0, 8, 16, 32, 40, 48, 56, 248, 256, 4096,
	};
	unsigned int r = below(f, 1000), i, size;
	unsigned long cmd;

	if (r < 500) {
		for (i = 0; r >= share[i]; i++)
			r -= share[i];
		return real[i];
	}
	if (r < 900) {
		/*
		 * Not the exact batch commands: the model does not follow
		 * their effects (rawkv_fast_test covers them), nor LIST
		 * (rawkv_list_test has its random arguments); any other
		 * direction or size of their numbers still must be -ENOTTY.
		 */
		do {
			size = chance(f, 50) ?
			       sizes[below(f, ARRAY_SIZE(sizes))] :
			       below(f, 4097);
			cmd = _IOC(below(f, 4), RAWKV_IOC_MAGIC, below(f, 16),
				   size);
		} while (cmd == RAWKV_IOC_PUT_BATCH ||
			 cmd == RAWKV_IOC_GET_BATCH || cmd == RAWKV_IOC_LIST);
		return cmd;
	}
	if (r < 950) {
		/* the real commands with another driver's magic */
		i = below(f, ARRAY_SIZE(real));
		cmd = real[i] ^ ((1 + below(f, 255)) << _IOC_TYPESHIFT);
		return cmd;
	}
	do {
		cmd = rnd(f);
		if (chance(f, 70))
			cmd = (uint32_t)cmd;
	} while (is_vfs_cmd((uint32_t)cmd));
	return cmd;
}

static enum cls cls_of(unsigned long cmd)
{
	switch ((uint32_t)cmd) {
	case RAWKV_IOC_PUT: return C_PUT;
	case RAWKV_IOC_GET: return C_GET;
	case RAWKV_IOC_DELETE: return C_DELETE;
	case RAWKV_IOC_EXISTS: return C_EXISTS;
	case RAWKV_IOC_FLUSH: return C_FLUSH;
	case RAWKV_IOC_STAT: return C_STAT;
	}
	return _IOC_TYPE((uint32_t)cmd) == RAWKV_IOC_MAGIC ? C_NEAR : C_OTHER;
}

/* Copy @n bytes of @src to @p, as far as the arena goes. */
static void place(struct fuzz *f, uint64_t p, const void *src, uint64_t n)
{
	uint64_t a = (uintptr_t)f->arena;

	if (p < a || p >= a + ARENA_BYTES)
		return;
	if (n > a + ARENA_BYTES - p)
		n = a + ARENA_BYTES - p;
	memcpy((void *)(uintptr_t)p, src, n);
}

/* ---- one call ------------------------------------------------------- */

/* What we know about a call, to check it and to report it. */
struct call {
	uint64_t idx;
	unsigned long cmd;
	enum cls c;
	uint64_t argp;
	bool arg_readable;
	struct rawkv_kv kv;		/* as the kernel reads it */
	bool key_ok;			/* key_len valid and key readable */
	uint8_t key[RAWKV_KEY_MAX];	/* the key as the kernel reads it */
	struct mkey *e;			/* the key in the model */
	uint64_t vhash;			/* PUT: hash of the value */
	uint64_t mhash;			/* PUT: hash of the metadata */
	unsigned int allowed;
	bool uring;			/* an io_uring command, not an ioctl */
	uint64_t reserved;		/* uring: rawkv_uring_cmd.reserved */
	int ret, err;
	const char *why;		/* model check that failed */
};

/*
 * What GET or EXISTS of a key of the model may return for its metadata
 * buffer (meta_len > 0), once the value is in place: -ERANGE when the
 * metadata is longer, with val_len and meta_len written; else 0, with
 * the metadata written too; -EFAULT for memory it cannot write.
 */
static unsigned int meta_results(struct fuzz *f, struct call *cl)
{
	struct rawkv_kv *kv = &cl->kv;
	uint64_t field = cl->argp + offsetof(struct rawkv_kv, val_len);
	uint64_t mfield = cl->argp + offsetof(struct rawkv_kv, meta_len);
	bool fields = writable(f, field, 8) && writable(f, mfield, 4);
	unsigned int err = fields ? 0 : B(RES_EFAULT);

	if (!writable(f, kv->meta_ptr, kv->meta_len))
		err |= B(RES_EFAULT);	/* may, or may not, be used */
	if (cl->e->mlen > kv->meta_len)
		return err | (fields ? B(RES_ERANGE) : 0);
	return err | (fields && writable(f, kv->meta_ptr, cl->e->mlen) ?
		      B(RES_OK) : B(RES_EFAULT));
}

/*
 * The results the ABI allows for @cl, given our memory and the model:
 * every error whose condition holds (the ABI gives no precedence among
 * them) and, when none does, the one outcome the model predicts.
 */
static unsigned int allowed_results(struct fuzz *f, struct call *cl)
{
	struct rawkv_kv *kv = &cl->kv;
	unsigned int err = B(RES_ENOMEM);
	uint64_t field = cl->argp + offsetof(struct rawkv_kv, val_len);
	uint64_t mfield = cl->argp + offsetof(struct rawkv_kv, meta_len);
	bool key_len_ok, val_ok;
	unsigned int mres;

	switch (cl->c) {
	case C_NEAR:
	case C_OTHER:
		return B(RES_ENOTTY);
	case C_STAT: {
		uint32_t flags;

		if (!readable(f, cl->argp, sizeof(flags)))
			return err | B(RES_EFAULT);
		memcpy(&flags, (void *)(uintptr_t)cl->argp, sizeof(flags));
		if (!writable(f, cl->argp, sizeof(struct rawkv_ioc_stat)))
			err |= B(RES_EFAULT);
		if (flags)
			return err | B(RES_EINVAL);
		return err | (err & B(RES_EFAULT) ? 0 : B(RES_OK));
	}
	case C_FLUSH: {
		struct rawkv_flush fl;

		if (!cl->arg_readable)
			return err | B(RES_EFAULT);
		memcpy(&fl, (void *)(uintptr_t)cl->argp, sizeof(fl));
		if (!writable(f, cl->argp, sizeof(fl)))
			err |= B(RES_EFAULT);
		if (fl.flags || fl.reserved0 || fl.reserved[0] ||
		    fl.reserved[1])
			return err | B(RES_EINVAL);
		return err | (err & B(RES_EFAULT) ? 0 : B(RES_OK));
	}
	default:
		break;
	}

	/* PUT, GET, DELETE, EXISTS */
	if (!cl->arg_readable)
		return err | B(RES_EFAULT);
	key_len_ok = kv->key_len && kv->key_len <= RAWKV_KEY_MAX;
	if ((kv->flags & ~kv_flags_valid(cl->c)) || kv->reserved ||
	    !key_len_ok)
		err |= B(RES_EINVAL);
	if ((cl->c == C_DELETE || cl->c == C_EXISTS) &&
	    (kv->val_ptr || kv->val_len))
		err |= B(RES_EINVAL);
	if ((cl->c == C_DELETE && kv->meta_len) ||
	    (kv->meta_ptr && !kv->meta_len))
		err |= B(RES_EINVAL);
	if (key_len_ok && !cl->key_ok)
		err |= B(RES_EFAULT);

	switch (cl->c) {
	case C_PUT:
		if (kv->val_len > f->value_max)
			err |= B(RES_E2BIG);
		if (kv->meta_len > RAWKV_META_MAX)
			err |= B(RES_EMSGSIZE);
		if (!readable(f, kv->val_ptr, kv->val_len) ||
		    !readable(f, kv->meta_ptr, kv->meta_len))
			err |= B(RES_EFAULT);
		if (err != B(RES_ENOMEM))
			return err;
		/* never full: MODEL_MAX + NKNOWN is well below slots_total */
		return err | B(RES_OK);
	case C_DELETE:
		if (err != B(RES_ENOMEM))
			return err;
		return err | (cl->e ? B(RES_OK) : B(RES_ENOENT));
	case C_EXISTS:
		if (err != B(RES_ENOMEM))
			return err;
		if (!cl->e && kv->meta_len)
			/* a buffer not written may be bad or not */
			return err | B(RES_ENOENT) |
			       (writable(f, field, 8) &&
				writable(f, mfield, 4) &&
				writable(f, kv->meta_ptr, kv->meta_len) ?
				0 : B(RES_EFAULT));
		if (!cl->e)
			return err | B(RES_ENOENT);
		if (kv->meta_len)
			return err | meta_results(f, cl);
		return err | (writable(f, field, 8) ? B(RES_OK) :
			      B(RES_EFAULT));
	default:
		break;
	}

	/* GET */
	if (err != B(RES_ENOMEM))
		return err;
	if (!cl->e)
		/* a buffer that will not be written may be bad or not */
		return err | B(RES_ENOENT) |
		       (writable(f, field, 8) &&
			writable(f, kv->val_ptr, kv->val_len) &&
			(!kv->meta_len ||
			 (writable(f, mfield, 4) &&
			  writable(f, kv->meta_ptr, kv->meta_len))) ?
			0 : B(RES_EFAULT));
	if (!writable(f, field, 8))
		err |= B(RES_EFAULT);
	if (!kv->val_len && kv->meta_len)
		return err | meta_results(f, cl);	/* EXISTS's */
	if (!kv->val_len)
		return err | (err & B(RES_EFAULT) ? 0 : B(RES_OK));
	if (!writable(f, kv->val_ptr, kv->val_len))
		err |= B(RES_EFAULT);	/* may, or may not, be used */
	/* a value buffer too small: before the metadata is looked at */
	if (kv->val_len < cl->e->vlen)
		return err | (writable(f, field, 8) ? B(RES_ERANGE) : 0);
	val_ok = writable(f, field, 8) &&
		 writable(f, kv->val_ptr, cl->e->vlen);
	if (!val_ok)
		err |= B(RES_EFAULT);
	if (!kv->meta_len)
		return err | (val_ok ? B(RES_OK) : 0);
	/* the metadata, once the value is read: 0 only if that could be */
	mres = meta_results(f, cl);
	if (!val_ok)
		mres &= ~B(RES_OK);
	return err | mres;
}

/*
 * GET or EXISTS with a metadata buffer of a key of the model returned 0
 * or -ERANGE: meta_len must be the metadata's length (or untouched, for
 * GET's -ERANGE of a value buffer too small), and the buffer must hold
 * the PUT's bytes unless something written after them overlaps them.
 */
static void after_meta(struct fuzz *f, struct call *cl)
{
	struct rawkv_kv *kv = &cl->kv;
	uint64_t field = cl->argp + offsetof(struct rawkv_kv, val_len);
	uint64_t mfield = cl->argp + offsetof(struct rawkv_kv, meta_len);
	uint32_t got, mlen = cl->e->mlen;

	if (!writable(f, mfield, 4))
		return;
	memcpy(&got, (void *)(uintptr_t)mfield, 4);
	if (cl->c == C_GET && kv->val_len && kv->val_len < cl->e->vlen) {
		if (got != kv->meta_len)
			cl->why = "GET wrote meta_len for a value buffer too small";
		return;
	}
	if (got != mlen) {
		cl->why = "returned another metadata length";
		return;
	}
	if (cl->ret) {
		f->metas_range++;
		return;
	}
	if (!mlen)
		return;
	f->metas_got++;
	if (!overlap(kv->meta_ptr, mlen, field, 8) &&
	    !overlap(kv->meta_ptr, mlen, mfield, 4) &&
	    !(cl->c == C_GET && kv->val_len &&
	      overlap(kv->meta_ptr, mlen, kv->val_ptr, cl->e->vlen)) &&
	    hash_bytes((void *)(uintptr_t)kv->meta_ptr, mlen) != cl->e->mhash)
		cl->why = "returned other metadata than the PUT's";
}

/* After a call that the kernel accepted, update and check the model. */
static void after_call(struct fuzz *f, struct call *cl)
{
	struct rawkv_kv *kv = &cl->kv;
	uint64_t field = cl->argp + offsetof(struct rawkv_kv, val_len);
	uint64_t mfield = cl->argp + offsetof(struct rawkv_kv, meta_len);
	uint64_t got;

	switch (cl->c) {
	case C_PUT:
		if (cl->ret)
			break;
		f->puts_ok++;
		if (!cl->key_ok || !readable(f, kv->val_ptr, kv->val_len) ||
		    !readable(f, kv->meta_ptr, kv->meta_len)) {
			cl->why = "PUT read memory we cannot read";
			break;
		}
		if (kv->meta_len > RAWKV_META_MAX) {
			cl->why = "PUT stored more than RAWKV_META_MAX of metadata";
			break;
		}
		f->puts_meta += !!kv->meta_len;
		if (!model_put(f, cl->key, kv->key_len, kv->val_len, cl->vhash,
			       kv->meta_len, cl->mhash))
			cl->why = "model full";
		break;
	case C_DELETE:
		if (!cl->ret && cl->e)
			model_delete(f, cl->e);
		break;
	case C_EXISTS:
		if ((cl->ret && cl->err != ERANGE) || !cl->e)
			break;
		memcpy(&got, (void *)(uintptr_t)field, 8);
		if (got != cl->e->vlen) {
			cl->why = "EXISTS returned another value length";
			break;
		}
		if (kv->meta_len)
			after_meta(f, cl);
		break;
	case C_GET:
		if ((cl->ret && cl->err != ERANGE) || !cl->e)
			break;
		if (!writable(f, field, 8))
			break;
		memcpy(&got, (void *)(uintptr_t)field, 8);
		if (got != cl->e->vlen) {
			cl->why = "GET returned another value length";
			break;
		}
		if (kv->meta_len)
			after_meta(f, cl);
		if (cl->ret || !kv->val_len || cl->why)
			break;
		f->gets_data++;
		/*
		 * the value's bytes, unless val_len, meta_len or the
		 * metadata was written over them
		 */
		if (!overlap(kv->val_ptr, cl->e->vlen, field, 8) &&
		    !(kv->meta_len &&
		      (overlap(kv->val_ptr, cl->e->vlen, mfield, 4) ||
		       overlap(kv->val_ptr, cl->e->vlen, kv->meta_ptr,
			       cl->e->mlen))) &&
		    hash_bytes((void *)(uintptr_t)kv->val_ptr, cl->e->vlen) !=
		    cl->e->vhash)
			cl->why = "GET returned other bytes than the PUT";
		break;
	case C_FLUSH:
		if (!cl->ret)
			f->flushes_ok++;
		break;
	default:
		break;
	}
}

static void report(struct fuzz *f, struct call *cl, const char *what)
{
	char allowed[96];
	uint64_t n = f->bad + f->unexpected_errno;
	struct rawkv_kv now;

	if (n > MAX_REPORTS)
		return;
	note("BAD call %llu (seed %llu): %s%s", (unsigned long long)cl->idx,
	     (unsigned long long)f->seed, cl->uring ? "io_uring: " : "", what);
	if (cl->uring)
		note("  io_uring cmd_op 0x%08x kv_ptr 0x%llx reserved 0x%llx",
		     (uint32_t)cl->cmd, (unsigned long long)cl->argp,
		     (unsigned long long)cl->reserved);
	note("  cmd 0x%08x (%s, dir %u type 0x%02x nr %u size %u) arg 0x%llx%s",
	     (uint32_t)cl->cmd, cls_name[cl->c], _IOC_DIR((uint32_t)cl->cmd),
	     _IOC_TYPE((uint32_t)cl->cmd), _IOC_NR((uint32_t)cl->cmd),
	     _IOC_SIZE((uint32_t)cl->cmd), (unsigned long long)cl->argp,
	     cl->arg_readable ? "" : " (not readable)");
	if (cl->arg_readable && C_IS_KV(cl->c))
		note("  key_ptr 0x%llx key_len %u flags 0x%x val_ptr 0x%llx val_len %llu meta_ptr 0x%llx meta_len %u reserved 0x%x; key %s, %s",
		     (unsigned long long)cl->kv.key_ptr, cl->kv.key_len,
		     cl->kv.flags, (unsigned long long)cl->kv.val_ptr,
		     (unsigned long long)cl->kv.val_len,
		     (unsigned long long)cl->kv.meta_ptr, cl->kv.meta_len,
		     cl->kv.reserved,
		     cl->key_ok ? "readable" : "not readable",
		     cl->e ? "in the model" : "not in the model");
	if (cl->arg_readable && C_IS_KV(cl->c)) {
		memcpy(&now, (void *)(uintptr_t)cl->argp, sizeof(now));
		note("  after the call: val_len %llu meta_len %u",
		     (unsigned long long)now.val_len, now.meta_len);
	}
	if (cl->e)
		note("  model: value length %llu, metadata length %u",
		     (unsigned long long)cl->e->vlen, cl->e->mlen);
	note("  returned %d errno %d (%s); allowed: %s", cl->ret,
	     cl->ret ? cl->err : 0, cl->ret ? strerror(cl->err) : "ok",
	     mask_str(cl->allowed, allowed, sizeof(allowed)));
	note("  replay: RAWKV_FUZZ_SEED=%llu RAWKV_FUZZ_CALLS=%llu",
	     (unsigned long long)f->seed, (unsigned long long)cl->idx + 1);
}

/* A cmd_op for an io_uring command. */
static uint32_t gen_uring_op(struct fuzz *f)
{
	static const uint32_t served[] = {
		RAWKV_IOC_PUT, RAWKV_IOC_GET, RAWKV_IOC_DELETE,
		RAWKV_IOC_EXISTS,
	};
	static const uint32_t others[] = {
		RAWKV_IOC_FLUSH, RAWKV_IOC_STAT, RAWKV_IOC_PUT_BATCH,
		RAWKV_IOC_GET_BATCH, 0, 0xffffffffU,
	};
	unsigned int r = below(f, 100);

	if (r < 75)
		return served[below(f, ARRAY_SIZE(served))];
	if (r < 85)
		return others[below(f, ARRAY_SIZE(others))];
	if (r < 93)
		return _IOC(below(f, 4), RAWKV_IOC_MAGIC, below(f, 16),
			    below(f, 4097));
	return (uint32_t)rnd(f);
}

/*
 * Submit @cl as one IORING_OP_URING_CMD and wait for it: its cqe->res.
 * GET and EXISTS complete with the value length; check it against the
 * val_len the kernel wrote back.
 */
static int uring_call(struct fuzz *f, struct call *cl)
{
	struct rawkv_uring_cmd uc = {
		.kv_ptr = cl->argp,
		.reserved = cl->reserved,
	};
	uint64_t field = cl->argp + offsetof(struct rawkv_kv, val_len), got;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&f->ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (!sqe)
		return -EPROTO;
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = f->fd;
	sqe->cmd_op = (uint32_t)cl->cmd;
	sqe->user_data = cl->idx;
	if (chance(f, 20))
		sqe->flags = IOSQE_ASYNC;
	memcpy(sqe->cmd, &uc, sizeof(uc));
	f->uring_calls++;
	/* -EPROTO is no errno of rawkv's: reported as undocumented */
	if (io_uring_submit_and_wait(&f->ring, 1) != 1 ||
	    io_uring_wait_cqe(&f->ring, &cqe))
		return -EPROTO;
	ret = cqe->user_data == cl->idx ? cqe->res : -EPROTO;
	io_uring_cqe_seen(&f->ring, cqe);
	if (ret > 0 && (cl->c == C_GET || cl->c == C_EXISTS)) {
		if (!writable(f, field, 8)) {
			cl->why = "a length written to memory we cannot write";
			return ret;
		}
		memcpy(&got, (void *)(uintptr_t)field, 8);
		if (got != (uint64_t)ret)
			cl->why = "CQE length differs from val_len";
	} else if (ret > 0) {
		cl->why = "positive result of PUT or DELETE";
	}
	return ret;
}

/* Make one random ioctl; false if it was skipped (known-key prefix). */
static bool one_call(struct fuzz *f, uint64_t idx)
{
	union {
		struct rawkv_kv kv;
		struct rawkv_flush fl;
		struct rawkv_ioc_stat st;
	} u;
	struct call cl = { .idx = idx };
	uint64_t size, t;
	enum res r;

	/* few: each costs a trip through an io-wq worker (~5 ms in TCG) */
	cl.uring = f->ring_ok && !below(f, 200);
	cl.cmd = cl.uring ? gen_uring_op(f) : gen_cmd(f);
	cl.c = cls_of(cl.cmd);
	if (cl.uring && !C_IS_KV(cl.c))
		cl.c = C_OTHER;		/* not served over io_uring */
	switch (cl.c) {
	case C_FLUSH:
		size = sizeof(u.fl);
		break;
	case C_STAT:
		size = sizeof(u.st);
		break;
	default:
		size = sizeof(u.kv);
		break;
	}
	cl.argp = arg_ptr(f, size);

	/* our struct goes to the argument if it is in the arena */
	if (cl.c == C_FLUSH)
		gen_flush(f, &u.fl);
	else if (cl.c == C_STAT)
		gen_stat(f, &u.st);
	else
		gen_kv(f, cl.c, &u.kv);
	place(f, cl.argp, &u, size);

	/* what the kernel will read */
	cl.arg_readable = readable(f, cl.argp, size);
	if (cl.arg_readable && C_IS_KV(cl.c)) {
		memcpy(&cl.kv, (void *)(uintptr_t)cl.argp, sizeof(cl.kv));
		if (cl.kv.key_len && cl.kv.key_len <= RAWKV_KEY_MAX &&
		    readable(f, cl.kv.key_ptr, cl.kv.key_len)) {
			memcpy(cl.key, (void *)(uintptr_t)cl.kv.key_ptr,
			       cl.kv.key_len);
			cl.key_ok = true;
			/* never touch a known key */
			if (cl.key[0] == KNOWN_PREFIX) {
				f->skipped++;
				return false;
			}
			cl.e = model_find(f, cl.key, cl.kv.key_len);
		}
		if (cl.c == C_PUT && readable(f, cl.kv.val_ptr, cl.kv.val_len))
			cl.vhash = hash_bytes((void *)(uintptr_t)cl.kv.val_ptr,
					      cl.kv.val_len);
		if (cl.c == C_PUT && cl.kv.meta_len <= RAWKV_META_MAX &&
		    readable(f, cl.kv.meta_ptr, cl.kv.meta_len))
			cl.mhash = hash_bytes((void *)(uintptr_t)cl.kv.meta_ptr,
					      cl.kv.meta_len);
	}
	cl.allowed = allowed_results(f, &cl);
	if (cl.uring) {
		cl.reserved = rnd_flags64(f, 90);
		/* checked before the struct is read */
		if (cl.reserved && C_IS_KV(cl.c))
			cl.allowed = B(RES_EINVAL) | B(RES_ENOMEM);
	}

	t = now_ns();
	if (cl.uring) {
		cl.ret = uring_call(f, &cl);
		cl.err = cl.ret < 0 ? -cl.ret : 0;
		/* GET and EXISTS complete with the length: the ioctl's 0 */
		if (cl.ret > 0 && !cl.why &&
		    (cl.c == C_GET || cl.c == C_EXISTS))
			cl.ret = 0;
	} else {
		cl.ret = ioctl(f->fd, cl.cmd, (void *)(uintptr_t)cl.argp);
		cl.err = cl.ret < 0 ? errno : 0;
	}
	f->cls_ns[cl.uring ? C_URING : cl.c] += now_ns() - t;
	r = cl.ret < 0 ? res_of(cl.err) : (cl.ret ? RES_OTHER : RES_OK);
	f->hist[cl.uring ? C_URING : cl.c][r]++;

	after_call(f, &cl);
	if (r == RES_OTHER) {
		f->unexpected_errno++;
		report(f, &cl, "undocumented result");
	} else if (!(cl.allowed & B(r))) {
		f->bad++;
		report(f, &cl, "result the ABI does not allow here");
	} else if (cl.why) {
		f->bad++;
		report(f, &cl, cl.why);
	}
	return true;
}

/* ---- setup and checks ----------------------------------------------- */

static int raw_kv_meta(int fd, unsigned long cmd, const void *key,
		       uint32_t klen, void *val, uint64_t vlen,
		       uint64_t *out_len, void *meta, uint32_t mlen,
		       uint32_t *out_mlen)
{
	struct rawkv_kv kv = {
		.key_ptr = (uintptr_t)key, .key_len = klen,
		.val_ptr = (uintptr_t)val, .val_len = vlen,
		.meta_ptr = (uintptr_t)meta, .meta_len = mlen,
	};
	int ret = ioctl(fd, cmd, &kv) < 0 ? -errno : 0;

	if (out_len)
		*out_len = kv.val_len;
	if (out_mlen)
		*out_mlen = kv.meta_len;
	return ret;
}

static int raw_kv(int fd, unsigned long cmd, const void *key, uint32_t klen,
		  void *val, uint64_t vlen, uint64_t *out_len)
{
	return raw_kv_meta(fd, cmd, key, klen, val, vlen, out_len, NULL, 0,
			   NULL);
}

/* Delete fuzzer keys until MODEL_LOW remain; false on an error. */
static bool prune(struct fuzz *f)
{
	int i;

	for (i = 0; i < MODEL_MAX && f->nkeys > MODEL_LOW; i++) {
		struct mkey *e = &f->m[i];
		int ret;

		if (!e->used)
			continue;
		ret = raw_kv(f->fd, RAWKV_IOC_DELETE, e->key, e->klen, NULL, 0,
			     NULL);
		if (ret) {
			note("pruning: DELETE of a fuzzer key (%u bytes): %s",
			     e->klen, strerror(-ret));
			return false;
		}
		model_delete(f, e);
		f->pruned++;
	}
	return true;
}

static void *map_at(uint64_t addr, size_t len, int prot)
{
	void *p = mmap((void *)(uintptr_t)addr, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* Bytes 0x80..0xff but KNOWN_PREFIX: as words, they are kernel addresses. */
static void fill_high(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	size_t i;

	kv_fill(buf, len, seed);
	for (i = 0; i < len; i++) {
		p[i] |= 0x80;
		if (p[i] == KNOWN_PREFIX)
			p[i] = 0x80;
	}
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return dflt;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return dflt;
	return v;
}

FIXTURE(fuzz) {
	struct fuzz f;
};

FIXTURE_SETUP(fuzz)
{
	struct fuzz *f = &self->f;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	ASSERT_EQ(0, geteuid()) TH_LOG("run as root in the rawkv test VM");
	ASSERT_EQ(0, kv_reload("dev=%s format=1 slot_size=%lu evict=0 %s",
			       KV_DEV_4K, SLOT_SIZE, KV_NO_PERIODIC));
	f->fd = open("/dev/rawkv", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, f->fd);
	f->m = calloc(MODEL_MAX, sizeof(*f->m));
	ASSERT_NE(NULL, f->m);
	ASSERT_EQ(0, io_uring_queue_init(8, &f->ring, 0));
	f->ring_ok = true;
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->f.ring_ok)
		io_uring_queue_exit(&self->f.ring);
	if (self->f.fd >= 0)
		close(self->f.fd);
	free(self->f.m);
	EXPECT_EQ(0, kv_unload());
}

/* Set up our memory: arena, read-only area with keys and structs, hole. */
static void setup_memory(struct __test_metadata *_metadata, struct fuzz *f)
{
	struct rawkv_kv kv;
	uint8_t *ro, *hole;
	unsigned int i;

	f->arena = map_at(ARENA_ADDR, ARENA_BYTES + PAGE,
			  PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, f->arena) TH_LOG("mmap at 0x%lx: %s", ARENA_ADDR,
					 strerror(errno));
	ASSERT_EQ(0, mprotect(f->arena + ARENA_BYTES, PAGE, PROT_NONE));
	fill_high(f->arena, ARENA_BYTES, f->seed ^ 1);

	ro = map_at(RO_ADDR, RO_BYTES + PAGE, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, ro) TH_LOG("mmap at 0x%lx: %s", RO_ADDR,
				   strerror(errno));
	f->ro = ro;
	fill_high(ro, RO_BYTES, f->seed ^ 2);
	/* 64 distinct keys: distinct first bytes, lengths 1..255 */
	for (i = 0; i < NCANON; i++) {
		static const uint32_t lens[] = {
			1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 100, 128,
			200, 254, 255,
		};

		f->canon_len[i] = i < ARRAY_SIZE(lens) ? lens[i] :
				  1 + kv_rand(&(uint64_t){ f->seed + i }) % 255;
		ro[RO_KEYS_OFF + i * CANON_STRIDE] = 0x10 + i;
	}
	/* prebuilt structs, for arguments in read-only memory */
	for (i = 0; i < NRO_STRUCTS; i++) {
		uint8_t *s = ro + RO_STRUCTS_OFF + i * RO_STRUCT_STRIDE;

		memset(s, 0, RO_STRUCT_STRIDE);
		kv = (struct rawkv_kv){
			.key_ptr = (uintptr_t)ro + RO_KEYS_OFF +
				   i * CANON_STRIDE,
			.key_len = f->canon_len[i],
			.val_ptr = (uintptr_t)(i & 1 ? ro + RO_DATA_OFF :
					       f->arena + 8 * i),
			.val_len = 100 * i,
		};
		if (i == 6)		/* a DELETE's */
			kv.val_ptr = kv.val_len = 0;
		if (i == 2 || i == 5) {	/* with metadata */
			kv.meta_ptr = (uintptr_t)ro + RO_DATA_OFF + 64 * i;
			kv.meta_len = 50 * i;
		}
		if (i < 7)		/* the last one is all zero */
			memcpy(s, &kv, sizeof(kv));
	}
	ASSERT_EQ(0, mprotect(ro, RO_BYTES, PROT_READ));
	ASSERT_EQ(0, mprotect(ro + RO_BYTES, PAGE, PROT_NONE));

	hole = map_at(UNMAPPED_ADDR, PAGE, PROT_READ | PROT_WRITE);
	ASSERT_NE(NULL, hole);
	ASSERT_EQ(0, munmap(hole, PAGE));
}

static void make_known(struct __test_metadata *_metadata, struct fuzz *f)
{
	const uint32_t klens[NKNOWN] = { 1, 2, 7, 16, 64, 100, 254, 255 };
	const uint64_t vlens[NKNOWN] = { 0, 1, 100, 4095, 4096, 4097, 20000,
					 f->value_max };
	const uint32_t mlens[NKNOWN] = { 0, 1, 0, 17, 0, 100, 255,
					 RAWKV_META_MAX };
	unsigned int i;

	for (i = 0; i < NKNOWN; i++) {
		struct known *k = &f->known[i];

		k->klen = klens[i];
		kv_fill(k->key, k->klen, 1000 + i);
		k->key[0] = KNOWN_PREFIX;
		if (k->klen > 3)
			k->key[k->klen / 2] = 0;	/* a NUL inside */
		k->vlen = vlens[i];
		k->val = malloc(k->vlen + 1);
		ASSERT_NE(NULL, k->val);
		kv_fill(k->val, k->vlen, 2000 + i);
		k->mlen = mlens[i];
		kv_fill(k->meta, k->mlen, 3000 + i);
		ASSERT_EQ(0, raw_kv_meta(f->fd, RAWKV_IOC_PUT, k->key, k->klen,
					 k->val, k->vlen, NULL,
					 k->mlen ? k->meta : NULL, k->mlen,
					 NULL));
	}
}

/* Every known key holds its value and metadata, byte for byte. */
static void check_known(struct __test_metadata *_metadata, struct fuzz *f,
			const char *when)
{
	uint8_t *buf = malloc(f->value_max + 1), meta[RAWKV_META_MAX + 1];
	unsigned int i;
	uint32_t mlen;
	uint64_t len;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < NKNOWN; i++) {
		struct known *k = &f->known[i];

		memset(buf, 0x5a, f->value_max + 1);
		memset(meta, 0x5a, sizeof(meta));
		len = 0;
		mlen = 0;
		ASSERT_EQ(0, raw_kv_meta(f->fd, RAWKV_IOC_GET, k->key, k->klen,
					 buf, f->value_max + 1, &len, meta,
					 RAWKV_META_MAX, &mlen))
			TH_LOG("%s: known key %u (%u bytes)", when, i, k->klen);
		ASSERT_EQ(k->vlen, len) TH_LOG("%s: known key %u", when, i);
		ASSERT_EQ(0, memcmp(buf, k->val, k->vlen))
			TH_LOG("%s: known key %u: other bytes", when, i);
		ASSERT_EQ(0x5a, buf[k->vlen])
			TH_LOG("%s: known key %u: wrote past the value",
			       when, i);
		ASSERT_EQ(k->mlen, mlen)
			TH_LOG("%s: known key %u: metadata length", when, i);
		ASSERT_EQ(0, memcmp(meta, k->meta, k->mlen))
			TH_LOG("%s: known key %u: other metadata", when, i);
		ASSERT_EQ(0x5a, meta[k->mlen])
			TH_LOG("%s: known key %u: wrote past the metadata",
			       when, i);
	}
	free(buf);
}

/*
 * Every key of the model holds its value and metadata; the store has
 * nothing else.
 */
static void check_model(struct __test_metadata *_metadata, struct fuzz *f,
			const char *when)
{
	uint8_t *buf = malloc(f->value_max), meta[RAWKV_META_MAX + 1];
	struct rawkv_ioc_stat st = { 0 };
	uint32_t mlen;
	uint64_t len;
	int i;

	ASSERT_NE(NULL, buf);
	for (i = 0; i < MODEL_MAX; i++) {
		struct mkey *e = &f->m[i];

		if (!e->used)
			continue;
		memset(meta, 0x5a, sizeof(meta));
		ASSERT_EQ(0, raw_kv_meta(f->fd, RAWKV_IOC_GET, e->key, e->klen,
					 buf, f->value_max, &len, meta,
					 RAWKV_META_MAX, &mlen))
			TH_LOG("%s: fuzzer key %d (%u bytes)", when, i,
			       e->klen);
		ASSERT_EQ(e->vlen, len) TH_LOG("%s: fuzzer key %d", when, i);
		ASSERT_EQ(e->vhash, hash_bytes(buf, len))
			TH_LOG("%s: fuzzer key %d: other bytes", when, i);
		ASSERT_EQ(e->mlen, mlen)
			TH_LOG("%s: fuzzer key %d: metadata length", when, i);
		ASSERT_EQ(e->mhash, hash_bytes(meta, mlen))
			TH_LOG("%s: fuzzer key %d: other metadata", when, i);
		ASSERT_EQ(0x5a, meta[e->mlen])
			TH_LOG("%s: fuzzer key %d: wrote past the metadata",
			       when, i);
	}
	free(buf);
	ASSERT_EQ(0, ioctl(f->fd, RAWKV_IOC_STAT, &st));
	ASSERT_EQ((uint64_t)f->nkeys + NKNOWN, st.slots_used)
		TH_LOG("%s: %d fuzzer keys and %d known keys", when, f->nkeys,
		       NKNOWN);
	ASSERT_EQ(0U, st.io_errors);
	ASSERT_EQ(0U, st.stale_dropped);
	ASSERT_EQ(0U, st.evictions);
}

static void print_histogram(struct fuzz *f)
{
	char line[256];
	size_t n;
	int c, r;

	n = snprintf(line, sizeof(line), "%-9s", "errno:");
	for (r = 0; r < RES_NR; r++)
		n += snprintf(line + n, sizeof(line) - n, " %8s", res_name[r]);
	note("%s   ioctl s", line);
	for (c = 0; c < C_NR; c++) {
		n = snprintf(line, sizeof(line), "%-9s", cls_name[c]);
		for (r = 0; r < RES_NR; r++)
			n += snprintf(line + n, sizeof(line) - n, " %8llu",
				      (unsigned long long)f->hist[c][r]);
		note("%s %8.1f", line, f->cls_ns[c] / 1e9);
	}
}

TEST_F_TIMEOUT(fuzz, random_ioctls_get_documented_results_and_spare_known_keys,
	       600)
{
	struct fuzz *f = &self->f;
	struct rawkv_ioc_stat st = { 0 };
	struct rawkv_flush fl = { 0 };
	uint64_t seed, i, t0, len;
	char val[32] = { 0 };
	const char fresh[] = "\xA5 fresh key after the fuzzing";

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = now_ns() ^ getpid();
	seed = env_u64("RAWKV_FUZZ_SEED", seed);
	f->seed = f->rng = seed;
	f->calls = env_u64("RAWKV_FUZZ_CALLS", DEFAULT_CALLS);
	note("seed %llu, %llu calls (RAWKV_FUZZ_SEED, RAWKV_FUZZ_CALLS)",
	     (unsigned long long)seed, (unsigned long long)f->calls);
	for (i = 0; i < ARRAY_SIZE(f->buckets); i++)
		f->buckets[i] = -1;

	ASSERT_EQ(0, ioctl(f->fd, RAWKV_IOC_STAT, &st));
	f->value_max = st.value_max;
	f->slots_total = st.slots_total;
	ASSERT_EQ(SLOT_SIZE - RAWKV_BLOCK_SIZE, f->value_max);
	ASSERT_LT(MODEL_HIGH + NKNOWN + 64, f->slots_total);
	setup_memory(_metadata, f);
	make_known(_metadata, f);
	ASSERT_EQ(0, ioctl(f->fd, RAWKV_IOC_FLUSH, &fl));

	t0 = now_ns();
	for (i = 0; i < f->calls;) {
		if (one_call(f, i))
			i++;
		if (f->nkeys > MODEL_HIGH)
			ASSERT_TRUE(prune(f));
	}
	f->ns = now_ns() - t0;

	note("%llu calls in %.1f s (%.0f calls/s); %llu skipped (known-key prefix)",
	     (unsigned long long)f->calls, f->ns / 1e9,
	     f->calls / (f->ns / 1e9 + 1e-9), (unsigned long long)f->skipped);
	note("%llu PUTs stored (%llu new keys, %llu pruned), %llu GETs read a value, %llu FLUSHes; %d fuzzer keys now; %llu io_uring commands",
	     (unsigned long long)f->puts_ok, (unsigned long long)f->new_keys,
	     (unsigned long long)f->pruned, (unsigned long long)f->gets_data,
	     (unsigned long long)f->flushes_ok, f->nkeys,
	     (unsigned long long)f->uring_calls);
	note("metadata: %llu PUTs stored some, %llu GETs and EXISTS returned some, %llu found the buffer too small",
	     (unsigned long long)f->puts_meta,
	     (unsigned long long)f->metas_got,
	     (unsigned long long)f->metas_range);
	print_histogram(f);
	EXPECT_EQ(0U, f->unexpected_errno)
		TH_LOG("calls returned an undocumented errno (seed %llu)",
		       (unsigned long long)seed);
	EXPECT_EQ(0U, f->bad)
		TH_LOG("calls returned what the ABI or the model does not allow (seed %llu)",
		       (unsigned long long)seed);

	/* the store is as the model says, and still works */
	check_known(_metadata, f, "after fuzzing");
	check_model(_metadata, f, "after fuzzing");
	ASSERT_EQ(0, raw_kv(f->fd, RAWKV_IOC_PUT, fresh, sizeof(fresh), "value",
			    5, NULL));
	ASSERT_EQ(0, raw_kv(f->fd, RAWKV_IOC_GET, fresh, sizeof(fresh), val,
			    sizeof(val), &len));
	ASSERT_EQ(5U, len);
	ASSERT_EQ(0, memcmp(val, "value", 5));
	ASSERT_EQ(0, raw_kv(f->fd, RAWKV_IOC_DELETE, fresh, sizeof(fresh), NULL,
			    0, NULL));
	ASSERT_EQ(-ENOENT, raw_kv(f->fd, RAWKV_IOC_GET, fresh, sizeof(fresh),
				  val, sizeof(val), &len));
	memset(&fl, 0, sizeof(fl));
	ASSERT_EQ(0, ioctl(f->fd, RAWKV_IOC_FLUSH, &fl));
	ASSERT_LT(0U, fl.checkpoint_seq);

	/* and it all survives an unload and a load without format */
	io_uring_queue_exit(&f->ring);
	f->ring_ok = false;
	close(f->fd);
	f->fd = -1;
	ASSERT_EQ(0, kv_unload());
	ASSERT_EQ(0, kv_load("dev=%s format=0 evict=0 %s", KV_DEV_4K,
			     KV_NO_PERIODIC));
	f->fd = open("/dev/rawkv", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, f->fd);
	check_known(_metadata, f, "after reload");
	check_model(_metadata, f, "after reload");
}

/*
 * The control device, /dev/rawkv-control: random ATTACH and DETACH
 * requests and other numbers, with arguments that are unreadable, have
 * random flags and reserved fields, or name devices that cannot become a
 * store (the fixture's own store, a tiny disk, /dev/null, a missing
 * path, an empty or unterminated one). Each result must be exactly the
 * documented errno; afterwards store 0 is the only store and still works.
 */
static uint64_t ctl_rnd(uint64_t *s, uint64_t n)
{
	return kv_rand(s) % n;
}

TEST_F_TIMEOUT(fuzz, control_device_random_requests, 600)
{
	static const char *const paths[] = {
		KV_DEV_4K, KV_DEV_TINY, "/dev/null", "/dev/rawkv-no-such", "",
	};
	enum { P_STORE, P_TINY, P_NULL, P_MISSING, P_EMPTY, P_LONG, P_BAD,
	       P_NR };
	const uint64_t calls = env_u64("RAWKV_FUZZ_CTL_CALLS", 3000);
	uint64_t seed = env_u64("RAWKV_FUZZ_SEED", 1), st = seed, i;
	unsigned int counts[4] = { 0 };
	char *longpath, *none, node[32];
	struct rawkv_ctl_attach *ca;
	struct rawkv_ctl_detach *cd;
	int fd, ret, want, alt;

	longpath = malloc(RAWKV_PATH_MAX + 64);
	ASSERT_NE(NULL, longpath);
	memset(longpath, 'x', RAWKV_PATH_MAX + 64);	/* no NUL in reach */
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, none);
	ca = calloc(1, sizeof(*ca));
	cd = calloc(1, sizeof(*cd));
	ASSERT_TRUE(ca && cd);
	fd = open(RAWKV_CONTROL_DEVICE, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	TH_LOG("seed %llu, %llu calls", (unsigned long long)seed,
	       (unsigned long long)calls);

	for (i = 0; i < calls; i++) {
		unsigned int kind = ctl_rnd(&st, 10);
		void *arg;

		alt = 0;
		if (kind < 5) {			/* ATTACH */
			unsigned int p = ctl_rnd(&st, P_NR);
			bool fmt;

			memset(ca, 0, sizeof(*ca));
			ca->flags = ctl_rnd(&st, 4) ? ctl_rnd(&st, 8) :
						      (uint32_t)kv_rand(&st);
			fmt = ca->flags & RAWKV_ATTACH_FORMAT;
			if (!ctl_rnd(&st, 4))
				ca->slot_size = ctl_rnd(&st, 2) ?
					1ULL << ctl_rnd(&st, 40) : kv_rand(&st);
			if (!ctl_rnd(&st, 4))
				ca->checkpoint_ms = kv_rand(&st);
			if (!ctl_rnd(&st, 10))
				ca->id = kv_rand(&st);
			if (!ctl_rnd(&st, 10))
				ca->reserved[ctl_rnd(&st, 4)] = kv_rand(&st) | 1;
			if (!ctl_rnd(&st, 20))
				ca->reserved0 = 1;
			ca->path_ptr = p == P_LONG ? (uintptr_t)longpath :
				       p == P_BAD ? (ctl_rnd(&st, 2) ?
						     (uintptr_t)none :
						     0xffff888000000000ULL) :
				       (uintptr_t)paths[p];
			arg = ctl_rnd(&st, 20) ? (void *)ca :
			      ctl_rnd(&st, 2) ? NULL : (void *)none;

			if (arg != ca)
				want = EFAULT;
			else if (ca->flags & ~7U || ca->id || ca->reserved0 ||
				 ca->reserved[0] || ca->reserved[1] ||
				 ca->reserved[2] || ca->reserved[3] ||
				 (!fmt && ca->slot_size) ||
				 (!(ca->flags & RAWKV_ATTACH_CHECKPOINT) &&
				  ca->checkpoint_ms))
				want = EINVAL;
			else if (p == P_BAD)
				want = EFAULT;
			else if (p == P_LONG)
				want = ENAMETOOLONG;
			else if (p == P_EMPTY)
				want = EINVAL;
			else if (fmt && ca->slot_size &&
				 (ca->slot_size & (ca->slot_size - 1) ||
				  ca->slot_size < 8192 ||
				  ca->slot_size > (128 << 20)))
				want = EINVAL;
			else if (p == P_MISSING)
				want = ENOENT;
			else if (p == P_NULL)
				want = ENOTBLK;
			else if (p == P_STORE)
				want = EBUSY;
			else if (fmt)
				want = ENOSPC;	/* 16 KiB: not one slot */
			else
				want = EINVAL, alt = ENOSPC;
			ret = ioctl(fd, RAWKV_CTL_ATTACH, arg);
			counts[0]++;
		} else if (kind < 8) {		/* DETACH */
			memset(cd, 0, sizeof(*cd));
			cd->id = ctl_rnd(&st, 3) ? ctl_rnd(&st, 4) :
						   (uint32_t)kv_rand(&st);
			if (!ctl_rnd(&st, 8))
				cd->flags = kv_rand(&st) | 1;
			if (!ctl_rnd(&st, 8))
				cd->reserved[ctl_rnd(&st, 2)] = kv_rand(&st) | 1;
			arg = ctl_rnd(&st, 20) ? (void *)cd : NULL;
			if (arg != cd)
				want = EFAULT;
			else if (cd->flags || cd->reserved[0] || cd->reserved[1])
				want = EINVAL;
			else if (cd->id == 0)
				want = EBUSY;	/* the fixture holds it open */
			else
				want = ENODEV;
			ret = ioctl(fd, RAWKV_CTL_DETACH, arg);
			counts[1]++;
		} else if (kind < 9) {		/* the store's commands */
			static const unsigned long cmds[] = {
				RAWKV_IOC_PUT, RAWKV_IOC_GET, RAWKV_IOC_STAT,
				RAWKV_IOC_FLUSH, RAWKV_IOC_EXISTS,
			};

			want = ENOTTY;
			ret = ioctl(fd, cmds[ctl_rnd(&st, 5)], ca);
			counts[2]++;
		} else {			/* other rawkv numbers */
			unsigned long nr = 0x40 + 2 + ctl_rnd(&st, 60);

			want = ENOTTY;
			ret = ioctl(fd, _IOC(ctl_rnd(&st, 4), RAWKV_IOC_MAGIC, nr,
					     ctl_rnd(&st, 256)), ca);
			counts[3]++;
		}
		if (ret != -1 || (errno != want && errno != alt)) {
			TH_LOG("call %llu (kind %u): %d, errno %d (%s); want %s",
			       (unsigned long long)i, kind, ret, ret ? errno : 0,
			       ret ? strerror(errno) : "-", strerror(want));
			ASSERT_TRUE(false);
		}
	}
	close(fd);
	TH_LOG("attach %u, detach %u, store commands %u, other %u",
	       counts[0], counts[1], counts[2], counts[3]);

	/* Still one store, serving. */
	for (i = 1; i < 8; i++) {
		snprintf(node, sizeof(node), "/dev/rawkv%llu",
			 (unsigned long long)i);
		EXPECT_NE(0, access(node, F_OK)) TH_LOG("%s appeared", node);
	}
	ASSERT_EQ(0, raw_kv(self->f.fd, RAWKV_IOC_PUT, "ctl", 3, "ok", 2, NULL));
	munmap(none, 4096);
	free(longpath);
	free(ca);
	free(cd);
}

TEST_HARNESS_MAIN
