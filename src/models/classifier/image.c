/* Any picture → the classifier's input: gray (or RGB), square, H×W, in [-1, 1], with a dark
 * background like Fashion-MNIST's. Steps, each for a reason:
 *   1. colour → the model's channels: luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601,
 *      the weights PIL's convert("L") uses); gray → RGB by copying; alpha composited over white
 *      (how a viewer shows it);
 *   2. polarity: the training images are light objects on black. A photo of a product is
 *      usually dark on white; when the border (outer ring of pixels) is brighter than mid-gray
 *      the picture is inverted (auto), or as the caller says;
 *   3. pad to a square with the border's mean value (so the object keeps its aspect ratio,
 *      centred like the training images), then
 *   4. area-average (box) resampling to H×W: each output pixel is the mean of the input area
 *      it covers, with fractional weights at the edges (no aliasing when shrinking). */
#include "genc/classifier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SIDE 4096
#define MAX_ASPECT 16

/* Channel k of pixel i as [0, 1], alpha composited over white. */
static float px(const uint8_t *p, int64_t i, int ch, int k) {
    const uint8_t *q = p + i * ch;
    int has_alpha = ch == 2 || ch == 4, colour = ch >= 3;
    float v = q[colour ? k : 0] / 255.f;
    if (has_alpha) {
        float a = q[ch - 1] / 255.f;
        v = v * a + (1.f - a);
    }
    return v;
}

/* Box resampling of one plane src[h, w] into dst[H, W] (both row-major). */
static void box_resize(const float *src, int w, int h, float *dst, int W, int H) {
    double sx = (double)w / W, sy = (double)h / H;
    for (int oy = 0; oy < H; oy++) {
        double y0 = oy * sy, y1 = y0 + sy;
        for (int ox = 0; ox < W; ox++) {
            double x0 = ox * sx, x1 = x0 + sx, acc = 0, area = 0;
            for (int y = (int)y0; y < h && y < y1; y++) {
                double wy = fmin(y + 1, y1) - fmax(y, y0);
                for (int x = (int)x0; x < w && x < x1; x++) {
                    double wx = fmin(x + 1, x1) - fmax(x, x0);
                    acc += wx * wy * src[(int64_t)y * w + x];
                    area += wx * wy;
                }
            }
            dst[(int64_t)oy * W + ox] = (float)(area > 0 ? acc / area : 0);
        }
    }
}

int genc_classifier_image_input(const genc_classifier_config *cfg, const uint8_t *pixels, int w, int h, int ch,
                                int invert, float *out, int *inverted) {
    if (w < 1 || h < 1 || ch < 1 || ch > 4) return genc_set_error("the image has no pixels (%dx%d)", w, h);
    if (w > MAX_SIDE || h > MAX_SIDE)
        return genc_set_error("the image is %dx%d; the largest side accepted is %d pixels", w, h, MAX_SIDE);
    if ((int64_t)w > (int64_t)MAX_ASPECT * h || (int64_t)h > (int64_t)MAX_ASPECT * w)
        return genc_set_error("the image is %dx%d, more than %d times longer one way than the other: not a "
                              "picture of one object the model could recognise at %dx%d",
                              w, h, MAX_ASPECT, cfg->width, cfg->height);
    int C = cfg->channels, S = w > h ? w : h;
    if (C != 1 && C != 3) return genc_set_error("the model takes %d-channel images; only 1 or 3 can be made from a PNG", C);
    int64_t n = (int64_t)w * h;
    float *plane = malloc(sizeof(float) * (size_t)n), *square = malloc(sizeof(float) * (size_t)S * S);
    if (!plane || !square) {
        free(plane);
        free(square);
        return genc_set_error("out of memory for a %dx%d image", w, h);
    }
    /* polarity from the luma of the border ring */
    double border = 0;
    int64_t nb = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t y = i / w, x = i % w;
        float v = ch >= 3 ? 0.299f * px(pixels, i, ch, 0) + 0.587f * px(pixels, i, ch, 1) + 0.114f * px(pixels, i, ch, 2)
                          : px(pixels, i, ch, 0);
        plane[i] = v;
        if (x == 0 || y == 0 || x == w - 1 || y == h - 1) {
            border += v;
            nb++;
        }
    }
    border /= (double)nb;
    int inv = invert < 0 ? border > 0.5 : invert != 0;
    if (inverted) *inverted = inv;
    for (int c = 0; c < C; c++) {
        /* plane c: luma for a gray model, else the image's channel c (gray copied) */
        if (c > 0 || C == 3)
            for (int64_t i = 0; i < n; i++) plane[i] = px(pixels, i, ch, ch >= 3 ? c : 0);
        double fill = 0;
        for (int64_t i = 0; i < n; i++) {
            if (inv) plane[i] = 1.f - plane[i];
            int64_t y = i / w, x = i % w;
            if (x == 0 || y == 0 || x == w - 1 || y == h - 1) fill += plane[i];
        }
        fill /= (double)nb;
        int ox = (S - w) / 2, oy = (S - h) / 2;
        for (int64_t i = 0; i < (int64_t)S * S; i++) square[i] = (float)fill;
        for (int y = 0; y < h; y++) memcpy(square + (int64_t)(y + oy) * S + ox, plane + (int64_t)y * w, sizeof(float) * (size_t)w);
        float *dst = out + (int64_t)c * cfg->height * cfg->width;
        box_resize(square, S, S, dst, cfg->width, cfg->height);
        for (int64_t i = 0; i < (int64_t)cfg->height * cfg->width; i++)
            dst[i] = GENC_CLASSIFIER_LO + (GENC_CLASSIFIER_HI - GENC_CLASSIFIER_LO) * dst[i];
    }
    free(plane);
    free(square);
    return GENC_OK;
}
