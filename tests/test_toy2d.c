/* 2D toys: names, deterministic counter-based sampling, densities that integrate to 1, sample
 * histograms that match the densities, entropies against the samples' mean log-density (and
 * closed-form bounds), symmetries, and values far from the data. */
#include "testutil.h"

#include "genc/data.h"

#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static void test_names(void) {
    for (int t = 0; t < GENC_TOY_COUNT; t++) {
        genc_toy got = GENC_TOY_COUNT;
        CHECK(genc_toy_parse(genc_toy_name((genc_toy)t), &got) == GENC_OK && got == (genc_toy)t,
              "name %s parses back", genc_toy_name((genc_toy)t));
        CHECK(genc_toy_has_density((genc_toy)t), "%s has a density", genc_toy_name((genc_toy)t));
    }
    genc_toy t;
    const char *all = "checkerboard, 8gaussians, moons, pinwheel, rings, swissroll, circles, 2spirals";
    CHECK(genc_toy_parse("8gaussian", &t) == GENC_ERR && strstr(genc_error(), "'8gaussian'") &&
              strstr(genc_error(), all),
          "unknown name lists the valid ones: %s", genc_error());
    CHECK(genc_toy_parse(NULL, &t) == GENC_ERR, "NULL name refused");
    CHECK(!genc_toy_has_density(GENC_TOY_COUNT) && isnan(genc_toy_entropy(GENC_TOY_COUNT)),
          "out-of-range toy");
}

static void test_determinism(void) {
    enum { N = 1000 };
    static float a[2 * N], b[2 * N], c[2 * N];
    for (int t = 0; t < GENC_TOY_COUNT; t++) {
        genc_rng r1 = genc_rng_make(7, 2), r2 = r1, r3 = genc_rng_make(8, 2);
        genc_toy_sample((genc_toy)t, &r1, N, a);
        genc_toy_sample((genc_toy)t, &r2, 300, b);           /* two calls ... */
        genc_toy_sample((genc_toy)t, &r2, N - 300, b + 600);  /* ... continue the same stream */
        genc_toy_sample((genc_toy)t, &r3, N, c);
        CHECK(memcmp(a, b, sizeof a) == 0, "%s: one call = two calls", genc_toy_name((genc_toy)t));
        CHECK(r1.counter == 2 * N && r2.counter == 2 * N, "%s: counter advances by 2 per point",
              genc_toy_name((genc_toy)t));
        CHECK(memcmp(a, c, sizeof a) != 0, "%s: another seed, other points",
              genc_toy_name((genc_toy)t));
        int finite = 1;
        for (int i = 0; i < 2 * N; i++) finite &= isfinite(a[i]);
        CHECK(finite, "%s: finite samples", genc_toy_name((genc_toy)t));
    }
}

/* Per toy: the integration grid, midpoints of h-cells on [-L, L]^2. L leaves >= 10 noise stds
 * around the data (mass outside < e^-50); h divides 1 so the cells tile the histogram bins
 * below, and is at most half the narrowest noise std: the midpoint rule on a Gaussian-blurred
 * density then errs by ~e^(-2 pi^2 (std/h)^2) < e^-79. The checkerboard grid puts cell edges
 * on the squares' edges, so its sum is exact. */
static const struct {
    double L, h;
} GRIDS[GENC_TOY_COUNT] = {
    [GENC_TOY_CHECKERBOARD] = {4.5, 0.05}, [GENC_TOY_8GAUSSIANS] = {7.0, 0.125},
    [GENC_TOY_MOONS] = {5.5, 0.1},        [GENC_TOY_PINWHEEL] = {8.0, 0.0625},
    [GENC_TOY_RINGS] = {5.0, 0.04},       [GENC_TOY_SWISSROLL] = {5.5, 0.1},
    [GENC_TOY_CIRCLES] = {6.0, 0.125},    [GENC_TOY_2SPIRALS] = {5.0, 0.05},
};

/* Histogram bins: unit squares on [-4, 4]^2 (64) and one bin for everything outside. */
#define NBIN 65
static int bin_of(double x, double y) {
    if (!(x >= -4 && x < 4 && y >= -4 && y < 4)) return 64;
    return (int)floor(x + 4) * 8 + (int)floor(y + 4);
}

/* The integral of p on the grid, and each bin's probability. */
static double integrate(genc_toy t, double *bin_p) {
    double L = GRIDS[t].L, h = GRIDS[t].h, total = 0;
    int n = (int)lround(2 * L / h);
    for (int k = 0; k < NBIN; k++) bin_p[k] = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double x = -L + (i + 0.5) * h, y = -L + (j + 0.5) * h;
            double p = exp(genc_toy_log_density(t, x, y)) * h * h;
            total += p;
            bin_p[bin_of(x, y)] += p;
        }
    return total;
}

/* E[log |1 + 0.25 e^f0 f1|] for f0 ~ N(1, 0.3^2), f1 ~ N(0, 0.1^2), by the midpoint rule on
 * [-7, 7]^2 standard units (h = 0.01: the integrand is smooth where the mass is). */
