// SPDX-License-Identifier: GPL-2.0
/*
 * rawkv_install_smoke: a program built from an installed librawkv only, with
 * `pkg-config --cflags --libs rawkv` (scripts/install-test.sh). It includes
 * <rawkv.h> and <rawkv/uapi.h> as any user would, and checks against a real
 * store that the synchronous, asynchronous and raw ioctl paths all work.
 *
 *   rawkv_install_smoke [DEVICE]     (default /dev/rawkv)
 *
 * Prints one "ok N - ..." or "not ok N - ..." line per check; exits 0 when
 * every check passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <rawkv.h>
#include <rawkv/uapi.h>

static int n_checks, n_failed;

static void check(int cond, const char *what, long got)
{
	n_checks++;
	if (cond) {
		printf("ok %d - %s\n", n_checks, what);
	} else {
		n_failed++;
		printf("not ok %d - %s (got %ld)\n", n_checks, what, got);
	}
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : RAWKV_DEFAULT_DEVICE;
	static const char key[] = "install-smoke", key2[] = "install-smoke-2";
	size_t len = 200000, i;
	struct rawkv_completion c;
	struct rawkv_ring *ring;
	struct rawkv_stat st;
	struct rawkv_kv raw;
	struct rawkv *kv;
	char *val, *buf;
	long ret;
	int fd;

	val = malloc(len);
	buf = malloc(len);
	if (!val || !buf)
		return 2;
	for (i = 0; i < len; i++)
		val[i] = (char)(i * 131 + (i >> 9));

	ret = rawkv_open(dev, &kv);
	check(ret == 0, "rawkv_open", ret);
	if (ret)
		return 1;

	ret = rawkv_stat(kv, &st);
	check(ret == 0 && st.value_max >= len && st.key_max == RAWKV_KEY_MAX,
	      "rawkv_stat: value_max and key_max", ret ? ret : (long)st.value_max);

	ret = rawkv_put(kv, key, sizeof(key) - 1, val, len);
	check(ret == 0, "rawkv_put", ret);
	memset(buf, 0, len);
	ret = rawkv_get(kv, key, sizeof(key) - 1, buf, len);
	check(ret == (long)len && !memcmp(buf, val, len),
	      "rawkv_get returns the bytes put", ret);
	ret = rawkv_exists(kv, key, sizeof(key) - 1);
	check(ret == (long)len, "rawkv_exists: value length", ret);

	/* The ioctl ABI header, on a descriptor of our own. */
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	memset(&raw, 0, sizeof(raw));
	raw.key_ptr = (uint64_t)(uintptr_t)key;
	raw.key_len = sizeof(key) - 1;
	ret = fd < 0 ? -errno : ioctl(fd, RAWKV_IOC_EXISTS, &raw);
	check(ret == 0 && raw.val_len == len, "RAWKV_IOC_EXISTS from <rawkv/uapi.h>",
	      ret ? ret : (long)raw.val_len);
	if (fd >= 0)
		close(fd);

	/* The asynchronous API: liburing is linked in through rawkv.pc. */
	ret = rawkv_ring_open(kv, 4, &ring);
	check(ret == 0, "rawkv_ring_open", ret);
	if (!ret) {
		memset(buf, 0, len);
		ret = rawkv_ring_get(ring, key, sizeof(key) - 1, buf, len, 42);
		if (!ret)
			ret = rawkv_ring_submit(ring);
		if (ret == 1)
			ret = rawkv_ring_reap(ring, &c, 1, 1);
		check(ret == 1 && c.user_data == 42 && c.result == (long)len &&
		      !memcmp(buf, val, len), "rawkv_ring_get returns the bytes put",
		      ret == 1 ? (long)c.result : ret);
		rawkv_ring_close(ring);
	}

	ret = rawkv_put_sync(kv, key2, sizeof(key2) - 1, val, 1000);
	check(ret == 0, "rawkv_put_sync", ret);
	ret = rawkv_delete(kv, key, sizeof(key) - 1);
	check(ret == 0, "rawkv_delete", ret);
	ret = rawkv_get(kv, key, sizeof(key) - 1, buf, len);
	check(ret == -ENOENT, "rawkv_get after delete: -ENOENT", ret);
	ret = rawkv_flush(kv);
	check(ret == 0, "rawkv_flush", ret);
	check(!strcmp(rawkv_strerror(-ENOENT), rawkv_strerror(ENOENT)),
	      "rawkv_strerror", 0);
	rawkv_close(kv);

	printf("# %d checks, %d failed\n", n_checks, n_failed);
	free(val);
	free(buf);
	return n_failed ? 1 : 0;
}
