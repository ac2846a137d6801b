/* 2D toy distributions: names, sampling, the closed-form densities and the entropies.
 *
 * Sampling: point i of a call uses the two Philox blocks counter + 2i and counter + 2i + 1
 * (eight 32-bit words, as uniforms in (0, 1)); the counter then advances by 2n. So a sample
 * is a function of (seed, stream, counter) only, the same with any number of threads. */
#include "toy2d.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[GENC_TOY_COUNT] = {
    "checkerboard", "8gaussians", "moons", "pinwheel", "rings", "swissroll", "circles", "2spirals",
};

int genc_toy_parse(const char *name, genc_toy *t) {
    for (int i = 0; i < GENC_TOY_COUNT; i++)
        if (name && strcmp(name, NAMES[i]) == 0) {
            *t = (genc_toy)i;
            return GENC_OK;
        }
    char list[256] = "";
    for (int i = 0; i < GENC_TOY_COUNT; i++) {
        strcat(list, i ? ", " : "");
        strcat(list, NAMES[i]);
    }
    return genc_set_error("unknown 2D toy '%s' (valid: %s)", name ? name : "", list);
}

const char *genc_toy_name(genc_toy t) {
    return (unsigned)t < GENC_TOY_COUNT ? NAMES[t] : "?";
}

int genc_toy_has_density(genc_toy t) { return (unsigned)t < GENC_TOY_COUNT; }

/* ---------------------------------------------------------------- sampling */

/* Box-Muller on two uniforms in (0, 1): two independent N(0, 1). */
static void normal_pair(double u0, double u1, double *z0, double *z1) {
    double rad = sqrt(-2.0 * log(u0)), ang = 2.0 * TOY_PI * u1;
    *z0 = rad * cos(ang);
    *z1 = rad * sin(ang);
}

/* floor(k u) for u in (0, 1): a choice among k. */
static int choose(double u, int k) {
    int i = (int)(u * k);
    return i < k ? i : k - 1;
}

/* One point from eight uniforms u[0..7]. */
static void sample_one(genc_toy t, const double *u, double *x, double *y) {
    double z0, z1;
    normal_pair(u[0], u[1], &z0, &z1);
    switch (t) {
    case GENC_TOY_CHECKERBOARD: {
        double x1 = 4.0 * u[2] - 2.0;
        double x2 = u[3] - 2.0 * choose(u[4], 2) + (((int)floor(x1) % 2 + 2) % 2);
        *x = 2.0 * x1;
        *y = 2.0 * x2;
        break;
    }
    case GENC_TOY_8GAUSSIANS: {
        double ang = choose(u[2], 8) * (TOY_PI / 4);
        *x = G8_RADIUS * cos(ang) + G8_STD * z0;
        *y = G8_RADIUS * sin(ang) + G8_STD * z1;
        break;
    }
    case GENC_TOY_MOONS: {
        double s = TOY_PI * u[2], sign = choose(u[3], 2) ? -1.0 : 1.0;
        *x = sign * (2.0 * cos(s) - 1.0) + MOONS_STD * z0;
        *y = sign * 2.0 * sin(s) + (sign > 0 ? -0.2 : 0.8) + MOONS_STD * z1;
        break;
    }
    case GENC_TOY_PINWHEEL: {
        double f0 = 1.0 + PIN_RADIAL_STD * z0, f1 = PIN_TANGENTIAL_STD * z1;
        double a = 2.0 * TOY_PI * choose(u[2], PIN_ARMS) / PIN_ARMS + PIN_RATE * exp(f0);
        *x = 2.0 * (f0 * cos(a) + f1 * sin(a));
        *y = 2.0 * (-f0 * sin(a) + f1 * cos(a));
        break;
    }
    case GENC_TOY_RINGS:
    case GENC_TOY_CIRCLES: {
        int rings = t == GENC_TOY_RINGS;
        double r = rings ? 3.0 * (1.0 - 0.25 * choose(u[2], 4)) : (choose(u[2], 2) ? 1.5 : 3.0);
        double sd = rings ? RINGS_STD : CIRCLES_STD, ang = 2.0 * TOY_PI * u[3];
        *x = r * cos(ang) + sd * z0;
        *y = r * sin(ang) + sd * z1;
        break;
    }
    case GENC_TOY_SWISSROLL: {
        double s = 1.5 * TOY_PI * (1.0 + 2.0 * u[2]);
        *x = s * cos(s) / 5.0 + SWISS_STD * z0;
        *y = s * sin(s) / 5.0 + SWISS_STD * z1;
        break;
    }
    case GENC_TOY_2SPIRALS: {
        double n = SPIRAL_TURN * sqrt(u[2]), sign = choose(u[5], 2) ? -1.0 : 1.0;
        *x = sign * (-n * cos(n) / 3.0 + SPIRAL_BOX * u[3]) + SPIRAL_STD * z0;
        *y = sign * (n * sin(n) / 3.0 + SPIRAL_BOX * u[4]) + SPIRAL_STD * z1;
        break;
    }
    default: *x = *y = NAN;
    }
}

