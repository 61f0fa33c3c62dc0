// SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
/*
 * rawkv._rawkv: CPython bindings of librawkv (userlib/rawkv.h).
 *
 * Store wraps a struct rawkv: PUT, GET, DELETE, EXISTS, FLUSH, STAT and the
 * batches. Ring wraps a struct rawkv_ring: the asynchronous API on
 * io_uring. Keys are str (UTF-8) or bytes-like; values and buffers are any
 * contiguous buffer-protocol object, used in place (never copied). Every
 * call that does I/O runs with the GIL released; its buffers stay pinned
 * by their Py_buffer meanwhile. A value's user metadata (up to
 * RAWKV_META_MAX bytes) goes in the same way (meta=), and comes back as
 * bytes (with_meta=True), read into a buffer of RAWKV_META_MAX bytes.
 *
 * Errors: librawkv's negative errno becomes OSError(errno, text, key), so
 * Python picks the subclass (FileNotFoundError for ENOENT, ...) and the key
 * is the exception's filename. A closed Store or Ring raises ValueError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pythread.h>

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "rawkv.h"

/* ---------------------------------------------------------------- */
/* Errors */

/* Raise OSError(err, text[, key]); returns NULL. */
static PyObject *raise_err(int err, PyObject *key)
{
	PyObject *exc;

	if (err < 0)
		err = -err;
	if (key)
		exc = PyObject_CallFunction(PyExc_OSError, "isO", err,
					    rawkv_strerror(err), key);
	else
		exc = PyObject_CallFunction(PyExc_OSError, "is", err,
					    rawkv_strerror(err));
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* Raise OSError(err, msg, key) with a message of our own. */
static PyObject *raise_msg(int err, PyObject *key, const char *msg)
{
	PyObject *exc;

	exc = PyObject_CallFunction(PyExc_OSError, key ? "isO" : "is", err,
				    msg, key);
	if (exc) {
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
		Py_DECREF(exc);
	}
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Keys and buffers */

/*
 * A key: the bytes of a str (UTF-8, owned by the str) or of a bytes-like
 * object's Py_buffer. @obj holds a reference either way.
 */
struct key {
	PyObject *obj;
	const char *ptr;
	Py_ssize_t len;
	int has_view;
	Py_buffer view;
};

static int key_get(PyObject *obj, struct key *k)
{
	memset(k, 0, sizeof(*k));
	if (PyUnicode_Check(obj)) {
		k->ptr = PyUnicode_AsUTF8AndSize(obj, &k->len);
		if (!k->ptr)
			return -1;
	} else if (PyObject_CheckBuffer(obj)) {
		if (PyObject_GetBuffer(obj, &k->view, PyBUF_SIMPLE) < 0)
			return -1;
		k->has_view = 1;
		k->ptr = k->view.buf;
		k->len = k->view.len;
	} else {
		PyErr_Format(PyExc_TypeError,
			     "key must be str or bytes-like, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	Py_INCREF(obj);
	k->obj = obj;
	return 0;
}

static void key_put(struct key *k)
{
	if (k->has_view)
		PyBuffer_Release(&k->view);
	k->has_view = 0;
	Py_CLEAR(k->obj);
}

/* A value to write: any C-contiguous buffer, read-only is fine. */
static int value_get(PyObject *obj, Py_buffer *view)
{
	if (!PyObject_CheckBuffer(obj)) {
		PyErr_Format(PyExc_TypeError,
			     "value must support the buffer protocol, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS);
}

/*
 * User metadata to store with a value: None (none) or a buffer taken as a
 * value is. Returns 1 with @view held, 0 for None, -1 on error. Its length
 * is librawkv's to check (-EMSGSIZE above RAWKV_META_MAX).
 */
static int meta_get(PyObject *obj, Py_buffer *view)
{
	if (!obj || obj == Py_None)
		return 0;
	if (!PyObject_CheckBuffer(obj)) {
		PyErr_Format(PyExc_TypeError,
			     "meta must be None or support the buffer protocol, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	return PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0 ? -1 : 1;
}

/* (@first, metadata as bytes); takes @first's reference, NULL or not. */
static PyObject *with_meta_tuple(PyObject *first, const char *meta,
				 size_t mlen)
{
	PyObject *m, *t = NULL;

	if (!first)
		return NULL;
	m = PyBytes_FromStringAndSize(meta, mlen);
	if (m)
		t = PyTuple_Pack(2, first, m);
	Py_XDECREF(m);
	Py_DECREF(first);
	return t;
}

/*
 * A buffer to read into: writable and C-contiguous. A read-only one
 * (bytes, a read-only memoryview) is OSError EINVAL, before anything is
 * written.
 */
static int buffer_get(PyObject *obj, Py_buffer *view, PyObject *key)
{
	if (!PyObject_CheckBuffer(obj)) {
		PyErr_Format(PyExc_TypeError,
			     "buffer must support the buffer protocol, not %.100s",
			     Py_TYPE(obj)->tp_name);
		return -1;
	}
	if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS) < 0)
		return -1;
	if (view->readonly) {
		PyBuffer_Release(view);
		raise_msg(EINVAL, key, "buffer is read-only");
		return -1;
	}
	PyBuffer_Release(view);
	return PyObject_GetBuffer(obj, view,
				  PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE);
}

/* ---------------------------------------------------------------- */
/* Store */

/*
 * A Store owns one struct rawkv. Calls in progress (with the GIL released)
 * and open rings count in @users: close() marks the store closed at once,
 * and the last user closes the handle. Every field is protected by the GIL.
 */
typedef struct {
	PyObject_HEAD
	struct rawkv *kv;
	int closed;
	int readonly;
	long users;
	PyObject *path;
} StoreObject;

static PyTypeObject Store_Type;

static void store_release_handle(StoreObject *s)
{
	struct rawkv *kv = s->kv;

	if (!s->closed || s->users || !kv)
		return;
	s->kv = NULL;
	Py_BEGIN_ALLOW_THREADS
	rawkv_close(kv);
	Py_END_ALLOW_THREADS
}

/* Take the handle for one call; NULL (ValueError) when closed. */
static struct rawkv *store_enter(StoreObject *s)
{
	if (s->closed || !s->kv) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed Store");
		return NULL;
	}
	s->users++;
	return s->kv;
}

static void store_leave(StoreObject *s)
{
	s->users--;
	store_release_handle(s);
}

static int store_writable(StoreObject *s)
{
	if (s->readonly) {
		raise_msg(EBADF, NULL, "Store opened read-only");
		return 0;
	}
	return 1;
}

static int Store_init(StoreObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "path", "readonly", NULL };
	PyObject *path = NULL, *bpath = NULL;
	struct rawkv *kv = NULL;
	int readonly = 0, ret = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Op:Store", kwlist,
					 &path, &readonly))
		return -1;
	if (path == Py_None)
		path = NULL;
	if (path && !PyUnicode_FSConverter(path, &bpath))
		return -1;
	if (self->kv) {
		PyErr_SetString(PyExc_RuntimeError, "Store already open");
		Py_XDECREF(bpath);
		return -1;
	}
	/*
	 * readonly: librawkv opens read-only only when read-write is refused
	 * (and struct rawkv is private), so this wrapper refuses PUT, DELETE
	 * and FLUSH itself with EBADF, as the kernel does on a read-only
	 * descriptor.
	 */
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_open(bpath ? PyBytes_AS_STRING(bpath) : NULL, &kv);
	Py_END_ALLOW_THREADS
	if (ret) {
		/* open(2)'s errors: strerror() text, not rawkv_strerror() */
		PyObject *p = path ? Py_NewRef(path) :
			      PyUnicode_FromString(RAWKV_DEFAULT_DEVICE);

		errno = -ret;
		PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, p);
		Py_XDECREF(p);
		Py_XDECREF(bpath);
		return -1;
	}
	self->kv = kv;
	self->readonly = readonly;
	self->closed = 0;
	self->users = 0;
	Py_XSETREF(self->path, bpath ? PyUnicode_DecodeFSDefaultAndSize(
			PyBytes_AS_STRING(bpath), PyBytes_GET_SIZE(bpath)) :
			PyUnicode_FromString(RAWKV_DEFAULT_DEVICE));
	Py_XDECREF(bpath);
	return 0;
}

static void Store_dealloc(StoreObject *self)
{
	/* users is 0 here: a call or a Ring holds a reference */
	self->closed = 1;
	store_release_handle(self);
	Py_XDECREF(self->path);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Store_close(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
	self->closed = 1;
	store_release_handle(self);
	Py_RETURN_NONE;
}

static PyObject *Store_enter(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
	if (self->closed || !self->kv) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed Store");
		return NULL;
	}
	Py_INCREF(self);
	return (PyObject *)self;
}

static PyObject *Store_exit(StoreObject *self, PyObject *Py_UNUSED(args))
{
	return Store_close(self, NULL);
}

static PyObject *store_put(StoreObject *self, PyObject *args, PyObject *kwds,
			   int sync)
{
	static char *kwlist[] = { "key", "value", "meta", NULL };
	PyObject *kobj, *vobj, *mobj = Py_None;
	struct rawkv *kv;
	struct key k;
	Py_buffer v, m;
	int has_meta, ret;

	if (!PyArg_ParseTupleAndKeywords(args, kwds,
					 sync ? "OO|O:put_sync" : "OO|O:put",
					 kwlist, &kobj, &vobj, &mobj))
		return NULL;
	if (key_get(kobj, &k) < 0)
		return NULL;
	if (value_get(vobj, &v) < 0) {
		key_put(&k);
		return NULL;
	}
	has_meta = meta_get(mobj, &m);
	if (has_meta < 0) {
		PyBuffer_Release(&v);
		key_put(&k);
		return NULL;
	}
	kv = store_writable(self) ? store_enter(self) : NULL;
	if (!kv) {
		if (has_meta)
			PyBuffer_Release(&m);
		PyBuffer_Release(&v);
		key_put(&k);
		return NULL;
	}
	/* without meta: no metadata, replacing the old value's */
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_put_meta(kv, k.ptr, k.len, v.buf, v.len,
			     has_meta ? m.buf : NULL, has_meta ? m.len : 0,
			     sync ? RAWKV_PUT_SYNC : 0);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (has_meta)
		PyBuffer_Release(&m);
	PyBuffer_Release(&v);
	if (ret) {
		raise_err(ret, kobj);
		key_put(&k);
		return NULL;
	}
	key_put(&k);
	Py_RETURN_NONE;
}

static PyObject *Store_put(StoreObject *self, PyObject *args,
			   PyObject *kwds)
{
	return store_put(self, args, kwds, 0);
}

static PyObject *Store_put_sync(StoreObject *self, PyObject *args,
				PyObject *kwds)
{
	return store_put(self, args, kwds, 1);
}

/* Raise the ERANGE of a GET into @buflen bytes, with the value's length. */
static PyObject *raise_erange(struct rawkv *kv, struct key *k,
			      Py_ssize_t buflen)
{
	PyObject *exc, *msg;
	int len;

	Py_BEGIN_ALLOW_THREADS
	len = rawkv_exists(kv, k->ptr, k->len);
	Py_END_ALLOW_THREADS
	if (len >= 0)
		msg = PyUnicode_FromFormat("buffer too small: value is %d bytes, buffer %zd",
					   len, buflen);
	else
		msg = PyUnicode_FromFormat("buffer too small (buffer %zd bytes)",
					   buflen);
	if (!msg)
		return NULL;
	exc = PyObject_CallFunction(PyExc_OSError, "iOO", ERANGE, msg, k->obj);
	Py_DECREF(msg);
	if (!exc)
		return NULL;
	if (len >= 0) {
		PyObject *n = PyLong_FromLong(len);

		if (n) {
			PyObject_SetAttrString(exc, "value_length", n);
			Py_DECREF(n);
		}
		PyErr_Clear();
	}
	PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
	return NULL;
}

/*
 * get(key, with_meta=False): the value's length from the table, then one
 * GET into a bytes object of that length; with_meta, the same GET returns
 * the metadata too (for a value of length 0, a query of the slot header).
 */
static PyObject *Store_get(StoreObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "key", "with_meta", NULL };
	PyObject *arg, *res = NULL;
	char meta[RAWKV_META_MAX];
	size_t mlen = 0;
	int with_meta = 0;
	struct rawkv *kv;
	struct key k;
	ssize_t len, got;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:get", kwlist, &arg,
					 &with_meta))
		return NULL;
	if (key_get(arg, &k) < 0)
		return NULL;
	kv = store_enter(self);
	if (!kv) {
		key_put(&k);
		return NULL;
	}
	for (;;) {
		Py_BEGIN_ALLOW_THREADS
		len = rawkv_get(kv, k.ptr, k.len, NULL, 0);
		Py_END_ALLOW_THREADS
		if (len < 0) {
			raise_err(len, arg);
			break;
		}
		res = PyBytes_FromStringAndSize(NULL, len);
		if (!res)
			break;
		if (!len && !with_meta)
			break;
		mlen = sizeof(meta);
		Py_BEGIN_ALLOW_THREADS
		got = rawkv_get_meta(kv, k.ptr, k.len, PyBytes_AS_STRING(res),
				     len, meta, with_meta ? &mlen : NULL);
		Py_END_ALLOW_THREADS
		/* replaced by a longer value meanwhile: again */
		if (got == -ERANGE || got > len) {
			Py_CLEAR(res);
			continue;
		}
		if (got < 0) {
			Py_CLEAR(res);
			raise_err(got, arg);
			break;
		}
		if (got < len && _PyBytes_Resize(&res, got) < 0)
			res = NULL;
		break;
	}
	store_leave(self);
	key_put(&k);
	if (with_meta)
		return with_meta_tuple(res, meta, mlen);
	return res;
}

