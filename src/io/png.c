/* PNG files through libpng: writing 8-bit gray or RGB images, reading any PNG into 8-bit gray
 * or RGB, and image grids of model samples.
 *
 * Writes encode into memory with libpng's simplified API and then go through
 * genc_write_file_atomic, so a crash never leaves a half-written PNG.
 *
 * Reads trust nothing. libpng reports errors by longjmp; the jump lands in read_guarded(),
 * whose state lives in its caller's frame (so nothing it changed is lost), and every error
 * becomes GENC_ERR with libpng's reason. Before any pixel memory is allocated the declared
 * size is checked against GENC_PNG_MAX_SIDE / GENC_PNG_MAX_PIXELS (libpng's user limits
 * enforce the sides while parsing the header) and against what the file could possibly
 * hold: deflate expands at most 1032-fold, so a 100-byte file cannot carry 100000 x 100000
 * pixels and is refused without allocating them. */
#include "genc/io.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int genc_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels) {
    if (!pixels || width <= 0 || height <= 0 || width > GENC_PNG_MAX_SIDE ||
        height > GENC_PNG_MAX_SIDE)
        return genc_set_error("%s: cannot write a %dx%d image (sides must be 1..%d)", path, width,
                              height, GENC_PNG_MAX_SIDE);
    if (channels != 1 && channels != 3)
        return genc_set_error("%s: %d channels (PNG output takes 1 = gray or 3 = RGB)", path,
                              channels);
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

/* ---------------------------------------------------------------- reading */

typedef struct reader {
    const char *path;
    FILE *f;
    int64_t file_size;
    char why[256];           /* libpng's message */
    char warned[256];        /* its last warning: often the reason for the error that follows */
    png_structp png;
    png_infop info;
    uint8_t *raw;            /* decoded rows, 1 to 4 channels of 8 bits */
    png_bytep *rows;
    genc_image *out;
} reader;

