/* Flow layers and whole flows: inverse(forward(x)) == x, every log-determinant against the
 * log|det| of the Jacobian computed by central differences (then LU in double), the LU 1×1
 * convolution (its log-det equals log|det W| of the assembled matrix, gradcheck of its
 * parameterisation) and the data-dependent ActNorm initialisation. */
#include "genc/flows.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/flows/flows_internal.h"

/* log|det A| of an n×n matrix (LU with partial pivoting, double) */
static double logabsdet(double *A, int n) {
    double s = 0;
    for (int k = 0; k < n; k++) {
        int p = k;
        for (int i = k + 1; i < n; i++)
            if (fabs(A[i * n + k]) > fabs(A[p * n + k])) p = i;
        for (int j = 0; j < n; j++) {
            double t = A[k * n + j];
            A[k * n + j] = A[p * n + j], A[p * n + j] = t;
        }
        s += log(fabs(A[k * n + k]));
        for (int i = k + 1; i < n; i++) {
            double m = A[i * n + k] / A[k * n + k];
            for (int j = k; j < n; j++) A[i * n + j] -= m * A[k * n + j];
        }
    }
    return s;
}

/* Small random values on every trained tensor (the zero-initialised last layers would make
 * couplings the identity and the checks trivial); perm and sign stay as built. */
static void perturb(genc_flow *f, uint64_t seed) {
    genc_rng r = genc_rng_make(seed, 0);
    for (int i = 0; i < f->params.n; i++) {
        genc_tensor *p = f->params.list[i];
        if (strstr(p->name, "perm") || strstr(p->name, "sign")) continue;
        for (int64_t k = 0; k < p->n; k++) p->data[k] += 0.1f * genc_rng_normal(&r);
    }
    f->actnorm_pending = 0;
}

static genc_flow_config small_cfg(genc_flow_arch arch, int toy, genc_flow_coupling coupling) {
    genc_flow_config cfg;
    genc_flow_config_unset(&cfg, arch);
    if (toy) cfg.toy = GENC_TOY_8GAUSSIANS, cfg.C = 2;
    else cfg.C = 1, cfg.H = cfg.W = 4;
    cfg.depth = 2;
    cfg.width = 8;
    cfg.coupling = coupling;
    genc_flow_config_resolve(&cfg);
    return cfg;
}

/* Forward of layer i on x[B, ...] into flat outputs per example (y then the factored piece). */
static void layer_out(genc_ctx *c, genc_flow *f, int i, const float *x, int B, float *out, int64_t *n_out,
                      float *logdet) {
    const genc_flow_layer *l = &f->layers[i];
    int sh[4] = {B, l->C, l->H, l->W};
    genc_tensor *xt = genc_new(c, 4, sh), *ld = genc_zeros(c, 1, &B), *z = NULL;
    memcpy(xt->data, x, sizeof(float) * (size_t)xt->n);
    genc_tensor *y = genc_flow_layer_forward(c, f, i, xt, &ld, &z);
    int64_t ny = y->n / B, nz = z ? z->n / B : 0;
    for (int b = 0; b < B; b++) {
        memcpy(out + b * (ny + nz), y->data + b * ny, sizeof(float) * (size_t)ny);
        if (z) memcpy(out + b * (ny + nz) + ny, z->data + b * nz, sizeof(float) * (size_t)nz);
        if (logdet) logdet[b] = ld->data[b];
    }
    *n_out = ny + nz;
}

/* Central-difference Jacobian of example b of a map x → out (n → n), log|det| in double.
 * eps = 1e-2 on O(1) inputs: truncation error O(eps²) ≈ 1e-4 relative per entry on these
 * smooth maps, float rounding ≈ 1e-7/eps = 1e-5; log|det| then moves by about n·1e-4. */
typedef void (*map_fn)(genc_ctx *c, void *u, const float *x, int B, float *out);
static double numeric_logdet(genc_ctx *c, map_fn fn, void *u, const float *x0, int B, int b, int n) {
    float *x = malloc(sizeof(float) * (size_t)B * n), *o1 = malloc(sizeof(float) * (size_t)B * n),
          *o2 = malloc(sizeof(float) * (size_t)B * n);
    double *J = malloc(sizeof(double) * (size_t)n * n);
    const float eps = 1e-2f;
    for (int k = 0; k < n; k++) {
        memcpy(x, x0, sizeof(float) * (size_t)B * n);
        x[b * n + k] = x0[b * n + k] + eps;
        genc_ctx_reset(c);
        fn(c, u, x, B, o1);
        x[b * n + k] = x0[b * n + k] - eps;
        genc_ctx_reset(c);
        fn(c, u, x, B, o2);
        for (int r = 0; r < n; r++) J[r * n + k] = ((double)o1[b * n + r] - o2[b * n + r]) / (2.0 * eps);
    }
    double ld = logabsdet(J, n);
    free(x), free(o1), free(o2), free(J);
    return ld;
}

