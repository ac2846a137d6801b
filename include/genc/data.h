/* genc data: byte-level tokenizer and text corpora; IDX files, image sets and 2D toys. */
#ifndef GENC_DATA_H
#define GENC_DATA_H

#include "genc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- tokenizer (tokenizer.c)
 * Ids 0..255 are the bytes of the UTF-8 text; then the special tokens. */
enum {
    GENC_TOK_MASK = 256,
    GENC_TOK_BOS = 257,
    GENC_TOK_EOS = 258,
    GENC_TOK_PAD = 259,
    GENC_VOCAB = 260,
};

/* Bytes → ids (one id per byte). Returns the number written (= n). */
int64_t genc_tokenize(const uint8_t *bytes, int64_t n, int32_t *ids);
/* Ids → bytes; special tokens are dropped unless show_special, which renders them as
 * "[MASK]", "[BOS]", "[EOS]", "[PAD]". Returns the number of bytes written (at most cap). */
int64_t genc_detokenize(const int32_t *ids, int64_t n, int show_special, char *out, int64_t cap);
const char *genc_token_name(int32_t id);   /* "[MASK]" etc; NULL for byte tokens */

/* ---------------------------------------------------------------- corpus (corpus.c)
 * A text corpus is a list of documents, each a byte string. Sources:
 *  - a file: documents separated by lines holding only "%" (fortune format) when such lines
 *    exist, else the whole file is one document;
 *  - a folder: every regular file in it (sorted by name, not recursive, skipping symlinks,
 *    hidden files and fortune index files *.dat), each read as above.
 * Token stream: for each document, BOS, its bytes, EOS.
 *
 * Held-out split (documented in docs/data.md): with at least GENC_SPLIT_MIN_DOCS documents,
 * document i (0-based, in load order) goes to the test split when i % 20 == 19, i.e. 5%; with
 * fewer (a plain text file is one document), the test split is the last n_tokens / 20 tokens
 * of the whole stream and train the rest (held_out_tail = 1). With split = ALL every
 * document is used. */
#define GENC_SPLIT_MIN_DOCS 20
#define GENC_DEFAULT_CORPUS "/usr/share/games/fortunes"

typedef enum { GENC_SPLIT_TRAIN = 0, GENC_SPLIT_TEST = 1, GENC_SPLIT_ALL = 2 } genc_split;

typedef struct genc_corpus {
    int32_t *tokens;      /* the split's token stream */
    int64_t n_tokens;
    int64_t n_docs;
    int64_t n_bytes;      /* text bytes (excludes BOS/EOS): the denominator of bpc */
    int held_out_tail;    /* 1: the split was cut by position (too few documents), not by
                             documents; n_docs then counts the BOS tokens it holds */
} genc_corpus;

/* Load path (file or folder) and keep one split. GENC_ERR with a clear message when the path
 * is missing, unreadable, empty, or the split has fewer than min_tokens tokens. */
int genc_corpus_load(const char *path, genc_split split, int64_t min_tokens, genc_corpus *c);
void genc_corpus_free(genc_corpus *c);
/* Which held-out rule a loaded split used, for messages: "every 20th document" or "the last 5%
 * of the text (fewer than 20 documents)". */
const char *genc_corpus_split_rule(const genc_corpus *c);

/* Random training windows: B windows of T+1 tokens (inputs and next-token targets) whose
 * start positions are drawn uniformly from [0, n_tokens − T − 1] with the rng (so the data
 * position is the rng counter, saved in checkpoints). x and y are [B*T]. */
void genc_corpus_batch(const genc_corpus *c, genc_rng *rng, int B, int T, int32_t *x, int32_t *y);

/* ---------------------------------------------------------------- IDX files (idx.c)
 * The MNIST format: magic 00 00 <type> <ndims>, ndims big-endian uint32 sizes, the elements.
 * Plain or gzipped (recognised by the gzip magic, not the name). Only element type 0x08
 * (unsigned byte) is read; other types, 0 or more than 4 dimensions, a size of 0, a claim of
 * more than GENC_IDX_MAX_BYTES, and data shorter or longer than the header says are refused
 * with a message naming the file (and the expected and actual byte counts). */
#define GENC_IDX_MAX_DIMS 4
#define GENC_IDX_MAX_BYTES ((int64_t)1 << 30)

typedef struct genc_idx {
    uint8_t *data;                     /* size bytes, row-major */
    int ndims;
    int64_t dims[GENC_IDX_MAX_DIMS];
    int64_t size;                      /* product of dims */
} genc_idx;

