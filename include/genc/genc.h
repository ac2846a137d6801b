/* genc: everything. Include this, link with `pkg-config --libs genc`. */
#ifndef GENC_GENC_H
#define GENC_GENC_H
#include "genc/core.h"
#include "genc/data.h"
#include "genc/diffusion.h"
#include "genc/io.h"
#include "genc/lm.h"
#include "genc/nn.h"
#include "genc/ode.h"
#include "genc/ops.h"
#include "genc/stats.h"
#include "genc/train.h"
#endif
