/* safetensors: round trip through genc_st_write / genc_st_read, a file written by the Python
 * side, hostile headers that must each fail with a clear message, truncations, a
 * deterministic mutation fuzz loop, and the atomic-write guarantees. */
#include "testutil.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

/* A raw safetensors image: 8-byte little-endian header length, the header, then `data_len`
 * bytes of buffer (filled with a pattern). Caller frees. */
static unsigned char *raw_file(const char *header, size_t data_len, size_t *size) {
    size_t hl = strlen(header);
    *size = 8 + hl + data_len;
    unsigned char *b = malloc(*size);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) b[8 + hl + i] = (unsigned char)(i * 37 + 1);
    return b;
}

/* Every tensor lies inside the buffer and its byte count matches its shape. */
static int tensors_inside(const genc_st_file *f) {
    const unsigned char *lo = f->buffer, *hi = lo + f->size;
    for (int i = 0; i < f->n_tensors; i++) {
        const genc_st_tensor *t = &f->tensors[i];
        const unsigned char *p = t->data;
        uint64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) numel *= (uint64_t)t->shape[k];
        if (p < lo + 8 || p > hi || t->nbytes > (size_t)(hi - p)) return 0;
        if (numel * genc_dtype_size(t->dtype) != t->nbytes) return 0;
        if (!t->name) return 0;
    }
    return 1;
}

/* Parsing must fail, leave f empty, and the message must mention `want`. */
static void expect_fail(const char *what, const void *bytes, size_t size, const char *want) {
    genc_st_file f;
    genc_clear_error();
    int rc = genc_st_parse(bytes, size, &f);
    CHECK(rc == GENC_ERR, "%s: parse should fail", what);
    if (rc == GENC_OK) { genc_st_free(&f); return; }
    CHECK(f.tensors == NULL && f.meta == NULL && f.buffer == NULL && f.n_tensors == 0,
          "%s: file struct cleared on failure", what);
    CHECK(strstr(genc_error(), want) != NULL, "%s: message '%s' should mention '%s'", what,
          genc_error(), want);
}

static void expect_header_fail(const char *what, const char *header, size_t data_len,
                               const char *want) {
    size_t size;
    unsigned char *b = raw_file(header, data_len, &size);
    expect_fail(what, b, size, want);
    free(b);
}

/* ------------------------------------------------------------------ round trip */

static float A[6] = {1.5f, -2.f, 3.25f, 0.f, -0.f, 1e-20f};
static int32_t B[4] = {-1, 0, 7, 2147483647};
static uint8_t C[5] = {0, 1, 128, 254, 255};
static double D[2] = {3.141592653589793, -1e300};

/* Three tensors given out of name order, an empty one, a 0-d one, and metadata. */
static int write_sample(const char *path) {
    static float scalar = 42.f;
    genc_st_entry e[] = {
        {"zeta.weight", GENC_DT_F32, 2, {2, 3}, A},
        {"alpha.ids", GENC_DT_I32, 1, {4}, B},
        {"bytes", GENC_DT_U8, 1, {5}, C},
        {"double", GENC_DT_F64, 1, {2}, D},
        {"empty", GENC_DT_F32, 2, {0, 3}, NULL},
        {"scalar", GENC_DT_F32, 0, {0}, &scalar},
    };
    genc_st_kv meta[] = {{"config", "{\"d\": 64, \"name\": \"caf\xc3\xa9\"}"}, {"step", "100"}};
    return genc_st_write(path, e, 6, meta, 2);
}

