/* PNG: gray and RGB images read back with libpng pixel for pixel, argument checks, and the
 * line plot (valid PNG of the requested size, series drawn in their colours, edge cases). */
#include "testutil.h"

#include <float.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Read a PNG with libpng into 8-bit pixels of the given format (malloc'd); NULL on failure. */
static uint8_t *read_png(const char *path, png_uint_32 format, int *w, int *h, png_uint_32 *file_format) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) {
        fprintf(stderr, "  libpng: %s: %s\n", path, img.message);
        return NULL;
    }
    *file_format = img.format;
    img.format = format;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
        fprintf(stderr, "  libpng: %s: %s\n", path, img.message);
        free(px);
        png_image_free(&img);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return px;
}

static void test_gray_rgb(void) {
    enum { W = 13, H = 7 };
    uint8_t gray[W * H], rgb[W * H * 3];
    for (int i = 0; i < W * H; i++) gray[i] = (uint8_t)(i * 251 % 256);
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (uint8_t)(i * 97 + 13);
    int w, h;
    png_uint_32 ff;
    CHECK(genc_png_write("png_gray.png", gray, W, H, 1) == GENC_OK, "write gray: %s", genc_error());
    uint8_t *g = read_png("png_gray.png", PNG_FORMAT_GRAY, &w, &h, &ff);
    CHECK(g && w == W && h == H && ff == PNG_FORMAT_GRAY, "gray header %dx%d format %u", w, h, (unsigned)ff);
    CHECK(g && memcmp(g, gray, sizeof gray) == 0, "gray pixels equal");
    free(g);
    CHECK(genc_png_write("png_rgb.png", rgb, W, H, 3) == GENC_OK, "write rgb: %s", genc_error());
    uint8_t *c = read_png("png_rgb.png", PNG_FORMAT_RGB, &w, &h, &ff);
    CHECK(c && w == W && h == H && ff == PNG_FORMAT_RGB, "rgb header %dx%d format %u", w, h, (unsigned)ff);
    CHECK(c && memcmp(c, rgb, sizeof rgb) == 0, "rgb pixels equal");
    free(c);
    uint8_t one = 200;
    CHECK(genc_png_write("png_one.png", &one, 1, 1, 1) == GENC_OK, "1x1 image");
    unlink("png_gray.png");
    unlink("png_rgb.png");
    unlink("png_one.png");

    CHECK(genc_png_write("png_bad.png", gray, W, H, 2) == GENC_ERR && strstr(genc_error(), "2 channels"),
          "2 channels refused: %s", genc_error());
    CHECK(genc_png_write("png_bad.png", gray, 0, H, 1) == GENC_ERR, "width 0 refused");
    CHECK(genc_png_write("png_bad.png", gray, W, -1, 1) == GENC_ERR, "negative height refused");
    CHECK(genc_png_write("png_bad.png", NULL, W, H, 1) == GENC_ERR, "NULL pixels refused");
    CHECK(genc_png_write("png_no_folder/x.png", gray, W, H, 1) == GENC_ERR &&
          strstr(genc_error(), "png_no_folder/x.png"), "missing folder: %s", genc_error());
    CHECK(access("png_bad.png", F_OK) != 0, "nothing written on refusal");
}

/* Pixels of an RGB image equal to (r, g, b). */
static int count_colour(const uint8_t *px, int n, int r, int g, int b) {
    int k = 0;
    for (int i = 0; i < n; i++) k += px[3 * i] == r && px[3 * i + 1] == g && px[3 * i + 2] == b;
    return k;
}

