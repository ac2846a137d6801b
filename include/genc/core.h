/* genc core: tensors, arenas, the autograd tape, Philox RNG, threads, errors.
 *
 * Everything above this layer (ops, nn, models, cli) is written against this header.
 * Tensors are float32, contiguous, row-major, up to 4 dimensions, 64-byte aligned.
 * Activations live in a per-step arena owned by a genc_ctx; parameters are persistent. */
#ifndef GENC_CORE_H
#define GENC_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GENC_MAX_DIMS 4
#define GENC_ALIGN 64

/* ---------------------------------------------------------------- errors
 * Library calls that can fail on user input return an int status: 0 on success,
 * GENC_ERR (-1) on failure, with the message available from genc_error().
 * Broken internal invariants (a shape mismatch between two ops that the library itself
 * wired) are programming errors: genc_fatal prints and aborts. User input is validated
 * before it reaches an op, so bad input never reaches genc_fatal. Running out of memory is
 * not a programming error: see genc_set_oom_handler below. */
#define GENC_OK 0
#define GENC_ERR (-1)

int genc_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prefix the current message with "<what>: " (context added while unwinding). */
int genc_wrap_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *genc_error(void);
void genc_clear_error(void);
_Noreturn void genc_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define GENC_ASSERT(cond, ...)                                                 \
    do {                                                                       \
        if (!(cond)) genc_fatal(__VA_ARGS__);                                  \
    } while (0)

/* ---------------------------------------------------------------- memory
 * Linux overcommits: a malloc larger than the free memory usually succeeds, and the process
 * is killed without a message when it touches the pages. So every large block genc takes
 * (parameters and their gradients, optimizer state, caches, activation arenas) is counted
 * against one process-wide limit first, and a request past it fails at once with a message
 * naming what wanted how much. The limit is the physical memory, or the environment
 * variable GENC_MEM_LIMIT (bytes, or a number with K, M, G or T: binary units, e.g. 8G),
 * or what genc_set_mem_limit sets. It bounds genc's own blocks, not the whole process. */
void *genc_aligned_alloc(size_t bytes);   /* zeroed, 64-byte aligned, counted; NULL on failure
                                           * (genc_error() says why) */
void genc_aligned_free(void *p);          /* genc_aligned_alloc memory only; NULL is a no-op */
size_t genc_mem_limit(void);
void genc_set_mem_limit(size_t bytes);    /* 0: back to GENC_MEM_LIMIT or the physical memory */
size_t genc_mem_used(void);               /* bytes genc holds now (blocks and arenas) */

/* Out of memory in the middle of a step. Ops return tensors, not statuses, so when the
 * activation arena of a genc_ctx (genc_new, genc_zeros, genc_wrap, genc_scratch, genc_grad,
 * the tape) cannot grow, or a shape's element count overflows, genc sets genc_error() and
 * calls the out-of-memory handler. The default handler prints
 *   genc: error: out of memory: the activations of one step need more than N MiB (...)
 * to stderr and exits with status 1 (not abort: it is a runtime condition, not a bug).
 * A program that embeds genc may install its own, for example one that longjmps out of the
 * step, frees the genc_ctx (or resets it) and reports genc_error() its own way. The handler
 * must not return; if it does, the default runs. NULL restores the default. */
typedef void (*genc_oom_handler)(void *user);
void genc_set_oom_handler(genc_oom_handler fn, void *user);

/* Bump allocator made of chained blocks. reset() keeps the blocks, so after the first
 * training step the loop allocates nothing from the system. new and alloc return NULL with
 * genc_error() set when the memory limit or the system refuses; the arena is unchanged
 * then. */
typedef struct genc_arena genc_arena;
genc_arena *genc_arena_new(size_t block_bytes);
void genc_arena_free(genc_arena *a);
void *genc_arena_alloc(genc_arena *a, size_t bytes);   /* 64-byte aligned, not zeroed */
void genc_arena_reset(genc_arena *a);
size_t genc_arena_used(const genc_arena *a);
size_t genc_arena_capacity(const genc_arena *a);

/* ---------------------------------------------------------------- RNG
 * Philox 4x32-10 (Salmon et al., SC'11). A draw is a pure function of
 * (seed, stream, counter), so results never depend on thread count. */
