/* Densities of the 2D toys that have no elementary closed form, computed to near double
 * precision.
 *
 * moons, swissroll, 2spirals: a point is c(s) + noise, with s drawn along a curve. So
 *   p(x) = ∫ q(s) K(x - c(s)) ds,
 * q the density of s and K the noise density (an isotropic Gaussian; for 2spirals a box of
 * side 1/6 blurred by a Gaussian, separable in x and y). The integral is a fixed composite
 * Gauss-Legendre rule (8 nodes a panel) whose panels are at most two noise stds long along
 * the curve: the log-density then agrees with a rule 8 times finer to 1e-9 (measured), and
 * tests/test_toy2d.c checks that the densities integrate to 1. The nodes become a table of
 * weighted centres, built once; evaluation sums in log space, skipping centres whose term is
 * below e^-30 of the largest.
 *
 * pinwheel: x = 2 R(-a) f with f ~ N((1, 0), diag(0.3^2, 0.1^2)), a = 2 pi k / 5 + 0.25 e^f0.
 * The map f -> x/2 keeps |f| and turns f by -a(f0), so with u = x/2 = r (cos psi, sin psi)
 * the preimages are f = r (cos phi, sin phi) with phi - 0.25 e^(r cos phi) - psi a multiple
 * of 2 pi / 5 (the multiple fixes the arm). Change of variables:
 *   p(x) = 1/4 · 1/5 · sum over roots phi of N(f) / |1 + 0.25 e^f0 f1|,
 * 1 + a'(f0) f1 being the Jacobian determinant of f -> u. Roots are bracketed on a 512-point
 * grid over phi and refined by bisection. */
#include "toy2d.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

/* ---------------------------------------------------------------- Gauss-Legendre */

#define GL_N 8
static double GL_X[GL_N], GL_W[GL_N];   /* nodes and weights on [-1, 1] */

/* Roots of the Legendre polynomial P_n by Newton from Chebyshev guesses; weights
 * 2 / ((1 - x^2) P_n'(x)^2) (Golub-Welsch would do too; n = 8 needs nothing more). */
static void gauss_legendre(void) {
    for (int i = 0; i < GL_N; i++) {
        double x = cos(TOY_PI * (i + 0.75) / (GL_N + 0.5)), dp = 1.0;
        for (int it = 0; it < 100; it++) {
            double p0 = 1.0, p1 = x;   /* P_0, P_1; recurrence to P_n */
            for (int k = 2; k <= GL_N; k++) {
                double p2 = ((2.0 * k - 1) * x * p1 - (k - 1.0) * p0) / k;
                p0 = p1;
                p1 = p2;
            }
            dp = GL_N * (x * p1 - p0) / (x * x - 1.0);
            double dx = p1 / dp;
            x -= dx;
            if (fabs(dx) < 1e-16) break;
        }
        GL_X[i] = x;
        GL_W[i] = 2.0 / ((1.0 - x * x) * dp * dp);
    }
}

/* ---------------------------------------------------------------- curve toys */

#define MAX_NODES 4096
#define PANEL_SD 2.0   /* panel length along the curve, in noise stds */
#define CUT 30.0       /* terms below e^-CUT of the largest are skipped */
typedef struct curve_table {
    int n;
    double sd, half_box;        /* noise std; half side of the box (0: Gaussian noise) */
    double cx[MAX_NODES], cy[MAX_NODES], lw[MAX_NODES];   /* centre, log weight */
    double lw_max;
} curve_table;

static curve_table MOONS, SWISS, SPIRALS;

/* One curve piece s in [s0, s1] with density q(s) (already including the piece's share of
 * the mass); `at` gives c(s). Panel length: sd divided by the largest speed |c'| on the
 * panel (speed is monotone here, so its value at both ends bounds it). */
typedef void (*curve_fn)(double s, double *x, double *y);

static double speed(curve_fn at, double s) {
    double e = 1e-6, x0, y0, x1, y1;
    at(s - e, &x0, &y0);
    at(s + e, &x1, &y1);
    return hypot(x1 - x0, y1 - y0) / (2 * e);
}

