/* genc sample of a diffusion checkpoint: 2D models write a scatter of the samples beside the
 * true distribution, image models a PNG grid; --save keeps the raw samples. */
#include "diffusion_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char DIFFUSION_SAMPLE_HELP[] =
    "  --sampler S        ddpm, ddim, euler, euler-a, heun, dpmpp-2m, flow-euler, flow-heun\n"
    "                     (default: ddpm for ddpm-*, euler for vp/ve, heun for edm,\n"
    "                     flow-euler for flow)\n"
    "  --steps N          denoising steps (default 50)\n"
    "  --schedule G       default, karras, trailing, leading, linspace (trailing/leading:\n"
    "                     DDPM processes only)\n"
    "  --eta E            ddim: 0 deterministic (default), 1 = DDPM's noise\n"
    "  --large-variance   ddpm: posterior variance β instead of β̃\n"
    "  --churn S          heun: EDM's S_churn (default 0), with --s-tmin, --s-tmax, --s-noise\n"
    "  --shift S          flow samplers: time shift s·t/(1 + (s−1)·t) (default 1)\n"
    "  --no-clip          image models: do not clamp each denoised estimate x0 to the\n"
    "                     data range [-1, 1] (clamped by default, as DDPM and DDIM do)\n"
    "  --cfg W            classifier-free guidance scale (class-conditional models; default 1)\n"
    "  --class C          generate class C (default: every class in turn, one per column)\n"
    "  --n K              samples (default 2000 points / 64 images)\n"
    "  --seed S           noise seed (default 1)\n"
    "  --threads N        threads (default: all cores)\n"
    "  --out FILE.png     picture (default DIR/samples.png)\n"
    "  --save FILE        the samples as safetensors (\"samples\" [n, C, H, W] or [n, 2],\n"
    "                     \"labels\" [n])\n";

genc_sampler_kind dm_default_sampler(genc_dproc p) {
    switch (p) {
    case GENC_DPROC_DDPM_LINEAR:
    case GENC_DPROC_DDPM_COSINE: return GENC_DS_DDPM;
    case GENC_DPROC_EDM: return GENC_DS_HEUN;
    case GENC_DPROC_FLOW: return GENC_DS_FLOW_EULER;
    default: return GENC_DS_EULER;
    }
}

static int is_flow(genc_sampler_kind k) { return k == GENC_DS_FLOW_EULER || k == GENC_DS_FLOW_HEUN; }

int dm_sample_check(const genc_dmodel *m, const dm_sample_req *q, int cfg_given, int class_given) {
    if (cfg_given && m->cfg.n_classes == 0)
        return genc_set_error("--cfg: this model is unconditional (trained without --cond class), there is nothing to guide");
    if (class_given && m->cfg.n_classes == 0) return genc_set_error("--class: this model is unconditional");
    if (class_given && (q->cls < 0 || q->cls >= m->cfg.n_classes))
        return genc_set_error("--class %d: the model knows classes 0..%d", q->cls, m->cfg.n_classes - 1);
    double *sig = malloc(sizeof(double) * (size_t)(q->steps + 1));
    if (!sig) return genc_set_error("out of memory");
    int rc = genc_sample_sigmas(&m->proc, q->grid, q->steps, is_flow(q->o.kind), q->shift, sig);
    if (!rc && !is_flow(q->o.kind) && (q->o.kind == GENC_DS_EULER || q->o.kind == GENC_DS_EULER_A || q->o.kind == GENC_DS_HEUN) &&
        isinf(sig[0]))
        rc = genc_set_error("--sampler %s needs a finite largest noise level", genc_diffusion_sampler_name(q->o.kind));
    free(sig);
    return rc;
}

int dm_sample_run(genc_dmodel *m, const dm_sample_req *q, int64_t n, float *x, int32_t *labels) {
    int dim = m->cfg.channels * m->cfg.height * m->cfg.width;
    double *sig = malloc(sizeof(double) * (size_t)(q->steps + 1));
    genc_ctx *c = genc_ctx_new(0);
    int rc = GENC_ERR;
    if (!sig || !c) { genc_set_error("out of memory"); goto done; }
    if (genc_sample_sigmas(&m->proc, q->grid, q->steps, is_flow(q->o.kind), q->shift, sig)) goto done;
    if (labels)
        for (int64_t i = 0; i < n; i++) labels[i] = m->cfg.n_classes ? (q->cls >= 0 ? q->cls : (int32_t)(i % m->cfg.n_classes)) : -1;
    int points = m->cfg.height * m->cfg.width == 1;
    genc_dm_denoiser d = {.m = m, .c = c, .labels = m->cfg.n_classes && labels ? labels : NULL, .cfg = q->cfg,
                          .clip = points || q->no_clip ? 0.0f : 1.0f,
                          .max_batch = m->cfg.net == GENC_DNET_MLP ? 4096 : 64};
    genc_denoiser den = {genc_dm_denoise, &d};
    genc_rng r = genc_rng_make(q->seed, 7);
    genc_rng_fill_normal(&r, x, n * dim, 0, 1);
    rc = genc_sample(&q->o, &den, sig, q->steps, x, n, dim, &r);
done:
    free(sig);
    genc_ctx_free(c);
    return rc;
}

