/* Typed, range-checked reads of a JSON object's optional keys (checkpoint metadata is
 * untrusted input). An absent key leaves *dst alone and returns GENC_OK; a key of the wrong
 * type, out of range, not whole where a whole number is wanted, returns GENC_ERR with a message
 * "<what>: \"<key>\" ...". Numbers are range-checked as doubles before any conversion. */
#ifndef GENC_NN_JSON_GET_H
#define GENC_NN_JSON_GET_H

#include <cjson/cJSON.h>

#include "genc/core.h"

int genc_json_get_i64(const cJSON *o, const char *what, const char *key, int64_t lo, int64_t hi, int64_t *dst);
int genc_json_get_int(const cJSON *o, const char *what, const char *key, int lo, int hi, int *dst);
int genc_json_get_f32(const cJSON *o, const char *what, const char *key, double lo, double hi, float *dst);
int genc_json_get_str(const cJSON *o, const char *what, const char *key, const char **dst);
/* A string holding a whole number in [0, 2^64) (seeds: JSON numbers lose precision past 2^53). */
int genc_json_get_u64str(const cJSON *o, const char *what, const char *key, uint64_t *dst);

#endif
