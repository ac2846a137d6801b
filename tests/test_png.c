/* PNG: gray and RGB images read back with libpng pixel for pixel, argument checks, the line
 * plot (valid PNG of the requested size, series drawn in their colours, edge cases); reading
 * every PNG flavour (palette, low bit depths, 16 bits, alpha, interlacing) against values
 * computed here; hostile files (not a PNG, truncated at every length, bad CRC, huge declared
 * sizes, random damage); resizing; grids written and read back; 2D panels. */
#include "testutil.h"

#include <float.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* Read a PNG with libpng into 8-bit pixels of the given format (malloc'd); NULL on failure. */
static uint8_t *read_png(const char *path, png_uint_32 format, int *w, int *h,
                         png_uint_32 *file_format) {
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
    CHECK(g && w == W && h == H && ff == PNG_FORMAT_GRAY, "gray header %dx%d format %u", w, h,
          (unsigned)ff);
    CHECK(g && memcmp(g, gray, sizeof gray) == 0, "gray pixels equal");
    free(g);
    CHECK(genc_png_write("png_rgb.png", rgb, W, H, 3) == GENC_OK, "write rgb: %s", genc_error());
    uint8_t *c = read_png("png_rgb.png", PNG_FORMAT_RGB, &w, &h, &ff);
    CHECK(c && w == W && h == H && ff == PNG_FORMAT_RGB, "rgb header %dx%d format %u", w, h,
          (unsigned)ff);
    CHECK(c && memcmp(c, rgb, sizeof rgb) == 0, "rgb pixels equal");
    free(c);
    uint8_t one = 200;
    CHECK(genc_png_write("png_one.png", &one, 1, 1, 1) == GENC_OK, "1x1 image");
    unlink("png_gray.png");
    unlink("png_rgb.png");
    unlink("png_one.png");

    CHECK(genc_png_write("png_bad.png", gray, W, H, 2) == GENC_ERR &&
              strstr(genc_error(), "2 channels"),
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
        int blue = count_colour(px, w * h, 31, 119, 180),
            orange = count_colour(px, w * h, 255, 127, 14);
        CHECK(blue > 200 && orange > 200, "both series drawn (%d, %d pixels)", blue, orange);
        int ink = count_colour(px, w * h, 40, 40, 40);
        CHECK(ink > 100, "text drawn (%d pixels)", ink);
        free(px);
    }
    unlink("png_plot.png");

    /* Axis titles. x: ink more than a text line (7 rows + gap) below the frame's bottom edge,
     * where the plain plot's tick labels end. y: a tall column of ink left of the frame (the
     * title written upwards, ~6 rows per letter) where the plain plot has only tick labels,
     * each 7 rows high and far apart. */
    int below[2], run[2];
    for (int k = 0; k < 2; k++) {
        int rc = k ? genc_png_plot_axes("png_axes.png", "loss", "step", "loss (bpc)", x, ys, labels, 2, N, 480, 300)
                   : genc_png_plot("png_axes.png", "loss", x, ys, labels, 2, N, 480, 300);
        CHECK(rc == GENC_OK, "plot %d: %s", k, genc_error());
        uint8_t *q = read_png("png_axes.png", PNG_FORMAT_RGB, &w, &h, &ff);
        int fx0 = w, fy1 = 0; /* the frame's left and bottom edges */
        for (int i = 0; q && i < w * h; i++)
            if (q[3 * i] == 120 && q[3 * i + 1] == 120 && q[3 * i + 2] == 120) {
                if (i % w < fx0) fx0 = i % w;
                if (i / w > fy1) fy1 = i / w;
            }
        below[k] = run[k] = 0;
        int cur = 0, gap = 0;
        for (int yy = 0; q && yy < h; yy++) {
            int row_ink = 0;
            for (int xx = 0; xx < w; xx++) {
                const uint8_t *p = q + 3 * (yy * w + xx);
                if (!(p[0] == 40 && p[1] == 40 && p[2] == 40)) continue;
                if (yy > fy1 + 7 + 7 + 2) below[k]++;
                if (xx < fx0 && xx < 30) row_ink = 1;
            }
            if (row_ink) { cur += gap + 1; gap = 0; }
            else if (++gap > 2) { cur = 0; gap = 0; } /* letters are 1 row apart, words 6 */
            if (cur > run[k]) run[k] = cur;
        }
        free(q);
    }
    CHECK(below[0] == 0 && below[1] > 10, "x title below the tick labels (%d, %d ink pixels)", below[0], below[1]);
    CHECK(run[0] <= 8 && run[1] >= 20, "y title up the left side (ink runs of %d, %d rows)", run[0], run[1]);
    unlink("png_axes.png");

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
    CHECK(genc_png_plot("png_edge.png", "one point", x, ys, labels, 2, 1, 200, 120) == GENC_OK,
          "one point");
    CHECK(genc_png_plot("png_edge.png", "empty", NULL, ys, labels, 2, 0, 200, 120) == GENC_OK,
          "no points: %s", genc_error());
    const double *eight[8] = {a, b, nan_y, flat, tiny, a, b, flat};
    CHECK(genc_png_plot("png_edge.png",
                        "eight series with a title much longer than the image is wide", x, eight,
                        NULL, 8, N, 300, 200) == GENC_OK,
          "eight series");
    px = read_png("png_edge.png", PNG_FORMAT_RGB, &w, &h, &ff);
    CHECK(px && w == 300 && h == 200, "eight-series plot reads back");
    free(px);
    unlink("png_edge.png");

    const double *nine[9] = {a, a, a, a, a, a, a, a, a};
    CHECK(genc_png_plot("png_bad.png", "t", x, nine, NULL, 9, N, 300, 200) == GENC_ERR,
          "nine series refused");
    CHECK(genc_png_plot("png_bad.png", "t", x, ys, NULL, 0, N, 300, 200) == GENC_ERR,
          "zero series refused");
    CHECK(genc_png_plot("png_bad.png", "t", x, ys, NULL, 2, N, 20, 10) == GENC_ERR &&
          strstr(genc_error(), "20x10"), "tiny canvas refused: %s", genc_error());
    const double *with_null[2] = {a, NULL};
    CHECK(genc_png_plot("png_bad.png", "t", x, with_null, NULL, 2, N, 300, 200) == GENC_ERR,
          "NULL series refused");
    CHECK(access("png_bad.png", F_OK) != 0, "nothing written on refusal");
}

