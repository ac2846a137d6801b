/* The training loop every family runs: the step budget (--steps, or --minutes with the
 * schedule sized from the measured speed), the learning-rate schedule, progress, metrics.csv,
 * eval.csv, loss.png, periodic atomic checkpoints, Ctrl-C, and the checks made before a run
 * starts (an existing run in the folder, memory). */
#include "genc/train.h"
#include "genc/dist.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void genc_run_message(const genc_run_opts *run, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (run->message && genc_dist_rank() == 0) run->message(buf, run->user); /* rank 0 speaks for all */
}

int genc_train_preflight(const genc_run_opts *run, const genc_train_cfg *cfg, double n_params,
                         double activation_bytes) {
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/" GENC_CHECKPOINT_FILE, run->out_dir);
    if (!run->resume && !run->force && stat(path, &st) == 0)
        return genc_set_error("%s already holds a run (%s): continue it with --resume, write somewhere else "
                              "with --out DIR, or start it over with --force", run->out_dir, path);
    /* persistent: weights, gradients, two AdamW moments, the EMA copy; float32 each */
    int copies = 4 + (cfg->ema > 0);
    double gib = 1024.0 * 1024.0 * 1024.0, state = n_params * 4.0 * copies;
    double need = state + activation_bytes, have = (double)genc_mem_limit() - (double)genc_mem_used();
    if (have > 0 && need > have)
        return genc_set_error("this run needs about %.1f GiB of memory but genc may use %.1f GiB (the machine's memory, or GENC_MEM_LIMIT): %.4g parameters "
                              "× %d copies (weights, gradients, AdamW moments%s) = %.1f GiB, activations about "
                              "%.1f GiB; choose a smaller model or batch",
                              need / gib, have / gib, n_params, copies, copies > 4 ? ", EMA" : "", state / gib,
                              activation_bytes / gib);
    return GENC_OK;
}

/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t g_signal;
static void on_signal(int sig) { g_signal = sig; }

typedef struct saved_handlers {
    struct sigaction sint, sterm;
    int on;
} saved_handlers;

/* One signal asks for a clean stop; SA_RESETHAND lets a second one end the process at once. */
static void catch_signals(saved_handlers *h) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    g_signal = 0;
    sigaction(SIGINT, &sa, &h->sint);
    sigaction(SIGTERM, &sa, &h->sterm);
    h->on = 1;
}

static void release_signals(saved_handlers *h) {
    if (!h->on) return;
    sigaction(SIGINT, &h->sint, NULL);
    sigaction(SIGTERM, &h->sterm, NULL);
    h->on = 0;
}

/* ---------------------------------------------------------------- logs */

/* A resumed run continues its metrics log from the checkpoint's step: rows written after the
 * last checkpoint (by a run that was then killed) are dropped, so the log matches the weights.
 * With grid > 0 (metrics.csv), the row a stopped run wrote off the grid of every grid-th
 * step is dropped too, so a resumed log equals an uninterrupted one; *elapsed (may be NULL)
 * receives the elapsed_s (column 6) of the last row at or before step, the time already
 * spent. */
static int rewind_log(const char *path, int64_t step, int grid, double *elapsed) {
    void *buf;
    size_t size;
    struct stat st;
    if (elapsed) *elapsed = 0;
    if (stat(path, &st) != 0) return GENC_OK;
    if (genc_read_file(path, &buf, &size)) return GENC_ERR;
    char *text = buf, *line = memchr(text, '\n', size);
    size_t keep = line ? (size_t)(line - text) + 1 : size;
    while (line && keep < size) {
        char *next = memchr(text + keep, '\n', size - keep);
        if (!next) break; /* a partial row: genc_csv_open drops it */
        double row[6] = {0};
        int got = sscanf(text + keep, "%lf,%lf,%lf,%lf,%lf,%lf", &row[0], &row[1], &row[2], &row[3], &row[4], &row[5]);
        if (row[0] > (double)step) break;
        if (elapsed && got == 6 && isfinite(row[5])) *elapsed = row[5];
        if (grid > 0 && fmod(row[0], grid) != 0) break; /* the stop row: the last one kept before it */
        keep = (size_t)(next - text) + 1;
    }
    int rc = keep < size && line ? genc_write_file_atomic(path, text, keep) : GENC_OK;
    free(buf);
    return rc;
}

/* DIR/loss.png: the training loss against the step, from metrics.csv, so a resumed run shows
 * its whole history: the "loss_<unit>" column as it is, or a "loss" column × loss_scale. A
 * plot that cannot be drawn is not an error. */
