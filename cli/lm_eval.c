/* genc eval of an lm checkpoint: bits per character on held-out text. */
#include "lm_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char LM_EVAL_HELP[] =
    "  Bits per character (byte). Without --data: the held-out split of the corpus the model\n"
    "  was trained on; with --data: all of the given text file or folder.\n"
    "\n"
    "  --seq T      context length of the evaluation windows (default: the training length)\n"
    "  --batch B    windows per forward pass (default 8)\n"
    "  --rope-scaling S, --rope-factor F\n"
    "               evaluate a RoPE model with a context extension (linear, ntk,\n"
    "               dynamic-ntk, yarn) relative to its training length L (the checkpoint's\n"
    "               rope_trained_len, its --seq); the factor defaults to the checkpoint's\n"
    "               when that is above 1, else to --seq / L (at least 1)\n"
    "  --mc N       diffusion models: Monte-Carlo samples of the ELBO per window\n"
    "               (default 4); the standard error is printed with the estimate\n"
    "  --seed S     seed of the Monte-Carlo noise (default 1)\n"
    "  --eval-bytes N  evaluate only the first N bytes of the text (default: all of it)\n"
    "  --text TEXT  autoregressive models: the log-probability of each byte of TEXT after\n"
    "               [BOS], one line per byte (position, byte value, the byte, log p in\n"
    "               nats), then its bits per character; with --json one object\n"
    "               {\"tokens\", \"logp\", \"bpc\"}: to check a model token by token\n"
    "  --json       print one JSON object as the last line of stdout:\n"
    "               {\"bpc\", \"bpc_stderr\", \"mc\", \"nats\", \"tokens\", \"bytes\",\n"
    "                \"seconds\", \"seq\", \"step\", \"objective\"}\n";

/* --text: [BOS] + the bytes of text, each byte's log-probability given what precedes it. */
static int per_token(genc_lm *lm, const char *text, int seq, int json) {
    int64_t nb = (int64_t)strlen(text), n = nb + 1;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)n);
    float *logp = malloc(sizeof(float) * (size_t)n);
    if (!tok || !logp) { free(tok); free(logp); return runtime_error("out of memory"); }
    tok[0] = GENC_TOK_BOS;
    genc_tokenize((const uint8_t *)text, nb, tok + 1);
    if (genc_lm_token_logprobs(lm, tok, n, seq, logp)) {
        free(tok); free(logp);
        return runtime_error("%s", genc_error());
    }
    double nats = 0;
    for (int64_t i = 0; i < nb; i++) nats -= logp[i];
    double bpc = nats / (log(2.0) * (double)nb);
    if (json) {
        printf("{\"tokens\": [");
        for (int64_t i = 1; i < n; i++) printf("%s%d", i > 1 ? ", " : "", tok[i]);
        printf("], \"logp\": [");
        for (int64_t i = 0; i < nb; i++) printf("%s%.6f", i ? ", " : "", logp[i]);
        printf("], \"bpc\": %.6f}\n", bpc);
    } else {
        for (int64_t i = 0; i < nb; i++) {
            int b = tok[i + 1];
            printf("%lld\t%d\t%c\t%.6f\n", (long long)(i + 1), b, b >= 32 && b < 127 ? b : '.', logp[i]);
        }
        printf("%.4f bits per character over %lld bytes\n", bpc, (long long)nb);
    }
    free(tok);
    free(logp);
    return 0;
}