/* ------------------------------------------------------------------ reading */

/* A PNG written with libpng's low-level API in any format; rows are packed as the format
 * says. Returns 0 on failure. */
static int write_raw(const char *path, int w, int h, int depth, int type, const uint8_t *data,
                     const png_color *pal, int n_pal, const uint8_t *trns, int n_trns,
                     int interlace) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, n_pal);
    if (trns) png_set_tRNS(png, info, trns, n_trns, NULL);
    png_write_info(png, info);
    if (depth == 16) png_set_swap(png);   /* data below is little-endian uint16 */
    size_t stride = png_get_rowbytes(png, info);
    png_bytep *rows = malloc(sizeof *rows * (size_t)h);
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)data + (size_t)y * stride;
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    fclose(f);
    return 1;
}

static uint8_t over_white(int v, int a) {
    return (uint8_t)lround((v * a + 255.0 * (255 - a)) / 255.0);
}

/* Read path and compare with the expected 8-bit pixels. */
static void expect_pixels(const char *what, const char *path, int w, int h, int ch,
                          const uint8_t *want) {
    genc_image im;
    int rc = genc_png_read(path, &im);
    CHECK(rc == GENC_OK, "%s: read: %s", what, genc_error());
    if (rc != GENC_OK) return;
    CHECK(im.width == w && im.height == h && im.channels == ch, "%s: %dx%dx%d, want %dx%dx%d", what,
          im.width, im.height, im.channels, w, h, ch);
    int bad = -1;
    for (int i = 0; bad < 0 && im.channels == ch && im.width == w && i < w * h * ch; i++)
        if (im.pixels[i] != want[i]) bad = i;
    CHECK(bad < 0, "%s: pixel byte %d is %d, want %d", what, bad, bad >= 0 ? im.pixels[bad] : 0,
          bad >= 0 ? want[bad] : 0);
    genc_image_free(&im);
}

