/* The composable backbone outside of PyTorch parity (tests/test_blocks_parity.c has that):
 *  - two towers under the prefixes "image" and "text" share one genc_params and one
 *    checkpoint, and a checkpoint of them loads back into freshly built towers;
 *  - the configuration JSON: every new field round-trips, the legacy "time_cond" key reads as
 *    cond = add, and hostile values (out of range, not integers, too many parameters,
 *    contradictions) are refused with a message, never undefined behaviour;
 *  - a decoder with cross-attention (BLIP's captioner) decodes with the KV cache exactly as a
 *    full forward pass does;
 *  - a model without vocabulary (an image tower) has no token embedding and no head. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/nn.h"

static void small(genc_tf_config *c) {
    genc_tf_config_default(c);
    c->dim = 16, c->layers = 2, c->heads = 2, c->max_pos = 32;
}

/* A ViT-like tower and a text tower built into one genc_params under two prefixes. */
static void two_towers(genc_params *ps, genc_transformer *img, genc_transformer *txt, uint64_t seed) {
    genc_tf_config ic, tc;
    small(&ic);
    ic.vocab = 0, ic.causal = 0, ic.pos = GENC_POS_LEARNED2D, ic.grid_h = 2, ic.grid_w = 3, ic.cls_token = 1;
    small(&tc);
    tc.pos = GENC_POS_LEARNED, tc.cross_attn = 1, tc.ctx_dim = 16;
    genc_rng r = genc_tf_init_rng(seed);
    memset(img, 0, sizeof *img);
    memset(txt, 0, sizeof *txt);
    CHECK(genc_tf_build(img, ps, "image", &ic, &r) == GENC_OK, "image tower: %s", genc_error());
    CHECK(genc_tf_build(txt, ps, "text", &tc, &r) == GENC_OK, "text tower: %s", genc_error());
}

static void prefixes(void) {
    genc_params ps;
    genc_params_init(&ps);
    genc_transformer img, txt;
    two_towers(&ps, &img, &txt, 1);
    int n_img = 0, n_txt = 0, dup = 0;
    for (int i = 0; i < ps.n; i++) {
        n_img += strncmp(ps.list[i]->name, "image.", 6) == 0;
        n_txt += strncmp(ps.list[i]->name, "text.", 5) == 0;
        for (int j = 0; j < i; j++) dup += strcmp(ps.list[i]->name, ps.list[j]->name) == 0;
    }
    CHECK(n_img + n_txt == ps.n && n_img > 0 && n_txt > 0 && !dup,
          "every name under its tower's prefix, no duplicates");
    CHECK(genc_params_find(&ps, "image.cls_token") && genc_params_find(&ps, "image.pos_emb.row.weight") &&
              genc_params_find(&ps, "text.tok_emb.weight") && genc_params_find(&ps, "text.blocks.1.xattn.k.weight") &&
              genc_params_find(&ps, "text.head.weight") && !genc_params_find(&ps, "image.tok_emb.weight"),
          "expected names");
    CHECK(img.tok_emb == NULL && img.head.W == NULL, "no vocabulary: no token embedding, no head");
    CHECK(img.params.n == 0 && txt.params.n == 0, "towers built into a shared genc_params own none");

    const char *path = "blocks_two_towers.safetensors";
    genc_st_kv meta[] = {{"format", "test"}};
    CHECK(genc_checkpoint_save(path, &ps, NULL, NULL, meta, 1) == GENC_OK, "save: %s", genc_error());
    genc_params ps2;
    genc_params_init(&ps2);
    genc_transformer img2, txt2;
    two_towers(&ps2, &img2, &txt2, 2); /* other initial values */
    genc_st_file f;
    CHECK(genc_st_read(path, &f) == GENC_OK && genc_checkpoint_load_params(&f, &ps2, NULL, NULL) == GENC_OK, "load: %s",
          genc_error());
    int same = ps.n == ps2.n;
    for (int i = 0; same && i < ps.n; i++)
        same = ps.list[i]->n == ps2.list[i]->n &&
               memcmp(ps.list[i]->data, ps2.list[i]->data, sizeof(float) * (size_t)ps.list[i]->n) == 0;
    CHECK(same, "both towers come back from one checkpoint");
    genc_st_free(&f);
    remove(path);
    genc_transformer_free(&img);
    genc_transformer_free(&txt);
    genc_transformer_free(&img2);
    genc_transformer_free(&txt2);
    genc_params_free(&ps);
    genc_params_free(&ps2);

    char buf[16];
    CHECK(genc_param_name(buf, sizeof buf, "", "w") == GENC_OK && strcmp(buf, "w") == 0, "empty prefix");
    CHECK(genc_param_name(buf, sizeof buf, "a", "w") == GENC_OK && strcmp(buf, "a.w") == 0, "prefix");
    CHECK(genc_param_name(buf, sizeof buf, "a_long_prefix", "weight") == GENC_ERR,
          "a name that does not fit is an error");
}

