/* PNG output: images (genc_png_write) and line plots for loss curves (genc_png_plot).
 *
 * Both encode into memory with libpng's simplified API and then go through
 * genc_write_file_atomic, so a crash never leaves a half-written PNG. The plot rasteriser is
 * deliberately plain: white canvas, framed plot area with a light grid, tick labels, one
 * coloured polyline per series, a legend box and a title, all text in a built-in 5x7 font. */
#include "genc/io.h"

#include <math.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

#define PNG_MAX_SIDE 16384   /* keeps width*height*3 well inside size_t and memory */

int genc_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (!pixels || width <= 0 || height <= 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return genc_set_error("%s: cannot write a %dx%d image (sides must be 1..%d)", path, width,
                              height, PNG_MAX_SIDE);
    if (channels != 1 && channels != 3)
        return genc_set_error("%s: %d channels (PNG output takes 1 = gray or 3 = RGB)", path, channels);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = (png_uint_32)width;
    img.height = (png_uint_32)height;
    img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
    png_int_32 stride = width * channels;
    /* First pass with no buffer asks libpng for the encoded size. */
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, pixels, stride, NULL)) {
        genc_set_error("%s: PNG encoding failed: %s", path, img.message);
        png_image_free(&img);
        return GENC_ERR;
    }
    void *mem = malloc(size ? size : 1);
    if (!mem) return genc_set_error("%s: out of memory (%zu bytes)", path, (size_t)size);
    if (!png_image_write_to_memory(&img, mem, &size, 0, pixels, stride, NULL)) {
        genc_set_error("%s: PNG encoding failed: %s", path, img.message);
        png_image_free(&img);
        free(mem);
        return GENC_ERR;
    }
    int rc = genc_write_file_atomic(path, mem, (size_t)size);
    free(mem);
    return rc;
}

/* ---------------------------------------------------------------- canvas and font */

typedef struct canvas {
    uint8_t *rgb;   /* [h][w][3] */
    int w, h;
} canvas;

typedef struct rgb8 {
    uint8_t r, g, b;
} rgb8;

static void put(canvas *c, int x, int y, rgb8 col) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->rgb + 3 * ((size_t)y * (size_t)c->w + (size_t)x);
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, rgb8 col) {
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col);
}

static void frame_rect(canvas *c, int x0, int y0, int x1, int y1, rgb8 col) {
    for (int x = x0; x <= x1; x++) { put(c, x, y0, col); put(c, x, y1, col); }
    for (int y = y0; y <= y1; y++) { put(c, x0, y, col); put(c, x1, y, col); }
}

/* 5x7 glyphs for printable ASCII 32..126: seven rows top to bottom, bit 4 is the leftmost
 * column. Characters outside the range draw as '?'. */
