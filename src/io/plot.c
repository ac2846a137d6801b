/* Plots drawn on the canvas (canvas.c) and written as PNG: line plots for loss curves, and
 * 2D panels (point clouds, heat maps) side by side with shared axes, for the toy data of the
 * diffusion and flow families ("model" beside "data").
 *
 * Deliberately plain: white background, framed data areas, round tick values, axis titles,
 * all text in the built-in 5x7 font. */
#include "genc/io.h"

#include "canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- line plots */

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

/* One series as a polyline; non-finite points break the line. */
static void draw_series(genc_canvas *c, const genc_plot_area *a, const double *x, const double *y,
                        int n, genc_rgb8 col, int thick) {
    int have_prev = 0, px = 0, py = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) { have_prev = 0; continue; }
        int qx = genc_cv_map_x(a, x[i]), qy = genc_cv_map_y(a, y[i]);
        if (have_prev) genc_cv_line(c, px, py, qx, qy, col, thick);
        else if (n == 1 || i + 1 >= n || !isfinite(y[i + 1]) || !isfinite(x[i + 1]))
            genc_cv_fill(c, qx - 1, qy - 1, qx + 1, qy + 1, col);   /* isolated point: a dot */
        px = qx;
        py = qy;
        have_prev = 1;
    }
}

/* Legend box in the top-right corner of the data area. */
static void draw_legend(genc_canvas *c, const genc_plot_area *a, const char *const *labels, int n) {
    char names[8][64];
    int wmax = 0;
    for (int s = 0; s < n; s++) {
        if (labels && labels[s]) snprintf(names[s], sizeof names[s], "%s", labels[s]);
        else snprintf(names[s], sizeof names[s], "series %d", s);
        int w = genc_cv_text_width(names[s], 1);
        if (w > wmax) wmax = w;
    }
    int bw = wmax + 26, bh = n * 11 + 6;
    int bx1 = a->x1 - 6, bx0 = bx1 - bw, by0 = a->y0 + 6, by1 = by0 + bh;
    genc_cv_fill(c, bx0, by0, bx1, by1, CV_WHITE);
    genc_cv_frame(c, bx0, by0, bx1, by1, CV_FRAME);
    for (int s = 0; s < n; s++) {
        int y = by0 + 4 + s * 11;
        genc_cv_fill(c, bx0 + 4, y + 2, bx0 + 17, y + 4, CV_SERIES[s]);
        genc_cv_text(c, bx0 + 22, y, names[s], CV_INK, 1);
    }
}

int genc_png_plot(const char *path, const char *title, const double *x, const double *const *ys,
                  const char *const *labels, int n_series, int n_points, int width, int height) {
    return genc_png_plot_axes(path, title, NULL, NULL, x, ys, labels, n_series, n_points, width, height);
}

