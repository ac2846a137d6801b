/* genc data: byte-level tokenizer and text corpora. */
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
 * Held-out split (documented in docs/data.md): document i (0-based, in load order) goes to
 * the test split when i % 20 == 19, i.e. 5%. With split = ALL every document is used. */
#define GENC_DEFAULT_CORPUS "/usr/share/games/fortunes"

typedef enum { GENC_SPLIT_TRAIN = 0, GENC_SPLIT_TEST = 1, GENC_SPLIT_ALL = 2 } genc_split;

typedef struct genc_corpus {
    int32_t *tokens;      /* the split's token stream */
    int64_t n_tokens;
    int64_t n_docs;
    int64_t n_bytes;      /* text bytes (excludes BOS/EOS): the denominator of bpc */
} genc_corpus;

/* Load path (file or folder) and keep one split. GENC_ERR with a clear message when the path
 * is missing, unreadable, empty, or the split has fewer than min_tokens tokens. */
int genc_corpus_load(const char *path, genc_split split, int64_t min_tokens, genc_corpus *c);
void genc_corpus_free(genc_corpus *c);

/* Random training windows: B windows of T+1 tokens (inputs and next-token targets) whose
 * start positions are drawn uniformly from [0, n_tokens − T − 1] with the rng (so the data
 * position is the rng counter, saved in checkpoints). x and y are [B*T]. */
void genc_corpus_batch(const genc_corpus *c, genc_rng *rng, int B, int T, int32_t *x, int32_t *y);

#ifdef __cplusplus
}
#endif
#endif
