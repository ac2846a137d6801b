/* Held-out likelihood of an AR model in bits per character. */
#include "genc/lm.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

/* A likelihood that overflowed (weights that are finite but huge) is a failure, not a number:
 * "nan bits per character" helps no one, and NaN is not JSON. */
static int finite_result(const genc_lm_eval_result *r) {
    if (isfinite(r->bpc)) return GENC_OK;
    return r->bytes ? genc_set_error("the model's log-likelihood is not finite (%g nats): its weights overflow", r->nats)
                    : genc_set_error("the evaluation text holds no bytes");
}

int genc_lm_eval_tokens(genc_lm *lm, const int32_t *tokens, int64_t n, int T, int batch,
                        genc_lm_eval_result *r) {
    double t0 = genc_time_s();
    if (n < 2) return genc_set_error("evaluation text is too short (%lld tokens)", (long long)n);
    if (T < 1) return genc_set_error("--seq must be positive");
    if (lm->model.cfg.pos == GENC_POS_LEARNED && T > lm->model.cfg.max_pos)
        return genc_set_error("--seq %d exceeds the learned position table (%d)", T, lm->model.cfg.max_pos);
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
    /* window k: inputs tokens[kT, kT+len), targets shifted by one; full windows go up to
     * `batch` at a time, the last, shorter one alone */
    for (int64_t s = 0; s < n - 1;) {
        int len = (int)(n - 1 - s < T ? n - 1 - s : T), nb = 0;
        do {
            for (int t = 0; t < len; t++) {
                x[nb * len + t] = tokens[s + t];
                y[nb * len + t] = tokens[s + t + 1];
            }
            nb++;
            s += len;
        } while (len == T && nb < batch && n - 1 - s >= T);
        genc_ctx_reset(c);
        genc_lm_progress(lm, s, n - 1);
        genc_tensor *logits = genc_transformer_forward(c, &lm->model, x, nb, len, NULL);
        genc_nll_rows(logits, y, nll);
        for (int i = 0; i < nb * len; i++) {
            nats += nll[i];
            ntok++;
            if (y[i] < 256) nbytes++;
        }
    }
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    free(x); free(y); free(nll);

    r->nats = nats;
    r->tokens = ntok;
    r->bytes = nbytes;
    r->bpc = nbytes ? nats / (log(2.0) * (double)nbytes) : NAN;
    r->seconds = genc_time_s() - t0;
    return finite_result(r);
}

int genc_lm_token_logprobs(genc_lm *lm, const int32_t *tokens, int64_t n, int T, float *logp) {
    if (genc_objective_is_diffusion(lm->train.objective))
        return genc_set_error("per-token log-probabilities need an autoregressive model (this one is %s: a diffusion "
                              "model gives an ELBO bound per window)", genc_objective_name(lm->train.objective));
    if (n < 2) return genc_set_error("the text is too short (%lld tokens with BOS)", (long long)n);
    if (T < 1) return genc_set_error("--seq must be positive");
    if (lm->model.cfg.pos == GENC_POS_LEARNED && T > lm->model.cfg.max_pos)
        return genc_set_error("--seq %d exceeds the learned position table (%d)", T, lm->model.cfg.max_pos);
    genc_ctx *c = genc_ctx_new(0);
    if (!c) return genc_set_error("out of memory");
    int prev = genc_no_grad(c);
    /* window k: inputs tokens[kT, kT+len), targets shifted by one, as in genc_lm_eval_tokens */
    for (int64_t s = 0; s < n - 1; s += T) {
        int len = (int)(n - 1 - s < T ? n - 1 - s : T);
        genc_ctx_reset(c);
        genc_tensor *logits = genc_transformer_forward(c, &lm->model, tokens + s, 1, len, NULL);
        genc_nll_rows(logits, tokens + s + 1, logp + s);
        for (int i = 0; i < len; i++) logp[s + i] = -logp[s + i];
    }
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    return GENC_OK;
}

