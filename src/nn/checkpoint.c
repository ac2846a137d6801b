/* Checkpoints: parameters, AdamW moments and string metadata in one safetensors file,
 * written atomically. Names and metadata keys: docs/checkpoint-format.md. */
#include "genc/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int genc_checkpoint_save(const char *path, const genc_params *ps, const genc_adamw *opt,
                         const genc_st_kv *meta, int n_meta) {
    int n = ps->n * (opt ? 3 : 1);
    genc_st_entry *e = calloc((size_t)n, sizeof *e);
    char **names = calloc((size_t)n, sizeof *names);
    if (!e || !names) { free(e); free(names); return genc_set_error("out of memory"); }
    int k = 0;
    for (int pass = 0; pass < (opt ? 3 : 1); pass++)
        for (int i = 0; i < ps->n; i++, k++) {
            const genc_tensor *p = ps->list[i];
            size_t len = strlen(p->name) + 16;
            names[k] = malloc(len);
            snprintf(names[k], len, "%s%s", pass == 0 ? "" : pass == 1 ? "optim.m." : "optim.v.", p->name);
            e[k].name = names[k];
            e[k].dtype = GENC_DT_F32;
            e[k].ndim = p->ndim;
            for (int d = 0; d < p->ndim; d++) e[k].shape[d] = p->shape[d];
            e[k].data = pass == 0 ? p->data : pass == 1 ? opt->m[i] : opt->v[i];
        }
    int rc = genc_st_write(path, e, n, meta, n_meta);
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
    return genc_st_get_f32(f, name, dst, p->n);
}

int genc_checkpoint_load_params(const genc_st_file *f, genc_params *ps, genc_adamw *opt) {
    char name[512];
    for (int i = 0; i < ps->n; i++) {
        genc_tensor *p = ps->list[i];
        if (load_one(f, p->name, p, p->data)) return GENC_ERR;
        if (opt) {
            snprintf(name, sizeof name, "optim.m.%s", p->name);
            if (load_one(f, name, p, opt->m[i])) return GENC_ERR;
            snprintf(name, sizeof name, "optim.v.%s", p->name);
            if (load_one(f, name, p, opt->v[i])) return GENC_ERR;
        }
    }
    return GENC_OK;
}
