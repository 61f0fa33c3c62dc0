/* SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause */
/*
 * librawkv: client library of rawkv, a persistent key-value store on a raw
 * block device, served by the rawkv kernel module through /dev/rawkv.
 *
 * Keys are 1..RAWKV_KEY_MAX arbitrary bytes (they may contain NUL bytes).
 * Values are 0..value_max arbitrary bytes, where value_max depends on the
 * slot size the device was formatted with (see rawkv_stat()).
 *
 * Errors: every function returns 0 (or a length) on success and a negative
 * errno on failure; errno itself is left unchanged. rawkv_strerror()
 * explains an error in rawkv terms.
 *
 * Durability: a successful rawkv_put() or rawkv_delete() is visible to
 * every later call at once, but survives a crash or power cut only after a
 * later rawkv_flush() (or the module's periodic commit) commits it.
 * rawkv_put_sync() commits: it, and everything acknowledged before it,
 * survive one as soon as it returns, and so does a rawkv_delete() of a key
 * written with it.
 *
 * Thread safety: a struct rawkv holds only a file descriptor, so one handle
 * may be used by any number of threads at once; calls on different keys run
 * in parallel in the kernel. rawkv_close() must not race with other calls on
 * the same handle. The handle stays usable in a child after fork().
 *
 * Asynchronous calls: a struct rawkv_ring (rawkv_ring_open()) puts PUT, GET,
 * DELETE and EXISTS on an io_uring: prepare operations, submit them with
 * one system call, reap their completions later; see "Asynchronous API"
 * below.
 *
 * Link with -lrawkv -luring (or `pkg-config --libs rawkv`).
 */
#ifndef LIBRAWKV_RAWKV_H
#define LIBRAWKV_RAWKV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RAWKV_KEY_MAX
#define RAWKV_KEY_MAX		255	/* longest key, in bytes */
#endif
#ifndef RAWKV_META_MAX
#define RAWKV_META_MAX		256	/* most bytes of user metadata */
#endif
#ifndef RAWKV_PUT_SYNC
#define RAWKV_PUT_SYNC		(1U << 0)	/* rawkv_put_meta(): durably */
#endif

#define RAWKV_DEFAULT_DEVICE	"/dev/rawkv"

/* An open rawkv device; opaque. */
struct rawkv;

/**
 * struct rawkv_stat - geometry and counters of a store, see rawkv_stat()
 *
 * Byte counts are in bytes; counters count since the module loaded the
 * store. A field the running kernel does not report reads as zero.
 *
 * @slot_size:		bytes per slot (slot header block + value area)
 * @value_max:		largest value rawkv_put() accepts
 * @key_max:		largest key rawkv_put() accepts (RAWKV_KEY_MAX)
 * @slots_total:	slots on the device
 * @slots_used:		slots holding a live value
 * @device_bytes:	size of the block device
 * @checkpoint_seq:	sequence number of the last commit
 * @puts:		successful PUTs
 * @gets:		GETs (hits + misses)
 * @hits:		GETs that found their key
 * @misses:		GETs that did not find their key
 * @deletes:		DELETEs that removed a key
 * @evictions:		values evicted to make room (module parameter evict=1)
 * @checkpoints:	commits (metadata log transactions) written
 * @bytes_written:	bytes written to the device (values, headers, metadata)
 * @bytes_read:		bytes read from the device
 * @entry_mem_bytes:	kernel memory held by the table entries
 * @table_mem_bytes:	kernel memory of the fixed tables
 * @io_errors:		device reads and writes that failed
 * @load_dropped:	metadata entries and log records dropped at load
 * @stale_dropped:	entries dropped by GET because their slot did not
 *			hold their value
 * @logical_block_size:	logical block size of the device
 * @bytes_zero_copy:	value bytes moved between the caller's buffer and the
 *			device without a copy (buffer aligned to the
 *			logical block size)
 * @bytes_bounced:	value bytes copied through kernel bounce pages
 * @crc32c_mbps:	speed of the kernel's crc32c (MB/s), measured when the
 *			module loaded
 * @crc32c_driver:	the crypto driver behind the kernel's crc32c, a
 *			NUL-terminated string such as "crc32c-intel"
 * @reserved:		zero; room for later fields
 */