int lm_eval(genc_st_file *f, const char *dir, int argc, char **argv) {
    const char *data = NULL, *text = NULL;
    int seq = 0, batch = 8, json = 0, scaling_given = 0, mc = 4;
    int64_t max_bytes = 0;
    uint64_t seed = 1;
    genc_rope_scaling scaling = GENC_ROPE_SCALE_NONE;
    double factor = 0;
    args a = {argc, 0, argv, 0};
    while (a.i < a.argc && !a.bad) {
        if (flag(&a, "--help") || flag(&a, "-h")) return show_help(LM_EVAL_HELP);
        else if (flag(&a, "--data")) data = val_str(&a, "--data");
        else if (flag(&a, "--text")) text = val_str(&a, "--text");
        else if (flag(&a, "--seq")) seq = val_int(&a, "--seq", 1, 1 << 20);
        else if (flag(&a, "--batch")) batch = val_int(&a, "--batch", 1, 4096);
        else if (flag(&a, "--json")) json = 1;
        else if (flag(&a, "--mc")) mc = val_int(&a, "--mc", 1, 100000);
        else if (flag(&a, "--seed")) seed = val_u64(&a, "--seed");
        else if (flag(&a, "--eval-bytes")) max_bytes = val_i64(&a, "--eval-bytes", 1, (int64_t)1e15);
        else if (flag(&a, "--rope-scaling")) {
            const char *s = val_str(&a, "--rope-scaling");
            if (!a.bad && genc_rope_scaling_parse(s, &scaling)) return usage_error("--rope-scaling: %s", genc_error());
            scaling_given = 1;
        } else if (flag(&a, "--rope-factor")) factor = val_num(&a, "--rope-factor", 1, 1024);
        else return usage_error("unknown flag '%s' for eval (see genc eval --help)", a.argv[a.i]);
    }
    if (a.bad) return EXIT_USAGE;
    genc_lm lm;
    if (lm_open(f, dir, &lm)) return EXIT_RUNTIME;
    if (seq == 0) seq = lm.train.seq;
    if (scaling_given || factor > 0) {
        genc_rope_cfg *rc = &lm.model.cfg.rope;
        if (lm.model.cfg.pos != GENC_POS_ROPE && lm.model.cfg.pos != GENC_POS_ROPE_HALF) {
            const char *pn = genc_pos_name(lm.model.cfg.pos);
            genc_lm_free(&lm);
            return usage_error("--rope-scaling needs a RoPE model (this one uses %s)", pn);
        }
        if (scaling_given) rc->scaling = scaling;
        /* L is the checkpoint's rope_trained_len, as in a plain eval: one value everywhere */
        double ratio = (double)seq / (double)rc->trained_len;
        if (factor > 0) rc->factor = (float)factor;
        else if (rc->factor <= 1) rc->factor = (float)(ratio > 1 ? ratio : 1);
    }
    if (text) {
        int rc = per_token(&lm, text, seq, json);
        genc_lm_free(&lm);
        return rc;
    }
    genc_corpus corpus;
    const char *path = data ? data : (lm.train.data[0] ? lm.train.data : GENC_DEFAULT_CORPUS);
    if (genc_corpus_load(path, data ? GENC_SPLIT_ALL : GENC_SPLIT_TEST, 2, &corpus)) {
        genc_lm_free(&lm);
        return runtime_error("%s", genc_error());
    }
    int64_t n = corpus.n_tokens; /* --eval-bytes: the stream up to its N-th byte token */
    if (max_bytes > 0 && max_bytes < corpus.n_bytes)
        for (int64_t i = 0, b = 0; i < corpus.n_tokens; i++)
            if ((b += corpus.tokens[i] < 256) == max_bytes) { n = i + 1; break; }
    genc_lm_eval_result r;
    lm_show_progress(&lm, genc_objective_is_diffusion(lm.train.objective) ? "ELBO draws" : "tokens");
    int rc = genc_lm_eval_elbo(&lm, corpus.tokens, n, seq, batch, mc, seed, &r);
    progress_end();
    if (rc) {
        genc_corpus_free(&corpus);
        genc_lm_free(&lm);
        return runtime_error("%s", genc_error());
    }
    char bound[64] = "";
    char se[32] = "null"; /* JSON has no NaN */
    if (isfinite(r.bpc_stderr)) snprintf(se, sizeof se, "%.6f", r.bpc_stderr);
    if (r.mc > 0)
        snprintf(bound, sizeof bound, " ± %s (ELBO bound, %d samples/window)",
                 isfinite(r.bpc_stderr) ? se : "n/a with --mc 1", r.mc);
    char split[128] = "";
    if (!data) snprintf(split, sizeof split, " (held-out split: %s)", genc_corpus_split_rule(&corpus));
    printf("%s: %.4f%s bits per character on %s%s (%s, %lld bytes, seq %d, step %lld, %.1f s)\n", dir, r.bpc, bound,
           path, split, genc_objective_name(lm.train.objective), (long long)r.bytes, seq,
           (long long)lm.step, r.seconds);
    if (json)
        printf("{\"bpc\": %.6f, \"bpc_stderr\": %s, \"mc\": %d, \"nats\": %.3f, \"tokens\": %lld, "
               "\"bytes\": %lld, \"seconds\": %.3f, \"seq\": %d, \"step\": %lld, \"objective\": \"%s\"}\n",
               r.bpc, se, r.mc, r.nats, (long long)r.tokens, (long long)r.bytes, r.seconds, seq,
               (long long)lm.step, genc_objective_name(lm.train.objective));
    genc_corpus_free(&corpus);
    genc_lm_free(&lm);
    return 0;
}
