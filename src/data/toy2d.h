/* The 2D toys' parameters, shared by the sampler (toy2d.c) and the densities that need a
 * numerical method (toy2d_numeric.c), so the two can never disagree. The definitions follow
 * FFJORD's toy_data.py (Grathwohl et al. 2019), which the flow-matching papers reuse; each
 * toy's recipe is in docs/data.md. */
#ifndef GENC_TOY2D_INTERNAL_H
#define GENC_TOY2D_INTERNAL_H

#include "genc/data.h"

#define TOY_PI 3.14159265358979323846

/* checkerboard: uniform on the 8 cells of side 2 in [-4, 4]^2 with floor(x/2) + floor(y/2) even */
#define CHECKER_HALF 4.0
/* 8gaussians: centres 4 u_k / 1.414 (u_k the unit vectors at multiples of 45 degrees),
 * std 0.5 / 1.414 (FFJORD divides by the literal 1.414) */
#define G8_RADIUS (4.0 / 1.414)
#define G8_STD (0.5 / 1.414)
/* moons: t ~ U[0, pi]; upper (2 cos t - 1, 2 sin t - 0.2), lower (1 - 2 cos t, 0.8 - 2 sin t),
 * Gaussian noise of std 0.2 (sklearn's make_moons noise 0.1, then the data times 2) */
#define MOONS_STD 0.2
/* pinwheel: f = (1 + 0.3 z0, 0.1 z1), arm k of 5, angle a = 2 pi k / 5 + 0.25 exp(f0),
 * x = 2 R(-a) f */
#define PIN_RADIAL_STD 0.3
#define PIN_TANGENTIAL_STD 0.1
#define PIN_ARMS 5
#define PIN_RATE 0.25
/* rings: 4 circles of radius 3, 2.25, 1.5, 0.75, uniform angle, noise std 0.08 */
#define RINGS_STD 0.08
/* circles: 2 circles of radius 3 and 1.5 (sklearn's make_circles factor 0.5, noise 0.08, all
 * times 3), noise std 0.24 */
#define CIRCLES_STD 0.24
/* swissroll: t ~ 1.5 pi (1 + 2 U), centre (t cos t, t sin t) / 5, noise std 1 / 5 */
#define SWISS_STD 0.2
/* 2spirals: n = 3 pi sqrt(U); (-n cos n + 0.5 U1, n sin n + 0.5 U2) / 3, negated for half
 * the points, plus noise of std 0.1 */
#define SPIRAL_TURN (3.0 * TOY_PI)
#define SPIRAL_BOX (0.5 / 3.0)
#define SPIRAL_STD 0.1

/* Densities computed numerically (toy2d_numeric.c). */
double genc_toy_curve_log_density(genc_toy t, double x, double y); /* moons, swissroll, 2spirals */
double genc_toy_pinwheel_log_density(double x, double y);

#endif