struct rawkv_stat {
	uint64_t slot_size;
	uint64_t value_max;
	uint64_t key_max;
	uint64_t slots_total;
	uint64_t slots_used;
	uint64_t device_bytes;
	uint64_t checkpoint_seq;
	uint64_t puts;
	uint64_t gets;
	uint64_t hits;
	uint64_t misses;
	uint64_t deletes;
	uint64_t evictions;
	uint64_t checkpoints;
	uint64_t bytes_written;
	uint64_t bytes_read;
	uint64_t entry_mem_bytes;
	uint64_t table_mem_bytes;
	uint64_t io_errors;
	uint64_t load_dropped;
	uint64_t stale_dropped;
	uint64_t logical_block_size;
	uint64_t bytes_zero_copy;
	uint64_t bytes_bounced;
	uint64_t crc32c_mbps;
	char crc32c_driver[16];
	uint64_t reserved[3];
};

/**
 * rawkv_open() - open a rawkv device
 * @path:	device node; NULL means RAWKV_DEFAULT_DEVICE ("/dev/rawkv")
 * @kv:		on success, the new handle; on failure, set to NULL
 *
 * Opens @path read-write and close-on-exec; when read-write is refused
 * (-EACCES, -EROFS), read-only: then GET and STAT work and PUT, DELETE and
 * FLUSH fail with -EBADF. Nothing checks that @path is a rawkv device: on
 * any other file the first call fails with -ENOTTY.
 *
 * Return: 0, or -EINVAL if @kv is NULL, -ENOMEM, or the negative errno of
 * open(2): -ENOENT when the node does not exist (module not loaded),
 * -ENODEV or -ENXIO when it exists but no driver serves it, -EACCES.
 */
int rawkv_open(const char *path, struct rawkv **kv);

/**
 * rawkv_close() - close a handle and free it
 * @kv:		handle from rawkv_open(), or NULL (then nothing happens)
 *
 * Unflushed changes are not lost: they stay in the module and are committed
 * by the next flush of any handle or by the periodic commit.
 */
void rawkv_close(struct rawkv *kv);

/**
 * rawkv_put() - store a value under a key, replacing any previous value
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	value bytes; may be NULL when @vlen is 0
 * @vlen:	value length, 0..value_max
 *
 * The value is on the device when the call returns; the key survives a
 * crash only after a later rawkv_flush().
 *
 * Return: 0, or
 *	-EINVAL	@kv NULL, @klen 0 or > RAWKV_KEY_MAX
 *	-E2BIG	@vlen larger than value_max
 *	-EFAULT	@key or @val not readable
 *	-ENOSPC	no free slot and eviction disabled (module parameter evict=0)
 *	-EIO	the device failed the write; the previous value is intact
 *	-ENOMEM	out of kernel memory
 *	-EINTR	a signal arrived while waiting for a free slot
 *	-ENOTTY	not a rawkv device
 */
int rawkv_put(struct rawkv *kv, const void *key, size_t klen,
	      const void *val, size_t vlen);

/**
 * rawkv_put_sync() - store a value durably
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	value bytes; may be NULL when @vlen is 0
 * @vlen:	value length, 0..value_max
 *
 * Like rawkv_put(), then a commit: returns only once the value, and every
 * change acknowledged before it, survives a power cut. Concurrent callers
 * share one commit (one metadata write). A later rawkv_delete() of the key
 * is durable when it returns, too.
 *
 * Return: as rawkv_put().
 */
int rawkv_put_sync(struct rawkv *kv, const void *key, size_t klen,
		   const void *val, size_t vlen);

