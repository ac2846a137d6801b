/* Strict flag parsing: a number must be a whole, in-range number; anything else is a usage
 * error that names the flag and what it expects. */
#include "cli.h"
#include "genc/dist.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Under mpirun: flag errors are the same on every rank and rank 0 reports them; any other
 * error is reported by each rank that has it, named. */
static int vreport(int code, const char *fmt, va_list ap) {
    int rank = genc_dist_rank();
    if (rank > 0 && code == EXIT_USAGE) return code;
    fprintf(stderr, "genc: error: ");
    if (rank > 0) fprintf(stderr, "rank %d of %d: ", rank, genc_dist_size());
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    return code;
}

int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(EXIT_USAGE, fmt, ap);
    va_end(ap);
    return EXIT_USAGE;
}

int runtime_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(EXIT_RUNTIME, fmt, ap);
    va_end(ap);
    return EXIT_RUNTIME;
}

int wants_help(int argc, char **argv) {
    return argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
}

int show_help(const char *text) {
    fputs(text, stdout);
    return 0;
}

void cli_message(const char *line, void *user) {
    progress_end();
    fprintf(stderr, "genc: %s\n", line);
}

int flag(args *a, const char *name) {
    if (a->i < a->argc && strcmp(a->argv[a->i], name) == 0) {
        a->i++;
        return 1;
    }
    return 0;
}

const char *val_str(args *a, const char *name) {
    if (a->i >= a->argc) {
        usage_error("%s needs a value", name);
        a->bad = 1;
        return "";
    }
    return a->argv[a->i++];
}

int64_t val_i64(args *a, const char *name, int64_t lo, int64_t hi) {
    const char *s = val_str(a, name);
    if (a->bad) return lo;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        usage_error("%s expects a whole number in [%lld, %lld], got '%s'", name, (long long)lo, (long long)hi, s);
        a->bad = 1;
        return lo;
    }
    return v;
}

int val_int(args *a, const char *name, int lo, int hi) { return (int)val_i64(a, name, lo, hi); }

double val_num(args *a, const char *name, double lo, double hi) {
    const char *s = val_str(a, name);
    if (a->bad) return lo;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        usage_error("%s expects a number in [%g, %g], got '%s'", name, lo, hi, s);
        a->bad = 1;
        return lo;
    }
    return v;
}

int val_invert(args *a, const char *name) {
    const char *v = val_str(a, name);
    if (a->bad) return -1;
    if (!strcmp(v, "auto")) return -1;
    if (!strcmp(v, "yes")) return 1;
    if (!strcmp(v, "no")) return 0;
    usage_error("%s expects auto, yes or no, got '%s'", name, v);
    a->bad = 1;
    return -1;
}

uint64_t val_u64(args *a, const char *name) {
    const char *s = val_str(a, name);
    if (a->bad) return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-') {
        usage_error("%s expects a non-negative whole number, got '%s'", name, s);
        a->bad = 1;
        return 0;
    }
    return v;
}

/* ---------------------------------------------------------------- progress */

static int g_tty = -1;
static double g_last_plain;

static void fmt_time(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 1e7) { snprintf(buf, cap, "--:--"); return; }
    int t = (int)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%d:%02d", t / 60, t % 60);
}

void progress_show(int64_t step, int64_t total, const char *stats, double elapsed, double eta) {
    if (g_tty < 0) g_tty = isatty(2);
    char el[32], et[32];
    fmt_time(elapsed, el, sizeof el);
    fmt_time(eta, et, sizeof et);
    if (total <= 0) { /* length not known yet (time budget still measuring speed) */
        if (g_tty) fprintf(stderr, "\rstep %lld %s  %s elapsed \033[K", (long long)step, stats, el);
        else if (elapsed - g_last_plain >= 10 || g_last_plain == 0) {
            g_last_plain = elapsed > 0 ? elapsed : 1e-9;
            fprintf(stderr, "step %lld %s elapsed %s\n", (long long)step, stats, el);
        }
        return;
    }
    if (g_tty) {
        int width = 24, fill = total > 0 ? (int)(width * step / total) : 0;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[width] = 0;
        fprintf(stderr, "\r[%s] %lld/%lld %s  %s elapsed, ETA %s \033[K", bar, (long long)step,
                (long long)total, stats, el, et);
        fflush(stderr);
    } else if (elapsed - g_last_plain >= 10 || step == total || g_last_plain == 0) {
        g_last_plain = elapsed > 0 ? elapsed : 1e-9;
        fprintf(stderr, "step %lld/%lld %s elapsed %s ETA %s\n", (long long)step, (long long)total, stats, el, et);
    }
}

void progress_end(void) {
    if (g_tty > 0) fprintf(stderr, "\n");
    g_tty = -1;
    g_last_plain = 0;
}