static void test_read_formats(void) {
    enum { W = 9, H = 5, N = W * H };
    uint8_t data[N * 8], want[N * 3];
    /* gray 1, 2, 4 bits: v expands to v * 255 / (2^d - 1) */
    for (int d = 1; d <= 4; d *= 2) {
        int per = 8 / d, stride = (W + per - 1) / per, maxv = (1 << d) - 1;
        memset(data, 0, sizeof data);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int v = (x + 2 * y) % (maxv + 1);
                data[y * stride + x / per] |= (uint8_t)(v << (8 - d - (x % per) * d));
                want[y * W + x] = (uint8_t)(v * 255 / maxv);
            }
        char what[32];
        snprintf(what, sizeof what, "gray %d-bit", d);
        CHECK(write_raw("png_r.png", W, H, d, PNG_COLOR_TYPE_GRAY, data, NULL, 0, NULL, 0, 0),
              "write %s", what);
        expect_pixels(what, "png_r.png", W, H, 1, want);
    }
    /* 16-bit gray: v -> round(v / 257) */
    for (int i = 0; i < N; i++) {
        int v = (i * 1531 + 77) % 65536;
        data[2 * i] = (uint8_t)v;
        data[2 * i + 1] = (uint8_t)(v >> 8);
        want[i] = (uint8_t)lround(v / 257.0);
    }
    write_raw("png_r.png", W, H, 16, PNG_COLOR_TYPE_GRAY, data, NULL, 0, NULL, 0, 0);
    expect_pixels("gray 16-bit", "png_r.png", W, H, 1, want);
    /* gray + alpha on white */
    for (int i = 0; i < N; i++) {
        data[2 * i] = (uint8_t)(i * 37);
        data[2 * i + 1] = (uint8_t)(i * 59 + 3);
        want[i] = over_white(data[2 * i], data[2 * i + 1]);
    }
    write_raw("png_r.png", W, H, 8, PNG_COLOR_TYPE_GRAY_ALPHA, data, NULL, 0, NULL, 0, 0);
    expect_pixels("gray + alpha", "png_r.png", W, H, 1, want);
    /* RGBA on white, interlaced */
    for (int i = 0; i < N; i++) {
        for (int c = 0; c < 4; c++) data[4 * i + c] = (uint8_t)(i * 13 + c * 71);
        for (int c = 0; c < 3; c++) want[3 * i + c] = over_white(data[4 * i + c], data[4 * i + 3]);
    }
    write_raw("png_r.png", W, H, 8, PNG_COLOR_TYPE_RGB_ALPHA, data, NULL, 0, NULL, 0, 1);
    expect_pixels("RGBA, interlaced", "png_r.png", W, H, 3, want);
    /* 16-bit RGB */
    for (int i = 0; i < 3 * N; i++) {
        int v = (i * 977) % 65536;
        data[2 * i] = (uint8_t)v;
        data[2 * i + 1] = (uint8_t)(v >> 8);
        want[i] = (uint8_t)lround(v / 257.0);
    }
    write_raw("png_r.png", W, H, 16, PNG_COLOR_TYPE_RGB, data, NULL, 0, NULL, 0, 0);
    expect_pixels("RGB 16-bit", "png_r.png", W, H, 3, want);
    /* 4-bit palette, entry 2 half transparent */
    png_color pal[3] = {{10, 20, 30}, {200, 100, 0}, {0, 255, 128}};
    uint8_t trns[3] = {255, 255, 128};
    memset(data, 0, sizeof data);
    int stride = (W + 1) / 2;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int k = (x * y + x) % 3;
            data[y * stride + x / 2] |= (uint8_t)(k << (x % 2 ? 0 : 4));
            want[3 * (y * W + x)] = over_white(pal[k].red, trns[k]);
            want[3 * (y * W + x) + 1] = over_white(pal[k].green, trns[k]);
            want[3 * (y * W + x) + 2] = over_white(pal[k].blue, trns[k]);
        }
    write_raw("png_r.png", W, H, 4, PNG_COLOR_TYPE_PALETTE, data, pal, 3, trns, 3, 0);
    expect_pixels("palette with transparency", "png_r.png", W, H, 3, want);
    unlink("png_r.png");
}

