/* genc sample of a flow: a grid of images drawn from the prior at a temperature and mapped
 * back through the inverse flow; for 2D flows, samples, the learned density and the true
 * density side by side; with --interpolate, a row of images decoded along the straight line
 * between the latents of two test images. */
#include "flow_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genc/io.h"

const char FLOW_SAMPLE_HELP[] =
    "  --n K              images (default 64) or 2D points (default 4000); with\n"
    "                     --interpolate, the pictures along the path (default 10)\n"
    "  --temperature T    scale of the prior's standard deviation (default 1; Glow used 0.7)\n"
    "  --seed S           sampling seed (default 1)\n"
    "  --out FILE.png     where to write (default DIR/samples.png or DIR/interpolation.png)\n"
    "  --interpolate I,J  images: decode the line between the latents of test images I and J\n";

#define GRID 128

static int sample_2d(genc_flow *f, int n, float temp, uint64_t seed, const char *out) {
    genc_toy toy = (genc_toy)f->cfg.toy;
    double r = genc_toy_radius(toy);
    float *z = malloc(sizeof(float) * 2 * (size_t)n), *data = malloc(sizeof(float) * 2 * (size_t)n);
    double *model = malloc(sizeof(double) * GRID * GRID), *truth = malloc(sizeof(double) * GRID * GRID);
    genc_ctx *c = genc_ctx_new(0);
    int rc = GENC_ERR;
    if (!z || !data || !model || !truth || !c) {
        genc_set_error("out of memory: 2D sample");
        goto done;
    }
    genc_rng rng = genc_rng_make(seed, 5);
    genc_flow_prior_sample(f->cfg.prior, &rng, temp, z, 2 * (int64_t)n);
    int prev = genc_no_grad(c);
    genc_tensor *x = genc_flow_inverse(c, f, z, n);
    genc_restore_grad(c, prev);
    if (genc_flow_density_grid(f, -r, r, GRID, GRID, model)) goto done;
    for (int j = 0; j < GRID; j++)
        for (int i = 0; i < GRID; i++) {
            double px = -r + 2 * r * (i + 0.5) / GRID, py = -r + 2 * r * (j + 0.5) / GRID;
            model[j * GRID + i] = exp(model[j * GRID + i]);
            truth[j * GRID + i] = genc_toy_has_density(toy) ? exp(genc_toy_log_density(toy, px, py)) : 0;
        }
    genc_panel p[3] = {
        {.title = "flow samples", .kind = GENC_PANEL_POINTS, .xy = x->data, .n = n},
        {.title = "flow density", .kind = GENC_PANEL_HEATMAP, .z = model, .nx = GRID, .ny = GRID},
        {.title = "true density", .kind = GENC_PANEL_HEATMAP, .z = truth, .nx = GRID, .ny = GRID},
    };
    char title[128];
    snprintf(title, sizeof title, "%s flow on %s", genc_flow_arch_name(f->cfg.arch), genc_toy_name(toy));
    genc_panels_spec spec = {.title = title, .xlo = -r, .xhi = r, .ylo = -r, .yhi = r};
    rc = genc_png_panels(out, &spec, p, genc_toy_has_density(toy) ? 3 : 2);
done:
    free(z), free(data), free(model), free(truth);
    genc_ctx_free(c);
    return rc;
}

static int sample_images(genc_flow *f, int n, float temp, uint64_t seed, const char *out) {
    int64_t nd = (int64_t)n * f->D;
    float *z = malloc(sizeof(float) * (size_t)nd), *pix = malloc(sizeof(float) * (size_t)nd);
    int rc = GENC_ERR;
    if (!z || !pix) genc_set_error("out of memory: samples");
    else {
        genc_rng rng = genc_rng_make(seed, 5);
        genc_flow_prior_sample(f->cfg.prior, &rng, temp, z, nd);
        if (flow_decode_latents(f, z, n, pix) == GENC_OK)
            rc = genc_png_grid(out, pix, n, f->cfg.C, f->cfg.H, f->cfg.W, 0, 0.f, 255.f);
    }
    free(z), free(pix);
    return rc;
}