static double pinwheel_log_jacobian(void) {
    double s = 0, h = 0.01;
    for (double z0 = -7 + h / 2; z0 < 7; z0 += h)
        for (double z1 = -7 + h / 2; z1 < 7; z1 += h) {
            double f0 = 1 + 0.3 * z0, f1 = 0.1 * z1;
            s += exp(-0.5 * (z0 * z0 + z1 * z1)) * log(fabs(1 + 0.25 * exp(f0) * f1));
        }
    return s * h * h / (2 * PI);
}

static void test_densities(void) {
    enum { N = 100000 };
    float *xy = malloc(sizeof(float) * 2 * N);
    for (int t = 0; t < GENC_TOY_COUNT; t++) {
        const char *name = genc_toy_name((genc_toy)t);
        double bin_p[NBIN];
        double total = integrate((genc_toy)t, bin_p);
        /* errors: grid < e^-79, tails < e^-50, the numerical densities ~1e-9 (toy2d_numeric.c) */
        CHECK(fabs(total - 1) < 1e-6, "%s: density integrates to 1 (%.10f)", name, total);

        genc_rng r = genc_rng_make(2024, (uint64_t)t);
        genc_toy_sample((genc_toy)t, &r, N, xy);
        double count[NBIN] = {0}, m = 0, m2 = 0;
        for (int i = 0; i < N; i++) {
            count[bin_of(xy[2 * i], xy[2 * i + 1])] += 1;
            double lp = genc_toy_log_density((genc_toy)t, xy[2 * i], xy[2 * i + 1]);
            m += lp;
            m2 += lp * lp;
        }
        /* Bin counts are binomial: z = (count - N p) / sqrt(N p (1 - p)). With at most 65 bins
         * (those expecting >= 20 points, where the normal approximation holds), a correct
         * sampler exceeds |z| = 5 with probability < 65 * 5.7e-7. */
        double zmax = 0;
        int zbin = -1;
        for (int k = 0; k < NBIN; k++) {
            double e = N * bin_p[k];
            if (e < 20) continue;
            double z = fabs(count[k] - e) / sqrt(e * (1 - bin_p[k]));
            if (z > zmax) { zmax = z; zbin = k; }
        }
        CHECK(zmax < 5, "%s: histogram matches the density (max |z| %.2f in bin %d)", name, zmax,
              zbin);

        /* -mean log p of samples estimates the entropy; 4 standard errors (from the sample)
         * bound a correct match with probability > 0.9999. */
        m /= N;
        double se = sqrt(fmax(m2 / N - m * m, 0) / N), H = genc_toy_entropy((genc_toy)t);
        CHECK(fabs(-m - H) <= 4 * se + 1e-9,
              "%s: entropy %.5f vs samples' -mean log p %.5f (se %.5f)", name, H, -m, se);
        printf("  %-12s entropy %.4f nats, samples %.4f +- %.4f, grid integral %.9f, histogram max "
               "|z| %.2f\n",
               name, H, -m, se, total, zmax);
    }
    free(xy);

    CHECK(genc_toy_entropy(GENC_TOY_CHECKERBOARD) == log(32.0), "checkerboard: log 32");
    /* A mixture's entropy is at most the component entropy plus the log of the number of
     * components, with equality only if they never overlap. */
    double s8 = 0.5 / 1.414, hg = 1 + log(2 * PI * s8 * s8);
    double h8 = genc_toy_entropy(GENC_TOY_8GAUSSIANS);
    CHECK(h8 <= hg + log(8.0) && h8 > hg, "8gaussians: %.5f within (%.5f, %.5f]", h8, hg,
          hg + log(8.0));
    /* pinwheel: each arm is a smooth invertible map of f (one-to-one where the mass is), so
     * H(arm) = H(f) + E log|det| + log 4 (x = 2u); five arms add at most log 5. */
    double hf = 1 + log(2 * PI * 0.3 * 0.1),
           bound = hf + pinwheel_log_jacobian() + log(4.0) + log(5.0);
    double hp = genc_toy_entropy(GENC_TOY_PINWHEEL);
    CHECK(hp <= bound + 1e-6, "pinwheel: %.5f <= %.5f", hp, bound);
}

/* |log p(a) - log p(b)| relative to max(1, |log p(a)|); infinite when only one is -inf. */
static double asym(genc_toy t, double xa, double ya, double xb, double yb) {
    double a = genc_toy_log_density(t, xa, ya), b = genc_toy_log_density(t, xb, yb);
    if (a == b) return 0;
    double d = fabs(a - b) / fmax(1, fabs(a));
    return isnan(d) ? INFINITY : d;
}

/* Exact values and symmetries: each numerical density must respect its toy's symmetry to
 * near rounding (1e-9: the quadratures are not symmetric node by node). */