void genc_toy_sample(genc_toy t, genc_rng *r, int64_t n, float *xy) {
    if (n <= 0) return;
    uint64_t base = r->counter;
#pragma omp parallel for schedule(static) if (n > 4096)
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[8];
        genc_philox4x32(r->seed, r->stream, base + 2 * (uint64_t)i, w);
        genc_philox4x32(r->seed, r->stream, base + 2 * (uint64_t)i + 1, w + 4);
        double u[8], x, y;
        for (int k = 0; k < 8; k++) u[k] = ((double)w[k] + 0.5) * (1.0 / 4294967296.0);
        sample_one(t, u, &x, &y);
        xy[2 * i] = (float)x;
        xy[2 * i + 1] = (float)y;
    }
    r->counter += 2 * (uint64_t)n;
}

/* ---------------------------------------------------------------- closed-form densities */

static double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* log(e^-z I0(z)), I0 the modified Bessel function of order 0, z >= 0. Power series
 * sum_k (z^2/4)^k / (k!)^2 up to z = 25 (positive terms: no cancellation); above, the
 * asymptotic series 1/sqrt(2 pi z) sum_k a_k / z^k, a_k = a_{k-1} (2k-1)^2 / (8k) (Abramowitz
 * and Stegun 9.7.1), whose smallest term near k = 2z is far below double precision. */
static double log_i0e(double z) {
    if (z <= 25.0) {
        double term = 1.0, sum = 1.0, q = 0.25 * z * z;
        for (int k = 1; k < 200 && term > 1e-17 * sum; k++) {
            term *= q / ((double)k * k);
            sum += term;
        }
        return log(sum) - z;
    }
    double term = 1.0, sum = 1.0;
    for (int k = 1; k < 60; k++) {
        double next = term * (2.0 * k - 1) * (2.0 * k - 1) / (8.0 * k * z);
        if (next < 1e-17 * sum || next > term) break;
        term = next;
        sum += term;
    }
    return log(sum) - 0.5 * log(2.0 * TOY_PI * z);
}

/* A circle of radius R blurred by isotropic Gaussian noise sd, at distance rho from the
 * centre: (1 / 2 pi sd^2) exp(-(rho^2 + R^2) / 2 sd^2) I0(rho R / sd^2), the angle integrated
 * out; rewritten with e^-z I0(z) so nothing overflows. */
static double log_ring(double rho, double R, double sd) {
    double s2 = sd * sd, d = rho - R;
    return -log(2.0 * TOY_PI * s2) - d * d / (2.0 * s2) + log_i0e(rho * R / s2);
}

static double log_density_closed(genc_toy t, double x, double y) {
    switch (t) {
    case GENC_TOY_CHECKERBOARD: {
        if (!(x >= -CHECKER_HALF && x < CHECKER_HALF && y >= -CHECKER_HALF && y < CHECKER_HALF))
            return -INFINITY;
        long cell = (long)floor(x / 2.0) + (long)floor(y / 2.0);
        return cell % 2 == 0 ? -log(32.0) : -INFINITY;
    }
    case GENC_TOY_8GAUSSIANS: {
        double s2 = G8_STD * G8_STD, acc = -INFINITY;
        for (int k = 0; k < 8; k++) {
            double dx = x - G8_RADIUS * cos(k * TOY_PI / 4),
                   dy = y - G8_RADIUS * sin(k * TOY_PI / 4);
            acc = log_add(acc, -(dx * dx + dy * dy) / (2.0 * s2));
        }
        return acc - log(8.0 * 2.0 * TOY_PI * s2);
    }
    case GENC_TOY_RINGS: {
        double rho = hypot(x, y), acc = -INFINITY;
        for (int k = 0; k < 4; k++)
            acc = log_add(acc, log_ring(rho, 3.0 * (1.0 - 0.25 * k), RINGS_STD));
        return acc - log(4.0);
    }
    case GENC_TOY_CIRCLES: {
        double rho = hypot(x, y);
        return log_add(log_ring(rho, 3.0, CIRCLES_STD), log_ring(rho, 1.5, CIRCLES_STD)) - log(2.0);
    }
    default: return NAN;
    }
}

