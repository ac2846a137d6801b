/* Sample statistics: the mean and standard error of a hand-worked set; the energy distance of
 * two hand-worked point sets (1D: x = {0, 1}, y = {3}·2 → 2·mean|x − y| − |0 − 1| − 0 =
 * 2·2.5 − 1 = 4); near 0 for two samples of one distribution (the U-statistic's mean is
 * exactly 0 and its standard deviation at n = 400 is about 0.005 for 2D unit Gaussians, so
 * |E| < 0.05 is ten of them); and clearly positive for a shift of (0.5, 0.5): the population
 * value 2(E‖Z_δ‖ − E‖Z_0‖), Z_δ ~ N(δ, 2I), is 0.218 by the Rice mean, so E > 0.1. */
#include "genc/stats.h"
#include "testutil.h"

#include <stdlib.h>

int main(void) {
    const double v[4] = {1, 2, 3, 6};
    double se, m = genc_mean_se(v, 4, &se);
    CHECK(fabs(m - 3) < 1e-12, "mean %g", m);
    CHECK(fabs(se - sqrt(14.0 / 3 / 4)) < 1e-12, "se %g", se);
    const float x[2] = {0, 1}, y[2] = {3, 3};
    double e = genc_energy_distance(x, 2, y, 2, 1);
    CHECK(fabs(e - 4) < 1e-9, "hand-worked energy distance %g, want 4", e);
    enum { n = 400 };
    float *a = malloc(sizeof(float) * n * 2), *b = malloc(sizeof(float) * n * 2);
    genc_rng r = genc_rng_make(1, 0);
    genc_rng_fill_normal(&r, a, n * 2, 0, 1);
    genc_rng_fill_normal(&r, b, n * 2, 0, 1);
    double e0 = genc_energy_distance(a, n, b, n, 2);
    CHECK(fabs(e0) < 0.05, "same distribution: energy distance %g", e0);
    for (int i = 0; i < n * 2; i++) b[i] += 0.5f;
    double e1 = genc_energy_distance(a, n, b, n, 2);
    CHECK(e1 > 0.1, "shifted by 0.5: energy distance %g", e1);
    CHECK(isnan(genc_energy_distance(a, 1, b, n, 2)), "one point: NaN");
    free(a);
    free(b);
    return tu_finish();
}
