/* IDX files and image sets: valid files plain and gzipped, every hostile case the reader must
 * refuse (with the message it must give), a gzip stream claiming a gigabyte under a small
 * address-space limit, the real Fashion-MNIST against its raw bytes read here with zlib, the
 * split rules for a user's files, and the batch functions. */
#include "testutil.h"

#include "genc/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static char g_dir[128];

static const char *at(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void write_gz(const char *path, const void *p, size_t n) {
    gzFile g = gzopen(path, "wb");
    gzwrite(g, p, (unsigned)n);
    gzclose(g);
}

/* An IDX image of type 0x08: header for dims, then `data_len` bytes b[i] = (i * 7 + 3) % 256. */
static size_t make_idx(uint8_t *buf, int ndims, const uint32_t *dims, size_t data_len) {
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = 0x08;
    buf[k++] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++) {
        buf[k++] = (uint8_t)(dims[i] >> 24);
        buf[k++] = (uint8_t)(dims[i] >> 16);
        buf[k++] = (uint8_t)(dims[i] >> 8);
        buf[k++] = (uint8_t)dims[i];
    }
    for (size_t i = 0; i < data_len; i++) buf[k++] = (uint8_t)((i * 7 + 3) % 256);
    return k;
}

/* Load must fail with a message containing every one of the given strings. */
static void expect_error(const char *path, const char *what, const char *s1, const char *s2) {
    genc_idx x;
    int rc = genc_idx_load(path, &x);
    const char *m = genc_error();
    CHECK(rc == GENC_ERR && x.data == NULL && strstr(m, path) && strstr(m, s1) &&
              (!s2 || strstr(m, s2)),
          "%s refused (message: %s)", what, m);
}

static void test_valid(void) {
    uint8_t buf[256];
    uint32_t dims[3] = {2, 3, 4};
    size_t n = make_idx(buf, 3, dims, 24);
    write_bytes(at("ok.idx"), buf, n);
    write_gz(at("ok.idx.gz"), buf, n);
    write_gz(at("gz_without_suffix"), buf, n);   /* gzip is found by its magic, not the name */
    const char *files[] = {at("ok.idx"), at("ok.idx.gz"), at("gz_without_suffix")};
    for (int f = 0; f < 3; f++) {
        genc_idx x;
        int rc = genc_idx_load(files[f], &x);
        CHECK(rc == GENC_OK, "load %s: %s", files[f], genc_error());
        if (rc != GENC_OK) continue;
        CHECK(x.ndims == 3 && x.dims[0] == 2 && x.dims[1] == 3 && x.dims[2] == 4 && x.size == 24,
              "%s: dims", files[f]);
        CHECK(memcmp(x.data, buf + 16, 24) == 0, "%s: data bytes", files[f]);
        genc_idx_free(&x);
        CHECK(x.data == NULL, "free clears");
    }
    uint32_t one[1] = {5};
    n = make_idx(buf, 1, one, 5);
    write_bytes(at("one.idx"), buf, n);
    genc_idx x;
    CHECK(genc_idx_load(at("one.idx"), &x) == GENC_OK && x.ndims == 1 && x.size == 5 &&
          memcmp(x.data, buf + 8, 5) == 0, "1-D file");
    genc_idx_free(&x);
}

