/* Learning tests: each net, trained for seconds on one core on the first 5 000 Fashion-MNIST
 * training images, must classify the first 1 000 test images better than a stated threshold.
 *
 * Basis of the thresholds. Chance is 10%. Multinomial logistic regression on the same 5 000
 * images (fitted to convergence with L-BFGS, its L2 weight picked on these very 1 000 test
 * images, so an optimistic figure) reaches 0.828 (bench/classifier_logreg.py, PyTorch). The thresholds were fixed from that level before the nets were run:
 *   cnn 0.83  a conv net must at least match the tuned linear model after ~4 epochs;
 *   mlp 0.80  a ReLU MLP after ~4 epochs, untuned: within 3 points of the linear model;
 *   vit 0.78  a 2-block ViT on 16 patches has no convolutional prior and learns more slowly
 *             from 5 000 images: within 5 points of the linear model. (At 300 steps it
 *             reached 0.739; its budget was doubled to 600 steps, the threshold kept.)
 * Measured at this commit (OMP_NUM_THREADS=1): mlp 0.841, cnn 0.856, vit 0.801 — margins of
 * 0.041, 0.026 and 0.021. The run is deterministic (fixed seeds, thread-count independent
 * sums), so the margin is not eaten by noise from run to run. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "genc/classifier.h"

#define N_TRAIN 5000
#define N_TEST 1000
#define BATCH 64

static double train_and_test(genc_classifier_config *cfg, int steps, float lr, const genc_images *train, const genc_images *test,
                             double *seconds) {
    *seconds = 0;
    genc_classifier m;
    if (genc_classifier_init(&m, cfg, 1)) {
        CHECK(0, "init: %s", genc_error());
        return 0;
    }
    genc_adamw opt;
    genc_adamw_init(&opt, &m.params, 0.9f, 0.999f, 1e-8f, 0.05f);
    genc_lr_schedule sched = {GENC_LR_COSINE, lr, lr / 20, steps / 10, steps};
    genc_ctx *c = genc_ctx_new(0);
    c->training = 1;
    int64_t pix = (int64_t)cfg->channels * cfg->height * cfg->width;
    float *x = malloc(sizeof(float) * (size_t)(BATCH * pix));
    int32_t *y = malloc(sizeof(int32_t) * BATCH);
    genc_rng r = genc_rng_make(1, 1);
    double t0 = genc_time_s();
    for (int s = 0; s < steps; s++) {
        genc_images_batch(train, &r, BATCH, GENC_CLASSIFIER_LO, GENC_CLASSIFIER_HI, x, y);
        genc_ctx_reset(c);
        genc_tensor *xt = genc_wrap(c, x, 4, (int[]){BATCH, cfg->channels, cfg->height, cfg->width});
        genc_tensor *loss = genc_classifier_loss(c, &m, xt, y);
        if (genc_optim_step(c, loss, &opt, genc_lr_at(&sched, s), 1.f, NULL)) {
            CHECK(0, "%s step %d: %s", genc_net_name(cfg->net), s, genc_error());
            break;
        }
    }
    genc_classifier_eval_result res;
    double acc = 0;
    if (genc_classifier_evaluate(&m, test, 250, &res) == GENC_OK) {
        acc = res.accuracy;
        CHECK(res.n == N_TEST, "evaluated %lld images", (long long)res.n);
        int64_t sum = 0;
        for (int i = 0; i < res.classes * res.classes; i++) sum += res.confusion[i];
        CHECK(sum == N_TEST, "the confusion matrix counts %lld images", (long long)sum);
        genc_classifier_eval_result_free(&res);
    } else {
        CHECK(0, "evaluate: %s", genc_error());
    }
    *seconds = genc_time_s() - t0;
    free(x);
    free(y);
    genc_ctx_free(c);
    genc_adamw_free(&opt);
    genc_classifier_free(&m);
    return acc;
}

int main(void) {
    genc_images train, test;
    if (genc_images_load("fashion-mnist", GENC_SPLIT_TRAIN, &train) ||
        genc_images_load("fashion-mnist", GENC_SPLIT_TEST, &test)) {
        CHECK(0, "Fashion-MNIST (Debian's dataset-fashion-mnist): %s", genc_error());
        return tu_finish();
    }
    genc_images tr = train, te = test; /* views of the first images */
    tr.n = N_TRAIN;
    te.n = N_TEST;
    struct {
        genc_net_kind net;
        int steps;
        float lr, threshold;
    } cases[] = {{GENC_NET_MLP, 300, 2e-3f, 0.80f}, {GENC_NET_CNN, 300, 3e-3f, 0.83f}, {GENC_NET_VIT, 600, 2e-3f, 0.78f}};
    for (int i = 0; i < 3; i++) {
        genc_classifier_config cfg;
        genc_classifier_config_default(&cfg, cases[i].net);
        /* smaller than the defaults so each run takes seconds on one core */
        cfg.n_conv = 2, cfg.conv[0] = 16, cfg.conv[1] = 32, cfg.groups = 4, cfg.fc = 64;
        cfg.patch = 7, cfg.dim = 48, cfg.layers = 2, cfg.heads = 4, cfg.mlp_hidden = 96;
        double sec, acc = train_and_test(&cfg, cases[i].steps, cases[i].lr, &tr, &te, &sec);
        printf("%s: test accuracy %.3f on %d images after %d steps of %d on %d images (%.1f s), threshold %.2f\n",
               genc_net_name(cases[i].net), acc, N_TEST, cases[i].steps, BATCH, N_TRAIN, sec, cases[i].threshold);
        CHECK(acc > cases[i].threshold, "%s: accuracy %.3f not above %.2f", genc_net_name(cases[i].net), acc,
              cases[i].threshold);
    }
    genc_images_free(&train);
    genc_images_free(&test);
    return tu_finish();
}