/* Layout: [y title][y labels][data area]; the title above; x labels and the x title below. */
int genc_png_plot_axes(const char *path, const char *title, const char *xlabel, const char *ylabel,
                       const double *x, const double *const *ys, const char *const *labels, int n_series,
                       int n_points, int width, int height) {
    if (n_series < 1 || n_series > 8 || n_points < 0 || !ys || (n_points > 0 && !x))
        return genc_set_error("%s: a plot takes 1..8 series of n >= 0 points (got %d series)",
                              path, n_series);
    if (width < 96 || height < 64 || width > GENC_PNG_MAX_SIDE || height > GENC_PNG_MAX_SIDE)
        return genc_set_error("%s: plot size %dx%d outside 96x64..%dx%d", path, width, height,
                              GENC_PNG_MAX_SIDE, GENC_PNG_MAX_SIDE);
    for (int s = 0; s < n_series; s++)
        if (n_points > 0 && !ys[s]) return genc_set_error("%s: series %d has no values", path, s);

    /* Data ranges: x exact, y widened to whole tick steps so the curve never touches the frame. */
    genc_plot_area a = {0};
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
    int top = title && *title ? GENC_GLYPH_H * tscale + 14 : 10;
    a.y0 = top;
    int xtitle = xlabel && *xlabel ? GENC_GLYPH_H + 6 : 0, ytitle = ylabel && *ylabel ? GENC_GLYPH_H + 8 : 0;
    a.y1 = height - (GENC_GLYPH_H + 16) - xtitle;
    int ny = (a.y1 - a.y0) / 40 > 2 ? (a.y1 - a.y0) / 40 : 2;
    double ystep = genc_cv_nice_step(a.yhi - a.ylo, ny);
    a.ylo = floor(a.ylo / ystep) * ystep;
    a.yhi = ceil(a.yhi / ystep) * ystep;
    if (!isfinite(a.ylo) || !isfinite(a.yhi) || !(a.yhi > a.ylo))
        return genc_set_error("%s: values too close to the float limits to plot", path);

    /* Left margin: wide enough for the longest y label. */
    a.x0 = ytitle + genc_cv_y_label_width(a.ylo, a.yhi, ystep) + 12;
    a.x1 = width - 14;
    if (a.x1 - a.x0 < 32 || a.y1 - a.y0 < 24)
        return genc_set_error("%s: plot size %dx%d leaves no room for the data", path, width,
                              height);
    int nx = (a.x1 - a.x0) / 90 > 2 ? (a.x1 - a.x0) / 90 : 2;
    double xstep = genc_cv_nice_step(a.xhi - a.xlo, nx);

    genc_canvas c = genc_cv_new(width, height);
    if (!c.rgb) return genc_set_error("%s: out of memory", path);
    genc_cv_y_ticks(&c, &a, ystep, 1);
    genc_cv_x_ticks(&c, &a, xstep, 1);
    genc_cv_frame(&c, a.x0, a.y0, a.x1, a.y1, CV_FRAME);
    int thick = width >= 480;
    for (int s = 0; s < n_series; s++)
        draw_series(&c, &a, x, ys[s], n_points, CV_SERIES[s], thick);
    draw_legend(&c, &a, labels, n_series);
    if (xtitle)
        genc_cv_text(&c, a.x0 + (a.x1 - a.x0 - genc_cv_text_width(xlabel, 1)) / 2, a.y1 + 7 + GENC_GLYPH_H + 6,
                     xlabel, CV_INK, 1);
    if (ytitle)
        genc_cv_text_up(&c, 6, a.y0 + (a.y1 - a.y0 + genc_cv_text_width(ylabel, 1)) / 2, ylabel, CV_INK);
    if (title && *title) {
        if (genc_cv_text_width(title, tscale) > width - 8) tscale = 1;
        genc_cv_text(&c, (width - genc_cv_text_width(title, tscale)) / 2, 6, title, CV_INK, tscale);
    }
    int rc = genc_png_write(path, c.rgb, width, height, 3);
    free(c.rgb);
    return rc;
}

/* ---------------------------------------------------------------- 2D panels */

/* Viridis-like colour ramp through five of its colours, for t in [0, 1]. */
static genc_rgb8 ramp(double t) {
    static const genc_rgb8 STOPS[5] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37},
    };
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double s = t * 4;
    int k = s >= 4 ? 3 : (int)s;
    double f = s - k;
    genc_rgb8 a = STOPS[k], b = STOPS[k + 1];
    genc_rgb8 c = {(uint8_t)lround(a.r + f * (b.r - a.r)), (uint8_t)lround(a.g + f * (b.g - a.g)),
                   (uint8_t)lround(a.b + f * (b.b - a.b))};
    return c;
}

/* Heat map: pixel (px, py) of the data area shows cell (i, j) = (px * nx / size, (size-1-py)
 * * ny / size) of z, coloured by its place between the smallest and largest finite value.
 * -inf shows as the smallest, +inf as the largest, NaN stays white. */
