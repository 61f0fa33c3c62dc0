// SPDX-License-Identifier: GPL-2.0
/*
 * Host-only checks of librawkv; needs no module. Handles are opened on
 * /dev/null: real ioctls there fail with -ENOTTY, which shows the call got
 * past the library's own checks. While @fake is set, ioctl() below replaces
 * the libc one and emulates a one-key store, to check the ABI structs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <rawkv.h>	/* uapi/rawkv.h */
#include "rawkv.h"

static int failures;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "selfcheck:%d: %s\n", __LINE__, #cond);	\
		failures++;						\
	}								\
} while (0)

static int fake;
static char fkey[RAWKV_KEY_MAX], fval[64];
static size_t fklen, fvlen;

static int fake_kv(unsigned long cmd, struct rawkv_kv *a)
{
	const char *key = (const char *)(uintptr_t)a->key_ptr;
	int hit = fklen && a->key_len == fklen && !memcmp(key, fkey, fklen);

	if (a->flags || a->reserved || a->meta_ptr || a->meta_len || !a->key_len ||
	    a->key_len > RAWKV_KEY_MAX)
		return -EINVAL;
	switch (cmd) {
	case RAWKV_IOC_PUT:
		if (a->val_len > sizeof(fval))
			return -E2BIG;
		memcpy(fkey, key, fklen = a->key_len);
		memcpy(fval, (void *)(uintptr_t)a->val_ptr, fvlen = a->val_len);
		return 0;
	case RAWKV_IOC_GET:
		if (!hit)
			return -ENOENT;
		if (a->val_len && a->val_len < fvlen) {
			a->val_len = fvlen;
			return -ERANGE;
		}
		if (a->val_len)
			memcpy((void *)(uintptr_t)a->val_ptr, fval, fvlen);
		a->val_len = fvlen;
		return 0;
	case RAWKV_IOC_DELETE:
		if (a->val_ptr || a->val_len)
			return -EINVAL;
		if (!hit)
			return -ENOENT;
		fklen = 0;
		return 0;
	}
	return -ENOTTY;
}

static int fake_ioctl(unsigned long cmd, void *arg)
{
	struct rawkv_ioc_stat *s = arg;
	struct rawkv_flush *f = arg;
	__u64 *p;

	switch (cmd) {
	case RAWKV_IOC_STAT:
		if (s->flags)
			return -EINVAL;
		/* 100, 101, ... in every field after flags and size. */
		for (p = &s->slot_size; p < s->reserved; p++)
			*p = 100 + (p - &s->slot_size);
		s->size = sizeof(*s);
		return 0;
	case RAWKV_IOC_FLUSH:
		if (f->flags || f->reserved0 || f->reserved[0] || f->reserved[1])
			return -EINVAL;
		f->checkpoint_seq = 7;
		return 0;
	}
	return fake_kv(cmd, arg);
}

int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	void *arg;
	int err;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (!fake)
		return syscall(SYS_ioctl, fd, cmd, arg);
	err = fake_ioctl(cmd, arg);
	errno = -err;
	return err ? -1 : 0;
}

static void check_real(struct rawkv *kv)
{
	char key[RAWKV_KEY_MAX + 1], buf[8];
	struct rawkv_stat st;

	memset(key, 'k', sizeof(key));
	/* The library rejects what is certain... */
	CHECK(rawkv_put(NULL, "k", 1, "v", 1) == -EINVAL);
	CHECK(rawkv_put(kv, "k", 0, "v", 1) == -EINVAL);
	CHECK(rawkv_put(kv, key, RAWKV_KEY_MAX + 1, "v", 1) == -EINVAL);
	CHECK(rawkv_put(kv, key, (size_t)-1, "v", 1) == -EINVAL);
	CHECK(rawkv_get(NULL, "k", 1, buf, sizeof(buf)) == -EINVAL);
	CHECK(rawkv_get(kv, "k", 0, buf, sizeof(buf)) == -EINVAL);
	CHECK(rawkv_get(kv, key, RAWKV_KEY_MAX + 1, NULL, 0) == -EINVAL);
	CHECK(rawkv_delete(NULL, "k", 1) == -EINVAL);
	CHECK(rawkv_delete(kv, "k", 0) == -EINVAL);
	CHECK(rawkv_delete(kv, key, 256) == -EINVAL);
	CHECK(rawkv_flush(NULL) == -EINVAL);
	CHECK(rawkv_stat(NULL, &st) == -EINVAL);
	CHECK(rawkv_stat(kv, NULL) == -EINVAL);

	/* ...and passes everything else, NULL pointers included, through. */
	CHECK(rawkv_put(kv, key, RAWKV_KEY_MAX, "v", 1) == -ENOTTY);
	CHECK(rawkv_put(kv, NULL, 1, "v", 1) == -ENOTTY);
	CHECK(rawkv_put(kv, "k", 1, NULL, 1) == -ENOTTY);
	CHECK(rawkv_put(kv, "k", 1, NULL, 0) == -ENOTTY);
	CHECK(rawkv_put(kv, "k", 1, "v", (size_t)-1) == -ENOTTY);
	CHECK(rawkv_get(kv, NULL, 1, NULL, 0) == -ENOTTY);
	CHECK(rawkv_get(kv, "k", 1, NULL, 5) == -ENOTTY);
	CHECK(rawkv_delete(kv, NULL, 1) == -ENOTTY);
	CHECK(rawkv_flush(kv) == -ENOTTY);
	CHECK(rawkv_stat(kv, &st) == -ENOTTY);
}

