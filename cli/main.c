/* genc: train, sample and evaluate generative models on the CPU.
 *   genc <verb> [family] [flags]      verbs: train, sample, eval, info, bench, compare */
#include "cli.h"
#include "blip_cli.h"
#include "classifier_cli.h"
#include "flow_cli.h"

#include <stdio.h>
#include <string.h>

#include "genc/core.h"
#include "genc/dist.h"

#ifndef GENC_VERSION
#define GENC_VERSION "unknown"
#endif

static void usage(FILE *out) {
    fprintf(out,
            "genc %s — train, sample and evaluate generative models on the CPU\n"
            "\n"
            "usage: genc <verb> [family] [flags]\n"
            "\n"
            "verbs:\n"
            "  train FAMILY  train a model of a family (genc train FAMILY --help for its flags)\n"
            "  eval DIR      evaluate a trained model on held-out data\n"
            "  sample DIR    generate from a trained model\n"
            "  info PATH     family, configuration, parameter count, step and tensors of a checkpoint\n"
            "  classify DIR  the top classes a trained classifier gives a PNG picture\n"
            "  embed DIR     embeddings of texts and pictures by an image-text model (safetensors)\n"
            "  caption DIR   captions of a PNG picture by a BLIP model (nucleus or beam search)\n"
            "  capfilt       BLIP's CapFilt bootstrap on captions with a known fraction of wrong ones\n"
            "  encode DIR    images to the latents of a flow (exact; genc encode --help)\n"
            "  decode DIR    latents back to images through the inverse flow\n"
            "  bench lm      time training steps of a transformer LM (tokens/s)\n"
            "  bench classifier  time training steps of an image classifier (images/s)\n"
            "  bench clip    time training steps of a CLIP / SigLIP model (images/s)\n"
            "  compare lm    train AR and diffusion LMs for equal time; one table of bpc and speed\n"
            "\n"
            "families (eval, sample and info read the family from the checkpoint):\n",
            GENC_VERSION);
    for (int i = 0; i < N_FAMILIES; i++) fprintf(out, "  %-12s  %s\n", FAMILIES[i]->name, FAMILIES[i]->summary);
    fprintf(out, "\n"
                 "Every verb takes --help; genc --version prints the version. Example:\n"
                 "  genc train lm --minutes 2 --out runs/demo && genc eval runs/demo && genc sample runs/demo\n");
}

static int run_verb(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("genc %s (checkpoint format genc-%d; MPI data parallelism: %s)\n", GENC_VERSION, GENC_CHECKPOINT_VERSION,
               genc_dist_built() ? "built in" : "not built");
        return 0;
    }
    const char *verb = argv[1];
    if (genc_dist_size() > 1 && strcmp(verb, "train") != 0)
        return usage_error("'%s' runs in one process: under mpirun only train is distributed (docs/distributed.md)", verb);
    if (strcmp(verb, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(verb, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
    if (strcmp(verb, "sample") == 0) return cmd_sample(argc - 2, argv + 2);
    if (strcmp(verb, "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(verb, "classify") == 0) return cmd_classify(argc - 2, argv + 2);
    if (strcmp(verb, "embed") == 0) return cmd_embed(argc - 2, argv + 2);
    if (strcmp(verb, "caption") == 0) return cmd_caption(argc - 2, argv + 2);
    if (strcmp(verb, "capfilt") == 0) return cmd_capfilt(argc - 2, argv + 2);
    if (strcmp(verb, "encode") == 0) return cmd_encode(argc - 2, argv + 2);
    if (strcmp(verb, "decode") == 0) return cmd_decode(argc - 2, argv + 2);
    if (strcmp(verb, "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    if (strcmp(verb, "compare") == 0) return cmd_compare(argc - 2, argv + 2);
    return usage_error("unknown verb '%s' (try: genc --help)", verb);
}

/* Under mpirun every rank runs this program; genc/dist.h joins the job (or does nothing). A
 * runtime error may be one rank's alone while the others wait in a collective: that rank
 * aborts the job (non-zero everywhere) rather than leave them hanging. */
int main(int argc, char **argv) {
    genc_blas_ensure_fast_kernel();
    if (genc_dist_init(&argc, &argv)) return runtime_error("%s", genc_error());
    int rc = run_verb(argc, argv);
    genc_dist_finish(rc, rc != EXIT_RUNTIME);
    return rc;
}