static void add_piece(curve_table *T, curve_fn at, double (*q)(double), double s0, double s1) {
    double s = s0;
    while (s < s1) {
        double w = PANEL_SD * T->sd / speed(at, s);
        w = PANEL_SD * T->sd / fmax(speed(at, s), speed(at, fmin(s1, s + w)));
        if (s + w > s1) w = s1 - s;
        for (int i = 0; i < GL_N; i++) {
            GENC_ASSERT(T->n < MAX_NODES, "toy2d: curve table full");
            double t = s + 0.5 * w * (GL_X[i] + 1.0);
            at(t, &T->cx[T->n], &T->cy[T->n]);
            T->lw[T->n] = log(0.5 * w * GL_W[i] * q(t));
            if (T->n == 0 || T->lw[T->n] > T->lw_max) T->lw_max = T->lw[T->n];
            T->n++;
        }
        s += w;
    }
}

static void moon_up(double s, double *x, double *y) { *x = 2 * cos(s) - 1; *y = 2 * sin(s) - 0.2; }
static void moon_down(double s, double *x, double *y) {
    *x = 1 - 2 * cos(s);
    *y = 0.8 - 2 * sin(s);
}
static double moon_q(double s) { (void)s; return 0.5 / TOY_PI; }
static void swiss_at(double s, double *x, double *y) { *x = s * cos(s) / 5; *y = s * sin(s) / 5; }
static double swiss_q(double s) { (void)s; return 1.0 / (3.0 * TOY_PI); }
/* 2spirals: the box U[0, 1/6]^2 (U[-1/6, 0]^2 when negated) is centred on the curve point
 * so the kernel is symmetric. n = 3 pi sqrt(U) has density 2n / (3 pi)^2; half the mass
 * per spiral. */
static void spiral_a(double n, double *x, double *y) {
    *x = -n * cos(n) / 3 + 0.5 * SPIRAL_BOX;
    *y = n * sin(n) / 3 + 0.5 * SPIRAL_BOX;
}
static void spiral_b(double n, double *x, double *y) { spiral_a(n, x, y); *x = -*x; *y = -*y; }
static double spiral_q(double n) { return n / (SPIRAL_TURN * SPIRAL_TURN); }

static void build_tables(void);

/* log of the upper normal tail Q(z) = P(Z > z); erfc is accurate in relative terms until it
 * underflows near z = 37, beyond which the asymptotic series takes over. */
static double log_q(double z) {
    if (z < 30.0) return log(0.5 * erfc(z / sqrt(2.0)));
    double iz2 = 1.0 / (z * z);
    return -0.5 * z * z - log(z * sqrt(2.0 * TOY_PI)) +
           log1p(iz2 * (-1.0 + iz2 * (3.0 + iz2 * (-15.0 + iz2 * 105.0))));
}

/* log of the 1D box-blur kernel: the density of V + sd Z, V ~ U[-h, h], at d. */
static double log_box(double d, double h, double sd) {
    double a = (fabs(d) - h) / sd, b = (fabs(d) + h) / sd, mass;
    if (a > 0) {
        double la = log_q(a);
        return la + log1p(-exp(log_q(b) - la)) - log(2.0 * h);
    }
    mass = 1.0 - 0.5 * erfc(b / sqrt(2.0)) - 0.5 * erfc(-a / sqrt(2.0));
    return log(mass) - log(2.0 * h);
}

/* The same kernel, linear: (Q(a) - Q(b)) / 2h with a, b the standardised distances to the
 * box's near and far edges. */
static double box(double d, double h, double sd) {
    double a = (fabs(d) - h) / (sd * sqrt(2.0)), b = (fabs(d) + h) / (sd * sqrt(2.0));
    double mass = a > 0 ? 0.5 * (erfc(a) - erfc(b)) : 1.0 - 0.5 * (erfc(b) + erfc(-a));
    return mass / (2.0 * h);
}

/* A cheap upper-bound-like score of centre j's term, used only to find the terms that matter:
 * the exact term for Gaussian noise, the Gaussian of the distance to the box otherwise. */
static double score(const curve_table *T, int j, double x, double y) {
    double dx = fabs(x - T->cx[j]) - T->half_box, dy = fabs(y - T->cy[j]) - T->half_box;
    dx = dx > 0 ? dx : 0;
    dy = dy > 0 ? dy : 0;
    return T->lw[j] - (dx * dx + dy * dy) / (2.0 * T->sd * T->sd);
}

