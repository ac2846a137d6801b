/* safetensors reader and writer. The reader trusts nothing: every length, offset, dtype and
 * shape in the header is checked against the file before a tensor is handed out. */
#include "genc/io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [GENC_DT_F32] = {"F32", 4}, [GENC_DT_F16] = {"F16", 2}, [GENC_DT_BF16] = {"BF16", 2},
    [GENC_DT_F64] = {"F64", 8}, [GENC_DT_I64] = {"I64", 8}, [GENC_DT_I32] = {"I32", 4},
    [GENC_DT_U8] = {"U8", 1},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *genc_dtype_name(genc_dtype d) { return (int)d < N_DTYPES ? DTYPES[d].name : "?"; }
size_t genc_dtype_size(genc_dtype d) { return (int)d < N_DTYPES ? DTYPES[d].size : 0; }

static int dtype_from_name(const char *s) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, DTYPES[i].name) == 0) return i;
    return -1;
}

void genc_st_free(genc_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->buffer);
    memset(f, 0, sizeof *f);
}

typedef struct span {
    uint64_t b, e;
    const char *name;
} span;

/* By begin, then end: an empty tensor sorts before a tensor starting at the same byte, so the
 * overlap test below never depends on qsort's order for ties. */
static int span_cmp(const void *x, const void *y) {
    const span *a = x, *b = y;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    return a->e < b->e ? -1 : a->e > b->e;
}

