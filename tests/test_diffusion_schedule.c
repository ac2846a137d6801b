/* Continuous diffusion: schedules, step spacings, parameterisations and single sampler runs
 * against an independent PyTorch implementation of the published formulas
 * (tests/parity/diffusion.py, float64), plus exact identities:
 * - DDPM ᾱ (linear and cosine), VP σ(t), flow σ(t) and time shift, Karras σ grids;
 * - diffusers' linspace / leading / trailing spacings (integers: exact);
 * - the training target of every parameterisation, its map back to x0, and round trips
 *   between every pair of parameterisations;
 * - whole deterministic sampler runs (DDIM η = 0, Euler, Heun, DPM-Solver++(2M), flow Euler,
 *   flow Heun) over the closed-form denoiser of a Gaussian mixture;
 * - single steps of the stochastic samplers (DDPM fixed-small and fixed-large, DDIM η > 0,
 *   Euler-ancestral, Heun with churn) with the same given noise;
 * - σ ↔ time inverses of every process, and DDIM with η = 1 equal to DDPM ancestral with the
 *   same noise (the DDIM paper's claim, section 4.1).
 *
 * Tolerances: the C schedules are computed in double and compared after rounding to float,
 * so 1e-6 relative covers the fixture's own float32 rounding (6e-8) with room for libm
 * differences. Parameterisation maps are one float multiply-add with coefficients ≤ 1/α = 20
 * on values ≤ 4: rounding ≤ 20·4·2⁻²³ ≈ 1e-5, so atol 3e-5. Sampler runs hold states up to
 * σ_max = 80 (float resolution 1e-5 there) through ≤ 20 denoiser calls, each a float32 sum of
 * a few terms: atol 2e-4 + rtol 1e-4; a wrong coefficient moves results by O(0.1). */
#include "genc/diffusion.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Fixture tensors, freed at the end. */
static float *kept[512];
static int n_kept;
static float *get(const genc_st_file *F, const char *name, int64_t *n) {
    float *p = tu_get(F, name, n);
    if (n_kept < 512) kept[n_kept++] = p;
    return p;
}

static void close_d(const char *what, const double *got, const float *want, int64_t n, float atol, float rtol) {
    float *g = malloc(sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) g[i] = (float)got[i];
    CHECK(tu_close(what, g, want, n, atol, rtol), "%s", what);
    free(g);
}

static void schedules(const genc_st_file *F) {
    int64_t n;
    double abar[1000];
    genc_ddpm_abar(GENC_DPROC_DDPM_LINEAR, 1000, abar);
    close_d("abar.linear", abar, get(F, "abar.linear", &n), 1000, 0, 1e-6f);
    genc_ddpm_abar(GENC_DPROC_DDPM_COSINE, 1000, abar);
    close_d("abar.cosine", abar, get(F, "abar.cosine", &n), 1000, 1e-9f, 1e-6f);

    genc_process p;
    genc_process_init(&p, GENC_DPROC_VP, 0);
    float *tv = get(F, "vp.t", &n);
    double s[64];
    for (int i = 0; i < n; i++) s[i] = genc_process_sigma(&p, tv[i]);
    close_d("vp.sigma", s, get(F, "vp.sigma", &n), n, 1e-12f, 1e-6f);

    genc_process_init(&p, GENC_DPROC_FLOW, 0);
    float *tf = get(F, "flow.t", &n);
    double sh[64];
    for (int i = 0; i < n; i++) {
        s[i] = genc_process_sigma(&p, tf[i]);
        sh[i] = genc_flow_shift(tf[i], 3);
    }
    /* t = 0.99 reaches C as the float 0.99000001; dσ/dt = 1/(1 − t)² = 10⁴ turns that into
     * 1e-6 relative, so this one gets 3e-6 */
    close_d("flow.sigma", s, get(F, "flow.sigma", &n), n, 1e-12f, 3e-6f);
    close_d("flow.shift3", sh, get(F, "flow.shift3", &n), n, 1e-7f, 1e-6f);

    const int KN[3] = {2, 10, 40};
    for (int k = 0; k < 3; k++) {
        double sig[41];
        char name[32];
        genc_karras_sigmas(KN[k], 0.002, 80, 7, sig);
        snprintf(name, sizeof name, "karras.%d", KN[k]);
        close_d(name, sig, get(F, name, &n), KN[k] + 1, 1e-12f, 1e-6f);
    }
    /* the EDM process's default grid is that Karras grid */
    genc_process_init(&p, GENC_DPROC_EDM, 0);
    double sig[41];
    CHECK(genc_sample_sigmas(&p, GENC_GRID_DEFAULT, 10, 0, 1, sig) == GENC_OK, "edm grid");
    close_d("edm default = karras.10", sig, get(F, "karras.10", &n), 11, 1e-12f, 1e-6f);

    const genc_dgrid G[3] = {GENC_GRID_LINSPACE, GENC_GRID_LEADING, GENC_GRID_TRAILING};
    const int SN[3] = {10, 50, 7};
    for (int g = 0; g < 3; g++)
        for (int k = 0; k < 3; k++) {
            int ts[64];
            char name[32];
            snprintf(name, sizeof name, "%s.%d", genc_dgrid_name(G[g]), SN[k]);
            CHECK(genc_ddpm_timesteps(G[g], 1000, SN[k], ts) == GENC_OK, "%s", name);
            const genc_st_tensor *t = genc_st_find(F, name);
            int ok = t && t->nbytes == sizeof(int32_t) * SN[k];
            for (int i = 0; ok && i < SN[k]; i++) ok = ((const int32_t *)t->data)[i] == ts[i];
            CHECK(ok, "%s: steps differ from diffusers' formula", name);
        }
    int ts[8];
    genc_ddpm_timesteps(GENC_GRID_TRAILING, 1000, 4, ts);
    CHECK(ts[0] == 999, "trailing reaches T - 1 (got %d)", ts[0]);
    genc_ddpm_timesteps(GENC_GRID_LEADING, 1000, 4, ts);
    CHECK(ts[0] < 999, "leading never reaches T - 1 (got %d)", ts[0]);
    CHECK(genc_ddpm_timesteps(GENC_GRID_TRAILING, 1000, 1001, ts) == GENC_ERR, "more steps than T refused");
    genc_process_init(&p, GENC_DPROC_VP, 0);
    CHECK(genc_sample_sigmas(&p, GENC_GRID_TRAILING, 10, 0, 1, sig) == GENC_ERR, "trailing on VP refused");
}

