/* A plain RGB raster for plots (internal to src/io): pixels, rectangles, lines, text in a
 * built-in 5x7 font (also rotated, for y-axis titles), and axes with round tick values.
 * Everything clips at the canvas edge, so callers never check coordinates. */
#ifndef GENC_IO_CANVAS_H
#define GENC_IO_CANVAS_H

#include <stddef.h>
#include <stdint.h>

typedef struct genc_canvas {
    uint8_t *rgb;   /* [h][w][3] */
    int w, h;
} genc_canvas;

typedef struct genc_rgb8 {
    uint8_t r, g, b;
} genc_rgb8;

static const genc_rgb8 CV_SERIES[8] = {   /* matplotlib's tab10 */
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
};
static const genc_rgb8 CV_WHITE = {255, 255, 255}, CV_INK = {40, 40, 40},
                       CV_GRID = {225, 225, 225}, CV_FRAME = {120, 120, 120};

#define GENC_GLYPH_W 6   /* 5 columns of ink + 1 of spacing */
#define GENC_GLYPH_H 7

/* A white canvas (rgb NULL when out of memory); free(c.rgb) when done. */
genc_canvas genc_cv_new(int w, int h);
void genc_cv_put(genc_canvas *c, int x, int y, genc_rgb8 col);
void genc_cv_fill(genc_canvas *c, int x0, int y0, int x1, int y1, genc_rgb8 col);   /* inclusive */
void genc_cv_frame(genc_canvas *c, int x0, int y0, int x1, int y1, genc_rgb8 col);
/* Bresenham; thick adds the pixels right of and below each one. */
void genc_cv_line(genc_canvas *c, int x0, int y0, int x1, int y1, genc_rgb8 col, int thick);
int genc_cv_text_width(const char *s, int scale);
/* Text with its top-left corner at (x, y), each font pixel a scale x scale block. */
void genc_cv_text(genc_canvas *c, int x, int y, const char *s, genc_rgb8 col, int scale);
/* Text turned a quarter anticlockwise, reading upwards from (x, y) = its bottom-left. */
void genc_cv_text_up(genc_canvas *c, int x, int y, const char *s, genc_rgb8 col);

/* ---------------------------------------------------------------- axes */
typedef struct genc_plot_area {
    int x0, y0, x1, y1;          /* pixel frame of the data area, inclusive */
    double xlo, xhi, ylo, yhi;   /* data range it shows */
} genc_plot_area;

/* A round tick step (1, 2 or 5 times a power of ten) giving about `target` intervals. */
double genc_cv_nice_step(double range, int target);
/* Tick label with as many decimals as the step needs (e notation for extreme values). */
void genc_cv_fmt_tick(char *buf, size_t len, double v, double step, double amax);
/* The i-th multiple of step inside [lo, hi]; 0 past the end (or after 64 ticks). */
int genc_cv_tick_at(double lo, double hi, double step, int i, double *v);
/* Widest y tick label, in pixels. */
int genc_cv_y_label_width(double lo, double hi, double step);
/* Data to pixel coordinates, clamped to one pixel outside the frame. */
int genc_cv_map_x(const genc_plot_area *a, double v);
int genc_cv_map_y(const genc_plot_area *a, double v);
/* Tick marks and labels left of / under the frame; grid = light lines across the data area. */
void genc_cv_y_ticks(genc_canvas *c, const genc_plot_area *a, double step, int grid);
void genc_cv_x_ticks(genc_canvas *c, const genc_plot_area *a, double step, int grid);

#endif
