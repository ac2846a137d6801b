/* Parity with PyTorch (tests/parity/masked.py): the MDLM, LLaDA and BD3 losses and their
 * logit gradients on fixed logits, clean tokens, masks and levels; the per-window negative
 * ELBO terms; BD3's training mask; LLaDA's transfer schedule.
 *
 * Tolerances: the losses are sums of ≤ 48 weighted cross-entropies (weights ≤ 1/0.05) summed in
 * double on both sides: 1e-6 absolute + 1e-5 relative. Logit gradients are
 * w·(softmax − onehot)/(B·T), |g| ≤ ~0.3: 1e-7 absolute + 1e-4 relative (float exp in genc's
 * backward). The ELBO terms are float64 on both sides, stored as float32: 1e-5 relative.
 * Masks and schedules are integers: exact. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "models/lm/masked.h"

static genc_st_file F;

static float *get(const char *name, int64_t *n) { return tu_get(&F, name, n); }

static int32_t *get_ids(const char *name, int64_t *n) {
    int64_t m;
    float *d = get(name, &m);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)m);
    for (int64_t i = 0; i < m; i++) ids[i] = (int32_t)d[i];
    free(d);
    if (n) *n = m;
    return ids;
}

/* mdlm / llada: loss, gradient, nelbo terms */
static void check_loss(const char *name, genc_lm_objective obj) {
    char k[64];
    int64_t n, nt;
    int V = GENC_VOCAB;
    snprintf(k, sizeof k, "%s.logits", name);
    float *lg = get(k, &n);
    snprintf(k, sizeof k, "%s.x0", name);
    int32_t *x0 = get_ids(k, NULL);
    snprintf(k, sizeof k, "%s.xt", name);
    int32_t *xt = get_ids(k, NULL);
    snprintf(k, sizeof k, "%s.t", name);
    float *t = get(k, &nt);
    int R = (int)(n / V), B = (int)nt, T = R / B;
    float *w = malloc(sizeof(float) * R);
    for (int r = 0; r < R; r++) w[r] = xt[r] == GENC_TOK_MASK ? genc_mask_weight(obj, t[r / T]) : 0.f;

    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *L = genc_new2(c, R, V);
    memcpy(L->data, lg, sizeof(float) * n);
    L->requires_grad = 1;
    genc_tensor *loss = genc_subs_loss(c, L, x0, xt, w, (float)R);
    genc_backward(c, loss);
    char what[96];
    snprintf(k, sizeof k, "%s.loss", name);
    float *want = get(k, NULL);
    snprintf(what, sizeof what, "%s loss", name);
    tu_close(what, loss->data, want, 1, 1e-6f, 1e-5f);
    printf("%s loss %.7f (torch %.7f)\n", name, loss->data[0], want[0]);
    free(want);
    snprintf(k, sizeof k, "%s.grad", name);
    want = get(k, NULL);
    snprintf(what, sizeof what, "%s logit gradient", name);
    tu_close(what, L->grad, want, n, 1e-7f, 1e-4f);
    int zero = 1;
    for (int r = 0; r < R; r++) zero &= L->grad[(size_t)r * V + GENC_TOK_MASK] == 0.f;
    CHECK(zero, "%s: the MASK logit gets no gradient", name);
    free(want);

    /* negative ELBO of each window */
    double *nll = malloc(sizeof(double) * R), *scale = malloc(sizeof(double) * B), nel[8];
    float got[8];
    if (obj == GENC_OBJ_LLADA) {
        snprintf(k, sizeof k, "%s.xt_exact", name);
        int32_t *xe = get_ids(k, NULL);
        for (int b = 0; b < B; b++) {
            int l = 0;
            for (int i = 0; i < T; i++) l += xe[b * T + i] == GENC_TOK_MASK;
            scale[b] = (double)T / l;
        }
        genc_subs_nll_rows(lg, R, V, x0, xe, nll);
        genc_masked_nelbo_sum(nll, xe, scale, B, T, T, 0.0, nel);
        free(xe);
    } else {
        for (int b = 0; b < B; b++) scale[b] = 1.0 / t[b];
        genc_subs_nll_rows(lg, R, V, x0, xt, nll);
        genc_masked_nelbo_sum(nll, xt, scale, B, T, T, T * genc_mdlm_prior_nats(V), nel);
    }
    for (int b = 0; b < B; b++) got[b] = (float)nel[b];
    snprintf(k, sizeof k, "%s.nelbo", name);
    want = get(k, NULL);
    snprintf(what, sizeof what, "%s negative ELBO per window", name);
    tu_close(what, got, want, B, 0.f, 1e-5f);
    free(want);
    free(nll); free(scale);
    genc_ctx_free(c);
    free(lg); free(x0); free(xt); free(t); free(w);
}