/* Latents of test images a and b; frame k decodes (1 − t)·z_a + t·z_b, t = k/(n − 1). */
static int interpolate(genc_flow *f, int64_t a, int64_t b, int n, const char *out) {
    genc_images test;
    if (genc_images_load(f->cfg.data, GENC_SPLIT_TEST, &test)) return genc_wrap_error("--interpolate");
    int rc = GENC_ERR;
    int64_t D = f->D;
    float *pix = malloc(sizeof(float) * (size_t)(D * (n + 2))), *z = malloc(sizeof(float) * (size_t)(D * (n + 2)));
    if (!pix || !z) genc_set_error("out of memory: interpolation");
    else if (a >= test.n || b >= test.n)
        genc_set_error("--interpolate: the test split has %lld images (indices 0..%lld)", (long long)test.n,
                       (long long)test.n - 1);
    else if (test.channels != f->cfg.C || test.height != f->cfg.H || test.width != f->cfg.W)
        genc_set_error("--interpolate: the test images do not have the flow's shape");
    else {
        genc_images_get(&test, a, 1, 0.f, 255.f, pix, NULL);
        genc_images_get(&test, b, 1, 0.f, 255.f, pix + D, NULL);
        for (int64_t i = 0; i < 2 * D; i++) pix[i] = rintf(pix[i]);
        if (flow_encode_pixels(f, pix, 2, z + (int64_t)n * D) == GENC_OK) {
            const float *za = z + (int64_t)n * D, *zb = za + D;
            for (int k = 0; k < n; k++) {
                float t = n > 1 ? (float)k / (float)(n - 1) : 0.f;
                for (int64_t i = 0; i < D; i++) z[(int64_t)k * D + i] = (1 - t) * za[i] + t * zb[i];
            }
            if (flow_decode_latents(f, z, n, pix) == GENC_OK)
                rc = genc_png_grid(out, pix, n, f->cfg.C, f->cfg.H, f->cfg.W, n, 0.f, 255.f);
        }
    }
    free(pix), free(z);
    genc_images_free(&test);
    return rc;
}

int flow_sample(genc_st_file *f, const char *path, int argc, char **argv) {
    int n = 0;
    float temp = 1;
    uint64_t seed = 1;
    const char *out = NULL;
    int64_t ia = -1, ib = -1;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(FLOW_SAMPLE_HELP);
        else if (flag(&a, "--n")) n = val_int(&a, "--n", 1, 100000);
        else if (flag(&a, "--temperature")) temp = (float)val_num(&a, "--temperature", 0, 10);
        else if (flag(&a, "--seed")) seed = val_u64(&a, "--seed");
        else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else if (flag(&a, "--interpolate")) {
            const char *v = val_str(&a, "--interpolate");
            if (a.bad) break;
            char *end;
            long long x = strtoll(v, &end, 10), y = -1;
            if (*end == ',') y = strtoll(end + 1, &end, 10);
            if (*end || x < 0 || y < 0) return usage_error("--interpolate expects I,J (two test image indices), got '%s'", v);
            ia = x, ib = y;
        } else return usage_error("unknown flag '%s' for sample (see genc sample --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_flow flow;
    if (flow_open(f, path, &flow)) return EXIT_RUNTIME;
    int toy = flow.cfg.toy >= 0;
    if (toy && ia >= 0) {
        genc_flow_free(&flow);
        return usage_error("--interpolate needs an image flow");
    }
    if (toy && n > 0 && n > 100000) n = 100000;
    if (!toy && ia < 0 && n > 1024) {
        genc_flow_free(&flow);
        return usage_error("--n %d: at most 1024 images in a grid", n);
    }
    char dflt[4200];
    if (!out) {
        char ck[4096];
        genc_checkpoint_path(path, ck, sizeof ck);
        char *slash = strrchr(ck, '/');
        snprintf(dflt, sizeof dflt, "%.*s%s", slash ? (int)(slash - ck + 1) : 0, ck,
                 ia >= 0 ? "interpolation.png" : "samples.png");
        out = dflt;
    }
    int rc;
    if (toy) rc = sample_2d(&flow, n ? n : 4000, temp, seed, out);
    else if (ia >= 0) rc = interpolate(&flow, ia, ib, n ? (n < 2 ? 2 : n > 64 ? 64 : n) : 10, out);
    else rc = sample_images(&flow, n ? n : 64, temp, seed, out);
    genc_flow_free(&flow);
    if (rc) return runtime_error("%s", genc_error());
    printf("wrote %s\n", out);
    return 0;
}