/* A chunk with its CRC (length, type, data, CRC over type and data). */
static size_t put_chunk(uint8_t *p, const char *type, const uint8_t *data, uint32_t n) {
    p[0] = (uint8_t)(n >> 24), p[1] = (uint8_t)(n >> 16), p[2] = (uint8_t)(n >> 8),
    p[3] = (uint8_t)n;
    memcpy(p + 4, type, 4);
    if (n) memcpy(p + 8, data, n);
    uint32_t crc = (uint32_t)crc32(0, p + 4, n + 4);
    p[8 + n] = (uint8_t)(crc >> 24), p[9 + n] = (uint8_t)(crc >> 16),
          p[10 + n] = (uint8_t)(crc >> 8), p[11 + n] = (uint8_t)crc;
    return 12 + n;
}

/* Signature, IHDR for w x h 8-bit RGB, one tiny IDAT, IEND: a small file claiming a big image. */
static size_t tiny_png(uint8_t *buf, uint32_t w, uint32_t h) {
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    memcpy(buf, sig, 8);
    uint8_t ihdr[13] = {(uint8_t)(w >> 24),
                        (uint8_t)(w >> 16),
                        (uint8_t)(w >> 8),
                        (uint8_t)w,
                        (uint8_t)(h >> 24),
                        (uint8_t)(h >> 16),
                        (uint8_t)(h >> 8),
                        (uint8_t)h,
                        8,
                        2,
                        0,
                        0,
                        0};
    size_t k = 8 + put_chunk(buf + 8, "IHDR", ihdr, 13);
    uint8_t idat[64];
    uLongf zn = sizeof idat;
    uint8_t zeros[16] = {0};
    compress(idat, &zn, zeros, sizeof zeros);
    k += put_chunk(buf + k, "IDAT", idat, (uint32_t)zn);
    k += put_chunk(buf + k, "IEND", NULL, 0);
    return k;
}

static void write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static int refused(const char *path, const char *why) {
    genc_image im;
    int rc = genc_png_read(path, &im);
    int ok = rc == GENC_ERR && im.pixels == NULL && strstr(genc_error(), path) &&
             (!why || strstr(genc_error(), why));
    if (!ok) fprintf(stderr, "  %s: rc %d, message: %s\n", path, rc, genc_error());
    return ok;
}