/**
 * rawkv_put_meta() - store a value with user metadata
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	value bytes; may be NULL when @vlen is 0
 * @vlen:	value length, 0..value_max
 * @meta:	the value's user metadata; may be NULL when @mlen is 0
 * @mlen:	its length, 0..RAWKV_META_MAX (0: none)
 * @flags:	0, or RAWKV_PUT_SYNC to store durably as rawkv_put_sync()
 *
 * Like rawkv_put() (or rawkv_put_sync()), and the @mlen bytes at @meta
 * are stored with the value, in its slot header: rawkv_get_meta() and
 * rawkv_exists_meta() return them, until the key gets another value.
 * rawkv does not interpret them (LMCache keeps a chunk's shape, dtype and
 * format there).
 *
 * Return: as rawkv_put(), and
 *	-EMSGSIZE	@mlen larger than RAWKV_META_MAX
 *	-EINVAL	unknown @flags
 *	-EFAULT	@meta not readable
 */
int rawkv_put_meta(struct rawkv *kv, const void *key, size_t klen,
		   const void *val, size_t vlen, const void *meta,
		   size_t mlen, unsigned int flags);

/**
 * struct rawkv_op - one operation of rawkv_put_batch() or rawkv_get_batch()
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	PUT: the value; GET: the buffer
 * @vlen:	PUT: value length; GET: buffer length (0 queries the length)
 * @result:	out: PUT: 0 or a negative errno as rawkv_put() returns it;
 *		GET: the value length or a negative errno as rawkv_get()
 */
struct rawkv_op {
	const void *key;
	size_t klen;
	void *val;
	size_t vlen;
	ssize_t result;
};

/**
 * rawkv_put_batch() - store many values with one system call per 256
 * @kv:		handle
 * @ops:	the operations; each gets its own @result
 * @n:		number of operations
 *
 * The module submits the I/O of every operation before it waits for any,
 * so a batch keeps the device as busy as @n threads would. Operations on
 * the same key take effect in array order.
 *
 * Return: 0 when every operation has its result, or -EINVAL (@kv or @ops
 * NULL), -EFAULT (@ops not readable or writable), -ENOMEM, -ENOTTY.
 */
int rawkv_put_batch(struct rawkv *kv, struct rawkv_op *ops, size_t n);

/**
 * rawkv_get_batch() - read many values with one system call per 256
 * @kv:		handle
 * @ops:	the operations; @val and @vlen are each one's buffer
 * @n:		number of operations
 *
 * Return: as rawkv_put_batch().
 */
int rawkv_get_batch(struct rawkv *kv, struct rawkv_op *ops, size_t n);

/**
 * rawkv_get() - read the value of a key
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @buf:	buffer for the value; ignored when @buflen is 0
 * @buflen:	size of @buf; 0 only queries the value length
 *
 * To read a value of unknown size, call with @buflen 0, allocate the length
 * returned, and call again; retry if that returns -ERANGE (another writer
 * replaced the value with a longer one in between).
 *
 * Return: the value length (which may be 0), or
 *	-EINVAL	@kv NULL, @klen 0 or > RAWKV_KEY_MAX
 *	-ENOENT	no such key
 *	-ERANGE	@buflen is not 0 and is smaller than the value
 *	-EFAULT	@key not readable or @buf not writable
 *	-EIO	the device failed the read, or the bytes read did not match
 *		the key, length or checksum; the key has been dropped.
 *		@buf contents are undefined.
 *	-ENOMEM	out of kernel memory
 *	-EOVERFLOW the value length does not fit in ssize_t
 *	-ENOTTY	not a rawkv device
 */
ssize_t rawkv_get(struct rawkv *kv, const void *key, size_t klen,
		  void *buf, size_t buflen);

