/* genc eval of a diffusion checkpoint.
 * 2D toys: the NLL of fresh data under the model through the probability-flow ODE with the
 * exact divergence, the toy's true entropy (the floor), the gap, and the energy distance
 * between fresh samples and fresh data. Images: bits per dimension of test images through
 * the ODE with a Hutchinson divergence, uniformly dequantised (8-bit data: see below). */
#include "diffusion_cli.h"
#include "genc/classifier.h"
#include "genc/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char DIFFUSION_EVAL_HELP[] =
    "  --n K              points (default 2000) or test images (default 64)\n"
    "  --ode-steps N      RK4 steps of the probability-flow ODE (default 48)\n"
    "  --sampler S        the sampler of the energy distance (2D) or of the Fréchet\n"
    "                     distance's images (default: the process's own)\n"
    "  --steps N          2D: its steps (default 50); images: see --fd-steps\n"
    "  --seed S           data, probe and sampling seed (default 1)\n"
    "  --threads N        threads (default: all cores)\n"
    "  --classifier DIR   images: also the Fréchet distance between generated and test\n"
    "                     images in the penultimate-layer features of this classifier\n"
    "                     checkpoint (genc train classifier), and for class-conditional\n"
    "                     models its accuracy on images generated for each class\n"
    "  --fd-n K           images on each side of the Fréchet distance (default 256)\n"
    "  --fd-steps N       sampling steps for those images (default 25)\n"
    "  --fd-only          images: only the Fréchet distance (and class accuracy), not\n"
    "                     the bits/dim (to compare samplers and step counts quickly)\n"
    "  --cfg W            guidance scale for the generated images (conditional models; 1)\n"
    "  --no-clip          do not clamp the denoised estimates of those images to [-1, 1]\n"
    "  --json             one JSON object on stdout\n";

/* The ODE's range: the process's own σ range; flow has no largest σ, so 80 (t = 0.988). */
static void ode_range(const genc_dmodel *m, genc_nll_opts *o) {
    o->sigma_min = fmax(m->proc.sigma_min, 1e-3);
    o->sigma_max = isfinite(m->proc.sigma_max) ? m->proc.sigma_max : 80;
}

static int eval_toy(genc_dmodel *m, const genc_dm_train_cfg *tc, genc_toy toy, int64_t n, int ode_steps,
                    dm_sample_req *q, int json) {
    genc_ctx *c = genc_ctx_new(0);
    float *data = malloc(sizeof(float) * (size_t)n * 2), *gen = malloc(sizeof(float) * (size_t)n * 2),
          *ref = malloc(sizeof(float) * (size_t)n * 2);
    double *nll = malloc(sizeof(double) * (size_t)n);
    int rc = GENC_ERR;
    if (!c || !data || !gen || !ref || !nll) { genc_set_error("out of memory"); goto done; }
    genc_rng r = genc_rng_make(q->seed, 31);
    genc_toy_sample(toy, &r, n, data);
    genc_toy_sample(toy, &r, n, ref);
    genc_dm_denoiser d = {.m = m, .c = c, .cfg = 1, .max_batch = 4096};
    genc_div_fn div = {genc_dm_div, &d};
    genc_nll_opts o = {.steps = ode_steps};
    ode_range(m, &o);
    double t0 = genc_time_s();
    if (genc_pf_nll(&div, &o, data, n, 2, &r, nll)) goto done;
    double t_nll = genc_time_s() - t0, se, mean = genc_mean_se(nll, n, &se);
    t0 = genc_time_s();
    if (dm_sample_run(m, q, n, gen, NULL)) goto done;
    double t_sample = genc_time_s() - t0;
    double ed = genc_energy_distance(gen, n, ref, n, 2), H = genc_toy_entropy(toy);
    if (json) {
        printf("{\"family\": \"diffusion\", \"data\": \"%s\", \"process\": \"%s\", \"pred\": \"%s\", \"n\": %lld, "
               "\"nll\": %.6g, \"nll_stderr\": %.6g, \"entropy\": %.6g, \"gap\": %.6g, \"ode_steps\": %d, "
               "\"sigma_min\": %.6g, \"sigma_max\": %.6g, \"seconds_nll\": %.3f, \"energy_distance\": %.6g, "
               "\"sampler\": \"%s\", \"steps\": %d, \"seconds_sample\": %.3f}\n",
               tc->data, genc_dproc_name(m->cfg.process), genc_dpred_name(m->cfg.pred), (long long)n, mean, se, H,
               mean - H, ode_steps, o.sigma_min, o.sigma_max, t_nll, ed, genc_diffusion_sampler_name(q->o.kind), q->steps,
               t_sample);
    } else {
        printf("NLL %.4f ± %.4f nats (%lld points, probability-flow ODE, exact divergence, %.1f s)\n", mean, se,
               (long long)n, t_nll);
        printf("true entropy %.4f nats, gap %.4f\n", H, mean - H);
        printf("energy distance %.5f (%lld samples, %s %d steps, %.1f s)\n", ed, (long long)n,
               genc_diffusion_sampler_name(q->o.kind), q->steps, t_sample);
    }
    rc = GENC_OK;
done:
    genc_ctx_free(c);
    free(data);
    free(gen);
    free(ref);
    free(nll);
    return rc;
}

