/* The compiled inner loop of local re-encoding on UTF-8 bytes (tiktoken's offset unit).
 *
 * `splice_bytes` does what `local.reference_splice` does for bytes, with the same results: the edit
 * window between two safe cuts, one call of the backend's window encoder, two bisections of the
 * parent's token starts, and the spliced id list. `measure_bytes` adds the token edit distance of
 * the swapped spans (the engine's measure step). `token_starts` turns ids into byte offsets.
 * `local.py` is the reference and the fallback; the tests
 * compare the two on random edits and build the default recipe both ways, byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static int is_letter(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* text[i] is a space between two ASCII letters (the caller keeps 1 <= i < n - 1). */
static int is_cut(const unsigned char *text, Py_ssize_t i) {
    return text[i] == ' ' && is_letter(text[i - 1]) && is_letter(text[i + 1]);
}

/* The last safe cut s with 1 <= s < end - 1 (0 if none): local._cut_before. */
static Py_ssize_t cut_before(const unsigned char *text, Py_ssize_t end) {
    for (Py_ssize_t s = end - 2; s >= 1; s--) {
        if (is_cut(text, s)) return s;
    }
    return 0;
}

/* The first safe cut e with start < e < n - 1 (n if none): local._cut_after. */
static Py_ssize_t cut_after(const unsigned char *text, Py_ssize_t n, Py_ssize_t start) {
    for (Py_ssize_t e = start + 1; e < n - 1; e++) {
        if (is_cut(text, e)) return e;
    }
    return n;
}

/* Leftmost index in `starts` (a sorted list of ints) whose value is >= x: bisect.bisect_left. */
static Py_ssize_t bisect_left(PyObject *starts, Py_ssize_t x) {
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(starts);
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        Py_ssize_t value = PyLong_AsSsize_t(PyList_GET_ITEM(starts, mid));
        if (value == -1 && PyErr_Occurred()) return -1;
        if (value < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* parent[:i] + window + parent[j:] as a new list. */
static PyObject *joined(PyObject *parent, Py_ssize_t i, PyObject *window, Py_ssize_t j) {
    Py_ssize_t n_parent = PyList_GET_SIZE(parent), n_window = PyList_GET_SIZE(window);
    PyObject *ids = PyList_New(i + n_window + (n_parent - j));
    if (ids == NULL) return NULL;
    Py_ssize_t k = 0;
    for (Py_ssize_t a = 0; a < i; a++, k++) {
        PyObject *item = PyList_GET_ITEM(parent, a);
        Py_INCREF(item);
        PyList_SET_ITEM(ids, k, item);
    }
    for (Py_ssize_t a = 0; a < n_window; a++, k++) {
        PyObject *item = PyList_GET_ITEM(window, a);
        Py_INCREF(item);
        PyList_SET_ITEM(ids, k, item);
    }
    for (Py_ssize_t a = j; a < n_parent; a++, k++) {
        PyObject *item = PyList_GET_ITEM(parent, a);
        Py_INCREF(item);
        PyList_SET_ITEM(ids, k, item);
    }
    return ids;
}

/* What a splice of bytes finds: the edit window new[start:end], what `encode_window` returned for
 * it (a new reference), where its ids go in the parent's (i, j), and the change in length. */
typedef struct {
    PyObject *encoded;
    Py_ssize_t start, i, j, shift;
} Window;

/* Find the window, encode it, locate it in the parent; 0, or -1 with an exception set. */
static int splice_window(PyObject *const *args, Window *w) {
    PyObject *old = args[0], *new = args[1], *parent_ids = args[2], *starts = args[3];
    PyObject *encode_window = args[4];
    if (!PyBytes_Check(old) || !PyBytes_Check(new) || !PyList_Check(parent_ids) ||
        !PyList_Check(starts)) {
        PyErr_SetString(PyExc_TypeError, "(bytes, bytes, list, list, callable, ...) expected");
        return -1;
    }
    const unsigned char *a = (const unsigned char *)PyBytes_AS_STRING(old);
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(new);
    Py_ssize_t n_old = PyBytes_GET_SIZE(old), n_new = PyBytes_GET_SIZE(new);
    Py_ssize_t shortest = n_old < n_new ? n_old : n_new;
    Py_ssize_t prefix = 0;
    while (prefix < shortest && a[prefix] == b[prefix]) prefix++;
    Py_ssize_t limit = shortest - prefix, suffix = 0;
    while (suffix < limit && a[n_old - 1 - suffix] == b[n_new - 1 - suffix]) suffix++;
    Py_ssize_t start = cut_before(a, prefix);
    Py_ssize_t end = cut_after(b, n_new, n_new - suffix);
    Py_ssize_t shift = n_new - n_old;

    PyObject *window = PyBytes_FromStringAndSize((const char *)b + start, end - start);
    if (window == NULL) return -1;
    PyObject *encoded = PyObject_CallOneArg(encode_window, window);
    Py_DECREF(window);
    if (encoded == NULL) return -1;
    if (!PyTuple_Check(encoded) || PyTuple_GET_SIZE(encoded) != 2 ||
        !PyList_Check(PyTuple_GET_ITEM(encoded, 0))) {
        Py_DECREF(encoded);
        PyErr_SetString(PyExc_TypeError, "encode_window must return (list of ids, starts)");
        return -1;
    }
    Py_ssize_t i = bisect_left(starts, start);
    Py_ssize_t j = i < 0 ? -1 : bisect_left(starts, end - shift);
    if (j < 0) {
        Py_DECREF(encoded);
        return -1;
    }
    if (j < i || j > PyList_GET_SIZE(parent_ids)) {
        Py_DECREF(encoded);
        PyErr_SetString(PyExc_ValueError, "parent_starts does not match parent_ids");
        return -1;
    }
    w->encoded = encoded;
    w->start = start;
    w->i = i;
    w->j = j;
    w->shift = shift;
    return 0;
}

PyDoc_STRVAR(splice_bytes_doc,
"splice_bytes(old, new, parent_ids, parent_starts, encode_window)\n"
"-> (ids, old_span, window_ids, window_starts, start, i, j, shift)\n\n"
"The compiled body of `local.splice` for bytes: `ids` is new's encoding, `old_span` the parent's\n"
"ids it replaces (parent_ids[i:j]), `window_ids` and `window_starts` what `encode_window`\n"
"returned for new[start:end], `shift` the change in length.");

static PyObject *splice_bytes(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "splice_bytes takes 5 arguments");
        return NULL;
    }
    Window w;
    if (splice_window(args, &w) < 0) return NULL;
    PyObject *window_ids = PyTuple_GET_ITEM(w.encoded, 0);
    PyObject *ids = joined(args[2], w.i, window_ids, w.j);
    PyObject *old_span = ids == NULL ? NULL : PyList_GetSlice(args[2], w.i, w.j);
    if (old_span == NULL) {
        Py_XDECREF(ids);
        Py_DECREF(w.encoded);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(NNOOnnnn)", ids, old_span, window_ids,
                                     PyTuple_GET_ITEM(w.encoded, 1), w.start, w.i, w.j, w.shift);
    Py_DECREF(w.encoded);
    return result;
}