static void test_read_hostile(void) {
    genc_image im;
    CHECK(refused("png_missing.png", "No such file"), "missing file");
    write_file("png_text.png", "hello, this is not a png file at all", 36);
    CHECK(refused("png_text.png", "not a PNG file"), "text file");
    write_file("png_empty.png", "", 0);
    CHECK(refused("png_empty.png", "not a PNG file"), "empty file");

    uint8_t buf[256];
    size_t n = tiny_png(buf, 4, 1);   /* a valid 4x1 RGB image */
    write_file("png_tiny.png", buf, n);
    CHECK(genc_png_read("png_tiny.png", &im) == GENC_OK && im.width == 4 && im.height == 1 &&
              im.channels == 3,
          "the tiny file itself is valid: %s", genc_error());
    genc_image_free(&im);
    int all_refused = 1;
    for (size_t cut = 0; cut < n; cut++) {   /* every truncation */
        write_file("png_cut.png", buf, cut);
        all_refused &= refused("png_cut.png", NULL);
    }
    CHECK(all_refused, "every truncation of a valid file refused");
    write_file("png_cut.png", buf, n - 20);
    CHECK(refused("png_cut.png", "truncated"), "truncation named");
    uint8_t bad[256];
    memcpy(bad, buf, n);
    bad[8 + 8 + 3] ^= 1;   /* a byte of IHDR's data, CRC unchanged */
    write_file("png_crc.png", bad, n);
    CHECK(refused("png_crc.png", "CRC error"), "bad IHDR CRC");

    n = tiny_png(buf, 100000, 100000);
    write_file("png_huge.png", buf, n);
    CHECK(refused("png_huge.png", "exceeds user limit"), "100000 x 100000 from a tiny file");
    n = tiny_png(buf, 16000, 16000);
    write_file("png_huge.png", buf, n);
    CHECK(refused("png_huge.png", "more than the 67108864"), "16000 x 16000: over the pixel cap");
    n = tiny_png(buf, 8000, 8000);
    write_file("png_huge.png", buf, n);
    CHECK(refused("png_huge.png", "too few to hold them"), "8000 x 8000 in %zu bytes", n);

    /* Random damage to a real file: any answer but a crash is fine (the sanitizer build
     * checks the memory side). Each case flips 1 to 4 bytes after the signature. */
    uint8_t img[16 * 16 * 3];
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)(i * 7);
    genc_png_write("png_good.png", img, 16, 16, 3);
    void *good;
    size_t gn;
    genc_read_file("png_good.png", &good, &gn);
    genc_rng r = genc_rng_make(99, 0);
    int outcomes[2] = {0, 0};
    for (int t = 0; t < 400; t++) {
        memcpy(bad, good, gn < sizeof bad ? gn : sizeof bad);
        uint8_t *dmg = malloc(gn);
        memcpy(dmg, good, gn);
        int flips = 1 + (int)genc_rng_below(&r, 4);
        for (int k = 0; k < flips; k++)
            dmg[8 + genc_rng_below(&r, (uint32_t)(gn - 8))] ^=
                (uint8_t)(1 + genc_rng_below(&r, 255));
        write_file("png_dmg.png", dmg, gn);
        int rc = genc_png_read("png_dmg.png", &im);
        outcomes[rc == GENC_OK]++;
        genc_image_free(&im);
        free(dmg);
    }
    CHECK(outcomes[0] > 300,
          "damaged files refused (%d of 400; the rest hit ancillary bytes or filters)",
          outcomes[0]);
    free(good);
    const char *files[] = {"png_text.png", "png_empty.png", "png_tiny.png", "png_cut.png",
                           "png_crc.png",  "png_huge.png",  "png_good.png", "png_dmg.png"};
    for (int i = 0; i < 8; i++) unlink(files[i]);
}

/* ------------------------------------------------------------------ resizing */

