/* Learning test for sedd-uniform: the test of test_sedd_learn.c with the uniform process, more
 * steps and a higher learning rate (it learns more slowly: any token may be corrupted, and the
 * model must find which). A separate executable so each stays within a few seconds. */
#include "genc/lm.h"
#define SEDD_LEARN_OBJ GENC_OBJ_SEDD_UNIFORM
#define SEDD_LEARN_STEPS 600
#define SEDD_LEARN_LR 5e-3f
#include "test_sedd_learn.c"
