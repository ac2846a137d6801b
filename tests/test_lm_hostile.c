/* Hand-made hostile lm checkpoints, each one a file a user could be given: the tensors match
 * the config (so the parameter-count check cannot catch them), but the config asks for what
 * the lm family cannot run. Each must be refused by genc_lm_load with a message, and a model
 * that loads must never reach the samplers or the forward pass with it (before the family
 * check, vocab 258/259 overflowed the samplers' rows and a smaller vocab aborted in the
 * embedding; NaN weights reached the fast exp, where a NaN converted to int is undefined).
 * Then: a model whose finite weights overflow is a failed evaluation, not "nan bpc"; and the
 * fast exp passes NaN through without undefined behaviour (this test runs under UBSan). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "genc/lm.h"
#include "tiny_lm_run.h"
#include "ops/fastmath.h"

enum { MAX_T = 128 };

typedef struct ckpt {
    genc_st_file f;
    int n;
    genc_st_entry e[MAX_T];
    float *data[MAX_T];
} ckpt;

static void load(const char *path, ckpt *k) {
    memset(k, 0, sizeof *k);
    if (genc_st_read(path, &k->f)) { fprintf(stderr, "FAIL: %s\n", genc_error()); exit(1); }
    for (int i = 0; i < k->f.n_tensors && i < MAX_T; i++, k->n++) {
        const genc_st_tensor *t = &k->f.tensors[i];
        k->e[i].name = t->name;
        k->e[i].dtype = GENC_DT_F32;
        k->e[i].ndim = t->ndim;
        memcpy(k->e[i].shape, t->shape, sizeof t->shape);
        k->data[i] = malloc(t->nbytes + 4);
        genc_st_get_f32(&k->f, t->name, k->data[i], (int64_t)(t->nbytes / 4));
        k->e[i].data = k->data[i];
    }
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Write base with one config key set to a JSON value, the vocabulary-sized tensors resized to
 * `vocab` rows (0: unchanged) and, when fill is not 0, head.weight filled with it. */
static void write_mutant(const ckpt *base, const char *path, const char *key, const char *value, int vocab,
                         float fill) {
    genc_st_entry e[MAX_T];
    float *owned[MAX_T] = {0};
    for (int i = 0; i < base->n; i++) {
        e[i] = base->e[i];
        int vocab_rows = ends_with(e[i].name, "tok_emb.weight") || ends_with(e[i].name, "head.weight");
        int is_head = strcmp(e[i].name, "head.weight") == 0 || strcmp(e[i].name, "ema.head.weight") == 0;
        if ((vocab && vocab_rows) || (fill != 0 && is_head)) {
            int64_t rows = vocab && vocab_rows ? vocab : e[i].shape[0], cols = e[i].shape[1];
            owned[i] = calloc((size_t)(rows * cols), sizeof(float));
            int64_t keep = rows < e[i].shape[0] ? rows : e[i].shape[0];
            memcpy(owned[i], base->data[i], sizeof(float) * (size_t)(keep * cols));
            if (fill != 0 && is_head)
                for (int64_t j = 0; j < rows * cols; j++) owned[i][j] = fill;
            e[i].shape[0] = rows;
            e[i].data = owned[i];
        }
    }
    cJSON *cfg = cJSON_Parse(genc_st_meta(&base->f, "config"));
    if (key) cJSON_ReplaceItemInObjectCaseSensitive(cfg, key, cJSON_Parse(value));
    if (vocab) cJSON_ReplaceItemInObjectCaseSensitive(cfg, "vocab", cJSON_CreateNumber(vocab));
    char *cj = cJSON_PrintUnformatted(cfg);
    genc_st_kv meta[16];
    int nm = 0;
    for (int i = 0; i < base->f.n_meta && nm < 16; i++, nm++) {
        meta[nm] = (genc_st_kv){base->f.meta[i].key, base->f.meta[i].value};
        if (strcmp(meta[nm].key, "config") == 0) meta[nm].value = cj;
    }
    if (genc_st_write(path, e, base->n, meta, nm)) { fprintf(stderr, "FAIL: %s\n", genc_error()); exit(1); }
    free(cj);
    cJSON_Delete(cfg);
    for (int i = 0; i < base->n; i++) free(owned[i]);
}