typedef struct layer_u {
    genc_flow *f;
    int i;
} layer_u;

static void layer_map(genc_ctx *c, void *u, const float *x, int B, float *out) {
    layer_u *lu = u;
    int64_t n;
    layer_out(c, lu->f, lu->i, x, B, out, &n, NULL);
}

static const char *KIND[] = {"actnorm", "invconv", "coupling-channel", "coupling-checker", "scale", "squeeze", "split", "flatten"};

/* Every layer of f: inverse ∘ forward = id, log-det = numeric log|det J| (2 examples). */
static void check_layers(genc_flow *f, const char *what) {
    genc_ctx *c = genc_ctx_new(0);
    int B = 2;
    for (int i = 0; i < f->n_layers; i++) {
        const genc_flow_layer *l = &f->layers[i];
        int n = l->C * l->H * l->W;
        float *x = malloc(sizeof(float) * (size_t)B * n), *out = malloc(sizeof(float) * (size_t)B * n), ld[2];
        tu_randn(x, (int64_t)B * n, 100 + i, 1.0f);
        genc_ctx_reset(c);
        int64_t nout;
        layer_out(c, f, i, x, B, out, &nout, ld);
        CHECK(nout == n, "%s layer %d (%s): %lld outputs for %d inputs", what, i, KIND[l->kind], (long long)nout, n);
        /* inverse from the flat outputs */
        genc_ctx_reset(c);
        int sh[4] = {B, l->C, l->H, l->W};
        genc_tensor *xt = genc_new(c, 4, sh), *ldt = genc_zeros(c, 1, &B), *z = NULL;
        memcpy(xt->data, x, sizeof(float) * (size_t)xt->n);
        genc_tensor *y = genc_flow_layer_forward(c, f, i, xt, &ldt, &z);
        genc_tensor *xr = genc_flow_layer_inverse(c, f, i, y, z);
        char name[96];
        snprintf(name, sizeof name, "%s layer %d (%s) inverse", what, i, KIND[l->kind]);
        /* float round trip through exp/tanh/1×1 conv of O(1) values: a few ulps of 1 */
        CHECK(xr->n == xt->n && tu_close(name, xr->data, x, xt->n, 1e-5f, 1e-5f), "%s", name);
        layer_u u = {f, i};
        for (int b = 0; b < B; b++) {
            double num = numeric_logdet(c, layer_map, &u, x, B, b, n);
            CHECK(fabs(num - ld[b]) < 1e-2 + 1e-3 * fabs(num), "%s layer %d (%s) example %d: log-det %g, numeric %g", what, i,
                  KIND[l->kind], b, ld[b], num);
        }
        free(x), free(out);
    }
    genc_ctx_free(c);
}

static void flow_map(genc_ctx *c, void *u, const float *x, int B, float *out) {
    genc_flow *f = u;
    int sh[4] = {B, f->cfg.C, f->cfg.H, f->cfg.W};
    genc_tensor *xt = genc_new(c, 4, sh);
    memcpy(xt->data, x, sizeof(float) * (size_t)xt->n);
    genc_flow_log_prob(c, f, xt, out);
}

/* The whole flow: inverse(z(x)) == x, and log p(x) − log p_Z(z) = numeric log|det ∂z/∂x|.
 * With the learned prior z is the standardised latent ε, so the same identity checks the
 * prior's (μ, logs) too: log N(z; μ, e^{2 logs}) = log N(ε; 0, I) + log|det ∂ε/∂z|. */
