/* genc image classifier: an MLP, a small CNN or a patch ViT over IDX images (Fashion-MNIST by
 * default), trained with the shared training loop. Besides `genc eval` and `genc classify`,
 * other families use a trained classifier as a feature extractor (the diffusion family's
 * Fréchet distance in its penultimate-layer space).
 *
 * Inputs are images [B, C, H, W] scaled to [-1, 1]: x = 2·pixel/255 − 1 (docs/classifier.md). */
#ifndef GENC_CLASSIFIER_H
#define GENC_CLASSIFIER_H

#include "genc/data.h"
#include "genc/io.h"
#include "genc/nn.h"
#include "genc/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The input range: pixel 0 → LO, 255 → HI. */
#define GENC_CLASSIFIER_LO (-1.f)
#define GENC_CLASSIFIER_HI 1.f

typedef enum genc_net_kind {
    GENC_NET_MLP = 0,   /* flatten → hidden → hidden → classes, ReLU */
    GENC_NET_CNN,       /* (conv3×3 → GroupNorm → ReLU → 2×2 avg pool) per stage → fc → ReLU → head */
    GENC_NET_VIT,       /* p×p patches → linear → [class token; patches] → pre-LN blocks with axial
                           2D RoPE → LayerNorm → head on the class token */
    GENC_NET_COUNT
} genc_net_kind;

const char *genc_net_name(genc_net_kind k);
int genc_net_parse(const char *s, genc_net_kind *k);     /* GENC_ERR on an unknown name */

#define GENC_CLS_MAX_STAGES 4

typedef struct genc_classifier_config {
    genc_net_kind net;
    int channels, height, width;   /* input images */
    int classes;
    int hidden;                    /* mlp: width of both hidden layers */
    int n_conv;                    /* cnn: stages; each halves the height and width */
    int conv[GENC_CLS_MAX_STAGES]; /* cnn: output channels of each stage */
    int groups;                    /* cnn: GroupNorm groups (divides every stage's channels) */
    int fc;                        /* cnn: penultimate width (the feature size) */
    int patch;                     /* vit: patch side p (divides height and width) */
    int dim, layers, heads;        /* vit: width, blocks, heads (dim/heads divisible by 4) */
    int mlp_hidden;                /* vit: MLP width of a block */
    float norm_eps;                /* GroupNorm and LayerNorm epsilon */
} genc_classifier_config;

/* Defaults for 28×28 gray images and 10 classes with the given net. */
void genc_classifier_config_default(genc_classifier_config *cfg, genc_net_kind net);
/* Every field within its documented range, sizes consistent (patch divides the image, groups
 * divide the channels, ...) and the parameter count below 2^28: a GENC_ERR naming the field. */
int genc_classifier_config_validate(const genc_classifier_config *cfg);
char *genc_classifier_config_to_json(const genc_classifier_config *cfg);   /* caller frees */
int genc_classifier_config_from_json(const char *json, genc_classifier_config *cfg);  /* validates */
/* Parameters a config would create, computed in int64 (also for configs that do not validate). */
int64_t genc_classifier_param_count(const genc_classifier_config *cfg);
/* Size F of the features (the penultimate layer): hidden, fc or dim. */
int genc_classifier_feature_dim(const genc_classifier_config *cfg);

typedef struct genc_cls_stage {
    genc_tensor *conv_w, *conv_b;  /* [out, in, 3, 3], [out] */
    genc_tensor *norm_w, *norm_b;  /* [out] */
} genc_cls_stage;

typedef struct genc_classifier {
    genc_classifier_config cfg;
    genc_params params;
    genc_linear_m fc1, fc2;                    /* mlp */
    genc_cls_stage stages[GENC_CLS_MAX_STAGES];/* cnn */
    genc_linear_m fc;                          /* cnn */
    genc_linear_m patch_emb;                   /* vit */
    genc_transformer vit;                      /* vit: the shared backbone, built into params */
    genc_linear_m head;                        /* all: [classes, F] */
} genc_classifier;

/* Build and initialise: He normal N(0, 2/fan_in) for ReLU layers (mlp, cnn), N(0, 0.02) for the
 * ViT (residual projections scaled by 1/sqrt(2·layers)), biases 0, norm gains 1. */
int genc_classifier_init(genc_classifier *m, const genc_classifier_config *cfg, uint64_t seed);
void genc_classifier_free(genc_classifier *m);

/* x [B, C, H, W] in [-1, 1] → logits [B, classes]. When features is not NULL it receives the
 * penultimate activations [B, F] (part of the same graph). */
genc_tensor *genc_classifier_forward(genc_ctx *c, genc_classifier *m, genc_tensor *x, genc_tensor **features);
/* Mean cross-entropy of the logits of x against labels[B] (each in [0, classes)). */
genc_tensor *genc_classifier_loss(genc_ctx *c, genc_classifier *m, genc_tensor *x, const int32_t *labels);