static void check_fake(struct rawkv *kv)
{
	struct rawkv_stat st;
	char buf[64];
	uint64_t *p;

	fake = 1;
	CHECK(rawkv_get(kv, "key", 3, NULL, 0) == -ENOENT);
	CHECK(rawkv_put(kv, "key", 3, "hello", 5) == 0);
	CHECK(rawkv_get(kv, "key", 3, NULL, 0) == 5);
	CHECK(rawkv_get(kv, "key", 3, buf, 4) == -ERANGE);
	memset(buf, 0, sizeof(buf));
	CHECK(rawkv_get(kv, "key", 3, buf, sizeof(buf)) == 5);
	CHECK(!memcmp(buf, "hello", 6));
	CHECK(rawkv_get(kv, "kex", 3, buf, sizeof(buf)) == -ENOENT);
	CHECK(rawkv_put(kv, "key", 3, buf, sizeof(buf) + 1) == -E2BIG);
	CHECK(rawkv_put(kv, "key", 3, NULL, 0) == 0);
	CHECK(rawkv_get(kv, "key", 3, NULL, 0) == 0);
	CHECK(rawkv_get(kv, "key", 3, buf, sizeof(buf)) == 0);
	CHECK(rawkv_delete(kv, "key", 3) == 0);
	CHECK(rawkv_delete(kv, "key", 3) == -ENOENT);
	CHECK(rawkv_flush(kv) == 0);

	memset(&st, 0xff, sizeof(st));
	CHECK(rawkv_stat(kv, &st) == 0);
	for (p = &st.slot_size; p < st.reserved; p++)
		CHECK(*p == 100 + (uint64_t)(p - &st.slot_size));
	for (p = st.reserved; p < st.reserved + sizeof(st.reserved) / sizeof(st.reserved[0]);
	     p++)
		CHECK(*p == 0);
	fake = 0;
}

int main(void)
{
	struct rawkv *kv = (void *)1;
	const char *s;
	int e;

	CHECK(rawkv_open("/nonexistent/rawkv", &kv) == -ENOENT);
	CHECK(!kv);
	CHECK(rawkv_open(NULL, NULL) == -EINVAL);
	CHECK(access("/dev/rawkv", F_OK) == 0 ||
	      rawkv_open(NULL, &kv) == -ENOENT);
	rawkv_close(NULL);

	CHECK(rawkv_open("/dev/null", &kv) == 0 && kv);
	if (kv) {
		errno = 12345;
		check_real(kv);
		check_fake(kv);
		CHECK(errno == 12345);
		rawkv_close(kv);
		CHECK(errno == 12345);
	}

	CHECK(!strcmp(rawkv_strerror(-ENOENT), "no such key"));
	CHECK(!strcmp(rawkv_strerror(ENOENT), "no such key"));
	CHECK(!strcmp(rawkv_strerror(-ENOSPC),
		      "device full and eviction disabled (evict=0)"));
	CHECK(strstr(rawkv_strerror(-E2BIG), "value_max"));
	CHECK(strstr(rawkv_strerror(-ENODEV), "module loaded"));
	CHECK(!strcmp(rawkv_strerror(-EBUSY), strerror(EBUSY)));
	CHECK(rawkv_strerror(-2147483647 - 1));
	for (e = 0; e < 200; e++) {
		s = rawkv_strerror(-e);
		CHECK(s && *s);
	}

	if (failures) {
		fprintf(stderr, "selfcheck: %d failures\n", failures);
		return 1;
	}
	printf("selfcheck: library OK\n");
	return 0;
}
