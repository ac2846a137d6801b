/* The diffusion family at the command line (cli/diffusion*.c). */
#ifndef GENC_DIFFUSION_CLI_H
#define GENC_DIFFUSION_CLI_H

#include "cli.h"
#include "genc/diffusion.h"

extern const char DIFFUSION_SAMPLE_HELP[];
extern const char DIFFUSION_EVAL_HELP[];
int diffusion_sample(genc_st_file *f, const char *path, int argc, char **argv);
int diffusion_eval(genc_st_file *f, const char *path, int argc, char **argv);
/* Load the model of an opened checkpoint (f is freed); prints the error and returns 1. */
int diffusion_open(genc_st_file *f, const char *path, genc_dmodel *m, genc_dm_train_cfg *tc);

/* Sampling shared by sample and eval: n examples with sampler o over the model's grid. */
typedef struct dm_sample_req {
    genc_sampler_opts o;
    genc_dgrid grid;
    int steps;
    double shift;
    float cfg;
    int cls;                    /* requested class, −1: cycle through the classes (conditional
                                   models) or none */
    uint64_t seed;
    int no_clip;                /* image models: do not clamp the denoised estimate to [−1, 1] */
} dm_sample_req;

/* Usage problems of a request for this model (GENC_ERR with the reason). */
int dm_sample_check(const genc_dmodel *m, const dm_sample_req *q, int cfg_given, int class_given);
int dm_sample_run(genc_dmodel *m, const dm_sample_req *q, int64_t n, float *x, int32_t *labels);
genc_sampler_kind dm_default_sampler(genc_dproc p);

#endif