static void test_round_trip(void) {
    const char *path = "st_round_trip.safetensors";
    CHECK(write_sample(path) == GENC_OK, "write: %s", genc_error());
    genc_st_file f;
    if (genc_st_read(path, &f) != GENC_OK) { CHECK(0, "read back: %s", genc_error()); return; }
    CHECK(f.n_tensors == 6 && f.n_meta == 2, "counts %d tensors %d meta", f.n_tensors, f.n_meta);
    CHECK(tensors_inside(&f), "tensors inside buffer");
    const genc_st_tensor *t = genc_st_find(&f, "zeta.weight");
    CHECK(t && t->dtype == GENC_DT_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
          memcmp(t->data, A, sizeof A) == 0, "zeta.weight kept (incl. -0 and denormal-range bits)");
    t = genc_st_find(&f, "alpha.ids");
    CHECK(t && t->dtype == GENC_DT_I32 && t->ndim == 1 && memcmp(t->data, B, sizeof B) == 0, "alpha.ids kept");
    t = genc_st_find(&f, "bytes");
    CHECK(t && t->dtype == GENC_DT_U8 && t->nbytes == 5 && memcmp(t->data, C, 5) == 0, "U8 kept");
    t = genc_st_find(&f, "empty");
    CHECK(t && t->nbytes == 0 && t->ndim == 2 && t->shape[0] == 0, "empty tensor kept");
    t = genc_st_find(&f, "scalar");
    CHECK(t && t->ndim == 0 && t->nbytes == 4, "0-d tensor kept");
    CHECK(genc_st_find(&f, "missing") == NULL, "find missing is NULL");
    const char *cfg = genc_st_meta(&f, "config");
    CHECK(cfg && strcmp(cfg, "{\"d\": 64, \"name\": \"caf\xc3\xa9\"}") == 0, "metadata config kept: %s", cfg);
    CHECK(genc_st_meta(&f, "step") && strcmp(genc_st_meta(&f, "step"), "100") == 0, "metadata step kept");
    CHECK(genc_st_meta(&f, "nope") == NULL, "absent metadata is NULL");

    /* Header length is a multiple of 8 so the buffer (and F32 data) start aligned. */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | ((unsigned char *)f.buffer)[i];
    CHECK(hlen % 8 == 0, "header padded to 8 bytes (%llu)", (unsigned long long)hlen);
    /* Names in the header come sorted, data in the same order. */
    const char *hdr = (const char *)f.buffer + 8;
    const char *pa = strstr(hdr, "\"alpha.ids\""), *pz = strstr(hdr, "\"zeta.weight\"");
    CHECK(pa && pz && pa < pz, "header names sorted");
    CHECK(genc_st_find(&f, "alpha.ids")->data < genc_st_find(&f, "zeta.weight")->data, "data in name order");

    float got[6];
    CHECK(genc_st_get_f32(&f, "zeta.weight", got, 6) == GENC_OK && memcmp(got, A, sizeof A) == 0, "get_f32 F32");
    float gd[2];
    CHECK(genc_st_get_f32(&f, "double", gd, 2) == GENC_OK && gd[0] == (float)D[0] && isinf(gd[1]),
          "get_f32 F64 converts (%g %g)", gd[0], gd[1]);
    CHECK(genc_st_get_f32(&f, "zeta.weight", got, 5) == GENC_ERR && strstr(genc_error(), "6 elements"),
          "get_f32 count mismatch: %s", genc_error());
    CHECK(genc_st_get_f32(&f, "nothere", got, 1) == GENC_ERR && strstr(genc_error(), "missing"),
          "get_f32 missing: %s", genc_error());
    CHECK(genc_st_get_f32(&f, "bytes", got, 5) == GENC_ERR, "get_f32 refuses U8");
    genc_st_free(&f);
    CHECK(f.buffer == NULL && f.tensors == NULL, "free clears");
    genc_st_free(&f); /* twice is harmless */
    unlink(path);
}