static PyObject *Store_get_into(StoreObject *self, PyObject *args,
				PyObject *kwds)
{
	static char *kwlist[] = { "key", "buffer", "with_meta", NULL };
	PyObject *kobj, *bobj, *res = NULL;
	char meta[RAWKV_META_MAX];
	size_t mlen = sizeof(meta);
	size_t *mlenp = NULL;
	int with_meta = 0;
	struct rawkv *kv;
	struct key k;
	Py_buffer b;
	ssize_t got;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|p:get_into", kwlist,
					 &kobj, &bobj, &with_meta))
		return NULL;
	if (with_meta)
		mlenp = &mlen;
	if (key_get(kobj, &k) < 0)
		return NULL;
	if (buffer_get(bobj, &b, kobj) < 0) {
		key_put(&k);
		return NULL;
	}
	kv = store_enter(self);
	if (!kv)
		goto out;
	if (!b.len) {
		/* librawkv reads a length of 0 as a query: keep it a GET */
		Py_BEGIN_ALLOW_THREADS
		got = rawkv_get_meta(kv, k.ptr, k.len, NULL, 0, meta, mlenp);
		Py_END_ALLOW_THREADS
		if (got > 0)
			got = -ERANGE;
	} else {
		Py_BEGIN_ALLOW_THREADS
		got = rawkv_get_meta(kv, k.ptr, k.len, b.buf, b.len, meta,
				     mlenp);
		Py_END_ALLOW_THREADS
	}
	if (got == -ERANGE)
		raise_erange(kv, &k, b.len);
	else if (got < 0)
		raise_err(got, kobj);
	else if (with_meta)
		res = with_meta_tuple(PyLong_FromSsize_t(got), meta, mlen);
	else
		res = PyLong_FromSsize_t(got);
	store_leave(self);
