/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/* librawkv: what rawkv.c and rawkv_ring.c share; not installed. */
#ifndef LIBRAWKV_RAWKV_PRIV_H
#define LIBRAWKV_RAWKV_PRIV_H

struct rawkv {
	int fd;
};

#endif /* LIBRAWKV_RAWKV_PRIV_H */
