/* libFuzzer entry point for the safetensors parser. Not part of the default build:
 *   cmake -S . -B build-fuzz -DGENC_FUZZ=ON && cmake --build build-fuzz --target fuzz_safetensors
 *   build-fuzz/tests/fuzz_safetensors -max_total_time=600 NEW_DIR tests/fuzz/safetensors
 * Built with clang -fsanitize=fuzzer,address,undefined from the parser's own sources so the
 * coverage feedback reaches into it. Any accepted input must keep every tensor inside the
 * buffer with a byte count matching its shape; anything else aborts (a finding). */
#include "genc/io.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    genc_st_file f;
    if (genc_st_parse(data, size, &f) != GENC_OK) return 0;
    const uint8_t *lo = f.buffer, *hi = lo + f.size;
    for (int i = 0; i < f.n_tensors; i++) {
        const genc_st_tensor *t = &f.tensors[i];
        const uint8_t *p = t->data;
        uint64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) numel *= (uint64_t)t->shape[k];
        if (p < lo + 8 || p > hi || t->nbytes > (size_t)(hi - p) ||
            numel * genc_dtype_size(t->dtype) != t->nbytes)
            abort();
    }
    genc_st_free(&f);
    return 0;
}