typedef struct genc_rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t counter; /* counts 128-bit blocks consumed */
} genc_rng;

void genc_philox4x32(uint64_t key, uint64_t ctr_hi, uint64_t ctr_lo, uint32_t out[4]);
genc_rng genc_rng_make(uint64_t seed, uint64_t stream);
uint32_t genc_rng_u32(genc_rng *r);                   /* one block per call (simple, not fast) */
float genc_rng_uniform(genc_rng *r);                  /* [0, 1) */
float genc_rng_normal(genc_rng *r);
uint32_t genc_rng_below(genc_rng *r, uint32_t n);     /* uniform in [0, n) */
/* Bulk fills: element i uses block (counter + i/4); the counter then advances past them.
 * Parallel and thread-count independent. */
void genc_rng_fill_uniform(genc_rng *r, float *x, int64_t n);          /* [0,1) */
void genc_rng_fill_normal(genc_rng *r, float *x, int64_t n, float mean, float std);

/* ---------------------------------------------------------------- threads */
void genc_set_threads(int n);    /* OpenMP and OpenBLAS; n <= 0 means all cores */
int genc_get_threads(void);
double genc_time_s(void);      /* monotonic clock, seconds */

/* ---------------------------------------------------------------- BLAS kernel (blas.c)
 * OpenBLAS falls back to a slow SSE3 kernel on CPUs newer than its release. Programs call
 * genc_blas_ensure_fast_kernel() first thing in main(): when the kernel is a fallback and the
 * CPU has AVX-512 or AVX2, it re-executes the program with OPENBLAS_CORETYPE set (once; never
 * when OPENBLAS_CORETYPE is already set). The same re-execution sets GOMP_SPINCOUNT=1000 when
 * neither it nor OMP_WAIT_POLICY is set: libgomp's default spinning makes multi-threaded steps
 * several times slower on a busy machine (blas.c). GENC_NO_BLAS_REEXEC turns both off. */
const char *genc_blas_kernel(void);
const char *genc_blas_suggested_coretype(void);   /* NULL when the current kernel is right */
void genc_blas_ensure_fast_kernel(void);

/* ---------------------------------------------------------------- tensors */
typedef struct genc_tensor {
    float *data;
    float *grad;          /* NULL until a gradient reaches it (activations); params: always set */
    int64_t n;            /* number of elements */
    int ndim;
    int shape[GENC_MAX_DIMS];
    int requires_grad;
    int is_param;         /* persistent: data and grad are not in an arena */
    const char *name;     /* parameters only */
} genc_tensor;

static inline int genc_dim(const genc_tensor *t, int i) { return t->shape[i < 0 ? t->ndim + i : i]; }
/* product of all dims but the last: the number of "rows" */
static inline int64_t genc_rows(const genc_tensor *t) { return t->n / t->shape[t->ndim - 1]; }
/* Elements of a shape; -1 when a dim is not positive or the count exceeds GENC_MAX_NUMEL
 * (2^60: far beyond any memory, and small enough that the byte size of a float or double
 * tensor cannot overflow int64 or size_t). */
#define GENC_MAX_NUMEL ((int64_t)1 << 60)
int64_t genc_shape_numel(int ndim, const int *shape);
int genc_same_shape(const genc_tensor *a, const genc_tensor *b);
/* "[2, 3, 4]" into buf, for messages */
const char *genc_shape_str(const genc_tensor *t, char *buf, size_t len);

/* ---------------------------------------------------------------- context + tape */
typedef struct genc_ctx genc_ctx;
typedef struct genc_node genc_node;
typedef void (*genc_backward_fn)(genc_ctx *c, genc_node *node);

#define GENC_NODE_MAX_IN 4
struct genc_node {
    genc_backward_fn backward;
    genc_tensor *out;
    genc_tensor *in[GENC_NODE_MAX_IN];
    int n_in;
    void *saved;          /* op-specific, arena memory */
    int64_t iarg[8];
    float farg[4];
    const void *parg[4];  /* op-specific pointers (ids, masks, tables), must outlive backward */
};

