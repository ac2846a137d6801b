/* Tensors, the per-step context (arena + tape) and reverse-mode autograd. */
#include "genc/core.h"

#include <stdlib.h>
#include <string.h>

int64_t genc_shape_numel(int ndim, const int *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
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
    if (!c) return NULL;
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

void *genc_scratch(genc_ctx *c, size_t bytes) { return genc_arena_alloc(c->arena, bytes); }

genc_tensor *genc_wrap(genc_ctx *c, float *data, int ndim, const int *shape) {
    GENC_ASSERT(ndim >= 1 && ndim <= GENC_MAX_DIMS, "tensor rank %d out of range", ndim);
    genc_tensor *t = genc_arena_alloc(c->arena, sizeof *t);
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        GENC_ASSERT(shape[i] > 0, "tensor dim %d is %d", i, shape[i]);
        t->shape[i] = shape[i];
    }
    t->n = genc_shape_numel(ndim, shape);
    t->data = data;
    return t;
}

genc_tensor *genc_new(genc_ctx *c, int ndim, const int *shape) {
    genc_tensor *t = genc_wrap(c, NULL, ndim, shape);
    t->data = genc_arena_alloc(c->arena, (size_t)t->n * sizeof(float));
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
        t->grad = genc_arena_alloc(c->arena, (size_t)t->n * sizeof(float));
        memset(t->grad, 0, (size_t)t->n * sizeof(float));
    }
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
        genc_node *nn = realloc(c->nodes, (size_t)cap * sizeof *nn);
        if (!nn) genc_fatal("tape: out of memory");
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
    GENC_ASSERT(ndim >= 1 && ndim <= GENC_MAX_DIMS, "param %s: rank %d", name, ndim);
    if (ps->n == ps->cap) {
        int cap = ps->cap ? ps->cap * 2 : 64;
        genc_tensor **nl = realloc(ps->list, (size_t)cap * sizeof *nl);
        if (!nl) genc_fatal("params: out of memory");
        ps->list = nl;
        ps->cap = cap;
    }
    genc_tensor *p = calloc(1, sizeof *p);
    if (!p) genc_fatal("params: out of memory");
    p->ndim = ndim;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i];
    p->n = genc_shape_numel(ndim, shape);
    p->data = genc_aligned_alloc((size_t)p->n * sizeof(float));
    p->grad = genc_aligned_alloc((size_t)p->n * sizeof(float));
    if (!p->data || !p->grad) genc_fatal("params: out of memory for %s", name);
    p->requires_grad = 1;
    p->is_param = 1;
    p->name = strdup(name);
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
