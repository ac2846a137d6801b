/* genc: train, sample and evaluate generative models on the CPU.
 *   genc <verb> [family] [flags]      verbs: train, sample, eval, info, bench */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "genc/core.h"

static const char *USAGE =
    "genc — train, sample and evaluate generative models on the CPU\n"
    "\n"
    "usage: genc <verb> [family] [flags]\n"
    "\n"
    "verbs:\n"
    "  train lm      train a byte-level transformer language model\n"
    "  eval DIR      bits per character of a trained model on held-out text\n"
    "  sample DIR    generate text from a trained model\n"
    "  info PATH     configuration, parameter count, step and tensors of a checkpoint\n"
    "  bench lm      time training steps of a transformer LM (tokens/s)\n"
    "  compare lm    train AR and diffusion LMs for equal time; one table of bpc and speed\n"
    "\n"
    "Every verb takes --help. Example:\n"
    "  genc train lm --minutes 2 --out runs/demo && genc eval runs/demo && genc sample runs/demo\n";

int main(int argc, char **argv) {
    genc_blas_ensure_fast_kernel();
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        puts("genc 0.1.0");
        return 0;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(verb, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
    if (strcmp(verb, "sample") == 0) return cmd_sample(argc - 2, argv + 2);
    if (strcmp(verb, "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(verb, "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    if (strcmp(verb, "compare") == 0) return cmd_compare(argc - 2, argv + 2);
    return usage_error("unknown verb '%s' (try: genc --help)", verb);
}