static int save_samples(const char *path, const genc_dmodel *m, const float *x, const int32_t *lab, int64_t n) {
    genc_st_entry e[2];
    memset(e, 0, sizeof e);
    e[0].name = "samples";
    e[0].dtype = GENC_DT_F32;
    e[0].data = x;
    if (m->cfg.net == GENC_DNET_MLP && m->cfg.height * m->cfg.width == 1) {
        e[0].ndim = 2;
        e[0].shape[0] = n;
        e[0].shape[1] = m->cfg.channels;
    } else {
        e[0].ndim = 4;
        e[0].shape[0] = n;
        e[0].shape[1] = m->cfg.channels;
        e[0].shape[2] = m->cfg.height;
        e[0].shape[3] = m->cfg.width;
    }
    e[1] = (genc_st_entry){.name = "labels", .dtype = GENC_DT_I32, .ndim = 1, .shape = {n}, .data = lab};
    return genc_st_write(path, e, 2, NULL, 0);
}

/* Samples beside fresh data from the toy the model was trained on. */
static int scatter(const char *path, const char *data, const float *x, int64_t n, const char *title) {
    genc_toy toy;
    int is_toy;
    if (genc_toy_spec(data, &toy, &is_toy) || !is_toy) return genc_set_error("not a 2D toy model");
    float *ref = malloc(sizeof(float) * (size_t)n * 2);
    if (!ref) return genc_set_error("out of memory");
    genc_rng r = genc_rng_make(99, 0);
    genc_toy_sample(toy, &r, n, ref);
    double R = 0;                               /* the data's extent, 5% margin */
    for (int64_t i = 0; i < 2 * n; i++) R = fmax(R, fabs(ref[i]));
    R *= 1.05;
    genc_panels_spec spec = {.title = title, .xlo = -R, .xhi = R, .ylo = -R, .yhi = R};
    genc_panel p[2] = {{.title = "model", .kind = GENC_PANEL_POINTS, .xy = x, .n = n},
                       {.title = data + 4, .kind = GENC_PANEL_POINTS, .xy = ref, .n = n}};
    int rc = genc_png_panels(path, &spec, p, 2);
    free(ref);
    return rc;
}

