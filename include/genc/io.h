/* genc io: safetensors files (checkpoints, test fixtures), atomic writes, metrics logs, PNG
 * images and plots.
 *
 * safetensors layout (https://github.com/huggingface/safetensors): 8-byte little-endian
 * header length N, N bytes of UTF-8 JSON {"name": {"dtype", "shape", "data_offsets": [b, e]},
 * ..., "__metadata__": {str: str}}, then the byte buffer. Offsets are relative to the buffer. */
#ifndef GENC_IO_H
#define GENC_IO_H

#include "genc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum genc_dtype {
    GENC_DT_F32 = 0,
    GENC_DT_F16,
    GENC_DT_BF16,
    GENC_DT_F64,
    GENC_DT_I64,
    GENC_DT_I32,
    GENC_DT_U8,
} genc_dtype;

const char *genc_dtype_name(genc_dtype d);   /* "F32", ... */
size_t genc_dtype_size(genc_dtype d);

#define GENC_ST_MAX_DIMS 8

typedef struct genc_st_tensor {
    char *name;
    genc_dtype dtype;
    int ndim;
    int64_t shape[GENC_ST_MAX_DIMS];
    const void *data;       /* points into the file buffer (little-endian, possibly unaligned) */
    size_t nbytes;
} genc_st_tensor;

typedef struct genc_st_kv {
    char *key, *value;
} genc_st_kv;

typedef struct genc_st_file {
    genc_st_tensor *tensors;
    int n_tensors;
    genc_st_kv *meta;       /* the __metadata__ map, in file order */
    int n_meta;
    void *buffer;           /* whole file */
    size_t size;
} genc_st_file;

/* Read and validate a whole file: header length within the file, JSON well formed, every
 * dtype known, every shape non-negative, data_offsets inside the buffer, end − begin equal to
 * numel × dtype size, no two tensors overlapping, no duplicate names. On failure returns
 * GENC_ERR with a message naming the file and what is wrong; nothing is leaked. */
int genc_st_read(const char *path, genc_st_file *f);
/* Same, from memory (copied); for fuzzing and tests. */
int genc_st_parse(const void *bytes, size_t size, genc_st_file *f);
void genc_st_free(genc_st_file *f);
const genc_st_tensor *genc_st_find(const genc_st_file *f, const char *name);
const char *genc_st_meta(const genc_st_file *f, const char *key);   /* NULL if absent */
/* Copy tensor `name` into dst as float32 (F32, F16, BF16, F64 accepted), checking the element
 * count equals n. GENC_ERR if missing or mismatched. */
int genc_st_get_f32(const genc_st_file *f, const char *name, float *dst, int64_t n);

/* Entries to write. data is host memory in the given dtype. */
typedef struct genc_st_entry {
    const char *name;
    genc_dtype dtype;
    int ndim;
    int64_t shape[GENC_ST_MAX_DIMS];
    const void *data;
} genc_st_entry;

/* Write atomically: a temporary file beside path, fsync, rename over path, fsync the folder.
 * On any failure the temporary is removed and path is untouched. Tensors are written in the
 * order given, names sorted in the header as the format recommends. */
int genc_st_write(const char *path, const genc_st_entry *entries, int n, const genc_st_kv *meta,
                  int n_meta);

/* A float as the shortest decimal that reads back to the same float, as a double for JSON
 * ("1e-05", not 9.99999974737875e-06). */
double genc_json_float(float f);

/* Atomic write of any small file (metrics JSON, etc). */
int genc_write_file_atomic(const char *path, const void *data, size_t size);
/* Read a whole file (malloc'd, NUL-terminated beyond size). */
int genc_read_file(const char *path, void **data, size_t *size);
/* mkdir -p */
int genc_mkdirs(const char *path);

/* ---------------------------------------------------------------- metrics log (metrics.c)
 * CSV with a fixed header, flushed every row so a crash never loses more than one. */
typedef struct genc_csv {
    FILE *f;
    int n_cols;
} genc_csv;
/* append: keep existing rows (resume) when the header matches */
int genc_csv_open(genc_csv *m, const char *path, const char *const *cols, int n_cols, int append);
void genc_csv_row(genc_csv *m, const double *vals);
void genc_csv_close(genc_csv *m);