static void test_hostile(void) {
    uint8_t buf[256];
    uint32_t dims[3] = {2, 3, 4};
    size_t n = make_idx(buf, 3, dims, 24);
    uint8_t bad[256];

    expect_error(at("missing.idx"), "missing file", "No such file", NULL);
    write_bytes(at("empty.idx"), buf, 0);
    expect_error(at("empty.idx"), "empty file", "shorter than the 4-byte magic", NULL);
    /* one header byte changed: magic, element type, number of dimensions */
    const struct { int at, value; const char *name, *s1, *s2; } patch[] = {
        {0, 0x1f, "magic.idx", "not an IDX file", "00 00 <type> <ndims>"},
        {2, 0x0D, "float.idx", "0x0D (32-bit float) is not supported", NULL},
        {2, 0x42, "type.idx", "unknown IDX element type 0x42", NULL},
        {3, 0, "nd0.idx", "0 dimensions", NULL},
        {3, 5, "nd5.idx", "5 dimensions", NULL},
    };
    for (int k = 0; k < 5; k++) {
        memcpy(bad, buf, n);
        bad[patch[k].at] = (uint8_t)patch[k].value;
        write_bytes(at(patch[k].name), bad, n);
        expect_error(at(patch[k].name), patch[k].name, patch[k].s1, patch[k].s2);
    }
    write_bytes(at("hdr.idx"), buf, 10);
    expect_error(at("hdr.idx"), "header cut in the sizes", "truncated IDX header",
                 "need 12 bytes, the file holds 6");
    uint32_t zero[3] = {2, 0, 4};
    size_t nz = make_idx(bad, 3, zero, 0);
    write_bytes(at("dim0.idx"), bad, nz);
    expect_error(at("dim0.idx"), "a size of 0", "dimension 1 has size 0", NULL);

    /* data shorter or longer than the header says: plain and gzipped */
    write_bytes(at("short.idx"), buf, n - 4);
    expect_error(at("short.idx"), "truncated data", "says 24 data bytes", "holds 20");
    write_gz(at("short.idx.gz"), buf, n - 4);
    expect_error(at("short.idx.gz"), "truncated gzipped data", "the header says 24 bytes",
                 "holds 20");
    memcpy(bad, buf, n);
    memcpy(bad + n, "xyz", 3);
    write_bytes(at("long.idx"), bad, n + 3);
    expect_error(at("long.idx"), "trailing data", "says 24 data bytes", "holds 27");
    write_gz(at("long.idx.gz"), bad, n + 3);
    expect_error(at("long.idx.gz"), "trailing gzipped data", "holds 27 (trailing data)", NULL);
    uint32_t mismatch[3] = {2, 3, 5};   /* 30 claimed, 24 present */
    size_t nm = make_idx(bad, 3, mismatch, 24);
    write_bytes(at("dims.idx"), bad, nm);
    expect_error(at("dims.idx"), "dims not matching the size", "says 30 data bytes", "holds 24");

    /* a damaged gzip stream: cut short, and with a wrong CRC in its trailer */
    write_gz(at("full.gz"), buf, n);
    void *gz;
    size_t gzn;
    genc_read_file(at("full.gz"), &gz, &gzn);
    write_bytes(at("cut.gz"), gz, gzn - 12);
    expect_error(at("cut.gz"), "gzip stream cut short", "cut short", NULL);
    ((uint8_t *)gz)[gzn - 8] ^= 0xff;   /* trailer: CRC32 then ISIZE, 4 bytes each */
    write_bytes(at("crc.gz"), gz, gzn);
    expect_error(at("crc.gz"), "gzip CRC error", "gzip data is corrupt", NULL);
    free(gz);

    /* gzip bombs: a tiny file claiming 60000 x 28 x 28 x 1000 bytes (over the cap) ... */
    uint32_t huge[4] = {60000, 28, 28, 1000};
    size_t nh = make_idx(bad, 4, huge, 100);
    write_gz(at("bomb.gz"), bad, nh);
    expect_error(at("bomb.gz"), "huge claim", "claims more than 1073741824 bytes", NULL);
    uint32_t maxed[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};   /* product > 2^64 */
    nh = make_idx(bad, 4, maxed, 0);
    write_gz(at("bomb2.gz"), bad, nh);
    expect_error(at("bomb2.gz"), "dims whose product overflows int64", "claims more than", NULL);
}

/* Random damage to a valid file, plain and gzipped: any answer but a crash is fine (the
 * sanitizer build checks the memory side), and an accepted file is self-consistent. */