int genc_idx_load(const char *path, genc_idx *out);
void genc_idx_free(genc_idx *x);

/* ---------------------------------------------------------------- image sets (images.c)
 * spec "fashion-mnist": Debian's dataset-fashion-mnist (in GENC_FASHION_MNIST_DIR, or the
 * folder named by the environment variable GENC_FASHION_MNIST), train = the 60 000 train images,
 * test = the 10 000 t10k images, all = both (train first). Otherwise spec is the path of an
 * IDX images file, (n, height, width) or (n, height, width, channels) with 1 or 3 channels;
 * labels come from the file named with "images" -> "labels" and "idx3"/"idx4" -> "idx1" when
 * it exists. Test split of such a file: the file named with "train" -> "t10k" when the name
 * holds "train" and that file exists; otherwise the last n / GENC_IMAGES_TEST_DIV images
 * (train is the rest). Details in docs/data.md. */
#define GENC_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define GENC_IMAGES_TEST_DIV 10

typedef struct genc_images {
    uint8_t *pixels;                 /* [n][channels][height][width], the file's 0..255 */
    int32_t *labels;                 /* [n], or NULL for an unlabelled set */
    int64_t n;
    int channels, height, width;
    int n_classes;                   /* 1 + the largest label in the file(s); 0 without labels */
    const char *const *class_names;  /* [n_classes] for fashion-mnist; NULL when unknown */
} genc_images;

int genc_images_load(const char *spec, genc_split split, genc_images *out);
void genc_images_free(genc_images *im);
/* B images drawn uniformly with replacement (one rng call each, so the rng counter is the
 * data cursor), pixels v scaled to lo + (hi - lo) v / 255: x is [B][C][H][W]. labels [B]
 * (may be NULL) gets each image's label, -1 for an unlabelled set. */
void genc_images_batch(const genc_images *im, genc_rng *rng, int B, float lo, float hi, float *x,
                       int32_t *labels);
/* Images first .. first + count - 1 in order (evaluation), scaled as above; returns how many
 * were written: count, fewer at the end of the set, 0 when first is outside it. */
int64_t genc_images_get(const genc_images *im, int64_t first, int64_t count, float lo, float hi,
                        float *x, int32_t *labels);

/* ---------------------------------------------------------------- 2D toys (toy2d.c)
 * The 2D distributions of the FFJORD / flow-matching papers, at their usual scales
 * (definitions, densities and entropies in docs/data.md). */
typedef enum genc_toy {
    GENC_TOY_CHECKERBOARD = 0,
    GENC_TOY_8GAUSSIANS,
    GENC_TOY_MOONS,
    GENC_TOY_PINWHEEL,
    GENC_TOY_RINGS,
    GENC_TOY_SWISSROLL,
    GENC_TOY_CIRCLES,
    GENC_TOY_2SPIRALS,
    GENC_TOY_COUNT,
} genc_toy;

/* "checkerboard", "8gaussians", ...; GENC_ERR listing the valid names otherwise. */
int genc_toy_parse(const char *name, genc_toy *t);
const char *genc_toy_name(genc_toy t);
/* n points, xy[2i], xy[2i+1]; a function of the rng state only (and advances it). */
void genc_toy_sample(genc_toy t, genc_rng *r, int64_t n, float *xy);
/* 1 when genc_toy_log_density is available for t (every built-in toy: closed forms for
 * checkerboard, 8gaussians, rings, circles; exact to quadrature accuracy for the others). */
int genc_toy_has_density(genc_toy t);
/* log p(x, y) in nats; -INFINITY where the density is 0 (checkerboard) or, for pinwheel,
 * beyond radius 24 where it is below e^-300. */
double genc_toy_log_density(genc_toy t, double x, double y);
/* The differential entropy -E log p in nats: the lowest NLL any model can reach. Closed form
 * for checkerboard (log 32); otherwise the integral of -p log p on a fine grid (computed once
 * per process, then remembered). */
double genc_toy_entropy(genc_toy t);
/* A --data value: "toy:NAME" names a 2D toy (*is_toy = 1, *toy set; an unknown name is an
 * error listing the valid ones); anything else is an image path or set (*is_toy = 0). */
int genc_toy_spec(const char *spec, genc_toy *toy, int *is_toy);
/* A square [-r, r]^2 holding the data apart from a far tail: the range for plots. */
double genc_toy_radius(genc_toy t);

#ifdef __cplusplus
}
#endif
#endif