/* Bits per dimension of 8-bit images v ∈ {0..255}^D. The model saw x = −1 + 2v/255; the
 * discrete likelihood is bounded by uniform dequantisation y = −1 + 2(v + u)/256, u ~ U[0, 1)
 * (Theis et al. 2016): log P(v) ≥ E_u log p(y) + D·log(2/256), so
 *   bits/dim = (NLL(y)/D + ln 128)/ln 2. */
typedef struct fd_req {
    const char *classifier;     /* NULL: no Fréchet distance */
    int64_t n;
    dm_sample_req q;
} fd_req;

/* Fréchet distance between n generated and the first n test images in the classifier's
 * penultimate features; for conditional models the classifier's accuracy on the generated
 * images against the classes they were generated for (every class in turn). */
static int frechet(genc_dmodel *m, const genc_images *im, const fd_req *r, double *fd, double *acc, int *F_out,
                   double *secs) {
    genc_classifier cls;
    memset(&cls, 0, sizeof cls);
    if (genc_classifier_load(r->classifier, &cls, NULL)) return genc_wrap_error("--classifier %s", r->classifier);
    int rc = GENC_ERR, F = genc_classifier_feature_dim(&cls.cfg), K = cls.cfg.classes;
    int64_t n = r->n < im->n ? r->n : im->n, D = (int64_t)m->cfg.channels * m->cfg.height * m->cfg.width;
    float *x = genc_aligned_alloc(sizeof(float) * (size_t)(n * D)), *f1 = genc_aligned_alloc(sizeof(float) * (size_t)(n * F));
    float *f2 = genc_aligned_alloc(sizeof(float) * (size_t)(n * F)), *p = genc_aligned_alloc(sizeof(float) * (size_t)(n * K));
    int32_t *lab = genc_aligned_alloc(sizeof(int32_t) * (size_t)n);
    double *mu1 = malloc(sizeof(double) * F), *mu2 = malloc(sizeof(double) * F);
    double *c1 = malloc(sizeof(double) * F * F), *c2 = malloc(sizeof(double) * F * F);
    if (!x || !f1 || !f2 || !p || !lab || !mu1 || !mu2 || !c1 || !c2) { genc_wrap_error("Fréchet distance buffers"); goto done; }
    if (genc_classifier_check_images(&cls.cfg, im, 0)) { genc_wrap_error("--classifier %s", r->classifier); goto done; }
    double t0 = genc_time_s();
    if (dm_sample_run(m, &r->q, n, x, lab) || genc_classifier_features(&cls, x, n, f1)) goto done;
    *acc = NAN;
    if (m->cfg.n_classes > 0) {
        if (genc_classifier_probs(&cls, x, n, p)) goto done;
        int64_t hit = 0;
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < K; k++) if (p[i * K + k] > p[i * K + best]) best = k;
            hit += best == lab[i];
        }
        *acc = (double)hit / n;
    }
    genc_images_get(im, 0, n, -1, 1, x, NULL);
    if (genc_classifier_features(&cls, x, n, f2) || genc_mean_cov(f1, n, F, mu1, c1) || genc_mean_cov(f2, n, F, mu2, c2) ||
        genc_frechet_distance(mu1, c1, mu2, c2, F, fd))
        goto done;
    *secs = genc_time_s() - t0;
    *F_out = F;
    rc = GENC_OK;
done:
    genc_aligned_free(x); genc_aligned_free(f1); genc_aligned_free(f2); genc_aligned_free(p); genc_aligned_free(lab);
    free(mu1); free(mu2); free(c1); free(c2);
    genc_classifier_free(&cls);
    return rc;
}

/* bits/dim of the first n test images (the dequantisation above), its standard error and
 * the seconds it took */
