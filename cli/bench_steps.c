/* The timed loop of genc bench classifier and genc bench clip: warm-up steps, then timed
 * training steps (the family's loss, backward, clipping at 1, AdamW at 1e-4), and the report
 * (one line, and with --json a machine-readable last line). */
#include "classifier_cli.h"

#include <stdio.h>

int bench_steps(genc_ctx *c, genc_adamw *opt, bench_loss_fn loss_fn, void *self, int B, int warm, int steps,
                bench_times *t) {
    double t0 = 0, fwd = 0, bwd = 0;
    for (int s = 0; s < warm + steps; s++) {
        if (s == warm) t0 = genc_time_s();
        double ta = genc_time_s();
        genc_ctx_reset(c);
        genc_tensor *loss = loss_fn(c, self);
        double tb = genc_time_s();
        if (genc_optim_step(c, loss, opt, 1e-4f, 1.0f, NULL)) return runtime_error("step %d: %s", s, genc_error());
        if (s >= warm) {
            fwd += tb - ta;
            bwd += genc_time_s() - tb;
        }
    }
    double el = genc_time_s() - t0;
    *t = (bench_times){1e3 * el / steps, 1e3 * fwd / steps, 1e3 * bwd / steps, (double)steps * B / el};
    return 0;
}

void bench_report(const char *what, int64_t params, int B, const char *unit, const bench_times *t, int json,
                  const char *config_json) {
    printf("genc: %s, %lld params, batch %d, threads %d: %.1f ms/step (forward %.1f, backward+adamw %.1f), %.0f %s/s\n",
           what, (long long)params, B, genc_get_threads(), t->step_ms, t->forward_ms, t->backward_ms, t->per_s, unit);
    if (json)
        printf("{\"%s_per_s\": %.1f, \"ms_per_step\": %.3f, \"forward_ms\": %.3f, \"backward_ms\": %.3f, "
               "\"params\": %lld, \"threads\": %d, \"config\": %s}\n",
               unit, t->per_s, t->step_ms, t->forward_ms, t->backward_ms, (long long)params, genc_get_threads(),
               config_json);
}