static int str_ptr_cmp(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* Duplicate tensor names, found by sorting (a pairwise scan is quadratic, and a hostile header
 * may hold a million entries). GENC_ERR with the message when a name repeats (or there is no
 * memory to check). */
static int check_duplicates(const genc_st_file *f) {
    if (f->n_tensors < 2) return GENC_OK;
    const char **names = malloc(sizeof *names * (size_t)f->n_tensors);
    if (!names) return genc_set_error("out of memory checking %d tensor names", f->n_tensors);
    for (int i = 0; i < f->n_tensors; i++) names[i] = f->tensors[i].name;
    qsort(names, (size_t)f->n_tensors, sizeof *names, str_ptr_cmp);
    const char *dup = NULL;
    for (int i = 1; i < f->n_tensors && !dup; i++)
        if (strcmp(names[i - 1], names[i]) == 0) dup = names[i];
    int rc = dup ? genc_set_error("tensor '%s' appears twice", dup) : GENC_OK;
    free(names);
    return rc;
}

/* Parse an already-owned buffer (takes ownership of buf). */
static int parse_owned(void *buf, size_t size, genc_st_file *f) {
    memset(f, 0, sizeof *f);
    f->buffer = buf;
    f->size = size;
    const unsigned char *p = buf;
    cJSON *root = NULL;
    span *spans = NULL;
    if (size < 8) {
        genc_set_error("file is %zu bytes, too short for a safetensors header", size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen < 2 || hlen > size - 8 || hlen > (100u << 20)) {
        genc_set_error("header length %llu does not fit the file of %zu bytes (truncated or "
                       "not a safetensors file)", (unsigned long long)hlen, size);
        goto fail;
    }
    root = cJSON_ParseWithLength((const char *)p + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        genc_set_error("header is not a JSON object");
        goto fail;
    }
    const unsigned char *data = p + 8 + hlen;
    uint64_t dsize = size - 8 - hlen;
    int n = cJSON_GetArraySize(root);
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    spans = calloc((size_t)n + 1, sizeof *spans);
    if (!f->tensors || !spans) {
        genc_set_error("out of memory");
        goto fail;
    }
    for (cJSON *it = root->child; it; it = it->next) {
        if (!it->string) { genc_set_error("header entry without a name"); goto fail; }
        if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) { genc_set_error("__metadata__ is not an object"); goto fail; }
            /* A second map would replace the first array while n_meta kept counting. */
            if (f->meta) { genc_set_error("__metadata__ appears twice"); goto fail; }
            int m = cJSON_GetArraySize(it);
            f->meta = calloc((size_t)m + 1, sizeof *f->meta);
            if (!f->meta) { genc_set_error("out of memory"); goto fail; }
            for (cJSON *kv = it->child; kv; kv = kv->next) {
                if (!cJSON_IsString(kv)) {
                    genc_set_error("__metadata__ value for '%s' is not a string", kv->string);
                    goto fail;
                }
                f->meta[f->n_meta].key = strdup(kv->string);
                f->meta[f->n_meta].value = strdup(kv->valuestring);
                f->n_meta++;
                if (!f->meta[f->n_meta - 1].key || !f->meta[f->n_meta - 1].value) {
                    genc_set_error("out of memory");
                    goto fail;
                }
            }
            continue;
        }
        const char *name = it->string;
        cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) ||
            cJSON_GetArraySize(off) != 2) {
            genc_set_error("tensor '%s': needs dtype, shape and data_offsets [begin, end]", name);
            goto fail;
        }
        int d = dtype_from_name(dt->valuestring);
        if (d < 0) {
            genc_set_error("tensor '%s': unsupported dtype '%s'", name, dt->valuestring);
            goto fail;
        }
        genc_st_tensor *t = &f->tensors[f->n_tensors];
        t->dtype = (genc_dtype)d;
        t->ndim = cJSON_GetArraySize(sh);
        if (t->ndim > GENC_ST_MAX_DIMS) {
            genc_set_error("tensor '%s': %d dimensions (at most %d)", name, t->ndim, GENC_ST_MAX_DIMS);
            goto fail;
        }
        uint64_t numel = 1;
        int k = 0;
        for (cJSON *s = sh->child; s; s = s->next, k++) {
            if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble > 4e18 ||
                s->valuedouble != (double)(int64_t)s->valuedouble) {
                genc_set_error("tensor '%s': shape entry %d is not a non-negative integer", name, k);
                goto fail;
            }
            t->shape[k] = (int64_t)s->valuedouble;
            if (t->shape[k] && numel > UINT64_MAX / (uint64_t)t->shape[k]) {
                genc_set_error("tensor '%s': shape overflows", name);
                goto fail;
            }
            numel *= (uint64_t)t->shape[k];
        }
        double ob = cJSON_GetArrayItem(off, 0)->valuedouble, oe = cJSON_GetArrayItem(off, 1)->valuedouble;
        if (!cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) ||
            ob < 0 || oe < ob || oe > (double)dsize || ob != (double)(uint64_t)ob ||
            oe != (double)(uint64_t)oe) {
            genc_set_error("tensor '%s': data_offsets [%.0f, %.0f] outside the %llu-byte buffer "
                           "(truncated file?)", name, ob, oe, (unsigned long long)dsize);
            goto fail;
        }
        uint64_t b = (uint64_t)ob, e = (uint64_t)oe;
        uint64_t es = genc_dtype_size(t->dtype);
        if (numel > UINT64_MAX / es || e - b != numel * es) {
            genc_set_error("tensor '%s': %llu bytes for %llu elements of %s", name,
                           (unsigned long long)(e - b), (unsigned long long)numel, dt->valuestring);
            goto fail;
        }
        t->name = strdup(name);
        if (!t->name) { genc_set_error("out of memory"); goto fail; }
        t->data = data + b;
        t->nbytes = (size_t)(e - b);
        spans[f->n_tensors] = (span){b, e, t->name};
        f->n_tensors++;
    }
    if (check_duplicates(f) != GENC_OK) goto fail;
    qsort(spans, (size_t)f->n_tensors, sizeof *spans, span_cmp);
    for (int i = 1; i < f->n_tensors; i++)
        if (spans[i].b < spans[i - 1].e) {
            genc_set_error("tensors '%s' and '%s' overlap", spans[i - 1].name, spans[i].name);
            goto fail;
        }
    free(spans);
    cJSON_Delete(root);
    return GENC_OK;
fail:
    free(spans);
    cJSON_Delete(root);
    genc_st_free(f);
    return GENC_ERR;
}

int genc_st_parse(const void *bytes, size_t size, genc_st_file *f) {
    void *buf = malloc(size ? size : 1);
    if (!buf) return genc_set_error("out of memory");
    if (size) memcpy(buf, bytes, size);
    return parse_owned(buf, size, f);
}

int genc_st_read(const char *path, genc_st_file *f) {
    void *buf;
    size_t size;
    memset(f, 0, sizeof *f);
    if (genc_read_file(path, &buf, &size) != GENC_OK) return GENC_ERR;
    if (parse_owned(buf, size, f) != GENC_OK) return genc_wrap_error("%s", path);
    return GENC_OK;
}