out:
	PyBuffer_Release(&b);
	key_put(&k);
	return res;
}

static PyObject *Store_delete(StoreObject *self, PyObject *arg)
{
	struct rawkv *kv;
	struct key k;
	int ret;

	if (key_get(arg, &k) < 0)
		return NULL;
	kv = store_writable(self) ? store_enter(self) : NULL;
	if (!kv) {
		key_put(&k);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_delete(kv, k.ptr, k.len);
	Py_END_ALLOW_THREADS
	store_leave(self);
	key_put(&k);
	if (ret)
		return raise_err(ret, arg);
	Py_RETURN_NONE;
}

/*
 * EXISTS of @arg into *@ret (the value length or a negative errno); with
 * @mlen, the metadata too, into @meta (RAWKV_META_MAX bytes), its length
 * in *@mlen (librawkv reads the slot header). Returns -1 with an exception
 * set when the call could not be made (bad key, closed store), else 0.
 */
static int store_exists(StoreObject *self, PyObject *arg, char *meta,
			size_t *mlen, int *ret)
{
	struct rawkv *kv;
	struct key k;

	if (key_get(arg, &k) < 0)
		return -1;
	kv = store_enter(self);
	if (!kv) {
		key_put(&k);
		return -1;
	}
	if (mlen)
		*mlen = RAWKV_META_MAX;
	Py_BEGIN_ALLOW_THREADS
	*ret = rawkv_exists_meta(kv, k.ptr, k.len, meta, mlen);
	Py_END_ALLOW_THREADS
	store_leave(self);
	key_put(&k);
	return 0;
}

static PyObject *Store_exists(StoreObject *self, PyObject *args,
			      PyObject *kwds)
{
	static char *kwlist[] = { "key", "with_meta", NULL };
	char meta[RAWKV_META_MAX];
	size_t mlen = 0;
	int with_meta = 0, ret;
	PyObject *arg;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|p:exists", kwlist, &arg,
					 &with_meta))
		return NULL;
	if (store_exists(self, arg, meta, with_meta ? &mlen : NULL, &ret) < 0)
		return NULL;
	if (ret == -ENOENT)
		Py_RETURN_NONE;
	if (ret < 0)
		return raise_err(ret, arg);
	if (with_meta)
		return with_meta_tuple(PyLong_FromLong(ret), meta, mlen);
	return PyLong_FromLong(ret);
}

/* meta(key) -> bytes: the value's metadata (b"" when none); as exists() */
static PyObject *Store_meta(StoreObject *self, PyObject *arg)
{
	char meta[RAWKV_META_MAX];
	size_t mlen = 0;
	int ret;

	if (store_exists(self, arg, meta, &mlen, &ret) < 0)
		return NULL;
	if (ret < 0)
		return raise_err(ret, arg);
	return PyBytes_FromStringAndSize(meta, mlen);
}

static PyObject *Store_flush(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
	struct rawkv *kv;
	int ret;

	kv = store_writable(self) ? store_enter(self) : NULL;
	if (!kv)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_flush(kv);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		return raise_err(ret, NULL);
	Py_RETURN_NONE;
}

static PyObject *Store_stat(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
	struct rawkv_stat st;
	struct rawkv *kv;
	PyObject *d;
	int ret;

	kv = store_enter(self);
	if (!kv)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_stat(kv, &st);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		return raise_err(ret, NULL);
	st.crc32c_driver[sizeof(st.crc32c_driver) - 1] = '\0';
#define U(f) #f, (unsigned long long)st.f
	d = Py_BuildValue("{sKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKsKss}",
			  U(slot_size), U(value_max), U(key_max),
			  U(slots_total), U(slots_used), U(device_bytes),
			  U(checkpoint_seq), U(puts), U(gets), U(hits),
			  U(misses), U(deletes), U(evictions), U(checkpoints),
			  U(bytes_written), U(bytes_read), U(entry_mem_bytes),
			  U(table_mem_bytes), U(io_errors), U(load_dropped),
			  U(stale_dropped), U(logical_block_size),
			  U(bytes_zero_copy), U(bytes_bounced), U(crc32c_mbps),
			  "crc32c_driver", st.crc32c_driver);
#undef U
	return d;
}

/*
 * The operations of a batch with what pins their keys and buffers; a
 * batch of n holds n keys and n buffers.
 */
struct batch {
	Py_ssize_t n;
	struct rawkv_op *ops;
	struct key *keys;
	Py_buffer *bufs;
	Py_ssize_t nkeys, nbufs;	/* taken so far */
};