static void test_resize(void) {
    genc_image out;
    uint8_t g44[16];
    for (int i = 0; i < 16; i++) g44[i] = (uint8_t)(i * 16 + 3);
    genc_image in = {g44, 4, 4, 1};
    CHECK(genc_image_resize(&in, 1, 2, 2, &out) == GENC_OK && out.width == 2 && out.height == 2,
          "4x4 -> 2x2");
    int ok = out.pixels != NULL;
    for (int y = 0; ok && y < 2; y++)
        for (int x = 0; x < 2; x++) {
            int s = g44[(2 * y) * 4 + 2 * x] + g44[(2 * y) * 4 + 2 * x + 1] +
                    g44[(2 * y + 1) * 4 + 2 * x] + g44[(2 * y + 1) * 4 + 2 * x + 1];
            ok &= out.pixels[y * 2 + x] == (uint8_t)lround(s / 4.0);
        }
    CHECK(ok, "2x2 block means");
    genc_image_free(&out);

    /* 3x3 -> 2x2: output (0, 0) covers [0, 1.5)^2: weights 1, 0.5, 0.5, 0.25 over 2.25 */
    uint8_t g33[9] = {10, 50, 90, 130, 170, 210, 250, 0, 100};
    in = (genc_image){g33, 3, 3, 1};
    genc_image_resize(&in, 1, 2, 2, &out);
    double w00 = (10 + 0.5 * 50 + 0.5 * 130 + 0.25 * 170) / 2.25;
    double w11 = (0.25 * 170 + 0.5 * 210 + 0.5 * 0 + 100) / 2.25;
    CHECK(out.pixels && out.pixels[0] == (uint8_t)lround(w00) &&
              out.pixels[3] == (uint8_t)lround(w11),
          "fractional coverage: %d %d want %.2f %.2f", out.pixels ? out.pixels[0] : -1,
          out.pixels ? out.pixels[3] : -1, w00, w11);
    genc_image_free(&out);

    /* 6 wide x 4 high -> 2x2: the centred 4x4 (columns 1..4) */
    uint8_t g64[24];
    for (int i = 0; i < 24; i++) g64[i] = (uint8_t)(i % 6 == 0 || i % 6 == 5 ? 255 : 20);
    in = (genc_image){g64, 6, 4, 1};
    genc_image_resize(&in, 1, 2, 2, &out);
    CHECK(out.pixels && out.pixels[0] == 20 && out.pixels[1] == 20 && out.pixels[2] == 20 &&
              out.pixels[3] == 20,
          "wide source: the side columns are cropped");
    genc_image_free(&out);

    /* enlarging repeats; RGB to gray by luma; gray to RGB repeats */
    uint8_t g22[4] = {0, 100, 200, 255};
    in = (genc_image){g22, 2, 2, 1};
    genc_image_resize(&in, 3, 4, 4, &out);
    ok = out.pixels != NULL && out.channels == 3;
    for (int y = 0; ok && y < 4; y++)
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++)
                ok &= out.pixels[(y * 4 + x) * 3 + c] == g22[(y / 2) * 2 + x / 2];
    CHECK(ok, "2x2 gray -> 4x4 RGB repeats");
    genc_image_free(&out);
    uint8_t rgb[3 * 4];
    for (int i = 0; i < 4; i++) rgb[3 * i] = 200, rgb[3 * i + 1] = 100, rgb[3 * i + 2] = 50;
    in = (genc_image){rgb, 2, 2, 3};
    genc_image_resize(&in, 1, 1, 1, &out);
    CHECK(out.pixels && out.pixels[0] == (uint8_t)lround(0.299 * 200 + 0.587 * 100 + 0.114 * 50),
          "luma");
    genc_image_free(&out);
    float chw[12];
    uint8_t px[12] = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 255};
    in = (genc_image){px, 2, 2, 3};
    genc_image_to_chw(&in, -1.f, 1.f, chw);
    CHECK(chw[0] == -1.f && fabsf(chw[1] - (-1.f + 2.f * 30 / 255.f)) < 1e-6f &&
              fabsf(chw[4] - (-1.f + 2.f * 10 / 255.f)) < 1e-6f && chw[11] == 1.f,
          "to CHW: channel planes, scaled"); /* 1e-6: float rounding of the map */

    CHECK(genc_image_resize(&in, 2, 4, 4, &out) == GENC_ERR &&
              strstr(genc_error(), "1 or 3 channels"),
          "2 channels refused");
    CHECK(genc_image_resize(&in, 1, 0, 4, &out) == GENC_ERR, "height 0 refused");
    CHECK(genc_image_resize(&in, 1, 20000, 20000, &out) == GENC_ERR, "too large refused");
}

/* ------------------------------------------------------------------ grids */

