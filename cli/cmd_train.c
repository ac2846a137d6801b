/* genc train FAMILY: the shared run and optimizer flags are parsed here, once, for every
 * family; the family's own flags go to its handler (the FAMILIES table). */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help_families(void) {
    printf("usage: genc train FAMILY [flags]     (genc train FAMILY --help for its flags)\n\nfamilies:\n");
    for (int i = 0; i < N_FAMILIES; i++) printf("  %-12s %s\n", FAMILIES[i]->name, FAMILIES[i]->summary);
}

int cmd_train(int argc, char **argv) {
    if (wants_help(argc, argv)) {
        help_families();
        return 0;
    }
    char names[256];
    if (argc < 1 || argv[0][0] == '-')
        return usage_error("train needs a family: genc train FAMILY [flags] (families: %s; see genc train --help)",
                           family_names(names, sizeof names));
    const cli_family *fam = family_find(argv[0]);
    if (!fam)
        return usage_error("unknown family '%s' for train (available: %s)", argv[0], family_names(names, sizeof names));
    return fam->train(fam, argc - 1, argv + 1);
}

static void help(const cli_family *fam, const genc_train_cfg *d) {
    printf("usage: genc train %s [flags]\n\n%s.\n"
           "Writes DIR/model.safetensors (atomically: weights, optimizer state, configuration),\n"
           "DIR/metrics.csv and DIR/loss.png, and shows progress on stderr.\n\n",
           fam->name, fam->summary);
    printf("run:\n"
           "  --out DIR            run folder (default runs/%s)\n"
           "  --steps N            optimizer steps (default %lld; with --minutes, an upper bound)\n"
           "  --minutes M          train for M minutes of wall time (the schedule is sized from the\n"
           "                       speed of the first steps)\n"
           "  --resume             continue the run in --out exactly where it stopped (its settings\n"
           "                       come from the checkpoint; --steps may extend it)\n"
           "  --force              start over in an --out that already holds a run\n"
           "  --stop-at N          stop after step N as if interrupted, saving a checkpoint\n"
           "  --save-every N       checkpoint every N steps (default 500)\n"
           "  --eval-every N       held-out evaluation every N steps into DIR/eval.csv (default 0:\n"
           "                       never; lm: about 10 times a --minutes run)\n"
           "  --seed S             seed of init, data order, dropout and noise (default %llu)\n"
           "  --threads N          threads (default: all cores)\n",
           fam->name, (long long)d->steps, (unsigned long long)d->seed);
    printf("\noptimizer (AdamW; linear warmup, then cosine or constant):\n"
           "  --batch B            examples per step (default %d)\n"
           "  --lr LR              peak learning rate (default %g)\n"
           "  --min-lr LR          final learning rate of the cosine (default lr/10)\n"
           "  --schedule S         cosine|constant (default %s)\n"
           "  --warmup N           linear warmup steps (default %lld, at most a fifth of the run)\n"
           "  --weight-decay W     decoupled weight decay on the family's matrices (default %g)\n"
           "  --clip G             clip the global gradient norm to G (default %g; 0 disables)\n"
           "  --ema D              also keep an exponential moving average of the weights, decay\n"
           "                       min(D, (1+t)/(10+t)) at step t (e.g. 0.999); eval and sample\n"
           "                       then use it (default: off)\n",
           d->batch, d->lr, d->schedule == GENC_LR_CONSTANT ? "constant" : "cosine", (long long)d->warmup,
           d->weight_decay, d->clip);
    printf("\nExit status: 0 done; 1 error (a loss or gradient norm that is not finite stops the run\n"
           "and keeps the last checkpoint); 2 bad flags; 130 after Ctrl-C (SIGINT) and 143 after\n"
           "SIGTERM: the current step finishes and a checkpoint is saved, so --resume continues\n"
           "exactly. An --out that holds a run is refused unless --resume or --force.\n"
           "\n%s flags:\n%s",
           fam->name, fam->train_help);
}

static void on_progress(const genc_train_progress *p, void *user) {
    char stats[160];
    snprintf(stats, sizeof stats, "loss %.4f%s%s lr %.2e |g| %.2f %.0f %s", p->loss, p->loss_unit ? " " : "",
             p->loss_unit ? p->loss_unit : "", p->lr, p->grad_norm, p->items_per_s, (const char *)user);
    progress_show(p->step, p->total, stats, p->elapsed_s, p->eta_s);
}

/* --out --steps --minutes --resume --force --stop-at --save-every --eval-every --threads:
 * where and how long to run (allowed with --resume). */
