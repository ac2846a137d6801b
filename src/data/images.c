/* Image data sets: Fashion-MNIST from Debian's dataset-fashion-mnist, or any IDX image file
 * with an optional labels file beside it; splits; batches as floats for the models.
 *
 * Pixels stay uint8 in memory, [n][channels][height][width] (PyTorch's NCHW): four times
 * smaller than floats and exactly the file's values; the batch functions scale them to the
 * range a model wants. The split rules are in docs/data.md. */
#include "genc/data.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const FASHION_CLASSES[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

void genc_images_free(genc_images *im) {
    if (!im) return;
    free(im->pixels);
    free(im->labels);
    memset(im, 0, sizeof *im);
}

/* The last component of a path. */
static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Copy of path with the last `from` in its file name replaced by `to`; NULL when the name
 * does not hold `from` (or out of memory). */
static char *sibling(const char *path, const char *from, const char *to) {
    const char *name = base_name(path), *hit = NULL;
    for (const char *p = strstr(name, from); p; p = strstr(p + 1, from)) hit = p;
    if (!hit) return NULL;
    size_t pre = (size_t)(hit - path), fl = strlen(from), tl = strlen(to);
    size_t n = strlen(path) - fl + tl;
    char *s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, path, pre);
    memcpy(s + pre, to, tl);
    strcpy(s + pre + tl, hit + fl);
    return s;
}

/* The labels file of an images file: "images" -> "labels" and "idx3"/"idx4" -> "idx1" in the
 * name (train-images-idx3-ubyte.gz -> train-labels-idx1-ubyte.gz). NULL when the name has no
 * "images". */
static char *labels_path(const char *images) {
    char *a = sibling(images, "images", "labels");
    if (!a) return NULL;
    for (const char *idx = "idx3"; idx; idx = strcmp(idx, "idx3") == 0 ? "idx4" : NULL) {
        char *b = sibling(a, idx, "idx1");
        if (b) { free(a); return b; }
    }
    return a;
}

/* IDX (n, h, w) or (n, h, w, c) bytes -> NCHW. */
static int images_from_idx(const char *path, genc_idx *x, genc_images *im) {
    int c = x->ndims == 4 ? (int)x->dims[3] : 1;
    if (x->ndims < 3 || (x->ndims == 4 && c != 1 && c != 3))
        return genc_set_error("%s: an image IDX file has dimensions (n, height, width) or (n, "
                              "height, width, channels) with 1 or 3 channels; this one has %d "
                              "dimension%s%s", path, x->ndims, x->ndims == 1 ? "" : "s",
                              x->ndims == 4 ? " and a last size other than 1 or 3" : "");
    im->n = x->dims[0];
    im->height = (int)x->dims[1];   /* each below the 2^30-byte cap: fits an int */
    im->width = (int)x->dims[2];
    im->channels = c;
    if (c == 1) {
        im->pixels = x->data;   /* take ownership */
        x->data = NULL;
        return GENC_OK;
    }
    int64_t hw = (int64_t)im->height * im->width;
    im->pixels = malloc((size_t)x->size);
    if (!im->pixels) return genc_set_error("%s: out of memory", path);
    for (int64_t i = 0; i < im->n; i++)
        for (int64_t p = 0; p < hw; p++)
            for (int k = 0; k < c; k++)
                im->pixels[(i * c + k) * hw + p] = x->data[(i * hw + p) * c + k];
    return GENC_OK;
}

/* Labels of `images` (a file path) when its labels file exists: 1-D, one per image. A missing
 * labels file is an error only when `required`. */
