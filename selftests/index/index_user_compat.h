/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: the kernel helpers kmod/index.c uses, for building it in user
 * space (its unit test, index_test.c). kmod/index.h includes this file
 * when __KERNEL__ is not defined; the Makefile puts this directory on the
 * include path. Each helper has the kernel's semantics, and the ones that
 * can go wrong are made observable to the test:
 *
 *   spinlock_t	     a flag: spin_lock() sets it, spin_unlock() clears it;
 *		     taking a held lock or releasing a free one is reported
 *   lockdep_assert_held()  reports (and counts) a lock that is not held
 *   WARN_ON_ONCE()  counts every time its condition is true, prints once
 *   kvmalloc_array(), kvcalloc(), kvzalloc(), vzalloc(), kvfree()  count
 *		     live allocations and bytes (and vzalloc() calls apart),
 *		     and log the sizes asked for; like kvmalloc_node(), the
 *		     kv*() ones refuse more than INT_MAX bytes with a WARNING
 *		     (vzalloc() does not). index_compat_fail_at = N fails the
 *		     Nth allocation from now, index_compat_nomem_over = B every
 *		     one of more than B bytes (NULL, as under memory pressure)
 *   find_next_bit() and the non-atomic bit ops: <linux/bitmap.h>'s,
 *		     find_next_bit() returning @size when no bit is set
 *   ilog2()	     floor(log2(n)) as an int, -1 for 0, like the kernel's
 *		     for a value that is not a compile-time constant
 *   max(), min(), clamp()  with the kernel's type check: operands of
 *		     different types are a warning, so an error with -Werror
 *
 * The counters are defined by the test program (INDEX_COMPAT_DEFINE).
 */
#ifndef _RAWKV_INDEX_USER_COMPAT_H
#define _RAWKV_INDEX_USER_COMPAT_H

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define U16_MAX		((u16)~0U)
#define U32_MAX		((u32)~0U)
#define U64_MAX		((u64)~0ULL)

#define le32_to_cpu(x)	((u32)le32toh(x))
#define cpu_to_le32(x)	((__le32)htole32(x))

#ifndef __packed
#define __packed	__attribute__((__packed__))
#endif
#ifndef __aligned
#define __aligned(x)	__attribute__((__aligned__(x)))
#endif

#define GFP_KERNEL	0U

/* What the test watches (defined once, in the test program). */
extern unsigned long index_compat_allocs;	/* live allocations */
extern size_t index_compat_bytes;		/* their bytes */
extern unsigned long index_compat_fail_at;	/* 0: never */
extern unsigned long index_compat_vallocs;	/* vzalloc() calls */
extern size_t index_compat_nomem_over;		/* 0: no limit */
extern size_t index_compat_req[8];		/* sizes asked for, */
extern unsigned int index_compat_nreq;		/* the last 8 */
extern unsigned int index_compat_warns;		/* WARN_ON_ONCE hits */
extern unsigned int index_compat_lock_errors;	/* lock misuse */

#define INDEX_COMPAT_DEFINE				\
	unsigned long index_compat_allocs;		\
	size_t index_compat_bytes;			\
	unsigned long index_compat_fail_at;		\
	unsigned long index_compat_vallocs;		\
	size_t index_compat_nomem_over;			\
	size_t index_compat_req[8];			\
	unsigned int index_compat_nreq;			\
	unsigned int index_compat_warns;		\
	unsigned int index_compat_lock_errors

/* ---- locking ---- */

typedef struct {
	int held;
} spinlock_t;

static inline void index_compat_lock_error(const char *what, const char *lock,
					   const char *file, int line)
{
	index_compat_lock_errors++;
	fprintf(stderr, "# LOCK ERROR at %s:%d: %s %s\n", file, line, what,
		lock);
}

#define spin_lock_init(l)	((l)->held = 0)

#define spin_lock(l) do {						\
	if ((l)->held)							\
		index_compat_lock_error("spin_lock of held", #l,	\
					__FILE__, __LINE__);		\
	(l)->held = 1;							\
} while (0)

#define spin_unlock(l) do {						\
	if (!(l)->held)							\
		index_compat_lock_error("spin_unlock of free", #l,	\
					__FILE__, __LINE__);		\
	(l)->held = 0;							\
} while (0)

#define lockdep_assert_held(l) do {					\
	if (!(l)->held)							\
		index_compat_lock_error("lockdep_assert_held: not held", \
					#l, __FILE__, __LINE__);	\
} while (0)

/* ---- warnings ---- */

#define WARN_ON_ONCE(cond) ({						\
	static bool __warned;						\
	bool __ret = !!(cond);						\
									\
	if (__ret) {							\
		index_compat_warns++;					\
		if (!__warned) {					\
			__warned = true;				\
			fprintf(stderr, "# WARNING at %s:%d: %s\n",	\
				__FILE__, __LINE__, #cond);		\
		}							\
	}								\
	__ret; })

