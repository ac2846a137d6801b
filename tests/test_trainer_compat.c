/* A checkpoint of the first format ("format": "genc-1", tests/fixtures/README.md), written
 * by the LM's own training loop before the shared trainer, still loads for evaluation and
 * resumes on the shared trainer: its step, RNG streams, AdamW moments and configuration are
 * taken as they are, and continuing it to step 4 lands where a run from scratch does. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genc/lm.h"

static char g_dir[256];

static int copy_file(const char *from, const char *to) {
    void *d;
    size_t n;
    if (genc_read_file(from, &d, &n)) return GENC_ERR;
    int rc = genc_write_file_atomic(to, d, n);
    free(d);
    return rc;
}

static const char *meta(const char *dir, const char *key, char *buf, size_t cap) {
    genc_st_file f;
    buf[0] = 0;
    if (genc_checkpoint_open(dir, &f) == GENC_OK) {
        const char *v = genc_st_meta(&f, key);
        snprintf(buf, cap, "%s", v ? v : "");
        genc_st_free(&f);
    }
    return buf;
}

int main(void) {
    const char *src = getenv("GENC_SOURCE_DIR");
    char fixture[1024], old[512], resumed[512], straight[512], buf[2][256];
    snprintf(fixture, sizeof fixture, "%s/tests/fixtures/genc1-lm-ar-step2.safetensors", src ? src : "..");
    snprintf(g_dir, sizeof g_dir, "/tmp/genc_test_compat.XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    snprintf(old, sizeof old, "%s/old", g_dir);
    snprintf(resumed, sizeof resumed, "%s/old/model.safetensors", g_dir);
    snprintf(straight, sizeof straight, "%s/straight", g_dir);

    /* evaluation and sampling load it */
    genc_st_file f;
    CHECK(genc_checkpoint_open(fixture, &f) == GENC_OK && genc_checkpoint_version(&f) == 1, "a genc-1 file opens");
    genc_st_free(&f);
    genc_lm lm;
    CHECK(genc_lm_load(fixture, &lm) == GENC_OK, "genc_lm_load: %s", genc_error());
    CHECK(lm.step == 2 && lm.train.objective == GENC_OBJ_AR && lm.train.seq == 16 && lm.train.common.batch == 2 &&
          lm.train.common.steps == 4 && lm.train.common.seed == 3 && lm.train.common.ema == 0 && !lm.ema_weights,
          "its step, objective and run settings");
    CHECK(lm.model.cfg.dim == 8 && lm.model.cfg.tie_embeddings && lm.model.cfg.causal, "its model config");
    int32_t text[40];
    for (int i = 0; i < 40; i++) text[i] = "The quick brown fox jumps over the dog."[i % 39];
    genc_lm_eval_result r;
    CHECK(genc_lm_eval_tokens(&lm, text, 40, 16, 2, &r) == GENC_OK && isfinite(r.bpc) && r.bpc > 1,
          "it evaluates: %.3f bpc", r.bpc);

    /* resume it to step 4, and run the same settings from scratch to step 4 */
    genc_run_opts run = {0};
    run.out_dir = old;
    run.resume = 1;
    genc_train_result res;
    genc_mkdirs(old);
    CHECK(copy_file(fixture, resumed) == GENC_OK, "copy: %s", genc_error());
    CHECK(genc_lm_train(NULL, NULL, &run, &res) == GENC_OK && res.step == 4, "resumed to step 4: %s", genc_error());
    run.out_dir = straight;
    run.resume = 0;
    CHECK(genc_lm_train(&lm.model.cfg, &lm.train, &run, &res) == GENC_OK && res.step == 4, "straight run: %s",
          genc_error());
    CHECK(strcmp(meta(old, "format", buf[0], 256), "genc-2") == 0, "the resumed run is saved as genc-2");
    /* the streams are counters: they must continue exactly, on any machine */
    const char *keys[] = {"step", "rng_data", "rng_dropout", "rng_noise", "train", "config"};
    for (int k = 0; k < 6; k++)
        CHECK(strcmp(meta(old, keys[k], buf[0], 256), meta(straight, keys[k], buf[1], 256)) == 0,
              "%s continues as in an uninterrupted run: '%s' vs '%s'", keys[k], buf[0], buf[1]);
    /* Weights and moments: identical on the machine that wrote the fixture. Elsewhere the
     * fixture's first two steps may have been rounded differently (another BLAS kernel), and an
     * early Adam step moves a weight by up to ~lr = 2e-3 whatever the gradient's size, so two
     * steps may differ by up to 2·2·lr = 8e-3; anything larger is a real difference. */
    genc_st_file a, b;
    CHECK(genc_checkpoint_open(old, &a) == GENC_OK && genc_checkpoint_open(straight, &b) == GENC_OK, "read both");
    CHECK(a.n_tensors == b.n_tensors, "same tensors: %d vs %d", a.n_tensors, b.n_tensors);
    int exact = 1;
    for (int i = 0; i < a.n_tensors && i < b.n_tensors; i++) {
        const genc_st_tensor *x = &a.tensors[i], *y = genc_st_find(&b, x->name);
        if (!y || y->nbytes != x->nbytes) { CHECK(0, "tensor %s missing or resized", x->name); continue; }
        exact &= memcmp(x->data, y->data, x->nbytes) == 0;
        if (strncmp(x->name, "optim.", 6) == 0) continue;
        int64_t n = (int64_t)(x->nbytes / 4);
        float *p = malloc(x->nbytes), *q = malloc(x->nbytes);
        genc_st_get_f32(&a, x->name, p, n);
        genc_st_get_f32(&b, x->name, q, n);
        tu_close(x->name, p, q, n, 8e-3f, 0.f);
        free(p);
        free(q);
    }
    printf("resumed genc-1 checkpoint vs straight run: %s\n", exact ? "bit-identical" : "close (different rounding)");
    genc_st_free(&a);
    genc_st_free(&b);
    genc_lm_free(&lm);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", g_dir);
    return tu_finish();
}