static int run_flag(args *a, train_opts *o) {
    genc_run_opts *run = &o->run;
    if (flag(a, "--out")) run->out_dir = val_str(a, "--out");
    else if (flag(a, "--steps")) { o->cfg.steps = val_i64(a, "--steps", 1, (int64_t)1e12); o->steps_given = 1; }
    else if (flag(a, "--minutes")) run->minutes = val_num(a, "--minutes", 0.01, 1e6);
    else if (flag(a, "--resume")) run->resume = 1;
    else if (flag(a, "--force")) run->force = 1;
    else if (flag(a, "--stop-at")) run->stop_at = val_i64(a, "--stop-at", 1, (int64_t)1e12);
    else if (flag(a, "--save-every")) run->save_every = val_i64(a, "--save-every", 0, (int64_t)1e12);
    else if (flag(a, "--eval-every")) { run->eval_every = val_i64(a, "--eval-every", 0, (int64_t)1e12); o->eval_given = 1; }
    else if (flag(a, "--threads")) o->threads = val_int(a, "--threads", 1, 1024);
    else return 0;
    return 1;
}

/* The optimizer settings (part of the configuration a checkpoint keeps). */
static int optim_flag(args *a, genc_train_cfg *c, int *min_lr_given, int *warmup_given) {
    if (flag(a, "--seed")) c->seed = val_u64(a, "--seed");
    else if (flag(a, "--batch")) c->batch = val_int(a, "--batch", 1, 65536);
    else if (flag(a, "--lr")) c->lr = (float)val_num(a, "--lr", 1e-9, 9.99);
    else if (flag(a, "--min-lr")) { c->min_lr = (float)val_num(a, "--min-lr", 0, 9.99); *min_lr_given = 1; }
    else if (flag(a, "--warmup")) { c->warmup = val_i64(a, "--warmup", 0, (int64_t)1e12); *warmup_given = 1; }
    else if (flag(a, "--weight-decay")) c->weight_decay = (float)val_num(a, "--weight-decay", 0, 9.99);
    else if (flag(a, "--clip")) c->clip = (float)val_num(a, "--clip", 0, 1e9);
    else if (flag(a, "--ema")) c->ema = (float)val_num(a, "--ema", 0, 0.999999);
    else if (flag(a, "--schedule")) {
        const char *s = val_str(a, "--schedule");
        if (a->bad) return 1;
        if (strcmp(s, "cosine") == 0) c->schedule = GENC_LR_COSINE;
        else if (strcmp(s, "constant") == 0) c->schedule = GENC_LR_CONSTANT;
        else { usage_error("--schedule expects cosine or constant, got '%s'", s); a->bad = 1; }
    } else return 0;
    return 1;
}

int train_parse(const cli_family *fam, int argc, char **argv, train_opts *o, family_flag_fn fflag, void *state) {
    static char out[128];
    memset(o, 0, sizeof *o);
    genc_train_cfg_default(&o->cfg);
    if (fam->defaults) fam->defaults(&o->cfg);
    snprintf(out, sizeof out, "runs/%s", fam->name);
    genc_run_opts *run = &o->run;
    run->out_dir = out;
    run->save_every = 500;
    run->catch_signals = 1;
    run->progress = on_progress;
    run->message = cli_message;
    run->user = (void *)(fam->rate_unit ? fam->rate_unit : "/s");
    genc_train_cfg *c = &o->cfg;
    int min_lr_given = 0, warmup_given = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        const char *arg = a.argv[a.i];
        if (flag(&a, "--help") || flag(&a, "-h")) {
            help(fam, c);
            return 0;
        } else if (run_flag(&a, o)) {
        } else if (optim_flag(&a, c, &min_lr_given, &warmup_given) || (fflag && fflag(&a, state))) {
            if (!o->config_flag) o->config_flag = arg;
        } else
            return usage_error("unknown flag '%s' for train %s (see genc train %s --help)", arg, fam->name, fam->name);
    }
    if (a.bad) return EXIT_USAGE;
    if (run->resume && run->force)
        return usage_error("--resume continues the run in --out and --force starts it over: give one of them");
    if (run->resume && o->config_flag)
        return usage_error("%s: a resumed run keeps its checkpoint's settings (only --out, --steps, --minutes, "
                           "--stop-at, --save-every, --eval-every and --threads apply)", o->config_flag);
    if (!min_lr_given) c->min_lr = c->lr / 10;
    if (c->min_lr > c->lr) return usage_error("--min-lr %g is larger than --lr %g", c->min_lr, c->lr);
    /* the default warmup is at most a fifth of a short run (--minutes runs: once sized) */
    if (!warmup_given && o->steps_given && c->warmup > c->steps / 5) c->warmup = c->steps / 5;
    if (run->minutes > 0 && !o->steps_given) c->steps = (int64_t)1e12;
    if (!run->resume && genc_train_cfg_validate(c)) return usage_error("%s", genc_error());
    if (!run->resume && genc_trainer_check_ranks(c)) return usage_error("%s", genc_error());
    if (run->resume && !o->steps_given) c->steps = 0; /* keep the checkpoint's */
    if (o->threads) genc_set_threads(o->threads);
    return -1;
}

int train_exit(int rc, const genc_train_result *res) {
    progress_end();
    if (rc != GENC_OK) return runtime_error("%s", genc_error());
    return res->signal ? 128 + res->signal : 0;
}