static void test_grid(void) {
    enum { N = 5, C = 3, H = 4, W = 3 };
    float img[N * C * H * W];
    for (int i = 0; i < N * C * H * W; i++) img[i] = -1.f + 2.f * (float)((i * 29) % 256) / 255.f;
    img[7] = NAN;
    img[8] = 5.f;
    CHECK(genc_png_grid("png_grid.png", img, N, C, H, W, 2, -1.f, 1.f) == GENC_OK, "grid: %s",
          genc_error());
    genc_image g;
    CHECK(genc_png_read("png_grid.png", &g) == GENC_OK, "grid reads back: %s", genc_error());
    int gap = GENC_PNG_GRID_GAP;
    CHECK(g.width == gap + 2 * (W + gap) && g.height == gap + 3 * (H + gap) && g.channels == C,
          "grid %dx%d", g.width, g.height);
    int ok = g.pixels != NULL && g.width == gap + 2 * (W + gap);
    for (int i = 0; ok && i < N; i++)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int k = ((i * C + c) * H + y) * W + x;
                    int want = k == 7 ? 0 : k == 8 ? 255 : (k * 29) % 256;
                    int gx = gap + (i % 2) * (W + gap) + x, gy = gap + (i / 2) * (H + gap) + y;
                    ok &= g.pixels[(gy * g.width + gx) * C + c] == want;
                }
    CHECK(ok, "every cell pixel round-trips (NaN -> 0, above hi -> 255)");
    ok = g.pixels != NULL;
    for (int x = 0; ok && x < g.width; x++) ok &= g.pixels[x * C] == 255;   /* top border */
    int last = gap + (W + gap);   /* the empty sixth cell */
    for (int y = 0; ok && y < H; y++)
        ok &= g.pixels[((gap + 2 * (H + gap) + y) * g.width + last) * C] == 255;
    CHECK(ok, "gaps, border and empty cells are white");
    genc_image_free(&g);

    float gray[9 * 4];
    for (int i = 0; i < 36; i++) gray[i] = (float)i / 35.f;
    CHECK(genc_png_grid("png_grid.png", gray, 9, 1, 2, 2, 0, 0.f, 1.f) == GENC_OK &&
              genc_png_read("png_grid.png", &g) == GENC_OK && g.channels == 1 &&
              g.width == gap + 3 * (2 + gap),
          "cols 0: 9 images in 3 columns");
    genc_image_free(&g);
    CHECK(genc_png_grid("png_grid.png", gray, 9, 2, 2, 2, 0, 0.f, 1.f) == GENC_ERR,
          "2 channels refused");
    CHECK(genc_png_grid("png_grid.png", gray, 9, 1, 2, 2, 0, 1.f, 1.f) == GENC_ERR,
          "empty range refused");
    CHECK(genc_png_grid("png_grid.png", gray, 0, 1, 2, 2, 0, 0.f, 1.f) == GENC_ERR,
          "no images refused");
    CHECK(genc_png_grid("png_grid.png", gray, 9, 1, 9000, 2, 1, 0.f, 1.f) == GENC_ERR &&
          strstr(genc_error(), "at most 16384"), "too tall refused: %s", genc_error());
    unlink("png_grid.png");
}

/* ------------------------------------------------------------------ panels */

/* Bounding box of the pixels of one colour. */
static int find_colour(const genc_image *im, int r, int g, int b, int *x0, int *y0, int *x1,
                       int *y1) {
    int n = 0;
    *x0 = *y0 = 1 << 30;
    *x1 = *y1 = -1;
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            const uint8_t *p = im->pixels + 3 * (y * im->width + x);
            if (p[0] != r || p[1] != g || p[2] != b) continue;
            n++;
            if (x < *x0) *x0 = x;
            if (x > *x1) *x1 = x;
            if (y < *y0) *y0 = y;
            if (y > *y1) *y1 = y;
        }
    return n;
}