static void plot_loss(const char *dir, const genc_train_family *fam) {
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    int cap = 1024, n = 0;
    double *x = malloc(sizeof(double) * (size_t)cap), *y = malloc(sizeof(double) * (size_t)cap);
    char line[512];
    double scale = fam->loss_scale > 0 ? fam->loss_scale : 1.0;
    int in_unit = 0;
    while (x && y && fgets(line, sizeof line, f)) {
        double st, l;
        if (strncmp(line, "step,loss_", 10) == 0) in_unit = 1, scale = 1.0; /* already in the unit */
        if (sscanf(line, "%lf,%lf", &st, &l) != 2) continue; /* the header */
        if (n == cap) {
            cap *= 2;
            double *nx = realloc(x, sizeof(double) * (size_t)cap), *ny = realloc(y, sizeof(double) * (size_t)cap);
            if (!nx || !ny) { free(nx ? nx : x); free(ny ? ny : y); x = y = NULL; break; }
            x = nx;
            y = ny;
        }
        x[n] = st;
        y[n++] = l * scale;
    }
    fclose(f);
    if (x && y && n >= 2) {
        const double *ys[1] = {y};
        const char *labels[1] = {"training loss"};
        char ylabel[96];
        if (in_unit) snprintf(ylabel, sizeof ylabel, "loss (%s)", fam->loss_unit ? fam->loss_unit : "?");
        else if (scale != 1.0) snprintf(ylabel, sizeof ylabel, "loss x %.4g", scale); /* a log from before units */
        else snprintf(ylabel, sizeof ylabel, "loss");
        snprintf(path, sizeof path, "%s/loss.png", dir);
        genc_png_plot_axes(path, fam->loss_title ? fam->loss_title : "training loss", "step", ylabel, x, ys, labels, 1,
                           n, 800, 500);
    }
    free(x);
    free(y);
}

/* ---------------------------------------------------------------- the loop */

typedef struct loop {
    genc_csv metrics, evals;
    genc_ctx *c;
    saved_handlers sig;
    char ckpt[4200];
    int64_t saved;              /* step of the checkpoint on disk (−1: none yet) */
    double elapsed0;            /* seconds the run had trained before this session */
    int raw_loss;               /* metrics.csv of an older run: its "loss" column */
} loop;

/* metrics.csv: step, the loss in the family's unit ("loss_<unit>"; "loss" without one), lr,
 * grad_norm, throughput, elapsed_s. A run logged before the unit existed keeps its "loss"
 * column when resumed (L->raw_loss: the loss as computed goes there). */
static int open_logs(loop *L, const genc_trainer *t, const genc_train_family *fam, const genc_run_opts *run) {
    char path[4200], rate[64], loss[64];
    snprintf(rate, sizeof rate, "%s_per_s", fam->items ? fam->items : "examples");
    snprintf(loss, sizeof loss, "loss%s%s", fam->loss_unit ? "_" : "", fam->loss_unit ? fam->loss_unit : "");
    const char *cols[] = {"step", loss, "lr", "grad_norm", rate, "elapsed_s"};
    snprintf(path, sizeof path, "%s/metrics.csv", run->out_dir);
    if (run->resume && rewind_log(path, t->step, 10, &L->elapsed0)) return GENC_ERR;
    if (genc_csv_open(&L->metrics, path, cols, 6, run->resume)) {
        cols[1] = "loss";
        if (!fam->loss_unit || genc_csv_open(&L->metrics, path, cols, 6, run->resume)) return GENC_ERR;
        L->raw_loss = 1;
    }
    if (run->eval_every != 0 && fam->eval) {
        const char *ecols[] = {"step", fam->eval_name ? fam->eval_name : "eval"};
        snprintf(path, sizeof path, "%s/eval.csv", run->out_dir);
        if ((run->resume && rewind_log(path, t->step, 0, NULL)) ||
            genc_csv_open(&L->evals, path, ecols, 2, run->resume))
            return GENC_ERR;
    }
    return GENC_OK;
}

static int save(loop *L, const genc_trainer *t, const genc_train_family *fam) {
    if (genc_dist_rank() == 0 && genc_trainer_save(t, fam, L->ckpt)) return GENC_ERR; /* rank 0 writes */
    L->saved = t->step;
    return GENC_OK;
}

/* A failed step's message ("step 13: the loss is nan ...") plus what is on disk. */
static void step_failed(const loop *L) {
    char why[1024];
    snprintf(why, sizeof why, "%s", genc_error());
    if (L->saved >= 0) genc_set_error("%s; %s still holds step %lld", why, L->ckpt, (long long)L->saved);
    else genc_set_error("%s; no checkpoint was written", why);
}

/* The family's held-out metric at this step: into eval.csv and a message; *paused grows by
 * the time it took (not training time). */
