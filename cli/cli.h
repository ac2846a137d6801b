/* Shared helpers of the genc command: strict flag parsing, errors, progress display. */
#ifndef GENC_CLI_H
#define GENC_CLI_H

#include <stdint.h>

#include "genc/train.h"

#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

/* Print "genc: error: ..." and return the exit code (for `return usage_error(...)`). */
int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int runtime_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Flag cursor over argv. */
typedef struct args {
    int argc, i;
    char **argv;
    int bad; /* a usage error was printed */
} args;

/* 1 if argv[i] is `name`, consuming it. */
int flag(args *a, const char *name);
/* Value of the flag just matched; sets a->bad (and prints) when missing or malformed. */
const char *val_str(args *a, const char *name);
int val_int(args *a, const char *name, int lo, int hi);
int64_t val_i64(args *a, const char *name, int64_t lo, int64_t hi);
double val_num(args *a, const char *name, double lo, double hi);
uint64_t val_u64(args *a, const char *name);
/* --invert auto|yes|no of the verbs that read a picture: -1 (auto), 1 or 0 */
int val_invert(args *a, const char *name);

/* 1 when the verb's first argument asks for help (--help or -h). */
int wants_help(int argc, char **argv);
int show_help(const char *text);           /* prints it on stdout, returns 0 */
/* A library message (genc_run_opts.message): ends any progress line, prints "genc: ...". */
void cli_message(const char *line, void *user);

/* Progress line: a bar on a terminal, periodic plain lines otherwise. */
void progress_show(int64_t step, int64_t total, const char *stats, double elapsed, double eta);
void progress_end(void);

/* ---------------------------------------------------------------- families (families.c)
 * One entry per model family. Adding a family: one file cli/<family>.c defining its entry
 * (`const cli_family CLASSIFIER_FAMILY = {...}`) and one row in FAMILIES. train, eval and
 * sample handlers parse their own verb's flags; the shared run and optimizer flags of train
 * are parsed once, by train_parse (cmd_train.c). */
typedef struct cli_family cli_family;
struct cli_family {
    const char *name;          /* genc train NAME; the checkpoint's "family" */
    const char *summary;       /* one line for genc --help */
    const char *rate_unit;     /* training throughput in the progress line: "tok/s" */
    const char *train_help;    /* the family's own train flags, shown after the shared ones */
    const char *eval_help;     /* genc eval flags (NULL: no eval) */
    const char *sample_help;   /* genc sample flags (NULL: no sampling) */
    void (*defaults)(genc_train_cfg *cfg);            /* the family's shared-flag defaults */
    int (*train)(const cli_family *fam, int argc, char **argv);
    /* f is the opened checkpoint of path (the handler may genc_st_free it early) */
    int (*eval)(genc_st_file *f, const char *path, int argc, char **argv);
    int (*sample)(genc_st_file *f, const char *path, int argc, char **argv);
    void (*info)(const genc_st_file *f);              /* a summary line (may be NULL) */
};

extern const cli_family *const FAMILIES[];
extern const int N_FAMILIES;
const cli_family *family_find(const char *name);
/* "lm, classifier" into buf */
const char *family_names(char *buf, size_t cap);

/* ---------------------------------------------------------------- train (cmd_train.c) */
typedef struct train_opts {
    genc_train_cfg cfg;        /* shared optimizer settings (new runs) */
    genc_run_opts run;         /* where and how long to run */
    int steps_given;
    int eval_given;            /* --eval-every given (0 included: off) */
    int threads;
    const char *config_flag;   /* the first flag given that sets the configuration (refused with
                                  --resume: a resumed run keeps its checkpoint's) */
} train_opts;

/* A family's own flag: 1 if argv[a->i] is one (consumed; a->bad set on a bad value), else 0. */
typedef int (*family_flag_fn)(args *a, void *state);

/* Parse `genc train FAMILY` flags: the shared ones into o (after fam->defaults), the rest
 * through flag. Returns -1 to go on, or the exit code to return now (help shown: 0; usage
 * error: 2). Sets threads, fills run callbacks (progress bar, messages, signals). */
int train_parse(const cli_family *fam, int argc, char **argv, train_opts *o, family_flag_fn flag, void *state);
/* The exit code of a finished run: 0, 1 (error, printed), 128 + signal after Ctrl-C/SIGTERM. */
int train_exit(int rc, const genc_train_result *res);

/* ---------------------------------------------------------------- eval, sample, info (cmd_model.c)
 * Read the checkpoint named by argv[0] and dispatch on its family. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
