/* OpenBLAS kernel selection. OpenBLAS (DYNAMIC_ARCH builds, as in Debian) picks its SGEMM
 * kernel from the CPU model when the library loads. CPUs newer than the OpenBLAS release are
 * not recognised and fall back to the SSE3 "Prescott" kernel, 10-20x slower than the AVX-512 or
 * AVX2 kernels the CPU can run (Debian 12's OpenBLAS 0.3.21 does this on Sapphire and Emerald
 * Rapids Xeons). The choice can only be overridden by OPENBLAS_CORETYPE before the library
 * loads, so genc_blas_ensure_fast_kernel re-executes the program once with it set. */
#include "genc/core.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

const char *genc_blas_kernel(void) { return openblas_get_corename(); }

const char *genc_blas_suggested_coretype(void) {
#if defined(__x86_64__)
    const char *cur = openblas_get_corename();
    if (!cur || (strcmp(cur, "Prescott") != 0 && strcmp(cur, "Core2") != 0 && strcmp(cur, "Nehalem") != 0 &&
                 strcmp(cur, "Sandybridge") != 0))
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return strcmp(cur, "SkylakeX") ? "SkylakeX" : NULL;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return strcmp(cur, "Haswell") ? "Haswell" : NULL;
#endif
    return NULL;
}

void genc_blas_ensure_fast_kernel(void) {
    if (getenv("OPENBLAS_CORETYPE") || getenv("GENC_NO_BLAS_REEXEC")) return;
    const char *want = genc_blas_suggested_coretype();
    if (!want) return;
    /* argv from /proc/self/cmdline: NUL-separated */
    static char buf[1 << 16];
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    if (n == 0 || n >= sizeof buf - 1) return;
    buf[n] = 0;
    char *argv[1024];
    int argc = 0;
    for (size_t i = 0; i < n && argc < 1023; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE"); /* exec failed: carry on with the slow kernel */
}