/* ---- memory ---- */

/* Each block starts with its size, 16 bytes so the rest stays aligned. */
#define INDEX_COMPAT_HDR	16

static inline void *index_compat_alloc(size_t n, size_t size, bool zero,
				       bool kv)
{
	size_t bytes;
	char *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	bytes = n * size;
	index_compat_req[index_compat_nreq++ % 8] = bytes;
	if (kv && bytes > INT_MAX) {	/* mm/util.c: "Don't even allow..." */
		index_compat_warns++;
		fprintf(stderr, "# WARNING: kvmalloc of %zu bytes (> INT_MAX) refused\n",
			bytes);
		return NULL;
	}
	if (index_compat_fail_at && !--index_compat_fail_at)
		return NULL;
	if (index_compat_nomem_over && bytes > index_compat_nomem_over)
		return NULL;
	p = zero ? calloc(1, INDEX_COMPAT_HDR + bytes) :
		   malloc(INDEX_COMPAT_HDR + bytes);
	if (!p)
		return NULL;
	if (!zero)	/* kvmalloc memory is not zeroed: make that visible */
		memset(p + INDEX_COMPAT_HDR, 0xa5, bytes);
	memcpy(p, &bytes, sizeof(bytes));
	index_compat_allocs++;
	index_compat_bytes += bytes;
	return p + INDEX_COMPAT_HDR;
}

static inline void kvfree(const void *addr)
{
	char *p = (char *)addr;
	size_t bytes;

	if (!p)
		return;
	p -= INDEX_COMPAT_HDR;
	memcpy(&bytes, p, sizeof(bytes));
	index_compat_allocs--;
	index_compat_bytes -= bytes;
	free(p);
}

#define kvmalloc_array(n, size, gfp)	index_compat_alloc(n, size, false, true)
#define kvcalloc(n, size, gfp)		index_compat_alloc(n, size, true, true)
#define kvzalloc(size, gfp)		index_compat_alloc(1, size, true, true)

static inline void *vzalloc(size_t size)
{
	index_compat_vallocs++;
	return index_compat_alloc(1, size, true, false);
}

/* ---- arithmetic ---- */

#define DIV_ROUND_UP(n, d)	(((n) + (d) - 1) / (d))

#define __index_cmp(x, y, op) ({					\
	__typeof__(x) __x = (x);					\
	__typeof__(y) __y = (y);					\
	(void)(&__x == &__y);	/* the kernel's type check */		\
	__x op __y ? __x : __y; })

#define max(x, y)		__index_cmp(x, y, >)
#define min(x, y)		__index_cmp(x, y, <)
#define clamp(val, lo, hi)	min(max(val, lo), hi)

static inline int index_compat_ilog2(unsigned long long n)
{
	return n ? 63 - __builtin_clzll(n) : -1;
}

#define ilog2(n)		index_compat_ilog2(n)

/* ---- bitmaps ---- */

#define BITS_PER_LONG		(8 * (int)sizeof(long))
#define BITS_PER_TYPE(type)	(sizeof(type) * 8)	/* a size_t, as there */
#define BITS_TO_LONGS(nr)	DIV_ROUND_UP(nr, BITS_PER_TYPE(long))
#define BIT_MASK(nr)		(1UL << ((nr) % BITS_PER_LONG))
#define BIT_WORD(nr)		((nr) / BITS_PER_LONG)

static inline void __set_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] |= BIT_MASK(nr);
}

static inline void __clear_bit(unsigned long nr, unsigned long *addr)
{
	addr[BIT_WORD(nr)] &= ~BIT_MASK(nr);
}

static inline bool test_bit(unsigned long nr, const unsigned long *addr)
{
	return addr[BIT_WORD(nr)] & BIT_MASK(nr);
}

static inline bool __test_and_set_bit(unsigned long nr, unsigned long *addr)
{
	bool old = test_bit(nr, addr);

	__set_bit(nr, addr);
	return old;
}

static inline bool __test_and_clear_bit(unsigned long nr, unsigned long *addr)
{
	bool old = test_bit(nr, addr);

	__clear_bit(nr, addr);
	return old;
}

/* The first set bit in [@offset, @size), or @size; reads no word past it. */
static inline unsigned long find_next_bit(const unsigned long *addr,
					  unsigned long size,
					  unsigned long offset)
{
	unsigned long idx, word, bit;

	if (offset >= size)
		return size;
	idx = BIT_WORD(offset);
	word = addr[idx] & (~0UL << (offset % BITS_PER_LONG));
	while (!word) {
		if ((idx + 1) * BITS_PER_LONG >= size)
			return size;
		word = addr[++idx];
	}
	bit = idx * BITS_PER_LONG + __builtin_ctzl(word);
	return bit < size ? bit : size;
}

#endif /* _RAWKV_INDEX_USER_COMPAT_H */
