/* genc contrastive: image–text models (CLIP, SigLIP) — caption data built from labelled
 * images, the two contrastive losses. Docs: docs/data.md ("Captions"). */
#ifndef GENC_CONTRASTIVE_H
#define GENC_CONTRASTIVE_H

#include "genc/core.h"
#include "genc/data.h"
#include "genc/nn.h"
#include "genc/ops.h"
#include "genc/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- captions (captions.c)
 * A caption is a template over a class name: "a photo of a {}." with the name in lower case
 * and the article fitted to it ("an ankle boot"). Templates 0 .. GENC_CAPTION_TRAIN_TEMPLATES−1
 * caption training images; the rest are held out and only ever caption test images
 * (retrieval). Template 0 is the single template of zero-shot classification; the ensemble
 * averages over the training templates. */
#define GENC_CAPTION_TEMPLATES 8
#define GENC_CAPTION_TRAIN_TEMPLATES 6
/* Text positions of a caption: BOS, its bytes, EOS, then PAD up to this length. */
#define GENC_CAPTION_CTX 48

/* The caption of class name `name` with template k into buf (NUL-terminated); its length, or
 * GENC_ERR when k is out of range or it does not fit in cap bytes. */
int genc_caption_text(int k, const char *name, char *buf, size_t cap);
/* Text → ids[T]: BOS, the bytes, EOS, PAD...; the EOS position into *eos. GENC_ERR (with a
 * message giving the length and the limit) when the text needs more than T positions or is
 * empty. */
int genc_caption_tokens(const char *text, int T, int32_t *ids, int *eos);

/* The training batch: B images drawn with replacement from im (one rng call each) scaled to
 * [lo, hi] into x [B][C][H][W], each with a training template drawn with a second rng call;
 * ids [B][T] and eos [B] are their captions, labels [B] (may be NULL) the classes. The rng
 * counter is the data cursor. GENC_ERR when im has no labels or class names, or a caption is
 * too long for T. */
int genc_caption_batch(const genc_images *im, genc_rng *r, int B, int T, float lo, float hi, float *x,
                       int32_t *ids, int *eos, int32_t *labels);
/* The held-out pair of test image i: its template, GENC_CAPTION_TRAIN_TEMPLATES + i mod the
 * number of held-out templates (deterministic, no rng). */
int genc_caption_heldout_template(int64_t i);

/* Two-item pairs ("pairs that need reading"): two items of different classes side by side on
 * one canvas of the model's own size, captioned with both names in left-to-right meaning,
 * "a sandal to the left of a shirt." or "a shirt to the right of a sandal.". The caption with
 * the names swapped describes another picture, so only a model that reads order can tell
 * them apart. Pair templates 0 .. GENC_PAIR_TRAIN_TEMPLATES−1 are trained on, the rest
 * caption held-out test pairs only. */
#define GENC_PAIR_TEMPLATES 6
#define GENC_PAIR_TRAIN_TEMPLATES 4
/* The default share of two-item pairs in a training batch (genc train clip --pair-fraction). */
#define GENC_CLIP_PAIR_FRACTION 0.25
/* Pair caption with template k of items `left` and `right` into buf; its length or GENC_ERR. */
int genc_pair_caption_text(int k, const char *left, const char *right, char *buf, size_t cap);
/* The canvas out[C][H][W] of two images left, right [C][H][W]: each 2×2 area-averaged to
 * (H/2)×(W/2), rows centred, left in columns [0, W/2), right in [W/2, W); bg elsewhere (the
 * scaled 0 pixel, Fashion-MNIST's background). GENC_ERR when H or W < 2. */
int genc_pair_canvas(const float *left, const float *right, int C, int H, int W, float bg, float *out);
/* A training batch of B − n_pairs single items (genc_caption_batch, first) then n_pairs
 * two-item pairs: left image, right image redrawn until its class differs, a training pair
 * template (one rng call each). labels [B] (may be NULL): classes of single items, −1 for
 * pairs. */
int genc_caption_batch_mixed(const genc_images *im, genc_rng *r, int B, int n_pairs, int T, float lo, float hi,
                             float *x, int32_t *ids, int *eos, int32_t *labels);