static void batch_free(struct batch *b)
{
	Py_ssize_t i;

	for (i = 0; i < b->nbufs; i++)
		PyBuffer_Release(&b->bufs[i]);
	for (i = 0; i < b->nkeys; i++)
		key_put(&b->keys[i]);
	PyMem_Free(b->ops);
	PyMem_Free(b->keys);
	PyMem_Free(b->bufs);
}

static int batch_alloc(struct batch *b, Py_ssize_t n)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	b->ops = PyMem_Calloc(n ? n : 1, sizeof(*b->ops));
	b->keys = PyMem_Calloc(n ? n : 1, sizeof(*b->keys));
	b->bufs = PyMem_Calloc(n ? n : 1, sizeof(*b->bufs));
	if (!b->ops || !b->keys || !b->bufs) {
		batch_free(b);
		PyErr_NoMemory();
		return -1;
	}
	return 0;
}

static int batch_key(struct batch *b, Py_ssize_t i, PyObject *kobj)
{
	if (key_get(kobj, &b->keys[i]) < 0)
		return -1;
	b->nkeys++;
	b->ops[i].key = b->keys[i].ptr;
	b->ops[i].klen = b->keys[i].len;
	return 0;
}

static PyObject *batch_results(struct batch *b)
{
	PyObject *list = PyList_New(b->n);
	Py_ssize_t i;

	if (!list)
		return NULL;
	for (i = 0; i < b->n; i++) {
		PyObject *r = PyLong_FromSsize_t(b->ops[i].result);

		if (!r) {
			Py_DECREF(list);
			return NULL;
		}
		PyList_SET_ITEM(list, i, r);
	}
	return list;
}

static PyObject *store_batch(StoreObject *self, struct batch *b, int get)
{
	struct rawkv *kv;
	PyObject *res = NULL;
	int ret;

	kv = get || store_writable(self) ? store_enter(self) : NULL;
	if (!kv)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	if (get)
		ret = rawkv_get_batch(kv, b->ops, b->n);
	else
		ret = rawkv_put_batch(kv, b->ops, b->n);
	Py_END_ALLOW_THREADS
	store_leave(self);
	if (ret)
		raise_err(ret, NULL);
	else
		res = batch_results(b);
	return res;
}

static PyObject *Store_put_batch(StoreObject *self, PyObject *arg)
{
	PyObject *seq, *res = NULL;
	struct batch b;
	Py_ssize_t i, n;

	seq = PySequence_Fast(arg, "put_batch() takes a sequence of (key, value)");
	if (!seq)
		return NULL;
	n = PySequence_Fast_GET_SIZE(seq);
	if (batch_alloc(&b, n) < 0)
		goto out_seq;
	for (i = 0; i < n; i++) {
		PyObject *item = PySequence_Fast_GET_ITEM(seq, i);

		if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
			PyErr_SetString(PyExc_TypeError,
					"put_batch() items must be (key, value) tuples");
			goto out;
		}
		if (batch_key(&b, i, PyTuple_GET_ITEM(item, 0)) < 0)
			goto out;
		if (value_get(PyTuple_GET_ITEM(item, 1), &b.bufs[i]) < 0)
			goto out;
		b.nbufs++;
		b.ops[i].val = b.bufs[i].buf;
		b.ops[i].vlen = b.bufs[i].len;
	}
	res = store_batch(self, &b, 0);
out:
	batch_free(&b);
out_seq:
	Py_DECREF(seq);
	return res;
}

static PyObject *Store_get_batch(StoreObject *self, PyObject *args)
{
	PyObject *kseq = NULL, *bseq = NULL, *karg, *barg, *res = NULL;
	struct batch b;
	Py_ssize_t i, n;

	if (!PyArg_ParseTuple(args, "OO:get_batch", &karg, &barg))
		return NULL;
	kseq = PySequence_Fast(karg, "get_batch() keys must be a sequence");
	if (!kseq)
		return NULL;
	bseq = PySequence_Fast(barg, "get_batch() buffers must be a sequence");
	if (!bseq)
		goto out_seq;
	n = PySequence_Fast_GET_SIZE(kseq);
	if (PySequence_Fast_GET_SIZE(bseq) != n) {
		PyErr_SetString(PyExc_ValueError,
				"get_batch() needs as many buffers as keys");
		goto out_seq;
	}
	if (batch_alloc(&b, n) < 0)
		goto out_seq;
	for (i = 0; i < n; i++) {
		PyObject *kobj = PySequence_Fast_GET_ITEM(kseq, i);

		if (batch_key(&b, i, kobj) < 0)
			goto out;
		if (buffer_get(PySequence_Fast_GET_ITEM(bseq, i), &b.bufs[i],
			       kobj) < 0)
			goto out;
		b.nbufs++;
		b.ops[i].val = b.bufs[i].buf;
		b.ops[i].vlen = b.bufs[i].len;
	}
	res = store_batch(self, &b, 1);
out:
	batch_free(&b);
out_seq:
	Py_XDECREF(bseq);
	Py_DECREF(kseq);
	return res;
}

static PyObject *Store_get_closed(StoreObject *self, void *Py_UNUSED(c))
{
	return PyBool_FromLong(self->closed || !self->kv);
}

static PyObject *Store_get_path(StoreObject *self, void *Py_UNUSED(c))
{
	return Py_NewRef(self->path ? self->path : Py_None);
}

/*
 * Store.keys(): an iterator of (key: bytes, value_len: int) over librawkv's
 * rawkv_iter_* (RAWKV_IOC_LIST). It holds the store open (a user of it)
 * until exhausted or freed.
 */
typedef struct {
	PyObject_HEAD
	StoreObject *store;
	struct rawkv_iter *it;
} KeyIterObject;

static PyTypeObject KeyIter_Type;

static void keyiter_finish(KeyIterObject *ki)
{
	if (ki->it) {
		rawkv_iter_close(ki->it);
		ki->it = NULL;
	}
	if (ki->store) {
		StoreObject *s = ki->store;

		ki->store = NULL;
		store_leave(s);
		Py_DECREF(s);
	}
}

static void KeyIter_dealloc(KeyIterObject *self)
{
	keyiter_finish(self);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *KeyIter_next(KeyIterObject *self)
{
	const void *key;
	uint64_t vlen;
	size_t klen;
	int ret;

	if (!self->it)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_iter_next(self->it, &key, &klen, &vlen);
	Py_END_ALLOW_THREADS
	if (ret == 1)
		return Py_BuildValue("(y#K)", (const char *)key, (Py_ssize_t)klen,
				     (unsigned long long)vlen);
	keyiter_finish(self);
	if (ret < 0)
		return raise_err(ret, NULL);
	return NULL;	/* StopIteration */
}

static PyTypeObject KeyIter_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "rawkv._rawkv.KeyIter",
	.tp_basicsize = sizeof(KeyIterObject),
	.tp_dealloc = (destructor)KeyIter_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "iterator of (key, value_len) over a Store's keys",
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)KeyIter_next,
};

