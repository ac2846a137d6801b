/* genc blip: BLIP (Li et al. 2022, "BLIP: Bootstrapping Language-Image Pre-training") on the
 * image–text towers of genc/contrastive.h — image–text contrast (ITC), image–text matching
 * with hard negatives (ITM), an image-grounded caption decoder (LM), captioning by nucleus
 * sampling or beam search, and the CapFilt bootstrap. Docs: docs/image-text.md ("BLIP"). */
#ifndef GENC_BLIP_H
#define GENC_BLIP_H

#include "genc/contrastive.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- the model (blip_model.c)
 * One genc_params, three uses of one text transformer:
 *   image:  the CLIP image tower (ViT, "image.*") → tokens [B, S, dim], S = 1 + patches, and
 *           the normalised class-token embedding ("image.proj")
 *   text encoder ("text.*"): the CLIP text tower with a cross-attention sub-block in every
 *           block. Without a context it is the unimodal encoder of ITC (EOS → "text.proj");
 *           with the image tokens as context it is the image-grounded encoder of ITM (EOS →
 *           "itm_head" [2, dim]: logit 1 = "matched").
 *   decoder ("decoder.*"): causal, cross-attending to the image tokens, predicting the next
 *           byte (head tied to the token embedding). It shares every tensor of the text
 *           encoder except the self-attention (ln1, attn.q/k/v/o of every block): BLIP's
 *           sharing, built with genc_tf_build_shared.
 * Differences from the paper, for a CPU in minutes: the text encoder is CLIP's causal tower
 * read at EOS (BLIP's is bidirectional BERT read at [CLS]), the same BOS starts all three
 * text modes, and there is no momentum encoder or queue. */
typedef struct genc_blip_config {
    genc_clip_config clip;   /* the towers; clip.loss is softmax (ITC is CLIP's InfoNCE) */
    float label_smoothing;   /* of the LM loss: 0.1 */
} genc_blip_config;

void genc_blip_config_default(genc_blip_config *cfg);  /* the CLIP defaults, smoothing 0.1 */
int genc_blip_config_validate(const genc_blip_config *cfg);
/* The CLIP config's keys plus "label_smoothing" (caller frees). */
char *genc_blip_config_to_json(const genc_blip_config *cfg);
int genc_blip_config_from_json(const char *json, genc_blip_config *cfg);
int64_t genc_blip_param_count(const genc_blip_config *cfg);

typedef struct genc_blip {
    genc_blip_config cfg;
    genc_clip base;            /* image tower, grounded text encoder, projections, temperature;
                                  base.params holds every tensor of the model */
    genc_transformer decoder;  /* "decoder.*": its own self-attention, the rest shared */
    genc_linear_m itm_head;    /* "itm_head" [2, dim] + bias */
} genc_blip;

int genc_blip_init(genc_blip *m, const genc_blip_config *cfg, uint64_t seed);
void genc_blip_free(genc_blip *m);

/* Image-grounded encoder: ids[n·ctx] with eos[n], each attending to image tokens ctx[n, S, dim]
 * → the ITM logits [n, 2]. */
genc_tensor *genc_blip_itm_logits(genc_ctx *c, genc_blip *m, genc_tensor *ctx, const int32_t *ids, const int *eos,
                                  int n);
/* Decoder: ids[B·T] attending to image tokens ctx[B, S, dim] → next-token logits [B·T, vocab]
 * (T <= ctx; with a KV cache, T new tokens after the cached ones). */
genc_tensor *genc_blip_lm_logits(genc_ctx *c, genc_blip *m, genc_tensor *ctx, const int32_t *ids, int B, int T,
                                 genc_kv_cache *cache);

/* ---------------------------------------------------------------- the loss (blip_loss.c)
 * ITM's hard negatives (BLIP §3.2): for row i of sim [B, B] (similarities of image i to the B
 * texts; pass the transpose for texts), a column j drawn with probability softmax(sim[i, :])
 * restricted to the columns that are not a positive of row i. A positive is j = i and, when
 * keys is given, any j with keys[j] == keys[i] (the class the caption names: two captions of
 * one class both match the image, and teaching ITM that one of them does not would teach it
 * noise). Restricting, rather than zeroing a probability, means a positive can never be
 * drawn, whatever the scores (ties, −inf, NaN). neg[i] = −1 when row i has no candidate
 * (B = 1, or one class in the whole batch). Returns the number of rows with a negative. */
int genc_blip_hard_negatives(const float *sim, int B, const int32_t *keys, genc_rng *r, int *neg);

typedef struct genc_blip_losses {
    float itc, itm, lm;        /* the three terms of the last loss */
    int itm_pairs;             /* pairs ITM scored: B positives + the negatives found */
} genc_blip_losses;

/* ITC + ITM + LM of a batch: images x[B, C, H, W] (scaled to [-1, 1]), captions ids[B·ctx]
 * with eos[B], keys[B] as for genc_blip_hard_negatives (may be NULL); r draws the
 * negatives. LM: cross-entropy with label smoothing of the bytes and EOS after BOS (PAD
 * ignored). parts may be NULL. */
genc_tensor *genc_blip_loss(genc_ctx *c, genc_blip *m, genc_tensor *x, const int32_t *ids, const int *eos,
                            const int32_t *keys, genc_rng *r, genc_blip_losses *parts);

/* ---------------------------------------------------------------- captions (blip_caption.c)
 * Decoding from BOS until EOS or ctx − 2 bytes, over the 256 byte tokens and EOS only.
 *   beam = 0: nucleus sampling (Holtzman et al. 2020): sample from the smallest set of tokens
 *             whose probabilities add up to top_p, renormalised; image i draws from stream
 *             (seed, i), so a caption does not depend on the batch it is decoded in;
 *   beam >= 1: beam search of that width; finished captions ranked by log-probability / length
 *             (beam 1 is greedy decoding).
 * The decoder reads the image tokens' keys and values from the KV cache after the first
 * step (genc_kv_cache). */
typedef struct genc_caption_opts {
    int beam;                  /* 0: nucleus */
    float top_p;               /* (0, 1]: 0.9 */
    uint64_t seed;
} genc_caption_opts;

/* Captions of n images x[n, C, H, W] (scaled to [-1, 1]) into out[n] (NUL-terminated
 * strings, free each with free()). first is the index of image 0 for the sampling streams. */
int genc_blip_caption(genc_blip *m, const float *x, int n, int64_t first, const genc_caption_opts *o, char **out);
/* The class a caption names: the one of names[K] found in it as a word, case-insensitive,
 * bounded by characters other than letters, digits, '-' and '/' ("shirt" is not found in
 * "t-shirt/top"); a name found only because a longer one containing it is ("boot" in "ankle
 * boot") does not count. −1 when no name or several are found. */
int genc_caption_class(const char *text, const char *const *names, int K);

/* ---------------------------------------------------------------- evaluation (blip_eval.c) */
typedef struct genc_blip_eval_result {
    genc_clip_eval_result itc; /* zero-shot and retrieval through the unimodal encoders */
    int rerank_k;              /* 0: no re-ranking */
    double top1_itm;           /* zero-shot top-1 after re-ranking ITC's top k by ITM */
    int64_t captioned;         /* images captioned */
    double caption_accuracy;   /* fraction whose caption names their class (and no other) */
    double seconds;
} genc_blip_eval_result;

/* ITC zero-shot and retrieval on the first n_images of test (genc_clip_evaluate); with
 * rerank_k >= 2, each image's top rerank_k classes (template ensemble) re-scored by ITM's
 * p(matched) of "a photo of a {name}."; caption accuracy on the first n_caption images
 * (0: none) with o. */
int genc_blip_evaluate(genc_blip *m, const genc_images *test, int64_t n_images, int64_t n_pairs, int rerank_k,
                       int64_t n_caption, const genc_caption_opts *o, genc_blip_eval_result *r);
/* ITM's probability that caption ids (eos) matches image x[C, H, W] (scaled), for n pairs of
 * images x[n, ...] and captions, into p[n]. */
int genc_blip_match_prob(genc_blip *m, const float *x, const int32_t *ids, const int *eos, int n, float *p);

/* ---------------------------------------------------------------- pair sets (blip_pairs.c)
 * A fixed list of (image, caption) pairs: what CapFilt corrupts, captions and filters, and
 * what its models train on. */
typedef struct genc_pair_set {
    const genc_images *im;     /* the images (not owned) */
    int64_t n, cap;
    int ctx;                   /* text positions of every caption */
    int64_t *image;            /* [n] index into im */
    int32_t *ids;              /* [n, ctx] BOS, bytes, EOS, PAD... */
    int *eos;                  /* [n] */
    int32_t *named;            /* [n] the class the caption names (genc_caption_class), −1 none */
    uint8_t *wrong;            /* [n] 1: the caption does not name the image's class */
    uint8_t *synthetic;        /* [n] 1: written by the captioner */
} genc_pair_set;

void genc_pair_set_init(genc_pair_set *s, const genc_images *im, int ctx);
void genc_pair_set_free(genc_pair_set *s);
/* Append (image, text); GENC_ERR when the text does not fit ctx. */
int genc_pair_set_add(genc_pair_set *s, int64_t image, const char *text, int synthetic);
/* Append pair i of src as it is (dst->ctx == src->ctx). */
int genc_pair_set_copy(genc_pair_set *dst, const genc_pair_set *src, int64_t i);
/* The first n training images, each with a training template drawn by r; exactly
 * round(corrupt·n) of them, chosen by r, name another class (uniform over the other K − 1). */
int genc_pair_set_noisy(genc_pair_set *s, int64_t n, double corrupt, genc_rng *r);
/* B pairs drawn with replacement (one r call each): images into x [B, C, H, W] scaled to
 * [lo, hi], captions into ids [B, ctx] and eos [B], the named classes into keys [B]. */
void genc_pair_set_batch(const genc_pair_set *s, genc_rng *r, int B, float lo, float hi, float *x, int32_t *ids,
                         int *eos, int32_t *keys);

/* ---------------------------------------------------------------- training (blip_train.c)
 * Family "blip" of the shared trainer. Data: fresh captioned training batches of Fashion-MNIST
 * (genc_caption_batch, keys = the labels), or a pair set. Defaults: batch 32, 800 steps, lr
 * 2e-3 cosine to 2e-4, warmup 50, weight decay 0.05, betas (0.9, 0.98). */
void genc_blip_train_cfg_default(genc_train_cfg *t);
/* pairs NULL: fresh captions. A resumed run (run->resume) is one with fresh captions. */
int genc_blip_train(const genc_blip_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                    const genc_pair_set *pairs, genc_train_result *res);
/* A CLIP model (family "clip") trained on a pair set with the shared trainer. */
int genc_clip_train_set(const genc_clip_config *cfg, const genc_train_cfg *tc, const genc_run_opts *run,
                        const genc_pair_set *pairs, genc_train_result *res);
/* A checkpoint of family "blip": the model with its weights (EMA when kept), and the step. */
int genc_blip_load_file(const genc_st_file *f, genc_blip *m, int64_t *step);

/* ---------------------------------------------------------------- CapFilt (blip_capfilt.c)
 * BLIP §3.3 on a training set with known noise: n training images, a fraction corrupt of
 * their captions naming a wrong class. A BLIP model trained on that noisy set is the
 * captioner (one nucleus-sampled caption per image) and the filter (ITM p(matched) >=
 * threshold keeps a pair), applied to the original and the synthetic captions alike. Two CLIP
 * models of equal size and steps are then trained, on the noisy set and on the cleaned one,
 * and compared by zero-shot accuracy. (The paper fine-tunes the captioner and the filter
 * from the pre-trained model on clean data; there is none here, so both are the model
 * itself.) */
typedef struct genc_capfilt_opts {
    int64_t images;            /* training images: 10000 */
    double corrupt;            /* fraction of wrong captions: 0.3 */
    genc_blip_config blip;
    genc_train_cfg blip_train; /* the BLIP run */
    genc_train_cfg clip_train; /* each CLIP run */
    genc_clip_config clip;
    float threshold;           /* ITM p(matched) a pair needs to be kept: 1/3 (blip_capfilt.c) */
    genc_caption_opts caption; /* nucleus, top_p 0.9 */
    int64_t test_images;       /* zero-shot test images: 10000 */
    const char *out_dir;       /* runs go to out_dir/{blip,clip-noisy,clip-clean} */
    double minutes;            /* > 0: the BLIP run and each CLIP run get 0.5, 0.25, 0.25 of it */
    void (*message)(const char *line, void *user);
    void (*progress)(const genc_train_progress *p, void *user);
    void *user;
} genc_capfilt_opts;

typedef struct genc_capfilt_result {
    int64_t original, corrupted;        /* pairs in the noisy set, and how many are wrong */
    int64_t removed_corrupted;          /* wrong originals the filter removed */
    int64_t kept_clean;                 /* right originals it kept */
    int64_t synthetic, synthetic_wrong; /* captions written; how many name a wrong class */
    int64_t synthetic_kept, synthetic_kept_wrong;
    int64_t cleaned;                    /* pairs in the cleaned set */
    double zero_shot_noisy, zero_shot_clean; /* ensemble top-1 of the two CLIP models */
    double blip_minutes, total_minutes;
} genc_capfilt_result;

void genc_capfilt_opts_default(genc_capfilt_opts *o);
int genc_capfilt(const genc_capfilt_opts *o, genc_capfilt_result *r);

#ifdef __cplusplus
}
#endif
#endif
