/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * rawkv: a persistent key-value store on a raw block device.
 *
 * ioctl ABI of /dev/rawkv. Programs should use librawkv rather than these
 * ioctls directly; the library is a thin layer over them.
 *
 * Rules common to every command:
 * - every struct is made of __u64/__u32 fields with no implicit padding and
 *   has the same layout for 32-bit and 64-bit callers;
 * - user pointers are passed as __u64 (use (__u64)(uintptr_t)ptr);
 * - @flags and every reserved field must be zero, or the call fails with
 *   -EINVAL, so that later versions can give them a meaning;
 * - an unknown command returns -ENOTTY;
 * - a pointer the kernel cannot read or write returns -EFAULT.
 *
 * Context: process context; every command may sleep. Commands on different
 * keys run in parallel.
 *
 * PUT, GET, DELETE and EXISTS can also be submitted asynchronously with
 * io_uring; see "io_uring commands" at the end of this file.
 */
#ifndef _UAPI_LINUX_RAWKV_H
#define _UAPI_LINUX_RAWKV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define RAWKV_IOC_MAGIC		0xB7

/* Keys are 1..RAWKV_KEY_MAX arbitrary bytes. */
#define RAWKV_KEY_MAX		255

/* User metadata stored with a value: 0..RAWKV_META_MAX bytes. */
#define RAWKV_META_MAX		256

/**
 * struct rawkv_kv - argument of RAWKV_IOC_PUT, GET, DELETE and EXISTS
 * @key_ptr:	user address of the key
 * @val_ptr:	user address of the value (PUT) or of the buffer (GET);
 *		must be zero for DELETE and EXISTS
 * @key_len:	key length in bytes, 1..RAWKV_KEY_MAX
 * @flags:	PUT: zero or RAWKV_PUT_SYNC; other commands: must be zero
 * @val_len:	PUT: value length; GET: in, buffer length, out, value length;
 *		DELETE: must be zero; EXISTS: in, must be zero, out, value
 *		length
 * @meta_ptr:	user address of the value's user metadata (PUT) or of a
 *		buffer for it (GET, EXISTS); zero when @meta_len is zero
 * @meta_len:	PUT: metadata length, 0..RAWKV_META_MAX (0: none);
 *		GET and EXISTS: in, buffer length (0: do not return the
 *		metadata), out, the metadata's length (0 when the value has
 *		none); DELETE: must be zero
 * @reserved:	must be zero
 *
 * @meta_ptr and @meta_len took the place of a reserved field that had to
 * be zero: a caller that knows nothing of metadata gets what it got
 * before, and its values have none.
 */
/* PUT returns only once the value survives a power cut, without a FLUSH. */
#define RAWKV_PUT_SYNC		(1U << 0)

struct rawkv_kv {
	__u64 key_ptr;
	__u64 val_ptr;
	__u32 key_len;
	__u32 flags;
	__u64 val_len;
	__u64 meta_ptr;
	__u32 meta_len;
	__u32 reserved;
};

/**
 * struct rawkv_batch_op - one operation of RAWKV_IOC_PUT_BATCH or GET_BATCH
 * @key_ptr:	user address of the key
 * @val_ptr:	user address of the value (PUT) or buffer (GET)
 * @key_len:	key length in bytes, 1..RAWKV_KEY_MAX
 * @flags:	PUT: zero or RAWKV_PUT_SYNC; GET: must be zero
 * @val_len:	PUT: value length; GET: in, buffer length, out, value length
 * @result:	out: 0 (PUT), the value length (GET), or a negative errno as
 *		the single command would return it
 * @reserved:	must be zero
 */
struct rawkv_batch_op {
	__u64 key_ptr;
	__u64 val_ptr;
	__u32 key_len;
	__u32 flags;
	__u64 val_len;
	__s64 result;
	__u64 reserved;
};

/* Most operations in one batch. */
#define RAWKV_BATCH_MAX		256

/**
 * struct rawkv_batch - argument of RAWKV_IOC_PUT_BATCH and GET_BATCH
 * @ops_ptr:	user address of an array of struct rawkv_batch_op
 * @count:	number of operations, 1..RAWKV_BATCH_MAX
 * @flags:	must be zero
 * @reserved:	must be zero
 */
