/* CapFilt (Li et al. 2022 §3.3) on a training set with a known fraction of wrong captions:
 * train BLIP on it, caption every image (nucleus sampling), filter the original and the
 * synthetic pairs with ITM, then train two CLIP models, on the noisy and on the cleaned set,
 * and compare their zero-shot accuracy. Each run is an ordinary checkpoint folder. */
#include "genc/blip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 100 }; /* images per captioning / filtering call */

void genc_capfilt_opts_default(genc_capfilt_opts *o) {
    memset(o, 0, sizeof *o);
    o->images = 10000;
    o->corrupt = 0.3;
    genc_blip_config_default(&o->blip);
    o->blip.clip.dim = 48;
    o->blip.clip.heads = 4;
    o->blip.clip.embed = 48;
    o->blip.clip.patch = 7;
    genc_blip_train_cfg_default(&o->blip_train);
    o->blip_train.steps = 800;
    o->blip_train.warmup = 10;
    o->blip_train.lr = 3e-3f; /* small models, short runs: as the CLIP learning test */
    o->blip_train.min_lr = 3e-4f;
    genc_clip_config_default(&o->clip);
    o->clip.dim = 32;
    o->clip.heads = 2;
    o->clip.embed = 32;
    o->clip.patch = 7;
    o->clip.image_layers = o->clip.text_layers = 1;
    genc_clip_train_cfg_default(&o->clip_train);
    o->clip_train.batch = 32;
    o->clip_train.steps = 400;
    o->clip_train.warmup = 10;
    o->clip_train.lr = 3e-3f;
    o->clip_train.min_lr = 3e-4f;
    /* ITM trains on one positive per two negatives, so its p(matched) carries prior odds 1:2;
     * "more likely matched than not" at even odds is p/(1 − p) > 1/2, p > 1/3 */
    o->threshold = 1.f / 3.f;
    o->caption = (genc_caption_opts){0, 0.9f, 1};
    o->test_images = 10000;
}

static genc_run_opts run_in(const genc_capfilt_opts *o, char *dir, size_t cap, const char *sub, double share) {
    snprintf(dir, cap, "%s/%s", o->out_dir, sub);
    genc_run_opts run = {0};
    run.out_dir = dir;
    run.force = 1;
    run.minutes = o->minutes > 0 ? o->minutes * share : 0;
    run.progress = o->progress;
    run.message = o->message;
    run.user = o->user;
    return run;
}

/* One synthetic caption per image of the noisy set, appended to all (after the originals). */
static int caption_all(genc_blip *m, const genc_pair_set *noisy, const genc_caption_opts *co, genc_pair_set *all) {
    const genc_images *im = noisy->im;
    int64_t per = (int64_t)im->channels * im->height * im->width;
    float *x = malloc(sizeof(float) * (size_t)(CHUNK * per));
    char *out[CHUNK];
    int rc = x ? GENC_OK : genc_set_error("out of memory");
    for (int64_t i0 = 0; i0 < noisy->n && rc == GENC_OK; i0 += CHUNK) {
        int b = (int)(noisy->n - i0 < CHUNK ? noisy->n - i0 : CHUNK);
        for (int i = 0; i < b; i++) genc_images_get(im, noisy->image[i0 + i], 1, -1.f, 1.f, x + i * per, NULL);
        rc = genc_blip_caption(m, x, b, i0, co, out);
        for (int i = 0; i < b && rc == GENC_OK; i++) {
            /* a caption too long for the text tower or empty cannot be a pair: dropped */
            if (out[i][0]) (void)genc_pair_set_add(all, noisy->image[i0 + i], out[i], 1);
        }
        for (int i = 0; i < b && rc == GENC_OK; i++) free(out[i]);
    }
    free(x);
    return rc;
}

/* ITM's p(matched) of every pair of all into p[all->n] */
static int match_all(genc_blip *m, const genc_pair_set *all, float *p) {
    const genc_images *im = all->im;
    int64_t per = (int64_t)im->channels * im->height * im->width;
    float *x = malloc(sizeof(float) * (size_t)(CHUNK * per));
    int rc = x ? GENC_OK : genc_set_error("out of memory");
    for (int64_t i0 = 0; i0 < all->n && rc == GENC_OK; i0 += CHUNK) {
        int b = (int)(all->n - i0 < CHUNK ? all->n - i0 : CHUNK);
        for (int i = 0; i < b; i++) genc_images_get(im, all->image[i0 + i], 1, -1.f, 1.f, x + i * per, NULL);
        rc = genc_blip_match_prob(m, x, all->ids + i0 * all->ctx, all->eos + i0, b, p + i0);
    }
    free(x);
    return rc;
}

/* The filter: the pairs of all with p >= threshold into clean, and the counts. */
static int filter(const genc_pair_set *all, const float *p, float threshold, genc_pair_set *clean, genc_capfilt_result *r) {
    for (int64_t i = 0; i < all->n; i++) {
        int keep = p[i] >= threshold, wrong = all->wrong[i];
        if (all->synthetic[i]) {
            r->synthetic++;
            r->synthetic_wrong += wrong;
            r->synthetic_kept += keep;
            r->synthetic_kept_wrong += keep && wrong;
        } else {
            r->removed_corrupted += !keep && wrong;
            r->kept_clean += keep && !wrong;
        }
        if (!keep) continue;
        if (genc_pair_set_copy(clean, all, i)) return GENC_ERR;
    }
    r->cleaned = clean->n;
    return GENC_OK;
}