static void test_damage(void) {
    uint8_t buf[256], dmg[512];
    uint32_t dims[3] = {2, 3, 4};
    size_t n = make_idx(buf, 3, dims, 24);
    write_gz(at("good.gz"), buf, n);
    void *gz;
    size_t gzn;
    genc_read_file(at("good.gz"), &gz, &gzn);
    genc_rng r = genc_rng_make(5, 0);
    int consistent = 1, refused = 0;
    for (int t = 0; t < 600; t++) {
        int zipped = t % 2;
        size_t len = zipped ? gzn : n;
        memcpy(dmg, zipped ? gz : (void *)buf, len);
        for (int k = 0, flips = 1 + (int)genc_rng_below(&r, 3); k < flips; k++)
            dmg[genc_rng_below(&r, (uint32_t)len)] ^= (uint8_t)(1 + genc_rng_below(&r, 255));
        if (genc_rng_below(&r, 4) == 0) len = genc_rng_below(&r, (uint32_t)len);   /* and cut */
        write_bytes(at("damaged"), dmg, len);
        genc_idx x;
        if (genc_idx_load(at("damaged"), &x) != GENC_OK) {
            refused++;
            consistent &= x.data == NULL;
            continue;
        }
        int64_t prod = 1;
        for (int d = 0; d < x.ndims; d++) prod *= x.dims[d];
        consistent &= x.data != NULL && prod == x.size && x.ndims >= 1 && x.ndims <= 4;
        genc_idx_free(&x);
    }
    free(gz);
    CHECK(consistent && refused > 0, "600 damaged files: %d refused, the rest consistent", refused);
}

/* ... and one claiming just under the cap (2^30 - 2^20 bytes) with 100 bytes of data, read in
 * a child whose address space is limited to 256 MiB above what it uses: an up-front
 * allocation of the claimed size would fail with "out of memory", reading in chunks ends with
 * "truncated". (ASan reserves terabytes of address space, so the limit is skipped there.) */
static void test_claim_below_cap(void) {
    uint8_t bad[256];
    uint32_t dims[3] = {1023, 1024, 1024};
    size_t nh = make_idx(bad, 3, dims, 100);
    write_gz(at("bigclaim.gz"), bad, nh);
#if defined(__SANITIZE_ADDRESS__)
    expect_error(at("bigclaim.gz"), "claim below the cap, little data", "truncated IDX data",
                 "holds 100");
#else
    pid_t pid = fork();
    if (pid == 0) {
        long pages = 0, page = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "r");
        if (!f || fscanf(f, "%ld", &pages) != 1) _exit(3);
        fclose(f);
        struct rlimit lim = {(rlim_t)pages * page + (256u << 20),
                             (rlim_t)pages * page + (256u << 20)};
        if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(3);
        genc_idx x;
        int rc = genc_idx_load(at("bigclaim.gz"), &x);
        _exit(rc == GENC_ERR && strstr(genc_error(), "truncated IDX data") &&
              strstr(genc_error(), "holds 100") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "1 GiB claim with 100 bytes read under a 256 MiB address-space limit (status %d)",
          status);
#endif
}

/* ------------------------------------------------------------------ Fashion-MNIST */

/* `n` bytes at `offset` of the decompressed file, read directly with zlib. */
static int raw_bytes(const char *path, long offset, uint8_t *out, int n) {
    gzFile g = gzopen(path, "rb");
    if (!g) return 0;
    int ok = gzseek(g, offset, SEEK_SET) == offset && gzread(g, out, (unsigned)n) == n;
    gzclose(g);
    return ok;
}