/* Features for other families: images x[B·C·H·W] in [-1, 1] → out[B·F], no grad, in batches
 * of at most 256 on an internal context. GENC_ERR (out of memory) only. */
int genc_classifier_features(genc_classifier *m, const float *x, int64_t B, float *out);
/* Class probabilities (softmax of the logits) of images x → probs[B·classes], no grad. */
int genc_classifier_probs(genc_classifier *m, const float *x, int64_t B, float *probs);

/* The images fit the model: same channels, height and width, and (when need_labels) labelled
 * with every label in [0, classes). GENC_ERR saying what differs. */
int genc_classifier_check_images(const genc_classifier_config *cfg, const genc_images *im, int need_labels);

/* ---------------------------------------------------------------- pictures (image.c) */
/* A picture (genc_png_read: gray or RGB, alpha already on white) → one input image out[C·H·W]:
 * genc_image_resize to the model's channels and size (centred crop to its aspect ratio, area
 * average), inverted to a dark background (invert < 0: when the border ring of the resized
 * picture is brighter than mid-gray; 0 never; 1 always; the choice goes to *inverted, may be
 * NULL), scaled to [-1, 1]. GENC_ERR saying why for a picture more than 16 times longer one
 * way than the other (its centre crop would not show one object). */
int genc_classifier_picture_input(const genc_classifier_config *cfg, const genc_image *pic, int invert, float *out,
                                  int *inverted);

/* ---------------------------------------------------------------- evaluation (eval.c) */
typedef struct genc_classifier_eval_result {
    int classes;
    int64_t n;                /* images evaluated */
    int64_t correct;
    double accuracy;          /* correct / n */
    double loss;              /* mean cross-entropy, nats */
    int64_t *confusion;       /* [classes · classes], row = true class, column = predicted */
    double seconds;
} genc_classifier_eval_result;

/* Accuracy, mean loss and the confusion matrix over the labelled images im (checked with
 * genc_classifier_check_images), batch images per forward pass. */
int genc_classifier_evaluate(genc_classifier *m, const genc_images *im, int batch, genc_classifier_eval_result *r);
void genc_classifier_eval_result_free(genc_classifier_eval_result *r);
/* Accuracy of true class k: confusion[k][k] / Σ_j confusion[k][j] (NAN when the class is absent). */
double genc_classifier_class_accuracy(const genc_classifier_eval_result *r, int k);

/* ---------------------------------------------------------------- training and checkpoints (train.c) */
typedef struct genc_classifier_train_cfg {
    char data[1024];          /* "fashion-mnist" or an IDX images file (genc_images_load) */
    genc_train_cfg common;    /* batch, steps, schedule, AdamW, clipping, seed, EMA */
} genc_classifier_train_cfg;

/* Batch 64, 3000 steps, warmup 100, lr 2e-3 cosine to lr/10, weight decay 0.05, betas
 * (0.9, 0.999), clip 1, data fashion-mnist. */
void genc_classifier_train_cfg_default(genc_classifier_train_cfg *t);

/* What a checkpoint says besides the weights. */
typedef struct genc_classifier_info {
    genc_classifier_train_cfg train;
    int64_t step;             /* optimizer steps the weights were trained for */
    int ema_weights;          /* 1: the loaded weights are the checkpoint's EMA */
    char **class_names;       /* [n_names] from the metadata "class_names", or NULL */
    int n_names;
} genc_classifier_info;

void genc_classifier_info_free(genc_classifier_info *info);
/* Class k's name, or its number as text when the checkpoint has no names. */
const char *genc_classifier_class_name(const genc_classifier_info *info, int k, char *buf, size_t cap);

/* The model a checkpoint describes (family "classifier", config validated, its parameter count
 * equal to the file's, checked before anything is allocated), weights not loaded. */
int genc_classifier_from_file(const genc_st_file *f, genc_classifier *m, genc_classifier_info *info);
/* from_file, then the weights: the EMA weights when the file has them. info may be NULL. */
int genc_classifier_load_file(const genc_st_file *f, genc_classifier *m, genc_classifier_info *info);
/* The same from a run folder or file (what other families call). */
int genc_classifier_load(const char *dir_or_file, genc_classifier *m, genc_classifier_info *info);

/* Activation memory of one training step on B images, estimated (bytes), for the preflight. */
double genc_classifier_activation_bytes(const genc_classifier_config *cfg, int B);

/* Train a new classifier (cfg's net and sizes; channels, height, width and classes come from
 * the data) or resume the run in run->out_dir (tc->common.steps > 0 replaces the schedule
 * length). res (may be NULL) says where it stopped and why. */
int genc_classifier_train(const genc_classifier_config *cfg, const genc_classifier_train_cfg *tc,
                          const genc_run_opts *run, genc_train_result *res);

#ifdef __cplusplus
}
#endif
#endif
