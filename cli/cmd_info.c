/* genc info: what a checkpoint holds. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "genc/lm.h"

static const char *HELP =
    "usage: genc info DIR|FILE [--tensors]\n"
    "\n"
    "Print a checkpoint's configuration, parameter count, training step and metadata; with\n"
    "--tensors (or for files that are not genc checkpoints) the full tensor list.\n";

int cmd_info(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(HELP);
    if (argc < 1 || argv[0][0] == '-') return usage_error("info needs a run folder or a .safetensors file (see --help)");
    int tensors = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc) {
        if (flag(&a, "--tensors")) tensors = 1;
        else if (flag(&a, "--help")) return show_help(HELP);
        else return usage_error("unknown flag '%s' for info", a.argv[a.i]);
    }
    char path[4096];
    genc_lm_checkpoint_path(argv[0], path, sizeof path);
    genc_st_file f;
    if (genc_st_read(path, &f)) return runtime_error("%s", genc_error());
    printf("file: %s (%zu bytes)\n", path, f.size);
    const char *fam = genc_st_meta(&f, "family");
    int64_t nparam = 0, nopt = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        int64_t n = 1;
        for (int d = 0; d < f.tensors[i].ndim; d++) n *= f.tensors[i].shape[d];
        if (strncmp(f.tensors[i].name, "optim.", 6) == 0) nopt += n;
        else nparam += n;
    }
    for (int i = 0; i < f.n_meta; i++) printf("%s: %s\n", f.meta[i].key, f.meta[i].value);
    printf("parameters: %lld (%.2f M)%s\n", (long long)nparam, nparam / 1e6, nopt ? ", plus optimizer state" : "");
    printf("tensors: %d\n", f.n_tensors);
    if (tensors || !fam)
        for (int i = 0; i < f.n_tensors; i++) {
            const genc_st_tensor *t = &f.tensors[i];
            printf("  %-40s %-4s [", t->name, genc_dtype_name(t->dtype));
            for (int d = 0; d < t->ndim; d++) printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
            printf("]\n");
        }
    genc_st_free(&f);
    return 0;
}
