/* SEDD sampler sanity on small untrained models (absorbing and uniform; Euler and τ-leaping):
 * after the final denoising step no MASK (or PAD) is left, BOS and the prompt are unchanged,
 * genc_lm_sample returns the generated part of the canvas, cut at the first EOS when asked,
 * and the same seed gives the same text. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/lm.h"
#include "models/lm/sedd.h"

static void make_model(genc_lm *lm, genc_lm_objective obj, float eos_boost) {
    genc_tf_config cfg;
    genc_tf_config_default(&cfg);
    cfg.dim = 32;
    cfg.layers = 1;
    cfg.heads = 2;
    cfg.causal = 0;
    cfg.cond = GENC_COND_ADD;
    cfg.rope.trained_len = 64;
    memset(lm, 0, sizeof *lm);
    genc_lm_train_cfg_default(&lm->train);
    lm->train.objective = obj;
    CHECK(genc_lm_model_init(lm, &cfg, 7) == GENC_OK, "init");
    if (eos_boost != 0) { /* ln_f bias 1 makes Σ_d h_d = dim, so the EOS output is eos_boost·dim */
        genc_param_fill(lm->model.ln_f.b, 1.f);
        float *w = lm->model.head.W->data + (size_t)GENC_TOK_EOS * cfg.dim;
        for (int d = 0; d < cfg.dim; d++) w[d] = eos_boost;
    }
}

static void run(genc_lm_objective obj, genc_dsampler sampler) {
    const char *prompt = "Hi there";
    int plen = (int)strlen(prompt), L = 24, n = 3, total = 1 + plen + L;
    char name[64];
    snprintf(name, sizeof name, "%s/%s", genc_objective_name(obj), genc_sampler_name(sampler));
    genc_lm lm;
    make_model(&lm, obj, 0.f);
    genc_lm_sample_opts o = {L, n, 1.0f, 0, 0.9f, 5, 0, 8, 0, GENC_REMASK_LOW_CONFIDENCE, 0.f, sampler};
    int32_t *canvas = malloc(sizeof(int32_t) * n * total), *again = malloc(sizeof(int32_t) * n * total);
    CHECK(genc_sedd_sample_canvas(&lm, prompt, &o, canvas) == GENC_OK, "%s: sample: %s", name, genc_error());
    int bad = 0, prompt_ok = 1;
    for (int b = 0; b < n; b++) {
        const int32_t *row = canvas + (size_t)b * total;
        prompt_ok &= row[0] == GENC_TOK_BOS;
        for (int i = 0; i < plen; i++) prompt_ok &= row[1 + i] == (uint8_t)prompt[i];
        for (int i = 1 + plen; i < total; i++) bad += !genc_sedd_is_state(row[i]);
    }
    CHECK(bad == 0, "%s: %d MASK/PAD tokens left after the final denoising step", name, bad);
    CHECK(prompt_ok, "%s: BOS and the prompt are unchanged", name);
    CHECK(genc_sedd_sample_canvas(&lm, prompt, &o, again) == GENC_OK &&
              memcmp(canvas, again, sizeof(int32_t) * n * total) == 0, "%s: same seed, same canvas", name);
    /* the public entry point: the generated part, all of it without stop_at_eos */
    int32_t *out[3];
    int n_out[3];
    CHECK(genc_lm_sample(&lm, prompt, &o, out, n_out) == GENC_OK, "%s: genc_lm_sample: %s", name, genc_error());
    for (int b = 0; b < n; b++) {
        CHECK(n_out[b] == L && memcmp(out[b], canvas + (size_t)b * total + 1 + plen, sizeof(int32_t) * L) == 0,
              "%s: sample %d is the canvas's generated part", name, b);
        free(out[b]);
    }
    /* greedy final step */
    o.temperature = 0;
    CHECK(genc_sedd_sample_canvas(&lm, prompt, &o, canvas) == GENC_OK, "%s: greedy", name);
    genc_lm_free(&lm);

    /* stop at EOS: a model that likes EOS (~1 in 8 positions) */
    make_model(&lm, obj, 0.12f);
    o.temperature = 1;
    o.stop_at_eos = 1;
    CHECK(genc_sedd_sample_canvas(&lm, prompt, &o, canvas) == GENC_OK, "%s: eos canvas", name);
    CHECK(genc_lm_sample(&lm, prompt, &o, out, n_out) == GENC_OK, "%s: eos sample", name);
    int cut = 0;
    for (int b = 0; b < n; b++) {
        const int32_t *gen = canvas + (size_t)b * total + 1 + plen;
        int first = L;
        for (int i = 0; i < L; i++)
            if (gen[i] == GENC_TOK_EOS) { first = i; break; }
        cut += first < L;
        CHECK(n_out[b] == first && memcmp(out[b], gen, sizeof(int32_t) * first) == 0,
              "%s: sample %d cut at its first EOS (%d, got %d)", name, b, first, n_out[b]);
        free(out[b]);
    }
    CHECK(cut > 0, "%s: the EOS-loving model produced an EOS (%d of %d samples)", name, cut, n);
    genc_lm_free(&lm);
    free(canvas);
    free(again);
}

int main(void) {
    genc_lm_objective objs[2] = {GENC_OBJ_SEDD_ABSORB, GENC_OBJ_SEDD_UNIFORM};
    genc_dsampler samplers[3] = {GENC_SAMPLER_DEFAULT, GENC_SAMPLER_EULER, GENC_SAMPLER_TAU_LEAPING};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) run(objs[i], samplers[j]);
    /* options SEDD does not take */
    genc_lm lm;
    make_model(&lm, GENC_OBJ_SEDD_ABSORB, 0.f);
    int32_t *out[1];
    int n_out[1];
    genc_lm_sample_opts o = {8, 1, 1.0f, 0, 1.0f, 5, 1, 4, 0, GENC_REMASK_LOW_CONFIDENCE, 0.f, GENC_SAMPLER_LLADA};
    CHECK(genc_lm_sample(&lm, "", &o, out, n_out) == GENC_ERR, "llada sampler rejected for SEDD");
    o.sampler = GENC_SAMPLER_DEFAULT;
    o.block = 4;
    CHECK(genc_lm_sample(&lm, "", &o, out, n_out) == GENC_ERR, "--block rejected: %s", genc_error());
    genc_lm_free(&lm);
    return tu_finish();
}