/**
 * rawkv_get_meta() - read the value of a key and its user metadata
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @buf:	buffer for the value; ignored when @buflen is 0
 * @buflen:	size of @buf; 0 only queries the value length (and the
 *		metadata, as rawkv_exists_meta())
 * @meta:	buffer for the metadata; RAWKV_META_MAX bytes always suffice
 * @mlen:	in: size of @meta, at least 1; out: the metadata's length,
 *		0 when the value has none. NULL: as rawkv_get()
 *
 * Return: as rawkv_get(), and
 *	-ERANGE	also when the metadata is longer than @meta: *@mlen is
 *		then set to its length (and @buf's contents are undefined);
 *		when the value is what does not fit, *@mlen is unchanged
 *	-EINVAL	*@mlen is 0
 *	-EFAULT	@meta not writable
 */
ssize_t rawkv_get_meta(struct rawkv *kv, const void *key, size_t klen,
		       void *buf, size_t buflen, void *meta, size_t *mlen);

/**
 * rawkv_delete() - remove a key
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 *
 * Return: 0, or
 *	-EINVAL	@kv NULL, @klen 0 or > RAWKV_KEY_MAX
 *	-ENOENT	no such key
 *	-EFAULT	@key not readable
 *	-EIO	a slot header could not be read (nothing is deleted), or the
 *		key is deleted but the checkpoint that makes deleting a
 *		rawkv_put_sync() key durable failed; a later rawkv_flush()
 *		retries it
 *	-EINTR	interrupted while waiting; the key may be deleted, not durably
 *	-ENOMEM	out of kernel memory
 *	-ENOTTY	not a rawkv device
 */
int rawkv_delete(struct rawkv *kv, const void *key, size_t klen);

/**
 * rawkv_exists() - whether a key exists, and its value length
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 *
 * The same as rawkv_get() with @buflen 0: answered from the module's
 * in-memory table, without reading the device. Works on a read-only handle.
 *
 * Return: the value length (which may be 0), or
 *	-EINVAL	@kv NULL, @klen 0 or > RAWKV_KEY_MAX
 *	-ENOENT	no such key
 *	-EFAULT	@key not readable
 *	-ENOTTY	not a rawkv device, or a module without RAWKV_IOC_EXISTS
 */
int rawkv_exists(struct rawkv *kv, const void *key, size_t klen);

/**
 * rawkv_exists_meta() - a key's value length and user metadata
 * @kv:		handle
 * @key:	key bytes
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @meta:	buffer for the metadata; RAWKV_META_MAX bytes always suffice
 * @mlen:	in: size of @meta, at least 1; out: the metadata's length,
 *		0 when the value has none. NULL: as rawkv_exists()
 *
 * Unlike rawkv_exists(), reads the key's slot header from the device (a
 * few KiB, not the value), which also proves the key. Works on a
 * read-only handle.
 *
 * Return: as rawkv_exists(), and
 *	-ERANGE	the metadata is longer than @meta; *@mlen is set to its
 *		length
 *	-EINVAL	*@mlen is 0
 *	-EFAULT	@meta not writable
 *	-EIO	the slot header could not be read or is damaged
 *	-ENOMEM	out of kernel memory
 */
int rawkv_exists_meta(struct rawkv *kv, const void *key, size_t klen,
		      void *meta, size_t *mlen);

/**
 * rawkv_flush() - commit every acknowledged PUT and DELETE to the device
 * @kv:		handle
 *
 * Writes a checkpoint unless the last one already holds the current table.
 * When it returns 0, every change acknowledged before the call (by any
 * handle) survives a power cut.
 *
 * Return: 0, or
 *	-EINVAL	@kv NULL
 *	-EIO	the checkpoint could not be written; the previous one is still
 *		valid and the next flush tries again
 *	-ENOMEM	out of kernel memory
 *	-ENOTTY	not a rawkv device
 */
int rawkv_flush(struct rawkv *kv);

/**
 * rawkv_stat() - read the geometry and counters of the store
 * @kv:		handle
 * @st:		filled on success; fields the kernel does not report are 0
 *
 * Return: 0, or -EINVAL (@kv or @st NULL), -EFAULT, -ENOTTY.
 */
