/* The language-model training loop: batches from the corpus, loss, backward, clip, AdamW,
 * metrics, periodic atomic checkpoints, exact resume. */
#include "genc/lm.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

genc_tensor *genc_lm_loss(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T,
                          genc_rng *r) {
    switch (lm->train.objective) {
    case GENC_OBJ_MDLM:
    case GENC_OBJ_LLADA: return genc_mdlm_loss(c, lm, x, B, T, r);
    case GENC_OBJ_BD3: return genc_bd3_loss(c, lm, x, B, T, r);
    case GENC_OBJ_SEDD_ABSORB:
    case GENC_OBJ_SEDD_UNIFORM: return genc_sedd_loss(c, lm, x, B, T, r);
    default: break;
    }
    /* AR: mean over the B·T positions of −log p(y_t | x_≤t) */
    genc_tensor *logits = genc_transformer_forward(c, &lm->model, x, B, T, NULL);
    return genc_cross_entropy(c, logits, y, -1, 0.f, NULL, 0.f);
}

static void say(const genc_lm_run_opts *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const genc_lm_run_opts *run, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (run->message) run->message(buf, run->user);
}

float genc_lm_step(genc_ctx *c, genc_lm *lm, const int32_t *x, const int32_t *y, int B, int T, float lr,
                   float clip, genc_rng *noise, float *grad_norm) {
    genc_ctx_reset(c);
    c->rng = lm->drop_rng;
    genc_tensor *loss = genc_lm_loss(c, lm, x, y, B, T, noise);
    float lv = loss->data[0];
    if (!isfinite(lv)) return lv;
    genc_backward(c, loss);
    float gn = genc_clip_grad_norm(&lm->model.params, clip);
    if (grad_norm) *grad_norm = gn;
    genc_adamw_step(&lm->opt, lr);
    genc_params_zero_grad(&lm->model.params);
    lm->drop_rng = c->rng;
    return lv;
}

/* DIR/loss.png: the training loss (in bits per token) against the step, from metrics.csv, so a
 * resumed run shows its whole history. A plot that cannot be drawn is not an error. */
static void plot_loss(const char *dir, const char *objective) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    int cap = 1024, n = 0;
    double *x = malloc(sizeof(double) * (size_t)cap), *y = malloc(sizeof(double) * (size_t)cap);
    char line[512];
    while (x && y && fgets(line, sizeof line, f)) {
        double st, l;
        if (sscanf(line, "%lf,%lf", &st, &l) != 2) continue; /* the header */
        if (n == cap) {
            cap *= 2;
            double *nx = realloc(x, sizeof(double) * (size_t)cap), *ny = realloc(y, sizeof(double) * (size_t)cap);
            if (!nx || !ny) { free(nx ? nx : x); free(ny ? ny : y); x = y = NULL; break; }
            x = nx;
            y = ny;
        }
        x[n] = st;
        y[n++] = l / log(2.0);
    }
    fclose(f);
    if (x && y && n >= 2) {
        char title[128];
        snprintf(title, sizeof title, "training loss (%s), bits per token", objective);
        const double *ys[1] = {y};
        const char *labels[1] = {"loss"};
        snprintf(path, sizeof path, "%s/loss.png", dir);
        genc_png_plot(path, title, x, ys, labels, 1, n, 640, 400);
    }
    free(x);
    free(y);
}

