/* Shared helpers of the genc command: strict flag parsing, errors, progress display. */
#ifndef GENC_CLI_H
#define GENC_CLI_H

#include <stdint.h>

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

/* 1 when the verb's first argument asks for help (--help or -h). */
int wants_help(int argc, char **argv);
int show_help(const char *text);           /* prints it on stdout, returns 0 */
/* A library message (genc_lm_run_opts.message): ends any progress line, prints "genc: ...". */
void cli_message(const char *line, void *user);

/* Progress line: a bar on a terminal, periodic plain lines otherwise. */
void progress_show(int64_t step, int64_t total, const char *stats, double elapsed, double eta);
void progress_end(void);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_compare(int argc, char **argv);

#endif