/* σ(t(σ)) = σ inside each process's range. */
static void inverses(void) {
    for (int k = 0; k < GENC_DPROC_COUNT; k++) {
        genc_process p;
        genc_process_init(&p, (genc_dproc)k, 1000);
        double worst = 0;
        const double S[6] = {0.01, 0.1, 0.5, 1, 5, 50};
        for (int i = 0; i < 6; i++) {
            if (S[i] < p.sigma_min || S[i] > p.sigma_max) continue;
            double t = genc_process_time(&p, S[i]), back = genc_process_sigma(&p, t);
            worst = fmax(worst, fabs(back - S[i]) / S[i]);
            double a, b;
            genc_process_coefs(&p, t, &a, &b);
            worst = fmax(worst, fabs(b / a - S[i]) / S[i]);
        }
        CHECK(worst < 1e-9, "%s: sigma(time(sigma)) off by %g relative", genc_dproc_name(p.kind), worst);
    }
}

static void preds(const genc_st_file *F) {
    int64_t n;
    const float *x0 = get(F, "pred.x0", &n);
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "pred.%d.ab", i);
        const float *ab = get(F, name, &n);
        /* the fixture's float α, β: what Python used (it rounded them when saving only) */
        double a = ab[0], b = ab[1];
        snprintf(name, sizeof name, "pred.%d.x", i);
        const float *x = get(F, name, &n);
        const float *eps = get(F, "pred.eps", &n);
        float f[64], back[64], other[64];
        for (int k = 0; k < GENC_DPRED_COUNT; k++) {
            snprintf(name, sizeof name, "pred.%d.%s", i, genc_dpred_name((genc_dpred)k));
            const float *want = get(F, name, &n);
            genc_dpred_target((genc_dpred)k, x0, eps, a, b, 0.5, 64, f);
            CHECK(tu_close(name, f, want, 64, 3e-5f, 1e-5f), "target %s", name);
            genc_dpred_to_x0((genc_dpred)k, want, x, a, b, 0.5, 64, back);
            CHECK(tu_close(name, back, x0, 64, 3e-5f, 1e-5f), "to_x0 %s", name);
            for (int j = 0; j < GENC_DPRED_COUNT; j++) {
                genc_dpred_convert((genc_dpred)k, (genc_dpred)j, want, x, a, b, 0.5, 64, other);
                genc_dpred_convert((genc_dpred)j, (genc_dpred)k, other, x, a, b, 0.5, 64, back);
                char what[96];
                snprintf(what, sizeof what, "round trip %s -> %s -> back", name, genc_dpred_name((genc_dpred)j));
                CHECK(tu_close(what, back, want, 64, 3e-5f, 1e-5f), "%s", what);
            }
        }
        snprintf(name, sizeof name, "pred.%d.edm_cin", i);
        float cin = (float)genc_dpred_in_scale(GENC_DPRED_EDM, a, b, 0.5);
        CHECK(tu_close(name, &cin, get(F, name, &n), 1, 0, 1e-6f), "edm c_in");
    }
}