static void on_error(png_structp png, png_const_charp msg) {
    reader *r = png_get_error_ptr(png);
    snprintf(r->why, sizeof r->why, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    reader *r = png_get_error_ptr(png);
    snprintf(r->warned, sizeof r->warned, "%s", msg);
}

/* Reads through stdio so a short file gets a clear reason. */
static void on_read(png_structp png, png_bytep data, size_t n) {
    reader *r = png_get_io_ptr(png);
    if (fread(data, 1, n, r->f) != n) png_error(png, "the file ends early (truncated)");
}

/* Alpha composited on white: v' = (v a + 255 (255 - a)) / 255, rounded. */
static uint8_t over_white(uint8_t v, uint8_t a) {
    return (uint8_t)((v * a + 255 * (255 - a) + 127) / 255);
}

/* Everything that can longjmp. Returns GENC_OK, or GENC_ERR with the message set. */
static int read_guarded(reader *r) {
    if (setjmp(png_jmpbuf(r->png)))
        return genc_set_error("%s: not a valid PNG: %s%s%s%s", r->path, r->why,
                              *r->warned ? " (" : "", r->warned, *r->warned ? ")" : "");
    png_set_read_fn(r->png, r, on_read);
    png_set_sig_bytes(r->png, 8);
    png_set_user_limits(r->png, GENC_PNG_MAX_SIDE, GENC_PNG_MAX_SIDE);
    png_set_chunk_malloc_max(r->png, 8u << 20);   /* ancillary chunks (text, ICC): 8 MiB */
    png_read_info(r->png, r->info);
    png_uint_32 w = png_get_image_width(r->png, r->info), h = png_get_image_height(r->png, r->info);
    int depth = png_get_bit_depth(r->png, r->info), type = png_get_color_type(r->png, r->info);
    int64_t pixels = (int64_t)w * h;
    if (pixels > GENC_PNG_MAX_PIXELS)
        return genc_set_error("%s: %ux%u pixels, more than the %lld genc reads", r->path,
                              (unsigned)w, (unsigned)h, (long long)GENC_PNG_MAX_PIXELS);
    int64_t packed =
        (int64_t)h * (((int64_t)w * png_get_channels(r->png, r->info) * depth + 7) / 8 + 1);
    if (packed > 1032 * r->file_size + 4096)
        return genc_set_error(
            "%s: declares %ux%u pixels (%lld bytes of image data) but the file has "
            "only %lld bytes, too few to hold them even compressed",
            r->path, (unsigned)w, (unsigned)h, (long long)packed, (long long)r->file_size);
    /* Expand everything to 8-bit gray, gray+alpha, RGB or RGBA. */
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
    if (depth == 16) png_set_scale_16(r->png);
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    int ch = png_get_channels(r->png, r->info);
    size_t stride = png_get_rowbytes(r->png, r->info);
    if (ch < 1 || ch > 4 || stride != (size_t)w * (size_t)ch)
        return genc_set_error("%s: unexpected PNG layout after conversion (%d channels)", r->path,
                              ch);
    r->raw = malloc((size_t)pixels * (size_t)ch);
    r->rows = malloc((size_t)h * sizeof *r->rows);
    if (!r->raw || !r->rows)
        return genc_set_error("%s: out of memory (%ux%u image)", r->path, (unsigned)w, (unsigned)h);
    for (png_uint_32 y = 0; y < h; y++) r->rows[y] = r->raw + (size_t)y * stride;
    png_read_image(r->png, r->rows);
    png_read_end(r->png, NULL);

    int oc = ch <= 2 ? 1 : 3;   /* drop alpha by compositing on white */
    genc_image *o = r->out;
    o->pixels = malloc((size_t)pixels * (size_t)oc);
    if (!o->pixels) return genc_set_error("%s: out of memory", r->path);
    o->width = (int)w;
    o->height = (int)h;
    o->channels = oc;
    for (int64_t i = 0; i < pixels; i++) {
        const uint8_t *s = r->raw + i * ch;
        for (int k = 0; k < oc; k++)
            o->pixels[i * oc + k] = ch == 2 || ch == 4 ? over_white(s[k], s[ch - 1]) : s[k];
    }
    return GENC_OK;
}

int genc_png_read(const char *path, genc_image *out) {
    memset(out, 0, sizeof *out);
    reader r = {.path = path, .out = out};
    r.f = fopen(path, "rb");
    if (!r.f) return genc_set_error("%s: %s", path, strerror(errno));
    struct stat st;
    uint8_t sig[8];
    int rc;
    if (fstat(fileno(r.f), &st) != 0 || !S_ISREG(st.st_mode))
        rc = genc_set_error("%s: not a regular file", path);
    else if (fread(sig, 1, 8, r.f) != 8 || png_sig_cmp(sig, 0, 8))
        rc = genc_set_error("%s: not a PNG file (it does not start with the PNG signature)", path);
    else {
        r.file_size = (int64_t)st.st_size;
        r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
        r.info = r.png ? png_create_info_struct(r.png) : NULL;
        rc = r.info ? read_guarded(&r) : genc_set_error("%s: out of memory", path);
        png_destroy_read_struct(r.png ? &r.png : NULL, r.info ? &r.info : NULL, NULL);
    }
    free(r.raw);
    free(r.rows);
    fclose(r.f);
    if (rc != GENC_OK) genc_image_free(out);
    return rc;
}

/* ---------------------------------------------------------------- image grids */

int genc_png_grid(const char *path, const float *images, int n, int channels, int h, int w,
                  int cols, float lo, float hi) {
    if (!images || n < 1 || h < 1 || w < 1 || (channels != 1 && channels != 3) || !(hi > lo) ||
        !isfinite(hi - lo))
        return genc_set_error("%s: a grid takes n >= 1 images of 1 or 3 channels, sides >= 1 and a "
                              "range lo < hi (got n %d, %d channels, %dx%d, range %g..%g)", path, n,
                              channels, h, w, (double)lo, (double)hi);
    if (cols <= 0) {   /* as square as possible */
        cols = 1;
        while ((int64_t)cols * cols < n) cols++;
    }
    if (cols > n) cols = n;
    int64_t rows = (n + cols - 1) / cols, gap = GENC_PNG_GRID_GAP;
    int64_t W = gap + cols * (w + gap), H = gap + rows * (h + gap);
    if (W > GENC_PNG_MAX_SIDE || H > GENC_PNG_MAX_SIDE)
        return genc_set_error("%s: a grid of %d images in %d columns would be %lldx%lld pixels (at "
                              "most %d a side)",
                              path, n, cols, (long long)W, (long long)H, GENC_PNG_MAX_SIDE);
    uint8_t *px = malloc((size_t)(W * H * channels));
    if (!px) return genc_set_error("%s: out of memory", path);
    memset(px, 255, (size_t)(W * H * channels));   /* white gaps and border */
    float scale = 255.0f / (hi - lo);
    for (int i = 0; i < n; i++) {
        int64_t x0 = gap + (i % cols) * (w + gap), y0 = gap + (i / cols) * (h + gap);
        const float *img = images + (int64_t)i * channels * h * w;
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    float v = (img[((int64_t)c * h + y) * w + x] - lo) * scale;
                    v = v > 0 ? v : 0;   /* NaN too */
                    px[((y0 + y) * W + x0 + x) * channels + c] = (uint8_t)lrintf(v < 255 ? v : 255);
                }
    }
    int rc = genc_png_write(path, px, (int)W, (int)H, channels);
    free(px);
    return rc;
}
