/* Text corpora: a file or a folder of files, cut into documents, turned into one token stream
 * per split (BOS, the document's bytes, EOS, for each document in order).
 *
 * Documents: in a file, lines holding only "%" (fortune format; "%\r" too, for CRLF files)
 * separate documents and are dropped; a document keeps its own line breaks, including the
 * one before the separator. A file without such lines is one document. Documents that hold
 * nothing but whitespace are skipped and do not count towards the split index.
 *
 * The held-out split (docs/data.md): with at least GENC_SPLIT_MIN_DOCS documents, every 20th
 * document; with fewer (a single text file is one document), the last 5% of the token stream,
 * so any text a user gives can be evaluated. */
#include "genc/data.h"
#include "genc/io.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Loading state: the growing token stream of every document, and where each starts (the
 * split is cut from it once the number of documents is known). */
typedef struct loader {
    int64_t doc_index;
    int64_t cap;
    int64_t *starts, starts_cap;
    genc_corpus *c;
} loader;

static int is_blank(const uint8_t *p, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' || p[i] == '\f' || p[i] == '\v'))
            return 0;
    return 1;
}

static int add_doc(loader *L, const uint8_t *p, int64_t n) {
    if (is_blank(p, n)) return GENC_OK;
    genc_corpus *c = L->c;
    if (L->doc_index == L->starts_cap) {
        int64_t cap = L->starts_cap ? 2 * L->starts_cap : 256;
        int64_t *t = realloc(L->starts, (size_t)cap * sizeof *t);
        if (!t) return genc_set_error("out of memory (%lld documents)", (long long)cap);
        L->starts = t;
        L->starts_cap = cap;
    }
    L->starts[L->doc_index++] = c->n_tokens;
    if (c->n_tokens + n + 2 > L->cap) {
        int64_t cap = L->cap ? L->cap : 1 << 16;
        while (cap < c->n_tokens + n + 2) cap *= 2;
        int32_t *t = realloc(c->tokens, (size_t)cap * sizeof *t);
        if (!t) return genc_set_error("out of memory (%lld tokens)", (long long)cap);
        c->tokens = t;
        L->cap = cap;
    }
    c->tokens[c->n_tokens++] = GENC_TOK_BOS;
    c->n_tokens += genc_tokenize(p, n, c->tokens + c->n_tokens);
    c->tokens[c->n_tokens++] = GENC_TOK_EOS;
    c->n_docs++;
    c->n_bytes += n;
    return GENC_OK;
}

/* Cut one file's bytes at "%" lines. */
static int add_file_text(loader *L, const uint8_t *text, int64_t size) {
    int64_t doc = 0, line = 0;
    while (line < size) {
        const uint8_t *nl = memchr(text + line, '\n', (size_t)(size - line));
        int64_t end = nl ? nl - text : size;   /* line is [line, end) */
        int64_t len = end - line;
        if (text[line] == '%' && (len == 1 || (len == 2 && text[line + 1] == '\r'))) {
            if (add_doc(L, text + doc, line - doc) != GENC_OK) return GENC_ERR;
            doc = end + 1 < size ? end + 1 : size;
        }
        line = end + 1;
    }
    return doc < size ? add_doc(L, text + doc, size - doc) : GENC_OK;
}

static int add_file(loader *L, const char *path) {
    void *buf;
    size_t size;
    if (genc_read_file(path, &buf, &size) != GENC_OK) return GENC_ERR;
    int rc = add_file_text(L, buf, (int64_t)size);
    free(buf);
    return rc;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder's corpus files, sorted by name (byte order, so the split never depends on the
 * locale): regular files only, skipping symlinks (Debian's *.u8 links would double the
 * corpus), hidden files and fortune's *.dat index files. */
static int list_folder(const char *dir, char ***out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return genc_set_error("%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0, rc = GENC_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || (len >= 4 && strcmp(e->d_name + len - 4, ".dat") == 0)) continue;
        size_t pl = strlen(dir) + len + 2;
        char *full = malloc(pl);
        if (!full) { rc = genc_set_error("out of memory"); break; }
        snprintf(full, pl, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode)) { free(full); continue; }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **t = realloc(names, (size_t)cap * sizeof *t);
            if (!t) { free(full); rc = genc_set_error("out of memory"); break; }
            names = t;
        }
        names[n++] = full;
    }
    closedir(d);
    if (rc != GENC_OK) {
        for (int i = 0; i < n; i++) free(names[i]);
        free(names);
        return rc;
    }
    if (n) qsort(names, (size_t)n, sizeof *names, name_cmp);
    *out = names;
    *n_out = n;
    return GENC_OK;
}

static int load_folder(loader *L, const char *dir) {
    char **files;
    int n;
    if (list_folder(dir, &files, &n) != GENC_OK) return GENC_ERR;
    int rc = n ? GENC_OK
               : genc_set_error("%s: no text files in the folder (hidden files, symlinks and *.dat "
                                "are skipped)", dir);
    for (int i = 0; i < n; i++) {
        if (rc == GENC_OK) rc = add_file(L, files[i]);
        free(files[i]);
    }
    free(files);
    return rc;
}

