/* Tiny test harness: CHECK macros, a closing "N passed, N failed" line, finite-difference
 * gradient checks, and PyTorch reference fixtures. */
#ifndef GENC_TESTUTIL_H
#define GENC_TESTUTIL_H

#include "genc/core.h"
#include "genc/io.h"
#include "genc/ops.h"

#include <math.h>
#include <stdio.h>

extern int tu_passed, tu_failed;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) tu_passed++;                                                  \
        else {                                                                  \
            tu_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

/* Print the closing line and return the process exit code. */
int tu_finish(void);

/* max |a - b| / (atol + rtol |b|) ≤ 1 over n elements; prints the worst element on failure. */
int tu_close(const char *what, const float *a, const float *b, int64_t n, float atol, float rtol);

/* Fill with N(0, std) from a fixed seed. */
void tu_randn(float *x, int64_t n, uint64_t seed, float std);

/* An arena tensor of the given shape filled with N(0, 1) from seed, requiring grad: a
 * gradcheck input. TU_RND(c, seed, d0, d1, ...) spells the shape inline. */
genc_tensor *tu_randn_tensor(genc_ctx *c, int ndim, const int *shape, uint64_t seed);
#define TU_RND(c, seed, ...) \
    tu_randn_tensor(c, (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)), (int[]){__VA_ARGS__}, seed)

/* A function that builds a scalar loss from its inputs on the context. */
typedef genc_tensor *(*tu_fn)(genc_ctx *c, genc_tensor **in, void *user);

/* Gradient check: compares backward() against central differences (double accumulation of
 * the float loss) for every input with requires_grad set. Inputs are arena tensors the caller
 * made on c (c is reset between evaluations but the inputs' data survive: they are copied).
 * Returns 1 when every gradient matches within tolerance. */
int tu_gradcheck(const char *name, tu_fn fn, void *user, genc_tensor **in, int n_in, float eps,
                 float atol, float rtol);

/* tu_gradcheck that also fails when no entry of some checked input's gradient exceeds min_abs
 * in magnitude: such a check would pass whatever the backward computes. */
int tu_gradcheck_nonzero(const char *name, tu_fn fn, void *user, genc_tensor **in, int n_in, float eps,
                         float atol, float rtol, float min_abs);

/* Random projection loss: sum(out * w) with fixed random w, to turn any output into a scalar
 * with a nontrivial gradient. */
genc_tensor *tu_project(genc_ctx *c, genc_tensor *out, uint64_t seed);

/* Run a parity script tests/parity/<script> with the Debian python (GENC_PYTHON) writing
 * the safetensors fixture `out_path`; then read it. Fails loudly (returns GENC_ERR) when
 * python or torch is missing: parity tests are never silently skipped. */
int tu_fixture(const char *script, const char *out_path, genc_st_file *f);
/* A fixture tensor as float32 (malloc'd); aborts the test with a message if missing. */
float *tu_get(const genc_st_file *f, const char *name, int64_t *n);

/* ---------------------------------------------------------------- fixture tensors by name */
/* Fixture tensor `name` as an arena tensor of its shape (a 0-d tensor becomes [1]); exits the
 * test with a message if it is missing. */
genc_tensor *tu_load(genc_ctx *c, const genc_st_file *f, const char *name, int requires_grad);
/* Checks t's shape against fixture tensor `name` (0-d counts as [1]), then its n values with
 * tu_close, or for exact equality when atol = rtol = 0 (as values: −0 equals +0, which
 * PyTorch's g·0 and genc's 0 + g·0 differ in). got may be NULL (a gradient that never
 * arrived: a failure). With TU_VERBOSE set, prints how much of the tolerance is used. */
void tu_expect(const genc_st_file *f, const char *name, const genc_tensor *t, const float *got,
               float atol, float rtol);
/* tu_expect of every parameter's gradient against fixture tensor "<prefix>grad.<name>". */
void tu_expect_grads(const genc_st_file *f, const char *prefix, const genc_params *ps, float atol, float rtol);
/* The fixture's "cases" count, checked to be want (0 when missing). */
int tu_cases(const genc_st_file *f, int want);

#endif