static int bits_per_dim(genc_dmodel *m, const genc_images *im, int64_t n, int ode_steps, uint64_t seed, double *bpd,
                        double *se, double *secs) {
    int64_t D = (int64_t)m->cfg.channels * m->cfg.height * m->cfg.width;
    genc_ctx *c = genc_ctx_new(0);
    float *x = malloc(sizeof(float) * (size_t)(n * D));
    double *nll = malloc(sizeof(double) * (size_t)n);
    int rc = GENC_ERR;
    if (!c || !x || !nll) { genc_set_error("out of memory"); goto done; }
    genc_images_get(im, 0, n, 0, 255, x, NULL);
    genc_rng r = genc_rng_make(seed, 41);
    for (int64_t i = 0; i < n * D; i++) x[i] = -1 + 2 * (x[i] + genc_rng_uniform(&r)) / 256;
    genc_dm_denoiser d = {.m = m, .c = c, .cfg = 1, .max_batch = 64};
    genc_div_fn div = {genc_dm_div, &d};
    genc_nll_opts o = {.steps = ode_steps, .hutchinson = 1};
    ode_range(m, &o);
    double t0 = genc_time_s();
    if (genc_pf_nll(&div, &o, x, n, (int)D, &r, nll)) goto done;
    *secs = genc_time_s() - t0;
    for (int64_t i = 0; i < n; i++) nll[i] = (nll[i] / D + log(128.0)) / log(2.0);
    *bpd = genc_mean_se(nll, n, se);
    rc = GENC_OK;
done:
    genc_ctx_free(c);
    free(x);
    free(nll);
    return rc;
}

static int eval_images(genc_dmodel *m, const genc_dm_train_cfg *tc, int64_t n, int ode_steps, uint64_t seed, int json,
                       const fd_req *fr, int fd_only) {
    genc_images im;
    memset(&im, 0, sizeof im);
    if (genc_images_load(tc->data, GENC_SPLIT_TEST, &im)) return genc_wrap_error("test images of %s", tc->data);
    int rc = GENC_ERR;
    if (im.channels != m->cfg.channels || im.height != m->cfg.height || im.width != m->cfg.width) {
        genc_set_error("%s test images are %d×%d×%d; the model's are %d×%d×%d", tc->data, im.channels, im.height, im.width,
                       m->cfg.channels, m->cfg.height, m->cfg.width);
        goto done;
    }
    if (n > im.n) n = im.n;
    if (fd_only) n = 0;
    double se = NAN, bpd = NAN, secs = 0, fd = NAN, acc = NAN, fd_secs = 0;
    if (n && bits_per_dim(m, &im, n, ode_steps, seed, &bpd, &se, &secs)) goto done;
    int F = 0;
    if (fr->classifier && frechet(m, &im, fr, &fd, &acc, &F, &fd_secs)) goto done;
    int64_t fn = fr->n < im.n ? fr->n : im.n;
    if (json) {
        printf("{\"family\": \"diffusion\", \"data\": \"%s\", \"process\": \"%s\", \"pred\": \"%s\"",
               tc->data, genc_dproc_name(m->cfg.process), genc_dpred_name(m->cfg.pred));
        if (n)
            printf(", \"n\": %lld, \"bits_per_dim\": %.6g, \"bpd_stderr\": %.6g, \"divergence\": \"hutchinson\", "
                   "\"dequantization\": \"uniform\", \"ode_steps\": %d, \"seconds\": %.3f",
                   (long long)n, bpd, se, ode_steps, secs);
        if (fr->classifier) {
            printf(", \"frechet_distance\": %.6g, \"fd_n\": %lld, \"fd_classifier\": \"%s\", \"fd_layer\": "
                   "\"penultimate, %d features\", \"fd_sampler\": \"%s\", \"fd_steps\": %d, \"seconds_fd\": %.3f",
                   fd, (long long)fn, fr->classifier, F, genc_diffusion_sampler_name(fr->q.o.kind), fr->q.steps, fd_secs);
            if (isnan(acc)) printf(", \"class_accuracy\": null");
            else printf(", \"class_accuracy\": %.6g, \"cfg\": %g", acc, fr->q.cfg);
        }
        printf("}\n");
    } else {
        if (n)
            printf("bits/dim %.4f ± %.4f (%lld test images, probability-flow ODE, Hutchinson divergence, uniform "
               "dequantisation, %.1f s)\n", bpd, se, (long long)n, secs);
        if (fr->classifier) {
            printf("Fréchet distance %.4f (%lld generated vs %lld test images, %s penultimate layer of %d features, "
                   "%s %d steps, %.1f s)\n", fd, (long long)fn, (long long)fn, fr->classifier, F,
                   genc_diffusion_sampler_name(fr->q.o.kind), fr->q.steps, fd_secs);
            if (!isnan(acc)) printf("classifier accuracy on generated classes %.4f (guidance %g)\n", acc, fr->q.cfg);
        }
    }
    rc = GENC_OK;
done:
    genc_images_free(&im);
    return rc;
}