static void test_panels(void) {
    enum { S = 160, NX = 40 };
    float one[2] = {1, 1};
    double z[NX * NX];
    for (int j = 0; j < NX; j++)
        for (int i = 0; i < NX; i++) z[j * NX + i] = i;   /* rises to the right */
    genc_panels_spec s = {"toy", -4, 4, -4, 4, "x", "y", S};
    genc_panel p[2] = {{"model", GENC_PANEL_POINTS, one, 1, NULL, 0, 0},
                       {"data", GENC_PANEL_HEATMAP, NULL, 0, z, NX, NX}};
    CHECK(genc_png_panels("png_panels.png", &s, p, 2) == GENC_OK, "panels: %s", genc_error());
    genc_image im;
    CHECK(genc_png_read("png_panels.png", &im) == GENC_OK && im.channels == 3 && im.width > 2 * S &&
              im.height > S,
          "panels read back (%dx%d)", im.width, im.height);
    int ax0, ay0, ax1, ay1, bx0, by0, bx1, by1;
    CHECK(find_colour(&im, 31, 119, 180, &ax0, &ay0, &ax1, &ay1) == 9 && ax1 < im.width / 2,
          "one point = one 3x3 dot in the left panel");
    CHECK(find_colour(&im, 68, 1, 84, &bx0, &by0, &bx1, &by1) > 0 &&
              find_colour(&im, 253, 231, 37, &ax0, &ay0, &ax1, &ay1) > 0 && bx0 > im.width / 2 &&
              bx1 < ax0 && by1 - by0 == S - 1,
          "heat map: low values left of high ones, full height");
    int ink = find_colour(&im, 40, 40, 40, &ax0, &ay0, &ax1, &ay1);
    genc_image_free(&im);
    /* without the axis titles exactly the ink of 'x' (9 font pixels) and 'y' (12) goes, per
     * panel: both titles are drawn whole, the rotated one too */
    genc_panels_spec untitled = s;
    untitled.xlabel = untitled.ylabel = NULL;
    genc_png_panels("png_panels.png", &untitled, p, 2);
    genc_png_read("png_panels.png", &im);
    int ink2 = find_colour(&im, 40, 40, 40, &ax0, &ay0, &ax1, &ay1);
    CHECK(ink > 200 && ink - ink2 == 2 * 21, "text drawn (%d ink pixels, %d without axis titles)",
          ink, ink2);
    genc_image_free(&im);

    /* (1, 1) and (-1, -1) are 2 units apart each way: S / 4 pixels right and up */
    float two[4] = {1, 1, -1, -1};
    genc_panel q = {NULL, GENC_PANEL_POINTS, two, 2, NULL, 0, 0};
    genc_panels_spec bare = {NULL, -4, 4, -4, 4, NULL, NULL, S};
    genc_png_panels("png_panels.png", &bare, &q, 1);
    genc_png_read("png_panels.png", &im);
    int found = find_colour(&im, 31, 119, 180, &ax0, &ay0, &ax1, &ay1);
    CHECK(found == 18 && ax1 - ax0 == 2 + S / 4 && ay1 - ay0 == 2 + S / 4,
          "points placed on the axes (%d px, box %dx%d)", found, ax1 - ax0, ay1 - ay0);
    genc_image_free(&im);

    /* many points, NaN and infinite values: drawn without failing */
    enum { M = 50000 };
    float *cloud = malloc(sizeof(float) * 2 * M);
    genc_rng r = genc_rng_make(3, 0);
    genc_rng_fill_normal(&r, cloud, 2 * M, 0.f, 1.5f);
    cloud[0] = NAN;
    cloud[3] = INFINITY;
    double zz[4] = {NAN, -INFINITY, 1, INFINITY};
    genc_panel many[3] = {{"cloud", GENC_PANEL_POINTS, cloud, M, NULL, 0, 0},
                          {"odd values", GENC_PANEL_HEATMAP, NULL, 0, zz, 2, 2},
                          {"empty", GENC_PANEL_POINTS, NULL, 0, NULL, 0, 0}};
    CHECK(genc_png_panels("png_panels.png", &s, many, 3) == GENC_OK,
          "crowded, odd and empty panels: %s", genc_error());
    free(cloud);

    genc_panels_spec flat = {NULL, 1, 1, -4, 4, NULL, NULL, 0};
    CHECK(genc_png_panels("png_bad.png", &flat, p, 2) == GENC_ERR &&
              strstr(genc_error(), "lo < hi"),
          "empty x range");
    genc_panels_spec inf = {NULL, -INFINITY, 4, -4, 4, NULL, NULL, 0};
    CHECK(genc_png_panels("png_bad.png", &inf, p, 2) == GENC_ERR, "infinite range");
    CHECK(genc_png_panels("png_bad.png", &s, p, 0) == GENC_ERR &&
              genc_png_panels("png_bad.png", &s, many, 9) == GENC_ERR,
          "0 or 9 panels");
    genc_panel broken = {NULL, GENC_PANEL_HEATMAP, NULL, 0, NULL, 3, 3};
    CHECK(genc_png_panels("png_bad.png", &s, &broken, 1) == GENC_ERR &&
              strstr(genc_error(), "needs z"),
          "heat map without z");
    genc_panels_spec tiny = {NULL, -4, 4, -4, 4, NULL, NULL, 10};
    CHECK(genc_png_panels("png_bad.png", &tiny, p, 2) == GENC_ERR &&
              strstr(genc_error(), "64..2048"),
          "size 10");
    CHECK(access("png_bad.png", F_OK) != 0, "nothing written on refusal");
    unlink("png_panels.png");
}

int main(void) {
    test_gray_rgb();
    test_plot();
    test_read_formats();
    test_read_hostile();
    test_resize();
    test_grid();
    test_panels();
    return tu_finish();
}
