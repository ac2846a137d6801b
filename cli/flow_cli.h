/* The flow family's command-line handlers, split over flow.c (train, eval, info, the FAMILIES
 * entry), flow_sample.c and flow_codec.c (the encode and decode verbs). */
#ifndef GENC_FLOW_CLI_H
#define GENC_FLOW_CLI_H

#include "cli.h"
#include "genc/flows.h"

extern const char FLOW_SAMPLE_HELP[];
int flow_sample(genc_st_file *f, const char *path, int argc, char **argv);
/* The flow in an opened checkpoint, then f is freed. Prints the error and returns 1 on failure. */
int flow_open(genc_st_file *f, const char *path, genc_flow *flow);
/* Latents [n·D] of n images given as pixel values [n·D] (each pixel at the centre of its
 * dequantisation bin, so decoding gives the same pixels back), and the inverse. */
int flow_encode_pixels(genc_flow *flow, const float *pix, int64_t n, float *z);
int flow_decode_latents(genc_flow *flow, const float *z, int64_t n, float *pix);
/* genc encode / genc decode */
int cmd_encode(int argc, char **argv);
int cmd_decode(int argc, char **argv);

#endif
