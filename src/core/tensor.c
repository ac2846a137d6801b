/* Tensors, the per-step context (arena + tape) and reverse-mode autograd. */
#include "genc/core.h"

#include "mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t genc_shape_numel(int ndim, const int *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || n > GENC_MAX_NUMEL / shape[i]) return -1;
        n *= shape[i];
    }
    return n;
}

/* "[2, 3, 4]" from a raw shape */
static const char *dims_str(int ndim, const int *shape, char *buf, size_t len) {
    genc_tensor t = {.ndim = ndim};
    for (int i = 0; i < ndim && i < GENC_MAX_DIMS; i++) t.shape[i] = shape[i];
    return genc_shape_str(&t, buf, len);
}

int genc_same_shape(const genc_tensor *a, const genc_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

const char *genc_shape_str(const genc_tensor *t, char *buf, size_t len) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, len - o, "[");
    for (int i = 0; i < t->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, i ? ", %d" : "%d", t->shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
    return buf;
}

/* ---------------------------------------------------------------- context */

genc_ctx *genc_ctx_new(size_t arena_block_bytes) {
    genc_ctx *c = calloc(1, sizeof *c);
    if (!c) { genc_set_error("out of memory"); return NULL; }
    c->arena = genc_arena_new(arena_block_bytes);
    if (!c->arena) { free(c); return NULL; }
    c->grad_enabled = 1;
    c->rng = genc_rng_make(0, 0x64726f70ull); /* "drop" */
    return c;
}

void genc_ctx_free(genc_ctx *c) {
    if (!c) return;
    genc_arena_free(c->arena);
    free(c->nodes);
    free(c);
}

void genc_ctx_reset(genc_ctx *c) {
    genc_arena_reset(c->arena);
    c->n_nodes = 0;
}

int genc_no_grad(genc_ctx *c) {
    int prev = c->grad_enabled;
    c->grad_enabled = 0;
    return prev;
}

void genc_restore_grad(genc_ctx *c, int prev) { c->grad_enabled = prev; }

/* Activation memory for the step: ops cannot unwind, so running out ends the step through
 * the out-of-memory handler (by default: a message and exit status 1). */
static void *step_alloc(genc_ctx *c, size_t bytes) {
    void *p = genc_arena_alloc(c->arena, bytes);
    if (p) return p;
    /* what the arena would hold after growing: its blocks so far plus this request */
    size_t cap = genc_arena_capacity(c->arena);
    size_t need = bytes > SIZE_MAX - cap ? SIZE_MAX : cap + bytes;
    size_t held = genc_mem_used(), other = held > cap ? held - cap : 0;
    genc_set_error("out of memory: the activations of one step need more than %zu MiB (lower "
                   "--batch or --seq): genc's limit is %zu MiB (the physical memory or "
                   "GENC_MEM_LIMIT), of which parameters and other state hold %zu MiB",
                   genc_mib(need), genc_mib(genc_mem_limit()), genc_mib(other));
    genc_out_of_memory();
}

/* n floats in bytes, saturating (a saturated size fails in the allocator) */
static size_t float_bytes(int64_t n) {
    return n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float) ? SIZE_MAX : (size_t)n * sizeof(float);
}

void *genc_scratch(genc_ctx *c, size_t bytes) { return step_alloc(c, bytes); }

