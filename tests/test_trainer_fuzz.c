/* Hostile checkpoints through the loaders: a real lm checkpoint (with AdamW moments and EMA)
 * mutated a few thousand times, deterministically, in its metadata (config and train JSON:
 * huge, negative, fractional, non-number values, missing and unknown keys; step, RNG streams,
 * format and family strings) and its tensors (dropped, renamed, reshaped, retyped, filled with
 * NaN). Every mutant must give GENC_ERR with a message or a valid load (then: a forward pass
 * and a resumable trainer state), never a crash, a sanitizer report or a huge allocation (the
 * sanitizer build runs this test; the config is checked against the tensors before anything
 * is allocated, so a small file cannot ask for gigabytes). */
#include "testutil.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "genc/lm.h"
#include "tiny_lm_run.h"

enum { MAX_T = 128, MAX_M = 16, ITERS = 2500 };

typedef struct ckpt {
    int n, n_meta;
    genc_st_entry e[MAX_T];
    char name[MAX_T][160];
    char *key[MAX_M], *val[MAX_M];
} ckpt;

static float *g_base_data[MAX_T];

static void load_base(const char *path, ckpt *k) {
    genc_st_file f;
    memset(k, 0, sizeof *k);
    if (genc_st_read(path, &f)) { fprintf(stderr, "FAIL: %s\n", genc_error()); exit(1); }
    for (int i = 0; i < f.n_tensors && k->n < MAX_T; i++, k->n++) {
        const genc_st_tensor *t = &f.tensors[i];
        snprintf(k->name[i], sizeof k->name[i], "%s", t->name);
        k->e[i].name = k->name[i];
        k->e[i].dtype = GENC_DT_F32;
        k->e[i].ndim = t->ndim;
        memcpy(k->e[i].shape, t->shape, sizeof t->shape);
        g_base_data[i] = malloc(t->nbytes + 4);
        genc_st_get_f32(&f, t->name, g_base_data[i], (int64_t)(t->nbytes / 4));
        k->e[i].data = g_base_data[i];
    }
    for (int i = 0; i < f.n_meta && k->n_meta < MAX_M; i++, k->n_meta++) {
        k->key[i] = strdup(f.meta[i].key);
        k->val[i] = strdup(f.meta[i].value);
    }
    genc_st_free(&f);
}

static uint32_t pick(genc_rng *r, uint32_t n) { return genc_rng_below(r, n); }

/* A hostile JSON value. */
static cJSON *hostile_value(genc_rng *r) {
    static const double nums[] = {0, -1, 1, 3.5, 1e9, 2147483647, 2147483648.0, -2147483649.0, 1e300, -1e300,
                                  1e-300, 16384, 65536, 65537, 256, 1e12, 1e19, 0.5,
                                  /* vocabularies next to the tokenizer's 260, floats past float range */
                                  258, 259, 261, 1e39, 3.4e38, -0.0};
    switch (pick(r, 7)) {
    case 0: return cJSON_CreateString(pick(r, 2) ? "nan" : "");
    case 1: return cJSON_CreateBool(pick(r, 2));
    case 2: return cJSON_CreateNull();
    case 3: return cJSON_CreateArray();
    case 4: return cJSON_CreateObject();
    default: return cJSON_CreateNumber(nums[pick(r, sizeof nums / sizeof nums[0])]);
    }
}