static void json_roundtrip(void) {
    genc_tf_config a, b;
    small(&a);
    a.vocab = 0, a.cross_attn = 1, a.ctx_dim = 24, a.cond = GENC_COND_ADALN, a.cond_dim = 8, a.cls_token = 1;
    a.pos = GENC_POS_ROPE2D_HALF, a.grid_h = 3, a.grid_w = 5, a.heads = 1;
    char *js = genc_tf_config_to_json(&a);
    CHECK(genc_tf_config_from_json(js, &b) == GENC_OK, "round trip: %s", genc_error());
    CHECK(b.vocab == 0 && b.cross_attn == 1 && b.ctx_dim == 24 && b.cond == GENC_COND_ADALN && b.cond_dim == 8 &&
              b.cls_token == 1 && b.pos == GENC_POS_ROPE2D_HALF && b.grid_h == 3 && b.grid_w == 5,
          "new fields survive JSON: %s", js);
    free(js);
}

/* The keys every LM checkpoint has; the cases add or override one. */
#define LM_KEYS "\"vocab\":260,\"dim\":16,\"layers\":1,\"heads\":2"

static void json_cases(void) {
    genc_tf_config c;
    CHECK(genc_tf_config_from_json("{" LM_KEYS ",\"time_cond\":true}", &c) == GENC_OK && c.cond == GENC_COND_ADD,
          "legacy time_cond reads as cond = add");
    CHECK(genc_tf_config_from_json("{" LM_KEYS ",\"time_cond\":false}", &c) == GENC_OK && c.cond == GENC_COND_NONE,
          "legacy time_cond false");
    CHECK(genc_tf_config_from_json("{" LM_KEYS ",\"time_cond\":true,\"cond\":\"add\"}", &c) == GENC_OK,
          "legacy key agreeing with cond");
    static const char *bad[] = {
        "{" LM_KEYS ",\"time_cond\":true,\"cond\":\"adaln\"}", /* contradiction */
        "{" LM_KEYS ",\"cond\":\"film\"}",
        "{\"vocab\":260,\"dim\":1e30,\"layers\":1,\"heads\":2}", /* beyond int: no UB cast */
        "{\"vocab\":260,\"dim\":-1e300,\"layers\":1,\"heads\":2}",
        "{\"vocab\":260,\"dim\":16.5,\"layers\":1,\"heads\":2}",
        "{\"vocab\":260,\"dim\":\"16\",\"layers\":1,\"heads\":2}",
        "{" LM_KEYS ",\"grid_h\":-1}",
        "{" LM_KEYS ",\"grid_w\":100000}",
        "{" LM_KEYS ",\"pos\":\"rope2d\"}",                            /* no grid */
        "{" LM_KEYS ",\"pos\":\"learned2d\",\"grid_h\":3}",
        "{\"vocab\":260,\"dim\":24,\"layers\":1,\"heads\":4,\"pos\":\"rope2d\",\"grid_h\":2,\"grid_w\":2}", /* dh 6 */
        "{" LM_KEYS ",\"pos\":\"rope2d\",\"grid_h\":2,\"grid_w\":2,\"rope_scaling\":\"ntk\",\"rope_factor\":2}",
        "{\"vocab\":0,\"dim\":16,\"layers\":1,\"heads\":2,\"tie_embeddings\":true}",
        "{\"vocab\":1,\"dim\":16,\"layers\":1,\"heads\":2}",
        "{" LM_KEYS ",\"cond\":\"add\",\"cond_dim\":8}",
        "{" LM_KEYS ",\"cond_dim\":70000}",
        "{" LM_KEYS ",\"ctx_dim\":-3}",
        "{" LM_KEYS ",\"cross_attn\":2}",
        "{" LM_KEYS ",\"mlp_hidden\":2000000}",
        "{\"vocab\":260,\"dim\":16384,\"layers\":256,\"heads\":16}", /* 8e11 parameters */
        "{\"vocab\":1048576,\"dim\":16384,\"layers\":1,\"heads\":16}",
        "{" LM_KEYS ",\"t5_buckets\":100000,\"pos\":\"t5\"}",
        "{" LM_KEYS ",\"norm_eps\":1e300}",
        "{" LM_KEYS ",\"rope_base\":1e300}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = genc_tf_config_from_json(bad[i], &c);
        CHECK(rc == GENC_ERR && genc_error()[0], "refused: %s", bad[i]);
        if (rc == GENC_ERR) printf("  %s\n    -> %s\n", bad[i], genc_error());
    }
    CHECK(genc_tf_config_from_json("{" LM_KEYS ",\"pos\":\"rope2d\",\"grid_h\":2,\"grid_w\":2}", &c) == GENC_OK,
          "2D RoPE with a grid and head dim 8: %s", genc_error());
}