/* A file written by tests/parity/st_roundtrip.py (PyTorch tensors through fixture.save). */
static void test_python_file(void) {
    genc_st_file f;
    if (tu_fixture("st_roundtrip.py", "st_python.safetensors", &f) != GENC_OK) return;
    CHECK(f.n_tensors == 3, "python file: %d tensors", f.n_tensors);
    const genc_st_tensor *a = genc_st_find(&f, "weights.a");
    CHECK(a && a->dtype == GENC_DT_F32 && a->ndim == 2 && a->shape[0] == 3 && a->shape[1] == 4,
          "weights.a header");
    if (a) {
        float v[12];
        CHECK(genc_st_get_f32(&f, "weights.a", v, 12) == GENC_OK, "weights.a read");
        int ok = 1;
        for (int i = 0; i < 12; i++) ok &= v[i] == i * 0.25f - 1.0f;
        CHECK(ok, "weights.a values");
    }
    const genc_st_tensor *b = genc_st_find(&f, "ids");
    int32_t want[5] = {-7, 0, 3, 2147483647, -2147483647 - 1};
    CHECK(b && b->dtype == GENC_DT_I32 && b->ndim == 1 && b->shape[0] == 5 &&
          memcmp(b->data, want, sizeof want) == 0, "ids I32 values");
    const genc_st_tensor *c = genc_st_find(&f, "nested/c");
    if (c && c->dtype == GENC_DT_F32 && c->ndim == 3 && c->nbytes == 24) {
        float v[6];
        memcpy(v, c->data, sizeof v);
        CHECK(signbit(v[0]) && v[0] == 0 && v[5] == 1e-30f, "nested/c keeps -0 and 1e-30");
    } else CHECK(0, "nested/c header");
    const char *cfg = genc_st_meta(&f, "config");
    CHECK(cfg && strcmp(cfg, "{\"d_model\": 64, \"name\": \"caf\xc3\xa9\"}") == 0,
          "metadata with a \\u escape decodes to UTF-8: %s", cfg ? cfg : "(null)");
    CHECK(genc_st_meta(&f, "step") && strcmp(genc_st_meta(&f, "step"), "1234") == 0, "metadata step");
    CHECK(genc_st_meta(&f, "format") && strcmp(genc_st_meta(&f, "format"), "pt") == 0, "metadata format");
    genc_st_free(&f);
    unlink("st_python.safetensors");
}

/* ------------------------------------------------------------------ hostile input */

