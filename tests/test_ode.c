/* RK4 against closed forms: y' = −y·t (y = e^(−t²/2)) and the harmonic oscillator
 * (y1, y2)' = (y2, −y1) over a full period, forwards and backwards. Fourth order: halving the
 * step divides the error by 2⁴ = 16 (observed order in [3.6, 4.4]: an O(h⁵) remainder at
 * these steps moves it by a few percent, a third-order bug would give 3). At h = 0.1 the
 * error is 1.3e-6; a bound of 1e-5 still fails a wrong stage weight (error ~1e-3). */
#include "genc/ode.h"
#include "testutil.h"

static int decay(void *u, double t, const double *y, double *dy, int64_t n) {
    (void)u;
    for (int64_t i = 0; i < n; i++) dy[i] = -t * y[i];
    return GENC_OK;
}

static int osc(void *u, double t, const double *y, double *dy, int64_t n) {
    (void)u, (void)t, (void)n;
    dy[0] = y[1];
    dy[1] = -y[0];
    return GENC_OK;
}

static int fails(void *u, double t, const double *y, double *dy, int64_t n) {
    (void)u, (void)t, (void)y, (void)dy, (void)n;
    return genc_set_error("stop");
}

int main(void) {
    double e[2];
    for (int k = 0; k < 2; k++) {
        double y = 1;
        genc_ode_rk4(decay, NULL, 0, 2, 10 << k, &y, 1);
        e[k] = fabs(y - exp(-2.0));
    }
    double p = log2(e[0] / e[1]);
    CHECK(p > 3.6 && p < 4.4, "decay: observed order %.2f", p);
    CHECK(e[1] < 1e-5, "decay: error %.3g at 20 steps", e[1]);
    double y[2] = {1, 0};
    genc_ode_rk4(osc, NULL, 0, 2 * M_PI, 200, y, 2);
    CHECK(fabs(y[0] - 1) < 1e-7 && fabs(y[1]) < 1e-7, "oscillator after a period: %g %g", y[0], y[1]);
    genc_ode_rk4(osc, NULL, 2 * M_PI, 0, 200, y, 2);    /* and back */
    CHECK(fabs(y[0] - 1) < 1e-7 && fabs(y[1]) < 1e-7, "oscillator backwards: %g %g", y[0], y[1]);
    double z = 1;
    CHECK(genc_ode_rk4(fails, NULL, 0, 1, 4, &z, 1) == GENC_ERR && z == 1, "a failing f stops the integrator");
    CHECK(genc_ode_rk4(decay, NULL, 0, 1, 0, &z, 1) == GENC_ERR, "zero steps refused");
    return tu_finish();
}
