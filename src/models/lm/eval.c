/* Held-out likelihood of an AR model in bits per character. */
#include "genc/lm.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

int genc_lm_eval_tokens(genc_lm *lm, const int32_t *tokens, int64_t n, int T, int batch,
                        genc_lm_eval_result *r) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (n < 2) return genc_set_error("evaluation text is too short (%lld tokens)", (long long)n);
    if (T < 1) return genc_set_error("--seq must be positive");
    if (lm->model.cfg.pos == GENC_POS_LEARNED && T > lm->model.cfg.max_pos)
        return genc_set_error("--seq %d exceeds the learned position table (%d)", T, lm->model.cfg.max_pos);
    /* windows: inputs tokens[s, s+len), targets tokens[s+1, s+len+1), s = 0, T, 2T, ... */
    int64_t n_win = (n - 1 + T - 1) / T;
    genc_ctx *c = genc_ctx_new(0);
    int32_t *x = malloc(sizeof(int32_t) * (size_t)batch * T), *y = malloc(sizeof(int32_t) * (size_t)batch * T);
    float *nll = malloc(sizeof(float) * (size_t)batch * T);
    if (!c || !x || !y || !nll) {
        genc_ctx_free(c); free(x); free(y); free(nll);
        return genc_set_error("out of memory");
    }
    double nats = 0;
    int64_t ntok = 0, nbytes = 0;
    int prev = genc_no_grad(c);
    for (int64_t w0 = 0; w0 < n_win; w0 += batch) {
        /* full windows go in batches; the last, shorter window runs alone */
        int nb = 0, len = T;
        for (int b = 0; b < batch && w0 + b < n_win; b++) {
            int64_t s = (w0 + b) * T;
            int l = (int)((n - 1 - s) < T ? (n - 1 - s) : T);
            if (l < T) {
                if (nb > 0) break; /* evaluate the full ones first */
                len = l;
            }
            for (int t = 0; t < len; t++) {
                x[b * len + t] = tokens[s + t];
                y[b * len + t] = tokens[s + t + 1];
            }
            nb++;
            if (len < T) break;
        }
        genc_ctx_reset(c);
        genc_tensor *logits = genc_transformer_forward(c, &lm->model, x, nb, len, NULL);
        genc_nll_rows(logits, y, nll);
        for (int i = 0; i < nb * len; i++) {
            nats += nll[i];
            ntok++;
            if (y[i] < 256) nbytes++;
        }
        w0 -= batch - nb; /* windows not taken this round come next */
    }
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    free(x); free(y); free(nll);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    r->nats = nats;
    r->tokens = ntok;
    r->bytes = nbytes;
    r->bpc = nbytes ? nats / (log(2.0) * (double)nbytes) : NAN;
    r->seconds = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
    return GENC_OK;
}
