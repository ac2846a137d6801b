/* Parity with PyTorch (tests/parity/clip.py, model in tests/parity/clip_ref.py): the whole
 * image-text model, both towers, forward and backward, on identical weights loaded by tensor
 * name: the image and text embeddings, the loss (softmax in one case, sigmoid in the other) and
 * the gradient of every parameter, the temperature and the sigmoid bias included.
 *
 * Tolerances. Both sides compute in float32 with different summation orders (sgemm blocking,
 * the fused attention's online softmax against PyTorch's materialised one, the blocked
 * sigmoid loss against the direct B×B form); on O(1) activations that leaves differences of
 * a few ulps times sqrt(terms), about 1e-6..1e-5 relative. Embeddings: atol 2e-5, rtol 1e-4.
 * The loss: 1e-5 relative. Gradients sum over the batch and the tokens (a patch embedding's
 * gradient sums B·49 patches; the temperature's sums B² logits), so: atol 5e-5, rtol 5e-4, as
 * for the classifier's parity. A wrong formula (a transposed patch, a missing RoPE pair, a
 * non-causal text mask, pooling at the wrong position) moves values at the 1e-2..1 level. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/contrastive.h"

static void check_case(const genc_st_file *f, int ci) {
    char key[256];
    snprintf(key, sizeof key, "case%d.config", ci);
    const char *js = genc_st_meta(f, key);
    genc_clip_config cfg;
    genc_clip m;
    if (!js || genc_clip_config_from_json(js, &cfg) || genc_clip_init(&m, &cfg, 1)) {
        CHECK(0, "case %d: config: %s", ci, js ? genc_error() : "missing");
        return;
    }
    int n_fixture = 0;
    snprintf(key, sizeof key, "case%d.param.", ci);
    size_t kl = strlen(key);
    for (int i = 0; i < f->n_tensors; i++) n_fixture += strncmp(f->tensors[i].name, key, kl) == 0;
    CHECK(n_fixture == m.params.n, "case %d: fixture has %d parameters, genc %d", ci, n_fixture, m.params.n);
    for (int i = 0; i < m.params.n; i++) {
        genc_tensor *p = m.params.list[i];
        snprintf(key, sizeof key, "case%d.param.%s", ci, p->name);
        if (genc_st_get_f32(f, key, p->data, p->n)) {
            CHECK(0, "case %d: %s", ci, genc_error());
            genc_clip_free(&m);
            return;
        }
    }
    genc_ctx *c = genc_ctx_new(0);
    snprintf(key, sizeof key, "case%d.x", ci);
    genc_tensor *x = tu_load(c, f, key, 0);
    int B = x->shape[0], T = cfg.ctx;
    snprintf(key, sizeof key, "case%d.ids", ci);
    genc_tensor *it = tu_load(c, f, key, 0);
    snprintf(key, sizeof key, "case%d.eos", ci);
    genc_tensor *et = tu_load(c, f, key, 0);
    int32_t *ids = genc_scratch(c, sizeof(int32_t) * (size_t)B * T);
    int *eos = genc_scratch(c, sizeof(int) * (size_t)B);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)it->data[i];
    for (int i = 0; i < B; i++) eos[i] = (int)et->data[i];
    genc_tensor *u = genc_clip_embed_images(c, &m, x), *v = genc_clip_embed_texts(c, &m, ids, eos, B);
    snprintf(key, sizeof key, "case%d.image_emb", ci);
    tu_expect(f, key, u, u->data, 2e-5f, 1e-4f);
    snprintf(key, sizeof key, "case%d.text_emb", ci);
    tu_expect(f, key, v, v->data, 2e-5f, 1e-4f);
    genc_tensor *loss = genc_clip_pair_loss(c, &m, x, ids, eos);
    genc_backward(c, loss);
    snprintf(key, sizeof key, "case%d.loss", ci);
    tu_expect(f, key, loss, loss->data, 1e-6f, 1e-5f);
    snprintf(key, sizeof key, "case%d.", ci);
    tu_expect_grads(f, key, &m.params, 5e-5f, 5e-4f);
    genc_ctx_free(c);
    genc_clip_free(&m);
}

int main(void) {
    genc_st_file f;
    if (tu_fixture("clip.py", "clip_fixture.safetensors", &f)) return tu_finish();
    int n = tu_cases(&f, 2);
    for (int i = 0; i < n; i++) check_case(&f, i);
    genc_st_free(&f);
    return tu_finish();
}