static int attach_labels(const char *images, genc_images *im, int required) {
    char *lp = labels_path(images);
    if (!lp || access(lp, F_OK) != 0) {
        int rc = required ? genc_set_error("%s: no labels file beside it (%s)", images,
                                           lp ? lp : "its name has no \"images\"")
                          : GENC_OK;
        free(lp);
        return rc;
    }
    genc_idx x;
    int rc = genc_idx_load(lp, &x);
    if (rc == GENC_OK && (x.ndims != 1 || x.dims[0] != im->n))
        rc = genc_set_error("%s: a labels file must hold one label per image: %lld images in %s, "
                            "the labels file has %lld entries in %d dimension%s", lp,
                            (long long)im->n, images, (long long)x.size, x.ndims,
                            x.ndims == 1 ? "" : "s");
    if (rc == GENC_OK) {
        im->labels = malloc((size_t)im->n * sizeof *im->labels);
        if (!im->labels) rc = genc_set_error("%s: out of memory", lp);
    }
    if (rc == GENC_OK) {
        int top = 0;
        for (int64_t i = 0; i < im->n; i++) {
            im->labels[i] = x.data[i];
            if (x.data[i] > top) top = x.data[i];
        }
        im->n_classes = top + 1;
    }
    genc_idx_free(&x);
    free(lp);
    return rc;
}

/* One images file and its labels. */
static int load_file(const char *path, int labels_required, genc_images *im) {
    memset(im, 0, sizeof *im);
    genc_idx x;
    if (genc_idx_load(path, &x) != GENC_OK) return GENC_ERR;
    int rc = images_from_idx(path, &x, im);
    genc_idx_free(&x);
    if (rc == GENC_OK) rc = attach_labels(path, im, labels_required);
    if (rc != GENC_OK) genc_images_free(im);
    return rc;
}

/* Keep images [first, first + count). */
static void keep_range(genc_images *im, int64_t first, int64_t count) {
    int64_t per = (int64_t)im->channels * im->height * im->width;
    memmove(im->pixels, im->pixels + first * per, (size_t)(count * per));
    if (im->labels) memmove(im->labels, im->labels + first, (size_t)count * sizeof *im->labels);
    im->n = count;
}

/* a followed by b (same image shape, both labelled or both not) into a; b is freed. */
static int append(genc_images *a, genc_images *b, const char *what) {
    int rc = GENC_OK;
    if (a->channels != b->channels || a->height != b->height || a->width != b->width ||
        !a->labels != !b->labels)
        rc = genc_set_error("%s: the train and test files differ in image shape (%dx%dx%d vs "
                            "%dx%dx%d) or in having labels", what, a->channels, a->height,
                            a->width, b->channels, b->height, b->width);
    int64_t per = (int64_t)a->channels * a->height * a->width, n = a->n + b->n;
    if (rc == GENC_OK) {
        uint8_t *p = realloc(a->pixels, (size_t)(n * per));
        if (p) a->pixels = p;
        if (!p) rc = genc_set_error("%s: out of memory", what);
    }
    if (rc == GENC_OK && a->labels) {
        int32_t *l = realloc(a->labels, (size_t)n * sizeof *l);
        if (l) a->labels = l;
        if (!l) rc = genc_set_error("%s: out of memory", what);
    }
    if (rc == GENC_OK) {
        memcpy(a->pixels + a->n * per, b->pixels, (size_t)(b->n * per));
        if (a->labels) memcpy(a->labels + a->n, b->labels, (size_t)b->n * sizeof *a->labels);
        a->n = n;
        if (b->n_classes > a->n_classes) a->n_classes = b->n_classes;
    }
    genc_images_free(b);
    return rc;
}

/* A train file with a separate test file: the whole of one, or both for ALL. */
static int load_pair(const char *train, const char *test, int labels_required, genc_split split,
                     genc_images *out) {
    if (load_file(split == GENC_SPLIT_TEST ? test : train, labels_required, out) != GENC_OK)
        return GENC_ERR;
    if (split != GENC_SPLIT_ALL) return GENC_OK;
    genc_images t;
    if (load_file(test, labels_required, &t) != GENC_OK) {
        genc_images_free(out);
        return GENC_ERR;
    }
    int rc = append(out, &t, train);
    if (rc != GENC_OK) genc_images_free(out);
    return rc;
}