genc_tensor *genc_wrap(genc_ctx *c, float *data, int ndim, const int *shape) {
    GENC_ASSERT(ndim >= 1 && ndim <= GENC_MAX_DIMS, "tensor rank %d out of range", ndim);
    for (int i = 0; i < ndim; i++) GENC_ASSERT(shape[i] > 0, "tensor dim %d is %d", i, shape[i]);
    int64_t n = genc_shape_numel(ndim, shape);
    if (n < 0) { /* the element count overflows: no memory could hold it */
        char buf[96];
        genc_set_error("out of memory: a tensor of shape %s has more elements than memory can hold "
                       "(lower --batch or --seq)", dims_str(ndim, shape, buf, sizeof buf));
        genc_out_of_memory();
    }
    genc_tensor *t = step_alloc(c, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->n = n;
    t->data = data;
    return t;
}

genc_tensor *genc_new(genc_ctx *c, int ndim, const int *shape) {
    genc_tensor *t = genc_wrap(c, NULL, ndim, shape);
    t->data = step_alloc(c, float_bytes(t->n));
    return t;
}

genc_tensor *genc_new1(genc_ctx *c, int d0) { return genc_new(c, 1, (int[]){d0}); }
genc_tensor *genc_new2(genc_ctx *c, int d0, int d1) { return genc_new(c, 2, (int[]){d0, d1}); }
genc_tensor *genc_new3(genc_ctx *c, int d0, int d1, int d2) {
    return genc_new(c, 3, (int[]){d0, d1, d2});
}
genc_tensor *genc_new4(genc_ctx *c, int d0, int d1, int d2, int d3) {
    return genc_new(c, 4, (int[]){d0, d1, d2, d3});
}
genc_tensor *genc_new_like(genc_ctx *c, const genc_tensor *t) {
    return genc_new(c, t->ndim, t->shape);
}

genc_tensor *genc_zeros(genc_ctx *c, int ndim, const int *shape) {
    genc_tensor *t = genc_new(c, ndim, shape);
    memset(t->data, 0, (size_t)t->n * sizeof(float));
    return t;
}

float *genc_grad(genc_ctx *c, genc_tensor *t) {
    if (!t->grad) {
        t->grad = step_alloc(c, float_bytes(t->n));
        memset(t->grad, 0, (size_t)t->n * sizeof(float));
    }
    return t->grad;
}

float *genc_grad_fresh(genc_ctx *c, genc_tensor *t, int *fresh) {
    *fresh = !t->grad;
    if (t->grad) return t->grad;
    t->grad = step_alloc(c, float_bytes(t->n));
#ifdef __SANITIZE_ADDRESS__
    /* Sanitizer builds poison the buffer with NaN: an op that leaves an element unwritten then
     * fails its gradient test, instead of passing on an arena block that happens to be zero. */
    for (int64_t i = 0; i < t->n; i++) t->grad[i] = NAN;
#endif
    return t->grad;
}

/* ---------------------------------------------------------------- tape */

genc_node *genc_record(genc_ctx *c, genc_backward_fn fn, genc_tensor *out, int n_in,
                       genc_tensor *const *in) {
    if (!c->grad_enabled) return NULL;
    int any = 0;
    for (int i = 0; i < n_in; i++)
        if (in[i] && in[i]->requires_grad) any = 1;
    if (!any) return NULL;
    GENC_ASSERT(n_in <= GENC_NODE_MAX_IN, "op has %d inputs (max %d)", n_in, GENC_NODE_MAX_IN);
    if (c->n_nodes == c->cap_nodes) {
        int cap = c->cap_nodes ? c->cap_nodes * 2 : 1024;
        genc_node *nn = c->cap_nodes > (1 << 28) ? NULL : realloc(c->nodes, (size_t)cap * sizeof *nn);
        if (!nn) {
            genc_set_error("out of memory: the autograd tape of one step needs more than %d ops",
                           c->cap_nodes);
            genc_out_of_memory();
        }
        c->nodes = nn;
        c->cap_nodes = cap;
    }
    genc_node *n = &c->nodes[c->n_nodes++];
    memset(n, 0, sizeof *n);
    n->backward = fn;
    n->out = out;
    n->n_in = n_in;
    for (int i = 0; i < n_in; i++) n->in[i] = in[i];
    out->requires_grad = 1;
    return n;
}

void genc_backward(genc_ctx *c, genc_tensor *loss) {
    GENC_ASSERT(loss->n == 1, "backward needs a scalar loss, got %lld elements",
                (long long)loss->n);
    if (!loss->requires_grad) return;
    genc_grad(c, loss)[0] += 1.0f;
    for (int i = c->n_nodes - 1; i >= 0; i--) {
        genc_node *n = &c->nodes[i];
        if (!n->out->grad) continue; /* no gradient reached this op's output */
        n->backward(c, n);
    }
}

/* ---------------------------------------------------------------- parameters */

void genc_params_init(genc_params *ps) { memset(ps, 0, sizeof *ps); }

void genc_params_free(genc_params *ps) {
    for (int i = 0; i < ps->n; i++) {
        genc_tensor *p = ps->list[i];
        genc_aligned_free(p->data);
        genc_aligned_free(p->grad);
        free((char *)p->name);
        free(p);
    }
    free(ps->list);
    memset(ps, 0, sizeof *ps);
}

genc_tensor *genc_param_new(genc_params *ps, const char *name, int ndim, const int *shape) {
    char dims[96];
    if (ndim < 1 || ndim > GENC_MAX_DIMS) {
        genc_set_error("parameter %s: rank %d outside [1, %d]", name, ndim, GENC_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) {
            genc_set_error("parameter %s: dim %d is %d", name, i, shape[i]);
            return NULL;
        }
    int64_t n = genc_shape_numel(ndim, shape);
    if (n < 0) {
        genc_set_error("out of memory: parameter %s of shape %s has more elements than memory can "
                       "hold", name, dims_str(ndim, shape, dims, sizeof dims));
        return NULL;
    }
    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        genc_tensor **nl = ps->cap > (1 << 28) ? NULL : realloc(ps->list, (size_t)cap * sizeof *nl);
        if (!nl) {
            genc_set_error("out of memory: too many parameters (%d)", ps->n);
            return NULL;
        }
        ps->list = nl;
        ps->cap = cap;
    }
    genc_tensor *p = calloc(1, sizeof *p);
    char *nm = strdup(name);
    float *data = p && nm ? genc_aligned_alloc(float_bytes(n)) : NULL;
    float *grad = data ? genc_aligned_alloc(float_bytes(n)) : NULL;
    if (!grad) { /* nothing registered: ps is as it was */
        genc_aligned_free(data);
        free(nm);
        free(p);
        genc_set_error("out of memory: %s (%s) needs %zu MiB with its gradient, and %zu MiB of "
                       "genc's %zu MiB are in use (the limit is the physical memory or "
                       "GENC_MEM_LIMIT)",
                       name, dims_str(ndim, shape, dims, sizeof dims), 2 * genc_mib(float_bytes(n)),
                       genc_mib(genc_mem_used()), genc_mib(genc_mem_limit()));
        return NULL;
    }
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
    p->n = n;
    p->data = data;
    p->grad = grad;
    p->requires_grad = 1;
    p->is_param = 1;
    p->name = nm;
    ps->list[ps->n++] = p;
    return p;
}

genc_tensor *genc_params_find(const genc_params *ps, const char *name) {
    for (int i = 0; i < ps->n; i++)
        if (strcmp(ps->list[i]->name, name) == 0) return ps->list[i];
    return NULL;
}

int64_t genc_params_count(const genc_params *ps) {
    int64_t n = 0;
    for (int i = 0; i < ps->n; i++) n += ps->list[i]->n;
    return n;
}

void genc_params_zero_grad(genc_params *ps) {
    for (int i = 0; i < ps->n; i++)
        memset(ps->list[i]->grad, 0, (size_t)ps->list[i]->n * sizeof(float));
}

void genc_param_init_normal(genc_tensor *p, genc_rng *r, float std) {
    genc_rng_fill_normal(r, p->data, p->n, 0.0f, std);
}

void genc_param_fill(genc_tensor *p, float v) {
    for (int64_t i = 0; i < p->n; i++) p->data[i] = v;
}