static void check_bd3_loss(void) {
    int64_t n, nt;
    int V = GENC_VOCAB, blk = 4;
    float *lg = get("bd3.logits", &n), *t = get("bd3.t", &nt);
    int32_t *x0 = get_ids("bd3.x0", NULL), *xt = get_ids("bd3.xt", NULL);
    int R = (int)(n / V);
    /* t is [B, L/blk]: group g = row / blk */
    float *w = malloc(sizeof(float) * R);
    for (int r = 0; r < R; r++) w[r] = xt[r] == GENC_TOK_MASK ? genc_mask_weight(GENC_OBJ_BD3, t[r / blk]) : 0.f;
    genc_ctx *c = genc_ctx_new(0);
    genc_tensor *L = genc_new2(c, R, V);
    memcpy(L->data, lg, sizeof(float) * n);
    L->requires_grad = 1;
    genc_tensor *loss = genc_subs_loss(c, L, x0, xt, w, (float)R);
    genc_backward(c, loss);
    float *want = get("bd3.loss", NULL);
    tu_close("bd3 loss (one level per block)", loss->data, want, 1, 1e-6f, 1e-5f);
    printf("bd3 loss %.7f (torch %.7f)\n", loss->data[0], want[0]);
    free(want);
    want = get("bd3.grad", NULL);
    tu_close("bd3 logit gradient", L->grad, want, n, 1e-7f, 1e-4f);
    free(want);
    genc_ctx_free(c);
    free(lg); free(t); free(x0); free(xt); free(w);
}

static void check_bd3_masks(void) {
    int cases[][2] = {{12, 4}, {12, 3}, {12, 1}, {12, 12}, {8, 2}};
    for (int i = 0; i < 5; i++) {
        int L = cases[i][0], blk = cases[i][1];
        char k[64];
        snprintf(k, sizeof k, "bd3mask.%d.%d", L, blk);
        int64_t n;
        float *want = get(k, &n);
        uint8_t *m = malloc((size_t)4 * L * L);
        genc_bd3_train_mask(L, blk, m);
        int same = n == 4 * L * L;
        for (int64_t j = 0; same && j < n; j++) same = m[j] == (uint8_t)want[j];
        CHECK(same, "bd3 training mask L=%d block=%d equals BD3-LM's construction", L, blk);
        free(m);
        free(want);
    }
}

static void check_transfer(void) {
    int cases[][2] = {{32, 32}, {32, 8}, {10, 4}, {7, 3}, {5, 5}, {64, 7}};
    for (int i = 0; i < 6; i++) {
        int M = cases[i][0], s = cases[i][1], k[64];
        char key[64];
        snprintf(key, sizeof key, "transfer.%d.%d", M, s);
        float *want = get(key, NULL);
        genc_num_transfer(M, s, k);
        int same = 1, sum = 0;
        for (int j = 0; j < s; j++) {
            same &= k[j] == (int)want[j];
            sum += k[j];
        }
        CHECK(same && sum == M, "transfer schedule M=%d steps=%d matches get_num_transfer_tokens (sum %d)", M, s, sum);
        free(want);
    }
}

int main(void) {
    if (tu_fixture("masked.py", "masked_fixture.safetensors", &F)) return tu_finish();
    check_loss("mdlm", GENC_OBJ_MDLM);
    check_loss("llada", GENC_OBJ_LLADA);
    check_bd3_loss();
    check_bd3_masks();
    check_transfer();
    genc_st_free(&F);
    return tu_finish();
}