static void check_flow(genc_flow *f, const char *what) {
    genc_ctx *c = genc_ctx_new(0);
    int B = 2, n = (int)f->D;
    float *x = malloc(sizeof(float) * (size_t)B * n), *z = malloc(sizeof(float) * (size_t)B * n);
    tu_randn(x, (int64_t)B * n, 7, 1.0f);
    int sh[4] = {B, f->cfg.C, f->cfg.H, f->cfg.W}, zs[2] = {B, n};
    genc_tensor *xt = genc_new(c, 4, sh);
    memcpy(xt->data, x, sizeof(float) * (size_t)xt->n);
    genc_tensor *lp = genc_flow_log_prob(c, f, xt, z);
    genc_tensor *zt = genc_new(c, 2, zs);
    memcpy(zt->data, z, sizeof(float) * (size_t)B * n);
    genc_tensor *pz = genc_flow_prior_logp(c, f->cfg.prior, zt);
    genc_tensor *xr = genc_flow_inverse(c, f, z, B);
    char name[96];
    snprintf(name, sizeof name, "%s: inverse of the whole flow", what);
    /* errors of each layer's round trip compound over ~10 layers: 1e-4 */
    CHECK(tu_close(name, xr->data, x, (int64_t)B * n, 1e-4f, 1e-4f), "%s", name);
    double ld[2] = {lp->data[0] - pz->data[0], lp->data[1] - pz->data[1]};
    for (int b = 0; b < B; b++) {
        double num = numeric_logdet(c, flow_map, f, x, B, b, n);
        /* the composition's finite differences add up the layers' errors: 3e-2 */
        CHECK(fabs(num - ld[b]) < 3e-2 + 1e-3 * fabs(num), "%s example %d: log-det %g, numeric %g", what, b, ld[b], num);
    }
    free(x), free(z);
    genc_ctx_free(c);
}

/* ---------------------------------------------------------------- the LU 1×1 convolution */
typedef struct lu_u {
    genc_flow_layer *proto;
} lu_u;

/* in: x[2, C, 3, 3], lower, upper, log_s → Σ w·y + log-det (the log-det is part of the loss, so
 * its gradient in log_s is checked too) */
static genc_tensor *lu_fn(genc_ctx *c, genc_tensor **in, void *user) {
    lu_u *u = user;
    genc_flow_layer l = *u->proto;
    l.p0 = in[1], l.p1 = in[2], l.p2 = in[3];
    genc_flow f;
    memset(&f, 0, sizeof f);
    f.layers = &l;
    f.n_layers = 1;
    int B = in[0]->shape[0];
    genc_tensor *ld = genc_zeros(c, 1, &B), *z = NULL;
    genc_tensor *y = genc_flow_layer_forward(c, &f, 0, in[0], &ld, &z);
    return genc_add(c, tu_project(c, y, 5), genc_sum(c, ld));
}

static void check_invconv(void) {
    genc_flow_config cfg = small_cfg(GENC_FLOW_GLOW, 0, GENC_COUPLING_AFFINE);
    genc_flow f;
    CHECK(genc_flow_init(&f, &cfg, 3) == GENC_OK, "glow init: %s", genc_error());
    perturb(&f, 4);
    genc_flow_layer *l = NULL;
    for (int i = 0; i < f.n_layers && !l; i++)
        if (f.layers[i].kind == GENC_FL_INVCONV) l = &f.layers[i];
    int C = l->C;
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *W = genc_flow_invconv_matrix(c, l);
    double *A = malloc(sizeof(double) * (size_t)C * C), s = 0;
    for (int i = 0; i < C * C; i++) A[i] = W->data[i];
    for (int i = 0; i < C; i++) s += l->p2->data[i];
    double det = logabsdet(A, C);
    /* float assembly of a 4×4 product: 1e-5 */
    CHECK(fabs(det - s) < 1e-5 * (1 + fabs(s)), "invconv: Σ log_s %g, log|det W| %g", s, det);
    /* a fresh layer is a rotation: |det| = 1 */
    genc_flow g;
    genc_flow_init(&g, &cfg, 3);
    for (int i = 0; i < g.n_layers; i++)
        if (g.layers[i].kind == GENC_FL_INVCONV) {
            double t = 0;
            for (int k = 0; k < g.layers[i].C; k++) t += g.layers[i].p2->data[k];
            CHECK(fabs(t) < 1e-5, "invconv init: Σ log_s = %g, want 0 (orthogonal)", t);
        }
    genc_flow_free(&g);
    /* gradcheck of lower, upper, log_s and x (only the strict triangles of lower and upper
     * enter W: the others must get exactly zero, which finite differences also give) */
    genc_ctx_reset(c);
    int xs[4] = {2, C, 3, 3}, cc[2] = {C, C};
    genc_tensor *in[4] = {genc_new(c, 4, xs), genc_new(c, 2, cc), genc_new(c, 2, cc), genc_new(c, 1, &C)};
    memcpy(in[1]->data, l->p0->data, sizeof(float) * C * C);
    memcpy(in[2]->data, l->p1->data, sizeof(float) * C * C);
    memcpy(in[3]->data, l->p2->data, sizeof(float) * C);
    tu_randn(in[0]->data, in[0]->n, 9, 1.0f);
    for (int i = 0; i < 4; i++) in[i]->requires_grad = 1;
    lu_u u = {l};
    /* float loss differences at eps 1e-3 of O(10) sums: tolerance 2e-2 (the harness standard) */
    CHECK(tu_gradcheck_nonzero("invconv LU", lu_fn, &u, in, 4, 1e-3f, 2e-2f, 2e-2f, 1e-3f), "invconv LU gradcheck");
    free(A);
    genc_ctx_free(c);
    genc_flow_free(&f);
}