struct genc_ctx {
    genc_arena *arena;
    genc_node *nodes;
    int n_nodes, cap_nodes;
    int grad_enabled;     /* 0 inside a no-grad scope: nothing is recorded */
    int training;         /* dropout active */
    genc_rng rng;         /* dropout and other in-graph randomness */
    /* data parallelism (genc/dist.h): this rank computes examples [share_lo, share_lo +
     * share_n) of a global batch of share_total; 0 0 0: the whole batch */
    int share_lo, share_n, share_total;
};

genc_ctx *genc_ctx_new(size_t arena_block_bytes);  /* 0 → 64 MiB blocks; NULL on failure */
void genc_ctx_free(genc_ctx *c);
/* Drop the tape and all activations (call after the optimizer step). */
void genc_ctx_reset(genc_ctx *c);
/* No-grad scope: int prev = genc_no_grad(c); ... genc_restore_grad(c, prev); */
int genc_no_grad(genc_ctx *c);
void genc_restore_grad(genc_ctx *c, int prev);

/* New activation tensor in the arena. Data not initialised. Out of memory (or a shape whose
 * element count overflows) goes to the out-of-memory handler; these never return NULL. */
genc_tensor *genc_new(genc_ctx *c, int ndim, const int *shape);
genc_tensor *genc_new1(genc_ctx *c, int d0);
genc_tensor *genc_new2(genc_ctx *c, int d0, int d1);
genc_tensor *genc_new3(genc_ctx *c, int d0, int d1, int d2);
genc_tensor *genc_new4(genc_ctx *c, int d0, int d1, int d2, int d3);
genc_tensor *genc_new_like(genc_ctx *c, const genc_tensor *t);
genc_tensor *genc_zeros(genc_ctx *c, int ndim, const int *shape);
/* Wrap existing memory (not owned, no grad). */
genc_tensor *genc_wrap(genc_ctx *c, float *data, int ndim, const int *shape);
void *genc_scratch(genc_ctx *c, size_t bytes);   /* arena memory for op internals */

/* Gradient buffer of t, allocated (zeroed) from the arena on first use. */
float *genc_grad(genc_ctx *c, genc_tensor *t);
/* The same for a backward that writes every element of t's gradient: when no gradient has
 * reached t yet, the buffer is allocated but NOT zeroed and *fresh is set to 1, and the caller
 * must store (=) its contribution instead of adding it (+=). Since 0 + v == v, the gradient is
 * what genc_grad and += give, bit for bit up to the sign of an exact zero (−0 stays −0 where
 * 0 + −0 gives +0), without a pass that zeroes the buffer and a second one that reads the
 * zeros back. Otherwise *fresh is 0 and the caller accumulates. */
float *genc_grad_fresh(genc_ctx *c, genc_tensor *t, int *fresh);

/* Record an op. Returns the node to fill (saved state, args) when the tape is recording and
 * some input requires grad; then out->requires_grad is set. Otherwise returns NULL and
 * the op need not save anything. Inputs may be NULL (optional operands). */
genc_node *genc_record(genc_ctx *c, genc_backward_fn fn, genc_tensor *out, int n_in,
                       genc_tensor *const *in);

/* Reverse-mode pass from a scalar (n == 1) loss: seeds d loss = 1 and walks the tape in
 * reverse, accumulating (+=) into every grad. Parameter grads accumulate across calls
 * until zeroed. */
void genc_backward(genc_ctx *c, genc_tensor *loss);

/* ---------------------------------------------------------------- parameters */
typedef struct genc_params {
    genc_tensor **list;
    int n, cap;
} genc_params;

void genc_params_init(genc_params *ps);
void genc_params_free(genc_params *ps);
/* Persistent zero-initialised tensor with grad, registered under a copy of name. NULL with
 * genc_error() set ("out of memory: <name> (<shape>) needs N MiB ...", or a bad rank/dim)
 * when it cannot be made; ps is then unchanged, and genc_params_free still frees what it
 * holds. Callers check: model sizes come from the user. */
genc_tensor *genc_param_new(genc_params *ps, const char *name, int ndim, const int *shape);
genc_tensor *genc_params_find(const genc_params *ps, const char *name);
int64_t genc_params_count(const genc_params *ps);
void genc_params_zero_grad(genc_params *ps);
void genc_param_init_normal(genc_tensor *p, genc_rng *r, float std);
void genc_param_fill(genc_tensor *p, float v);

#ifdef __cplusplus
}
#endif
#endif