int diffusion_eval(genc_st_file *f, const char *dir, int argc, char **argv) {
    dm_sample_req q;
    memset(&q, 0, sizeof q);
    int64_t n = 0;
    int ode_steps = 48, steps = 50, json = 0, threads = 0, sampler_given = 0, fd_steps = 25, cfg_given = 0, fd_only = 0;
    int64_t fd_n = 256;
    float cfg = 1;
    const char *classifier = NULL;
    genc_sampler_kind kind = GENC_DS_EULER;
    q.seed = 1;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(DIFFUSION_EVAL_HELP);
        else if (flag(&a, "--n")) n = val_i64(&a, "--n", 2, 1 << 20);
        else if (flag(&a, "--ode-steps")) ode_steps = val_int(&a, "--ode-steps", 1, 100000);
        else if (flag(&a, "--steps")) steps = val_int(&a, "--steps", 1, 100000);
        else if (flag(&a, "--sampler")) {
            const char *s = val_str(&a, "--sampler");
            if (!a.bad && genc_diffusion_sampler_parse(s, &kind)) return usage_error("--sampler: %s", genc_error());
            sampler_given = 1;
        } else if (flag(&a, "--seed")) q.seed = val_u64(&a, "--seed");
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--json")) json = 1;
        else if (flag(&a, "--classifier")) classifier = val_str(&a, "--classifier");
        else if (flag(&a, "--fd-n")) fd_n = val_i64(&a, "--fd-n", 2, 1 << 20);
        else if (flag(&a, "--fd-steps")) fd_steps = val_int(&a, "--fd-steps", 1, 100000);
        else if (flag(&a, "--fd-only")) fd_only = 1;
        else if (flag(&a, "--no-clip")) q.no_clip = 1;
        else if (flag(&a, "--cfg")) { cfg = (float)val_num(&a, "--cfg", 0, 100); cfg_given = 1; }
        else return usage_error("unknown flag '%s' for eval (see genc eval --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_dmodel m;
    genc_dm_train_cfg tc;
    if (diffusion_open(f, dir, &m, &tc)) return EXIT_RUNTIME;
    genc_toy toy;
    int is_toy = 0;
    if (genc_toy_spec(tc.data, &toy, &is_toy)) {
        genc_dmodel_free(&m);
        return runtime_error("%s: %s", dir, genc_error());
    }
    if (!is_toy && steps != 50) {
        genc_dmodel_free(&m);
        return usage_error("--steps sets the sampler steps of the 2D energy distance; for images, --fd-steps sets those of the Fréchet distance");
    }
    if (!is_toy && (sampler_given || fd_only) && !classifier) {
        genc_dmodel_free(&m);
        return usage_error("%s: the Fréchet distance needs --classifier DIR", fd_only ? "--fd-only" : "--sampler");
    }
    if (is_toy && fd_only) {
        genc_dmodel_free(&m);
        return usage_error("--fd-only is for image models; 2D models report an energy distance");
    }
    if (is_toy && classifier) {
        genc_dmodel_free(&m);
        return usage_error("--classifier measures images; this model is a 2D toy model (it reports an energy distance)");
    }
    if (cfg_given && m.cfg.n_classes == 0) {
        genc_dmodel_free(&m);
        return usage_error("--cfg: this model is unconditional (trained without --cond class), there is nothing to guide");
    }
    if (threads) genc_set_threads(threads);
    genc_sampler_opts_default(&q.o, sampler_given ? kind : dm_default_sampler(m.cfg.process));
    q.steps = steps;
    q.grid = GENC_GRID_DEFAULT;
    q.shift = 1;
    q.cfg = 1;
    q.cls = -1;
    int rc;
    if (is_toy) {
        if (dm_sample_check(&m, &q, 0, 0)) {
            genc_dmodel_free(&m);
            return usage_error("%s", genc_error());
        }
        rc = eval_toy(&m, &tc, toy, n ? n : 2000, ode_steps, &q, json);
    } else {
        fd_req fr = {.classifier = classifier, .n = fd_n, .q = q};
        fr.q.steps = fd_steps;
        fr.q.cfg = cfg;
        if (classifier && dm_sample_check(&m, &fr.q, 0, 0)) {
            genc_dmodel_free(&m);
            return usage_error("%s", genc_error());
        }
        rc = eval_images(&m, &tc, n ? n : 64, ode_steps, q.seed, json, &fr, fd_only);
    }
    genc_dmodel_free(&m);
    if (rc) return runtime_error("%s", genc_error());
    return 0;
}
