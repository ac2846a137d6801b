/* Parity with PyTorch (tests/parity/attention.py): fused attention forward and gradients for
 * causal, KV-cache, padding, block-causal, boolean mask (with an empty row), ALiBi, T5
 * (bidirectional and causal) and a custom scale; RoPE in both conventions with gradients;
 * ALiBi slopes for 8, 12 and 6 heads; T5 buckets over rel ∈ [−300, 300].
 * The reference is float64; tolerances cover float32 accumulation. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static float *get(const genc_st_file *f, const char *pre, const char *name, int64_t *n) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", pre, name);
    return tu_get(f, key, n);
}

static uint8_t *get_u8(const genc_st_file *f, const char *pre, const char *name) {
    int64_t n;
    float *x = get(f, pre, name, &n);
    uint8_t *m = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) m[i] = x[i] != 0.f;
    free(x);
    return m;
}

static void shape_of(const genc_st_file *f, const char *pre, const char *name, int *shape) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", pre, name);
    const genc_st_tensor *t = genc_st_find(f, key);
    GENC_ASSERT(t && t->ndim == 4, "fixture %s is not 4-d", key);
    for (int i = 0; i < 4; i++) shape[i] = (int)t->shape[i];
}

static void attention_case(const genc_st_file *f, const char *pre) {
    int64_t n;
    float *opts = get(f, pre, "opts", &n);
    int qs[4], ks[4];
    shape_of(f, pre, "q", qs);
    shape_of(f, pre, "k", ks);
    genc_ctx *c = genc_ctx_new(0);
    genc_attn_opts o = {0};
    o.causal = (int)opts[0];
    o.block = (int)opts[1];
    o.q_offset = (int)opts[2];
    o.scale = opts[7];
    uint8_t *mask = opts[3] != 0 ? get_u8(f, pre, "mask") : NULL;
    uint8_t *pad = opts[4] != 0 ? get_u8(f, pre, "pad") : NULL;
    float *slopes = opts[5] != 0 ? get(f, pre, "slopes", NULL) : NULL;
    o.mask = mask;
    o.key_pad = pad;
    o.alibi_slopes = slopes;
    genc_tensor *t5 = NULL;
    if (opts[6] != 0) {
        t5 = genc_new2(c, 32, qs[2]);
        float *tab = get(f, pre, "t5", NULL);
        memcpy(t5->data, tab, t5->n * sizeof(float));
        free(tab);
        t5->requires_grad = 1;
        o.t5_table = t5;
        o.t5_bidirectional = opts[6] == 1;
        o.t5_max_distance = 128;
    }
    genc_tensor *q = genc_new(c, 4, qs), *k = genc_new(c, 4, ks), *v = genc_new(c, 4, ks), *g = genc_new(c, 4, qs);
    float *x;
    x = get(f, pre, "q", NULL); memcpy(q->data, x, q->n * sizeof(float)); free(x);
    x = get(f, pre, "k", NULL); memcpy(k->data, x, k->n * sizeof(float)); free(x);
    x = get(f, pre, "v", NULL); memcpy(v->data, x, v->n * sizeof(float)); free(x);
    x = get(f, pre, "g", NULL); memcpy(g->data, x, g->n * sizeof(float)); free(x);
    q->requires_grad = k->requires_grad = v->requires_grad = 1;

    genc_tensor *out = genc_attention(c, q, k, v, &o);
    genc_backward(c, genc_sum(c, genc_mul(c, out, g)));
    char what[128];
    const char *names[4] = {"out", "dq", "dk", "dv"};
    const float *got[4] = {out->data, q->grad, k->grad, v->grad};
    for (int i = 0; i < 4; i++) {
        float *want = get(f, pre, names[i], &n);
        snprintf(what, sizeof what, "parity attention %s %s", pre, names[i]);
        tu_close(what, got[i], want, n, 3e-5f, 3e-4f);
        free(want);
    }
    if (t5) {
        float *want = get(f, pre, "dt5", &n);
        snprintf(what, sizeof what, "parity attention %s dt5", pre);
        tu_close(what, t5->grad, want, n, 2e-4f, 3e-4f);
        free(want);
    }
    free(opts); free(mask); free(pad); free(slopes);
    genc_ctx_free(c);
}

static void rope_parity(const genc_st_file *f) {
    int64_t n;
    float *x = tu_get(f, "rope.x", &n), *g = tu_get(f, "rope.g", NULL);
    float *cs = tu_get(f, "rope.cos", NULL), *sn = tu_get(f, "rope.sin", NULL);
    const genc_st_tensor *t = genc_st_find(f, "rope.x");
    int shape[4] = {(int)t->shape[0], (int)t->shape[1], (int)t->shape[2], (int)t->shape[3]};
    for (int il = 0; il <= 1; il++) {
        genc_ctx *c = genc_ctx_new(0);
        genc_tensor *xt = genc_new(c, 4, shape), *gt = genc_wrap(c, g, 4, shape);
        memcpy(xt->data, x, n * sizeof(float));
        xt->requires_grad = 1;
        genc_tensor *y = genc_rope(c, xt, cs, sn, il);
        genc_backward(c, genc_sum(c, genc_mul(c, y, gt)));
        const char *conv = il ? "interleaved" : "half";
        char key[64], what[96];
        snprintf(key, sizeof key, "rope.%s.y", conv);
        float *want = tu_get(f, key, NULL);
        snprintf(what, sizeof what, "parity rope %s forward", conv);
        tu_close(what, y->data, want, n, 1e-6f, 1e-5f);
        free(want);
        snprintf(key, sizeof key, "rope.%s.dx", conv);
        want = tu_get(f, key, NULL);
        snprintf(what, sizeof what, "parity rope %s dx", conv);
        tu_close(what, xt->grad, want, n, 1e-6f, 1e-5f);
        free(want);
        genc_ctx_free(c);
    }
    free(x); free(g); free(cs); free(sn);
}

static void alibi_t5_parity(const genc_st_file *f) {
    const int heads[3] = {8, 12, 6};
    for (int i = 0; i < 3; i++) {
        char key[32], what[64];
        snprintf(key, sizeof key, "alibi.%d", heads[i]);
        float *want = tu_get(f, key, NULL), got[16];
        genc_alibi_slopes(heads[i], got);
        snprintf(what, sizeof what, "parity alibi slopes n=%d", heads[i]);
        tu_close(what, got, want, heads[i], 0.f, 1e-6f);
        free(want);
    }
    int64_t n;
    float *rel = tu_get(f, "t5.rel", &n);
    for (int bidir = 0; bidir <= 1; bidir++) {
        float *want = tu_get(f, bidir ? "t5.bidirectional" : "t5.causal", NULL);
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            int b = genc_t5_bucket((int)rel[i], bidir, 32, 128);
            if (b != (int)want[i]) {
                if (!bad) fprintf(stderr, "  t5 rel %d: got %d want %d\n", (int)rel[i], b, (int)want[i]);
                bad++;
            }
        }
        CHECK(!bad, "parity t5 buckets %s: %d mismatches of %lld", bidir ? "bidirectional" : "causal", bad,
              (long long)n);
        free(want);
    }
    free(rel);
}

int main(void) {
    genc_st_file f;
    if (tu_fixture("attention.py", "attention_fixture.safetensors", &f) != GENC_OK) return tu_finish();
    const char *cases[] = {"causal", "causal_long", "kvcache", "bidir_pad", "block",
                           "mask", "alibi", "t5_bidir", "t5_causal", "scale"};
    int64_t n;
    float *nc = tu_get(&f, "cases", &n);
    CHECK((int)nc[0] == (int)(sizeof cases / sizeof cases[0]), "fixture has %d attention cases", (int)nc[0]);
    free(nc);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) attention_case(&f, cases[i]);
    rope_parity(&f);
    alibi_t5_parity(&f);
    genc_st_free(&f);
    return tu_finish();
}