static PyObject *Store_keys(StoreObject *self, PyObject *Py_UNUSED(ignored))
{
	KeyIterObject *ki;
	struct rawkv *kv;
	int ret;

	kv = store_enter(self);
	if (!kv)
		return NULL;
	ki = PyObject_New(KeyIterObject, &KeyIter_Type);
	if (!ki) {
		store_leave(self);
		return NULL;
	}
	ki->it = NULL;
	Py_INCREF(self);
	ki->store = self;
	ret = rawkv_iter_open(kv, &ki->it);
	if (ret) {
		Py_DECREF(ki);
		return raise_err(ret, NULL);
	}
	return (PyObject *)ki;
}

static PyMethodDef Store_methods[] = {
	{ "keys", (PyCFunction)Store_keys, METH_NOARGS,
	  "keys() -> iterator of (key: bytes, value_len: int), in slot order" },
	{ "close", (PyCFunction)Store_close, METH_NOARGS,
	  "close(): close the store (idempotent)" },
	{ "__enter__", (PyCFunction)Store_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)Store_exit, METH_VARARGS, NULL },
	{ "put", (PyCFunction)(void (*)(void))Store_put,
	  METH_VARARGS | METH_KEYWORDS,
	  "put(key, value, meta=None): store value (any buffer) under key, "
	  "with meta (any buffer, up to 256 bytes) as its user metadata; "
	  "without meta, none" },
	{ "put_sync", (PyCFunction)(void (*)(void))Store_put_sync,
	  METH_VARARGS | METH_KEYWORDS,
	  "put_sync(key, value, meta=None): put, then commit (durable on return)" },
	{ "get", (PyCFunction)(void (*)(void))Store_get,
	  METH_VARARGS | METH_KEYWORDS,
	  "get(key, with_meta=False) -> bytes, or (bytes, meta: bytes)" },
	{ "get_into", (PyCFunction)(void (*)(void))Store_get_into,
	  METH_VARARGS | METH_KEYWORDS,
	  "get_into(key, buffer, with_meta=False) -> int, or (int, meta: bytes): "
	  "read the value into a writable buffer, return its length" },
	{ "delete", (PyCFunction)Store_delete, METH_O,
	  "delete(key)" },
	{ "exists", (PyCFunction)(void (*)(void))Store_exists,
	  METH_VARARGS | METH_KEYWORDS,
	  "exists(key, with_meta=False) -> int | None: the value length, or "
	  "None; with_meta: (int, meta: bytes) | None, from the slot header" },
	{ "meta", (PyCFunction)Store_meta, METH_O,
	  "meta(key) -> bytes: the value's user metadata, b'' when none" },
	{ "flush", (PyCFunction)Store_flush, METH_NOARGS,
	  "flush(): commit every acknowledged PUT and DELETE" },
	{ "stat", (PyCFunction)Store_stat, METH_NOARGS,
	  "stat() -> dict: every field of struct rawkv_stat" },
	{ "put_batch", (PyCFunction)Store_put_batch, METH_O,
	  "put_batch([(key, value), ...]) -> list[int]: 0 or -errno per op" },
	{ "get_batch", (PyCFunction)Store_get_batch, METH_VARARGS,
	  "get_batch(keys, buffers) -> list[int]: value length or -errno per op" },
	{ NULL }
};

static PyGetSetDef Store_getset[] = {
	{ "closed", (getter)Store_get_closed, NULL, "True once closed", NULL },
	{ "path", (getter)Store_get_path, NULL, "the device node", NULL },
	{ NULL }
};

static PyTypeObject Store_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "rawkv._rawkv.Store",
	.tp_basicsize = sizeof(StoreObject),
	.tp_dealloc = (destructor)Store_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Store(path='/dev/rawkv', readonly=False): an open rawkv device",
	.tp_methods = Store_methods,
	.tp_getset = Store_getset,
	.tp_init = (initproc)Store_init,
	.tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------- */
/* Ring */

/*
 * One operation prepared and not yet reaped: what it pins until its
 * completion is reaped (the kernel reads the key, value and metadata, or
 * writes the buffers, until then) and the caller's tag. Its index in ops[]
 * is the user_data given to librawkv. A GET with metadata reads it into
 * the ring's metabuf for that index, its length into @mlen (librawkv sets
 * it when the completion is reaped).
 */
struct ring_op {
	int used;
	int has_buf;
	int has_meta;
	int with_meta;
	struct key key;
	Py_buffer buf;
	Py_buffer meta;
	size_t mlen;
	PyObject *tag;
};

/*
 * @lock serializes every call into librawkv's ring (which is for one
 * thread at a time); it is taken with the GIL released and held across
 * calls that release the GIL. ops[], nfree and the counters are changed
 * only with both held.
 */
typedef struct {
	PyObject_HEAD
	struct rawkv_ring *ring;
	StoreObject *store;
	PyThread_type_lock lock;
	unsigned int depth;
	unsigned int prepared;	/* prepared, not yet submitted */
	unsigned int inflight;	/* submitted, not yet reaped */
	unsigned int nfree;
	unsigned int *free;
	struct ring_op *ops;
	char *metabuf;		/* depth * RAWKV_META_MAX, at the first use */
} RingObject;

static void ring_lock(RingObject *r)
{
	if (!PyThread_acquire_lock(r->lock, NOWAIT_LOCK)) {
		Py_BEGIN_ALLOW_THREADS
		PyThread_acquire_lock(r->lock, WAIT_LOCK);
		Py_END_ALLOW_THREADS
	}
}

static void ring_unlock(RingObject *r)
{
	PyThread_release_lock(r->lock);
}

static void ring_op_release(RingObject *r, unsigned int idx)
{
	struct ring_op *op = &r->ops[idx];

	if (op->has_buf)
		PyBuffer_Release(&op->buf);
	op->has_buf = 0;
	if (op->has_meta)
		PyBuffer_Release(&op->meta);
	op->has_meta = 0;
	op->with_meta = 0;
	key_put(&op->key);
	Py_CLEAR(op->tag);
	op->used = 0;
	r->free[r->nfree++] = idx;
}

