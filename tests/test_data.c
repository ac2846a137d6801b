/* Data: the byte tokenizer, corpus loading (fortune files, folders, what is skipped), the
 * documented train/test split rule, training windows, and the error messages. */
#include "testutil.h"

#include "genc/data.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_tokenizer(void) {
    uint8_t bytes[256];
    int32_t ids[256];
    for (int i = 0; i < 256; i++) bytes[i] = (uint8_t)i;
    CHECK(genc_tokenize(bytes, 256, ids) == 256, "tokenize count");
    int ok = 1;
    for (int i = 0; i < 256; i++) ok &= ids[i] == i;
    CHECK(ok, "byte b has id b");
    char out[512];
    CHECK(genc_detokenize(ids, 256, 0, out, sizeof out) == 256 && memcmp(out, bytes, 256) == 0,
          "all 256 bytes round trip (incl. NUL and non-UTF-8)");

    CHECK(GENC_VOCAB == 260 && strcmp(genc_token_name(GENC_TOK_MASK), "[MASK]") == 0 &&
          strcmp(genc_token_name(GENC_TOK_BOS), "[BOS]") == 0 &&
          strcmp(genc_token_name(GENC_TOK_EOS), "[EOS]") == 0 &&
          strcmp(genc_token_name(GENC_TOK_PAD), "[PAD]") == 0, "special token names");
    CHECK(genc_token_name('a') == NULL && genc_token_name(-1) == NULL && genc_token_name(260) == NULL,
          "no name for bytes or out-of-range ids");

    int32_t s[] = {GENC_TOK_BOS, 'h', 'i', GENC_TOK_MASK, '!', GENC_TOK_PAD, GENC_TOK_EOS};
    int64_t n = genc_detokenize(s, 7, 0, out, sizeof out);
    CHECK(n == 3 && memcmp(out, "hi!", 3) == 0, "specials dropped: '%.*s'", (int)n, out);
    n = genc_detokenize(s, 7, 1, out, sizeof out);
    const char *want = "[BOS]hi[MASK]![PAD][EOS]";
    CHECK(n == (int64_t)strlen(want) && memcmp(out, want, (size_t)n) == 0, "specials shown: '%.*s'", (int)n, out);
    n = genc_detokenize(s, 7, 1, out, 8);
    CHECK(n == 7 && memcmp(out, "[BOS]hi", 7) == 0, "cap respected, no half token: '%.*s'", (int)n, out);
    n = genc_detokenize(s, 7, 0, out, 2);
    CHECK(n == 2 && memcmp(out, "hi", 2) == 0, "cap respected for bytes");
    int32_t bad[] = {'a', 999, -5, 'b'};
    n = genc_detokenize(bad, 4, 0, out, sizeof out);
    CHECK(n == 2 && memcmp(out, "ab", 2) == 0, "out-of-range ids dropped");
    n = genc_detokenize(bad, 4, 1, out, sizeof out);
    CHECK(n == 8 && memcmp(out, "a[?][?]b", 8) == 0, "out-of-range ids shown as [?]");
}

/* ------------------------------------------------------------------ corpus fixture */

static char g_dir[256];

