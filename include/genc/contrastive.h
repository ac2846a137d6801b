/* genc contrastive: image–text models (CLIP, SigLIP) — caption data built from labelled
 * images, the two contrastive losses. Docs: docs/data.md ("Captions"). */
#ifndef GENC_CONTRASTIVE_H
#define GENC_CONTRASTIVE_H

#include "genc/core.h"
#include "genc/data.h"
#include "genc/ops.h"

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

#ifdef __cplusplus
}
#endif
#endif