static const uint8_t FONT[95][7] = {
    {0x00,0x00,0x00,0x00,0x00,0x00,0x00}, /* ' ' */
    {0x04,0x04,0x04,0x04,0x04,0x00,0x04}, /* '!' */
    {0x0a,0x0a,0x00,0x00,0x00,0x00,0x00}, /* '"' */
    {0x0a,0x0a,0x1f,0x0a,0x1f,0x0a,0x0a}, /* '#' */
    {0x04,0x0f,0x14,0x0e,0x05,0x1e,0x04}, /* '$' */
    {0x18,0x19,0x02,0x04,0x08,0x13,0x03}, /* '%' */
    {0x0c,0x12,0x14,0x08,0x15,0x12,0x0d}, /* '&' */
    {0x04,0x04,0x00,0x00,0x00,0x00,0x00}, /* "'" */
    {0x02,0x04,0x08,0x08,0x08,0x04,0x02}, /* '(' */
    {0x08,0x04,0x02,0x02,0x02,0x04,0x08}, /* ')' */
    {0x00,0x04,0x15,0x0e,0x15,0x04,0x00}, /* 'star' */
    {0x00,0x04,0x04,0x1f,0x04,0x04,0x00}, /* '+' */
    {0x00,0x00,0x00,0x00,0x0c,0x04,0x08}, /* ',' */
    {0x00,0x00,0x00,0x1f,0x00,0x00,0x00}, /* '-' */
    {0x00,0x00,0x00,0x00,0x00,0x0c,0x0c}, /* '.' */
    {0x00,0x01,0x02,0x04,0x08,0x10,0x00}, /* 'slash' */
    {0x0e,0x11,0x13,0x15,0x19,0x11,0x0e}, /* '0' */
    {0x04,0x0c,0x04,0x04,0x04,0x04,0x0e}, /* '1' */
    {0x0e,0x11,0x01,0x02,0x04,0x08,0x1f}, /* '2' */
    {0x1f,0x02,0x04,0x02,0x01,0x11,0x0e}, /* '3' */
    {0x02,0x06,0x0a,0x12,0x1f,0x02,0x02}, /* '4' */
    {0x1f,0x10,0x1e,0x01,0x01,0x11,0x0e}, /* '5' */
    {0x06,0x08,0x10,0x1e,0x11,0x11,0x0e}, /* '6' */
    {0x1f,0x01,0x02,0x04,0x08,0x08,0x08}, /* '7' */
    {0x0e,0x11,0x11,0x0e,0x11,0x11,0x0e}, /* '8' */
    {0x0e,0x11,0x11,0x0f,0x01,0x02,0x0c}, /* '9' */
    {0x00,0x0c,0x0c,0x00,0x0c,0x0c,0x00}, /* ':' */
    {0x00,0x0c,0x0c,0x00,0x0c,0x04,0x08}, /* ';' */
    {0x02,0x04,0x08,0x10,0x08,0x04,0x02}, /* '<' */
    {0x00,0x00,0x1f,0x00,0x1f,0x00,0x00}, /* '=' */
    {0x08,0x04,0x02,0x01,0x02,0x04,0x08}, /* '>' */
    {0x0e,0x11,0x01,0x02,0x04,0x00,0x04}, /* '?' */
    {0x0e,0x11,0x01,0x0d,0x15,0x15,0x0e}, /* '@' */
    {0x0e,0x11,0x11,0x1f,0x11,0x11,0x11}, /* 'A' */
    {0x1e,0x11,0x11,0x1e,0x11,0x11,0x1e}, /* 'B' */
    {0x0e,0x11,0x10,0x10,0x10,0x11,0x0e}, /* 'C' */
    {0x1c,0x12,0x11,0x11,0x11,0x12,0x1c}, /* 'D' */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x1f}, /* 'E' */
    {0x1f,0x10,0x10,0x1e,0x10,0x10,0x10}, /* 'F' */
    {0x0e,0x11,0x10,0x17,0x11,0x11,0x0f}, /* 'G' */
    {0x11,0x11,0x11,0x1f,0x11,0x11,0x11}, /* 'H' */
    {0x0e,0x04,0x04,0x04,0x04,0x04,0x0e}, /* 'I' */
    {0x07,0x02,0x02,0x02,0x02,0x12,0x0c}, /* 'J' */
    {0x11,0x12,0x14,0x18,0x14,0x12,0x11}, /* 'K' */
    {0x10,0x10,0x10,0x10,0x10,0x10,0x1f}, /* 'L' */
    {0x11,0x1b,0x15,0x15,0x11,0x11,0x11}, /* 'M' */
    {0x11,0x11,0x19,0x15,0x13,0x11,0x11}, /* 'N' */
    {0x0e,0x11,0x11,0x11,0x11,0x11,0x0e}, /* 'O' */
    {0x1e,0x11,0x11,0x1e,0x10,0x10,0x10}, /* 'P' */
    {0x0e,0x11,0x11,0x11,0x15,0x12,0x0d}, /* 'Q' */
    {0x1e,0x11,0x11,0x1e,0x14,0x12,0x11}, /* 'R' */
    {0x0f,0x10,0x10,0x0e,0x01,0x01,0x1e}, /* 'S' */
    {0x1f,0x04,0x04,0x04,0x04,0x04,0x04}, /* 'T' */
    {0x11,0x11,0x11,0x11,0x11,0x11,0x0e}, /* 'U' */
    {0x11,0x11,0x11,0x11,0x11,0x0a,0x04}, /* 'V' */
    {0x11,0x11,0x11,0x15,0x15,0x15,0x0a}, /* 'W' */
    {0x11,0x11,0x0a,0x04,0x0a,0x11,0x11}, /* 'X' */
    {0x11,0x11,0x0a,0x04,0x04,0x04,0x04}, /* 'Y' */
    {0x1f,0x01,0x02,0x04,0x08,0x10,0x1f}, /* 'Z' */
    {0x0e,0x08,0x08,0x08,0x08,0x08,0x0e}, /* '[' */
    {0x00,0x10,0x08,0x04,0x02,0x01,0x00}, /* 'backslash' */
    {0x0e,0x02,0x02,0x02,0x02,0x02,0x0e}, /* ']' */
    {0x04,0x0a,0x11,0x00,0x00,0x00,0x00}, /* '^' */
    {0x00,0x00,0x00,0x00,0x00,0x00,0x1f}, /* '_' */
    {0x08,0x04,0x00,0x00,0x00,0x00,0x00}, /* '`' */
    {0x00,0x00,0x0e,0x01,0x0f,0x11,0x0f}, /* 'a' */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x1e}, /* 'b' */
    {0x00,0x00,0x0e,0x10,0x10,0x11,0x0e}, /* 'c' */
    {0x01,0x01,0x0d,0x13,0x11,0x11,0x0f}, /* 'd' */
    {0x00,0x00,0x0e,0x11,0x1f,0x10,0x0e}, /* 'e' */
    {0x06,0x09,0x08,0x1c,0x08,0x08,0x08}, /* 'f' */
    {0x00,0x0f,0x11,0x11,0x0f,0x01,0x0e}, /* 'g' */
    {0x10,0x10,0x16,0x19,0x11,0x11,0x11}, /* 'h' */
    {0x04,0x00,0x0c,0x04,0x04,0x04,0x0e}, /* 'i' */
    {0x02,0x00,0x06,0x02,0x02,0x12,0x0c}, /* 'j' */
    {0x10,0x10,0x12,0x14,0x18,0x14,0x12}, /* 'k' */
    {0x0c,0x04,0x04,0x04,0x04,0x04,0x0e}, /* 'l' */
    {0x00,0x00,0x1a,0x15,0x15,0x11,0x11}, /* 'm' */
    {0x00,0x00,0x16,0x19,0x11,0x11,0x11}, /* 'n' */
    {0x00,0x00,0x0e,0x11,0x11,0x11,0x0e}, /* 'o' */
    {0x00,0x00,0x1e,0x11,0x1e,0x10,0x10}, /* 'p' */
    {0x00,0x00,0x0d,0x13,0x0f,0x01,0x01}, /* 'q' */
    {0x00,0x00,0x16,0x19,0x10,0x10,0x10}, /* 'r' */
    {0x00,0x00,0x0e,0x10,0x0e,0x01,0x1e}, /* 's' */
    {0x08,0x08,0x1c,0x08,0x08,0x09,0x06}, /* 't' */
    {0x00,0x00,0x11,0x11,0x11,0x13,0x0d}, /* 'u' */
    {0x00,0x00,0x11,0x11,0x11,0x0a,0x04}, /* 'v' */
    {0x00,0x00,0x11,0x11,0x15,0x15,0x0a}, /* 'w' */
    {0x00,0x00,0x11,0x0a,0x04,0x0a,0x11}, /* 'x' */
    {0x00,0x00,0x11,0x11,0x0f,0x01,0x0e}, /* 'y' */
    {0x00,0x00,0x1f,0x02,0x04,0x08,0x1f}, /* 'z' */
    {0x02,0x04,0x04,0x08,0x04,0x04,0x02}, /* '{' */
    {0x04,0x04,0x04,0x04,0x04,0x04,0x04}, /* '|' */
    {0x08,0x04,0x04,0x02,0x04,0x04,0x08}, /* '}' */
    {0x00,0x00,0x08,0x15,0x02,0x00,0x00}, /* '~' */
};
#define GLYPH_W 6   /* 5 columns of ink + 1 of spacing */
#define GLYPH_H 7