int rawkv_stat(struct rawkv *kv, struct rawkv_stat *st);

/*
 * Listing keys
 *
 * An iterator returns every key of the store with its value length, in
 * the order of the slots they are in, a bufferful of keys per system call
 * (RAWKV_IOC_LIST, from a cursor). A key neither PUT nor deleted while
 * the iteration runs is returned exactly once; one that is may be
 * returned once, twice or not at all. Keys are read from the device
 * (their slot headers), so listing a million keys reads a million
 * headers, many at a time.
 */
struct rawkv_iter;

/**
 * rawkv_iter_open() - start iterating over the keys of a store
 * @kv:		handle (read-only is enough)
 * @it:		set to the iterator; free it with rawkv_iter_close()
 *
 * Return: 0, or -EINVAL (@kv or @it NULL), -ENOMEM.
 */
int rawkv_iter_open(struct rawkv *kv, struct rawkv_iter **it);

/**
 * rawkv_iter_next() - the next key
 * @it:		iterator
 * @key:	set to the key's bytes, valid until the next call on @it
 * @klen:	set to the key's length
 * @vlen:	set to its value's length (may be NULL)
 *
 * Return: 1 with a key, 0 when there are no more, or
 *	-EIO	a header could not be read; calling again retries it
 *	-ENOMEM	out of kernel memory
 *	-EINVAL	@it, @key or @klen NULL
 *	-ENOTTY	the module does not know RAWKV_IOC_LIST
 */
int rawkv_iter_next(struct rawkv_iter *it, const void **key, size_t *klen,
		    uint64_t *vlen);

/* rawkv_iter_close() - free an iterator (NULL: nothing happens) */
void rawkv_iter_close(struct rawkv_iter *it);

/*
 * Several stores
 *
 * One rawkv module serves several block devices, each a store with its
 * own device node: store 0 is /dev/rawkv, store N is /dev/rawkvN. The
 * module's dev= parameter attaches store 0 at load; rawkv_attach() and
 * rawkv_detach() attach and detach stores while it is loaded, through
 * /dev/rawkv-control (root, or CAP_SYS_ADMIN). A store's attributes and
 * counters are in /sys/class/misc/rawkvN/.
 */
#define RAWKV_CONTROL_DEVICE	"/dev/rawkv-control"
#define RAWKV_STORES_MAX	256	/* store numbers are 0..255 */
#define RAWKV_PATH_MAX		256	/* bytes of a device path, NUL included */

#define RAWKV_ATTACH_FORMAT	(1U << 0)	/* write a fresh layout: erases */
#define RAWKV_ATTACH_NO_EVICT	(1U << 1)	/* full: PUT fails with -ENOSPC */

/**
 * struct rawkv_attach_opts - settings of a store being attached
 * @flags:	RAWKV_ATTACH_FORMAT, RAWKV_ATTACH_NO_EVICT
 * @slot_size:	with RAWKV_ATTACH_FORMAT: bytes per slot, a power of two
 *		from 8 KiB to 128 MiB; 0 for the default (1 MiB)
 * @checkpoint_ms: period of the background commit in ms; 0 disables it;
 *		negative for the default (5000)
 */
struct rawkv_attach_opts {
	unsigned int flags;
	unsigned long long slot_size;
	int checkpoint_ms;
};

/**
 * rawkv_attach() - serve a block device as a new store
 * @dev:	path of the block device (shorter than RAWKV_PATH_MAX)
 * @opts:	settings, or NULL for the defaults (load an existing store)
 * @id:		set to the new store's number (see rawkv_store_path())
 *
 * Return: 0, or
 *	-EINVAL	@dev or @id NULL, @dev empty, unknown flags, a bad
 *		slot_size, a slot_size without RAWKV_ATTACH_FORMAT; or the
 *		device holds no valid rawkv layout (dmesg says why)
 *	-ENAMETOOLONG	@dev too long
 *	-ENOENT	no such device (or no /dev/rawkv-control: module not loaded)
 *	-ENOTBLK	not a block device
 *	-EBUSY	the device is in use (mounted, another store, another driver)
 *	-ENOSPC	every store number is taken, or the device is too small
 *	-EIO	the device cannot be read
 *	-ENOMEM	not enough kernel memory for the store's table
 *	-EPERM, -EACCES	the caller may not attach stores
 */