/* Held-out pair j of test images (no rng): left image 2j, right image the first one from
 * 2j + 1 on of another class; GENC_ERR when the set runs out. Its template
 * genc_pair_heldout_template(j): the held-out pair templates in turn. */
int genc_pair_heldout(const genc_images *im, int64_t j, int64_t *left, int64_t *right);
int genc_pair_heldout_template(int64_t j);

/* ---------------------------------------------------------------- losses (loss.c)
 * x, y [B, E]: L2-normalised image and text embeddings, row i of each a matching pair.
 *
 * CLIP (Radford et al. 2021), softmax InfoNCE in both directions:
 *   logits = e^{s}·x·yᵀ,  L = ½[CE(logits, diag) + CE(logitsᵀ, diag)]
 * s [1] is the learned log inverse temperature: init ln(1/0.07), clamped to [0, ln 100]
 * after every optimizer step (genc_clip_clamp_scale). */
#define GENC_CLIP_SCALE_INIT 2.6592600f  /* ln(1/0.07) */
#define GENC_CLIP_SCALE_MAX 4.6051702f   /* ln 100 */
genc_tensor *genc_clip_loss(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *scale);
void genc_clip_clamp_scale(genc_tensor *scale);

/* SigLIP (Zhai et al. 2023), pairwise sigmoid:
 *   z_ij = e^{t}·x_i·y_j + b,  ℓ_ij = +1 on the diagonal, −1 elsewhere,
 *   L = −(1/B) Σ_i Σ_j log σ(ℓ_ij z_ij)
 * t [1] init ln 10, b [1] init −10. genc_siglip_loss works on chunk × chunk blocks of z
 * (forward and backward recompute them), never the B×B matrix; chunk <= 0 means 64. The
 * direct form builds z from ops (for tests). */
#define GENC_SIGLIP_T_INIT 2.3025851f    /* ln 10 */
#define GENC_SIGLIP_B_INIT (-10.0f)
genc_tensor *genc_siglip_loss(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *t, genc_tensor *b,
                              int chunk);
genc_tensor *genc_siglip_loss_direct(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *t,
                                     genc_tensor *b);
/* The same losses when the batch is shared over data-parallel ranks (genc/dist.h; on one
 * rank exactly genc_clip_loss and genc_siglip_loss): x, y [n, E] are this rank's rows of the
 * global batch; the value is the whole batch's loss on every rank. CLIP all-gathers the
 * embeddings; SigLIP passes text blocks around a ring of the ranks (loss_dist.c). */
genc_tensor *genc_clip_loss_ranks(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *scale);
/* This rank's rows x [n, E] (its share of the batch, genc/dist.h) → all ranks' rows [B, E] in
 * rank order; backward keeps this rank's rows, × the number of ranks (x itself on one rank). */
genc_tensor *genc_gather_rows(genc_ctx *c, genc_tensor *x);
genc_tensor *genc_siglip_loss_ranks(genc_ctx *c, genc_tensor *x, genc_tensor *y, genc_tensor *t, genc_tensor *b,
                                    int chunk);

/* ---------------------------------------------------------------- the model (model.c)
 * Two towers in one genc_params:
 *   image: x[B, C, H, W] → patchify(p) → "image.patch_emb" → [class token; patches] → pre-LN
 *          blocks with axial 2D RoPE → LN → class token → "image.proj" [E, dim] → L2-normalise
 *   text:  ids[B, T] (BOS, bytes, EOS, PAD) → token + learned position embedding → causal
 *          pre-LN blocks → LN → the EOS position → "text.proj" [E, dim] → L2-normalise
 * and "logit_scale" [1] (softmax: s; sigmoid: t), "logit_bias" [1] (sigmoid only).
 * Images are scaled to [-1, 1]. */
typedef enum genc_clip_loss_kind { GENC_CLIP_SOFTMAX = 0, GENC_CLIP_SIGMOID = 1 } genc_clip_loss_kind;
const char *genc_clip_loss_name(genc_clip_loss_kind k);
int genc_clip_loss_parse(const char *s, genc_clip_loss_kind *k);