static int text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (n * GLYPH_W - 1) * scale : 0;
}

/* Draw s with its top-left corner at (x, y); each font pixel becomes a scale x scale block. */
static void draw_text(canvas *c, int x, int y, const char *s, rgb8 col, int scale) {
    for (; *s; s++, x += GLYPH_W * scale) {
        unsigned ch = (unsigned char)*s;
        const uint8_t *g = FONT[(ch >= 32 && ch < 127 ? ch : '?') - 32];
        for (int r = 0; r < GLYPH_H; r++)
            for (int k = 0; k < 5; k++)
                if (g[r] & (0x10 >> k))
                    fill_rect(c, x + k * scale, y + r * scale, x + k * scale + scale - 1,
                              y + r * scale + scale - 1, col);
    }
}

/* Bresenham line; thick adds the pixel below and to the right so curves stay visible on
 * large canvases. */
static void draw_line(canvas *c, int x0, int y0, int x1, int y1, rgb8 col, int thick) {
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        put(c, x0, y0, col);
        if (thick) { put(c, x0 + 1, y0, col); put(c, x0, y0 + 1, col); }
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

/* ---------------------------------------------------------------- axes */

/* A round tick step (1, 2 or 5 times a power of ten) giving about `target` intervals. */
static double nice_step(double range, int target) {
    double raw = range / (target > 1 ? target : 1);
    double mag = pow(10.0, floor(log10(raw)));
    double norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/* Tick label: fixed point with as many decimals as the step needs, e notation for very large
 * or very small numbers. */
static void fmt_tick(char *buf, size_t len, double v, double step, double amax) {
    if (fabs(v) < step * 1e-6) v = 0;   /* no "-0" or 1e-17 from accumulated rounding */
    if (amax >= 1e5 || step < 1e-4) {
        snprintf(buf, len, "%.3g", v);
        return;
    }
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, len, "%.*f", dec, v);
}

/* Finite min and max over the values; returns 0 when there is none. */
static int finite_range(const double *v, int n, double *lo, double *hi) {
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        if (!any || v[i] < *lo) *lo = v[i];
        if (!any || v[i] > *hi) *hi = v[i];
        any = 1;
    }
    return any;
}