int diffusion_sample(genc_st_file *f, const char *dir, int argc, char **argv) {
    dm_sample_req q;
    memset(&q, 0, sizeof q);
    int sampler_given = 0, eta_given = 0, churn_given = 0, shift_given = 0, cfg_given = 0, class_given = 0, lv = 0;
    int steps = 50, threads = 0;
    int64_t n = 0;
    double eta = 0, churn = 0, tmin = 0, tmax = INFINITY, snoise = 1;
    const char *out = NULL, *save = NULL;
    genc_sampler_kind kind = GENC_DS_EULER;
    q.grid = GENC_GRID_DEFAULT;
    q.shift = 1;
    q.cfg = 1;
    q.cls = -1;
    q.seed = 1;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(DIFFUSION_SAMPLE_HELP);
        else if (flag(&a, "--sampler")) {
            const char *s = val_str(&a, "--sampler");
            if (!a.bad && genc_diffusion_sampler_parse(s, &kind)) return usage_error("--sampler: %s", genc_error());
            sampler_given = 1;
        } else if (flag(&a, "--steps")) steps = val_int(&a, "--steps", 1, 100000);
        else if (flag(&a, "--schedule")) {
            const char *s = val_str(&a, "--schedule");
            if (!a.bad && genc_dgrid_parse(s, &q.grid)) return usage_error("--schedule: %s", genc_error());
        } else if (flag(&a, "--eta")) { eta = val_num(&a, "--eta", 0, 10); eta_given = 1; }
        else if (flag(&a, "--large-variance")) lv = 1;
        else if (flag(&a, "--no-clip")) q.no_clip = 1;
        else if (flag(&a, "--churn")) { churn = val_num(&a, "--churn", 0, 1e6); churn_given = 1; }
        else if (flag(&a, "--s-tmin")) { tmin = val_num(&a, "--s-tmin", 0, 1e6); churn_given = 1; }
        else if (flag(&a, "--s-tmax")) { tmax = val_num(&a, "--s-tmax", 0, 1e9); churn_given = 1; }
        else if (flag(&a, "--s-noise")) { snoise = val_num(&a, "--s-noise", 0, 10); churn_given = 1; }
        else if (flag(&a, "--shift")) { q.shift = val_num(&a, "--shift", 0.01, 100); shift_given = 1; }
        else if (flag(&a, "--cfg")) { q.cfg = (float)val_num(&a, "--cfg", 0, 100); cfg_given = 1; }
        else if (flag(&a, "--class")) { q.cls = val_int(&a, "--class", 0, 1 << 20); class_given = 1; }
        else if (flag(&a, "--n")) n = val_i64(&a, "--n", 1, 1 << 20);
        else if (flag(&a, "--seed")) q.seed = val_u64(&a, "--seed");
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else if (flag(&a, "--save")) save = val_str(&a, "--save");
        else return usage_error("unknown flag '%s' for sample (see genc sample --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_dmodel m;
    genc_dm_train_cfg tc;
    if (!sampler_given) kind = GENC_DS_EULER;         /* replaced below by the process's default */
    /* flag combinations that do not apply: said before the model is loaded */
    if (sampler_given) {
        if (eta_given && kind != GENC_DS_DDIM) return usage_error("--eta applies to the ddim sampler, not %s", genc_diffusion_sampler_name(kind));
        if (churn_given && kind != GENC_DS_HEUN)
            return usage_error("--churn/--s-tmin/--s-tmax/--s-noise apply to the heun sampler, not %s", genc_diffusion_sampler_name(kind));
        if (shift_given && !is_flow(kind)) return usage_error("--shift applies to flow-euler and flow-heun, not %s", genc_diffusion_sampler_name(kind));
        if (lv && kind != GENC_DS_DDPM) return usage_error("--large-variance applies to the ddpm sampler, not %s", genc_diffusion_sampler_name(kind));
    }
    if (diffusion_open(f, dir, &m, &tc)) return EXIT_RUNTIME;
    if (!sampler_given) {
        kind = dm_default_sampler(m.cfg.process);
        const char *why = eta_given && kind != GENC_DS_DDIM ? "--eta (ddim)" : churn_given && kind != GENC_DS_HEUN ? "--churn (heun)"
                        : shift_given && !is_flow(kind) ? "--shift (flow samplers)" : lv && kind != GENC_DS_DDPM ? "--large-variance (ddpm)" : NULL;
        if (why) {
            genc_dmodel_free(&m);
            return usage_error("%s does not apply to this model's default sampler %s: name the sampler with --sampler", why,
                               genc_diffusion_sampler_name(kind));
        }
    }
    genc_sampler_opts_default(&q.o, kind);
    q.o.eta = eta;
    q.o.large_variance = lv;
    q.o.s_churn = churn;
    q.o.s_tmin = tmin;
    q.o.s_tmax = tmax;
    q.o.s_noise = snoise;
    q.steps = steps;
    if (dm_sample_check(&m, &q, cfg_given, class_given)) {
        genc_dmodel_free(&m);
        return usage_error("%s", genc_error());
    }
    if (threads) genc_set_threads(threads);
    int points = m.cfg.height * m.cfg.width == 1;
    if (!n) n = points ? 2000 : 64;
    int64_t dim = (int64_t)m.cfg.channels * m.cfg.height * m.cfg.width;
    /* counted against genc's memory limit: --n comes from the user */
    float *x = genc_aligned_alloc(sizeof(float) * (size_t)(n * dim));
    int32_t *lab = genc_aligned_alloc(sizeof(int32_t) * (size_t)n);
    char path[4096];
    if (out) snprintf(path, sizeof path, "%s", out);
    else snprintf(path, sizeof path, "%s/samples.png", dir);
    double t0 = genc_time_s();
    int rc = !x || !lab ? genc_wrap_error("--n %lld samples", (long long)n) : dm_sample_run(&m, &q, n, x, lab);
    double secs = genc_time_s() - t0;
    if (!rc) {
        fprintf(stderr, "genc: %lld samples, %s, %d steps, in %.3f s\n", (long long)n, genc_diffusion_sampler_name(kind), steps, secs);
        char title[160];
        snprintf(title, sizeof title, "%s / %s, %s %d steps", genc_dproc_name(m.cfg.process), genc_dpred_name(m.cfg.pred),
                 genc_diffusion_sampler_name(kind), steps);
        rc = points ? scatter(path, tc.data, x, n, title)
                    : genc_png_grid(path, x, (int)n, m.cfg.channels, m.cfg.height, m.cfg.width,
                                    m.cfg.n_classes && q.cls < 0 ? m.cfg.n_classes : 0, -1, 1); /* a class per column */
        if (!rc) printf("%s\n", path);
        if (!rc && save) {
            rc = save_samples(save, &m, x, lab, n);
            if (!rc) printf("%s\n", save);
        }
    }
    genc_aligned_free(x);
    genc_aligned_free(lab);
    genc_dmodel_free(&m);
    if (rc) return runtime_error("%s", genc_error());
    return 0;
}