static void draw_heat(genc_canvas *c, const genc_plot_area *a, const genc_panel *p) {
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t k = 0; k < (int64_t)p->nx * p->ny; k++)
        if (isfinite(p->z[k])) {
            lo = fmin(lo, p->z[k]);
            hi = fmax(hi, p->z[k]);
        }
    if (!(hi > lo)) hi = lo + 1;   /* flat or empty: one colour */
    int w = a->x1 - a->x0 + 1, h = a->y1 - a->y0 + 1;
    for (int py = 0; py < h; py++) {
        int j = (int)((int64_t)(h - 1 - py) * p->ny / h);
        for (int px = 0; px < w; px++) {
            double v = p->z[(int64_t)j * p->nx + (int64_t)px * p->nx / w];
            if (isnan(v)) continue;
            genc_cv_put(c, a->x0 + px, a->y0 + py, ramp(v == -INFINITY ? 0 : (v - lo) / (hi - lo)));
        }
    }
}

/* Point cloud: each point darkens its pixel from white towards blue by a factor (1 - alpha);
 * alpha shrinks as points crowd (size^2 / 4n), so dense regions read as darker, not as a
 * solid blot. Fewer than 2000 points are drawn as solid 3x3 dots. */
static int draw_points(genc_canvas *c, const genc_plot_area *a, const genc_panel *p) {
    int w = a->x1 - a->x0 + 1, h = a->y1 - a->y0 + 1, dot = p->n < 2000;
    int32_t *count = calloc((size_t)w * (size_t)h, sizeof *count);
    if (!count) return GENC_ERR;
    for (int64_t i = 0; i < p->n; i++) {
        double x = p->xy[2 * i], y = p->xy[2 * i + 1];
        double fx = (x - a->xlo) / (a->xhi - a->xlo) * w, fy = (a->yhi - y) / (a->yhi - a->ylo) * h;
        if (!(fx >= 0 && fx < w && fy >= 0 && fy < h)) continue;   /* outside, or NaN */
        int px = (int)fx, py = (int)fy;
        for (int dy = -dot; dy <= dot; dy++)
            for (int dx = -dot; dx <= dot; dx++)
                if (px + dx >= 0 && px + dx < w && py + dy >= 0 && py + dy < h &&
                    count[(size_t)(py + dy) * w + px + dx] < INT32_MAX)
                    count[(size_t)(py + dy) * w + px + dx]++;
    }
    double alpha = dot ? 1.0 : fmin(1.0, fmax(0.04, (double)w * h / (4.0 * (double)p->n)));
    genc_rgb8 ink = CV_SERIES[0];
    for (int py = 0; py < h; py++)
        for (int px = 0; px < w; px++) {
            int32_t k = count[(size_t)py * w + px];
            if (!k) continue;
            double d = 1 - pow(1 - alpha, k);
            genc_rgb8 col = {(uint8_t)lround(255 + d * (ink.r - 255)),
                             (uint8_t)lround(255 + d * (ink.g - 255)),
                             (uint8_t)lround(255 + d * (ink.b - 255))};
            genc_cv_put(c, a->x0 + px, a->y0 + py, col);
        }
    free(count);
    return GENC_OK;
}

static int check_panels(const char *path, const genc_panels_spec *s, const genc_panel *panels,
                        int n) {
    if (!s || !panels || n < 1 || n > 8)
        return genc_set_error("%s: 1 to 8 panels (got %d)", path, n);
    if (!(s->xhi > s->xlo) || !(s->yhi > s->ylo) || !isfinite(s->xhi - s->xlo) ||
        !isfinite(s->yhi - s->ylo))
        return genc_set_error("%s: the axes need finite ranges with lo < hi (x %g..%g, y %g..%g)",
                              path, s->xlo, s->xhi, s->ylo, s->yhi);
    if (s->size != 0 && (s->size < 64 || s->size > 2048))
        return genc_set_error("%s: panel size %d outside 64..2048", path, s->size);
    for (int k = 0; k < n; k++) {
        const genc_panel *p = &panels[k];
        if (p->kind == GENC_PANEL_POINTS && (p->n < 0 || (p->n > 0 && !p->xy)))
            return genc_set_error("%s: panel %d: points need xy for n = %lld", path, k,
                                  (long long)p->n);
        if (p->kind == GENC_PANEL_HEATMAP &&
            (!p->z || p->nx < 1 || p->ny < 1 || p->nx > 100000 || p->ny > 100000))
            return genc_set_error(
                "%s: panel %d: a heat map needs z and 1..100000 cells a side (%d x %d)", path, k,
                p->nx, p->ny);
        if (p->kind != GENC_PANEL_POINTS && p->kind != GENC_PANEL_HEATMAP)
            return genc_set_error("%s: panel %d: unknown kind %d", path, k, (int)p->kind);
    }
    return GENC_OK;
}