static int held_out(loop *L, const genc_train_family *fam, const genc_run_opts *run, int64_t step, double *paused) {
    double v, e0 = genc_time_s();
    if (fam->eval(fam->self, &v)) return genc_wrap_error("evaluation at step %lld", (long long)step);
    *paused += genc_time_s() - e0;
    double row[2] = {(double)step, v};
    genc_csv_row(&L->evals, row);
    genc_run_message(run, "step %lld: held-out %s %.4f", (long long)step, fam->eval_name ? fam->eval_name : "eval", v);
    return GENC_OK;
}

/* Under MPI the ranks must leave the loop at the same step: a stop asked on any rank (its
 * signal, its clock past the budget) stops all of them, with the highest signal number. */
static int agree_stop(int *stop, int *signal) {
    int64_t v[2] = {*stop, *signal};
    if (genc_dist_allreduce_max_i64(v, 2)) return GENC_ERR;
    *stop = (int)v[0];
    *signal = (int)v[1];
    return GENC_OK;
}

/* ... and follow one schedule: with --minutes, rank 0's measurement sizes it for all. */
static int agree_length(genc_train_cfg *cfg, int64_t *eval_every, int *fixed_total) {
    int64_t v[4] = {cfg->steps, cfg->warmup, *eval_every, *fixed_total};
    if (genc_dist_bcast(v, sizeof v, 0)) return GENC_ERR;
    cfg->steps = v[0];
    cfg->warmup = v[1];
    *eval_every = v[2];
    *fixed_total = (int)v[3];
    return GENC_OK;
}

