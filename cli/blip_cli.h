/* The BLIP family's command-line handlers: cli/blip.c (train, eval, info, the FAMILIES entry),
 * cli/caption.c (genc caption) and cli/capfilt.c (genc capfilt). */
#ifndef GENC_BLIP_CLI_H
#define GENC_BLIP_CLI_H

#include "cli.h"
#include "genc/blip.h"

/* BLIP's model flags (the towers' flags of genc train clip, --label-smoothing) into the
 * genc_blip_config *state; --loss is refused. */
int blip_flag(args *a, void *state);
/* A usage error (returns 2) when cfg is not a valid BLIP configuration, else 0. */
int blip_check_config(const genc_blip_config *cfg);
/* --beam K, --top-p P, --seed S into o (1 if consumed); says which of the first two was given. */
int caption_flag(args *a, genc_caption_opts *o, int *beam_given, int *top_p_given);

int cmd_caption(int argc, char **argv);
int cmd_capfilt(int argc, char **argv);

#endif