static int Ring_init(RingObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "store", "depth", NULL };
	StoreObject *store;
	struct rawkv_ring *ring = NULL;
	struct rawkv *kv;
	unsigned int depth = 64, i;
	int ret;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!|I:Ring", kwlist,
					 &Store_Type, &store, &depth))
		return -1;
	if (self->ring || self->lock) {
		PyErr_SetString(PyExc_RuntimeError, "Ring already open");
		return -1;
	}
	if (depth < 1 || depth > RAWKV_RING_DEPTH_MAX) {
		PyErr_Format(PyExc_ValueError, "depth must be 1..%d",
			     RAWKV_RING_DEPTH_MAX);
		return -1;
	}
	self->ops = PyMem_Calloc(depth, sizeof(*self->ops));
	self->free = PyMem_Calloc(depth, sizeof(*self->free));
	self->lock = PyThread_allocate_lock();
	if (!self->ops || !self->free || !self->lock) {
		PyErr_NoMemory();
		goto fail;
	}
	for (i = 0; i < depth; i++)
		self->free[i] = depth - 1 - i;
	self->nfree = depth;
	self->depth = depth;
	kv = store_enter(store);
	if (!kv)
		goto fail;
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_ring_open(kv, depth, &ring);
	Py_END_ALLOW_THREADS
	if (ret) {
		store_leave(store);
		raise_err(ret, NULL);
		goto fail;
	}
	/* the store's handle stays open (users) until this ring closes */
	self->ring = ring;
	Py_INCREF(store);
	self->store = store;
	return 0;
fail:
	PyMem_Free(self->ops);
	PyMem_Free(self->free);
	self->ops = NULL;
	self->free = NULL;
	if (self->lock)
		PyThread_free_lock(self->lock);
	self->lock = NULL;
	return -1;
}

/* Close with the ring lock held: wait for the kernel, unpin everything. */
static void ring_close_locked(RingObject *r)
{
	struct rawkv_ring *ring = r->ring;
	unsigned int i;

	if (!ring)
		return;
	r->ring = NULL;
	Py_BEGIN_ALLOW_THREADS
	rawkv_ring_close(ring);
	Py_END_ALLOW_THREADS
	for (i = 0; i < r->depth; i++)
		if (r->ops[i].used)
			ring_op_release(r, i);
	r->prepared = 0;
	r->inflight = 0;
	if (r->store) {
		StoreObject *s = r->store;

		r->store = NULL;
		store_leave(s);
		Py_DECREF(s);
	}
}

static PyObject *Ring_close(RingObject *self, PyObject *Py_UNUSED(ignored))
{
	if (!self->lock)
		Py_RETURN_NONE;
	ring_lock(self);
	ring_close_locked(self);
	ring_unlock(self);
	Py_RETURN_NONE;
}

static void Ring_dealloc(RingObject *self)
{
	if (self->lock) {
		ring_lock(self);
		ring_close_locked(self);
		ring_unlock(self);
		PyThread_free_lock(self->lock);
	}
	PyMem_Free(self->ops);
	PyMem_Free(self->free);
	PyMem_Free(self->metabuf);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Ring_enter(RingObject *self, PyObject *Py_UNUSED(ignored))
{
	return Py_NewRef((PyObject *)self);
}

static PyObject *Ring_exit(RingObject *self, PyObject *Py_UNUSED(args))
{
	return Ring_close(self, NULL);
}

static int ring_open_check(RingObject *r)
{
	if (!r->ring) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed Ring");
		return 0;
	}
	return 1;
}

enum { OP_PUT, OP_PUT_SYNC, OP_GET, OP_GET_META, OP_DELETE, OP_EXISTS };

/* The metadata buffers of GETs with metadata, allocated at the first. */
static char *ring_metabuf(RingObject *r, unsigned int idx)
{
	if (!r->metabuf) {
		r->metabuf = PyMem_Calloc(r->depth, RAWKV_META_MAX);
		if (!r->metabuf) {
			PyErr_NoMemory();
			return NULL;
		}
	}
	return r->metabuf + (size_t)idx * RAWKV_META_MAX;
}

/*
 * Prepare one operation: pin the key, the value or buffer and the
 * metadata (@mobj, a PUT's), then hand them to librawkv with the op's
 * index as user_data.
 */
static PyObject *ring_prep(RingObject *self, int kind, PyObject *kobj,
			   PyObject *bobj, PyObject *mobj, PyObject *tag)
{
	struct ring_op *op;
	unsigned int idx;
	char *meta = NULL;
	int ret;

	ring_lock(self);
	if (!ring_open_check(self))
		goto fail;
	if (!self->nfree) {
		raise_msg(EBUSY, kobj, "ring full: reap first");
		goto fail;
	}
	idx = self->free[self->nfree - 1];
	op = &self->ops[idx];
	if (key_get(kobj, &op->key) < 0)
		goto fail;
	if (kind == OP_GET || kind == OP_GET_META) {
		if (buffer_get(bobj, &op->buf, kobj) < 0)
			goto fail_key;
		op->has_buf = 1;
		if (kind == OP_GET_META) {
			meta = ring_metabuf(self, idx);
			if (!meta)
				goto fail_buf;
		}
	} else if (kind == OP_PUT || kind == OP_PUT_SYNC) {
		if (value_get(bobj, &op->buf) < 0)
			goto fail_key;
		op->has_buf = 1;
		ret = meta_get(mobj, &op->meta);
		if (ret < 0)
			goto fail_buf;
		op->has_meta = ret;
		if (self->store && self->store->readonly) {
			raise_msg(EBADF, kobj, "Store opened read-only");
			goto fail_buf;
		}
	} else if (kind == OP_DELETE && self->store && self->store->readonly) {
		raise_msg(EBADF, kobj, "Store opened read-only");
		goto fail_key;
	}
	switch (kind) {
	case OP_PUT:
	case OP_PUT_SYNC:
		ret = rawkv_ring_put_meta(self->ring, op->key.ptr, op->key.len,
					  op->buf.buf, op->buf.len,
					  op->has_meta ? op->meta.buf : NULL,
					  op->has_meta ? op->meta.len : 0,
					  kind == OP_PUT_SYNC ? RAWKV_PUT_SYNC : 0,
					  idx);
		break;
	case OP_GET:
		ret = rawkv_ring_get(self->ring, op->key.ptr, op->key.len,
				     op->buf.buf, op->buf.len, idx);
		break;
	case OP_GET_META:
		op->mlen = RAWKV_META_MAX;
		ret = rawkv_ring_get_meta(self->ring, op->key.ptr, op->key.len,
					  op->buf.buf, op->buf.len, meta,
					  &op->mlen, idx);
		break;
	case OP_DELETE:
		ret = rawkv_ring_delete(self->ring, op->key.ptr, op->key.len,
					idx);
		break;
	default:
		ret = rawkv_ring_exists(self->ring, op->key.ptr, op->key.len,
					idx);
		break;
	}
	if (ret) {
		raise_err(ret, kobj);
		goto fail_buf;
	}
	self->nfree--;
	op->used = 1;
	op->with_meta = kind == OP_GET_META;
	op->tag = Py_NewRef(tag);
	self->prepared++;
	ring_unlock(self);
	Py_RETURN_NONE;
fail_buf:
	if (op->has_meta)
		PyBuffer_Release(&op->meta);
	op->has_meta = 0;
	if (op->has_buf)
		PyBuffer_Release(&op->buf);
	op->has_buf = 0;
fail_key:
	key_put(&op->key);
fail:
	ring_unlock(self);
	return NULL;
}