static const char *split_name(genc_split s) {
    return s == GENC_SPLIT_TRAIN ? "train" : s == GENC_SPLIT_TEST ? "test" : "full";
}

/* Keep the tokens [a, b) of the stream, moved to its start; recount documents and bytes. */
static void keep_range(genc_corpus *c, int64_t a, int64_t b) {
    memmove(c->tokens, c->tokens + a, (size_t)(b - a) * sizeof *c->tokens);
    c->n_tokens = b - a;
    c->n_docs = c->n_bytes = 0;
    for (int64_t i = 0; i < c->n_tokens; i++) {
        c->n_docs += c->tokens[i] == GENC_TOK_BOS;
        c->n_bytes += c->tokens[i] < 256;
    }
}

/* Cut the split out of the whole stream (docs/data.md). */
static void cut_split(loader *L, genc_split split) {
    genc_corpus *c = L->c;
    int64_t n_docs = L->doc_index;
    if (split == GENC_SPLIT_ALL) return;
    if (n_docs < GENC_SPLIT_MIN_DOCS) { /* too few documents: the tail of the stream */
        int64_t cut = c->n_tokens - c->n_tokens / 20;
        c->held_out_tail = 1;
        if (split == GENC_SPLIT_TRAIN) keep_range(c, 0, cut);
        else keep_range(c, cut, c->n_tokens);
        return;
    }
    /* document i is held out when i % 20 == 19: copy the kept documents forward in place */
    int64_t w = 0;
    for (int64_t i = 0; i < n_docs; i++) {
        if ((i % 20 == 19) != (split == GENC_SPLIT_TEST)) continue;
        int64_t a = L->starts[i], b = i + 1 < n_docs ? L->starts[i + 1] : c->n_tokens;
        memmove(c->tokens + w, c->tokens + a, (size_t)(b - a) * sizeof *c->tokens);
        w += b - a;
    }
    keep_range(c, 0, w);
}

int genc_corpus_load(const char *path, genc_split split, int64_t min_tokens, genc_corpus *c) {
    memset(c, 0, sizeof *c);
    loader L = {0, 0, NULL, 0, c};
    struct stat st;
    int rc;
    if (stat(path, &st) != 0)
        rc = errno == ENOENT ? genc_set_error("%s: no such file or folder", path)
                             : genc_set_error("%s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode)) rc = load_folder(&L, path);
    else if (S_ISREG(st.st_mode)) rc = add_file(&L, path);
    else rc = genc_set_error("%s: not a regular file or folder", path);
    if (rc == GENC_OK && L.doc_index == 0)
        rc = genc_set_error("%s: no documents (the corpus is empty)", path);
    if (rc == GENC_OK) cut_split(&L, split);
    free(L.starts);
    if (rc == GENC_OK && c->n_tokens < min_tokens)
        rc = genc_set_error("%s: the %s split has %lld tokens (%s), fewer than the %lld needed", path,
                            split_name(split), (long long)c->n_tokens,
                            c->held_out_tail ? "the last 5% of a corpus of fewer than 20 documents"
                                             : "every 20th document",
                            (long long)min_tokens);
    if (rc != GENC_OK) genc_corpus_free(c);
    return rc;
}

const char *genc_corpus_split_rule(const genc_corpus *c) {
    return c->held_out_tail ? "the last 5% of the text (fewer than 20 documents)" : "every 20th document";
}

void genc_corpus_free(genc_corpus *c) {
    if (!c) return;
    free(c->tokens);
    memset(c, 0, sizeof *c);
}

/* Uniform in [0, n) for any n the stream can hold: one rng draw, or two past 2^32. */
static int64_t draw_below(genc_rng *rng, uint64_t n) {
    if (n <= UINT32_MAX) return genc_rng_below(rng, (uint32_t)n);
    uint64_t hi = genc_rng_u32(rng), lo = genc_rng_u32(rng);
    return (int64_t)(((hi << 32) | lo) % n);
}

/* x[b*T + t] = tokens[s_b + t], y[b*T + t] = tokens[s_b + t + 1], s_b uniform in
 * [0, n_tokens - T - 1]. One rng call per window, so the rng counter is the data cursor. */
void genc_corpus_batch(const genc_corpus *c, genc_rng *rng, int B, int T, int32_t *x, int32_t *y) {
    GENC_ASSERT(T >= 1 && c->n_tokens >= (int64_t)T + 1,
                "corpus_batch: %lld tokens cannot hold a window of %d + 1", (long long)c->n_tokens, T);
    uint64_t n_starts = (uint64_t)(c->n_tokens - T);
    for (int b = 0; b < B; b++) {
        int64_t s = draw_below(rng, n_starts);
        memcpy(x + (size_t)b * T, c->tokens + s, (size_t)T * sizeof *x);
        memcpy(y + (size_t)b * T, c->tokens + s + 1, (size_t)T * sizeof *y);
    }
}