/* The Levenshtein distance between a[a0:a1] and b (lists of ints), or cutoff + 1 when it is
 * larger (rapidfuzz's `Levenshtein.distance(..., score_cutoff=cutoff)`); -1 with an exception. */
static Py_ssize_t span_distance(PyObject *a, Py_ssize_t a0, Py_ssize_t a1, PyObject *b,
                                Py_ssize_t cutoff) {
    Py_ssize_t n = a1 - a0, m = PyList_GET_SIZE(b), result = -1;
    long long *buffer = PyMem_Malloc(sizeof(long long) * (n + m + 1));
    Py_ssize_t *row = PyMem_Malloc(sizeof(Py_ssize_t) * (m + 1));
    if (buffer == NULL || row == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    long long *x = buffer, *y = buffer + n;
    for (Py_ssize_t k = 0; k < n; k++) {
        x[k] = PyLong_AsLongLong(PyList_GET_ITEM(a, a0 + k));
        if (x[k] == -1 && PyErr_Occurred()) goto done;
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        y[k] = PyLong_AsLongLong(PyList_GET_ITEM(b, k));
        if (y[k] == -1 && PyErr_Occurred()) goto done;
    }
    while (n && m && *x == *y) {  /* a common prefix and suffix cost nothing */
        x++, y++, n--, m--;
    }
    while (n && m && x[n - 1] == y[m - 1]) {
        n--, m--;
    }
    if ((n > m ? n - m : m - n) > cutoff) {
        result = cutoff + 1;
        goto done;
    }
    for (Py_ssize_t c = 0; c <= m; c++) row[c] = c;
    for (Py_ssize_t r = 1; r <= n; r++) {
        Py_ssize_t diagonal = row[0], smallest = r;
        row[0] = r;
        for (Py_ssize_t c = 1; c <= m; c++) {
            Py_ssize_t above = row[c], best = diagonal + (x[r - 1] != y[c - 1]);
            if (above + 1 < best) best = above + 1;
            if (row[c - 1] + 1 < best) best = row[c - 1] + 1;
            row[c] = best;
            diagonal = above;
            if (best < smallest) smallest = best;
        }
        if (smallest > cutoff) {  /* no path through this row stays within the cutoff */
            result = cutoff + 1;
            goto done;
        }
    }
    result = row[m] > cutoff ? cutoff + 1 : row[m];
done:
    PyMem_Free(row);
    PyMem_Free(buffer);
    return result;
}

PyDoc_STRVAR(measure_bytes_doc,
"measure_bytes(old, new, parent_ids, parent_starts, encode_window, cutoff)\n"
"-> (ids, window_starts, start, i, j, shift, distance)\n\n"
"`splice_bytes` and the token edit distance between the spans it swaps, in one call (the family\n"
"engine's measure step): `distance` is cutoff + 1 when it is over `cutoff`, and then, or when it\n"
"is 0, `ids` is None (the engine keeps no such variant).");

static PyObject *measure_bytes(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "measure_bytes takes 6 arguments");
        return NULL;
    }
    Py_ssize_t cutoff = PyLong_AsSsize_t(args[5]);
    if (cutoff == -1 && PyErr_Occurred()) return NULL;
    if (cutoff < 0) {
        PyErr_SetString(PyExc_ValueError, "cutoff must be >= 0");
        return NULL;
    }
    Window w;
    if (splice_window(args, &w) < 0) return NULL;
    PyObject *window_ids = PyTuple_GET_ITEM(w.encoded, 0);
    Py_ssize_t distance = span_distance(args[2], w.i, w.j, window_ids, cutoff);
    PyObject *ids = Py_None;
    if (distance < 0) {
        ids = NULL;
    } else if (distance > 0 && distance <= cutoff) {
        ids = joined(args[2], w.i, window_ids, w.j);
    } else {
        Py_INCREF(ids);
    }
    if (ids == NULL) {
        Py_DECREF(w.encoded);
        return NULL;
    }
    PyObject *result = Py_BuildValue("(NOnnnnn)", ids, PyTuple_GET_ITEM(w.encoded, 1), w.start,
                                     w.i, w.j, w.shift, distance);
    Py_DECREF(w.encoded);
    return result;
}

