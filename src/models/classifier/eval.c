/* Test-set evaluation of a classifier: accuracy, mean cross-entropy and the confusion matrix. */
#include "genc/classifier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void genc_classifier_eval_result_free(genc_classifier_eval_result *r) {
    free(r->confusion);
    memset(r, 0, sizeof *r);
}

double genc_classifier_class_accuracy(const genc_classifier_eval_result *r, int k) {
    int64_t row = 0;
    for (int j = 0; j < r->classes; j++) row += r->confusion[(int64_t)k * r->classes + j];
    return row ? (double)r->confusion[(int64_t)k * r->classes + k] / (double)row : NAN;
}

int genc_classifier_evaluate(genc_classifier *m, const genc_images *im, int batch, genc_classifier_eval_result *r) {
    const genc_classifier_config *cfg = &m->cfg;
    int K = cfg->classes;
    memset(r, 0, sizeof *r);
    if (genc_classifier_check_images(cfg, im, 1)) return GENC_ERR;
    if (batch < 1) batch = 1;
    int64_t pix = (int64_t)cfg->channels * cfg->height * cfg->width;
    r->classes = K;
    r->confusion = calloc((size_t)K * K, sizeof(int64_t));
    genc_ctx *c = genc_ctx_new(0);
    float *x = genc_aligned_alloc(sizeof(float) * (size_t)(batch * pix));
    int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
    if (!r->confusion || !c || !x || !y) {
        genc_ctx_free(c);
        genc_aligned_free(x);
        free(y);
        genc_classifier_eval_result_free(r);
        return genc_set_error("out of memory for the evaluation in batches of %d images", batch);
    }
    genc_no_grad(c);
    double t0 = genc_time_s(), nll = 0;
    for (int64_t i = 0; i < im->n; i += batch) {
        int b = (int)genc_images_get(im, i, batch, GENC_CLASSIFIER_LO, GENC_CLASSIFIER_HI, x, y);
        genc_ctx_reset(c);
        genc_tensor *xt = genc_wrap(c, x, 4, (int[]){b, cfg->channels, cfg->height, cfg->width});
        genc_tensor *logits = genc_classifier_forward(c, m, xt, NULL);
        float *rows = genc_scratch(c, sizeof(float) * (size_t)b);
        genc_nll_rows(logits, y, rows);
        for (int j = 0; j < b; j++) {
            const float *l = logits->data + (int64_t)j * K;
            int best = 0;
            for (int k = 1; k < K; k++)
                if (l[k] > l[best]) best = k;
            r->confusion[(int64_t)y[j] * K + best]++;
            r->correct += best == y[j];
            nll += rows[j];
        }
    }
    r->n = im->n;
    r->accuracy = im->n ? (double)r->correct / (double)im->n : NAN;
    r->loss = im->n ? nll / (double)im->n : NAN;
    r->seconds = genc_time_s() - t0;
    genc_ctx_free(c);
    genc_aligned_free(x);
    free(y);
    return GENC_OK;
}
