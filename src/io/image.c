/* 8-bit images in memory (genc_image, as read from PNG): resampling to the size and channels a
 * model takes, and conversion to float CHW tensors.
 *
 * Resampling keeps the aspect ratio: the largest centred region of the source with the
 * target's aspect ratio (fractional edges allowed) is cut out, then every output pixel is
 * the area-weighted mean of the source pixels it covers (a box filter: the right filter for
 * shrinking, blocky but faithful for enlarging). Colour to gray uses the BT.601 luma weights
 * 0.299 R + 0.587 G + 0.114 B on the stored values (no gamma decoding); gray to colour repeats
 * the value. */
#include "genc/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void genc_image_free(genc_image *im) {
    if (!im) return;
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

/* Source pixels covered by output pixel o: [off + o s, off + (o + 1) s), each with the
 * fraction of s it covers. Returns the number of (index, weight) pairs written. */
static int coverage(double off, double s, int o, int n_src, int *idx, double *wgt) {
    double a = off + o * s, b = a + s;
    int k = 0;
    for (int i = (int)floor(a); i < b && i < n_src; i++) {
        if (i < 0) continue;
        double w = (fmin(i + 1.0, b) - fmax((double)i, a)) / s;
        if (w <= 0) continue;
        idx[k] = i;
        wgt[k++] = w;
    }
    return k;
}

int genc_image_resize(const genc_image *in, int channels, int height, int width, genc_image *out) {
    memset(out, 0, sizeof *out);
    if (!in || !in->pixels || in->width < 1 || in->height < 1 ||
        (in->channels != 1 && in->channels != 3))
        return genc_set_error("image_resize: the source is not a 1- or 3-channel image");
    if ((channels != 1 && channels != 3) || width < 1 || height < 1 || width > GENC_PNG_MAX_SIDE ||
        height > GENC_PNG_MAX_SIDE || (int64_t)width * height > GENC_PNG_MAX_PIXELS)
        return genc_set_error(
            "image_resize: cannot make a %dx%d image with %d channels (1 or 3 channels, "
            "at most %d a side and %lld pixels)",
            width, height, channels, GENC_PNG_MAX_SIDE, (long long)GENC_PNG_MAX_PIXELS);
    int W = in->width, H = in->height, C = in->channels;
    /* the centred crop with the target's aspect ratio */
    double cw = W, ch = H, x0 = 0, y0 = 0;
    if ((double)W * height > (double)H * width) {
        cw = (double)H * width / height;
        x0 = (W - cw) / 2;
    } else {
        ch = (double)W * height / width;
        y0 = (H - ch) / 2;
    }
    double sx = cw / width, sy = ch / height;
    int nx_max = (int)ceil(sx) + 2, ny_max = (int)ceil(sy) + 2;
    out->pixels = malloc((size_t)width * height * channels);
    double *row = malloc(sizeof(double) * (size_t)W * C);
    int *xi = malloc(sizeof(int) * (size_t)nx_max), *yi = malloc(sizeof(int) * (size_t)ny_max);
    double *xw = malloc(sizeof(double) * (size_t)nx_max),
           *yw = malloc(sizeof(double) * (size_t)ny_max);
    int rc = out->pixels && row && xi && yi && xw && yw
                 ? GENC_OK
                 : genc_set_error("image_resize: out of memory");
    for (int oy = 0; rc == GENC_OK && oy < height; oy++) {
        /* the output row's source rows, weighted, summed into one row */
        memset(row, 0, sizeof(double) * (size_t)W * C);
        int ny = coverage(y0, sy, oy, H, yi, yw);
        for (int k = 0; k < ny; k++) {
            const uint8_t *src = in->pixels + (size_t)yi[k] * W * C;
            for (int i = 0; i < W * C; i++) row[i] += yw[k] * src[i];
        }
        for (int ox = 0; ox < width; ox++) {
            double v[3] = {0, 0, 0};
            int nx = coverage(x0, sx, ox, W, xi, xw);
            for (int k = 0; k < nx; k++)
                for (int c = 0; c < C; c++) v[c] += xw[k] * row[(size_t)xi[k] * C + c];
            if (C == 1) v[1] = v[2] = v[0];
            uint8_t *dst = out->pixels + ((size_t)oy * width + ox) * channels;
            if (channels == 1) v[0] = C == 1 ? v[0] : 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
            for (int c = 0; c < channels; c++)
                dst[c] = (uint8_t)lrint(fmin(255.0, fmax(0.0, v[c])));
        }
    }
    free(row);
    free(xi);
    free(yi);
    free(xw);
    free(yw);
    if (rc != GENC_OK) {
        genc_image_free(out);
        return rc;
    }
    out->width = width;
    out->height = height;
    out->channels = channels;
    return GENC_OK;
}

void genc_image_to_chw(const genc_image *im, float lo, float hi, float *chw) {
    int64_t hw = (int64_t)im->height * im->width;
    for (int c = 0; c < im->channels; c++)
        for (int64_t p = 0; p < hw; p++)
            chw[c * hw + p] = lo + (hi - lo) * ((float)im->pixels[p * im->channels + c] / 255.0f);
}