static int zero_shot(const char *dir, const genc_images *test, int64_t n, double *acc) {
    genc_st_file f;
    genc_clip m;
    if (genc_checkpoint_open(dir, &f)) return GENC_ERR;
    int rc = genc_clip_load_file(&f, &m, NULL);
    genc_st_free(&f);
    if (rc) return GENC_ERR;
    genc_clip_eval_result e;
    rc = genc_clip_evaluate(&m, test, n, 1, &e);
    *acc = e.top1_ensemble;
    genc_clip_free(&m);
    return rc;
}

int genc_capfilt(const genc_capfilt_opts *o, genc_capfilt_result *r) {
    memset(r, 0, sizeof *r);
    double t0 = genc_time_s();
    genc_images train = {0}, test = {0};
    genc_pair_set noisy, all, clean;
    genc_blip m;
    int have_m = 0, ctx = o->blip.clip.ctx;
    char dir[1024];
    float *p = NULL;
    memset(&noisy, 0, sizeof noisy), memset(&all, 0, sizeof all), memset(&clean, 0, sizeof clean);
    genc_run_opts base = {0};
    base.message = o->message;
    base.user = o->user;
    int rc = GENC_ERR;
    if (o->clip.ctx != ctx) {
        genc_set_error("the BLIP and CLIP text towers must have the same context (%d, %d)", ctx, o->clip.ctx);
        goto done;
    }
    if (genc_images_load("fashion-mnist", GENC_SPLIT_TRAIN, &train) || genc_images_load("fashion-mnist", GENC_SPLIT_TEST, &test))
        goto done;
    genc_pair_set_init(&noisy, &train, ctx);
    genc_pair_set_init(&all, &train, ctx);
    genc_pair_set_init(&clean, &train, ctx);
    genc_rng rng = genc_rng_make(o->blip_train.seed, 0x63617066ull); /* "capf" */
    if (genc_pair_set_noisy(&noisy, o->images, o->corrupt, &rng)) goto done;
    r->original = noisy.n;
    for (int64_t i = 0; i < noisy.n; i++) r->corrupted += noisy.wrong[i];
    genc_run_message(&base, "capfilt: %lld training pairs, %lld of them with a wrong class name", (long long)r->original, (long long)r->corrupted);

    /* 1. BLIP on the noisy set: captioner and filter */
    genc_run_opts run = run_in(o, dir, sizeof dir, "blip", 0.5);
    genc_train_result res;
    if (genc_blip_train(&o->blip, &o->blip_train, &run, &noisy, &res)) goto done;
    genc_st_file f;
    if (genc_checkpoint_open(dir, &f)) goto done;
    rc = genc_blip_load_file(&f, &m, NULL);
    genc_st_free(&f);
    if (rc) goto done;
    rc = GENC_ERR;
    have_m = 1;
    r->blip_minutes = (genc_time_s() - t0) / 60;

    /* 2. captioner: one synthetic caption per image; 3. filter: ITM on originals and synthetics */
    for (int64_t i = 0; i < noisy.n; i++)
        if (genc_pair_set_copy(&all, &noisy, i)) goto done;
    if (caption_all(&m, &noisy, &o->caption, &all)) goto done;
    if (!(p = malloc(sizeof(float) * (size_t)all.n))) {
        genc_set_error("out of memory");
        goto done;
    }
    if (match_all(&m, &all, p) || filter(&all, p, o->threshold, &clean, r)) goto done;
    genc_run_message(&base, "capfilt: the filter removed %lld of %lld wrong captions and kept %lld of %lld right ones; "
           "%lld synthetic captions (%lld wrong), %lld kept (%lld wrong); cleaned set %lld pairs",
        (long long)r->removed_corrupted, (long long)r->corrupted, (long long)r->kept_clean,
        (long long)(r->original - r->corrupted), (long long)r->synthetic, (long long)r->synthetic_wrong,
        (long long)r->synthetic_kept, (long long)r->synthetic_kept_wrong, (long long)r->cleaned);
    if (clean.n < 1) {
        genc_set_error("the filter kept no pair");
        goto done;
    }

    /* 4. two CLIP models of the same size and budget, on the noisy and on the cleaned set */
    run = run_in(o, dir, sizeof dir, "clip-noisy", 0.25);
    if (genc_clip_train_set(&o->clip, &o->clip_train, &run, &noisy, &res) ||
        zero_shot(dir, &test, o->test_images, &r->zero_shot_noisy))
        goto done;
    run = run_in(o, dir, sizeof dir, "clip-clean", 0.25);
    if (genc_clip_train_set(&o->clip, &o->clip_train, &run, &clean, &res) ||
        zero_shot(dir, &test, o->test_images, &r->zero_shot_clean))
        goto done;
    rc = GENC_OK;
done:
    r->total_minutes = (genc_time_s() - t0) / 60;
    free(p);
    if (have_m) genc_blip_free(&m);
    genc_pair_set_free(&noisy);
    genc_pair_set_free(&all);
    genc_pair_set_free(&clean);
    genc_images_free(&train);
    genc_images_free(&test);
    return rc;
}