/* A causal decoder with cross-attention to a fixed context (an image-grounded captioner):
 * incremental decoding with the KV cache (the context projected once, at the first pass) equals one
 * full forward pass. Tolerance as in test_kv_cache: the same float32 products in another
 * grouping. */
static void cross_attn_cache(void) {
    genc_tf_config cfg;
    small(&cfg);
    cfg.cross_attn = 1, cfg.ctx_dim = 12, cfg.pos = GENC_POS_ROPE;
    genc_transformer m;
    CHECK(genc_transformer_init(&m, &cfg, 4) == GENC_OK, "init: %s", genc_error());
    enum { B = 2, T = 9, S = 5, P = 3 };
    int V = cfg.vocab;
    genc_ctx *c = genc_ctx_new(0);
    genc_no_grad(c);
    genc_tensor *ctx = genc_new3(c, B, S, 12);
    tu_randn(ctx->data, ctx->n, 5, 1.f);
    uint8_t ctx_pad[B * S] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    int32_t ids[B * T], step[B * T];
    genc_rng r = genc_rng_make(6, 0);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)genc_rng_below(&r, 256);
    genc_tf_run full = {0};
    full.ctx = ctx;
    full.ctx_pad = ctx_pad;
    genc_tensor *ref = genc_transformer_forward(c, &m, ids, B, T, &full);
    genc_kv_cache kv;
    genc_kv_cache_init(&kv, &m, B, T);
    float *inc = malloc(sizeof(float) * B * T * V);
    for (int t0 = 0; t0 < T;) {
        int n = t0 == 0 ? P : 1;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < n; j++) step[b * n + j] = ids[b * T + t0 + j];
        genc_tf_run run = full;
        run.cache = &kv;
        genc_tensor *lg = genc_transformer_forward(c, &m, step, B, n, &run);
        for (int b = 0; b < B; b++)
            memcpy(inc + ((size_t)b * T + t0) * V, lg->data + (size_t)b * n * V, sizeof(float) * n * V);
        t0 += n;
    }
    tu_close("cross-attention decoder: KV cache = full pass", inc, ref->data, (int64_t)B * T * V, 1e-5f, 1e-4f);
    /* the context matters: without its padding the logits move */
    full.ctx_pad = NULL;
    genc_tensor *unpadded = genc_transformer_forward(c, &m, ids, B, T, &full);
    float worst = 0;
    for (int64_t i = 0; i < ref->n; i++) worst = fmaxf(worst, fabsf(unpadded->data[i] - ref->data[i]));
    CHECK(worst > 1e-3f, "context padding changes the logits (by %g)", worst);
    free(inc);
    genc_kv_cache_free(&kv);
    genc_ctx_free(c);
    genc_transformer_free(&m);
}

int main(void) {
    prefixes();
    json_roundtrip();
    json_cases();
    cross_attn_cache();
    return tu_finish();
}
