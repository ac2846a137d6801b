/* genc capfilt: the CapFilt bootstrap (BLIP §3.3) on captioned Fashion-MNIST with a known
 * fraction of wrong captions; prints what the filter removed and kept and the zero-shot
 * accuracy of CLIP models trained on the noisy and the cleaned set. */
#include "blip_cli.h"

#include <stdio.h>
#include <string.h>

static const char HELP[] =
    "usage: genc capfilt [--corrupt F] [--images N] [--steps N] [--clip-steps N] [flags]\n"
    "\n"
    "CapFilt on a training set with known noise: the first N Fashion-MNIST training images get\n"
    "one caption each, a fraction F of them naming a wrong class. A BLIP model trained on that\n"
    "set captions every image (nucleus sampling) and its ITM head filters the original and the\n"
    "synthetic pairs. Two CLIP models of equal size and steps are trained, on the noisy set and\n"
    "on the cleaned one, and compared by zero-shot accuracy on the test set. Runs are written\n"
    "to DIR/blip, DIR/clip-noisy and DIR/clip-clean (genc eval reads each).\n"
    "  --corrupt F        fraction of wrong captions, in [0, 0.9] (default 0.3)\n"
    "  --images N         training images (default 10000)\n"
    "  --steps N          BLIP steps (default 800)\n"
    "  --clip-steps N     steps of each CLIP run (default 400)\n"
    "  --minutes M        instead of steps: M minutes in all, half for BLIP, a quarter per CLIP\n"
    "  --batch B          batch of every run (default 32)\n"
    "  --threshold T      ITM p(matched) a pair needs to be kept (default 1/3: ITM trains on\n"
    "                     one positive per two negatives, so 1/3 is even odds)\n"
    "  --top-p P          nucleus sampling of the synthetic captions (default 0.9)\n"
    "  --test-images N    zero-shot test images (default 10000)\n"
    "  --seed S           seed of the noise, the runs and the captions (default 1)\n"
    "  --out DIR          where the runs go (default runs/capfilt)\n"
    "  --threads N        threads (default: all cores)\n"
    "  --json             one JSON object as the last line of stdout\n"
    "BLIP's towers take the model flags of genc train blip (--dim, --patch, ...; default dim 48,\n"
    "patch 7, 2 + 2 layers); the CLIP models are dim 32, patch 7, one block per tower.\n";

static void on_progress(const genc_train_progress *p, void *user) {
    (void)user;
    char stats[96];
    snprintf(stats, sizeof stats, "loss %.4f %.0f pairs/s", p->loss, p->items_per_s);
    progress_show(p->step, p->total, stats, p->elapsed_s, p->eta_s);
}

int cmd_capfilt(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(HELP);
    genc_capfilt_opts o;
    genc_capfilt_opts_default(&o);
    o.out_dir = "runs/capfilt";
    int json = 0, threads = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(HELP);
        else if (flag(&a, "--corrupt")) o.corrupt = val_num(&a, "--corrupt", 0, 0.9);
        else if (flag(&a, "--images")) o.images = val_i64(&a, "--images", 100, 60000);
        else if (flag(&a, "--steps")) o.blip_train.steps = val_i64(&a, "--steps", 1, 1000000);
        else if (flag(&a, "--clip-steps")) o.clip_train.steps = val_i64(&a, "--clip-steps", 1, 1000000);
        else if (flag(&a, "--minutes")) o.minutes = val_num(&a, "--minutes", 0.05, 1e4);
        else if (flag(&a, "--batch")) o.blip_train.batch = o.clip_train.batch = val_int(&a, "--batch", 2, 4096);
        else if (flag(&a, "--threshold")) o.threshold = (float)val_num(&a, "--threshold", 0, 1);
        else if (flag(&a, "--top-p")) o.caption.top_p = (float)val_num(&a, "--top-p", 1e-6, 1);
        else if (flag(&a, "--test-images")) o.test_images = val_i64(&a, "--test-images", 1, 10000);
        else if (flag(&a, "--seed")) o.blip_train.seed = o.clip_train.seed = o.caption.seed = val_u64(&a, "--seed");
        else if (flag(&a, "--out")) o.out_dir = val_str(&a, "--out");
        else if (flag(&a, "--threads")) threads = val_int(&a, "--threads", 1, 1024);
        else if (flag(&a, "--json")) json = 1;
        else if (blip_flag(&a, &o.blip)) {
        } else return usage_error("unknown flag '%s' for capfilt (see genc capfilt --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    if (blip_check_config(&o.blip)) return EXIT_USAGE;
    if (o.minutes > 0) o.blip_train.steps = o.clip_train.steps = (int64_t)1e12; /* the budget decides */
    /* short runs: warmup at most a fifth of each */
    if (o.blip_train.warmup > o.blip_train.steps / 5) o.blip_train.warmup = o.blip_train.steps / 5;
    if (o.clip_train.warmup > o.clip_train.steps / 5) o.clip_train.warmup = o.clip_train.steps / 5;
    if (threads) genc_set_threads(threads);
    o.message = cli_message;
    o.progress = on_progress;
    genc_capfilt_result r;
    int rc = genc_capfilt(&o, &r);
    progress_end();
    if (rc) return runtime_error("capfilt: %s", genc_error());
    int64_t right = r.original - r.corrupted;
    printf("CapFilt on %lld training pairs, %lld (%.0f%%) with a wrong class name (%.1f min):\n", (long long)r.original,
           (long long)r.corrupted, 100.0 * r.corrupted / r.original, r.total_minutes);
    printf("  filter removed %lld of %lld wrong captions (%.1f%%) and kept %lld of %lld right ones (%.1f%%)\n",
           (long long)r.removed_corrupted, (long long)r.corrupted, r.corrupted ? 100.0 * r.removed_corrupted / r.corrupted : 0.0,
           (long long)r.kept_clean, (long long)right, right ? 100.0 * r.kept_clean / right : 0.0);
    printf("  captioner wrote %lld captions, %lld naming a wrong class; the filter kept %lld (%lld wrong)\n",
           (long long)r.synthetic, (long long)r.synthetic_wrong, (long long)r.synthetic_kept, (long long)r.synthetic_kept_wrong);
    printf("  cleaned set: %lld pairs\n", (long long)r.cleaned);
    printf("  zero-shot top-1 (ensemble) of CLIP trained on the noisy set: %.4f, on the cleaned set: %.4f\n",
           r.zero_shot_noisy, r.zero_shot_clean);
    if (json)
        printf("{\"original\": %lld, \"corrupted\": %lld, \"removed_corrupted\": %lld, \"kept_clean\": %lld, "
               "\"synthetic\": %lld, \"synthetic_wrong\": %lld, \"synthetic_kept\": %lld, \"synthetic_kept_wrong\": %lld, "
               "\"cleaned\": %lld, \"zero_shot_noisy\": %.6f, \"zero_shot_clean\": %.6f, \"minutes\": %.3f}\n",
               (long long)r.original, (long long)r.corrupted, (long long)r.removed_corrupted, (long long)r.kept_clean,
               (long long)r.synthetic, (long long)r.synthetic_wrong, (long long)r.synthetic_kept,
               (long long)r.synthetic_kept_wrong, (long long)r.cleaned, r.zero_shot_noisy, r.zero_shot_clean,
               r.total_minutes);
    return 0;
}