/* The mutant must be refused with a message mentioning `why`; if it loads anyway, sampling
 * it is what crashed before (so the sanitizer build reports the bug, not only the CHECK). */
static void expect_refused(const char *path, const char *what, const char *why) {
    genc_lm lm;
    if (genc_lm_load(path, &lm) == GENC_OK) {
        CHECK(0, "%s: loaded, want a refusal", what);
        genc_lm_sample_opts o;
        genc_lm_sample_opts_default(&o);
        o.len = 8;
        int32_t *out[1];
        int n_out[1];
        if (genc_lm_sample(&lm, "", &o, out, n_out) == GENC_OK) free(out[0]);
        genc_lm_free(&lm);
        return;
    }
    CHECK(strstr(genc_error(), why) != NULL, "%s: refused saying '%s': '%s'", what, why, genc_error());
}

int main(void) {
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/genc_test_hostile.XXXXXX");
    if (!mkdtemp(dir)) return 1;
    char base_dir[300], path[300], base_path[400];
    snprintf(base_dir, sizeof base_dir, "%s/base", dir);
    snprintf(path, sizeof path, "%s/mutant.safetensors", dir);
    snprintf(base_path, sizeof base_path, "%s/model.safetensors", base_dir);

    if (tiny_lm_run(base_dir, 0.f)) return 1;
    ckpt base;
    load(base_path, &base);
    genc_lm lm;
    CHECK(genc_lm_load(base_path, &lm) == GENC_OK, "the unmutated checkpoint loads: %s", genc_error());
    {
        /* (not hostile, but the same model) per-token log-probabilities, the windows of the
         * evaluation: they add up to its nats; float sums of 40 values of ~5.6 agree to 1e-4 */
        int32_t text[41];
        float logp[40];
        text[0] = GENC_TOK_BOS;
        for (int i = 1; i < 41; i++) text[i] = 'a' + (i * 7) % 26;
        genc_lm_eval_result r;
        double sum = 0;
        int ok = genc_lm_token_logprobs(&lm, text, 41, 8, logp) == GENC_OK &&
                 genc_lm_eval_tokens(&lm, text, 41, 8, 3, &r) == GENC_OK;
        for (int i = 0; ok && i < 40; i++) sum -= logp[i];
        CHECK(ok && fabs(sum - r.nats) < 1e-4 * r.nats, "per-token log-probs sum to eval's nats: %.6f vs %.6f", sum,
              r.nats);
    }
    genc_lm_free(&lm);

    /* vocabularies other than the tokenizer's, tensors to match */
    static const int vocabs[] = {259, 258, 257, 100, 2, 261, 512};
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        char what[64];
        snprintf(what, sizeof what, "vocab %d", vocabs[i]);
        write_mutant(&base, path, NULL, NULL, vocabs[i], 0);
        expect_refused(path, what, "vocab");
    }
    /* attention and conditioning that the objective (ar) does not use */
    write_mutant(&base, path, "causal", "false", 0, 0);
    expect_refused(path, "bidirectional ar", "causal");
    write_mutant(&base, path, "cond", "\"add\"", 0, 0);
    expect_refused(path, "cond add on ar", "conditioning");
    write_mutant(&base, path, "cond", "\"adaln\"", 0, 0);
    expect_refused(path, "cond adaln on ar", "conditioning");
    /* the legacy spelling of the same ("time_cond": true) */
    {
        cJSON *cj = cJSON_Parse(genc_st_meta(&base.f, "config"));
        cJSON_DeleteItemFromObjectCaseSensitive(cj, "cond");
        char *s = cJSON_PrintUnformatted(cj);
        cJSON_Delete(cj);
        genc_st_kv meta[16];
        int nm = 0;
        for (int i = 0; i < base.f.n_meta && nm < 16; i++, nm++) {
            meta[nm] = (genc_st_kv){base.f.meta[i].key, base.f.meta[i].value};
            if (strcmp(meta[nm].key, "config") == 0) {
                size_t len = strlen(s);
                s[len - 1] = 0; /* drop the closing brace, add the key */
                static char buf[4096];
                snprintf(buf, sizeof buf, "%s,\"time_cond\":true}", s);
                meta[nm].value = buf;
            }
        }
        genc_st_write(path, base.e, base.n, meta, nm);
        free(s);
        expect_refused(path, "time_cond on ar", "conditioning");
    }
    /* a learned table shorter than the training windows */
    write_mutant(&base, path, "pos", "\"learned\"", 0, 0);
    expect_refused(path, "learned positions, no table", "parameters"); /* table missing: count differs */
    /* values the backbone's validation refuses: eps 0 (NaN norms), a base that does not survive
     * JSON as a float (1e39 → inf, printed as null) */
    write_mutant(&base, path, "norm_eps", "0", 0, 0);
    expect_refused(path, "norm_eps 0", "eps");
    write_mutant(&base, path, "rope_base", "1e39", 0, 0);
    expect_refused(path, "rope_base 1e39", "rope_base");
    write_mutant(&base, path, "dim", "2048", 0, 0); /* head dim 1024, the most allowed */
    expect_refused(path, "dim 2048 in a small file", "parameters");
    write_mutant(&base, path, "mlp_hidden", "1048576", 0, 0);
    expect_refused(path, "mlp_hidden 2^20 in a small file", "parameters");
    write_mutant(&base, path, "layers", "256", 0, 0);
    expect_refused(path, "256 layers in a small file", "parameters");
    /* non-finite weights */
    write_mutant(&base, path, NULL, NULL, 0, NAN);
    expect_refused(path, "NaN weights", "NaN");
    write_mutant(&base, path, NULL, NULL, 0, INFINITY);
    expect_refused(path, "infinite weights", "NaN");

    /* finite weights that overflow: the evaluation fails with a message, never "nan bpc" */
    write_mutant(&base, path, NULL, NULL, 0, 3e38f);
    if (genc_lm_load(path, &lm) == GENC_OK) {
        int32_t text[40];
        for (int i = 0; i < 40; i++) text[i] = 'a' + i % 26;
        genc_lm_eval_result r;
        int rc = genc_lm_eval_tokens(&lm, text, 40, 8, 2, &r);
        CHECK(rc == GENC_ERR && strstr(genc_error(), "not finite"), "overflowing weights: eval fails (rc %d, '%s')",
              rc, genc_error());
        genc_lm_free(&lm);
    } else CHECK(0, "finite weights load: %s", genc_error());

    /* the fast exp: NaN in, NaN out; the clamps and the zero below -87.3 unchanged */
    volatile float nan_in = NAN;
    CHECK(isnan(genc_fexp(nan_in)), "fexp(NaN) is NaN");
    CHECK(genc_fexp(-INFINITY) == 0.f && genc_fexp(-100.f) == 0.f, "fexp underflows to 0");
    CHECK(genc_fexp(INFINITY) > 2e38f && isfinite(genc_fexp(INFINITY)), "fexp(+inf) saturates near FLT_MAX (e^88.376 = 2.4e38)");
    /* 2 ulp of 1: the polynomial's documented error is ~1 ulp */
    CHECK(fabsf(genc_fexp(1.f) - 2.7182817f) <= 2 * 2.4e-7f * 2.7182817f, "fexp(1) = e: %.9g", genc_fexp(1.f));

    for (int i = 0; i < base.n; i++) free(base.data[i]);
    genc_st_free(&base.f);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return tu_finish();
}