typedef struct genc_clip_config {
    genc_clip_loss_kind loss;
    int channels, height, width;  /* images */
    int patch;                    /* ViT patch side, divides height and width */
    int dim, heads;               /* width and heads of both towers (dim/heads % 4 == 0) */
    int image_layers, text_layers;
    int embed;                    /* E: the shared embedding */
    int ctx;                      /* text positions (GENC_CAPTION_CTX) */
} genc_clip_config;

void genc_clip_config_default(genc_clip_config *cfg);   /* 28×28×1, patch 4, dim 64, ... */
int genc_clip_config_validate(const genc_clip_config *cfg);
char *genc_clip_config_to_json(const genc_clip_config *cfg);
int genc_clip_config_from_json(const char *json, genc_clip_config *cfg);
int64_t genc_clip_param_count(const genc_clip_config *cfg);

typedef struct genc_clip {
    genc_clip_config cfg;
    genc_params params;
    genc_linear_m patch_emb, image_proj, text_proj;
    genc_transformer image, text;
    genc_tensor *scale, *bias;    /* bias NULL for softmax */
} genc_clip;

int genc_clip_init(genc_clip *m, const genc_clip_config *cfg, uint64_t seed);
/* grounded = 1: every text block also gets a cross-attention sub-block over image tokens
 * (BLIP's image-grounded text encoder, include/genc/blip.h); passes without a context skip
 * them, so the text embedding is the plain tower's. grounded = 0: genc_clip_init. */
int genc_clip_init_grounded(genc_clip *m, const genc_clip_config *cfg, uint64_t seed, int grounded);
/* The two towers' transformer configurations (grounded as above). */
void genc_clip_tower_configs(const genc_clip_config *cfg, int grounded, genc_tf_config *image, genc_tf_config *text);
void genc_clip_free(genc_clip *m);
/* x[B, C, H, W] → normalised image embeddings [B, E] */
genc_tensor *genc_clip_embed_images(genc_ctx *c, genc_clip *m, genc_tensor *x);
/* The two halves of it: x → the image tower's output tokens [B, 1 + patches, dim] (class
 * token first), and tokens → the normalised embedding of their class token [B, E]. */
genc_tensor *genc_clip_image_tokens(genc_ctx *c, genc_clip *m, genc_tensor *x);
genc_tensor *genc_clip_image_embedding(genc_ctx *c, genc_clip *m, genc_tensor *tokens);
/* ids[B·ctx], eos[B] → normalised text embeddings [B, E] */
genc_tensor *genc_clip_embed_texts(genc_ctx *c, genc_clip *m, const int32_t *ids, const int *eos, int B);
/* The configured loss of a batch of pairs; clamps the softmax scale first (see model.c). */
genc_tensor *genc_clip_pair_loss(genc_ctx *c, genc_clip *m, genc_tensor *x_img, const int32_t *ids, const int *eos);

/* ---------------------------------------------------------------- training (train.c)
 * Family "clip" of the shared trainer: batches of training-split Fashion-MNIST images with
 * captions (genc_caption_batch_mixed), the configured loss, weight decay on matrices. Defaults:
 * batch 64, 1500 steps, lr 1e-3 cosine to 1e-4, warmup 100, weight decay 0.1, betas
 * (0.9, 0.98). */
void genc_clip_train_cfg_default(genc_train_cfg *t);
int genc_clip_train(const genc_clip_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                    genc_train_result *res);
/* The same with round(batch · pair_fraction) two-item pairs in each batch (genc_clip_train:
 * GENC_CLIP_PAIR_FRACTION). The fraction is saved with the run ("pair_fraction" in the train
 * metadata; a run without it had none) and a resumed run keeps its own. */
/* The training tape's bytes for a batch of B pairs, the memory check before a run: both
 * towers' activations, ~20·dim floats per token per layer, the text tower run text_passes
 * times per pair (CLIP 1, BLIP 5). */
double genc_clip_activation_bytes(const genc_clip_config *c, int B, int text_passes);
int genc_clip_train_pairs(const genc_clip_config *cfg, const genc_train_cfg *tc, double pair_fraction,
                          const genc_run_opts *run, genc_train_result *res);