struct rawkv_batch {
	__u64 ops_ptr;
	__u32 count;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct rawkv_flush - argument of RAWKV_IOC_FLUSH
 * @flags:		must be zero
 * @reserved0:		must be zero
 * @checkpoint_seq:	out: sequence number of the commit (log transaction)
 *			that now holds every change acknowledged before
 *			the call
 * @reserved:		must be zero
 */
struct rawkv_flush {
	__u32 flags;
	__u32 reserved0;
	__u64 checkpoint_seq;
	__u64 reserved[2];
};

/**
 * struct rawkv_ioc_stat - argument of RAWKV_IOC_STAT
 * @flags:	in: must be zero
 * @size:	out: number of bytes of this struct the kernel filled
 * @slot_size:	bytes per slot (slot header block + value area)
 * @value_max:	largest value a PUT accepts
 * @key_max:	largest key a PUT accepts (RAWKV_KEY_MAX)
 * @slots_total: slots on the device
 * @slots_used:	slots holding a live value
 * @device_bytes: size of the block device
 * @checkpoint_seq: sequence number of the last commit (log transaction)
 * @puts:	PUT commands that succeeded
 * @gets:	GET commands (hits + misses)
 * @hits:	GETs that found their key
 * @misses:	GETs that did not find their key
 * @deletes:	DELETE commands that removed a key
 * @evictions:	values evicted to make room (evict=1)
 * @checkpoints: commits (log transactions written) since load
 * @bytes_written: bytes written to the device (values, headers, metadata)
 * @bytes_read:	bytes read from the device
 * @entry_mem_bytes: kernel memory of the table entries (one per slot, the
 *		same whatever the keys), as allocated
 * @table_mem_bytes: kernel memory of the hash buckets and of the dirty
 *		tracking bitmaps
 * @io_errors:	device reads and writes that failed
 * @load_dropped: metadata entries and log records dropped as invalid at
 *		load
 * @stale_dropped: entries dropped by GET because the slot did not hold
 *		their value (bad magic, key, length or checksum)
 * @logical_block_size: logical block size of the device
 * @bytes_zero_copy: value bytes moved straight between the caller's pages
 *		and the device
 * @bytes_bounced: value bytes copied through kernel bounce pages
 * @crc32c_mbps: speed of the kernel's crc32c in MB/s (10^6 bytes per
 *		second), measured when the module loaded
 * @crc32c_driver: NUL-terminated name of the crypto driver behind the
 *		kernel's crc32c, e.g. "crc32c-intel" or "crc32c-generic"
 * @reserved:	zero
 */
struct rawkv_ioc_stat {
	__u32 flags;
	__u32 size;
	__u64 slot_size;
	__u64 value_max;
	__u64 key_max;
	__u64 slots_total;
	__u64 slots_used;
	__u64 device_bytes;
	__u64 checkpoint_seq;
	__u64 puts;
	__u64 gets;
	__u64 hits;
	__u64 misses;
	__u64 deletes;
	__u64 evictions;
	__u64 checkpoints;
	__u64 bytes_written;
	__u64 bytes_read;
	__u64 entry_mem_bytes;
	__u64 table_mem_bytes;
	__u64 io_errors;
	__u64 load_dropped;
	__u64 stale_dropped;
	__u64 logical_block_size;
	__u64 bytes_zero_copy;
	__u64 bytes_bounced;
	__u64 crc32c_mbps;
	char crc32c_driver[16];
	__u64 reserved[3];
};

/*
 * RAWKV_IOC_PUT - store a value under a key, replacing any previous value
 *
 * The value is on the device when the call returns, but the key only
 * survives a crash once a later commit (RAWKV_IOC_FLUSH, the periodic
 * commit) includes it. With RAWKV_PUT_SYNC the PUT then commits, sharing
 * the commit with concurrent committers: the key, and every change
 * acknowledged before it, survives a crash as soon as the call returns.
 *
 * With meta_len > 0, the meta_len bytes at meta_ptr are stored with the
 * value, in its slot header, and come back with it from GET and EXISTS.
 *
 * Return: 0 on success, or
 *	-EINVAL	unknown flags, nonzero reserved, key_len 0 or > RAWKV_KEY_MAX,
 *		meta_ptr set with meta_len 0
 *	-E2BIG	val_len larger than value_max
 *	-EMSGSIZE	meta_len larger than RAWKV_META_MAX
 *	-EFAULT	key, value or metadata not readable
 *	-EBADF	the descriptor is not open for writing
 *	-ENOSPC	no free slot and eviction disabled (evict=0)
 *	-EIO	the device failed the write; the previous value is intact.
 *		With RAWKV_PUT_SYNC also: the value is stored but the commit
 *		failed, so it is not yet durable
 *	-ENOMEM	out of kernel memory
 *	-EINTR	interrupted while waiting for a slot
 */
#define RAWKV_IOC_PUT		_IOWR(RAWKV_IOC_MAGIC, 1, struct rawkv_kv)

/*
 * RAWKV_IOC_GET - read the value of a key
 *
 * With val_len == 0 only the value length is returned, in val_len. With a
 * buffer smaller than the value, val_len is set to the value length and
 * the call fails with -ERANGE. On -EIO the buffer contents are undefined.
 * A value read straight into the caller's pages (zero copy) that fails its
 * checksum is read again into kernel pages before it counts as damaged: a
 * caller writing its buffer during the call cannot get a key dropped.
 * Works on a read-only descriptor.
 *
 * With meta_len > 0, the value's user metadata is copied to meta_ptr and
 * its length (0 when it has none) written to meta_len. A buffer of
 * RAWKV_META_MAX bytes is always large enough; with a smaller one that
 * the metadata does not fit, the call fails with -ERANGE and meta_len set
 * to the metadata's length (val_len is then the value's, and the value
 * buffer undefined). A length query (val_len 0) with a metadata buffer is
 * EXISTS with one.
 *
 * Return: 0 on success (val_len holds the value length), or
 *	-EINVAL	nonzero flags or reserved, bad key_len, meta_ptr set with
 *		meta_len 0
 *	-ENOENT	no such key
 *	-ERANGE	value buffer too small (meta_len is not written), or
 *		metadata buffer too small (meta_len holds the length needed)
 *	-EFAULT	key not readable or a buffer not writable
 *	-EIO	the device failed the read or returned bytes that do not
 *		match the key, length, metadata or checksum; the key is
 *		dropped
 *	-ENOMEM	out of kernel memory
 */
#define RAWKV_IOC_GET		_IOWR(RAWKV_IOC_MAGIC, 2, struct rawkv_kv)

/*
 * RAWKV_IOC_DELETE - remove a key
 *
 * The deletion survives a crash once a later commit includes it. When the
 * key's value was written with RAWKV_PUT_SYNC, DELETE commits before it
 * returns, so the deletion survives a crash as soon as the call returns.
 * The table holds only key fingerprints, so DELETE reads the slot headers
 * of the entries sharing the key's fingerprint to find the key.
 *
 * Return: 0 on success, or
 *	-EINVAL	nonzero flags, reserved, val_ptr, val_len, meta_ptr or
 *		meta_len; bad key_len
 *	-EBADF	the descriptor is not open for writing
 *	-ENOENT	no such key
 *	-EFAULT	key not readable
 *	-EIO	a slot header could not be read (nothing is deleted), or the
 *		key is deleted but the commit that makes the deletion of a
 *		RAWKV_PUT_SYNC key durable failed
 *	-EINTR	interrupted while waiting; the key may be deleted, but not
 *		durably
 *	-ENOMEM	out of kernel memory
 */
#define RAWKV_IOC_DELETE	_IOWR(RAWKV_IOC_MAGIC, 3, struct rawkv_kv)

/*
 * RAWKV_IOC_FLUSH - commit every acknowledged PUT and DELETE to the device
 *
 * Commits: appends the changes of the table since the last commit to the
 * metadata log as one transaction, with a cache flush and FUA; writes
 * nothing when nothing changed. When the call returns 0, everything
 * acknowledged before it survives a power cut.
 *
 * Return: 0 on success, or
 *	-EINVAL	nonzero flags or reserved
 *	-EBADF	the descriptor is not open for writing
 *	-EIO	the commit could not be written; the previous one is still
 *		the newest and the next FLUSH tries again
 *	-ENOMEM	out of kernel memory
 */
#define RAWKV_IOC_FLUSH		_IOWR(RAWKV_IOC_MAGIC, 4, struct rawkv_flush)

/*
 * RAWKV_IOC_STAT - read the geometry and counters of the store
 *
 * Return: 0 on success, or
 *	-EINVAL	nonzero flags
 *	-EFAULT	struct not writable
 */
#define RAWKV_IOC_STAT		_IOWR(RAWKV_IOC_MAGIC, 5, struct rawkv_ioc_stat)

/*
 * RAWKV_IOC_PUT_BATCH, RAWKV_IOC_GET_BATCH - many PUTs or GETs at once
 *
 * Every operation's I/O is submitted before any is waited for. Each
 * operation succeeds or fails on its own, with the result the single
 * command would give, in its @result (and, for GET, @val_len); operations
 * on the same key take effect in array order. The call itself fails only
 * when the batch cannot be read or its results cannot be written.
 *
 * Batches carry no user metadata: a value PUT by PUT_BATCH has none, and
 * GET_BATCH does not return it (GET and EXISTS, by ioctl or io_uring, do).
 *
 * PUT_BATCH pins or copies every operation's value before any is
 * submitted (unaligned values in parts of 64 MiB), and needs a descriptor
 * open for writing; GET_BATCH works on a read-only one.
 *
 * Return: 0 when every operation has its result, or
 *	-EINVAL	nonzero flags or reserved, count 0 or > RAWKV_BATCH_MAX
 *	-EBADF	PUT_BATCH on a descriptor not open for writing
 *	-EFAULT	the array cannot be read or the results written
 *	-ENOMEM	out of kernel memory
 */
#define RAWKV_IOC_PUT_BATCH	_IOWR(RAWKV_IOC_MAGIC, 6, struct rawkv_batch)
#define RAWKV_IOC_GET_BATCH	_IOWR(RAWKV_IOC_MAGIC, 7, struct rawkv_batch)

/*
 * RAWKV_IOC_EXISTS - the value length of a key, or -ENOENT
 *
 * GET's length query (GET with val_len == 0) as a command of its own:
 * val_ptr and val_len must be zero, and on success val_len is set to the
 * value length. It answers from the in-memory table (the key's 64-bit
 * fingerprint) without reading the device. Works on a read-only
 * descriptor.
 *
 * With meta_len > 0 it also returns the value's user metadata as GET does
 * (meta_ptr, meta_len, -ERANGE), and then reads the slot headers of the
 * entries with the key's fingerprint, which also proves the key: one
 * small read, not the value's.
 *
 * Return: 0 on success (val_len holds the value length), or
 *	-EINVAL	nonzero flags, reserved, val_ptr or val_len; bad key_len;
 *		meta_ptr set with meta_len 0
 *	-ENOENT	no such key
 *	-ERANGE	metadata buffer too small (meta_len holds the length needed)
 *	-EFAULT	key not readable, val_len, meta_len or the metadata buffer
 *		not writable
 *	-EIO	with a metadata buffer: a slot header could not be read or
 *		is damaged
 *	-ENOMEM	out of kernel memory
 */
#define RAWKV_IOC_EXISTS	_IOWR(RAWKV_IOC_MAGIC, 8, struct rawkv_kv)

/*
 * Listing keys: RAWKV_IOC_LIST returns the keys of the store a bufferful
 * at a time, in the order of their slots, from a cursor (as the NVMe
 * key-value command set's List does). Start with cursor 0 and call again
 * with the cursor each call returns until it is RAWKV_LIST_END. A key
 * that is neither PUT nor deleted while the listing runs appears exactly
 * once; one that is may appear once, twice or not at all.
 *
 * The buffer receives @count entries back to back, each a struct
 * rawkv_list_ent followed by its key and zero padding up to a multiple
 * of 8 bytes (RAWKV_LIST_ENT_SIZE(key_len) bytes in all).
 */
#define RAWKV_LIST_END		(~0ULL)

/**
 * struct rawkv_list_ent - one key in the buffer of RAWKV_IOC_LIST
 * @value_len:	length of the key's value
 * @key_len:	1..RAWKV_KEY_MAX; the key's bytes follow this struct
 * @reserved:	zero
 */
struct rawkv_list_ent {
	__u64 value_len;
	__u32 key_len;
	__u32 reserved;
};

#define RAWKV_LIST_ENT_SIZE(key_len) \
	((sizeof(struct rawkv_list_ent) + (key_len) + 7) & ~7UL)
/* The smallest buffer RAWKV_IOC_LIST accepts: room for any one key. */
#define RAWKV_LIST_BUF_MIN	RAWKV_LIST_ENT_SIZE(RAWKV_KEY_MAX)

/**
 * struct rawkv_list - argument of RAWKV_IOC_LIST
 * @cursor:	in: where to start (0: the beginning); out: where the next
 *		call starts, or RAWKV_LIST_END when every key was returned
 * @buf_ptr:	user address of the buffer for the entries
 * @buf_len:	its size in bytes, at least RAWKV_LIST_BUF_MIN
 * @count:	out: entries written to the buffer
 * @flags:	must be zero
 * @reserved0:	must be zero
 * @reserved:	must be zero
 */
struct rawkv_list {
	__u64 cursor;
	__u64 buf_ptr;
	__u32 buf_len;
	__u32 count;
	__u32 flags;
	__u32 reserved0;
	__u64 reserved[2];
};

/*
 * RAWKV_IOC_LIST - the next keys of the store, from a cursor
 *
 * Reads the slot header of every key it returns (the index keeps only
 * fingerprints), many at once. Works on a read-only descriptor. A key
 * whose header does not prove it is skipped (a GET of it reports why).
 *
 * Return: 0, with @count entries (0 only at the end) and the next
 * @cursor, or
 *	-EINVAL	nonzero flags or reserved, buf_len < RAWKV_LIST_BUF_MIN
 *	-EFAULT	the argument or the buffer is not accessible
 *	-ENOMEM	out of kernel memory
 *	-EIO	a header could not be read (the cursor is not advanced past
 *		it: retry)
 */
#define RAWKV_IOC_LIST		_IOWR(RAWKV_IOC_MAGIC, 9, struct rawkv_list)

/*
 * io_uring commands
 *
 * RAWKV_IOC_PUT, RAWKV_IOC_GET, RAWKV_IOC_DELETE and RAWKV_IOC_EXISTS can
 * be submitted to a descriptor of /dev/rawkv as IORING_OP_URING_CMD: the
 * SQE's cmd_op is the ioctl number and the first 16 bytes of its command
 * area (sqe->cmd) hold a struct rawkv_uring_cmd. A 64-byte SQE is enough
 * (IORING_SETUP_SQE128 is allowed, not needed); IORING_SETUP_IOPOLL rings
 * are refused by io_uring with -EOPNOTSUPP.
 *
 * The struct rawkv_kv, its key, its value or buffer and its metadata or
 * metadata buffer must stay valid and unchanged (the buffers: untouched)
 * until the command's CQE arrives;
 * the SQE itself may be reused once io_uring_enter() has consumed it.
 * The command runs as the ioctl would (today in an io-wq worker of the
 * submitting task), with the same checks, durability and errors.
 *
 * cqe->res:
 *	PUT, DELETE	0, or a negative errno as the ioctl returns it
 *	GET, EXISTS	the value length (>= 0; values are < 2^27 bytes), or a
 *			negative errno as the ioctl returns it; val_len and
 *			meta_len are written back as by the ioctl, on
 *			-ERANGE too
 * and, for every command:
 *	-ENOTTY	cmd_op is not one of the four commands
 *	-EINVAL	rawkv_uring_cmd.reserved is not zero
 *	-EBADF	PUT or DELETE on a descriptor not open for writing
 *	-EFAULT	kv_ptr does not point at a readable struct rawkv_kv
 */

/**
 * struct rawkv_uring_cmd - the command bytes of an IORING_OP_URING_CMD SQE
 * @kv_ptr:	user address of the command's struct rawkv_kv
 * @reserved:	must be zero
 */
struct rawkv_uring_cmd {
	__u64 kv_ptr;
	__u64 reserved;
};

/*
 * Several stores: the control device
 *
 * One module serves any number of block devices ("stores"), each on its
 * own character device: store 0 is /dev/rawkv, store N is /dev/rawkvN.
 * Loading the module with dev=/dev/X attaches store 0 as before; more are
 * attached and detached while it is loaded through /dev/rawkv-control
 * (root only, like /dev/loop-control and /dev/ubi_ctrl), with the ioctls
 * below. Each store has its own settings, and its attributes and counters
 * in /sys/class/misc/rawkvN/ (Documentation/ABI/testing/sysfs-class-misc-rawkv).
 */
#define RAWKV_CONTROL_DEVICE	"/dev/rawkv-control"
#define RAWKV_STORES_MAX	256	/* store numbers are 0..255 */
#define RAWKV_PATH_MAX		256	/* bytes of a device path, NUL included */

#define RAWKV_ATTACH_FORMAT	(1U << 0)	/* write a fresh layout: erases */
#define RAWKV_ATTACH_NO_EVICT	(1U << 1)	/* full: PUT fails with -ENOSPC */
#define RAWKV_ATTACH_CHECKPOINT	(1U << 2)	/* use @checkpoint_ms */

/**
 * struct rawkv_ctl_attach - argument of RAWKV_CTL_ATTACH
 * @path_ptr:	user address of the block device's path, NUL-terminated,
 *		shorter than RAWKV_PATH_MAX
 * @flags:	RAWKV_ATTACH_* flags
 * @slot_size:	with RAWKV_ATTACH_FORMAT: bytes per slot, a power of two
 *		from 8 KiB to 128 MiB; 0 for the default (1 MiB). Must be 0
 *		without RAWKV_ATTACH_FORMAT (the superblock holds it)
 * @checkpoint_ms: with RAWKV_ATTACH_CHECKPOINT: period of the background
 *		commit in ms (0 disables it); else must be 0 (default 5000)
 * @id:		out: the store's number; its device is /dev/rawkv<id>
 *		(/dev/rawkv for 0)
 * @reserved:	must be zero
 */
struct rawkv_ctl_attach {
	__u64 path_ptr;
	__u32 flags;
	__u32 checkpoint_ms;
	__u64 slot_size;
	__u32 id;
	__u32 reserved0;
	__u64 reserved[4];
};

/**
 * struct rawkv_ctl_detach - argument of RAWKV_CTL_DETACH
 * @id:		the store's number
 * @flags:	must be zero
 * @reserved:	must be zero
 */
struct rawkv_ctl_detach {
	__u32 id;
	__u32 flags;
	__u64 reserved[2];
};

/*
 * RAWKV_CTL_ATTACH - open a block device and serve it as a new store
 *
 * Takes the lowest free store number (0 when no store has it). The device
 * is opened exclusively and loaded (or formatted) as at module load; the
 * store's device node appears when the call returns.
 *
 * Return: 0 and @id set, or
 *	-EINVAL	unknown flags, nonzero reserved, bad slot_size, a
 *		checkpoint_ms without its flag, an empty path; or the device
 *		holds no valid rawkv layout (dmesg says why and what to do)
 *	-ENAMETOOLONG	the path does not end within RAWKV_PATH_MAX bytes
 *	-ENOENT, -ENOTBLK	no such device, not a block device
 *	-EBUSY	the device is in use (mounted, another store, another driver)
 *	-ENOSPC	all RAWKV_STORES_MAX store numbers are taken, or the device
 *		is too small for one slot
 *	-EIO	the device cannot be read (dmesg says where)
 *	-ENOMEM	not enough memory for the store's table
 *	-EPERM	the caller lacks CAP_SYS_ADMIN
 *	-EFAULT	the argument or path is not readable
 */
#define RAWKV_CTL_ATTACH	_IOWR(RAWKV_IOC_MAGIC, 0x40, struct rawkv_ctl_attach)

/*
 * RAWKV_CTL_DETACH - write a store's final metadata and release its device
 *
 * Return: 0, or
 *	-ENODEV	no store has that number (a store whose attach has not
 *		returned yet has none either)
 *	-EBUSY	the store's device node is open (which includes commands in
 *		flight); nothing changed
 *	-EINVAL	nonzero flags or reserved
 *	-EPERM	the caller lacks CAP_SYS_ADMIN
 *	-EFAULT	the argument is not readable
 * A failed final commit is reported in dmesg; the store is detached anyway
 * and changes since its last commit are lost, as at rmmod.
 */
#define RAWKV_CTL_DETACH	_IOW(RAWKV_IOC_MAGIC, 0x41, struct rawkv_ctl_detach)

#endif /* _UAPI_LINUX_RAWKV_H */