static pthread_once_t TABLES_ONCE = PTHREAD_ONCE_INIT;

double genc_toy_curve_log_density(genc_toy t, double x, double y) {
    pthread_once(&TABLES_ONCE, build_tables);
    const curve_table *T = &SPIRALS;
    if (t == GENC_TOY_MOONS) T = &MOONS;
    if (t == GENC_TOY_SWISSROLL) T = &SWISS;
    double sc[MAX_NODES], best = -INFINITY;
    for (int j = 0; j < T->n; j++) {
        sc[j] = score(T, j, x, y);
        best = sc[j] > best ? sc[j] : best;
    }
    if (!(best > -INFINITY)) return -INFINITY;   /* only for infinite x or y */
    double sum = 0.0, ref = best, norm = -log(2.0 * TOY_PI * T->sd * T->sd);
    if (T->half_box == 0) {
        for (int j = 0; j < T->n; j++)
            if (sc[j] > best - CUT) sum += exp(sc[j] - ref);
        return ref + log(sum) + norm;
    }
    /* Box noise near the curve: the kernels in linear form (erfc only), no term can underflow
     * to the point of losing the sum (best is within e^-150 of the largest weight). */
    if (best > T->lw_max - 150.0) {
        for (int j = 0; j < T->n; j++)
            if (sc[j] > best - CUT)
                sum += exp(T->lw[j] - T->lw_max) * box(x - T->cx[j], T->half_box, T->sd) *
                       box(y - T->cy[j], T->half_box, T->sd);
        return T->lw_max + log(sum);
    }
    /* Far from it: the same terms in log space, summed relative to the first. */
    ref = NAN;
    for (int j = 0; j < T->n; j++) {
        if (sc[j] <= best - CUT) continue;
        double s = T->lw[j] + log_box(x - T->cx[j], T->half_box, T->sd) +
                   log_box(y - T->cy[j], T->half_box, T->sd);
        if (isnan(ref)) ref = s;
        sum += exp(s - ref);
    }
    return ref + log(sum);
}

/* ---------------------------------------------------------------- pinwheel */

#define PHI_N 512
static double COS_PHI[PHI_N + 1], SIN_PHI[PHI_N + 1];
static double PIN_LOG_NORM;   /* log(2 pi 0.3 0.1) */

static void build_tables(void) {
    gauss_legendre();
    MOONS.sd = MOONS_STD;
    add_piece(&MOONS, moon_up, moon_q, 0.0, TOY_PI);
    add_piece(&MOONS, moon_down, moon_q, 0.0, TOY_PI);
    SWISS.sd = SWISS_STD;
    add_piece(&SWISS, swiss_at, swiss_q, 1.5 * TOY_PI, 4.5 * TOY_PI);
    SPIRALS.sd = SPIRAL_STD;
    SPIRALS.half_box = 0.5 * SPIRAL_BOX;
    add_piece(&SPIRALS, spiral_a, spiral_q, 0.0, SPIRAL_TURN);
    add_piece(&SPIRALS, spiral_b, spiral_q, 0.0, SPIRAL_TURN);
    PIN_LOG_NORM = log(2.0 * TOY_PI * PIN_RADIAL_STD * PIN_TANGENTIAL_STD);
    for (int j = 0; j <= PHI_N; j++) {
        COS_PHI[j] = cos(2.0 * TOY_PI * j / PHI_N);
        SIN_PHI[j] = sin(2.0 * TOY_PI * j / PHI_N);
    }
}

typedef struct pin_point {
    double r, psi;
} pin_point;

/* G(phi) = (phi - 0.25 e^(r cos phi) - psi) / (2 pi / 5): integer exactly at a preimage. */
static double pin_g(const pin_point *P, double phi, double c) {
    return (phi - PIN_RATE * exp(P->r * c) - P->psi) * (PIN_ARMS / (2.0 * TOY_PI));
}