/* Widen a range too narrow to map to pixels: differences below 1e-12 of the magnitude (or
 * absurdly small ones) cannot show on a raster anyway, and dividing by them would not stay
 * finite. Such a series is drawn as a flat line in the middle. */
static void widen(double *lo, double *hi) {
    double scale = fmax(fabs(*lo), fabs(*hi));
    if (*hi - *lo > scale * 1e-12 && *hi - *lo > 1e-150) return;
    double pad = scale > 1e-150 ? scale * 0.1 : 1.0;
    *lo -= pad;
    *hi += pad;
}

static const rgb8 SERIES_COLOURS[8] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
};
static const rgb8 WHITE = {255, 255, 255}, INK = {40, 40, 40}, GRID = {225, 225, 225},
                  FRAME = {120, 120, 120};

typedef struct plot_area {
    int x0, y0, x1, y1;          /* pixel frame of the data area, inclusive */
    double xlo, xhi, ylo, yhi;   /* data range it shows */
} plot_area;

/* Data to pixel coordinates, clamped to just outside the frame: whatever the values, a line
 * never runs for billions of pixels. */
static int clamp_px(double p, int lo, int hi) {
    if (!(p >= lo - 1)) return lo - 1;   /* also NaN */
    if (p > hi + 1) return hi + 1;
    return (int)lround(p);
}
static int map_x(const plot_area *a, double v) {
    return clamp_px(a->x0 + (v - a->xlo) / (a->xhi - a->xlo) * (a->x1 - a->x0), a->x0, a->x1);
}
static int map_y(const plot_area *a, double v) {
    return clamp_px(a->y1 - (v - a->ylo) / (a->yhi - a->ylo) * (a->y1 - a->y0), a->y0, a->y1);
}