static void test_plot(void) {
    enum { N = 200 };
    double x[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        x[i] = i * 5;
        a[i] = 4.0 * exp(-i / 40.0) + 1.0;
        b[i] = 4.2 * exp(-i / 50.0) + 1.3;
    }
    const double *ys[] = {a, b};
    const char *labels[] = {"train loss", "test loss"};
    CHECK(genc_png_plot("png_plot.png", "loss (lm)", x, ys, labels, 2, N, 480, 300) == GENC_OK,
          "plot: %s", genc_error());
    int w, h;
    png_uint_32 ff;
    uint8_t *px = read_png("png_plot.png", PNG_FORMAT_RGB, &w, &h, &ff);
    CHECK(px && w == 480 && h == 300 && ff == PNG_FORMAT_RGB, "plot is a %dx%d RGB PNG", w, h);
    if (px) {
        CHECK(px[0] == 255 && px[1] == 255 && px[2] == 255, "white background");
        /* the first two series colours (tab10 blue and orange) are on the canvas */
        int blue = count_colour(px, w * h, 31, 119, 180), orange = count_colour(px, w * h, 255, 127, 14);
        CHECK(blue > 200 && orange > 200, "both series drawn (%d, %d pixels)", blue, orange);
        int ink = count_colour(px, w * h, 40, 40, 40);
        CHECK(ink > 100, "text drawn (%d pixels)", ink);
        free(px);
    }
    unlink("png_plot.png");

    /* Edge cases must not fail or crash: NaN and inf gaps, one point, no points, a flat line,
     * a flat line far from zero, tiny and huge values, no labels, eight series. */
    double nan_y[N], flat[N], far[N], tiny[N], huge[N];
    for (int i = 0; i < N; i++) {
        nan_y[i] = i % 7 == 3 ? NAN : i % 11 == 5 ? INFINITY : sin(i * 0.1);
        flat[i] = 2.5;
        far[i] = 1e12 + (i % 2);
        tiny[i] = 1e-9 * i;
        huge[i] = -3e200 * i;
    }
    const double *cases[][1] = {{nan_y}, {flat}, {far}, {tiny}, {huge}};
    for (int k = 0; k < 5; k++) {
        CHECK(genc_png_plot("png_edge.png", NULL, x, cases[k], NULL, 1, N, 200, 120) == GENC_OK,
              "edge case %d: %s", k, genc_error());
    }
    /* Near the float limits: refusing is fine, crashing or hanging is not. */
    double lim[4][3] = {{1e-300, 1.0000000001e-300, 1e-300}, {DBL_MAX, -DBL_MAX, 0},
                        {DBL_MAX, DBL_MAX * 0.5, DBL_MAX}, {4.9e-324, 0, -4.9e-324}};
    double lx[3] = {0, 1e-320, DBL_MAX};
    for (int k = 0; k < 4; k++) {
        const double *one[1] = {lim[k]};
        int rc = genc_png_plot("png_edge.png", "limits", lx, one, NULL, 1, 3, 200, 120);
        CHECK(rc == GENC_OK || rc == GENC_ERR, "limit case %d", k);
    }
    CHECK(genc_png_plot("png_edge.png", "one point", x, ys, labels, 2, 1, 200, 120) == GENC_OK, "one point");
    CHECK(genc_png_plot("png_edge.png", "empty", NULL, ys, labels, 2, 0, 200, 120) == GENC_OK, "no points: %s", genc_error());
    const double *eight[8] = {a, b, nan_y, flat, tiny, a, b, flat};
    CHECK(genc_png_plot("png_edge.png", "eight series with a title much longer than the image is wide",
                        x, eight, NULL, 8, N, 300, 200) == GENC_OK, "eight series");
    px = read_png("png_edge.png", PNG_FORMAT_RGB, &w, &h, &ff);
    CHECK(px && w == 300 && h == 200, "eight-series plot reads back");
    free(px);
    unlink("png_edge.png");

    const double *nine[9] = {a, a, a, a, a, a, a, a, a};
    CHECK(genc_png_plot("png_bad.png", "t", x, nine, NULL, 9, N, 300, 200) == GENC_ERR, "nine series refused");
    CHECK(genc_png_plot("png_bad.png", "t", x, ys, NULL, 0, N, 300, 200) == GENC_ERR, "zero series refused");
    CHECK(genc_png_plot("png_bad.png", "t", x, ys, NULL, 2, N, 20, 10) == GENC_ERR &&
          strstr(genc_error(), "20x10"), "tiny canvas refused: %s", genc_error());
    const double *with_null[2] = {a, NULL};
    CHECK(genc_png_plot("png_bad.png", "t", x, with_null, NULL, 2, N, 300, 200) == GENC_ERR, "NULL series refused");
    CHECK(access("png_bad.png", F_OK) != 0, "nothing written on refusal");
}

int main(void) {
    test_gray_rgb();
    test_plot();
    return tu_finish();
}
