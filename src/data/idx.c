/* IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/), plain or gzipped.
 *
 * Layout: magic 00 00 <type> <ndims>, then ndims big-endian uint32 sizes, then the elements
 * in row-major order. genc reads type 0x08 (unsigned byte), the type of every image and
 * label file of MNIST and Fashion-MNIST.
 *
 * The file is untrusted. Gzip is recognised by its magic bytes (1f 8b), never by the name.
 * The size the header claims is checked against GENC_IDX_MAX_BYTES before anything is
 * allocated, and for a plain file against the file's size as well; a gzip stream cannot be
 * measured without inflating it, so it is read in chunks into a buffer that grows only as
 * data actually arrives: a small file that claims a gigabyte costs what it holds. */
#include "genc/data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (1 << 20)

/* One open file, read through stdio (plain) or zlib (gzip). */
typedef struct source {
    const char *path;
    FILE *f;
    gzFile gz;
    int64_t file_size;   /* bytes on disk */
} source;

static int source_open(source *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    s->f = fopen(path, "rb");
    if (!s->f) return genc_set_error("%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(s->f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(s->f);
        s->f = NULL;
        return genc_set_error("%s: not a regular file", path);
    }
    s->file_size = (int64_t)st.st_size;
    uint8_t m[2];
    size_t got = fread(m, 1, 2, s->f);
    rewind(s->f);
    if (got == 2 && m[0] == 0x1f && m[1] == 0x8b) {
        int fd = dup(fileno(s->f));
        fclose(s->f);
        s->f = NULL;
        s->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (!s->gz) {
            if (fd >= 0) close(fd);
            return genc_set_error("%s: cannot open the gzip stream", path);
        }
        gzbuffer(s->gz, 1 << 17);
    }
    return GENC_OK;
}

static void source_close(source *s) {
    if (s->f) fclose(s->f);
    if (s->gz) gzclose(s->gz);
    s->f = NULL;
    s->gz = NULL;
}

/* Up to n bytes; fewer only at the end of the data. -1 on a read or gzip error. */
static int64_t source_read(source *s, void *buf, int64_t n) {
    int64_t done = 0;
    while (done < n) {
        int64_t want = n - done < CHUNK ? n - done : CHUNK;
        int64_t got;
        if (s->gz) {
            got = gzread(s->gz, (char *)buf + done, (unsigned)want);
            int err;
            const char *msg = gzerror(s->gz, &err);
            if (got < 0 || (err != Z_OK && err != Z_BUF_ERROR))
                return genc_set_error("%s: gzip data is corrupt: %s", s->path, msg), -1;
        } else {
            got = (int64_t)fread((char *)buf + done, 1, (size_t)want, s->f);
            if (got < want && ferror(s->f))
                return genc_set_error("%s: read failed: %s", s->path, strerror(errno)), -1;
        }
        done += got;
        if (got < want) break;
    }
    return done;
}

/* A truncated gzip stream reads short with Z_BUF_ERROR: say so beside the byte counts. */
static const char *gzip_note(const source *s) {
    if (!s->gz) return "";
    int err;
    gzerror(s->gz, &err);
    return err == Z_BUF_ERROR ? " (the gzip stream is cut short)" : "";
}

static const char *type_name(int t) {
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return NULL;
    }
}

