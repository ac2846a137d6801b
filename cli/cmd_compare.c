/* genc compare lm: train AR, MDLM, BD3 (blocks 4 and 16) and SEDD (absorbing) at the same size
 * for the same wall time on the same corpus, then report held-out bits per character, training
 * throughput and sampling throughput in one table (docs/language-models.md). */
#include "lm_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "genc/lm.h"

static const char *HELP =
    "usage: genc compare lm [--data PATH] [--minutes M] [--out DIR] [--objectives LIST]\n"
    "                       [--dim D] [--layers N] [--heads H] [--seq T] [--batch B]\n"
    "                       [--mc N] [--sample-len N] [--seed S]\n"
    "\n"
    "Train one model per objective with the same backbone and the same wall-clock budget,\n"
    "then print held-out bits per character (exact for ar, a Monte-Carlo ELBO bound with its\n"
    "standard error for the diffusion models), training tokens/s and sampling tokens/s.\n"
    "\n"
    "  --objectives LIST  comma-separated runs (default ar,mdlm,bd3:4,bd3:16,sedd-absorb);\n"
    "                     bd3:N is block diffusion with block N (clipped schedule [0.5,1] for\n"
    "                     N<=4, [0.3,0.8] otherwise)\n"
    "  --minutes M        training time per objective (default 3)\n"
    "  --out DIR          one sub-folder per run, plus compare.md and compare.json (default\n"
    "                     runs/compare)\n"
    "  --mc N             ELBO samples per evaluation window (default 2; at least 2 for a\n"
    "                     standard error)\n"
    "  --sample-len N     bytes per sample for the sampling speed (default 128; diffusion\n"
    "                     samplers use one step per token)\n"
    "  --eval-bytes N     evaluate on the first N held-out bytes (default 32768; 0 = all)\n"
    "  --force            replace runs already in --out\n"
    "  other flags as in genc train lm (defaults d=256, 4 layers, 4 heads, T=256, batch 8)\n";

typedef struct row {
    char name[32];
    genc_lm_eval_result ev;
    double train_tps, sample_tps;
    int64_t steps;
} row;

/* Shows progress and keeps the run's latest training throughput in its row. */
static void quiet_progress(const genc_train_progress *p, void *user) {
    row *r = user;
    r->train_tps = p->items_per_s;
    char stats[128];
    snprintf(stats, sizeof stats, "%s loss %.4f %.0f tok/s", r->name, p->loss, p->items_per_s);
    progress_show(p->step, p->total, stats, p->elapsed_s, p->eta_s);
}