static PyObject *Ring_put(RingObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "key", "value", "tag", "meta", NULL };
	PyObject *k, *v, *tag = Py_None, *m = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O$O:put", kwlist, &k,
					 &v, &tag, &m))
		return NULL;
	return ring_prep(self, OP_PUT, k, v, m, tag);
}

static PyObject *Ring_put_sync(RingObject *self, PyObject *args,
			       PyObject *kwds)
{
	static char *kwlist[] = { "key", "value", "tag", "meta", NULL };
	PyObject *k, *v, *tag = Py_None, *m = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O$O:put_sync", kwlist,
					 &k, &v, &tag, &m))
		return NULL;
	return ring_prep(self, OP_PUT_SYNC, k, v, m, tag);
}

static PyObject *Ring_get(RingObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "key", "buffer", "tag", "with_meta", NULL };
	PyObject *k, *b, *tag = Py_None;
	int with_meta = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O$p:get", kwlist, &k,
					 &b, &tag, &with_meta))
		return NULL;
	return ring_prep(self, with_meta ? OP_GET_META : OP_GET, k, b, NULL,
			 tag);
}

static PyObject *Ring_delete(RingObject *self, PyObject *args,
			     PyObject *kwds)
{
	static char *kwlist[] = { "key", "tag", NULL };
	PyObject *k, *tag = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:delete", kwlist, &k,
					 &tag))
		return NULL;
	return ring_prep(self, OP_DELETE, k, NULL, NULL, tag);
}

static PyObject *Ring_exists(RingObject *self, PyObject *args,
			     PyObject *kwds)
{
	static char *kwlist[] = { "key", "tag", NULL };
	PyObject *k, *tag = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:exists", kwlist, &k,
					 &tag))
		return NULL;
	return ring_prep(self, OP_EXISTS, k, NULL, NULL, tag);
}

static PyObject *Ring_submit(RingObject *self, PyObject *Py_UNUSED(ignored))
{
	struct rawkv_ring *ring;
	int ret;

	ring_lock(self);
	if (!ring_open_check(self)) {
		ring_unlock(self);
		return NULL;
	}
	ring = self->ring;
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_ring_submit(ring);
	Py_END_ALLOW_THREADS
	if (ret > 0) {
		self->prepared -= ret;
		self->inflight += ret;
	}
	ring_unlock(self);
	if (ret < 0)
		return raise_err(ret, NULL);
	return PyLong_FromLong(ret);
}

/*
 * What reap() returns for the completion of ops[@idx]: (tag, result), or
 * for a GET with metadata (tag, result, meta: bytes, or None when it
 * failed).
 */
static PyObject *ring_completion(RingObject *r, unsigned int idx,
				 long long result)
{
	struct ring_op *op = &r->ops[idx];

	if (!op->with_meta)
		return Py_BuildValue("(OL)", op->tag, result);
	if (result < 0)
		return Py_BuildValue("(OLO)", op->tag, result, Py_None);
	return Py_BuildValue("(OLy#)", op->tag, result,
			     r->metabuf + (size_t)idx * RAWKV_META_MAX,
			     (Py_ssize_t)op->mlen);
}

static PyObject *Ring_reap(RingObject *self, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = { "max", "wait", NULL };
	struct rawkv_completion *c;
	struct rawkv_ring *ring;
	PyObject *list = NULL;
	unsigned int max = 0, wait_min;
	int wait = 0, n, i;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Ip:reap", kwlist,
					 &max, &wait))
		return NULL;
	ring_lock(self);
	if (!ring_open_check(self))
		goto out;
	if (!max || max > self->depth)
		max = self->depth;
	/* wait: for one completion, if anything is in flight */
	wait_min = wait && self->inflight ? 1 : 0;
	c = PyMem_Calloc(max, sizeof(*c));
	if (!c) {
		PyErr_NoMemory();
		goto out;
	}
	ring = self->ring;
	Py_BEGIN_ALLOW_THREADS
	n = rawkv_ring_reap(ring, c, max, wait_min);
	Py_END_ALLOW_THREADS
	if (n < 0 && n != -EINTR) {
		raise_err(n, NULL);
		goto out_c;
	}
	if (n < 0)
		n = 0;
	self->inflight -= n;
	/*
	 * Every completion reaped is released here, even when building the
	 * list fails (MemoryError): its operation is over either way.
	 */
	list = PyList_New(0);
	for (i = 0; i < n; i++) {
		unsigned int idx = c[i].user_data;
		PyObject *t;

		if (idx >= self->depth || !self->ops[idx].used)
			continue;	/* cannot happen: librawkv's own entry */
		if (list) {
			t = ring_completion(self, idx, c[i].result);
			if (!t || PyList_Append(list, t) < 0)
				Py_CLEAR(list);
			Py_XDECREF(t);
		}
		ring_op_release(self, idx);
	}
out_c:
	PyMem_Free(c);
out:
	ring_unlock(self);
	return list;
}

static PyObject *Ring_eventfd(RingObject *self, PyObject *Py_UNUSED(ignored))
{
	if (!ring_open_check(self))
		return NULL;
	return PyLong_FromLong(rawkv_ring_eventfd(self->ring));
}

static PyObject *Ring_get_pending(RingObject *self, void *Py_UNUSED(c))
{
	return PyLong_FromUnsignedLong(self->depth - self->nfree);
}

static PyObject *Ring_get_depth(RingObject *self, void *Py_UNUSED(c))
{
	return PyLong_FromUnsignedLong(self->depth);
}

static PyObject *Ring_get_closed(RingObject *self, void *Py_UNUSED(c))
{
	return PyBool_FromLong(!self->ring);
}