double genc_toy_log_density(genc_toy t, double x, double y) {
    if (isnan(x) || isnan(y)) return NAN;
    switch (t) {
    case GENC_TOY_MOONS:
    case GENC_TOY_SWISSROLL:
    case GENC_TOY_2SPIRALS: return genc_toy_curve_log_density(t, x, y);
    case GENC_TOY_PINWHEEL: return genc_toy_pinwheel_log_density(x, y);
    default: return log_density_closed(t, x, y);
    }
}

/* ---------------------------------------------------------------- entropy */

/* The grid for -∫ p log p: midpoints of an h-spaced grid on [-L, L]^2. L leaves at least 10
 * noise stds (pinwheel: 10 radial stds of f0) beyond the data, so the mass outside is below
 * e^-50; h is at most a third of the narrowest noise std, where the midpoint rule on these
 * smooth (Gaussian-blurred) densities is accurate far beyond the 1e-4 nats that matter. */
static const struct {
    double L, h;
} GRID[GENC_TOY_COUNT] = {
    [GENC_TOY_CHECKERBOARD] = {4.0, 0.05},   /* unused: closed form */
    [GENC_TOY_8GAUSSIANS] = {7.0, 0.1},
    [GENC_TOY_MOONS] = {5.5, 0.06},
    [GENC_TOY_PINWHEEL] = {8.0, 0.06},
    [GENC_TOY_RINGS] = {4.5, 0.025},
    [GENC_TOY_SWISSROLL] = {5.5, 0.06},
    [GENC_TOY_CIRCLES] = {6.0, 0.08},
    [GENC_TOY_2SPIRALS] = {5.0, 0.03},
};

/* Rows are summed separately and then in order, so the result does not depend on the
 * number of threads. */
static double grid_entropy(genc_toy t) {
    double L = GRID[t].L, h = GRID[t].h;
    int n = (int)ceil(2.0 * L / h);
    double row[4096];   /* n <= 2 * 8 / 0.025 */
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < n; i++) {
        double s = 0.0, x = -L + (i + 0.5) * h;
        for (int j = 0; j < n; j++) {
            double lp = genc_toy_log_density(t, x, -L + (j + 0.5) * h);
            if (lp > -INFINITY) s -= exp(lp) * lp;
        }
        row[i] = s;
    }
    double H = 0.0;
    for (int i = 0; i < n; i++) H += row[i];
    return H * h * h;
}

double genc_toy_entropy(genc_toy t) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static double known[GENC_TOY_COUNT];
    static int have[GENC_TOY_COUNT];
    if ((unsigned)t >= GENC_TOY_COUNT) return NAN;
    if (t == GENC_TOY_CHECKERBOARD) return log(32.0);   /* uniform on 8 cells of area 4 */
    pthread_mutex_lock(&lock);
    if (!have[t]) {
        known[t] = grid_entropy(t);
        have[t] = 1;
    }
    double H = known[t];
    pthread_mutex_unlock(&lock);
    return H;
}

/* 1.1 × the 99.5th percentile of |coordinate| over 20 000 points of a fixed stream: the
 * plotted square [-r, r]² holds the data and leaves out only a far tail. */
static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

double genc_toy_radius(genc_toy t) {
    enum { N = 20000 };
    float *xy = malloc(sizeof(float) * 2 * N);
    if (!xy) return 4.0;
    genc_rng r = genc_rng_make(3, 9);
    genc_toy_sample(t, &r, N, xy);
    for (int i = 0; i < 2 * N; i++) xy[i] = fabsf(xy[i]);
    qsort(xy, 2 * N, sizeof(float), cmp_float);
    double q = xy[(int)(0.995 * 2 * N)];
    free(xy);
    return 1.1 * q;
}
