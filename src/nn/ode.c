/* Fixed-step classical Runge–Kutta:
 *   k1 = f(t, y), k2 = f(t + h/2, y + h/2·k1), k3 = f(t + h/2, y + h/2·k2), k4 = f(t + h, y + h·k3)
 *   y ← y + h/6·(k1 + 2k2 + 2k3 + k4). */
#include "genc/ode.h"

#include <stdlib.h>
#include <string.h>

int genc_ode_rk4(genc_ode_fn f, void *user, double t0, double t1, int steps, double *y, int64_t n) {
    if (steps < 1) return genc_set_error("ode: %d steps", steps);
    double *k = genc_aligned_alloc(sizeof(double) * (size_t)n * 5);
    if (!k) return GENC_ERR;
    double *k1 = k, *k2 = k + n, *k3 = k + 2 * n, *k4 = k + 3 * n, *yt = k + 4 * n;
    double h = (t1 - t0) / steps;
    int rc = GENC_OK;
    for (int s = 0; s < steps && rc == GENC_OK; s++) {
        double t = t0 + s * h;
        if ((rc = f(user, t, y, k1, n))) break;
        for (int64_t i = 0; i < n; i++) yt[i] = y[i] + 0.5 * h * k1[i];
        if ((rc = f(user, t + 0.5 * h, yt, k2, n))) break;
        for (int64_t i = 0; i < n; i++) yt[i] = y[i] + 0.5 * h * k2[i];
        if ((rc = f(user, t + 0.5 * h, yt, k3, n))) break;
        for (int64_t i = 0; i < n; i++) yt[i] = y[i] + h * k3[i];
        if ((rc = f(user, t + h, yt, k4, n))) break;
        for (int64_t i = 0; i < n; i++) y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
    genc_aligned_free(k);
    return rc;
}