static int load_fashion(genc_split split, genc_images *out) {
    const char *dir = getenv("GENC_FASHION_MNIST");
    if (!dir || !*dir) dir = GENC_FASHION_MNIST_DIR;
    char train[512], test[512];
    snprintf(train, sizeof train, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(test, sizeof test, "%s/t10k-images-idx3-ubyte.gz", dir);
    const char *need = split == GENC_SPLIT_TEST ? test : train;
    if (access(need, F_OK) != 0 || (split == GENC_SPLIT_ALL && access(test, F_OK) != 0))
        return genc_set_error("fashion-mnist: %s not found: install Debian's Fashion-MNIST "
                              "(apt-get install dataset-fashion-mnist)",
                              access(need, F_OK) != 0 ? need : test);
    if (load_pair(train, test, 1, split, out) != GENC_OK) return GENC_ERR;
    if (out->channels != 1 || out->height != 28 || out->width != 28 || out->n_classes > 10) {
        genc_images_free(out);
        return genc_set_error("fashion-mnist: the files in %s are not 28x28 gray images with "
                              "labels 0..9", dir);
    }
    out->n_classes = 10;
    out->class_names = FASHION_CLASSES;
    return GENC_OK;
}

/* A user's images file: its "t10k" sibling as the test split when the name holds "train" and
 * that file exists, else the last n / GENC_IMAGES_TEST_DIV images. */
static int load_path(const char *path, genc_split split, genc_images *out) {
    if (access(path, F_OK) != 0)
        return genc_set_error("%s: no such file (an image set is \"fashion-mnist\" or the path "
                              "of an IDX images file)", path);
    char *test = sibling(path, "train", "t10k");
    int rc;
    if (test && access(test, F_OK) == 0) {
        rc = load_pair(path, test, 0, split, out);
    } else {
        rc = load_file(path, 0, out);
        int64_t n_test = out->n / GENC_IMAGES_TEST_DIV;
        if (rc == GENC_OK && split == GENC_SPLIT_TEST && n_test == 0) {
            genc_images_free(out);
            rc = genc_set_error("%s: %lld images leave no test split (the last 1/%d of the file, "
                                "with no t10k file beside it)", path, (long long)out->n,
                                GENC_IMAGES_TEST_DIV);
        } else if (rc == GENC_OK && split == GENC_SPLIT_TRAIN) {
            keep_range(out, 0, out->n - n_test);
        } else if (rc == GENC_OK && split == GENC_SPLIT_TEST) {
            keep_range(out, out->n - n_test, n_test);
        }
    }
    free(test);
    return rc;
}

int genc_images_load(const char *spec, genc_split split, genc_images *out) {
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) return genc_set_error("no image set given");
    if (strcmp(spec, "fashion-mnist") == 0) return load_fashion(split, out);
    return load_path(spec, split, out);
}

/* x[b] = image i_b scaled to [lo, hi]; labels[b] = its label, or -1 for an unlabelled set. */
static void copy_image(const genc_images *im, int64_t i, const float *table, float *x,
                       int32_t *label) {
    int64_t per = (int64_t)im->channels * im->height * im->width;
    const uint8_t *p = im->pixels + i * per;
    for (int64_t k = 0; k < per; k++) x[k] = table[p[k]];
    if (label) *label = im->labels ? im->labels[i] : -1;
}

static void scale_table(float lo, float hi, float table[256]) {
    for (int v = 0; v < 256; v++) table[v] = lo + (hi - lo) * ((float)v / 255.0f);
}

void genc_images_batch(const genc_images *im, genc_rng *rng, int B, float lo, float hi, float *x,
                       int32_t *labels) {
    GENC_ASSERT(im->n > 0 && im->n <= UINT32_MAX, "images_batch: %lld images", (long long)im->n);
    float table[256];
    scale_table(lo, hi, table);
    int64_t per = (int64_t)im->channels * im->height * im->width;
    for (int b = 0; b < B; b++) {
        int64_t i = genc_rng_below(rng, (uint32_t)im->n);
        copy_image(im, i, table, x + b * per, labels ? labels + b : NULL);
    }
}

int64_t genc_images_get(const genc_images *im, int64_t first, int64_t count, float lo, float hi,
                        float *x, int32_t *labels) {
    if (first < 0 || first >= im->n || count <= 0) return 0;
    if (count > im->n - first) count = im->n - first;
    float table[256];
    scale_table(lo, hi, table);
    int64_t per = (int64_t)im->channels * im->height * im->width;
    for (int64_t b = 0; b < count; b++)
        copy_image(im, first + b, table, x + b * per, labels ? labels + b : NULL);
    return count;
}