/* Replace, delete or add one key of a JSON object string (malloc'd result). */
static char *mutate_json(const char *json, genc_rng *r) {
    cJSON *o = cJSON_Parse(json);
    if (!o) return strdup(json);
    int n = cJSON_GetArraySize(o), what = (int)pick(r, 10);
    if (what == 0) {
        cJSON_Delete(o);
        return strdup(pick(r, 2) ? "[]" : "{\"dim\": ");
    }
    if (what == 1 || n == 0) cJSON_AddItemToObject(o, "unknown_key", hostile_value(r));
    else {
        cJSON *it = cJSON_GetArrayItem(o, (int)pick(r, (uint32_t)n));
        char key[64];
        snprintf(key, sizeof key, "%s", it->string);
        if (what == 2) cJSON_DeleteItemFromObjectCaseSensitive(o, key);
        else cJSON_ReplaceItemInObjectCaseSensitive(o, key, hostile_value(r));
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static const char *hostile_string(genc_rng *r) {
    static const char *s[] = {"", "-1", "1", "99999999999999999999", "1 2", "1 2 3 4", "genc-99", "genc-0", "genc-2",
                              "genc-1", "genc-x", "lm", "classifier", "x", "1e3", "0 0 18446744073709551615"};
    return s[pick(r, sizeof s / sizeof s[0])];
}

/* The tensors of one mutant: the base ones with one or two of them changed. Buffers it makes
 * go to owned[] for freeing. */
static void mutate_tensors(ckpt *k, genc_rng *r, float **owned, int *n_owned) {
    int i = (int)pick(r, (uint32_t)k->n);
    genc_st_entry *e = &k->e[i];
    switch (pick(r, 5)) {
    case 0: /* drop it */
        if (i != k->n - 1) {
            k->e[i] = k->e[k->n - 1];
            memcpy(k->name[i], k->name[k->n - 1], sizeof k->name[i]);
            k->e[i].name = k->name[i];
        }
        k->n--;
        return;
    case 1: { /* rename it */
        char was[160];
        snprintf(was, sizeof was, "%s", k->name[i]);
        snprintf(k->name[i], sizeof k->name[i], "%s%.150s", pick(r, 2) ? "ema." : "x", was);
        return;
    }
    case 2: /* a NaN in it */
    case 3: { /* another shape, with data to match */
        int64_t numel = 1, old = 1;
        for (int d = 0; d < e->ndim; d++) old *= e->shape[d];
        if (e->ndim == 0 || pick(r, 2)) {
            e->ndim = 1 + (int)pick(r, 3);
            for (int d = 0; d < e->ndim; d++) e->shape[d] = pick(r, 4) ? (int64_t)pick(r, 40) : 0;
        } else {
            int d = (int)pick(r, (uint32_t)e->ndim);
            if (e->shape[d] > 0 && pick(r, 2)) e->shape[d]--;
            else e->shape[d]++;
        }
        for (int d = 0; d < e->ndim; d++) numel *= e->shape[d];
        float *x = calloc((size_t)numel + 1, sizeof(float));
        int64_t keep = numel < old ? numel : old;
        memcpy(x, e->data, sizeof(float) * (size_t)keep);
        if (numel > 0 && pick(r, 3) == 0) x[pick(r, (uint32_t)numel)] = NAN;
        owned[(*n_owned)++] = x;
        e->data = x;
        return;
    }
    default: /* another dtype (the same bytes reinterpreted: I32 and U8 are not floats) */
        e->dtype = pick(r, 2) ? GENC_DT_I32 : GENC_DT_U8;
        if (e->dtype == GENC_DT_U8 && e->ndim > 0) e->shape[e->ndim - 1] *= 4;
        return;
    }
}

/* Build from the mutant what eval/sample (genc_lm_load) and --resume (the trainer) build. */
static int try_load(const char *path, int *loaded, int *resumed) {
    genc_lm lm;
    if (genc_lm_load(path, &lm) != GENC_OK) {
        CHECK(strlen(genc_error()) > 10, "a refusal says why: '%s'", genc_error());
        return 0;
    }
    (*loaded)++;
    CHECK(genc_params_count(&lm.model.params) > 0, "a loaded model has parameters");
    int32_t text[24];
    for (int i = 0; i < 24; i++) text[i] = 'a' + i % 26;
    genc_lm_eval_result er; /* the forward pass must not crash; its value is not the point */
    genc_lm_eval_tokens(&lm, text, 24, lm.train.seq < 8 ? lm.train.seq : 8, 2, &er);
    genc_lm_free(&lm);

    genc_st_file f;
    if (genc_checkpoint_open(path, &f)) return 0;
    if (genc_lm_from_file(&f, &lm) == GENC_OK) {
        genc_train_family fam = {0};
        fam.name = "lm";
        fam.params = &lm.model.params;
        genc_trainer t;
        if (genc_trainer_resume(&t, &fam, &f) == GENC_OK) {
            (*resumed)++;
            CHECK(t.step >= 0 && t.cfg.batch >= 1 && t.cfg.steps >= 1, "a resumed state is valid");
            genc_trainer_free(&t);
        }
    }
    genc_lm_free(&lm);
    genc_st_free(&f);
    return 1;
}

int main(void) {
    /* in memory when possible: every mutant is written atomically, with an fsync */
    char dir[64];
    snprintf(dir, sizeof dir, "/dev/shm/genc_test_ckfuzz.XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "/tmp/genc_test_ckfuzz.XXXXXX");
        if (!mkdtemp(dir)) return 1;
    }
    char base_dir[300], path[300];
    snprintf(base_dir, sizeof base_dir, "%s/base", dir);
    snprintf(path, sizeof path, "%s/mutant.safetensors", dir);

    if (tiny_lm_run(base_dir, 0.5f)) return 1; /* with an EMA: its tensors are mutated too */
    char base_path[400];
    snprintf(base_path, sizeof base_path, "%s/model.safetensors", base_dir);
    ckpt base;
    load_base(base_path, &base);
    int loaded = 0, resumed = 0;
    CHECK(try_load(base_path, &loaded, &resumed) && loaded == 1 && resumed == 1, "the unmutated checkpoint loads");

    genc_rng r = genc_rng_make(2024, 7);
    for (int it = 0; it < ITERS; it++) {
        ckpt k = base;
        for (int i = 0; i < k.n; i++) k.e[i].name = k.name[i];
        float *owned[8];
        int n_owned = 0;
        char *made[MAX_M] = {0};
        int n_mut = 1 + (int)pick(&r, 3);
        for (int m = 0; m < n_mut; m++) {
            int target = (int)pick(&r, 3);
            if (target == 0 && n_owned < 6 && k.n > 1) {
                mutate_tensors(&k, &r, owned, &n_owned);
            } else {
                int j = (int)pick(&r, (uint32_t)k.n_meta);
                int is_json = strcmp(k.key[j], "config") == 0 || strcmp(k.key[j], "train") == 0;
                if (!is_json && target == 1) { /* mutate the JSON ones more often */
                    for (int q = 0; q < k.n_meta; q++)
                        if (strcmp(k.key[q], pick(&r, 2) ? "config" : "train") == 0) j = q;
                    is_json = 1;
                }
                char *v = is_json ? mutate_json(k.val[j], &r) : strdup(hostile_string(&r));
                free(made[j]);
                made[j] = v;
                k.val[j] = v;
            }
        }
        genc_st_kv meta[MAX_M];
        for (int i = 0; i < k.n_meta; i++) meta[i] = (genc_st_kv){k.key[i], k.val[i]};
        if (genc_st_write(path, k.e, k.n, meta, k.n_meta) == GENC_OK) try_load(path, &loaded, &resumed);
        for (int i = 0; i < n_owned; i++) free(owned[i]);
        for (int i = 0; i < MAX_M; i++) free(made[i]);
    }
    printf("checkpoint fuzz: %d mutants, %d loaded for eval, %d resumable\n", ITERS, loaded - 1, resumed - 1);
    CHECK(loaded > 1 && loaded < ITERS, "some mutants load (harmless changes), most are refused: %d", loaded);

    for (int i = 0; i < base.n; i++) free(g_base_data[i]);
    for (int i = 0; i < base.n_meta; i++) { free(base.key[i]); free(base.val[i]); }
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return tu_finish();
}
