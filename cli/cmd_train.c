/* genc train lm: parse the flags into a model config and a run config, then train. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "genc/lm.h"

static const char *HELP =
    "usage: genc train lm [flags]\n"
    "\n"
    "Train a byte-level transformer language model. Writes DIR/model.safetensors (atomically,\n"
    "weights + optimizer state + config), DIR/metrics.csv and DIR/loss.png (the loss curve),\n"
    "and shows progress on stderr.\n"
    "\n"
    "data and run:\n"
    "  --data PATH          text file or folder of text files (default: Debian's fortunes,\n"
    "                       " GENC_DEFAULT_CORPUS ")\n"
    "  --out DIR            run folder (default runs/lm)\n"
    "  --steps N            optimizer steps (default 2000; with --minutes, an upper bound)\n"
    "  --minutes M          train for M minutes of wall time (the cosine schedule is sized\n"
    "                       from the speed of the first steps)\n"
    "  --resume             continue the run in --out exactly where it stopped (model and\n"
    "                       optimizer flags come from the checkpoint; --steps may extend it)\n"
    "  --stop-at N          stop after step N as if interrupted, saving a checkpoint\n"
    "  --save-every N       checkpoint every N steps (default 500)\n"
    "  --seed S             seed for init, data order and dropout (default 1)\n"
    "  --threads N          threads (default: all cores)\n"
    "\n"
    "model:\n"
    "  --objective O        ar (next-byte prediction, default), mdlm, llada (masked\n"
    "                       diffusion), bd3 (block diffusion), sedd-absorb, sedd-uniform\n"
    "                       (score-entropy diffusion); see docs/language-models.md\n"
    "  --block N            bd3 block size (default 4; must divide --seq)\n"
    "  --clip-schedule LO,HI  diffusion: train on noise levels t ~ U[LO, HI] (BD3's clipped\n"
    "                       schedules, e.g. 0.5,1 for block 4); evaluation uses the full range\n"
    "  --layers N           transformer blocks (default 4)\n"
    "  --dim D              model width (default 256)\n"
    "  --heads H            attention heads (default 4; must divide --dim)\n"
    "  --pos P              none|sinusoidal|learned|rope|rope-half|alibi|t5 (default rope)\n"
    "  --rope-scaling S     none|linear|ntk|dynamic-ntk|yarn context extension (default none)\n"
    "  --rope-factor F      scale factor s for --rope-scaling (default 1)\n"
    "  --rope-base B        RoPE base (default 10000)\n"
    "  --max-pos N          learned position table size / longest input (default 1024)\n"
    "  --norm layer|rms     LayerNorm or RMSNorm (default layer)\n"
    "  --mlp M              gelu|gelu-tanh|quickgelu|swiglu (default gelu)\n"
    "  --no-bias            linear layers without bias\n"
    "  --tie                tie the output head to the token embedding\n"
    "  --dropout P          dropout probability (default 0)\n"
    "\n"
    "optimizer (AdamW, warmup + cosine):\n"
    "  --seq T              context length in bytes (default 256)\n"
    "  --batch B            sequences per step (default 8)\n"
    "  --lr LR              peak learning rate (default 2e-3)\n"
    "  --min-lr LR          final learning rate of the cosine (default lr/10)\n"
    "  --schedule S         cosine|constant (default cosine)\n"
    "  --warmup N           linear warmup steps (default 100)\n"
    "  --weight-decay W     decoupled weight decay on matrices (default 0.1)\n"
    "  --clip G             clip the global gradient norm to G (default 1; 0 disables)\n";

static void on_progress(const genc_lm_progress *p, void *user) {
    char stats[160];
    snprintf(stats, sizeof stats, "loss %.4f (%.3f bpt) lr %.2e |g| %.2f %.0f tok/s", p->loss,
             p->loss / 0.6931471805599453, p->lr, p->grad_norm, p->tokens_per_s);
    progress_show(p->step, p->total, stats, p->elapsed_s, p->eta_s);
}

int cmd_train(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("train needs a family: genc train lm [flags] (see genc train lm --help)");
    if (strcmp(argv[0], "lm") != 0) return usage_error("unknown family '%s' for train (available: lm)", argv[0]);
    genc_tf_config cfg;
    genc_lm_train_cfg tc;
    genc_tf_config_default(&cfg);
    genc_lm_train_cfg_default(&tc);
    genc_lm_run_opts run = {0};
    run.out_dir = "runs/lm";
    run.save_every = 500;
    run.progress = on_progress;
    run.message = cli_message;
    int steps_given = 0, threads = 0, min_lr_given = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc && !a.bad) {
        const char *s;
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(HELP);
        else if (flag(&a, "--data")) { s = val_str(&a, "--data"); snprintf(tc.data, sizeof tc.data, "%s", s); }
        else if (flag(&a, "--out")) run.out_dir = val_str(&a, "--out");
        else if (flag(&a, "--steps")) { tc.steps = val_i64(&a, "--steps", 1, (int64_t)1e12); steps_given = 1; }
        else if (flag(&a, "--minutes")) run.minutes = val_num(&a, "--minutes", 0.01, 1e6);
        else if (flag(&a, "--resume")) run.resume = 1;
        else if (flag(&a, "--stop-at")) run.stop_at = val_i64(&a, "--stop-at", 1, (int64_t)1e12);
        else if (flag(&a, "--save-every")) run.save_every = val_i64(&a, "--save-every", 0, (int64_t)1e12);
        else if (flag(&a, "--seed")) tc.seed = val_u64(&a, "--seed");
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--objective")) {
            if (genc_objective_parse(val_str(&a, "--objective"), &tc.objective) && !a.bad) return usage_error("%s", genc_error());
        } else if (flag(&a, "--block")) tc.block = val_int(&a, "--block", 1, 65536);
        else if (flag(&a, "--clip-schedule")) {
            s = val_str(&a, "--clip-schedule");
            if (a.bad) break;
            char *end;
            double lo = strtod(s, &end), hi = -1;
            if (*end == ',') hi = strtod(end + 1, &end);
            if (*end || !(lo >= 0 && lo < hi && hi <= 1))
                return usage_error("--clip-schedule expects LO,HI with 0 <= LO < HI <= 1, got '%s'", s);
            tc.t_lo = (float)lo;
            tc.t_hi = (float)hi;
        } else if (flag(&a, "--layers")) cfg.layers = val_int(&a, "--layers", 1, 256);
        else if (flag(&a, "--dim")) cfg.dim = val_int(&a, "--dim", 2, 16384);
        else if (flag(&a, "--heads")) cfg.heads = val_int(&a, "--heads", 1, 1024);
        else if (flag(&a, "--pos")) {
            s = val_str(&a, "--pos");
            if (!a.bad && genc_pos_parse(s, &cfg.pos)) return usage_error("--pos: %s", genc_error());
        } else if (flag(&a, "--rope-scaling")) {
            s = val_str(&a, "--rope-scaling");
            if (!a.bad && genc_rope_scaling_parse(s, &cfg.rope.scaling)) return usage_error("--rope-scaling: %s", genc_error());
        } else if (flag(&a, "--rope-factor")) cfg.rope.factor = (float)val_num(&a, "--rope-factor", 1, 1024);
        else if (flag(&a, "--rope-base")) cfg.rope.base = (float)val_num(&a, "--rope-base", 1.0001, 1e9);
        else if (flag(&a, "--max-pos")) cfg.max_pos = val_int(&a, "--max-pos", 1, 1 << 20);
        else if (flag(&a, "--norm")) {
            s = val_str(&a, "--norm");
            if (a.bad) break;
            if (strcmp(s, "rms") == 0) cfg.norm_rms = 1;
            else if (strcmp(s, "layer") == 0) cfg.norm_rms = 0;
            else return usage_error("--norm expects layer or rms, got '%s'", s);
        } else if (flag(&a, "--mlp")) {
            s = val_str(&a, "--mlp");
            if (!a.bad && genc_mlp_parse(s, &cfg.mlp)) return usage_error("--mlp: %s", genc_error());
        } else if (flag(&a, "--no-bias")) cfg.bias = 0;
        else if (flag(&a, "--tie")) cfg.tie_embeddings = 1;
        else if (flag(&a, "--dropout")) cfg.dropout = (float)val_num(&a, "--dropout", 0, 0.99);
        else if (flag(&a, "--seq")) tc.seq = val_int(&a, "--seq", 2, 65536);
        else if (flag(&a, "--batch")) tc.batch = val_int(&a, "--batch", 1, 65536);
        else if (flag(&a, "--lr")) tc.lr = (float)val_num(&a, "--lr", 1e-9, 9.99);
        else if (flag(&a, "--min-lr")) { tc.min_lr = (float)val_num(&a, "--min-lr", 0, 9.99); min_lr_given = 1; }
        else if (flag(&a, "--schedule")) {
            s = val_str(&a, "--schedule");
            if (a.bad) break;
            if (strcmp(s, "cosine") == 0) tc.schedule = GENC_LR_COSINE;
            else if (strcmp(s, "constant") == 0) tc.schedule = GENC_LR_CONSTANT;
            else return usage_error("--schedule expects cosine or constant, got '%s'", s);
        } else if (flag(&a, "--warmup")) tc.warmup = val_i64(&a, "--warmup", 0, (int64_t)1e12);
        else if (flag(&a, "--weight-decay")) tc.weight_decay = (float)val_num(&a, "--weight-decay", 0, 9.99);
        else if (flag(&a, "--clip")) tc.clip = (float)val_num(&a, "--clip", 0, 1e9);
        else return usage_error("unknown flag '%s' for train lm (see genc train lm --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (!min_lr_given) tc.min_lr = tc.lr / 10;
    if (tc.min_lr > tc.lr) return usage_error("--min-lr %g is larger than --lr %g", tc.min_lr, tc.lr);
    if (run.minutes > 0 && !steps_given) tc.steps = (int64_t)1e12;
    if (!run.resume) {
        if (genc_tf_config_validate(&cfg)) return usage_error("%s", genc_error());
        if (genc_lm_train_cfg_validate(&tc)) return usage_error("%s", genc_error());
    } else if (!steps_given) {
        tc.steps = 0; /* keep the checkpoint's */
    }
    if (threads) genc_set_threads(threads);
    int rc = genc_lm_train(&cfg, &tc, &run);
    progress_end();
    if (rc != GENC_OK) return runtime_error("%s", genc_error());
    return 0;
}
