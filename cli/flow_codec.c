/* genc encode / genc decode: images ↔ latents through an image flow, exactly. A pixel v is
 * taken at the centre of its dequantisation bin, x = (v + ½)/256, so the round trip
 * decode(encode(v)) = floor(256·x′) gives v back as long as the flow's float error stays
 * under half a bin (it is ~1e-6). Latents are a safetensors file with one F32 tensor
 * "latents" [N, D] (the flat layout of genc/flows.h), metadata "flow_dims". */
#include "flow_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genc/io.h"

#define CODEC_BATCH 256

int flow_encode_pixels(genc_flow *flow, const float *pix, int64_t n, float *z) {
    int64_t D = flow->D;
    genc_ctx *c = genc_ctx_new(0);
    float *y = malloc(sizeof(float) * (size_t)(CODEC_BATCH * D));
    if (!c || !y) {
        genc_ctx_free(c);
        free(y);
        return genc_set_error("out of memory: encode");
    }
    genc_no_grad(c);
    for (int64_t first = 0; first < n; first += CODEC_BATCH) {
        int B = (int)(n - first < CODEC_BATCH ? n - first : CODEC_BATCH);
        genc_flow_preprocess(&flow->cfg, pix + first * D, NULL, B, y, NULL);
        genc_ctx_reset(c);
        int sh[4] = {B, flow->cfg.C, flow->cfg.H, flow->cfg.W};
        genc_tensor *x = genc_new(c, 4, sh);
        memcpy(x->data, y, sizeof(float) * (size_t)x->n);
        genc_flow_log_prob(c, flow, x, z + first * D);
    }
    genc_ctx_free(c);
    free(y);
    return GENC_OK;
}

int flow_decode_latents(genc_flow *flow, const float *z, int64_t n, float *pix) {
    int64_t D = flow->D;
    genc_ctx *c = genc_ctx_new(0);
    if (!c) return GENC_ERR;
    genc_no_grad(c);
    for (int64_t first = 0; first < n; first += CODEC_BATCH) {
        int B = (int)(n - first < CODEC_BATCH ? n - first : CODEC_BATCH);
        genc_ctx_reset(c);
        genc_tensor *x = genc_flow_inverse(c, flow, z + first * D, B);
        genc_flow_postprocess(&flow->cfg, x->data, x->n, pix + first * D);
    }
    genc_ctx_free(c);
    return GENC_OK;
}

static const char ENCODE_HELP[] =
    "usage: genc encode DIR --images FILE [--n N] [--out FILE.safetensors]\n"
    "\n"
    "Map images to the latents of the image flow in DIR, exactly (genc decode inverts it).\n"
    "  --images FILE   an IDX file of 8-bit images with the flow's shape, a PNG (resized to\n"
    "                  it), or fashion-mnist (its test split)\n"
    "  --n N           the first N images (default all)\n"
    "  --out FILE      latents file (default latents.safetensors): F32 \"latents\" [N, D]\n";

static const char DECODE_HELP[] =
    "usage: genc decode DIR --latents FILE [--out FILE.png|FILE.idx]\n"
    "\n"
    "Map latents (a safetensors file with F32 \"latents\" [N, D], as genc encode writes)\n"
    "back to images through the inverse of the flow in DIR: a PNG grid, or an IDX file of the\n"
    "8-bit pixels (default decoded.png).\n";

/* The image flow of a run folder; 1 (printed) on failure. */
static int open_image_flow(const char *dir, genc_flow *flow) {
    genc_st_file f;
    if (genc_checkpoint_open(dir, &f)) return runtime_error("%s", genc_error());
    const char *fam = genc_st_meta(&f, "family");
    if (!fam || strcmp(fam, "flow") != 0) {
        genc_st_free(&f);
        return runtime_error("%s: a checkpoint of family '%s'; encode and decode need a flow", dir, fam ? fam : "?");
    }
    if (flow_open(&f, dir, flow)) return EXIT_RUNTIME;
    if (flow->cfg.toy >= 0) {
        genc_flow_free(flow);
        return usage_error("%s is a 2D flow; encode and decode work on image flows", dir);
    }
    return 0;
}

static int has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Pixels of the images to encode: [n·D] floats 0..255. */
static int load_pixels(const genc_flow *flow, const char *spec, int64_t max_n, float **pix, int64_t *n) {
    const genc_flow_config *c = &flow->cfg;
    int64_t D = flow->D;
    if (has_suffix(spec, ".png") || has_suffix(spec, ".PNG")) {
        genc_image im, rs;
        if (genc_png_read(spec, &im)) return GENC_ERR;
        int rc = genc_image_resize(&im, c->C, c->H, c->W, &rs);
        genc_image_free(&im);
        if (rc) return GENC_ERR;
        *pix = malloc(sizeof(float) * (size_t)D);
        if (!*pix) {
            genc_image_free(&rs);
            return genc_set_error("out of memory");
        }
        genc_image_to_chw(&rs, 0.f, 255.f, *pix);
        genc_image_free(&rs);
        *n = 1;
    } else {
        genc_images im;
        if (genc_images_load(spec, strcmp(spec, "fashion-mnist") == 0 ? GENC_SPLIT_TEST : GENC_SPLIT_ALL, &im)) return GENC_ERR;
        if (im.channels != c->C || im.height != c->H || im.width != c->W) {
            genc_images_free(&im);
            return genc_set_error("%s: images are %dx%dx%d, the flow takes %dx%dx%d", spec, im.channels, im.height, im.width,
                                  c->C, c->H, c->W);
        }
        *n = max_n > 0 && max_n < im.n ? max_n : im.n;
        *pix = malloc(sizeof(float) * (size_t)(*n * D));
        if (!*pix) {
            genc_images_free(&im);
            return genc_set_error("out of memory: %lld images", (long long)*n);
        }
        genc_images_get(&im, 0, *n, 0.f, 255.f, *pix, NULL);
        genc_images_free(&im);
    }
    for (int64_t i = 0; i < *n * D; i++) (*pix)[i] = rintf((*pix)[i]);
    return GENC_OK;
}