/* The i-th multiple of step inside [lo, hi] (with a little slack for rounding); 0 past the
 * end. Doubles throughout: lo / step can exceed the int range for a flat curve far from 0. */
static int tick_at(double lo, double hi, double step, int i, double *v) {
    if (i >= 64) return 0;
    *v = (ceil(lo / step - 1e-9) + i) * step;
    return *v <= hi + step * 1e-9;
}

/* Horizontal grid lines and y labels left of the frame. */
static void draw_y_ticks(canvas *c, const plot_area *a, double step) {
    double amax = fmax(fabs(a->ylo), fabs(a->yhi));
    double v;
    for (int i = 0; tick_at(a->ylo, a->yhi, step, i, &v); i++) {
        int y = map_y(a, v);
        for (int x = a->x0 + 1; x < a->x1; x++) put(c, x, y, GRID);
        draw_line(c, a->x0 - 4, y, a->x0 - 1, y, FRAME, 0);
        char buf[32];
        fmt_tick(buf, sizeof buf, v, step, amax);
        draw_text(c, a->x0 - 7 - text_width(buf, 1), y - GLYPH_H / 2, buf, INK, 1);
    }
}

/* Vertical grid lines and x labels under the frame; a label that would touch the previous
 * one is skipped. */
static void draw_x_ticks(canvas *c, const plot_area *a, double step) {
    double amax = fmax(fabs(a->xlo), fabs(a->xhi));
    int last_right = -1000000;
    double v;
    for (int i = 0; tick_at(a->xlo, a->xhi, step, i, &v); i++) {
        int x = map_x(a, v);
        for (int y = a->y0 + 1; y < a->y1; y++) put(c, x, y, GRID);
        draw_line(c, x, a->y1 + 1, x, a->y1 + 4, FRAME, 0);
        char buf[32];
        fmt_tick(buf, sizeof buf, v, step, amax);
        int w = text_width(buf, 1), left = x - w / 2;
        if (left < last_right + 8) continue;
        draw_text(c, left, a->y1 + 7, buf, INK, 1);
        last_right = left + w;
    }
}

/* One series as a polyline; non-finite points break the line. */
static void draw_series(canvas *c, const plot_area *a, const double *x, const double *y, int n,
                        rgb8 col, int thick) {
    int have_prev = 0, px = 0, py = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) { have_prev = 0; continue; }
        int qx = map_x(a, x[i]), qy = map_y(a, y[i]);
        if (have_prev) draw_line(c, px, py, qx, qy, col, thick);
        else if (n == 1 || i + 1 >= n || !isfinite(y[i + 1]) || !isfinite(x[i + 1]))
            fill_rect(c, qx - 1, qy - 1, qx + 1, qy + 1, col);   /* isolated point: a dot */
        px = qx;
        py = qy;
        have_prev = 1;
    }
}

/* Legend box in the top-right corner of the data area. */
static void draw_legend(canvas *c, const plot_area *a, const char *const *labels, int n) {
    char names[8][64];
    int wmax = 0;
    for (int s = 0; s < n; s++) {
        if (labels && labels[s]) snprintf(names[s], sizeof names[s], "%s", labels[s]);
        else snprintf(names[s], sizeof names[s], "series %d", s);
        int w = text_width(names[s], 1);
        if (w > wmax) wmax = w;
    }
    int bw = wmax + 26, bh = n * 11 + 6;
    int bx1 = a->x1 - 6, bx0 = bx1 - bw, by0 = a->y0 + 6, by1 = by0 + bh;
    fill_rect(c, bx0, by0, bx1, by1, WHITE);
    frame_rect(c, bx0, by0, bx1, by1, FRAME);
    for (int s = 0; s < n; s++) {
        int y = by0 + 4 + s * 11;
        fill_rect(c, bx0 + 4, y + 2, bx0 + 17, y + 4, SERIES_COLOURS[s]);
        draw_text(c, bx0 + 22, y, names[s], INK, 1);
    }
}