static const double W[2] = {0.3, 0.7}, MU[4] = {-1, 0.5, 1, -0.25}, S[2] = {0.3, 0.5};

static void samplers(const genc_st_file *F) {
    genc_gmm g = {.K = 2, .dim = 2, .w = W, .mu = MU, .s = S};
    genc_denoiser d = {genc_gmm_denoise, &g};
    int64_t n;
    const float *x_init = get(F, "samp.x", &n);
    double karras[11], flowg[9];
    genc_karras_sigmas(10, 0.002, 80, 7, karras);
    genc_process p;
    genc_process_init(&p, GENC_DPROC_FLOW, 0);
    genc_sample_sigmas(&p, GENC_GRID_DEFAULT, 8, 1, 3, flowg);
    struct { genc_sampler_kind k; const char *name; const double *sig; int N; } R[] = {
        {GENC_DS_EULER, "samp.euler", karras, 10}, {GENC_DS_HEUN, "samp.heun", karras, 10},
        {GENC_DS_DDIM, "samp.ddim", karras, 10},   {GENC_DS_DPMPP_2M, "samp.dpmpp", karras, 10},
        {GENC_DS_FLOW_EULER, "samp.flow_euler", flowg, 8}, {GENC_DS_FLOW_HEUN, "samp.flow_heun", flowg, 8},
    };
    for (size_t i = 0; i < sizeof R / sizeof R[0]; i++) {
        float x[64];
        memcpy(x, x_init, sizeof x);
        genc_sampler_opts o;
        genc_sampler_opts_default(&o, R[i].k);
        genc_rng r = genc_rng_make(1, 0);
        CHECK(genc_sample(&o, &d, R[i].sig, R[i].N, x, 32, 2, &r) == GENC_OK, "%s: %s", R[i].name, genc_error());
        CHECK(tu_close(R[i].name, x, get(F, R[i].name, &n), 64, 2e-4f, 1e-4f), "%s", R[i].name);
    }
    /* DDIM with η = 1 is DDPM's ancestral sampler (fixed-small variance), noise for noise */
    float a[64], b[64];
    memcpy(a, x_init, sizeof a);
    memcpy(b, x_init, sizeof b);
    genc_sampler_opts o1, o2;
    genc_sampler_opts_default(&o1, GENC_DS_DDIM);
    o1.eta = 1;
    genc_sampler_opts_default(&o2, GENC_DS_DDPM);
    genc_rng r1 = genc_rng_make(5, 0), r2 = genc_rng_make(5, 0);
    genc_sample(&o1, &d, karras, 10, a, 32, 2, &r1);
    genc_sample(&o2, &d, karras, 10, b, 32, 2, &r2);
    CHECK(tu_close("ddim eta=1 vs ddpm", a, b, 64, 1e-4f, 1e-4f), "DDIM(eta=1) != DDPM");
    /* a σ-space sampler refuses the flow grid's infinite start */
    genc_sampler_opts_default(&o1, GENC_DS_HEUN);
    CHECK(genc_sample(&o1, &d, flowg, 8, a, 32, 2, &r1) == GENC_ERR, "heun on an infinite sigma_max refused");
}

/* One step of each stochastic sampler with the fixture's noise z, against the paper's formula;
 * the fixture's cfg also says whether the step takes noise at all. Tolerance: one step is at
 * most two float32 denoiser calls and a few multiply-adds on states ≤ 100 in magnitude
 * (x̂ at σ ≤ 42), so rounding stays below ~20 ulp: 2e-6 relative; atol 1e-5 for entries that
 * cancel towards 0 from states near 40 (float spacing 4e-6 there). Measured worst: 5e-7
 * absolute. A wrong coefficient or noise scale moves the result by > 1e-2. Then the
 * whole run of genc_sample equals stepping by hand with the noise drawn as it documents. */