/* Diffusion likelihood: non-overlapping windows of T tokens; each window's negative ELBO is
 * averaged over mc noise draws. Var(total) = Σ_windows Var_w / mc, with Var_w the sample
 * variance of that window's draws; with a single draw it cannot be estimated (NAN). */
int genc_lm_eval_elbo(genc_lm *lm, const int32_t *tokens, int64_t n, int T, int batch, int mc,
                      uint64_t seed, genc_lm_eval_result *r) {
    genc_lm_objective obj = lm->train.objective;
    if (!genc_objective_is_diffusion(obj)) {
        int rc = genc_lm_eval_tokens(lm, tokens, n, T, batch, r);
        r->bpc_stderr = 0;
        r->mc = 0;
        return rc;
    }
    double t0 = genc_time_s();
    if (mc < 1) return genc_set_error("--mc must be at least 1");
    if (batch > 4096) batch = 4096;
    if (T < 1 || n < T) return genc_set_error("evaluation text (%lld tokens) is shorter than --seq %d", (long long)n, T);
    if (obj == GENC_OBJ_BD3 && T % lm->train.block)
        return genc_set_error("--seq %d must be a multiple of the model's block size %d", T, lm->train.block);
    if (lm->model.cfg.pos == GENC_POS_LEARNED && T > lm->model.cfg.max_pos)
        return genc_set_error("--seq %d exceeds the learned position table (%d)", T, lm->model.cfg.max_pos);
    int64_t n_win = n / T; /* the tail shorter than T is left out (documented) */
    genc_ctx *c = genc_ctx_new(0);
    double *nel = malloc(sizeof(double) * (size_t)batch * mc);
    if (!c || !nel) { genc_ctx_free(c); free(nel); return genc_set_error("out of memory"); }
    genc_rng rng = genc_rng_make(seed, 0x656c626full); /* "elbo" */
    double total = 0, var = 0;
    int64_t bytes = 0;
    int prev = genc_no_grad(c);
    for (int64_t w0 = 0; w0 < n_win; w0 += batch) {
        int nb = (int)(n_win - w0 < batch ? n_win - w0 : batch);
        const int32_t *x0 = tokens + w0 * T;
        for (int s = 0; s < mc; s++) {
            genc_ctx_reset(c);
            double out[4096];
            switch (obj) {
            case GENC_OBJ_BD3: genc_bd3_nelbo(c, lm, x0, nb, T, &rng, out); break;
            case GENC_OBJ_SEDD_ABSORB:
            case GENC_OBJ_SEDD_UNIFORM: genc_sedd_nelbo(c, lm, x0, nb, T, &rng, out); break;
            default: genc_mdlm_nelbo(c, lm, x0, nb, T, &rng, out); break;
            }
            for (int b = 0; b < nb; b++) nel[b * mc + s] = out[b];
            genc_lm_progress(lm, w0 * mc + (int64_t)(s + 1) * nb, n_win * mc);
        }
        for (int b = 0; b < nb; b++) {
            double m = 0, v = 0;
            for (int s = 0; s < mc; s++) m += nel[b * mc + s];
            m /= mc;
            for (int s = 0; s < mc; s++) v += (nel[b * mc + s] - m) * (nel[b * mc + s] - m);
            total += m;
            if (mc > 1) var += v / (mc - 1) / mc;
            for (int t = 0; t < T; t++) bytes += x0[(size_t)b * T + t] < 256;
        }
    }
    genc_restore_grad(c, prev);
    genc_ctx_free(c);
    free(nel);

    r->nats = total;
    r->tokens = n_win * T;
    r->bytes = bytes;
    r->mc = mc;
    r->bpc = bytes ? total / (log(2.0) * (double)bytes) : NAN;
    r->bpc_stderr = bytes && mc > 1 ? sqrt(var) / (log(2.0) * (double)bytes) : NAN;
    r->seconds = genc_time_s() - t0;
    return finite_result(r);
}
