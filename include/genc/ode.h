/* genc ode: a fixed-step ODE integrator for any family that follows a flow (probability-flow
 * likelihoods of diffusion models, continuous normalizing flows). */
#ifndef GENC_ODE_H
#define GENC_ODE_H

#include "genc/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* dy/dt = f(t, y) for a state y[n]: f fills dy[n] and returns GENC_OK (or GENC_ERR to stop). */
typedef int (*genc_ode_fn)(void *user, double t, const double *y, double *dy, int64_t n);

/* Classical fourth-order Runge–Kutta (Kutta 1901) from t0 to t1 in `steps` equal steps,
 * updating y in place; t1 < t0 integrates backwards. Global error O(h⁴). GENC_ERR when f
 * fails or memory runs out. */
int genc_ode_rk4(genc_ode_fn f, void *user, double t0, double t1, int steps, double *y, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