int rawkv_attach(const char *dev, const struct rawkv_attach_opts *opts,
		 unsigned int *id);

/**
 * rawkv_detach() - write a store's final metadata and release its device
 * @id:		the store's number
 *
 * Return: 0, or
 *	-ENODEV	no store has that number
 *	-EBUSY	the store is open (by any process, or with commands in
 *		flight); nothing changed
 *	-ENOENT	no /dev/rawkv-control (module not loaded)
 *	-EPERM, -EACCES	the caller may not detach stores
 */
int rawkv_detach(unsigned int id);

/**
 * rawkv_store_path() - the device node of store @id
 * @id:		store number
 * @buf:	filled with "/dev/rawkv" (0) or "/dev/rawkvN"
 * @len:	size of @buf (16 bytes are always enough)
 *
 * Return: 0, or -EINVAL (@id too large, @buf NULL), -ENAMETOOLONG.
 */
int rawkv_store_path(unsigned int id, char *buf, size_t len);

/**
 * rawkv_store_id() - the store number of a device node path
 * @path:	"/dev/rawkv", "/dev/rawkvN", "rawkvN" or "N"
 *
 * Return: the number (>= 0), or -EINVAL when @path names no store.
 */
int rawkv_store_id(const char *path);

/**
 * rawkv_strerror() - describe an error returned by this library
 * @err:	negative errno (a positive one is accepted too)
 *
 * Errors of rawkv_open() are described for the other calls (-ENOENT is
 * "no such key"); a caller reporting an open failure should say so itself.
 *
 * Return: a static string, never NULL; strerror(3) text for errnos rawkv
 * does not use. Thread-safe for every errno rawkv documents.
 */
const char *rawkv_strerror(int err);

/*
 * Asynchronous API
 *
 * A ring is an io_uring on a handle's descriptor with room for @depth
 * operations. rawkv_ring_put(), _put_sync(), _get(), _delete() and
 * _exists() each prepare one operation; rawkv_ring_submit() hands every
 * prepared operation to the kernel in one system call; rawkv_ring_reap()
 * returns completions, each with the caller's user_data and the result the
 * synchronous call would have returned (rawkv_put(), rawkv_put_sync(),
 * rawkv_get(), rawkv_delete(), rawkv_exists()). Operations complete in any
 * order; two operations on the same key in flight at once take effect in
 * no defined order.
 *
 * The key, the value and the GET buffer must stay valid (and the value
 * and buffer untouched) until the operation's completion has been reaped;
 * the library keeps everything else. An operation counts against @depth
 * from its preparation until it is reaped.
 *
 * Durability is that of the synchronous calls: a completed PUT survives a
 * power cut after a later rawkv_flush(); a completed PUT_SYNC at once.
 *
 * Thread safety: a ring may be used by one thread at a time (callers
 * serialize); different rings, and the handle itself, may be used by other
 * threads at once. The handle must stay open until rawkv_ring_close().
 * A ring is not usable in a child after fork().
 *
 * The kernel runs each operation in an io_uring worker thread of the
 * submitting process today, so operations in flight run in parallel as
 * the same number of threads calling the synchronous API would.
 */

/* An io_uring for asynchronous operations on a handle; opaque. */
struct rawkv_ring;

/* Largest depth of rawkv_ring_open(). */
#define RAWKV_RING_DEPTH_MAX	4096

/**
 * struct rawkv_completion - one completed operation, see rawkv_ring_reap()
 * @user_data:	the value passed when the operation was prepared
 * @result:	what the synchronous call returns: 0 (PUT, DELETE), the value
 *		length (GET, EXISTS) or a negative errno
 */