/* ActNorm on the first batch: zero mean, unit variance per channel, then not again. */
static void check_actnorm(void) {
    genc_flow_config cfg = small_cfg(GENC_FLOW_GLOW, 0, GENC_COUPLING_AFFINE);
    genc_flow f;
    genc_flow_init(&f, &cfg, 3);
    CHECK(f.actnorm_pending == 1, "a new glow waits for its ActNorm initialisation");
    genc_ctx *c = genc_ctx_new(0);
    int B = 16, sh[4] = {B, 1, 4, 4};
    genc_tensor *x = genc_new(c, 4, sh), *ld = genc_zeros(c, 1, &B), *z = NULL;
    tu_randn(x->data, x->n, 21, 3.0f);
    for (int64_t i = 0; i < x->n; i++) x->data[i] += 2.0f;
    genc_tensor *h = genc_flow_layer_forward(c, &f, 0, x, &ld, &z);   /* squeeze */
    CHECK(f.layers[1].kind == GENC_FL_ACTNORM, "layer 1 is an ActNorm");
    f.actnorm_pending = 1;
    h = genc_flow_layer_forward(c, &f, 1, h, &ld, &z);
    int C = h->shape[1], S = h->shape[2] * h->shape[3];
    for (int ch = 0; ch < C; ch++) {
        double s1 = 0, s2 = 0;
        for (int b = 0; b < B; b++)
            for (int k = 0; k < S; k++) s1 += h->data[((int64_t)b * C + ch) * S + k];
        double m = s1 / (B * S);
        for (int b = 0; b < B; b++)
            for (int k = 0; k < S; k++) s2 += pow(h->data[((int64_t)b * C + ch) * S + k] - m, 2);
        /* float sums of 64 values: 1e-5; the 1e-6 added to the std: 1e-5 relative */
        CHECK(fabs(m) < 1e-5 && fabs(s2 / (B * S) - 1) < 1e-4, "actnorm channel %d: mean %g, variance %g", ch, m, s2 / (B * S));
    }
    /* the whole flow's log_prob initialises once and clears the flag */
    f.actnorm_pending = 1;
    genc_ctx_reset(c);
    x = genc_new(c, 4, sh);
    tu_randn(x->data, x->n, 22, 1.0f);
    genc_flow_log_prob(c, &f, x, NULL);
    CHECK(f.actnorm_pending == 0, "log_prob clears the pending ActNorm initialisation");
    float b0 = f.layers[1].p0->data[0];
    for (int64_t i = 0; i < x->n; i++) x->data[i] = 5.0f * x->data[i] + 3.0f;
    genc_flow_log_prob(c, &f, x, NULL);
    CHECK(f.layers[1].p0->data[0] == b0, "a second batch does not initialise again");
    genc_ctx_free(c);
    genc_flow_free(&f);
    /* NICE's scaling: a new flow's couplings are the identity, so after the data-dependent
     * start every latent dimension has unit variance over the batch */
    cfg = small_cfg(GENC_FLOW_NICE, 0, GENC_COUPLING_ADDITIVE);
    genc_flow_init(&f, &cfg, 3);
    CHECK(f.actnorm_pending == 1, "a new NICE waits for its scaling's initialisation");
    c = genc_ctx_new(0);
    x = genc_new(c, 4, sh);
    tu_randn(x->data, x->n, 23, 1.0f);
    for (int64_t i = 0; i < x->n; i++) x->data[i] *= 0.01f + (float)(i % 16);   /* a different spread per pixel */
    float *zl = malloc(sizeof(float) * (size_t)x->n);
    genc_flow_log_prob(c, &f, x, zl);
    double worst = 0;
    for (int k = 0; k < 16; k++) {
        double s1 = 0, s2 = 0;
        for (int b = 0; b < B; b++) s1 += zl[b * 16 + k];
        for (int b = 0; b < B; b++) s2 += pow(zl[b * 16 + k] - s1 / B, 2);
        worst = fmax(worst, fabs(s2 / B - 1));
    }
    /* the 1e-6 added to a std of at least 0.01: 1e-4 relative */
    CHECK(worst < 1e-3, "nice scaling init: a latent variance is off 1 by %g", worst);
    free(zl);
    genc_ctx_free(c);
    genc_flow_free(&f);
}

