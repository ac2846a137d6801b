/* Checkpoints: parameters, AdamW moments, EMA weights and string metadata in one safetensors
 * file, written atomically; reading checks the format version before anything else.
 * Names and metadata keys: docs/checkpoint-format.md. */
#include "genc/nn.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void genc_checkpoint_path(const char *p, char *out, size_t cap) {
    struct stat st;
    if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(out, cap, "%s/" GENC_CHECKPOINT_FILE, p);
    else snprintf(out, cap, "%s", p);
}

int genc_checkpoint_version(const genc_st_file *f) {
    const char *fmt = genc_st_meta(f, "format");
    char *end;
    if (!fmt || strncmp(fmt, "genc-", 5) != 0) return 0;
    errno = 0;
    long v = strtol(fmt + 5, &end, 10);
    return *end || errno || v < 1 || v > 1000000 ? 0 : (int)v;
}

int genc_checkpoint_check(const genc_st_file *f, const char *path) {
    const char *fmt = genc_st_meta(f, "format"), *fam = genc_st_meta(f, "family");
    int v = genc_checkpoint_version(f);
    if (!fmt || !fam)
        return genc_set_error("%s: not a genc checkpoint (no \"format\" and \"family\" metadata)", path);
    if (v == 0)
        return genc_set_error("%s: unknown checkpoint format '%s' (this build reads genc-1 to genc-%d)", path, fmt,
                              GENC_CHECKPOINT_VERSION);
    if (v > GENC_CHECKPOINT_VERSION)
        return genc_set_error("%s: written by a newer genc (format %s; this build reads genc-1 to genc-%d): "
                              "upgrade genc to use it", path, fmt, GENC_CHECKPOINT_VERSION);
    return GENC_OK;
}

int genc_checkpoint_open(const char *dir_or_file, genc_st_file *f) {
    char path[4096];
    genc_checkpoint_path(dir_or_file, path, sizeof path);
    if (genc_st_read(path, f) != GENC_OK) return GENC_ERR;
    if (genc_checkpoint_check(f, path) == GENC_OK) return GENC_OK;
    genc_st_free(f);
    return GENC_ERR;
}

static int is_state_name(const char *name) {
    return strncmp(name, "optim.", 6) == 0 || strncmp(name, "ema.", 4) == 0;
}

int64_t genc_checkpoint_param_count(const genc_st_file *f) {
    int64_t total = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        if (is_state_name(f->tensors[i].name)) continue;
        /* the parser guarantees numel × dtype size ≤ the file size, so this cannot overflow */
        int64_t n = 1;
        for (int d = 0; d < f->tensors[i].ndim; d++) n *= f->tensors[i].shape[d];
        total += n;
    }
    return total;
}

int genc_checkpoint_family_meta(const genc_st_file *f, const char *family, const char *what, const char **config,
                                const char **train, int64_t *step) {
    const char *fam = genc_st_meta(f, "family"), *st = genc_st_meta(f, "step");
    *config = genc_st_meta(f, "config");
    *train = genc_st_meta(f, "train");
    if (!fam || strcmp(fam, family) != 0) return genc_set_error("not a %s checkpoint (family '%s')", what, fam ? fam : "none");
    if (!*config || !*train || !st) return genc_set_error("%s checkpoint without config/train/step metadata", what);
    char *end;
    errno = 0;
    long long v = strtoll(st, &end, 10);
    if (end == st || *end || errno || v < 0) return genc_set_error("bad step '%s'", st);
    *step = v;
    return GENC_OK;
}

int genc_checkpoint_check_params(const genc_st_file *f, double want) {
    int64_t have = genc_checkpoint_param_count(f);
    if (want != (double)have)
        return genc_set_error("the config describes %.0f parameters but the file holds %lld: config and tensors "
                              "do not match", want, (long long)have);
    return GENC_OK;
}

/* "<path>.tmp.<pid>" files (genc_write_file_atomic's temporaries) whose writer is gone: a
 * killed write leaves one behind; the next save removes it. A live writer's file is kept. */
static void remove_stale_temps(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bl = strlen(base);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, base, bl) != 0 || strncmp(n + bl, ".tmp.", 5) != 0) continue;
        char *end;
        long pid = strtol(n + bl + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno == EPERM) continue; /* its writer still runs */
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, n);
        unlink(full);
    }
    closedir(d);
}

