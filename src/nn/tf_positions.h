/* Internal to src/nn: the absolute positions of one transformer pass, shared by the embed
 * stage (absolute encodings) and the blocks (RoPE tables). */
#ifndef GENC_NN_TF_POSITIONS_H
#define GENC_NN_TF_POSITIONS_H

#include "genc/nn.h"

/* pos[t] for the T tokens of this pass: run->pos[t] if given, else offset + t with offset the
 * KV cache length (decoding) or run->pos_offset. Arena memory. */
static inline int *genc_tf_positions(genc_ctx *c, const genc_tf_run *run, int T) {
    int offset = run->cache ? run->cache->len : run->pos_offset;
    int *pos = genc_scratch(c, sizeof(int) * (size_t)T);
    for (int t = 0; t < T; t++) pos[t] = run->pos ? run->pos[t] : offset + t;
    return pos;
}

#endif