static void test_hostile_headers(void) {
    expect_fail("empty file", "", 0, "too short");
    expect_fail("7 bytes", "\x10\0\0\0\0\0\0", 7, "too short");
    {
        unsigned char b[18] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
        expect_fail("header length > file", b, sizeof b, "header length 100");
    }
    {
        unsigned char b[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}'};
        expect_fail("header length huge", b, sizeof b, "does not fit");
    }
    {
        unsigned char b[10] = {1, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
        expect_fail("header length 1", b, sizeof b, "does not fit");
    }
    expect_header_fail("not JSON", "{not json at all}", 0, "not a JSON object");
    expect_header_fail("JSON cut short", "{\"a\": {\"dtype\": \"F32\"", 0, "not a JSON object");
    expect_header_fail("JSON array", "[1, 2, 3]", 0, "not a JSON object");
    expect_header_fail("JSON string", "\"hello\"", 0, "not a JSON object");
    expect_header_fail("unknown dtype", "{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                       "unsupported dtype 'F8'");
    expect_header_fail("dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                       "needs dtype");
    expect_header_fail("negative shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
                       "not a non-negative integer");
    expect_header_fail("fractional shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
                       "not a non-negative integer");
    expect_header_fail("string shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                       "not a non-negative integer");
    expect_header_fail("huge shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4,
                       "not a non-negative integer");
    expect_header_fail("shape overflow",
                       "{\"a\":{\"dtype\":\"F64\",\"shape\":[4000000000,4000000000,4000000000],\"data_offsets\":[0,8]}}",
                       8, "overflows");
    expect_header_fail("too many dims",
                       "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                       "dimensions");
    expect_header_fail("shape not an array", "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16,
                       "needs dtype");
    expect_header_fail("offsets past end", "{\"a\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 16,
                       "outside the 16-byte buffer");
    expect_header_fail("end < begin", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 16,
                       "data_offsets [8, 4]");
    expect_header_fail("negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 16,
                       "data_offsets");
    expect_header_fail("fractional offset", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0.5,1.5]}}", 16,
                       "data_offsets");
    expect_header_fail("string offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[\"0\",\"1\"]}}", 16,
                       "data_offsets");
    expect_header_fail("three offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 16,
                       "data_offsets [begin, end]");
    expect_header_fail("huge offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1e300,1e301]}}", 16,
                       "outside");
    expect_header_fail("size mismatch", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 16,
                       "12 bytes for 4 elements");
    expect_header_fail("overlap",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 16, "overlap");
    expect_header_fail("same span twice",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 16, "overlap");
    expect_header_fail("duplicate names",
                       "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "appears twice");
    expect_header_fail("metadata not a string", "{\"__metadata__\":{\"step\":5}}", 0, "not a string");
    expect_header_fail("metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, "not an object");
    expect_header_fail("metadata twice", "{\"__metadata__\":{\"a\":\"1\"},\"__metadata__\":{\"b\":\"2\",\"c\":\"3\"}}", 0,
                       "__metadata__");
    expect_header_fail("entry not an object", "{\"a\": 5}", 0, "needs dtype");
    expect_header_fail("entry an array", "{\"a\": [\"F32\", [1], [0, 4]]}", 4, "needs dtype");
    expect_header_fail("null entry", "{\"a\": null}", 0, "needs dtype");

    /* Accepted edge cases: an empty header object, and an empty tensor between two others. */
    genc_st_file f;
    size_t size;
    unsigned char *b = raw_file("{}", 0, &size);
    CHECK(genc_st_parse(b, size, &f) == GENC_OK && f.n_tensors == 0, "empty object is a valid empty file");
    genc_st_free(&f);
    free(b);
    b = raw_file("{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &size);
    CHECK(genc_st_parse(b, size, &f) == GENC_OK && f.n_tensors == 2, "empty tensor at an occupied start: %s",
          genc_error());
    genc_st_free(&f);
    free(b);
}

/* The named file in error messages from genc_st_read, and files that are not files. */
static void test_read_errors(void) {
    genc_st_file f;
    CHECK(genc_st_read("no_such_file.safetensors", &f) == GENC_ERR &&
          strstr(genc_error(), "no_such_file.safetensors"), "missing file named: %s", genc_error());
    FILE *fp = fopen("st_empty.safetensors", "wb");
    fclose(fp);
    CHECK(genc_st_read("st_empty.safetensors", &f) == GENC_ERR &&
          strstr(genc_error(), "st_empty.safetensors: file is 0 bytes"), "empty file named: %s", genc_error());
    unlink("st_empty.safetensors");
    CHECK(genc_st_read(".", &f) == GENC_ERR && strstr(genc_error(), "not a regular file"),
          "folder refused: %s", genc_error());
}

/* Cut a valid file at every length: each must fail cleanly (the data run to the last byte,
 * so any cut removes something the header promises). */
static void test_truncations(void) {
    const char *path = "st_trunc.safetensors";
    if (write_sample(path) != GENC_OK) { CHECK(0, "write: %s", genc_error()); return; }
    void *buf;
    size_t size;
    if (genc_read_file(path, &buf, &size) != GENC_OK) { CHECK(0, "%s", genc_error()); return; }
    int bad = 0;
    for (size_t cut = 0; cut < size; cut++) {
        genc_st_file f;
        if (genc_st_parse(buf, cut, &f) != GENC_ERR) { bad++; genc_st_free(&f); }
    }
    CHECK(bad == 0, "%d of %zu truncations were accepted", bad, size);
    genc_st_file f;
    CHECK(genc_st_parse(buf, size - 1, &f) == GENC_ERR && strstr(genc_error(), "truncated"),
          "a cut in the data says truncated: %s", genc_error());
    free(buf);
    unlink(path);
}

/* Deterministic mutation fuzzing: random byte flips (biased to the header and to JSON
 * punctuation, where the parser's decisions are) and truncations. Any outcome is fine
 * except a crash, a leak (sanitizer build) or an accepted tensor outside the buffer. */
static void test_mutation_fuzz(void) {
    const char *path = "st_fuzz.safetensors";
    if (write_sample(path) != GENC_OK) { CHECK(0, "write: %s", genc_error()); return; }
    void *orig;
    size_t size;
    if (genc_read_file(path, &orig, &size) != GENC_OK) { CHECK(0, "%s", genc_error()); return; }
    unlink(path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | ((unsigned char *)orig)[i];
    static const char interesting[] = "{}[]\":,-.0123456789eE \\u";
    unsigned char *m = malloc(size);
    genc_rng r = genc_rng_make(20240601, 3);
    int n_ok = 0, n_err = 0, outside = 0, other = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, orig, size);
        size_t len = size;
        int kind = (int)genc_rng_below(&r, 4);   /* 0,1: flips; 2: truncate; 3: both */
        if (kind != 2) {
            int flips = 1 + (int)genc_rng_below(&r, 6);
            for (int k = 0; k < flips; k++) {
                size_t pos = genc_rng_below(&r, 4) ? 8 + genc_rng_below(&r, (uint32_t)hlen)
                                                   : genc_rng_below(&r, (uint32_t)size);
                m[pos] = genc_rng_below(&r, 2) ? (unsigned char)interesting[genc_rng_below(&r, sizeof interesting - 1)]
                                               : (unsigned char)genc_rng_below(&r, 256);
            }
        }
        if (kind >= 2) len = genc_rng_below(&r, (uint32_t)size + 1);
        genc_st_file f;
        int rc = genc_st_parse(m, len, &f);
        if (rc == GENC_OK) {
            n_ok++;
            if (!tensors_inside(&f)) outside++;
            genc_st_free(&f);
        } else if (rc == GENC_ERR) n_err++;
        else other++;
    }
    CHECK(other == 0, "%d results neither OK nor GENC_ERR", other);
    CHECK(outside == 0, "%d accepted files had a tensor outside the buffer", outside);
    CHECK(n_ok > 100 && n_err > 100, "fuzz exercised both outcomes (%d ok, %d rejected)", n_ok, n_err);
    printf("mutation fuzz: 20000 inputs, %d accepted, %d rejected\n", n_ok, n_err);
    free(m);
    free(orig);
}

/* ------------------------------------------------------------------ atomic writes */

static int count_temps(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    size_t pl = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, prefix, pl) == 0 && strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static void test_atomic_write(void) {
    float x = 1.f;
    genc_st_entry e = {"x", GENC_DT_F32, 1, {1}, &x};
    /* Missing folder: fails with the path in the message, creates nothing. */
    int rc = genc_st_write("st_no_such_folder/model.safetensors", &e, 1, NULL, 0);
    CHECK(rc == GENC_ERR && strstr(genc_error(), "st_no_such_folder/model.safetensors"),
          "write into a missing folder fails: %s", genc_error());
    struct stat st;
    CHECK(stat("st_no_such_folder", &st) != 0, "missing folder not created");
    CHECK(count_temps(".", "st_no_such_folder") == 0, "no temp file");

    /* Rename failure (target is a folder): the temporary must be removed, the folder kept. */
    genc_mkdirs("st_target_is_folder");
    rc = genc_st_write("st_target_is_folder", &e, 1, NULL, 0);
    CHECK(rc == GENC_ERR && strstr(genc_error(), "rename failed"), "rename over a folder fails: %s", genc_error());
    CHECK(count_temps(".", "st_target_is_folder") == 0, "temp file removed after a failed rename");
    CHECK(stat("st_target_is_folder", &st) == 0 && S_ISDIR(st.st_mode), "folder untouched");
    rmdir("st_target_is_folder");

    /* Overwrite: the new content replaces the old one whole. */
    const char *path = "st_atomic.safetensors";
    CHECK(genc_write_file_atomic(path, "old contents", 12) == GENC_OK, "first write");
    CHECK(genc_st_write(path, &e, 1, NULL, 0) == GENC_OK, "overwrite: %s", genc_error());
    genc_st_file f;
    CHECK(genc_st_read(path, &f) == GENC_OK && f.n_tensors == 1, "overwritten file reads back");
    genc_st_free(&f);
    CHECK(count_temps(".", "st_atomic") == 0, "no temp after success");
    unlink(path);

    /* mkdirs: nested creation, idempotent, refuses a file in the way. */
    CHECK(genc_mkdirs("st_dirs/a/b") == GENC_OK && stat("st_dirs/a/b", &st) == 0, "mkdirs nested");
    CHECK(genc_mkdirs("st_dirs/a/b/") == GENC_OK, "mkdirs again (trailing slash)");
    genc_write_file_atomic("st_dirs/file", "x", 1);
    CHECK(genc_mkdirs("st_dirs/file/sub") == GENC_ERR, "mkdirs through a file fails: %s", genc_error());
    unlink("st_dirs/file");
    rmdir("st_dirs/a/b");
    rmdir("st_dirs/a");
    rmdir("st_dirs");
}

int main(void) {
    test_round_trip();
    test_python_file();
    test_hostile_headers();
    test_read_errors();
    test_truncations();
    test_mutation_fuzz();
    test_atomic_write();
    return tu_finish();
}