static int all_finite(const float *x, int64_t n) {
    int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) bad |= !isfinite(x[i]);
    return !bad;
}

int genc_checkpoint_save(const char *path, const genc_params *ps, const genc_adamw *opt,
                         const genc_ema *ema, const genc_st_kv *meta, int n_meta) {
    int has_ema = ema && ema->w, passes = 1 + (opt ? 2 : 0) + has_ema;
    int n = ps->n * passes;
    genc_st_entry *e = calloc((size_t)(n ? n : 1), sizeof *e);
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    if (!e || !names) { free(e); free(names); return genc_set_error("out of memory"); }
    static const char *prefix[] = {"", "optim.m.", "optim.v.", "ema."};
    int k = 0, rc = GENC_OK;
    for (int pass = 0; pass < 4 && rc == GENC_OK; pass++) {
        if ((pass == 1 || pass == 2) && !opt) continue;
        if (pass == 3 && !has_ema) continue;
        for (int i = 0; i < ps->n && rc == GENC_OK; i++, k++) {
            const genc_tensor *p = ps->list[i];
            const float *data = pass == 0 ? p->data : pass == 1 ? opt->m[i] : pass == 2 ? opt->v[i] : ema->w[i];
            size_t len = strlen(p->name) + 16;
            names[k] = malloc(len);
            if (!names[k]) { rc = genc_set_error("out of memory"); break; }
            snprintf(names[k], len, "%s%s", prefix[pass], p->name);
            if (!all_finite(data, p->n))
                rc = genc_set_error("%s: not saved: tensor '%s' holds a NaN or an infinity", path, names[k]);
            e[k].name = names[k];
            e[k].dtype = GENC_DT_F32;
            e[k].ndim = p->ndim;
            for (int d = 0; d < p->ndim; d++) e[k].shape[d] = p->shape[d];
            e[k].data = data;
        }
    }
    if (rc == GENC_OK) {
        remove_stale_temps(path);
        rc = genc_st_write(path, e, n, meta, n_meta);
    }
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(e);
    return rc;
}

static int load_one(const genc_st_file *f, const char *name, const genc_tensor *p, float *dst) {
    const genc_st_tensor *t = genc_st_find(f, name);
    if (!t) return genc_set_error("checkpoint has no tensor '%s'", name);
    int ok = t->ndim == p->ndim;
    for (int d = 0; ok && d < p->ndim; d++) ok = t->shape[d] == p->shape[d];
    if (!ok) return genc_set_error("tensor '%s' has a different shape in the checkpoint", name);
    if (genc_st_get_f32(f, name, dst, p->n)) return GENC_ERR;
    /* genc never saves a NaN or an infinity (genc_checkpoint_save), so one here means a
     * damaged or foreign file; refused before it reaches a kernel */
    if (!all_finite(dst, p->n)) return genc_set_error("tensor '%s' holds a NaN or an infinity", name);
    return GENC_OK;
}

static int load_prefixed(const genc_st_file *f, const char *prefix, const genc_tensor *p, float *dst) {
    char name[512];
    snprintf(name, sizeof name, "%s%s", prefix, p->name);
    return load_one(f, name, p, dst);
}

int genc_checkpoint_load_params(const genc_st_file *f, genc_params *ps, genc_adamw *opt, const genc_ema *ema) {
    for (int i = 0; i < ps->n; i++) {
        genc_tensor *p = ps->list[i];
        if (load_one(f, p->name, p, p->data)) return GENC_ERR;
        if (opt && (load_prefixed(f, "optim.m.", p, opt->m[i]) || load_prefixed(f, "optim.v.", p, opt->v[i])))
            return GENC_ERR;
        if (ema && ema->w && load_prefixed(f, "ema.", p, ema->w[i])) return GENC_ERR;
    }
    return GENC_OK;
}

int genc_checkpoint_load_weights(const genc_st_file *f, genc_params *ps, int *used_ema) {
    int ema = ps->n > 0;
    char name[512];
    for (int i = 0; i < ps->n && ema; i++) {
        snprintf(name, sizeof name, "ema.%s", ps->list[i]->name);
        ema = genc_st_find(f, name) != NULL;
    }
    if (used_ema) *used_ema = ema;
    for (int i = 0; i < ps->n; i++)
        if (load_prefixed(f, ema ? "ema." : "", ps->list[i], ps->list[i]->data)) return GENC_ERR;
    return GENC_OK;
}