int cmd_compare(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(HELP);
    if (argc < 1 || strcmp(argv[0], "lm") != 0) return usage_error("compare needs a family: genc compare lm (see --help)");
    genc_tf_config cfg;
    genc_lm_train_cfg tc;
    genc_tf_config_default(&cfg);
    genc_lm_train_cfg_default(&tc);
    double minutes = 3;
    const char *out = "runs/compare", *objs = "ar,mdlm,bd3:4,bd3:16,sedd-absorb";
    int mc = 2, slen = 128, force = 0;
    int64_t eval_bytes = 32768;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help")) return show_help(HELP);
        else if (flag(&a, "--data")) snprintf(tc.data, sizeof tc.data, "%s", val_str(&a, "--data"));
        else if (flag(&a, "--minutes")) minutes = val_num(&a, "--minutes", 0.01, 1e6);
        else if (flag(&a, "--out")) out = val_str(&a, "--out");
        else if (flag(&a, "--force")) force = 1;
        else if (flag(&a, "--objectives")) objs = val_str(&a, "--objectives");
        else if (flag(&a, "--mc")) mc = val_int(&a, "--mc", 2, 10000);
        else if (flag(&a, "--sample-len")) slen = val_int(&a, "--sample-len", 1, 65536);
        else if (flag(&a, "--eval-bytes")) eval_bytes = val_i64(&a, "--eval-bytes", 0, (int64_t)1e12);
        else if (flag(&a, "--dim")) cfg.dim = val_int(&a, "--dim", 2, 16384);
        else if (flag(&a, "--layers")) cfg.layers = val_int(&a, "--layers", 1, 256);
        else if (flag(&a, "--heads")) cfg.heads = val_int(&a, "--heads", 1, 1024);
        else if (flag(&a, "--seq")) tc.seq = val_int(&a, "--seq", 2, 65536);
        else if (flag(&a, "--batch")) tc.common.batch = val_int(&a, "--batch", 1, 65536);
        else if (flag(&a, "--lr")) { tc.common.lr = (float)val_num(&a, "--lr", 1e-9, 9.99); tc.common.min_lr = tc.common.lr / 10; }
        else if (flag(&a, "--seed")) tc.common.seed = val_u64(&a, "--seed");
        else if (flag(&a, "--pos")) {
            const char *s = val_str(&a, "--pos");
            if (!a.bad && genc_pos_parse(s, &cfg.pos)) return usage_error("--pos: %s", genc_error());
        } else return usage_error("unknown flag '%s' for compare lm (see genc compare lm --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (genc_tf_config_validate(&cfg) || genc_lm_train_cfg_validate(&tc)) return usage_error("%s", genc_error());

    /* parse the run list first so a typo fails before hours of training */
    char list[1024];
    snprintf(list, sizeof list, "%s", objs);
    genc_lm_train_cfg runs[16];
    char names[16][32];
    int n = 0;
    for (char *tok = strtok(list, ","); tok && n < 16; tok = strtok(NULL, ",")) {
        genc_lm_train_cfg t = tc;
        char base[32];
        snprintf(base, sizeof base, "%s", tok);
        char *colon = strchr(base, ':');
        int block = 0;
        if (colon) {
            *colon = 0;
            block = atoi(colon + 1);
        }
        if (genc_objective_parse(base, &t.objective)) return usage_error("--objectives: %s", genc_error());
        if (t.objective == GENC_OBJ_BD3) {
            t.block = block > 0 ? block : 4;
            t.t_lo = t.block <= 4 ? 0.5f : 0.3f;
            t.t_hi = t.block <= 4 ? 1.0f : 0.8f;
        } else if (colon) return usage_error("--objectives: only bd3 takes a block size ('%s')", tok);
        t.common.steps = (int64_t)1e12;
        if (genc_lm_train_cfg_validate(&t)) return usage_error("--objectives %s: %s", tok, genc_error());
        runs[n] = t;
        snprintf(names[n], sizeof names[n], "%.31s", tok);
        n++;
    }
    if (n == 0) return usage_error("--objectives is empty");
    if (genc_mkdirs(out)) return runtime_error("%s", genc_error());

    genc_corpus test;
    const char *data = tc.data[0] ? tc.data : GENC_DEFAULT_CORPUS;
    if (genc_corpus_load(data, GENC_SPLIT_TEST, (int64_t)tc.seq + 2, &test)) return runtime_error("%s", genc_error());
    int64_t ntok = test.n_tokens;
    if (eval_bytes > 0 && eval_bytes < ntok) ntok = eval_bytes;

    row rows[16];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < n; i++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", out, names[i]);
        for (char *p = dir + strlen(out); *p; p++)
            if (*p == ':') *p = '-';
        fprintf(stderr, "genc: compare: training %s for %.1f minutes into %s\n", names[i], minutes, dir);
        genc_run_opts ro = {0};
        ro.out_dir = dir;
        ro.force = force;
        ro.minutes = minutes;
        ro.progress = quiet_progress;
        ro.message = cli_message;
        snprintf(rows[i].name, sizeof rows[i].name, "%.31s", names[i]);
        ro.user = &rows[i];
        if (genc_lm_train(&cfg, &runs[i], &ro, NULL)) { progress_end(); genc_corpus_free(&test); return runtime_error("%s: %s", names[i], genc_error()); }
        progress_end();
        genc_lm lm;
        if (genc_lm_load(dir, &lm)) { genc_corpus_free(&test); return runtime_error("%s", genc_error()); }
        rows[i].steps = lm.step;
        lm_show_progress(&lm, "eval: ELBO draws");
        int erc = genc_lm_eval_elbo(&lm, test.tokens, ntok, tc.seq, 8, mc, 1, &rows[i].ev);
        progress_end();
        if (erc) {
            genc_lm_free(&lm);
            genc_corpus_free(&test);
            return runtime_error("%s: %s", names[i], genc_error());
        }
        genc_lm_sample_opts so; /* 4 samples of slen tokens at temperature 1, slen denoising steps */
        genc_lm_sample_opts_default(&so);
        so.len = slen;
        if (genc_objective_is_diffusion(lm.train.objective)) so.steps = slen;
        so.n = 4;
        so.temperature = 1.0f;
        so.stop_at_eos = 0;
        int32_t *outs[4];
        int nouts[4];
        double t0 = genc_time_s();
        lm_show_progress(&lm, "sample");
        int src = genc_lm_sample(&lm, "", &so, outs, nouts);
        progress_end();
        if (src) {
            genc_lm_free(&lm);
            genc_corpus_free(&test);
            return runtime_error("%s: sampling: %s", names[i], genc_error());
        }
        rows[i].sample_tps = 4.0 * slen / (genc_time_s() - t0);
        for (int k = 0; k < 4; k++) free(outs[k]);
        fprintf(stderr, "genc: compare: %s: %.4f bpc, %.0f train tok/s, %.0f sample tok/s\n", names[i], rows[i].ev.bpc,
                rows[i].train_tps, rows[i].sample_tps);
        genc_lm_free(&lm);
    }
    genc_corpus_free(&test);

    char md[8192];
    size_t o = 0;
    o += (size_t)snprintf(md + o, sizeof md - o,
                          "| objective | held-out bpc | ± (MC s.e.) | steps | train tokens/s | sample tokens/s |\n"
                          "|---|---|---|---|---|---|\n");
    for (int i = 0; i < n && o < sizeof md; i++)
        o += (size_t)snprintf(md + o, sizeof md - o, "| %s | %.4f | %s%.4f | %lld | %.0f | %.0f |\n", rows[i].name,
                              rows[i].ev.bpc, rows[i].ev.mc ? "" : "exact ", rows[i].ev.bpc_stderr,
                              (long long)rows[i].steps, rows[i].train_tps, rows[i].sample_tps);
    fputs(md, stdout);
    char path[4200];
    snprintf(path, sizeof path, "%s/compare.md", out);
    if (genc_write_file_atomic(path, md, strlen(md))) return runtime_error("%s", genc_error());
    char js[8192];
    o = 0;
    o += (size_t)snprintf(js + o, sizeof js - o, "[");
    for (int i = 0; i < n && o < sizeof js; i++)
        o += (size_t)snprintf(js + o, sizeof js - o,
                              "%s{\"objective\": \"%s\", \"bpc\": %.6f, \"bpc_stderr\": %.6f, \"mc\": %d, \"steps\": %lld, "
                              "\"train_tokens_per_s\": %.1f, \"sample_tokens_per_s\": %.1f}",
                              i ? ", " : "", rows[i].name, rows[i].ev.bpc, rows[i].ev.bpc_stderr, rows[i].ev.mc,
                              (long long)rows[i].steps, rows[i].train_tps, rows[i].sample_tps);
    o += (size_t)snprintf(js + o, sizeof js - o, "]\n");
    snprintf(path, sizeof path, "%s/compare.json", out);
    if (genc_write_file_atomic(path, js, strlen(js))) return runtime_error("%s", genc_error());
    return 0;
}
