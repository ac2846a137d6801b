/* Metrics log: one CSV file per run, a fixed header, one row per logged step.
 *
 * Format: first line "col0,col1,...", then one line per row of n_cols numbers printed with
 * %.6g (nan and inf print as such). Every row is flushed, so a crash loses at most the row
 * being written. Resuming a run appends to the existing file when its header is the same. */
#include "genc/io.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "a,b,c\n" from the column names (malloc'd); NULL with an error for names that would
 * break the format. */
static char *csv_header(const char *const *cols, int n_cols) {
    size_t len = 2;
    for (int i = 0; i < n_cols; i++) {
        if (!cols[i] || !cols[i][0] || strpbrk(cols[i], ",\"\r\n")) {
            genc_set_error("metrics column %d ('%s') must be non-empty, without commas, quotes "
                           "or line breaks", i, cols[i] ? cols[i] : "(null)");
            return NULL;
        }
        len += strlen(cols[i]) + 1;
    }
    char *h = malloc(len), *p = h;
    if (!h) { genc_set_error("out of memory"); return NULL; }
    for (int i = 0; i < n_cols; i++) {
        size_t l = strlen(cols[i]);
        memcpy(p, cols[i], l);
        p += l;
        *p++ = i + 1 < n_cols ? ',' : '\n';
    }
    *p = 0;
    return h;
}

/* Open an existing log for appending after checking its header. A crash can leave a partial
 * last row (no final newline); it is cut off so the next row starts on its own line. */
static FILE *csv_reopen(const char *path, const char *header) {
    void *buf;
    size_t size;
    if (genc_read_file(path, &buf, &size) != GENC_OK) return NULL;
    const char *text = buf, *nl = memchr(text, '\n', size);
    size_t hl = strlen(header);
    if (!nl || (size_t)(nl - text) + 1 != hl || memcmp(text, header, hl) != 0) {
        size_t shown = nl ? (size_t)(nl - text) : (size < 200 ? size : 200);
        genc_set_error("%s: existing header '%.*s' differs from '%.*s' (use a new output folder "
                       "or remove the file)", path, (int)shown, text, (int)hl - 1, header);
        free(buf);
        return NULL;
    }
    size_t keep = size;
    while (keep > 0 && text[keep - 1] != '\n') keep--;
    free(buf);
    if (keep < size && truncate(path, (off_t)keep) != 0) {
        genc_set_error("%s: cannot drop a partial last row: %s", path, strerror(errno));
        return NULL;
    }
    FILE *f = fopen(path, "a");
    if (!f) genc_set_error("%s: cannot append: %s", path, strerror(errno));
    return f;
}

int genc_csv_open(genc_csv *m, const char *path, const char *const *cols, int n_cols, int append) {
    m->f = NULL;
    m->n_cols = 0;
    if (n_cols <= 0) return genc_set_error("%s: a metrics log needs at least one column", path);
    char *header = csv_header(cols, n_cols);
    if (!header) return genc_wrap_error("%s", path);
    struct stat st;
    FILE *f;
    if (append && stat(path, &st) == 0 && st.st_size > 0) {
        f = csv_reopen(path, header);
    } else {
        f = fopen(path, "w");
        if (!f) genc_set_error("%s: cannot create: %s", path, strerror(errno));
        else if (fputs(header, f) == EOF || fflush(f) != 0) {
            genc_set_error("%s: write failed: %s", path, strerror(errno));
            fclose(f);
            f = NULL;
        }
    }
    free(header);
    if (!f) return GENC_ERR;
    m->f = f;
    m->n_cols = n_cols;
    return GENC_OK;
}

void genc_csv_row(genc_csv *m, const double *vals) {
    if (!m->f) return;
    for (int i = 0; i < m->n_cols; i++)
        fprintf(m->f, i + 1 < m->n_cols ? "%.6g," : "%.6g\n", vals[i]);
    fflush(m->f);
}

void genc_csv_close(genc_csv *m) {
    if (m->f) fclose(m->f);
    m->f = NULL;
    m->n_cols = 0;
}