/* Layout, per panel: [y title][y labels][data area][pad]; the figure title, then each panel's
 * title above; x labels and the x title below. */
int genc_png_panels(const char *path, const genc_panels_spec *s, const genc_panel *panels, int n) {
    if (check_panels(path, s, panels, n) != GENC_OK) return GENC_ERR;
    int size = s->size ? s->size : 320;
    double xstep = genc_cv_nice_step(s->xhi - s->xlo, 5),
           ystep = genc_cv_nice_step(s->yhi - s->ylo, 5);
    int ytitle = s->ylabel && *s->ylabel ? GENC_GLYPH_H + 8 : 0;
    int left = 8 + ytitle + genc_cv_y_label_width(s->ylo, s->yhi, ystep) + 8, pad = 16;
    int pw = left + size + pad, width = n * pw;
    int tscale = width >= 480 ? 2 : 1;
    int fig_title = s->title && *s->title ? GENC_GLYPH_H * tscale + 12 : 4;
    int top = fig_title + GENC_GLYPH_H + 10;
    int bottom = 7 + GENC_GLYPH_H + 6 + (s->xlabel && *s->xlabel ? GENC_GLYPH_H + 6 : 0);
    int height = top + size + bottom;
    genc_canvas c = genc_cv_new(width, height);
    if (!c.rgb) return genc_set_error("%s: out of memory", path);
    int rc = GENC_OK;
    for (int k = 0; k < n && rc == GENC_OK; k++) {
        const genc_panel *p = &panels[k];
        genc_plot_area a = {k * pw + left, top, k * pw + left + size - 1, top + size - 1,
                            s->xlo, s->xhi, s->ylo, s->yhi};
        int heat = p->kind == GENC_PANEL_HEATMAP;
        if (heat) draw_heat(&c, &a, p);
        genc_cv_y_ticks(&c, &a, ystep, !heat);
        genc_cv_x_ticks(&c, &a, xstep, !heat);
        if (!heat && draw_points(&c, &a, p) != GENC_OK)
            rc = genc_set_error("%s: out of memory", path);
        genc_cv_frame(&c, a.x0 - 1, a.y0 - 1, a.x1 + 1, a.y1 + 1, CV_FRAME);   /* around the data */
        if (p->title && *p->title)
            genc_cv_text(&c, a.x0 + (size - genc_cv_text_width(p->title, 1)) / 2, fig_title + 2,
                         p->title, CV_INK, 1);
        if (s->xlabel && *s->xlabel)
            genc_cv_text(&c, a.x0 + (size - genc_cv_text_width(s->xlabel, 1)) / 2,
                         a.y1 + 7 + GENC_GLYPH_H + 6, s->xlabel, CV_INK, 1);
        if (ytitle)
            genc_cv_text_up(&c, k * pw + 8, a.y0 + (size + genc_cv_text_width(s->ylabel, 1)) / 2,
                            s->ylabel, CV_INK);
    }
    if (rc == GENC_OK && s->title && *s->title) {
        if (genc_cv_text_width(s->title, tscale) > width - 8) tscale = 1;
        genc_cv_text(&c, (width - genc_cv_text_width(s->title, tscale)) / 2, 4, s->title, CV_INK,
                     tscale);
    }
    if (rc == GENC_OK) rc = genc_png_write(path, c.rgb, width, height, 3);
    free(c.rgb);
    return rc;
}