struct rawkv_completion {
	uint64_t user_data;
	int64_t result;
};

/**
 * rawkv_ring_open() - set up a ring for asynchronous operations
 * @kv:		handle; must outlive the ring
 * @depth:	most operations prepared or in flight at once, 1..4096
 * @ring:	on success, the new ring; on failure, set to NULL
 *
 * Return: 0, or
 *	-EINVAL	@kv or @ring NULL, @depth out of range
 *	-ENOMEM	out of memory
 *	-ENOSYS	the kernel has no io_uring; -EPERM when it is disabled
 *		(sysctl kernel.io_uring_disabled)
 *	-EMFILE, -ENFILE no descriptor left for the ring or its eventfd
 *	-ENOTTY	not a rawkv device
 *	or another negative errno of io_uring_setup(2) or eventfd(2)
 */
int rawkv_ring_open(struct rawkv *kv, unsigned int depth,
		    struct rawkv_ring **ring);

/**
 * rawkv_ring_close() - wait for the operations in flight, free the ring
 * @ring:	ring, or NULL (then nothing happens)
 *
 * Waits until every submitted operation has completed (their completions
 * are discarded; a PUT acknowledged that way is stored as usual), then
 * frees the ring and closes its eventfd. Operations prepared and not
 * submitted are dropped: they never reach the kernel. Leaves the handle
 * open.
 */
void rawkv_ring_close(struct rawkv_ring *ring);

/**
 * rawkv_ring_eventfd() - an eventfd that signals completions
 * @ring:	ring
 *
 * The eventfd is registered on the ring: its counter grows when
 * completions are posted, so it polls readable while completions may be
 * waiting. It is non-blocking and close-on-exec; read(2) it to reset it
 * before reaping. The ring owns it: do not close it.
 *
 * Return: the descriptor, or -EINVAL if @ring is NULL.
 */
int rawkv_ring_eventfd(struct rawkv_ring *ring);

/**
 * rawkv_ring_put() - prepare a PUT
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	value bytes, valid and unchanged until the completion is reaped
 * @vlen:	value length, 0..value_max
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_put().
 *
 * Return: 0, or
 *	-EINVAL	@ring NULL, @klen 0 or > RAWKV_KEY_MAX
 *	-E2BIG	@vlen larger than value_max
 *	-EBUSY	@depth operations are already prepared or in flight: reap
 *		first
 */
int rawkv_ring_put(struct rawkv_ring *ring, const void *key, size_t klen,
		   const void *val, size_t vlen, uint64_t user_data);

/**
 * rawkv_ring_put_sync() - prepare a durable PUT
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	value bytes, valid and unchanged until the completion is reaped
 * @vlen:	value length, 0..value_max
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_put_sync(); a result of 0 means the value,
 * and every change acknowledged before it, survives a power cut.
 *
 * Return: as rawkv_ring_put().
 */
int rawkv_ring_put_sync(struct rawkv_ring *ring, const void *key, size_t klen,
			const void *val, size_t vlen, uint64_t user_data);

/**
 * rawkv_ring_get() - prepare a GET
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @buf:	buffer, valid and untouched until the completion is reaped;
 *		ignored when @buflen is 0
 * @buflen:	size of @buf; 0 only queries the value length
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_get(): the value length, -ENOENT, -ERANGE
 * (@buflen not 0 and smaller than the value), -EIO, ...
 *
 * Return: 0, or -EINVAL (@ring NULL, bad @klen), -EBUSY (reap first).
 */
int rawkv_ring_get(struct rawkv_ring *ring, const void *key, size_t klen,
		   void *buf, size_t buflen, uint64_t user_data);