static PyMethodDef Ring_methods[] = {
	{ "close", (PyCFunction)Ring_close, METH_NOARGS,
	  "close(): wait for the operations in flight, unpin everything" },
	{ "__enter__", (PyCFunction)Ring_enter, METH_NOARGS, NULL },
	{ "__exit__", (PyCFunction)Ring_exit, METH_VARARGS, NULL },
	{ "eventfd", (PyCFunction)Ring_eventfd, METH_NOARGS,
	  "eventfd() -> int: readable when completions are ready" },
	{ "put", (PyCFunction)(void (*)(void))Ring_put,
	  METH_VARARGS | METH_KEYWORDS,
	  "put(key, value, tag=None, *, meta=None): meta pinned until reaped" },
	{ "put_sync", (PyCFunction)(void (*)(void))Ring_put_sync,
	  METH_VARARGS | METH_KEYWORDS,
	  "put_sync(key, value, tag=None, *, meta=None)" },
	{ "get", (PyCFunction)(void (*)(void))Ring_get,
	  METH_VARARGS | METH_KEYWORDS,
	  "get(key, buffer, tag=None, *, with_meta=False): with_meta, it "
	  "completes as (tag, result, meta: bytes | None)" },
	{ "delete", (PyCFunction)(void (*)(void))Ring_delete,
	  METH_VARARGS | METH_KEYWORDS, "delete(key, tag=None)" },
	{ "exists", (PyCFunction)(void (*)(void))Ring_exists,
	  METH_VARARGS | METH_KEYWORDS, "exists(key, tag=None)" },
	{ "submit", (PyCFunction)Ring_submit, METH_NOARGS,
	  "submit() -> int: operations handed to the kernel" },
	{ "reap", (PyCFunction)(void (*)(void))Ring_reap,
	  METH_VARARGS | METH_KEYWORDS,
	  "reap(max=depth, wait=False) -> list[(tag, result)], "
	  "(tag, result, meta) for a get with_meta" },
	{ NULL }
};

static PyGetSetDef Ring_getset[] = {
	{ "pending", (getter)Ring_get_pending, NULL,
	  "operations prepared or in flight, not yet reaped", NULL },
	{ "depth", (getter)Ring_get_depth, NULL, "the ring's depth", NULL },
	{ "closed", (getter)Ring_get_closed, NULL, "True once closed", NULL },
	{ NULL }
};

static PyTypeObject Ring_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "rawkv._rawkv.Ring",
	.tp_basicsize = sizeof(RingObject),
	.tp_dealloc = (destructor)Ring_dealloc,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Ring(store, depth=64): asynchronous operations on io_uring",
	.tp_methods = Ring_methods,
	.tp_getset = Ring_getset,
	.tp_init = (initproc)Ring_init,
	.tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------- */

static PyObject *mod_strerror(PyObject *Py_UNUSED(m), PyObject *arg)
{
	long err = PyLong_AsLong(arg);

	if (err == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(rawkv_strerror((int)err));
}

static PyObject *mod_attach(PyObject *Py_UNUSED(m), PyObject *args,
			    PyObject *kwds)
{
	static char *kwlist[] = { "dev", "format", "slot_size",
				  "checkpoint_ms", "evict", NULL };
	struct rawkv_attach_opts o = { .checkpoint_ms = -1 };
	unsigned long long slot_size = 0;
	PyObject *ckpt = Py_None, *dev_obj;
	int format = 0, evict = 1, ret;
	unsigned int id;
	char node[32];
	const char *dev;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&|$pKOp", kwlist,
					 PyUnicode_FSConverter, &dev_obj,
					 &format, &slot_size, &ckpt, &evict))
		return NULL;
	dev = PyBytes_AS_STRING(dev_obj);
	if (ckpt != Py_None) {
		long v = PyLong_AsLong(ckpt);

		if (v == -1 && PyErr_Occurred()) {
			Py_DECREF(dev_obj);
			return NULL;
		}
		if (v < 0 || v > INT_MAX) {
			Py_DECREF(dev_obj);
			PyErr_SetString(PyExc_ValueError,
					"checkpoint_ms must be 0..2**31-1");
			return NULL;
		}
		o.checkpoint_ms = (int)v;
	}
	o.flags = (format ? RAWKV_ATTACH_FORMAT : 0) |
		  (evict ? 0 : RAWKV_ATTACH_NO_EVICT);
	o.slot_size = slot_size;
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_attach(dev, &o, &id);
	Py_END_ALLOW_THREADS
	if (ret) {
		PyObject *r = raise_msg(-ret, NULL, rawkv_strerror(ret));

		Py_DECREF(dev_obj);
		return r;
	}
	Py_DECREF(dev_obj);
	rawkv_store_path(id, node, sizeof(node));
	return PyUnicode_DecodeFSDefault(node);
}

static PyObject *mod_detach(PyObject *Py_UNUSED(m), PyObject *arg)
{
	PyObject *b = NULL;
	int id, ret;

	if (PyLong_Check(arg)) {
		long v = PyLong_AsLong(arg);

		if (v == -1 && PyErr_Occurred())
			return NULL;
		id = v < 0 || v >= RAWKV_STORES_MAX ? -EINVAL : (int)v;
	} else {
		if (!PyUnicode_FSConverter(arg, &b))
			return NULL;
		id = rawkv_store_id(PyBytes_AS_STRING(b));
		Py_DECREF(b);
	}
	if (id < 0)
		return raise_msg(EINVAL, arg,
				 "not a store: a number, 'rawkvN' or '/dev/rawkvN'");
	Py_BEGIN_ALLOW_THREADS
	ret = rawkv_detach(id);
	Py_END_ALLOW_THREADS
	if (ret)
		return raise_err(ret, arg);
	Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
	{ "attach", (PyCFunction)(void (*)(void))mod_attach,
	  METH_VARARGS | METH_KEYWORDS,
	  "attach(dev, *, format=False, slot_size=0, checkpoint_ms=None, "
	  "evict=True) -> str: serve block device dev as a new store (root); "
	  "returns its node, e.g. '/dev/rawkv1'" },
	{ "detach", mod_detach, METH_O,
	  "detach(store): write the final metadata of store (a number, "
	  "'rawkvN' or '/dev/rawkvN') and release its device (root); "
	  "OSError EBUSY while it is open" },
	{ "strerror", mod_strerror, METH_O,
	  "strerror(errno) -> str: librawkv's description of an error" },
	{ NULL }
};

static struct PyModuleDef rawkv_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "rawkv._rawkv",
	.m_doc = "CPython bindings of librawkv",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__rawkv(void)
{
	PyObject *m;

	if (PyType_Ready(&Store_Type) < 0 || PyType_Ready(&Ring_Type) < 0 ||
	    PyType_Ready(&KeyIter_Type) < 0)
		return NULL;
	m = PyModule_Create(&rawkv_module);
	if (!m)
		return NULL;
	if (PyModule_AddObjectRef(m, "Store", (PyObject *)&Store_Type) < 0 ||
	    PyModule_AddObjectRef(m, "Ring", (PyObject *)&Ring_Type) < 0 ||
	    PyModule_AddIntConstant(m, "KEY_MAX", RAWKV_KEY_MAX) < 0 ||
	    PyModule_AddIntConstant(m, "RING_DEPTH_MAX",
				    RAWKV_RING_DEPTH_MAX) < 0 ||
	    PyModule_AddStringConstant(m, "DEFAULT_DEVICE",
				       RAWKV_DEFAULT_DEVICE) < 0) {
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
