/* genc eval, sample and info: read the checkpoint, find its family in the FAMILIES table and
 * hand it over. A file of a newer format version or an unknown family is refused here. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int help_verb(const char *verb, const char *what, int sample) {
    printf("usage: genc %s DIR|FILE [flags]\n\n%s. The family is read from the checkpoint\n"
           "(DIR/model.safetensors); its flags:\n",
           verb, what);
    for (int i = 0; i < N_FAMILIES; i++) {
        const char *h = sample ? FAMILIES[i]->sample_help : FAMILIES[i]->eval_help;
        if (h) printf("\n%s (%s):\n%s", FAMILIES[i]->name, FAMILIES[i]->summary, h);
    }
    return 0;
}

/* The family of an opened genc checkpoint, or NULL with the error printed. */
static const cli_family *family_of(const genc_st_file *f, const char *path) {
    const char *name = genc_st_meta(f, "family");
    const cli_family *fam = name ? family_find(name) : NULL;
    if (!fam) {
        char names[256];
        runtime_error("%s: a checkpoint of family '%s', which this build of genc does not know (it knows: %s)", path,
                      name ? name : "?", family_names(names, sizeof names));
    }
    return fam;
}

/* `genc sample lm DIR`: train, bench and compare take a family, eval, sample and info read it
 * from the checkpoint, so a family name in front of the path (that is not itself a path) is
 * skipped and returned, to be checked against the checkpoint's. */
static const char *skip_family_word(int *argc, char ***argv) {
    struct stat st;
    if (*argc < 2 || !family_find((*argv)[0]) || stat((*argv)[0], &st) == 0 || (*argv)[1][0] == '-') return NULL;
    const char *named = (*argv)[0];
    (*argc)--;
    (*argv)++;
    return named;
}

/* The family named on the command line (if any) must be the checkpoint's. */
static int family_matches(const char *named, const cli_family *fam, const char *verb, const char *path) {
    if (!named || strcmp(named, fam->name) == 0) return 1;
    usage_error("%s holds a %s model, not %s (%s reads the family from the checkpoint: genc %s %s)", path, fam->name,
                named, verb, verb, path);
    return 0;
}

static int dispatch(int argc, char **argv, const char *verb, const char *what, int sample) {
    if (wants_help(argc, argv)) return help_verb(verb, what, sample);
    const char *named = skip_family_word(&argc, &argv);
    if (argc < 1 || argv[0][0] == '-')
        return usage_error("%s needs a run folder or checkpoint: genc %s DIR (see --help)", verb, verb);
    genc_st_file f;
    if (genc_checkpoint_open(argv[0], &f)) return runtime_error("%s", genc_error());
    const cli_family *fam = family_of(&f, argv[0]);
    int rc = EXIT_RUNTIME;
    if (fam && !family_matches(named, fam, verb, argv[0])) rc = EXIT_USAGE;
    else if (fam) {
        int (*handler)(genc_st_file *, const char *, int, char **) = sample ? fam->sample : fam->eval;
        if (handler) rc = handler(&f, argv[0], argc - 1, argv + 1);
        else rc = usage_error("%s models have no %s", fam->name, verb);
    }
    genc_st_free(&f);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    return dispatch(argc, argv, "eval", "Evaluate a trained model on held-out data", 0);
}

int cmd_sample(int argc, char **argv) { return dispatch(argc, argv, "sample", "Generate from a trained model", 1); }

static const char *INFO_HELP =
    "usage: genc info DIR|FILE [--tensors]\n"
    "\n"
    "Print a checkpoint's family, format version, configuration, parameter count, training step\n"
    "and metadata; with --tensors (or for safetensors files that are not genc checkpoints) the\n"
    "full tensor list.\n";

int cmd_info(int argc, char **argv) {
    if (wants_help(argc, argv)) return show_help(INFO_HELP);
    const char *named = skip_family_word(&argc, &argv);
    if (argc < 1 || argv[0][0] == '-') return usage_error("info needs a run folder or a .safetensors file (see --help)");
    int tensors = 0;
    args a = {argc, 1, argv, 0};
    while (a.i < a.argc) {
        if (flag(&a, "--tensors")) tensors = 1;
        else if (flag(&a, "--help")) return show_help(INFO_HELP);
        else return usage_error("unknown flag '%s' for info", a.argv[a.i]);
    }
    char path[4096];
    genc_checkpoint_path(argv[0], path, sizeof path);
    genc_st_file f;
    /* any safetensors file may be listed; one that says it is a genc checkpoint must be one
     * this build can read */
    if (genc_st_read(path, &f)) return runtime_error("%s", genc_error());
    int genc_file = genc_st_meta(&f, "format") || genc_st_meta(&f, "family");
    const cli_family *fam = NULL;
    if (genc_file && genc_checkpoint_check(&f, path)) {
        genc_st_free(&f);
        return runtime_error("%s", genc_error());
    }
    if (genc_file && !(fam = family_of(&f, path))) {
        genc_st_free(&f);
        return EXIT_RUNTIME;
    }
    if (named && (!fam || !family_matches(named, fam, "info", argv[0]))) {
        if (!fam) usage_error("%s is not a genc checkpoint, so not a %s model", path, named);
        genc_st_free(&f);
        return EXIT_USAGE;
    }
    printf("file: %s (%zu bytes)\n", path, f.size);
    int64_t nparam = genc_checkpoint_param_count(&f), nstate = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        int64_t n = 1;
        for (int d = 0; d < f.tensors[i].ndim; d++) n *= f.tensors[i].shape[d];
        nstate += n;
    }
    nstate -= nparam;
    for (int i = 0; i < f.n_meta; i++) printf("%s: %s\n", f.meta[i].key, f.meta[i].value);
    if (fam && fam->info) fam->info(&f);
    printf("parameters: %lld (%.2f M)%s\n", (long long)nparam, nparam / 1e6,
           nstate ? ", plus optimizer state / EMA" : "");
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