/* Checkpoint configs are untrusted: every malformed one is refused with a message. */
static void check_config_json(void) {
    genc_flow_config cfg = small_cfg(GENC_FLOW_GLOW, 0, GENC_COUPLING_AFFINE), back;
    char *js = genc_flow_config_to_json(&cfg);
    CHECK(genc_flow_config_from_json(js, &back) == GENC_OK && back.depth == cfg.depth && back.levels == cfg.levels &&
              back.width == cfg.width && back.pre == cfg.pre && back.C == 1 && back.H == 4 && back.toy == -1,
          "config JSON round trip: %s", genc_error());
    free(js);
    const char *bad[] = {
        "", "[]", "{\"arch\":\"glow\"}", "{\"arch\":5,\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\"}",
        "{\"arch\":\"maf\",\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\",\"depth\":1,\"levels\":1,\"width\":8,\"hidden\":1}",
        "{\"arch\":\"glow\",\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\",\"depth\":1,\"levels\":7,\"width\":8,\"hidden\":1}",
        "{\"arch\":\"glow\",\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\",\"depth\":1,\"levels\":1,\"width\":1e30,\"hidden\":1}",
        "{\"arch\":\"glow\",\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\",\"depth\":1,\"levels\":1,\"width\":8,\"hidden\":1,\"toy\":\"nope\"}",
        "{\"arch\":\"glow\",\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\",\"depth\":1,\"levels\":3,\"width\":8,\"hidden\":1,\"height\":4,\"width_px\":4}",
        "{\"arch\":\"glow\",\"coupling\":\"affine\",\"prior\":\"gaussian\",\"pre\":\"none\",\"depth\":64,\"levels\":6,\"width\":4096,\"hidden\":1,\"channels\":16,\"height\":1024,\"width_px\":1024}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        genc_clear_error();
        CHECK(genc_flow_config_from_json(bad[i], &back) == GENC_ERR && genc_error()[0], "bad config %zu accepted: %s", i, bad[i]);
    }
}

int main(void) {
    check_config_json();
    struct {
        genc_flow_arch arch;
        int toy;
        genc_flow_coupling k;
        const char *what;
        int prior_net;   /* -1: the architecture's default */
    } cases[] = {
        {GENC_FLOW_NICE, 0, GENC_COUPLING_ADDITIVE, "nice additive (images)", -1},
        {GENC_FLOW_NICE, 1, GENC_COUPLING_AFFINE, "nice affine (2D)", -1},
        {GENC_FLOW_REALNVP, 0, GENC_COUPLING_AFFINE, "realnvp affine (images)", -1},
        {GENC_FLOW_REALNVP, 0, GENC_COUPLING_ADDITIVE, "realnvp additive (images)", -1},
        {GENC_FLOW_REALNVP, 1, GENC_COUPLING_AFFINE, "realnvp (2D)", -1},
        {GENC_FLOW_GLOW, 0, GENC_COUPLING_AFFINE, "glow (images, learned prior)", -1},
        {GENC_FLOW_GLOW, 0, GENC_COUPLING_AFFINE, "glow (images, no prior net)", GENC_PRIOR_NET_NONE},
        {GENC_FLOW_GLOW, 1, GENC_COUPLING_AFFINE, "glow (2D)", -1},
        {GENC_FLOW_GLOW, 1, GENC_COUPLING_AFFINE, "glow (2D, learned top)", GENC_PRIOR_NET_CONV},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        genc_flow_config cfg = small_cfg(cases[k].arch, cases[k].toy, cases[k].k);
        if (cases[k].prior_net >= 0) cfg.prior_net = (genc_flow_prior_net)cases[k].prior_net;
        genc_flow f;
        if (genc_flow_init(&f, &cfg, 1)) {
            CHECK(0, "%s: init: %s", cases[k].what, genc_error());
            continue;
        }
        CHECK(genc_flow_param_count(&cfg) == genc_params_count(&f.params), "%s: param count", cases[k].what);
        perturb(&f, 2 + k);
        check_layers(&f, cases[k].what);
        check_flow(&f, cases[k].what);
        genc_flow_free(&f);
    }
    check_invconv();
    check_actnorm();
    return tu_finish();
}