static void test_fashion(void) {
    const char *dir = GENC_FASHION_MNIST_DIR;
    char p[512];
    uint8_t raw[784], lab;
    genc_images tr, te, all;
    CHECK(genc_images_load("fashion-mnist", GENC_SPLIT_TRAIN, &tr) == GENC_OK, "train: %s",
          genc_error());
    CHECK(tr.n == 60000 && tr.channels == 1 && tr.height == 28 && tr.width == 28 &&
              tr.n_classes == 10 && tr.labels,
          "train is 60000 x 1 x 28 x 28 with 10 classes (n = %lld)", (long long)tr.n);
    CHECK(tr.class_names && strcmp(tr.class_names[0], "T-shirt/top") == 0 &&
          strcmp(tr.class_names[9], "Ankle boot") == 0, "class names");
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    CHECK(raw_bytes(p, 8, &lab, 1) && tr.labels && tr.labels[0] == lab,
          "first train label %d = file byte %d", tr.labels ? tr.labels[0] : -1, lab);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte.gz", dir);
    CHECK(raw_bytes(p, 8 + 59999, &lab, 1) && tr.labels && tr.labels[59999] == lab,
          "last train label");
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte.gz", dir);
    CHECK(raw_bytes(p, 16, raw, 784) && tr.pixels && memcmp(tr.pixels, raw, 784) == 0,
          "first train image");
    CHECK(raw_bytes(p, 16 + 784L * 12345, raw, 784) && tr.pixels &&
          memcmp(tr.pixels + 784L * 12345, raw, 784) == 0, "train image 12345");

    CHECK(genc_images_load("fashion-mnist", GENC_SPLIT_TEST, &te) == GENC_OK && te.n == 10000,
          "test has 10000 images: %s", genc_error());
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte.gz", dir);
    CHECK(raw_bytes(p, 8, &lab, 1) && te.labels && te.labels[0] == lab, "first test label");
    CHECK(genc_images_load("fashion-mnist", GENC_SPLIT_ALL, &all) == GENC_OK && all.n == 70000,
          "all has 70000 images: %s", genc_error());
    if (all.n == 70000 && te.n == 10000 && tr.n == 60000) {
        CHECK(memcmp(all.pixels, tr.pixels, 784) == 0 &&
                  memcmp(all.pixels + 784L * 60000, te.pixels, 784) == 0 &&
                  all.labels[60000] == te.labels[0] && all.labels[59999] == tr.labels[59999],
              "all = train then test");
    }
    /* every class occurs 6000 times in train (the data set's documented balance) */
    int count[10] = {0}, balanced = 1;
    for (int64_t i = 0; tr.labels && i < tr.n; i++) count[tr.labels[i]]++;
    for (int k = 0; k < 10; k++) balanced &= count[k] == 6000;
    CHECK(balanced, "6000 train images per class");
    genc_images_free(&tr);
    genc_images_free(&te);
    genc_images_free(&all);

    setenv("GENC_FASHION_MNIST", at("no_such_folder"), 1);
    CHECK(genc_images_load("fashion-mnist", GENC_SPLIT_TRAIN, &tr) == GENC_ERR &&
              strstr(genc_error(), "apt-get install dataset-fashion-mnist"),
          "missing package: %s", genc_error());
    unsetenv("GENC_FASHION_MNIST");
}

/* ------------------------------------------------------------------ a user's files */

/* n images of h x w (x c channels when c > 1: a 4-D file), pixel bytes from make_idx. */
static void write_images(const char *name, uint32_t n, uint32_t h, uint32_t w, uint32_t c) {
    static uint8_t buf[1 << 16];
    uint32_t dims[4] = {n, h, w, c};
    size_t k = make_idx(buf, c > 1 ? 4 : 3, dims, (size_t)n * h * w * c);
    write_bytes(at(name), buf, k);
}

static void write_labels(const char *name, uint32_t n, int mod) {
    uint8_t buf[1024];
    size_t k = make_idx(buf, 1, &n, 0);
    for (uint32_t i = 0; i < n; i++) buf[k++] = (uint8_t)((i * 3) % mod);
    write_bytes(at(name), buf, k);
}

