/* The lm family's command-line handlers, split over lm.c (train, info, the FAMILIES entry),
 * lm_eval.c and lm_sample.c. */
#ifndef GENC_LM_CLI_H
#define GENC_LM_CLI_H

#include "cli.h"
#include "genc/lm.h"

extern const char LM_EVAL_HELP[], LM_SAMPLE_HELP[];
int lm_eval(genc_st_file *f, const char *path, int argc, char **argv);
int lm_sample(genc_st_file *f, const char *path, int argc, char **argv);
/* The model in an opened checkpoint, then f is freed; says on stderr when the weights are the
 * EMA ones. Prints the error and returns 1 on failure. */
int lm_open(genc_st_file *f, const char *path, genc_lm *lm);
/* Show lm's evaluation or sampling progress as "[bar] done/total WHAT elapsed, ETA" when
 * stderr is a terminal (redrawn at most 5 times a second); end it with progress_end(). what
 * must outlive the run. */
void lm_show_progress(genc_lm *lm, const char *what);

#endif
