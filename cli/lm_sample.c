/* genc sample of an lm checkpoint: generated text on stdout. */
#include "lm_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char LM_SAMPLE_HELP[] =
    "  Generate text (autoregressive models: with a KV cache).\n"
    "\n"
    "  --prompt TEXT      text to continue (default: empty, i.e. a new document)\n"
    "  --len N            bytes to generate per sample (default 200)\n"
    "  --n K              number of samples (default 1)\n"
    "  --temperature X    softmax temperature; 0 is greedy (default 0.8)\n"
    "  --top-k K          keep only the K most likely bytes (default 0: off)\n"
    "  --top-p P          nucleus sampling: smallest set with mass >= P (default 1: off)\n"
    "  --seed S           sampling seed (default 1)\n"
    "  --no-stop          keep going past the end-of-document token\n"
    "\n"
    "diffusion models (mdlm, llada, bd3, sedd-*):\n"
    "  --steps N          denoising steps (default: --len, one token per step)\n"
    "  --block N          semi-autoregressive blocks of N tokens, left to right (default:\n"
    "                     the whole length; bd3: the model's block size)\n"
    "  --remask R         low-confidence (default) or random: which predictions to commit\n"
    "  --cfg W            classifier-free guidance weight with --prompt (default 0: off)\n"
    "  --sampler S        llada (default for masked models), ddpm-cache, first-hitting,\n"
    "                     euler, tau-leaping (default for SEDD)\n";

int lm_sample(genc_st_file *f, const char *dir, int argc, char **argv) {
    genc_lm_sample_opts o;
    genc_lm_sample_opts_default(&o);
    const char *prompt = "";
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(LM_SAMPLE_HELP);
        else if (flag(&a, "--prompt")) prompt = val_str(&a, "--prompt");
        else if (flag(&a, "--len")) o.len = val_int(&a, "--len", 1, 1 << 20);
        else if (flag(&a, "--n")) o.n = val_int(&a, "--n", 1, 1024);
        else if (flag(&a, "--temperature")) o.temperature = (float)val_num(&a, "--temperature", 0, 100);
        else if (flag(&a, "--top-k")) o.top_k = val_int(&a, "--top-k", 0, 1 << 20);
        else if (flag(&a, "--top-p")) o.top_p = (float)val_num(&a, "--top-p", 1e-6, 1);
        else if (flag(&a, "--seed")) o.seed = val_u64(&a, "--seed");
        else if (flag(&a, "--no-stop")) o.stop_at_eos = 0;
        else if (flag(&a, "--steps")) o.steps = val_int(&a, "--steps", 1, 1 << 20);
        else if (flag(&a, "--block")) o.block = val_int(&a, "--block", 1, 1 << 20);
        else if (flag(&a, "--cfg")) o.cfg = (float)val_num(&a, "--cfg", 0, 100);
        else if (flag(&a, "--remask")) {
            const char *s = val_str(&a, "--remask");
            if (a.bad) break;
            if (strcmp(s, "low-confidence") == 0) o.remask = GENC_REMASK_LOW_CONFIDENCE;
            else if (strcmp(s, "random") == 0) o.remask = GENC_REMASK_RANDOM;
            else return usage_error("--remask expects low-confidence or random, got '%s'", s);
        } else if (flag(&a, "--sampler")) {
            const char *s = val_str(&a, "--sampler");
            if (!a.bad && genc_sampler_parse(s, &o.sampler)) return usage_error("--sampler: %s", genc_error());
        }
        else return usage_error("unknown flag '%s' for sample (see genc sample --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_lm lm;
    if (lm_open(f, dir, &lm)) return EXIT_RUNTIME;
    if (genc_lm_sample_validate(&lm, prompt, &o)) {
        genc_lm_free(&lm);
        return usage_error("%s", genc_error());
    }
    int32_t **out = calloc((size_t)o.n, sizeof *out);
    int *n_out = calloc((size_t)o.n, sizeof *n_out);
    lm_show_progress(&lm, genc_objective_is_diffusion(lm.train.objective) ? "denoising steps" : "tokens");
    double t0 = genc_time_s();
    int failed = !out || !n_out || genc_lm_sample(&lm, prompt, &o, out, n_out);
    double secs = genc_time_s() - t0;
    progress_end();
    if (failed) {
        free(out); free(n_out); genc_lm_free(&lm);
        return runtime_error("%s", out ? genc_error() : "out of memory");
    }
    int64_t generated = 0;
    for (int i = 0; i < o.n; i++) generated += n_out[i];
    char *buf = malloc((size_t)o.len * 8 + 1);
    for (int i = 0; i < o.n; i++) {
        int64_t nb = genc_detokenize(out[i], n_out[i], 1, buf, (int64_t)o.len * 8);
        if (o.n > 1) { /* the header on stderr: stdout holds only the text */
            fflush(stdout);
            fprintf(stderr, "--- sample %d ---\n", i + 1);
        }
        printf("%s", prompt);
        fwrite(buf, 1, (size_t)nb, stdout);
        printf("\n");
        free(out[i]);
    }
    free(buf);
    free(out);
    free(n_out);
    fflush(stdout);
    fprintf(stderr, "genc: sampled %lld tokens in %.2f s (%.0f tokens/s)\n", (long long)generated, secs,
            secs > 0 ? (double)generated / secs : 0.0);
    genc_lm_free(&lm);
    return 0;
}