static void test_user_files(void) {
    genc_images a, b;
    /* 25 images with labels, no t10k file: test is the last 25 / 10 = 2 */
    write_images("my-train-images-idx3-ubyte", 25, 4, 3, 1);
    write_labels("my-train-labels-idx1-ubyte", 25, 7);
    CHECK(genc_images_load(at("my-train-images-idx3-ubyte"), GENC_SPLIT_TRAIN, &a) == GENC_OK &&
          a.n == 23 && a.height == 4 && a.width == 3 && a.channels == 1 && a.labels &&
          a.n_classes == 7 && a.class_names == NULL, "train = first 23: %s", genc_error());
    CHECK(genc_images_load(at("my-train-images-idx3-ubyte"), GENC_SPLIT_TEST, &b) == GENC_OK &&
              b.n == 2 && b.labels && b.labels[0] == (23 * 3) % 7 &&
              b.pixels[0] == (uint8_t)((23 * 12 * 7 + 3) % 256),
          "test = last 2: %s", genc_error());
    genc_images_free(&a);
    genc_images_free(&b);

    /* with a t10k sibling, that file is the test split and train is the whole train file */
    write_images("my-t10k-images-idx3-ubyte", 6, 4, 3, 1);
    write_labels("my-t10k-labels-idx1-ubyte", 6, 7);
    CHECK(genc_images_load(at("my-train-images-idx3-ubyte"), GENC_SPLIT_TRAIN, &a) == GENC_OK &&
              a.n == 25,
          "train = whole train file");
    CHECK(genc_images_load(at("my-train-images-idx3-ubyte"), GENC_SPLIT_TEST, &b) == GENC_OK &&
              b.n == 6 && b.labels && b.labels[5] == 15 % 7,
          "test = the t10k file");
    genc_images_free(&a);
    genc_images_free(&b);
    CHECK(genc_images_load(at("my-train-images-idx3-ubyte"), GENC_SPLIT_ALL, &a) == GENC_OK &&
              a.n == 31,
          "all = 25 + 6");
    genc_images_free(&a);

    /* labels whose count does not match */
    write_images("odd-images.idx", 5, 2, 2, 1);
    write_labels("odd-labels.idx", 4, 3);
    CHECK(genc_images_load(at("odd-images.idx"), GENC_SPLIT_ALL, &a) == GENC_ERR &&
          strstr(genc_error(), "one label per image") && strstr(genc_error(), "5 images"),
          "label count mismatch: %s", genc_error());
    /* no labels file: unlabelled; a name without "images": never labelled */
    write_images("plain-images.idx", 12, 2, 2, 1);
    CHECK(genc_images_load(at("plain-images.idx"), GENC_SPLIT_ALL, &a) == GENC_OK && a.n == 12 &&
          a.labels == NULL && a.n_classes == 0, "no labels file");
    float x[8];
    int32_t lab[2] = {7, 7};
    genc_rng r = genc_rng_make(1, 0);
    genc_images_batch(&a, &r, 2, 0.f, 1.f, x, lab);
    CHECK(lab[0] == -1 && lab[1] == -1, "unlabelled batch gives -1");
    genc_images_free(&a);
    write_images("pics.idx", 3, 2, 2, 1);
    CHECK(genc_images_load(at("pics.idx"), GENC_SPLIT_TEST, &a) == GENC_ERR &&
              strstr(genc_error(), "no test split"),
          "3 images leave no test split: %s", genc_error());

    /* 4-D (n, h, w, 3) becomes (n, 3, h, w) */
    write_images("rgb-images.idx", 2, 2, 3, 3);
    CHECK(genc_images_load(at("rgb-images.idx"), GENC_SPLIT_ALL, &a) == GENC_OK &&
              a.channels == 3 && a.height == 2 && a.width == 3,
          "RGB file: %s", genc_error());
    int ok = a.pixels != NULL;
    for (int i = 0; ok && i < 2; i++)
        for (int y = 0; y < 2; y++)
            for (int xx = 0; xx < 3; xx++)
                for (int c = 0; c < 3; c++) {
                    size_t src = (((size_t)i * 2 + y) * 3 + xx) * 3 + c;
                    ok &=
                        a.pixels[((i * 3 + c) * 2 + y) * 3 + xx] == (uint8_t)((src * 7 + 3) % 256);
                }
    CHECK(ok, "HWC file bytes land in CHW order");
    genc_images_free(&a);
    write_images("two-images.idx", 2, 2, 3, 2);
    CHECK(genc_images_load(at("two-images.idx"), GENC_SPLIT_ALL, &a) == GENC_ERR &&
              strstr(genc_error(), "1 or 3"),
          "2 channels refused: %s", genc_error());
    write_labels("flat-images.idx", 4, 3);
    CHECK(genc_images_load(at("flat-images.idx"), GENC_SPLIT_ALL, &a) == GENC_ERR &&
              strstr(genc_error(), "1 dimension"),
          "1-D file as images refused: %s", genc_error());
    CHECK(genc_images_load(at("nothing-images.idx"), GENC_SPLIT_ALL, &a) == GENC_ERR &&
              strstr(genc_error(), "no such file") && strstr(genc_error(), "fashion-mnist"),
          "missing path: %s", genc_error());
}