/**
 * rawkv_ring_put_meta() - prepare a PUT with user metadata
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @val:	value bytes, valid and unchanged until the completion is reaped
 * @vlen:	value length, 0..value_max
 * @meta:	metadata, valid and unchanged until the completion is reaped
 * @mlen:	its length, 0..RAWKV_META_MAX
 * @flags:	0 or RAWKV_PUT_SYNC
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_put_meta().
 *
 * Return: as rawkv_ring_put(), and -EMSGSIZE (@mlen larger than
 * RAWKV_META_MAX), -EINVAL (unknown @flags).
 */
int rawkv_ring_put_meta(struct rawkv_ring *ring, const void *key, size_t klen,
			const void *val, size_t vlen, const void *meta,
			size_t mlen, unsigned int flags, uint64_t user_data);

/**
 * rawkv_ring_get_meta() - prepare a GET that also returns the user metadata
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @buf:	buffer, valid and untouched until the completion is reaped;
 *		ignored when @buflen is 0
 * @buflen:	size of @buf; 0 queries the length and the metadata only
 * @meta:	metadata buffer, valid and untouched until the completion is
 *		reaped
 * @mlen:	in: size of @meta, at least 1; set when the completion is
 *		reaped, as rawkv_get_meta() sets it. NULL: as rawkv_ring_get()
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_get_meta().
 *
 * Return: 0, or -EINVAL (@ring NULL, bad @klen, *@mlen 0), -EBUSY (reap
 * first).
 */
int rawkv_ring_get_meta(struct rawkv_ring *ring, const void *key, size_t klen,
			void *buf, size_t buflen, void *meta, size_t *mlen,
			uint64_t user_data);

/**
 * rawkv_ring_delete() - prepare a DELETE
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_delete().
 *
 * Return: 0, or -EINVAL (@ring NULL, bad @klen), -EBUSY (reap first).
 */
int rawkv_ring_delete(struct rawkv_ring *ring, const void *key, size_t klen,
		      uint64_t user_data);

/**
 * rawkv_ring_exists() - prepare an EXISTS
 * @ring:	ring
 * @key:	key bytes, valid until the completion is reaped
 * @klen:	key length, 1..RAWKV_KEY_MAX
 * @user_data:	returned in the completion
 *
 * Completion result: as rawkv_exists(): the value length or -ENOENT.
 *
 * Return: 0, or -EINVAL (@ring NULL, bad @klen), -EBUSY (reap first).
 */
int rawkv_ring_exists(struct rawkv_ring *ring, const void *key, size_t klen,
		      uint64_t user_data);

/**
 * rawkv_ring_submit() - hand the prepared operations to the kernel
 * @ring:	ring
 *
 * One io_uring_enter(2) for every operation prepared since the last
 * submit. Returns without waiting for any of them. An operation's own
 * errors (bad pointer, read-only handle, ...) arrive in its completion.
 *
 * Return: the number of operations submitted (0 when none was prepared),
 * or a negative errno of io_uring_enter(2): -EAGAIN, -ENOMEM (kernel out
 * of memory: retry), -EINTR, -EBUSY; the operations not submitted stay
 * prepared.
 */
int rawkv_ring_submit(struct rawkv_ring *ring);

/**
 * rawkv_ring_reap() - collect completed operations
 * @ring:	ring
 * @c:		array of @max completions to fill
 * @max:	most completions to return
 * @wait_min:	wait until at least this many are returned (0: never wait)
 *
 * Fills @c with completions in the order the kernel posted them; each
 * frees its operation's place in the ring. Does not submit.
 *
 * Return: the number of completions returned: at least @wait_min, unless
 * a signal interrupted the wait after some were returned; or
 *	-EINVAL	@ring NULL, @c NULL with @max not 0, @wait_min > @max, or
 *		@wait_min more than the operations submitted and not yet
 *		reaped (it would wait forever)
 *	-EINTR	a signal interrupted the wait before any was returned
 */
int rawkv_ring_reap(struct rawkv_ring *ring, struct rawkv_completion *c,
		    unsigned int max, unsigned int wait_min);

#ifdef __cplusplus
}
#endif

#endif /* LIBRAWKV_RAWKV_H */