/* Magic and sizes: sets ndims, dims and size, or returns GENC_ERR. */
static int read_header(source *s, genc_idx *x) {
    uint8_t h[4 + 4 * GENC_IDX_MAX_DIMS];
    int64_t got = source_read(s, h, 4);
    if (got < 0) return GENC_ERR;
    if (got < 4)
        return genc_set_error("%s: not an IDX file (%lld bytes, shorter than the 4-byte magic)",
                              s->path, (long long)got);
    if (h[0] != 0 || h[1] != 0)
        return genc_set_error("%s: not an IDX file (it starts %02x %02x %02x %02x; an IDX file "
                              "starts 00 00 <type> <ndims>)", s->path, h[0], h[1], h[2], h[3]);
    const char *tn = type_name(h[2]);
    if (!tn) return genc_set_error("%s: unknown IDX element type 0x%02X", s->path, h[2]);
    if (h[2] != 0x08)
        return genc_set_error("%s: IDX element type 0x%02X (%s) is not supported: genc reads "
                              "unsigned bytes (type 0x08)", s->path, h[2], tn);
    x->ndims = h[3];
    if (x->ndims < 1 || x->ndims > GENC_IDX_MAX_DIMS)
        return genc_set_error("%s: IDX file with %d dimensions (genc reads 1 to %d)", s->path,
                              x->ndims, GENC_IDX_MAX_DIMS);
    got = source_read(s, h + 4, 4 * x->ndims);
    if (got < 0) return GENC_ERR;
    if (got < 4 * x->ndims)
        return genc_set_error("%s: truncated IDX header: %d dimension sizes need %d bytes, the "
                              "file holds %lld", s->path, x->ndims, 4 * x->ndims, (long long)got);
    x->size = 1;
    for (int i = 0; i < x->ndims; i++) {
        const uint8_t *p = h + 4 + 4 * i;
        x->dims[i] = (int64_t)p[0] << 24 | (int64_t)p[1] << 16 | (int64_t)p[2] << 8 | p[3];
        if (x->dims[i] == 0) return genc_set_error("%s: IDX dimension %d has size 0", s->path, i);
        /* each dim < 2^32 and the running product <= the cap < 2^31: no int64 overflow */
        x->size *= x->dims[i];
        if (x->size > GENC_IDX_MAX_BYTES)
            return genc_set_error("%s: the IDX header claims more than %lld bytes of data "
                                  "(dimension %d is %lld); genc reads at most %lld", s->path,
                                  (long long)GENC_IDX_MAX_BYTES, i, (long long)x->dims[i],
                                  (long long)GENC_IDX_MAX_BYTES);
    }
    return GENC_OK;
}

/* The data: exactly x->size bytes, then the end of the file. */
static int read_data(source *s, genc_idx *x) {
    int64_t header = 4 + 4 * (int64_t)x->ndims;
    if (!s->gz && s->file_size != header + x->size)
        return genc_set_error("%s: the IDX header says %lld data bytes, the file holds %lld after "
                              "its %lld-byte header", s->path, (long long)x->size,
                              (long long)(s->file_size - header), (long long)header);
    int64_t cap = 0, have = 0;
    while (have < x->size) {
        if (have == cap) {
            cap = cap ? 2 * cap : CHUNK;
            if (cap > x->size) cap = x->size;
            uint8_t *d = realloc(x->data, (size_t)cap);
            if (!d)
                return genc_set_error("%s: out of memory (%lld bytes)", s->path, (long long)cap);
            x->data = d;
        }
        int64_t got = source_read(s, x->data + have, cap - have);
        if (got < 0) return GENC_ERR;
        have += got;
        if (have < cap) {
            return genc_set_error("%s: truncated IDX data: the header says %lld bytes, the file "
                                  "holds %lld%s", s->path, (long long)x->size, (long long)have,
                                  gzip_note(s));
        }
    }
    /* Trailing bytes: counted (up to a bound, a gzip stream may be huge) for the message. */
    uint8_t *scratch = malloc(CHUNK);
    if (!scratch) return genc_set_error("%s: out of memory", s->path);
    int64_t extra = 0, got = 0;
    while (extra < 64 * (int64_t)CHUNK && (got = source_read(s, scratch, CHUNK)) > 0) extra += got;
    free(scratch);
    if (got < 0) return GENC_ERR;
    if (extra > 0)
        return genc_set_error("%s: the IDX header says %lld data bytes, the file holds %s%lld "
                              "(trailing data)", s->path, (long long)x->size,
                              got > 0 ? "more than " : "", (long long)(x->size + extra));
    return GENC_OK;
}

int genc_idx_load(const char *path, genc_idx *out) {
    memset(out, 0, sizeof *out);
    source s;
    if (source_open(&s, path) != GENC_OK) return GENC_ERR;
    int rc = read_header(&s, out);
    if (rc == GENC_OK) rc = read_data(&s, out);
    source_close(&s);
    if (rc != GENC_OK) genc_idx_free(out);
    return rc;
}

void genc_idx_free(genc_idx *x) {
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}