int genc_png_plot(const char *path, const char *title, const double *x, const double *const *ys,
                  const char *const *labels, int n_series, int n_points, int width, int height) {
    if (n_series < 1 || n_series > 8 || n_points < 0 || !ys || (n_points > 0 && !x))
        return genc_set_error("%s: a plot takes 1..8 series of n >= 0 points (got %d series)",
                              path, n_series);
    if (width < 96 || height < 64 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return genc_set_error("%s: plot size %dx%d outside 96x64..%dx%d", path, width, height,
                              PNG_MAX_SIDE, PNG_MAX_SIDE);
    for (int s = 0; s < n_series; s++)
        if (n_points > 0 && !ys[s]) return genc_set_error("%s: series %d has no values", path, s);

    /* Data ranges: x exact, y widened to whole tick steps so the curve never touches the frame. */
    plot_area a = {0};
    a.xlo = 0, a.xhi = 1, a.ylo = 0, a.yhi = 1;
    finite_range(x, n_points, &a.xlo, &a.xhi);
    int have_y = 0;
    for (int s = 0; s < n_series; s++) {
        double lo = 0, hi = 0;
        if (!finite_range(ys[s], n_points, &lo, &hi)) continue;
        if (!have_y || lo < a.ylo) a.ylo = lo;
        if (!have_y || hi > a.yhi) a.yhi = hi;
        have_y = 1;
    }
    widen(&a.xlo, &a.xhi);
    widen(&a.ylo, &a.yhi);
    if (!isfinite(a.xhi - a.xlo) || !isfinite(a.yhi - a.ylo))
        return genc_set_error("%s: values span too wide a range to plot", path);

    int tscale = width >= 480 ? 2 : 1;
    int top = title && *title ? GLYPH_H * tscale + 14 : 10;
    a.y0 = top;
    a.y1 = height - (GLYPH_H + 16);
    int ny = (a.y1 - a.y0) / 40 > 2 ? (a.y1 - a.y0) / 40 : 2;
    double ystep = nice_step(a.yhi - a.ylo, ny);
    a.ylo = floor(a.ylo / ystep) * ystep;
    a.yhi = ceil(a.yhi / ystep) * ystep;
    if (!isfinite(a.ylo) || !isfinite(a.yhi) || !(a.yhi > a.ylo))
        return genc_set_error("%s: values too close to the float limits to plot", path);

    /* Left margin: wide enough for the longest y label. */
    int wlab = 0;
    double amax = fmax(fabs(a.ylo), fabs(a.yhi));
    double v;
    for (int i = 0; tick_at(a.ylo, a.yhi, ystep, i, &v); i++) {
        char buf[32];
        fmt_tick(buf, sizeof buf, v, ystep, amax);
        if (text_width(buf, 1) > wlab) wlab = text_width(buf, 1);
    }
    a.x0 = wlab + 12;
    a.x1 = width - 14;
    if (a.x1 - a.x0 < 32 || a.y1 - a.y0 < 24)
        return genc_set_error("%s: plot size %dx%d leaves no room for the data", path, width, height);
    int nx = (a.x1 - a.x0) / 90 > 2 ? (a.x1 - a.x0) / 90 : 2;
    double xstep = nice_step(a.xhi - a.xlo, nx);

    canvas c = {malloc((size_t)width * (size_t)height * 3), width, height};
    if (!c.rgb) return genc_set_error("%s: out of memory", path);
    memset(c.rgb, 255, (size_t)width * (size_t)height * 3);
    draw_y_ticks(&c, &a, ystep);
    draw_x_ticks(&c, &a, xstep);
    frame_rect(&c, a.x0, a.y0, a.x1, a.y1, FRAME);
    int thick = width >= 480;
    for (int s = 0; s < n_series; s++)
        draw_series(&c, &a, x, ys[s], n_points, SERIES_COLOURS[s], thick);
    draw_legend(&c, &a, labels, n_series);
    if (title && *title) {
        if (text_width(title, tscale) > width - 8) tscale = 1;
        draw_text(&c, (width - text_width(title, tscale)) / 2, 6, title, INK, tscale);
    }
    int rc = genc_png_write(path, c.rgb, width, height, 3);
    free(c.rgb);
    return rc;
}