static void steps(const genc_st_file *F) {
    genc_gmm g = {.K = 2, .dim = 2, .w = W, .mu = MU, .s = S};
    genc_denoiser d = {genc_gmm_denoise, &g};
    double karras[11];
    genc_karras_sigmas(10, 0.002, 80, 7, karras);
    struct { const char *name; genc_sampler_kind k; } C[] = {
        {"ddpm", GENC_DS_DDPM}, {"ddpm_last", GENC_DS_DDPM}, {"ddpm_large", GENC_DS_DDPM},
        {"ddim_eta", GENC_DS_DDIM}, {"ddim_eta1", GENC_DS_DDIM},
        {"euler_a", GENC_DS_EULER_A}, {"euler_a_last", GENC_DS_EULER_A},
        {"heun_churn", GENC_DS_HEUN}, {"heun_churn_out", GENC_DS_HEUN},
        {"heun_churn_small", GENC_DS_HEUN}, {"heun_churn_last", GENC_DS_HEUN},
    };
    for (size_t c = 0; c < sizeof C / sizeof C[0]; c++) {
        char name[64];
        int64_t n;
        snprintf(name, sizeof name, "step.%s.cfg", C[c].name);
        const float *cfg = get(F, name, &n);
        genc_sampler_opts o;
        genc_sampler_opts_default(&o, C[c].k);
        int i = (int)cfg[0];
        o.eta = cfg[1];
        o.large_variance = (int)cfg[2];
        o.s_churn = cfg[3];
        o.s_tmin = cfg[4];
        o.s_tmax = cfg[5];
        o.s_noise = cfg[6];
        CHECK(genc_sampler_step_noisy(&o, karras, 10, i) == (int)cfg[7], "%s: takes noise %d, reference %d", C[c].name,
              genc_sampler_step_noisy(&o, karras, 10, i), (int)cfg[7]);
        float x[64];
        snprintf(name, sizeof name, "step.%s.x", C[c].name);
        memcpy(x, get(F, name, &n), sizeof x);
        snprintf(name, sizeof name, "step.%s.z", C[c].name);
        const float *z = get(F, name, &n);
        CHECK(genc_sampler_step(&o, &d, karras, 10, i, x, 32, 2, z) == GENC_OK, "%s: %s", C[c].name, genc_error());
        snprintf(name, sizeof name, "step.%s.out", C[c].name);
        CHECK(tu_close(name, x, get(F, name, &n), 64, 1e-5f, 2e-6f), "%s", name);
    }
    genc_sampler_opts o;
    genc_sampler_opts_default(&o, GENC_DS_DDPM);
    float x[64] = {0};
    CHECK(genc_sampler_step(&o, &d, karras, 10, 2, x, 32, 2, NULL) == GENC_ERR, "a noisy step without noise refused");
    CHECK(genc_sampler_step(&o, &d, karras, 10, 10, x, 32, 2, NULL) == GENC_ERR, "step N refused");
    genc_sampler_opts_default(&o, GENC_DS_DPMPP_2M);
    CHECK(genc_sampler_step(&o, &d, karras, 10, 0, x, 32, 2, NULL) == GENC_ERR, "multistep dpmpp-2m refused");

    /* genc_sample = genc_sampler_step with n·dim normals drawn before each noisy step */
    const genc_sampler_kind K[] = {GENC_DS_DDPM, GENC_DS_DDIM, GENC_DS_EULER_A, GENC_DS_HEUN};
    for (int k = 0; k < 4; k++) {
        genc_sampler_opts_default(&o, K[k]);
        o.eta = 0.5;
        o.s_churn = 5;
        float a[64], b[64], z[64];
        genc_rng r = genc_rng_make(11, 0), q = genc_rng_make(11, 0);
        genc_rng_fill_normal(&r, a, 64, 0, 1);
        memcpy(b, a, sizeof b);
        genc_sample(&o, &d, karras, 10, a, 32, 2, &r);
        double b0 = K[k] == GENC_DS_DDPM || K[k] == GENC_DS_DDIM ? 80 / sqrt(1 + 80.0 * 80) : 80;
        for (int j = 0; j < 64; j++) b[j] *= (float)b0;
        genc_rng_fill_normal(&q, z, 64, 0, 1);   /* r's initial draw */
        for (int i = 0; i < 10; i++) {
            int noisy = genc_sampler_step_noisy(&o, karras, 10, i);
            if (noisy) genc_rng_fill_normal(&q, z, 64, 0, 1);
            genc_sampler_step(&o, &d, karras, 10, i, b, 32, 2, noisy ? z : NULL);
        }
        CHECK(memcmp(a, b, sizeof a) == 0, "%s: genc_sample differs from its steps", genc_diffusion_sampler_name(K[k]));
    }
}

int main(void) {
    genc_st_file F;
    if (tu_fixture("diffusion.py", "diffusion_fixture.safetensors", &F) != GENC_OK) return tu_finish();
    schedules(&F);
    inverses();
    preds(&F);
    samplers(&F);
    steps(&F);
    genc_st_free(&F);
    for (int i = 0; i < n_kept; i++) free(kept[i]);
    return tu_finish();
}