PyDoc_STRVAR(token_starts_doc,
"token_starts(ids, lengths) -> list\n\n"
"Where each token of `ids` starts, given each id's length (`lengths[id]`): 0, then the running\n"
"sum of the lengths of all ids but the last (`local.reference_token_starts`).");

static PyObject *token_starts(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[0]) || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "token_starts(list of ids, list of lengths)");
        return NULL;
    }
    PyObject *ids = args[0], *lengths = args[1];
    Py_ssize_t n = PyList_GET_SIZE(ids), n_lengths = PyList_GET_SIZE(lengths), at = 0;
    PyObject *starts = PyList_New(n);
    if (starts == NULL) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *start = PyLong_FromSsize_t(at);
        if (start == NULL) goto fail;
        PyList_SET_ITEM(starts, k, start);
        if (k == n - 1) break;  /* the last token's length is never needed */
        Py_ssize_t id = PyLong_AsSsize_t(PyList_GET_ITEM(ids, k));
        if (id == -1 && PyErr_Occurred()) goto fail;
        if (id < 0 || id >= n_lengths) {
            PyErr_Format(PyExc_IndexError, "token id %zd has no length", id);
            goto fail;
        }
        Py_ssize_t length = PyLong_AsSsize_t(PyList_GET_ITEM(lengths, id));
        if (length == -1 && PyErr_Occurred()) goto fail;
        at += length;
    }
    return starts;
fail:
    Py_DECREF(starts);
    return NULL;
}

static PyMethodDef methods[] = {
    {"splice_bytes", (PyCFunction)(void (*)(void))splice_bytes, METH_FASTCALL, splice_bytes_doc},
    {"measure_bytes", (PyCFunction)(void (*)(void))measure_bytes, METH_FASTCALL, measure_bytes_doc},
    {"token_starts", (PyCFunction)(void (*)(void))token_starts, METH_FASTCALL, token_starts_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_splice",
    "The compiled inner loop of local re-encoding (see trailforge/tokenize/local.py).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__splice(void) { return PyModule_Create(&module); }
