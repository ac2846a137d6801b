/* Metrics CSV: header and %.6g rows, append on resume when the header matches, a clear error
 * when it does not, a partial last row from a crash cut away, bad column names refused. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path) {
    void *d;
    size_t n;
    return genc_read_file(path, &d, &n) == GENC_OK ? d : NULL;
}

int main(void) {
    const char *path = "metrics_test.csv";
    const char *cols[] = {"step", "loss", "lr"};
    unlink(path);
    genc_csv m;
    CHECK(genc_csv_open(&m, path, cols, 3, 1) == GENC_OK, "open new (append on a missing file): %s", genc_error());
    double r1[] = {1, 2.718281828, 3e-4}, r2[] = {2, NAN, 1e-12};
    genc_csv_row(&m, r1);
    char *t = slurp(path);   /* flushed without closing */
    CHECK(t && strcmp(t, "step,loss,lr\n1,2.71828,0.0003\n") == 0, "flushed after each row: '%s'", t);
    free(t);
    genc_csv_row(&m, r2);
    genc_csv_close(&m);
    genc_csv_close(&m);   /* twice is harmless */
    genc_csv_row(&m, r2); /* after close: ignored */

    /* Resume: same header, rows appended. */
    CHECK(genc_csv_open(&m, path, cols, 3, 1) == GENC_OK, "reopen: %s", genc_error());
    double r3[] = {3, 1.5, 123456789};
    genc_csv_row(&m, r3);
    genc_csv_close(&m);
    t = slurp(path);
    CHECK(t && strcmp(t, "step,loss,lr\n1,2.71828,0.0003\n2,nan,1e-12\n3,1.5,1.23457e+08\n") == 0,
          "appended: '%s'", t);
    free(t);

    /* Different header: refused, file untouched. */
    const char *other[] = {"step", "loss"};
    CHECK(genc_csv_open(&m, path, other, 2, 1) == GENC_ERR && strstr(genc_error(), path) &&
          strstr(genc_error(), "differs"), "header mismatch: %s", genc_error());
    CHECK(m.f == NULL, "no file handle on failure");
    const char *prefix[] = {"step", "loss", "lr", "extra"};
    CHECK(genc_csv_open(&m, path, prefix, 4, 1) == GENC_ERR, "longer header refused");
    t = slurp(path);
    CHECK(t && strcmp(t, "step,loss,lr\n1,2.71828,0.0003\n2,nan,1e-12\n3,1.5,1.23457e+08\n") == 0,
          "file untouched");
    free(t);

    /* A crash mid-row leaves a partial line: it is dropped on resume. */
    FILE *f = fopen(path, "a");
    fputs("4,1.2", f);
    fclose(f);
    CHECK(genc_csv_open(&m, path, cols, 3, 1) == GENC_OK, "reopen after partial row");
    double r4[] = {4, 1.25, 0};
    genc_csv_row(&m, r4);
    genc_csv_close(&m);
    t = slurp(path);
    CHECK(t && strcmp(t, "step,loss,lr\n1,2.71828,0.0003\n2,nan,1e-12\n3,1.5,1.23457e+08\n4,1.25,0\n") == 0,
          "partial row dropped: '%s'", t);
    free(t);

    /* append = 0 starts over. */
    CHECK(genc_csv_open(&m, path, other, 2, 0) == GENC_OK, "truncate: %s", genc_error());
    genc_csv_close(&m);
    t = slurp(path);
    CHECK(t && strcmp(t, "step,loss\n") == 0, "fresh file: '%s'", t);
    free(t);
    unlink(path);

    const char *bad[] = {"a,b", "c"};
    CHECK(genc_csv_open(&m, path, bad, 2, 0) == GENC_ERR && strstr(genc_error(), "commas"), "comma in name: %s", genc_error());
    const char *empty[] = {""};
    CHECK(genc_csv_open(&m, path, empty, 1, 0) == GENC_ERR, "empty name refused");
    CHECK(genc_csv_open(&m, path, cols, 0, 0) == GENC_ERR, "no columns refused");
    CHECK(access(path, F_OK) != 0, "nothing created on refusal");
    CHECK(genc_csv_open(&m, "metrics_no_folder/m.csv", cols, 3, 0) == GENC_ERR &&
          strstr(genc_error(), "metrics_no_folder/m.csv"), "missing folder: %s", genc_error());
    return tu_finish();
}