/* log N(f; (1, 0), diag(0.3^2, 0.1^2)) */
static double pin_lognormal(double f0, double f1) {
    double a = (f0 - 1.0) * (1.0 / PIN_RADIAL_STD), b = f1 * (1.0 / PIN_TANGENTIAL_STD);
    return -0.5 * (a * a + b * b) - PIN_LOG_NORM;
}

/* An upper bound of log N on the chord from f to a point within `len` of it: log N is
 * concave, so it lies below its tangent plane at f. Plain arithmetic, so the loop over the
 * grid vectorises. */
static double pin_bound(double f0, double f1, double len) {
    double g0 = (f0 - 1.0) * (1.0 / (PIN_RADIAL_STD * PIN_RADIAL_STD));
    double g1 = f1 * (1.0 / (PIN_TANGENTIAL_STD * PIN_TANGENTIAL_STD));
    return pin_lognormal(f0, f1) + sqrt(g0 * g0 + g1 * g1) * len;
}

/* log of one preimage's term: log N(f) - log |1 + a'(f0) f1| at phi. */
static double pin_term(const pin_point *P, double phi) {
    double f0 = P->r * cos(phi), f1 = P->r * sin(phi);
    return pin_lognormal(f0, f1) - log(fabs(1.0 + PIN_RATE * exp(f0) * f1));
}

/* Sum (in log space, into *acc) the terms of the roots of G = m for every integer m between
 * the G values at the ends of grid interval j, by bisection (G is monotone on an interval
 * unless the map folds there, which happens only where the density is below e^-18 of its
 * peak). */
static void pin_roots(const pin_point *P, int j, const double *G, double *acc) {
    double lo = G[j] < G[j + 1] ? G[j] : G[j + 1], hi = G[j] < G[j + 1] ? G[j + 1] : G[j];
    int rising = G[j + 1] > G[j];
    for (double m = floor(lo) + 1.0; m <= hi; m += 1.0) {
        double a = 2.0 * TOY_PI * j / PHI_N, b = 2.0 * TOY_PI * (j + 1) / PHI_N;
        for (int it = 0; it < 60 && b - a > 1e-15; it++) {
            double mid = 0.5 * (a + b);
            if ((pin_g(P, mid, cos(mid)) < m) == rising) a = mid;
            else b = mid;
        }
        double s = pin_term(P, 0.5 * (a + b));
        *acc = *acc == -INFINITY ? s : fmax(*acc, s) + log1p(exp(-fabs(*acc - s)));
    }
}

double genc_toy_pinwheel_log_density(double x, double y) {
    pthread_once(&TABLES_ONCE, build_tables);
    pin_point P = {0.5 * hypot(x, y), atan2(y, x)};
    if (!(P.r <= 12.0)) return -INFINITY;   /* |f| > 12: the density is below e^-300 */
    /* Bound each grid interval's terms without evaluating G (no exp). Then look for roots
     * where the bound is within e^-60 of the largest bound and, after that, wherever it is
     * within e^-50 of the sum found so far (everywhere, if nothing was found). G at the
     * grid points is computed only for the intervals visited. */
    double G[PHI_N + 1], ub[PHI_N + 1], chord = 2.0 * P.r * sin(TOY_PI / PHI_N), ub_max = -INFINITY;
    for (int j = 0; j <= PHI_N; j++) {
        G[j] = NAN;
        ub[j] = pin_bound(P.r * COS_PHI[j], P.r * SIN_PHI[j], chord);
    }
    for (int j = 0; j < PHI_N; j++) {
        ub[j] = ub[j] < ub[j + 1] ? ub[j] : ub[j + 1];   /* interval j: both ends' bounds hold */
        ub_max = ub[j] > ub_max ? ub[j] : ub_max;
    }
    double acc = -INFINITY;
    char done[PHI_N] = {0};
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < PHI_N; j++) {
            if (done[j] || ub[j] <= (pass == 0 ? ub_max - 60.0 : acc - 50.0)) continue;
            done[j] = 1;
            for (int e = j; e <= j + 1; e++)
                if (isnan(G[e])) G[e] = pin_g(&P, 2.0 * TOY_PI * e / PHI_N, COS_PHI[e]);
            if (floor(G[j]) != floor(G[j + 1])) pin_roots(&P, j, G, &acc);
        }
    }
    return acc - log(4.0 * PIN_ARMS);
}