/* ---------------------------------------------------------------- PNG (png.c, image.c) */
#define GENC_PNG_MAX_SIDE 16384                 /* pixels a side, read or written */
#define GENC_PNG_MAX_PIXELS ((int64_t)1 << 26)  /* pixels in an image read (64 Mi) */
#define GENC_PNG_GRID_GAP 2                     /* white pixels between and around grid cells */

/* An 8-bit image: [height][width][channels] row-major (as PNG stores it), channels 1 (gray)
 * or 3 (RGB). */
typedef struct genc_image {
    uint8_t *pixels;
    int width, height, channels;
} genc_image;

/* 8-bit gray (channels 1) or RGB (3) image, row-major. Atomic. */
int genc_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels);
/* Any PNG to 8-bit gray (gray files, with or without alpha) or RGB (colour and palette files):
 * 1-, 2- and 4-bit samples are expanded, 16-bit ones scaled to 8 bits, alpha (and palette
 * transparency) composited on white, gamma left as stored. Hostile files (not a PNG,
 * truncated, bad CRC, sides over GENC_PNG_MAX_SIDE, over GENC_PNG_MAX_PIXELS, or more pixels
 * than the file could hold compressed) give GENC_ERR with the reason, before any large
 * allocation. */
int genc_png_read(const char *path, genc_image *out);
void genc_image_free(genc_image *im);
/* To the size and channels a model takes: the largest centred region with the target's
 * aspect ratio, area-averaged to width x height; RGB to gray by BT.601 luma, gray to RGB by
 * repetition. */
int genc_image_resize(const genc_image *in, int channels, int height, int width, genc_image *out);
/* Pixels v to lo + (hi - lo) v / 255 in [channels][height][width] order (a model's input). */
void genc_image_to_chw(const genc_image *im, float lo, float hi, float *chw);
/* Grid of n images [n][channels][h][w] (channels 1 or 3), cols per row (<= 0: as square as
 * possible), values mapped from [lo, hi] to 0..255 (clamped; NaN gives 0), cells separated
 * and framed by GENC_PNG_GRID_GAP white pixels. Atomic. */
int genc_png_grid(const char *path, const float *images, int n, int channels, int h, int w,
                  int cols, float lo, float hi);

/* ---------------------------------------------------------------- plots (plot.c) */
/* Line plot of up to 8 series (x shared) with axes, for loss curves. Atomic. */
int genc_png_plot(const char *path, const char *title, const double *x, const double *const *ys,
                  const char *const *labels, int n_series, int n_points, int width, int height);
/* The same with axis titles under the x axis and up the y axis (NULL or "": none). */
int genc_png_plot_axes(const char *path, const char *title, const char *xlabel, const char *ylabel,
                       const double *x, const double *const *ys, const char *const *labels, int n_series,
                       int n_points, int width, int height);

/* 2D panels side by side, sharing axes with tick values and titles: point clouds (samples)
 * and heat maps (densities), e.g. "model" beside "data". */
typedef enum genc_panel_kind { GENC_PANEL_POINTS = 0, GENC_PANEL_HEATMAP = 1 } genc_panel_kind;

typedef struct genc_panel {
    const char *title;      /* above the panel; may be NULL */
    genc_panel_kind kind;
    /* POINTS: n points (xy[2i], xy[2i+1]); those outside the axes are skipped */
    const float *xy;
    int64_t n;
    /* HEATMAP: z[j * nx + i] for the cell i-th from the left and j-th from the bottom, the
     * cells tiling the axes' range; coloured by value (viridis, smallest to largest) */
    const double *z;
    int nx, ny;
} genc_panel;

typedef struct genc_panels_spec {
    const char *title;            /* over the figure; may be NULL */
    double xlo, xhi, ylo, yhi;    /* the range every panel shows */
    const char *xlabel, *ylabel;  /* axis titles; may be NULL */
    int size;                     /* side of each data area in pixels, 64..2048; 0 = 320 */
} genc_panels_spec;

/* 1..8 panels in a row. Atomic. */
int genc_png_panels(const char *path, const genc_panels_spec *spec, const genc_panel *panels,
                    int n);

#ifdef __cplusplus
}
#endif
#endif
