/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* librawkv: what rawkv.c and rawkv_ring.c share; not installed. */
#ifndef LIBRAWKV_RAWKV_PRIV_H
#define LIBRAWKV_RAWKV_PRIV_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct rawkv {
	int fd;
};

/*
 * A GET or EXISTS's metadata buffer of *@mlen bytes as struct rawkv_kv's
 * meta_len carries it (at most 2^32-1); 0 when @mlen is NULL.
 */
static inline uint32_t kv_meta_buflen(const size_t *mlen)
{
	if (!mlen)
		return 0;
	return *mlen > UINT32_MAX ? UINT32_MAX : *mlen;
}

/*
 * After a GET or EXISTS that returned @ret with meta_len @meta_len: set
 * *@mlen when the kernel wrote meta_len, which it does on success and when
 * the metadata does not fit (-ERANGE, longer than the buffer); not when
 * the value does not.
 */
static inline void kv_meta_len_out(size_t *mlen, int64_t ret,
				   uint32_t meta_len)
{
	if (mlen && (ret >= 0 || (ret == -ERANGE &&
				  meta_len > kv_meta_buflen(mlen))))
		*mlen = meta_len;
}

#endif /* LIBRAWKV_RAWKV_PRIV_H */