static void test_values(void) {
    double lc = log(32.0);
    CHECK(genc_toy_log_density(GENC_TOY_CHECKERBOARD, -3.5, -3.5) == -lc &&
          genc_toy_log_density(GENC_TOY_CHECKERBOARD, 1.0, 1.0) == -lc &&
          genc_toy_log_density(GENC_TOY_CHECKERBOARD, -4.0, 0.0) == -lc &&
          genc_toy_log_density(GENC_TOY_CHECKERBOARD, 1.0, -1.0) == -INFINITY &&
          genc_toy_log_density(GENC_TOY_CHECKERBOARD, -1.0, 1.0) == -INFINITY &&
          genc_toy_log_density(GENC_TOY_CHECKERBOARD, 4.0, 0.0) == -INFINITY &&
          genc_toy_log_density(GENC_TOY_CHECKERBOARD, 0.5, 4.5) == -INFINITY, "checkerboard cells");
    double s8 = 0.5 / 1.414, c8 = 4 / 1.414;
    /* at a centre, component k away sits at chord distance 2 R sin(k pi / 8) */
    double others = 0;
    for (int k = 1; k < 8; k++) {
        double d = 2 * c8 * sin(k * PI / 8);
        others += exp(-d * d / (2 * s8 * s8));
    }
    double at_centre = genc_toy_log_density(GENC_TOY_8GAUSSIANS, c8, 0);
    double want = log((1 + others) / (8 * 2 * PI * s8 * s8));
    CHECK(fabs(at_centre - want) < 1e-13, "8gaussians at a centre: %.15f vs %.15f", at_centre,
          want);

    double worst = 0;
    for (int i = 0; i < 200; i++) {
        double x = -4 + 8 * ((i * 37) % 200) / 200.0, y = -4 + 8 * ((i * 91) % 200) / 200.0;
        double a5 = 2 * PI / 5, rx = x * cos(a5) - y * sin(a5), ry = x * sin(a5) + y * cos(a5);
        worst = fmax(worst, asym(GENC_TOY_PINWHEEL, x, y, rx, ry));   /* 5 arms */
        worst = fmax(worst, asym(GENC_TOY_MOONS, x, y, -x, 0.6 - y));   /* about (0, 0.3) */
        worst = fmax(worst, asym(GENC_TOY_2SPIRALS, x, y, -x, -y));
        worst = fmax(worst, asym(GENC_TOY_RINGS, x, y, hypot(x, y), 0));
        worst = fmax(worst, asym(GENC_TOY_CIRCLES, x, y, 0, -hypot(x, y)));
        worst = fmax(worst, asym(GENC_TOY_8GAUSSIANS, x, y, y, x));
    }
    CHECK(worst < 1e-9, "symmetries hold (worst relative difference %.3g)", worst);

    /* Far from the data the densities keep falling and stay finite (log space), except the
     * documented cut-offs: checkerboard is 0 outside its square, pinwheel returns -inf past
     * radius 24. */
    for (int t = 1; t < GENC_TOY_COUNT; t++) {
        double prev = INFINITY;
        int ok = 1;
        for (double r = 6; r <= 20; r += 0.5) {
            double lp = genc_toy_log_density((genc_toy)t, r * 0.8, r * 0.6);
            /* pinwheel's arms wind ever faster outwards: a ray crosses them, no monotony */
            ok &= isfinite(lp) && (lp < prev || t == GENC_TOY_PINWHEEL);
            prev = lp;
        }
        CHECK(ok, "%s: finite and decreasing out to radius 20", genc_toy_name((genc_toy)t));
        CHECK(isnan(genc_toy_log_density((genc_toy)t, NAN, 0)) &&
              genc_toy_log_density((genc_toy)t, INFINITY, 0) == -INFINITY, "%s: NaN and inf inputs",
              genc_toy_name((genc_toy)t));
    }
    CHECK(genc_toy_log_density(GENC_TOY_PINWHEEL, 30, 0) == -INFINITY, "pinwheel past radius 24");
}

/* The plot range holds the data: at least 99% of fresh points (another stream than the one
 * the radius was computed from) fall in [-r, r]^2, and the square is not mostly empty: some
 * point lies beyond r/2 in a coordinate. */
static void test_radius(void) {
    enum { N = 20000 };
    static float xy[2 * N];
    for (int t = 0; t < GENC_TOY_COUNT; t++) {
        double r = genc_toy_radius((genc_toy)t);
        genc_rng g = genc_rng_make(77, 1);
        genc_toy_sample((genc_toy)t, &g, N, xy);
        int inside = 0, far = 0;
        for (int i = 0; i < N; i++) {
            double ax = fabs(xy[2 * i]), ay = fabs(xy[2 * i + 1]);
            inside += ax <= r && ay <= r;
            far += ax > r / 2 || ay > r / 2;
        }
        CHECK(inside >= 0.99 * N && far > 0, "%s: radius %.3f holds %d of %d points, %d beyond r/2",
              genc_toy_name((genc_toy)t), r, inside, N, far);
    }
}

int main(void) {
    test_names();
    test_radius();
    test_determinism();
    test_values();
    test_densities();
    return tu_finish();
}
