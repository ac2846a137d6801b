/* Typed reads of checkpoint JSON (see json_get.h). */
#include "nn/json_get.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

static int number(const cJSON *o, const char *what, const char *key, double lo, double hi, int whole,
                  double *v) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) return 1; /* absent */
    if (!cJSON_IsNumber(it)) return genc_set_error("%s: \"%s\" must be a number", what, key);
    double x = it->valuedouble;
    if (!(x >= lo && x <= hi)) return genc_set_error("%s: \"%s\" = %g is outside [%g, %g]", what, key, x, lo, hi);
    if (whole && x != floor(x)) return genc_set_error("%s: \"%s\" = %g must be a whole number", what, key, x);
    *v = x;
    return GENC_OK;
}

int genc_json_get_i64(const cJSON *o, const char *what, const char *key, int64_t lo, int64_t hi, int64_t *dst) {
    double v = 0;
    int rc = number(o, what, key, (double)lo, (double)hi, 1, &v);
    if (rc == GENC_OK) *dst = (int64_t)v;
    return rc == 1 ? GENC_OK : rc;
}

int genc_json_get_int(const cJSON *o, const char *what, const char *key, int lo, int hi, int *dst) {
    double v = 0;
    int rc = number(o, what, key, lo, hi, 1, &v);
    if (rc == GENC_OK) *dst = (int)v;
    return rc == 1 ? GENC_OK : rc;
}

int genc_json_get_f32(const cJSON *o, const char *what, const char *key, double lo, double hi, float *dst) {
    double v = 0;
    int rc = number(o, what, key, lo, hi, 0, &v);
    if (rc == GENC_OK) *dst = (float)v;
    return rc == 1 ? GENC_OK : rc;
}

int genc_json_get_str(const cJSON *o, const char *what, const char *key, const char **dst) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) return GENC_OK;
    if (!cJSON_IsString(it)) return genc_set_error("%s: \"%s\" must be a string", what, key);
    *dst = it->valuestring;
    return GENC_OK;
}

int genc_json_get_u64str(const cJSON *o, const char *what, const char *key, uint64_t *dst) {
    const char *s = NULL;
    if (genc_json_get_str(o, what, key, &s)) return GENC_ERR;
    if (!s) return GENC_OK;
    char *end;
    errno = 0;
    uint64_t v = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-')
        return genc_set_error("%s: \"%s\" must hold a whole number, got '%s'", what, key, s);
    *dst = v;
    return GENC_OK;
}
