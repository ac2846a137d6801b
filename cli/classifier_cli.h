/* The classifier family's command-line handlers, split over classifier.c (train, info, the
 * FAMILIES entry), classifier_eval.c (eval and the classify verb) and classifier_bench.c. */
#ifndef GENC_CLASSIFIER_CLI_H
#define GENC_CLASSIFIER_CLI_H

#include "cli.h"
#include "genc/classifier.h"

extern const char CLASSIFIER_EVAL_HELP[];
int classifier_eval(genc_st_file *f, const char *path, int argc, char **argv);
/* genc classify DIR --image FILE.png and genc bench classifier */
int cmd_classify(int argc, char **argv);
int classifier_bench(int argc, char **argv);
/* genc classify of an image-text checkpoint (cli/clip_classify.c) */
int clip_classify(int argc, char **argv);
/* A PNG as the input image x[C·H·W] of an image-text model (converted as for classify). */
struct genc_clip;
/* The image-text model's own train flags (--loss, --patch, --dim, ...) into the
 * genc_clip_config *state (cli/clip.c; BLIP's towers take them too). */
int clip_flag(args *a, void *state);
/* genc embed DIR (cli/clip_embed.c) */
int cmd_embed(int argc, char **argv);
/* genc bench clip (cli/clip_bench.c) */
int clip_bench(int argc, char **argv);
/* The timed loop of both benches (cli/bench_steps.c): warm + steps training steps of
 * loss_fn(c, self) with clipping at 1 and AdamW at 1e-4, timed after the warm-up; prints the
 * error and returns 1 when a step fails. bench_report prints the line (and the JSON line
 * {"<unit>_per_s", "ms_per_step", "forward_ms", "backward_ms", "params", "threads", "config"}). */
typedef genc_tensor *(*bench_loss_fn)(genc_ctx *c, void *self);
typedef struct bench_times {
    double step_ms, forward_ms, backward_ms, per_s;
} bench_times;
int bench_steps(genc_ctx *c, genc_adamw *opt, bench_loss_fn loss_fn, void *self, int B, int warm, int steps,
                bench_times *t);
void bench_report(const char *what, int64_t params, int B, const char *unit, const bench_times *t, int json,
                  const char *config_json);
int clip_picture(const struct genc_clip *m, const char *path, int invert, float *x, int *inverted);
/* The model in an opened checkpoint (EMA weights when kept), then f is freed; says on stderr
 * when the weights are the EMA ones. Prints the error and returns 1 on failure. */
int classifier_open(genc_st_file *f, const char *path, genc_classifier *m, genc_classifier_info *info);

#endif