int cmd_encode(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(ENCODE_HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("encode needs a run folder: genc encode DIR --images FILE");
    const char *images = NULL, *out = "latents.safetensors";
    int64_t max_n = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(ENCODE_HELP);
        else if (flag(&a, "--images")) images = val_str(&a, "--images");
        else if (flag(&a, "--n")) max_n = val_i64(&a, "--n", 1, (int64_t)1 << 30);
        else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else return usage_error("unknown flag '%s' for encode (see genc encode --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!images) return usage_error("encode needs --images FILE");
    genc_flow flow;
    int rc = open_image_flow(argv[0], &flow);
    if (rc) return rc;
    float *pix = NULL, *z = NULL;
    int64_t n = 0;
    if (load_pixels(&flow, images, max_n, &pix, &n) == GENC_OK && (z = malloc(sizeof(float) * (size_t)(n * flow.D))) &&
        flow_encode_pixels(&flow, pix, n, z) == GENC_OK) {
        char dims[32];
        snprintf(dims, sizeof dims, "%lld", (long long)flow.D);
        genc_st_kv meta[1] = {{"flow_dims", dims}};
        genc_st_entry e = {"latents", GENC_DT_F32, 2, {n, flow.D}, z};
        rc = genc_st_write(out, &e, 1, meta, 1) ? runtime_error("%s", genc_error()) : 0;
        if (!rc) printf("wrote %s: %lld latents of %lld dims\n", out, (long long)n, (long long)flow.D);
    } else rc = runtime_error("%s", z || !pix ? genc_error() : "out of memory");
    free(pix), free(z);
    genc_flow_free(&flow);
    return rc;
}

/* An IDX file of unsigned bytes [n, H, W] (1 channel) or [n, H, W, C]. */
static int write_idx(const char *path, const float *pix, int64_t n, int C, int H, int W) {
    int nd = C == 1 ? 3 : 4;
    size_t hdr = 4 + 4 * (size_t)nd, sz = hdr + (size_t)(n * C * H * W);
    uint8_t *b = malloc(sz);
    if (!b) return genc_set_error("out of memory");
    uint32_t dims[4] = {(uint32_t)n, (uint32_t)H, (uint32_t)W, (uint32_t)C};
    b[0] = b[1] = 0, b[2] = 0x08, b[3] = (uint8_t)nd;
    for (int d = 0; d < nd; d++)
        for (int k = 0; k < 4; k++) b[4 + 4 * d + k] = (uint8_t)(dims[d] >> (24 - 8 * k));
    for (int64_t i = 0; i < n; i++)   /* [C][H][W] → [H][W][C] */
        for (int c = 0; c < C; c++)
            for (int p = 0; p < H * W; p++) b[hdr + (size_t)((i * H * W + p) * C + c)] = (uint8_t)pix[(i * C + c) * H * W + p];
    int rc = genc_write_file_atomic(path, b, sz);
    free(b);
    return rc;
}

int cmd_decode(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(DECODE_HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("decode needs a run folder: genc decode DIR --latents FILE");
    const char *lat = NULL, *out = "decoded.png";
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(DECODE_HELP);
        else if (flag(&a, "--latents")) lat = val_str(&a, "--latents");
        else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else return usage_error("unknown flag '%s' for decode (see genc decode --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!lat) return usage_error("decode needs --latents FILE");
    int png = has_suffix(out, ".png"), idx = has_suffix(out, ".idx");
    if (!png && !idx) return usage_error("decode --out: a .png or .idx file, got '%s'", out);
    genc_flow flow;
    int rc = open_image_flow(argv[0], &flow);
    if (rc) return rc;
    genc_st_file f;
    if (genc_st_read(lat, &f)) {
        genc_flow_free(&flow);
        return runtime_error("%s", genc_error());
    }
    const genc_st_tensor *t = genc_st_find(&f, "latents");
    float *z = NULL, *pix = NULL;
    int64_t n = t && t->ndim == 2 ? t->shape[0] : 0;
    if (!t || t->ndim != 2 || t->shape[1] != flow.D || n < 1 || n > 100000)
        rc = runtime_error("%s: needs a tensor \"latents\" [N, %lld] with 1 <= N <= 100000", lat, (long long)flow.D);
    else if (!png || n <= 1024) {
        z = malloc(sizeof(float) * (size_t)(n * flow.D));
        pix = malloc(sizeof(float) * (size_t)(n * flow.D));
        if (!z || !pix) rc = runtime_error("out of memory: %lld latents", (long long)n);
        else if (genc_st_get_f32(&f, "latents", z, n * flow.D) || flow_decode_latents(&flow, z, n, pix) ||
                 (png ? genc_png_grid(out, pix, (int)n, flow.cfg.C, flow.cfg.H, flow.cfg.W, 0, 0.f, 255.f)
                      : write_idx(out, pix, n, flow.cfg.C, flow.cfg.H, flow.cfg.W)))
            rc = runtime_error("%s", genc_error());
        else printf("wrote %s: %lld images\n", out, (long long)n);
    } else rc = usage_error("%lld latents: a PNG grid holds at most 1024 (write an .idx)", (long long)n);
    free(z), free(pix);
    genc_st_free(&f);
    genc_flow_free(&flow);
    return rc;
}
