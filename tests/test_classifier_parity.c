/* Parity with PyTorch (tests/parity/classifier.py): the whole MLP, CNN and ViT, forward and
 * backward, on identical weights loaded by tensor name: logits, penultimate features, mean
 * cross-entropy and the gradient of every parameter. The cases include the default CNN and ViT
 * and smaller variants (non-square images, other group counts, patch 7, other class counts).
 *
 * Tolerances. Both sides compute in float32 with different summation orders (sgemm blocking,
 * the conv's column tiles, the attention's online softmax against PyTorch's materialised
 * one); on O(1) activations that leaves differences of a few ulps times sqrt(terms), about
 * 1e-6..1e-5 relative. Logits and features: atol 2e-5, rtol 1e-4. The loss: 1e-5 relative.
 * Gradients are sums over the batch and the pixels (a conv weight's gradient sums B·H·W = 3920
 * products), so their absolute floor is looser: atol 5e-5, rtol 5e-4. An error in any formula
 * (a wrong pooling window, a transposed patch, a missing RoPE pair, a normalisation over the
 * wrong axis) changes values at the 1e-2..1 level, far outside these bounds. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/classifier.h"

static void check_case(const genc_st_file *f, int ci) {
    char key[256];
    snprintf(key, sizeof key, "case%d.config", ci);
    const char *js = genc_st_meta(f, key);
    genc_classifier_config cfg;
    if (!js || genc_classifier_config_from_json(js, &cfg)) {
        CHECK(0, "case %d: config: %s", ci, js ? genc_error() : "missing");
        return;
    }
    genc_classifier m;
    if (genc_classifier_init(&m, &cfg, 1)) {
        CHECK(0, "case %d: init: %s", ci, genc_error());
        return;
    }
    const char *net = genc_net_name(cfg.net);
    /* the count a checkpoint's config is checked against is what init registers */
    CHECK(genc_classifier_param_count(&cfg) == genc_params_count(&m.params), "case %d (%s): param_count %lld, init %lld",
          ci, net, (long long)genc_classifier_param_count(&cfg), (long long)genc_params_count(&m.params));
    /* every genc parameter comes from the fixture, and the fixture has no parameter genc lacks */
    int n_fixture = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        snprintf(key, sizeof key, "case%d.param.", ci);
        n_fixture += strncmp(f->tensors[i].name, key, strlen(key)) == 0;
    }
    CHECK(n_fixture == m.params.n, "case %d (%s): fixture has %d parameters, genc %d", ci, net, n_fixture, m.params.n);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        snprintf(key, sizeof key, "case%d.param.%s", ci, p->name);
        if (genc_st_get_f32(f, key, p->data, p->n)) {
            CHECK(0, "case %d: %s", ci, genc_error());
            genc_classifier_free(&m);
            return;
        }
    }
    genc_ctx *c = genc_ctx_new(0);
    snprintf(key, sizeof key, "case%d.x", ci);
    genc_tensor *xt = tu_load(c, f, key, 0);
    int B = xt->shape[0];
    snprintf(key, sizeof key, "case%d.labels", ci);
    genc_tensor *lt = tu_load(c, f, key, 0);
    int32_t *labels = genc_scratch(c, sizeof(int32_t) * (size_t)B);
    for (int i = 0; i < B; i++) labels[i] = (int32_t)lt->data[i];
    genc_tensor *feats, *logits = genc_classifier_forward(c, &m, xt, &feats);
    genc_tensor *loss = genc_cross_entropy(c, logits, labels, -1, 0.f, NULL, 0.f);
    genc_backward(c, loss);

    snprintf(key, sizeof key, "case%d.logits", ci);
    tu_expect(f, key, logits, logits->data, 2e-5f, 1e-4f);
    snprintf(key, sizeof key, "case%d.features", ci);
    tu_expect(f, key, feats, feats->data, 2e-5f, 1e-4f);
    snprintf(key, sizeof key, "case%d.loss", ci);
    tu_expect(f, key, loss, loss->data, 1e-6f, 1e-5f);
    snprintf(key, sizeof key, "case%d.", ci);
    tu_expect_grads(f, key, &m.params, 5e-5f, 5e-4f);

    /* the no-grad features API runs the same ops in the same order: identical features */
    float *fa = malloc(sizeof(float) * (size_t)feats->n);
    CHECK(genc_classifier_features(&m, xt->data, B, fa) == GENC_OK, "features: %s", genc_error());
    CHECK(memcmp(fa, feats->data, sizeof(float) * (size_t)feats->n) == 0,
          "case %d (%s): genc_classifier_features differs from the training graph's features", ci, net);
    free(fa);
    genc_ctx_free(c);
    genc_classifier_free(&m);
}

int main(void) {
    genc_st_file f;
    if (tu_fixture("classifier.py", "classifier_fixture.safetensors", &f)) return tu_finish();
    int n = tu_cases(&f, 5);
    for (int i = 0; i < n; i++) check_case(&f, i);
    genc_st_free(&f);
    return tu_finish();
}