/* A checkpoint (folder or file) of family "clip": the model with its weights (EMA when kept),
 * and the step. */
int genc_clip_load_file(const genc_st_file *f, genc_clip *m, int64_t *step);

/* ---------------------------------------------------------------- evaluation (eval.c)
 * Ties count against the model: a score equal to the right answer's is ranked above it. */
/* Fraction of rows of scores[n, K] whose label's score is strictly above every other. */
double genc_zero_shot_accuracy(const float *scores, int64_t n, int K, const int32_t *labels);
/* Rank (1-based) of query q's best match in scores[nc]: 1 + the number of candidates whose key
 * differs from qkey with a score >= the best score among those whose key equals qkey;
 * nc + 1 when no candidate matches. */
int64_t genc_retrieval_rank(const float *scores, int64_t nc, const int32_t *ckeys, int32_t qkey);

typedef struct genc_clip_eval_result {
    int64_t images;            /* zero-shot test images */
    double top1_single;        /* template 0 */
    double top1_ensemble;      /* mean of the training templates' normalised text embeddings */
    int64_t pairs;             /* held-out pairs (the first test images) */
    double i2t[3], t2i[3];     /* R@1, R@5, R@10 */
    double seconds;
} genc_clip_eval_result;

/* Zero-shot accuracy on the first n_images of test (all when <= 0) and retrieval on the
 * held-out pairs of its first n_pairs images: image → text among the distinct held-out
 * captions (a hit is the image's own caption), text → image among the n_pairs images (a hit
 * is an image of the caption's class: the caption names nothing else). */
int genc_clip_evaluate(genc_clip *m, const genc_images *test, int64_t n_images, int64_t n_pairs,
                       genc_clip_eval_result *r);
/* Fraction of i with s_true[i] strictly above s_swap[i] (a tie counts as wrong): how often an
 * image scores its own caption above the caption with the two names swapped. */
double genc_order_accuracy(const float *s_true, const float *s_swap, int64_t n);

typedef struct genc_clip_order_result {
    int64_t pairs;             /* held-out two-item pairs */
    double order;              /* own caption strictly above the swapped one (ties wrong) */
    double r1;                 /* image→text R@1 among all K·(K−1) ordered pairs, same template */
    double r1_unordered;       /* R@1 when either order of the two names counts as a hit */
    double seconds;
} genc_clip_order_result;
/* Held-out two-item pairs 0 .. n_pairs−1 of test (genc_pair_heldout; all it holds when <= 0)
 * on the pair canvas, each captioned with its held-out pair template. */
int genc_clip_evaluate_order(genc_clip *m, const genc_images *test, int64_t n_pairs, genc_clip_order_result *r);
/* Linear probe: softmax regression on features xtr[ntr, E] with labels in [0, K) (full batch,
 * Adam, 300 steps at 0.05, L2 1e-4), its top-1 accuracy on xte[nte, E] into *accuracy. */
int genc_linear_probe(const float *xtr, const int32_t *ytr, int64_t ntr, const float *xte, const int32_t *yte,
                      int64_t nte, int E, int K, double *accuracy);
/* Linear probe of the model's frozen image embeddings: trained on the first n_train images of
 * train, measured on the first n_test of test. */
int genc_clip_probe(genc_clip *m, const genc_images *train, int64_t n_train, const genc_images *test, int64_t n_test,
                    double *accuracy);
/* Normalised text embeddings of n texts into out[n, E] (no grad). GENC_ERR naming a text that
 * does not fit the context. */
int genc_clip_text_embeddings(genc_clip *m, const char *const *texts, int n, float *out);
/* Normalised image embeddings of images [0, n) of im (scaled to [−1, 1], as in training) into
 * out[n, E] (no grad); GENC_ERR when their size is not the model's. */
int genc_clip_image_embeddings(genc_clip *m, const genc_images *im, int64_t n, float *out);
/* Zero-shot classifier weights W[K, E] of class names over templates [t0, t1): each class the
 * normalised mean of its normalised caption embeddings. */
int genc_clip_class_weights(genc_clip *m, const char *const *names, int K, int t0, int t1, float *W);

#ifdef __cplusplus
}
#endif
#endif