int genc_train_run(genc_trainer *t, const genc_train_family *fam, const genc_run_opts *run, genc_train_result *res) {
    loop L;
    memset(&L, 0, sizeof L);
    L.saved = run->resume ? t->step : -1;
    snprintf(L.ckpt, sizeof L.ckpt, "%s/" GENC_CHECKPOINT_FILE, run->out_dir);
    int rc = GENC_ERR;
    double loss_avg = 0;
    genc_train_result r = {t->step, 0, 0};
    int rank0 = genc_dist_rank() == 0, ranks = genc_dist_size();
    if (genc_trainer_check_ranks(&t->cfg)) goto done;
    if (rank0 && (genc_mkdirs(run->out_dir) || open_logs(&L, t, fam, run))) goto done; /* only rank 0 writes */
    L.c = genc_ctx_new(0);
    if (!L.c) { genc_set_error("out of memory"); goto done; }
    L.c->training = 1;
    if (run->catch_signals) catch_signals(&L.sig);

    genc_train_cfg *cfg = &t->cfg;
    genc_lr_schedule sched = {cfg->schedule, cfg->lr, cfg->min_lr, cfg->warmup, cfg->steps};
    double t0 = genc_time_s(), last = t0, budget = run->minutes > 0 ? run->minutes * 60.0 : 0;
    int64_t start = t->step;
    int fixed_total = !(budget > 0) || run->resume;
    int64_t eval_every = run->eval_every, evaluated = -1; /* GENC_EVAL_AUTO: ~10 per run, once its length is known */
    if (eval_every == GENC_EVAL_AUTO && fixed_total) eval_every = cfg->steps / 10 > 0 ? cfg->steps / 10 : 1;
    double t10 = 0, paused = 0; /* paused: seconds spent in evaluations, not training */
    double comm_s0 = genc_dist_comm_seconds(), comm_b0 = genc_dist_comm_bytes();
    while (t->step < cfg->steps) {
        float lv = 0, gn = 0, lr = genc_lr_at(&sched, t->step);
        if (genc_trainer_step(t, fam, L.c, lr, &lv, &gn)) { step_failed(&L); goto done; }
        int64_t done_steps = t->step - start;
        double lu = !fam->loss_unit ? lv : fam->loss_in_unit ? fam->loss_in_unit(fam->self, lv) : lv * fam->loss_scale;
        loss_avg = done_steps == 1 ? lu : 0.95 * loss_avg + 0.05 * lu;
        double now = genc_time_s(), el = now - t0, tt = el - paused;
        /* Time budget: once the speed is known, fix the schedule's length so the cosine ends on
         * time (speed measured from step 10 on: the first steps pay for page faults). */
        if (done_steps == 10) t10 = tt;
        int was_fixed = fixed_total;
        if (!fixed_total && rank0 && (done_steps >= 40 || el > 15)) {
            double per = done_steps > 10 ? (tt - t10) / (double)(done_steps - 10) : tt / (double)done_steps;
            /* automatic evaluations: the first one now, to time it; then up to ten more, as
             * many as fit in a tenth of the budget */
            double reserve = 0;
            int n_evals = 0;
            if (eval_every == GENC_EVAL_AUTO && L.evals.f) {
                double p0 = paused;
                if (held_out(&L, fam, run, t->step, &paused)) goto done;
                evaluated = t->step;
                double e = paused - p0;
                n_evals = e > 0 ? (int)fmin(10.0, floor(0.1 * budget / e)) : 10;
                reserve = n_evals * e;
                el = genc_time_s() - t0;
            }
            int64_t total = t->step + (int64_t)((budget - el - 1.0 - reserve) / per);
            if (total < t->step + 1) total = t->step + 1;
            if (total < cfg->steps) cfg->steps = total;
            if (cfg->warmup > cfg->steps / 5) cfg->warmup = cfg->steps / 5;
            sched.total = cfg->steps;
            sched.warmup = cfg->warmup;
            fixed_total = 1;
            if (eval_every == GENC_EVAL_AUTO)
                eval_every = n_evals < 1 ? 0 : (cfg->steps - t->step) / n_evals > 0 ? (cfg->steps - t->step) / n_evals : 1;
        }
        if (!was_fixed && ranks > 1) {
            if (agree_length(cfg, &eval_every, &fixed_total)) goto done;
            sched.total = cfg->steps;
            sched.warmup = cfg->warmup;
        }
        double ips = (double)done_steps * fam->items_per_step / (tt > 0 ? tt : 1e-9);
        if (run->catch_signals) r.signal = g_signal;
        int stop = (run->stop_at > 0 && t->step >= run->stop_at) || (budget > 0 && el >= budget) || r.signal;
        if (ranks > 1 && agree_stop(&stop, &r.signal)) goto done;
        /* every 10th step, and the last one however the run ends */
        if (rank0 && (t->step % 10 == 0 || t->step == cfg->steps || stop)) {
            double row[6] = {(double)t->step, L.raw_loss ? lv : lu, lr, gn, ips, L.elapsed0 + el};
            genc_csv_row(&L.metrics, row);
        }
        if (L.evals.f && eval_every > 0 && t->step % eval_every == 0 && t->step != evaluated &&
            held_out(&L, fam, run, t->step, &paused))
            goto done;
        if (rank0 && run->progress && (now - last > 0.2 || t->step == cfg->steps)) {
            last = now;
            genc_train_progress p = {t->step, fixed_total ? cfg->steps : 0, (float)loss_avg, lr, gn, ips,
                                     L.elapsed0 + el, (double)(cfg->steps - t->step) * tt / (double)done_steps,
                                     fam->loss_unit};
            run->progress(&p, run->user);
        }
        if ((run->save_every > 0 && t->step % run->save_every == 0) || stop || t->step == cfg->steps)
            if (save(&L, t, fam)) goto done;
        if (stop) break;
    }
    release_signals(&L.sig);
    genc_csv_close(&L.metrics);
    genc_csv_close(&L.evals);
    if (rank0) plot_loss(run->out_dir, fam);
    if (ranks > 1 && t->step > start) {
        /* rank 0's time inside MPI calls: the exchanges and any wait for a slower rank */
        double secs = genc_time_s() - t0, cs = genc_dist_comm_seconds() - comm_s0;
        double steps = (double)(t->step - start);
        genc_run_message(run, "data parallel over %d ranks: %.3g MB all-reduced per step, %.2f ms per step in "
                         "communication (%.1f%% of the %.1f ms step)", ranks,
                         (genc_dist_comm_bytes() - comm_b0) / steps / 1e6, 1e3 * cs / steps, 100 * cs / secs,
                         1e3 * secs / steps);
    }
    if (r.signal)
        genc_run_message(run, "stopped by %s after step %lld: saved %s; continue with --resume --out %s",
                         r.signal == SIGINT ? "SIGINT" : "SIGTERM", (long long)t->step, L.ckpt, run->out_dir);
    else if (t->step == start)
        genc_run_message(run, "nothing to do: %s is at step %lld of %lld", L.ckpt, (long long)t->step,
                         (long long)cfg->steps);
    else
        genc_run_message(run, "saved %s at step %lld (training loss %.4f%s%s, %.1f s); loss curve in %s/loss.png",
                         L.ckpt, (long long)t->step, loss_avg, fam->loss_unit ? " " : "",
                         fam->loss_unit ? fam->loss_unit : "", genc_time_s() - t0, run->out_dir);
    rc = GENC_OK;
done:
    release_signals(&L.sig);
    genc_csv_close(&L.metrics);
    genc_csv_close(&L.evals);
    genc_ctx_free(L.c);
    r.step = t->step;
    r.loss = (float)loss_avg;
    if (res) *res = r;
    return rc;
}
