/* The contrastive losses against PyTorch (tests/parity/contrastive.py, float64 reference):
 * loss and the gradients of the raw embeddings (through the L2 normalisation), of CLIP's
 * log-scale and of SigLIP's t and b; SigLIP chunked at sizes that divide B (5), do not (3)
 * and exceed it (64). Then the chunked op against the direct (B×B) form on a larger batch
 * with chunk sizes 1, 7, 16, B, and a finite-difference check of the op alone; the clamp of
 * CLIP's scale.
 * Tolerances: float32 arithmetic over E = 8 and B ≤ 37 terms, against float64: 2e-5 relative
 * (about 100 ulps) on the loss and gradients, 1e-6 absolute for gradients near 0. The chunked
 * and direct forms sum the same terms in another order: the same bound. */
#include "genc/contrastive.h"
#include "testutil.h"

#include <math.h>

static genc_tensor *scalar(genc_ctx *c, float v) {
    genc_tensor *t = genc_new1(c, 1);
    t->data[0] = v;
    t->requires_grad = 1;
    return t;
}

static void parity(genc_ctx *c, const genc_st_file *f) {
    const float eps = 1e-12f;
    /* CLIP */
    genc_tensor *u = tu_load(c, f, "u", 1), *v = tu_load(c, f, "v", 1), *s = tu_load(c, f, "clip.s", 1);
    genc_tensor *L = genc_clip_loss(c, genc_l2_normalize(c, u, eps), genc_l2_normalize(c, v, eps), s);
    genc_backward(c, L);
    tu_expect(f, "clip.loss", L, L->data, 1e-6f, 2e-5f);
    tu_expect(f, "clip.du", u, u->grad, 1e-6f, 2e-5f);
    tu_expect(f, "clip.dv", v, v->grad, 1e-6f, 2e-5f);
    tu_expect(f, "clip.ds", s, s->grad, 1e-6f, 2e-5f);
    genc_ctx_reset(c);
    /* SigLIP: two parameter settings, three chunk sizes and the direct form */
    const char *cases[2] = {"siglip_init.", "siglip_mid."};
    const int chunks[4] = {5, 3, 64, 0};
    for (int k = 0; k < 2; k++)
        for (int q = 0; q < 4; q++) {
            char n[64];
#define NAME(x) (snprintf(n, sizeof n, "%s%s", cases[k], x), n)
            u = tu_load(c, f, "u", 1);
            v = tu_load(c, f, "v", 1);
            genc_tensor *t = tu_load(c, f, NAME("t"), 1), *b = tu_load(c, f, NAME("b"), 1);
            genc_tensor *x = genc_l2_normalize(c, u, eps), *y = genc_l2_normalize(c, v, eps);
            L = chunks[q] ? genc_siglip_loss(c, x, y, t, b, chunks[q]) : genc_siglip_loss_direct(c, x, y, t, b);
            genc_backward(c, L);
            fprintf(stderr, "%s chunk %d: loss %.6f\n", cases[k], chunks[q], L->data[0]);
            tu_expect(f, NAME("loss"), L, L->data, 1e-6f, 2e-5f);
            tu_expect(f, NAME("du"), u, u->grad, 1e-6f, 2e-5f);
            tu_expect(f, NAME("dv"), v, v->grad, 1e-6f, 2e-5f);
            tu_expect(f, NAME("dt"), t, t->grad, 1e-6f, 2e-5f);
            tu_expect(f, NAME("db"), b, b->grad, 1e-6f, 2e-5f);
            genc_ctx_reset(c);
        }
}

/* chunked vs direct on B = 37 random unit rows */
static void chunked_equals_direct(genc_ctx *c) {
    enum { B = 37, E = 12 };
    const int chunks[4] = {1, 7, 16, B};
    float ref[2 * B * E + 2], refl = 0;
    for (int q = -1; q < 4; q++) {
        genc_tensor *u = TU_RND(c, 3, B, E), *v = TU_RND(c, 4, B, E);
        genc_tensor *t = scalar(c, 1.7f), *b = scalar(c, -2.5f);
        genc_tensor *x = genc_l2_normalize(c, u, 1e-12f), *y = genc_l2_normalize(c, v, 1e-12f);
        genc_tensor *L = q < 0 ? genc_siglip_loss_direct(c, x, y, t, b) : genc_siglip_loss(c, x, y, t, b, chunks[q]);
        genc_backward(c, L);
        float got[2 * B * E + 2];
        for (int i = 0; i < B * E; i++) got[i] = u->grad[i], got[B * E + i] = v->grad[i];
        got[2 * B * E] = t->grad[0];
        got[2 * B * E + 1] = b->grad[0];
        if (q < 0) {
            refl = L->data[0];
            for (int i = 0; i < 2 * B * E + 2; i++) ref[i] = got[i];
        } else {
            char what[64];
            snprintf(what, sizeof what, "chunk %d loss", chunks[q]);
            tu_close(what, L->data, &refl, 1, 1e-6f, 2e-5f);
            snprintf(what, sizeof what, "chunk %d gradients", chunks[q]);
            CHECK(tu_close(what, got, ref, 2 * B * E + 2, 1e-6f, 2e-5f), "%s", what);
        }
        genc_ctx_reset(c);
    }
}

static genc_tensor *siglip_fn(genc_ctx *c, genc_tensor **in, void *user) {
    return genc_siglip_loss(c, in[0], in[1], in[2], in[3], *(int *)user);
}

int main(void) {
    genc_ctx *c = genc_ctx_new(0);
    genc_st_file f;
    if (tu_fixture("contrastive.py", "contrastive_fixture.safetensors", &f) == GENC_OK) {
        parity(c, &f);
        genc_st_free(&f);
    }
    chunked_equals_direct(c);
    /* the op alone (unnormalised inputs, so no cancellation through the norm): central
     * differences with eps 1e-2 in float, tolerance 2e-3 absolute / 2e-2 relative, the usual
     * float gradcheck bound in tests/ */
    int chunk = 2;
    genc_tensor *in[4] = {TU_RND(c, 5, 5, 3), TU_RND(c, 6, 5, 3), scalar(c, 0.3f), scalar(c, -0.7f)};
    CHECK(tu_gradcheck_nonzero("siglip chunk 2 of 5", siglip_fn, &chunk, in, 4, 1e-2f, 2e-3f, 2e-2f, 1e-3f), "gradcheck");
    genc_ctx_reset(c);
    /* CLIP's scale is clamped to [0, ln 100] */
    genc_tensor *s = scalar(c, 7.0f);
    genc_clip_clamp_scale(s);
    CHECK(fabsf(s->data[0] - logf(100)) < 1e-6f, "clamped to %g", s->data[0]);
    s->data[0] = -1;
    genc_clip_clamp_scale(s);
    CHECK(s->data[0] == 0, "clamped to %g", s->data[0]);
    s->data[0] = GENC_CLIP_SCALE_INIT;
    genc_clip_clamp_scale(s);
    CHECK(fabsf(s->data[0] - logf(1 / 0.07f)) < 1e-6f, "init ln(1/0.07) untouched: %g", s->data[0]);
    genc_ctx_free(c);
    return tu_finish();
}