int genc_lm_train(const genc_tf_config *cfg, const genc_lm_train_cfg *tc, const genc_lm_run_opts *run) {
    genc_lm lm;
    char path[4096];
    int rc = GENC_ERR;
    genc_corpus corpus = {0};
    genc_ctx *c = NULL;
    genc_csv csv = {0};
    int32_t *x = NULL, *y = NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", run->out_dir);

    if (run->resume) {
        if (genc_lm_load(path, &lm, 1) != GENC_OK) return genc_wrap_error("--resume");
        if (tc && tc->steps > 0) lm.train.steps = tc->steps;
        say(run, "resuming %s at step %lld of %lld", path, (long long)lm.step, (long long)lm.train.steps);
    } else {
        memset(&lm, 0, sizeof lm);
        if (genc_lm_train_cfg_validate(tc)) return GENC_ERR;
        genc_tf_config mc = *cfg;
        /* diffusion objectives see the whole (noised) window; SEDD conditions on the noise level */
        mc.causal = !genc_objective_is_diffusion(tc->objective);
        mc.cond = tc->objective == GENC_OBJ_SEDD_ABSORB || tc->objective == GENC_OBJ_SEDD_UNIFORM ? GENC_COND_ADD : GENC_COND_NONE;
        if (mc.rope.trained_len <= 0 || mc.rope.scaling == GENC_ROPE_SCALE_NONE) mc.rope.trained_len = tc->seq;
        if (mc.pos == GENC_POS_LEARNED && mc.max_pos < tc->seq)
            return genc_set_error("learned positions: table of %d is shorter than --seq %d", mc.max_pos, tc->seq);
        if (genc_lm_model_init(&lm, &mc, tc->seed)) return GENC_ERR;
        lm.train = *tc;
        if (genc_adamw_init(&lm.opt, &lm.model.params, tc->beta1, tc->beta2, tc->eps, tc->weight_decay)) goto done;
        lm.has_opt = 1;
        lm.data_rng = genc_rng_make(tc->seed, 1);
        lm.drop_rng = genc_rng_make(tc->seed, 2);
        lm.noise_rng = genc_rng_make(tc->seed, 3);
    }
    const genc_lm_train_cfg *t = &lm.train;
    int B = t->batch, T = t->seq;
    const char *data = t->data[0] ? t->data : GENC_DEFAULT_CORPUS;
    if (genc_corpus_load(data, GENC_SPLIT_TRAIN, (int64_t)T + 2, &corpus)) goto done;
    if (genc_mkdirs(run->out_dir)) goto done;
    say(run, "model: %lld parameters, %d layers, dim %d, %d heads, pos %s; data: %s (%lld train tokens)",
        (long long)genc_params_count(&lm.model.params), lm.model.cfg.layers, lm.model.cfg.dim,
        lm.model.cfg.heads, genc_pos_name(lm.model.cfg.pos), data, (long long)corpus.n_tokens);

    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/metrics.csv", run->out_dir);
    static const char *cols[] = {"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"};
    if (genc_csv_open(&csv, mpath, cols, 6, run->resume)) goto done;

    c = genc_ctx_new(0);
    x = malloc(sizeof(int32_t) * (size_t)B * T);
    y = malloc(sizeof(int32_t) * (size_t)B * T);
    if (!c || !x || !y) { genc_set_error("out of memory"); goto done; }
    c->training = 1;

    genc_lr_schedule sched = {t->schedule, t->lr, t->min_lr, t->warmup, t->steps};
    double t0 = genc_time_s(), last = t0, budget = run->minutes > 0 ? run->minutes * 60.0 : 0;
    int64_t start_step = lm.step;
    int fixed_total = !(budget > 0) || run->resume;
    double loss_ema = 0, t10 = 0;
    while (lm.step < lm.train.steps) {
        genc_corpus_batch(&corpus, &lm.data_rng, B, T, x, y);
        float gn = 0, lr = genc_lr_at(&sched, lm.step);
        float lv = genc_lm_step(c, &lm, x, y, B, T, lr, t->clip, &lm.noise_rng, &gn);
        if (!isfinite(lv)) {
            genc_set_error("loss became %g at step %lld; lower --lr or raise --warmup", lv, (long long)lm.step);
            goto done;
        }
        lm.step++;
        loss_ema = lm.step - start_step == 1 ? lv : 0.95 * loss_ema + 0.05 * lv;

        double now = genc_time_s(), el = now - t0;
        /* Time budget: once the speed is known, fix the schedule's length so cosine ends on time. */
        /* (speed measured from step 10 on: the first steps pay for page faults) */
        if (lm.step - start_step == 10) { t10 = el; }
        if (!fixed_total && (lm.step - start_step >= 40 || el > 15)) {
            int64_t done_steps = lm.step - start_step;
            double per = done_steps > 10 ? (el - t10) / (double)(done_steps - 10) : el / (double)done_steps;
            int64_t total = lm.step + (int64_t)((budget - el - 1.0) / per);
            if (total < lm.step + 1) total = lm.step + 1;
            if (total < lm.train.steps) lm.train.steps = total;
            if (lm.train.warmup > lm.train.steps / 5) lm.train.warmup = lm.train.steps / 5;
            sched.total = lm.train.steps;
            sched.warmup = lm.train.warmup;
            fixed_total = 1;
        }
        double tps = (double)(lm.step - start_step) * B * T / (el > 0 ? el : 1e-9);
        if (lm.step % 10 == 0 || lm.step == lm.train.steps) {
            double row[6] = {(double)lm.step, lv, lr, gn, tps, el};
            genc_csv_row(&csv, row);
        }
        if (run->progress && (now - last > 0.2 || lm.step == lm.train.steps)) {
            last = now;
            genc_lm_progress p = {lm.step, fixed_total ? lm.train.steps : 0, (float)loss_ema, lr, gn, tps, el,
                                  (double)(lm.train.steps - lm.step) * el / (double)(lm.step - start_step)};
            run->progress(&p, run->user);
        }
        int stop = (run->stop_at > 0 && lm.step >= run->stop_at) || (budget > 0 && el >= budget);
        if ((run->save_every > 0 && lm.step % run->save_every == 0) || stop || lm.step == lm.train.steps)
            if (genc_lm_save(path, &lm)) goto done;
        if (stop) break;
    }
    genc_csv_close(&csv);
    plot_loss(run->out_dir, genc_objective_name(lm.train.objective));
    say(run, "saved %s at step %lld (loss %.4f, %.1f s); loss curve in %s/loss.png", path, (long long)lm.step,
        loss_ema, genc_time_s() - t0, run->out_dir);
    rc = GENC_OK;
done:
    genc_csv_close(&csv);
    free(x);
    free(y);
    genc_ctx_free(c);
    genc_corpus_free(&corpus);
    genc_lm_free(&lm);
    return rc;
}