const genc_st_tensor *genc_st_find(const genc_st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *genc_st_meta(const genc_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
    if (e == 0) {
        if (m == 0) u = s;
        else { /* subnormal */
            float v = (float)m / 1024.0f / 16384.0f;
            return s ? -v : v;
        }
    } else if (e == 31) u = s | 0x7f800000u | (m << 13);
    else u = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int genc_st_get_f32(const genc_st_file *f, const char *name, float *dst, int64_t n) {
    const genc_st_tensor *t = genc_st_find(f, name);
    if (!t) return genc_set_error("tensor '%s' is missing", name);
    int64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) numel *= t->shape[i];
    if (numel != n)
        return genc_set_error("tensor '%s' has %lld elements, expected %lld", name,
                              (long long)numel, (long long)n);
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case GENC_DT_F32: memcpy(dst, p, (size_t)n * 4); break;
    case GENC_DT_F64:
        for (int64_t i = 0; i < n; i++) { double d; memcpy(&d, p + 8 * i, 8); dst[i] = (float)d; }
        break;
    case GENC_DT_F16:
        for (int64_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, p + 2 * i, 2); dst[i] = half_to_float(h); }
        break;
    case GENC_DT_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h; memcpy(&h, p + 2 * i, 2);
            uint32_t u = (uint32_t)h << 16; memcpy(&dst[i], &u, 4);
        }
        break;
    case GENC_DT_I32:
        for (int64_t i = 0; i < n; i++) { int32_t v; memcpy(&v, p + 4 * i, 4); dst[i] = (float)v; }
        break;
    default: return genc_set_error("tensor '%s': dtype %s is not a float type", name, genc_dtype_name(t->dtype));
    }
    return GENC_OK;
}

static int name_cmp(const void *x, const void *y) {
    const genc_st_entry *a = *(const genc_st_entry *const *)x, *b = *(const genc_st_entry *const *)y;
    return strcmp(a->name, b->name);
}

/* arr += [v]; 0 when out of memory */
static int add_number(cJSON *arr, double v) {
    cJSON *x = cJSON_CreateNumber(v);
    if (!x || !arr || !cJSON_AddItemToArray(arr, x)) {
        cJSON_Delete(x);
        return 0;
    }
    return 1;
}

int genc_st_write(const char *path, const genc_st_entry *entries, int n, const genc_st_kv *meta,
                  int n_meta) {
    /* Data go in sorted-name order so the header's offsets increase with the names. */
    const genc_st_entry **order = malloc(sizeof *order * (size_t)(n ? n : 1));
    if (!order) return genc_set_error("out of memory");
    for (int i = 0; i < n; i++) order[i] = &entries[i];
    qsort(order, (size_t)n, sizeof *order, name_cmp);
    /* Every cJSON call can run out of memory; a header missing an entry would still parse,
     * so each result is checked (ok) rather than writing a silently incomplete file. */
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < n_meta; i++) ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
    }
    uint64_t off = 0;
    for (int i = 0; ok && i < n; i++) {
        const genc_st_entry *e = order[i];
        cJSON *t = cJSON_AddObjectToObject(root, e->name);
        ok = t && cJSON_AddStringToObject(t, "dtype", genc_dtype_name(e->dtype));
        cJSON *sh = ok ? cJSON_AddArrayToObject(t, "shape") : NULL;
        ok = sh != NULL;
        uint64_t numel = 1;
        for (int k = 0; k < e->ndim; k++) {
            ok = ok && add_number(sh, (double)e->shape[k]);
            numel *= (uint64_t)e->shape[k];
        }
        uint64_t nb = numel * genc_dtype_size(e->dtype);
        cJSON *o = ok ? cJSON_AddArrayToObject(t, "data_offsets") : NULL;
        ok = o && add_number(o, (double)off) && add_number(o, (double)(off + nb));
        off += nb;
    }
    char *hjson = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!hjson) { free(order); return genc_set_error("out of memory"); }
    size_t hl = strlen(hjson), hpad = (8 - hl % 8) % 8;
    size_t total = 8 + hl + hpad + (size_t)off;
    unsigned char *buf = malloc(total);
    if (!buf) { free(hjson); free(order); return genc_set_error("out of memory (%zu bytes)", total); }
    uint64_t H = hl + hpad;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(H >> (8 * i));
    memcpy(buf + 8, hjson, hl);
    memset(buf + 8 + hl, ' ', hpad);
    free(hjson);
    unsigned char *d = buf + 8 + H;
    for (int i = 0; i < n; i++) {
        const genc_st_entry *e = order[i];
        uint64_t numel = 1;
        for (int k = 0; k < e->ndim; k++) numel *= (uint64_t)e->shape[k];
        size_t nb = (size_t)(numel * genc_dtype_size(e->dtype));
        if (nb) memcpy(d, e->data, nb);   /* an empty tensor may come with data == NULL */
        d += nb;
    }
    free(order);
    int rc = genc_write_file_atomic(path, buf, total);
    free(buf);
    return rc;
}
