/* Sampling grids: the N noise levels a sampler visits. Karras's σ grid, the DDPM step
 * spacings of diffusers (linspace, leading, trailing; Lin et al. 2024 Table 2), uniform
 * process time, and the flow-matching time shift. */
#include "genc/diffusion.h"

#include <math.h>
#include <string.h>

static const char *const NAMES[GENC_GRID_COUNT] = {"default", "karras", "trailing", "leading", "linspace"};

const char *genc_dgrid_name(genc_dgrid g) { return g >= 0 && g < GENC_GRID_COUNT ? NAMES[g] : "?"; }

int genc_dgrid_parse(const char *s, genc_dgrid *g) {
    for (int i = 0; i < GENC_GRID_COUNT; i++)
        if (strcmp(s, NAMES[i]) == 0) { *g = (genc_dgrid)i; return GENC_OK; }
    return genc_set_error("unknown schedule '%s' (default, karras, trailing, leading, linspace)", s);
}

void genc_karras_sigmas(int N, double smin, double smax, double rho, double *sig) {
    double a = pow(smax, 1 / rho), b = pow(smin, 1 / rho);
    for (int i = 0; i < N; i++) sig[i] = N > 1 ? pow(a + (double)i / (N - 1) * (b - a), rho) : smax;
    sig[N] = 0;
}

int genc_ddpm_timesteps(genc_dgrid g, int T, int N, int *ts) {
    if (N < 1 || N > T) return genc_set_error("--steps %d: a DDPM spacing takes 1 to T = %d steps", N, T);
    for (int i = 0; i < N; i++) {
        switch (g) {
        case GENC_GRID_TRAILING: ts[i] = (int)nearbyint(T - (double)i * T / N) - 1; break;
        case GENC_GRID_LEADING: ts[i] = (N - 1 - i) * (T / N); break;
        case GENC_GRID_LINSPACE: ts[i] = (int)nearbyint(N > 1 ? (T - 1) * (double)(N - 1 - i) / (N - 1) : T - 1); break;
        default: return genc_set_error("%s is not a DDPM step spacing", genc_dgrid_name(g));
        }
    }
    return GENC_OK;
}

double genc_flow_shift(double t, double s) { return s * t / (1 + (s - 1) * t); }

static int is_ddpm(const genc_process *p) { return p->kind == GENC_DPROC_DDPM_LINEAR || p->kind == GENC_DPROC_DDPM_COSINE; }

/* Uniform in the process's own time from t_hi down to t_lo: N levels, then 0. */
static void uniform_time(const genc_process *p, int N, double t_hi, double t_lo, double *sig) {
    for (int i = 0; i < N; i++) sig[i] = genc_process_sigma(p, N > 1 ? t_hi + (t_lo - t_hi) * i / (N - 1) : t_hi);
    sig[N] = 0;
}

int genc_sample_sigmas(const genc_process *p, genc_dgrid g, int N, int flow_sampler, double shift, double *sig) {
    if (N < 1 || N > 100000) return genc_set_error("--steps %d: must be in 1..100000", N);
    int flow_grid = g == GENC_GRID_DEFAULT && flow_sampler;
    if (shift != 1 && !flow_grid)
        return genc_set_error("--shift bends the flow-matching time grid: it needs a flow sampler and the default schedule");
    if (flow_grid) {
        /* t_i = shift(t_max·(1 − i/N)), i = 0..N: the flow path's own uniform grid */
        double tmax = p->kind == GENC_DPROC_FLOW ? 1 : p->sigma_max / (1 + p->sigma_max);
        for (int i = 0; i <= N; i++) {
            double t = genc_flow_shift(tmax * (1 - (double)i / N), shift);
            sig[i] = t >= 1 ? INFINITY : t / (1 - t);
        }
        sig[N] = 0;
        return GENC_OK;
    }
    if (g == GENC_GRID_TRAILING || g == GENC_GRID_LEADING || (g == GENC_GRID_LINSPACE && is_ddpm(p)) ||
        (g == GENC_GRID_DEFAULT && is_ddpm(p))) {
        if (!is_ddpm(p))
            return genc_set_error("--schedule %s spaces DDPM's discrete steps; the %s process is continuous "
                                  "(use default, karras or linspace)", genc_dgrid_name(g), genc_dproc_name(p->kind));
        int ts[GENC_DDPM_MAX_T];
        if (genc_ddpm_timesteps(g == GENC_GRID_DEFAULT ? GENC_GRID_TRAILING : g, p->T, N, ts)) return GENC_ERR;
        for (int i = 0; i < N; i++) sig[i] = genc_process_sigma(p, ts[i]);
        sig[N] = 0;
        return GENC_OK;
    }
    double smin = p->sigma_min, smax = p->sigma_max;
    if (p->kind == GENC_DPROC_FLOW) { smin = 0.002; smax = 80; }
    if (g == GENC_GRID_KARRAS || (g == GENC_GRID_DEFAULT && (p->kind == GENC_DPROC_EDM || p->kind == GENC_DPROC_FLOW))) {
        genc_karras_sigmas(N, smin, smax, 7, sig);
        return GENC_OK;
    }
    switch (p->kind) {
    case GENC_DPROC_VP: uniform_time(p, N, 1, 1e-3, sig); break;
    case GENC_DPROC_VE:
        if (g == GENC_GRID_DEFAULT) {           /* geometric σ (Song et al. 2021) */
            for (int i = 0; i < N; i++) sig[i] = N > 1 ? smax * pow(smin / smax, (double)i / (N - 1)) : smax;
            sig[N] = 0;
        } else {
            uniform_time(p, N, smax * smax, smin * smin, sig);
        }
        break;
    case GENC_DPROC_EDM: uniform_time(p, N, smax, smin, sig); break;
    case GENC_DPROC_FLOW: uniform_time(p, N, 80.0 / 81, 0.002 / 1.002, sig); break;
    default: return genc_set_error("no grid for process %d", (int)p->kind);
    }
    return GENC_OK;
}