static void write_text(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* Document k of the big fortune file. */
static void doc_text(int k, char *buf, size_t len) { snprintf(buf, len, "doc %d\nline two\n", k); }

/* Folder layout (load order is by name):
 *   a_plain    one document, no "%" lines ("plain text\n")
 *   b_fortune  45 documents "doc k\nline two\n" with "%" lines between, plus an empty and a
 *              blank document that must be skipped, a CRLF separator and a final "%"
 *   .hidden, x.dat, c_link -> b_fortune, sub/inner: all skipped
 * so the corpus holds 46 documents: index 0 = a_plain, index k+1 = doc k. */
static void make_corpus(void) {
    snprintf(g_dir, sizeof g_dir, "data_corpus_%d", (int)getpid());
    genc_mkdirs(g_dir);
    write_text("a_plain", "plain text\n");
    size_t cap = 1 << 14, used = 0;
    char *big = malloc(cap);
    big[0] = 0;
    for (int k = 0; k < 45; k++) {
        char d[64];
        doc_text(k, d, sizeof d);
        used += (size_t)snprintf(big + used, cap - used, "%s%s", d,
                                 k == 10 ? "%\r\n" : k == 20 ? "%\n%\n" : k == 30 ? "%\n  \n\t\n%\n" : "%\n");
    }
    write_text("b_fortune", big);
    free(big);
    write_text(".hidden", "hidden\n%\nhidden\n");
    write_text("x.dat", "\x01\x02index\n");
    char path[512], sub[512];
    snprintf(path, sizeof path, "%s/c_link", g_dir);
    CHECK(symlink("b_fortune", path) == 0, "make symlink");
    snprintf(sub, sizeof sub, "%s/sub", g_dir);
    genc_mkdirs(sub);
    write_text("sub/inner", "nested\n");
}

static void remove_corpus(void) {
    const char *names[] = {"a_plain", "b_fortune", ".hidden", "x.dat", "c_link", "sub/inner", "sub"};
    for (int i = 0; i < 7; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", g_dir, names[i]);
        if (unlink(path) != 0) rmdir(path);
    }
    rmdir(g_dir);
}

/* The stream the split should hold, rebuilt from the rule: doc i → test when i % 20 == 19. */
static int64_t expected_stream(genc_split split, int32_t *out, int64_t *n_docs, int64_t *n_bytes) {
    int64_t n = 0;
    *n_docs = *n_bytes = 0;
    for (int i = 0; i < 46; i++) {
        int test = i % 20 == 19;
        if (split != GENC_SPLIT_ALL && test != (split == GENC_SPLIT_TEST)) continue;
        char d[64];
        if (i == 0) snprintf(d, sizeof d, "plain text\n");
        else doc_text(i - 1, d, sizeof d);
        int64_t len = (int64_t)strlen(d);
        out[n++] = GENC_TOK_BOS;
        n += genc_tokenize((const uint8_t *)d, len, out + n);
        out[n++] = GENC_TOK_EOS;
        (*n_docs)++;
        *n_bytes += len;
    }
    return n;
}

static void test_corpus_split(void) {
    const char *names[] = {"train", "test", "all"};
    int64_t docs[3];
    for (int s = 0; s < 3; s++) {
        genc_corpus c;
        if (genc_corpus_load(g_dir, (genc_split)s, 1, &c) != GENC_OK) {
            CHECK(0, "load %s: %s", names[s], genc_error());
            continue;
        }
        int32_t want[4096];
        int64_t wd, wb, wn = expected_stream((genc_split)s, want, &wd, &wb);
        CHECK(c.n_docs == wd && c.n_bytes == wb && c.n_tokens == wn, "%s: %lld docs %lld bytes %lld "
              "tokens, want %lld %lld %lld", names[s], (long long)c.n_docs, (long long)c.n_bytes,
              (long long)c.n_tokens, (long long)wd, (long long)wb, (long long)wn);
        CHECK(c.n_tokens == wn && memcmp(c.tokens, want, (size_t)wn * sizeof *want) == 0,
              "%s: token stream matches the documented rule and skip list", names[s]);
        docs[s] = c.n_docs;
        genc_corpus_free(&c);
    }
    /* 46 documents: indices 19 and 39 are test. */
    CHECK(docs[0] == 44 && docs[1] == 2 && docs[2] == 46, "split counts %lld/%lld/%lld",
          (long long)docs[0], (long long)docs[1], (long long)docs[2]);

    /* A single file loads the same way: b_fortune alone has 45 documents (test: 19, 39). */
    char path[512];
    snprintf(path, sizeof path, "%s/b_fortune", g_dir);
    genc_corpus c;
    CHECK(genc_corpus_load(path, GENC_SPLIT_TEST, 0, &c) == GENC_OK && c.n_docs == 2,
          "single fortune file test docs %lld", (long long)c.n_docs);
    int32_t want[128];
    int64_t wn = 0;
    for (int k = 19; k < 45; k += 20) {
        char d[64];
        doc_text(k, d, sizeof d);
        want[wn++] = GENC_TOK_BOS;
        wn += genc_tokenize((const uint8_t *)d, (int64_t)strlen(d), want + wn);
        want[wn++] = GENC_TOK_EOS;
    }
    CHECK(c.n_tokens == wn && memcmp(c.tokens, want, (size_t)wn * sizeof *want) == 0,
          "single file: test stream is documents 19 and 39");
    genc_corpus_free(&c);
    /* Through the symlink as the top-level path: followed (only links inside folders are skipped). */
    snprintf(path, sizeof path, "%s/c_link", g_dir);
    CHECK(genc_corpus_load(path, GENC_SPLIT_ALL, 0, &c) == GENC_OK && c.n_docs == 45,
          "symlink given explicitly is followed (%lld docs)", (long long)c.n_docs);
    genc_corpus_free(&c);
}

static void test_batches(void) {
    genc_corpus c;
    if (genc_corpus_load(g_dir, GENC_SPLIT_TRAIN, 17, &c) != GENC_OK) {
        CHECK(0, "load: %s", genc_error());
        return;
    }
    enum { B = 32, T = 16 };
    int32_t x[B * T], y[B * T], x2[B * T], y2[B * T];
    genc_rng r = genc_rng_make(5, 9), r2 = genc_rng_make(5, 9);
    genc_corpus_batch(&c, &r, B, T, x, y);
    genc_corpus_batch(&c, &r2, B, T, x2, y2);
    CHECK(memcmp(x, x2, sizeof x) == 0 && memcmp(y, y2, sizeof y) == 0, "same rng → same batch");
    CHECK(r.counter == r2.counter && r.counter == B, "one rng draw per window (counter %llu)",
          (unsigned long long)r.counter);
    int in_range = 1, shifted = 1, found = 1;
    for (int b = 0; b < B; b++) {
        const int32_t *xb = x + b * T, *yb = y + b * T;
        for (int t = 0; t < T; t++) in_range &= xb[t] >= 0 && xb[t] < GENC_VOCAB && yb[t] >= 0 && yb[t] < GENC_VOCAB;
        for (int t = 0; t + 1 < T; t++) shifted &= yb[t] == xb[t + 1];
        /* the window is somewhere in the stream */
        int hit = 0;
        for (int64_t s = 0; s + T < c.n_tokens && !hit; s++)
            hit = memcmp(c.tokens + s, xb, sizeof(int32_t) * T) == 0 && c.tokens[s + T] == yb[T - 1];
        found &= hit;
    }
    CHECK(in_range, "ids in range");
    CHECK(shifted, "y is x shifted by one");
    CHECK(found, "each window is a slice of the stream");
    genc_corpus_batch(&c, &r2, B, T, x2, y2);
    CHECK(memcmp(x, x2, sizeof x) != 0, "the next batch differs");

    /* Start positions cover [0, n - T - 1], both ends included: a corpus of exactly T + 1
     * tokens has one window, the whole stream. */
    genc_corpus tiny = {c.tokens, T + 1, 1, T - 1, 0};
    genc_corpus_batch(&tiny, &r, 1, T, x, y);
    CHECK(memcmp(x, c.tokens, T * sizeof *x) == 0 && memcmp(y, c.tokens + 1, T * sizeof *y) == 0,
          "T+1 tokens: the only window");
    genc_corpus tiny2 = {c.tokens, T + 2, 1, T, 0};
    int seen[2] = {0, 0};
    for (int i = 0; i < 200; i++) {
        genc_corpus_batch(&tiny2, &r, 1, T, x, y);
        seen[x[0] == c.tokens[0] ? 0 : 1]++;
    }
    CHECK(seen[0] > 50 && seen[1] > 50, "both start positions drawn (%d, %d)", seen[0], seen[1]);
    genc_corpus_free(&c);
}

static void test_errors(void) {
    genc_corpus c;
    CHECK(genc_corpus_load("no/such/corpus", GENC_SPLIT_TRAIN, 0, &c) == GENC_ERR &&
          strcmp(genc_error(), "no/such/corpus: no such file or folder") == 0,
          "missing path: %s", genc_error());
    CHECK(c.tokens == NULL && c.n_tokens == 0, "corpus cleared on failure");

    char empty[300];
    snprintf(empty, sizeof empty, "%s_empty", g_dir);
    genc_mkdirs(empty);
    CHECK(genc_corpus_load(empty, GENC_SPLIT_TRAIN, 0, &c) == GENC_ERR &&
          strstr(genc_error(), "no text files"), "empty folder: %s", genc_error());

    /* Only blank documents: the folder has a file but no document. */
    char blank[400];
    snprintf(blank, sizeof blank, "%s/blank", empty);
    FILE *f = fopen(blank, "wb");
    fputs("\n%\n \n%\n", f);
    fclose(f);
    CHECK(genc_corpus_load(empty, GENC_SPLIT_ALL, 0, &c) == GENC_ERR &&
          strstr(genc_error(), "no documents"), "blank documents only: %s", genc_error());
    CHECK(genc_corpus_load(blank, GENC_SPLIT_ALL, 0, &c) == GENC_ERR &&
          strstr(genc_error(), "no documents"), "blank file: %s", genc_error());
    unlink(blank);
    rmdir(empty);

    /* The test split of a one-document corpus is empty: too small for any window. */
    char path[512];
    snprintf(path, sizeof path, "%s/a_plain", g_dir);
    CHECK(genc_corpus_load(path, GENC_SPLIT_TEST, 2, &c) == GENC_ERR &&
          strstr(genc_error(), "test split has 0 tokens") && strstr(genc_error(), "fewer than the 2 needed"),
          "split too small: %s", genc_error());
    CHECK(genc_corpus_load(g_dir, GENC_SPLIT_TRAIN, 1 << 20, &c) == GENC_ERR &&
          strstr(genc_error(), "train split has"), "min_tokens too large: %s", genc_error());
    CHECK(genc_corpus_load("/dev/null", GENC_SPLIT_TRAIN, 0, &c) == GENC_ERR &&
          strstr(genc_error(), "not a regular file or folder"), "device refused: %s", genc_error());
}

/* Debian's fortunes, when installed: print the split sizes (docs/data.md quotes them) and
 * check the split arithmetic on real data. */
static void test_default_corpus(void) {
    struct stat st;
    if (stat(GENC_DEFAULT_CORPUS, &st) != 0) {
        printf("default corpus %s not installed: skipped\n", GENC_DEFAULT_CORPUS);
        return;
    }
    genc_corpus tr, te, all;
    int ok = genc_corpus_load(GENC_DEFAULT_CORPUS, GENC_SPLIT_TRAIN, 1, &tr) == GENC_OK;
    ok &= genc_corpus_load(GENC_DEFAULT_CORPUS, GENC_SPLIT_TEST, 1, &te) == GENC_OK;
    ok &= genc_corpus_load(GENC_DEFAULT_CORPUS, GENC_SPLIT_ALL, 1, &all) == GENC_OK;
    CHECK(ok, "default corpus loads: %s", genc_error());
    if (!ok) return;
    printf("default corpus %s\n", GENC_DEFAULT_CORPUS);
    printf("  train: %lld documents, %lld bytes, %lld tokens\n", (long long)tr.n_docs, (long long)tr.n_bytes, (long long)tr.n_tokens);
    printf("  test:  %lld documents, %lld bytes, %lld tokens\n", (long long)te.n_docs, (long long)te.n_bytes, (long long)te.n_tokens);
    printf("  all:   %lld documents, %lld bytes, %lld tokens\n", (long long)all.n_docs, (long long)all.n_bytes, (long long)all.n_tokens);
    CHECK(tr.n_docs + te.n_docs == all.n_docs && tr.n_bytes + te.n_bytes == all.n_bytes &&
          tr.n_tokens + te.n_tokens == all.n_tokens, "train + test = all");
    CHECK(te.n_docs == all.n_docs / 20, "test holds every 20th document");
    CHECK(all.n_tokens == all.n_bytes + 2 * all.n_docs, "BOS + EOS per document");
    genc_corpus_free(&tr);
    genc_corpus_free(&te);
    genc_corpus_free(&all);
}

/* Fewer than 20 documents (a user's own text file is one document): the held-out split is the
 * last n/20 tokens of the whole stream, train the rest, so train + test = all exactly. Before
 * this rule a plain file had an empty test split and `genc eval` refused it. */
static void test_tail_split(void) {
    char path[600], text[4000];
    int n = 0;
    for (int i = 0; i < 100; i++) n += snprintf(text + n, sizeof text - (size_t)n, "line %02d of my text\n", i);
    snprintf(path, sizeof path, "%s_plain.txt", g_dir);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    genc_corpus tr, te, all;
    int ok = genc_corpus_load(path, GENC_SPLIT_TRAIN, 2, &tr) == GENC_OK;
    ok &= genc_corpus_load(path, GENC_SPLIT_TEST, 2, &te) == GENC_OK;
    ok &= genc_corpus_load(path, GENC_SPLIT_ALL, 2, &all) == GENC_OK;
    CHECK(ok, "a one-document file has both splits: %s", genc_error());
    if (ok) {
        int64_t N = all.n_tokens; /* BOS + n bytes + EOS */
        CHECK(N == n + 2 && te.n_tokens == N / 20 && tr.n_tokens == N - N / 20,
              "test = the last N/20 tokens: %lld + %lld of %lld", (long long)tr.n_tokens, (long long)te.n_tokens,
              (long long)N);
        CHECK(memcmp(tr.tokens, all.tokens, sizeof(int32_t) * (size_t)tr.n_tokens) == 0 &&
                  memcmp(te.tokens, all.tokens + tr.n_tokens, sizeof(int32_t) * (size_t)te.n_tokens) == 0,
              "train is the head of the stream and test its tail");
        CHECK(tr.held_out_tail && te.held_out_tail && !all.held_out_tail, "the loader says which rule it used");
        /* the test tail holds the EOS and bytes only */
        CHECK(te.n_bytes == te.n_tokens - 1 && te.n_docs == 0 && tr.n_bytes == tr.n_tokens - 1 && tr.n_docs == 1,
              "bytes and documents recounted: train %lld bytes %lld docs, test %lld bytes %lld docs",
              (long long)tr.n_bytes, (long long)tr.n_docs, (long long)te.n_bytes, (long long)te.n_docs);
        genc_corpus_free(&tr);
        genc_corpus_free(&te);
        genc_corpus_free(&all);
    }
    unlink(path);
}

int main(void) {
    test_tokenizer();
    make_corpus();
    test_corpus_split();
    test_tail_split();
    test_batches();
    test_errors();
    remove_corpus();
    test_default_corpus();
    return tu_finish();
}