static void test_batches(void) {
    write_images("b-images.idx", 10, 2, 3, 1);
    write_labels("b-labels.idx", 10, 4);
    genc_images im;
    if (genc_images_load(at("b-images.idx"), GENC_SPLIT_ALL, &im) != GENC_OK) {
        CHECK(0, "load: %s", genc_error());
        return;
    }
    enum { B = 16, P = 6 };
    float x[B * P], x2[B * P];
    int32_t lab[B], lab2[B];
    genc_rng r = genc_rng_make(42, 3), r2 = r, r3 = r;
    genc_images_batch(&im, &r, B, -1.f, 1.f, x, lab);
    CHECK(r.counter == B, "one rng call per image (counter %llu)", (unsigned long long)r.counter);
    genc_images_batch(&im, &r2, B, -1.f, 1.f, x2, lab2);
    CHECK(memcmp(x, x2, sizeof x) == 0 && memcmp(lab, lab2, sizeof lab) == 0,
          "same rng, same batch");
    int ok = 1;
    for (int b = 0; b < B; b++) {
        uint32_t i = genc_rng_below(&r3, 10);   /* the documented draw: image i of the set */
        ok &= lab[b] == (int32_t)((i * 3) % 4);
        for (int k = 0; k < P; k++) {
            float want = -1.f + 2.f * ((float)im.pixels[i * P + k] / 255.f);
            ok &= fabsf(x[b * P + k] - want) <= 1e-6f;   /* float rounding of the affine map */
        }
    }
    CHECK(ok, "batch rows are the drawn images scaled to [-1, 1] with their labels");
    float y[4 * P];
    int32_t ly[4];
    CHECK(genc_images_get(&im, 8, 4, 0.f, 1.f, y, ly) == 2 && ly[0] == (8 * 3) % 4 &&
              ly[1] == (9 * 3) % 4 && y[P] == (float)im.pixels[9 * P] / 255.f,
          "get stops at the end of the set");
    CHECK(genc_images_get(&im, 10, 4, 0.f, 1.f, y, ly) == 0 &&
              genc_images_get(&im, -1, 4, 0.f, 1.f, y, ly) == 0,
          "get outside the set returns 0");
    float lo_hi[P];
    genc_images_get(&im, 0, 1, 0.f, 1.f, lo_hi, NULL);
    ok = 1;
    for (int k = 0; k < P; k++) ok &= lo_hi[k] >= 0.f && lo_hi[k] <= 1.f;
    CHECK(ok, "[0, 1] scaling stays in range; labels may be NULL");
    genc_images_free(&im);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "idx_test_%d", (int)getpid());
    genc_mkdirs(g_dir);
    test_valid();
    test_hostile();
    test_claim_below_cap();
    test_damage();
    test_fashion();
    test_user_files();
    test_batches();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    return tu_finish();
}
