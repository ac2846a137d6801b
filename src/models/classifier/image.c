/* A picture (genc_png_read) → one input image of the classifier. The resampling is the shared
 * genc_image_resize (centred crop to the model's aspect ratio, area average, BT.601 luma for
 * gray); what is the classifier's own is the polarity: Fashion-MNIST shows light objects on
 * black, while a photo of a product is usually dark on white, so a picture whose border ring
 * is brighter than mid-gray is inverted (unless the caller says otherwise). */
#include "genc/classifier.h"

#define MAX_ASPECT 16

/* Mean of the outer ring of pixels, all channels, 0..255. */
static double border_mean(const genc_image *im) {
    int W = im->width, H = im->height, C = im->channels;
    double sum = 0;
    int64_t n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (y != 0 && y != H - 1 && x != 0 && x != W - 1) continue;
            for (int c = 0; c < C; c++) sum += im->pixels[((int64_t)y * W + x) * C + c];
            n += C;
        }
    return sum / (double)n;
}

int genc_classifier_picture_input(const genc_classifier_config *cfg, const genc_image *pic, int invert, float *out,
                                  int *inverted) {
    int w = pic->width, h = pic->height;
    if ((int64_t)w > (int64_t)MAX_ASPECT * h || (int64_t)h > (int64_t)MAX_ASPECT * w)
        return genc_set_error("the picture is %dx%d, more than %d times longer one way than the other: its centre "
                              "cropped to %dx%d would not show one whole object",
                              w, h, MAX_ASPECT, cfg->width, cfg->height);
    if (cfg->channels != 1 && cfg->channels != 3)
        return genc_set_error("the model takes %d-channel images; a picture gives 1 or 3", cfg->channels);
    genc_image small;
    if (genc_image_resize(pic, cfg->channels, cfg->height, cfg->width, &small)) return GENC_ERR;
    int inv = invert < 0 ? border_mean(&small) > 127.5 : invert != 0;
    if (inverted) *inverted = inv;
    /* inverting v → 255 − v is mapping 0..255 onto [hi, lo] instead of [lo, hi] */
    genc_image_to_chw(&small, inv ? GENC_CLASSIFIER_HI : GENC_CLASSIFIER_LO,
                      inv ? GENC_CLASSIFIER_LO : GENC_CLASSIFIER_HI, out);
    genc_image_free(&small);
    return GENC_OK;
}
