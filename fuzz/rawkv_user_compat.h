/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rawkv: the few kernel helpers kmod/rawkv_decode.c uses, for building it
 * in user space (the fuzzer). rawkv_decode.h includes this file when
 * __KERNEL__ is not defined. Each helper has the kernel's semantics:
 *
 *   crc32c()	  lib/libcrc32c.c: Castagnoli, reflected, the seed is the
 *		  running crc and nothing is inverted inside, so the kernel's
 *		  crc32c(~0, buf, len) is what rawkv_crc() computes; the length
 *		  is an unsigned int as in <linux/crc32c.h>.
 *   round_up()	  <linux/math.h>: y must be a power of two.
 *   min_t(), max_t(), clamp_t(), max(), is_power_of_2(), U32_MAX,
 *   le*_to_cpu(), cpu_to_le*(); offsetof() comes from <stddef.h>.
 */
#ifndef _RAWKV_USER_COMPAT_H
#define _RAWKV_USER_COMPAT_H

#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define U32_MAX		((u32)~0U)

#define le16_to_cpu(x)	le16toh(x)
#define le32_to_cpu(x)	le32toh(x)
#define le64_to_cpu(x)	le64toh(x)
#define cpu_to_le16(x)	htole16(x)
#define cpu_to_le32(x)	htole32(x)
#define cpu_to_le64(x)	htole64(x)

#define __round_mask(x, y)	((__typeof__(x))((y) - 1))
#define round_up(x, y)		((((x) - 1) | __round_mask(x, y)) + 1)

#define min_t(type, x, y) ({			\
	type __min1 = (x);			\
	type __min2 = (y);			\
	__min1 < __min2 ? __min1 : __min2; })

#define max_t(type, x, y) ({			\
	type __max1 = (x);			\
	type __max2 = (y);			\
	__max1 > __max2 ? __max1 : __max2; })

/* <linux/minmax.h>: @val, @lo and @hi are each evaluated once, as @type. */
#define clamp_t(type, val, lo, hi) \
	min_t(type, max_t(type, val, lo), hi)

#define max(x, y) ({				\
	__typeof__(x) __max1 = (x);		\
	__typeof__(y) __max2 = (y);		\
	(void)(&__max1 == &__max2);		\
	__max1 > __max2 ? __max1 : __max2; })

static inline bool is_power_of_2(unsigned long n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

/* Reflected Castagnoli polynomial, as in the kernel's crc32c_generic. */
#define RAWKV_CRC32C_POLY	0x82f63b78U

static inline u32 crc32c(u32 crc, const void *address, unsigned int length)
{
	static u32 table[256];
	static bool ready;
	const u8 *p = address;
	unsigned int i, j;

	if (!ready) {
		for (i = 0; i < 256; i++) {
			u32 c = i;

			for (j = 0; j < 8; j++)
				c = (c >> 1) ^ (c & 1 ? RAWKV_CRC32C_POLY : 0);
			table[i] = c;
		}
		ready = true;
	}
	while (length--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#endif /* _RAWKV_USER_COMPAT_H */
