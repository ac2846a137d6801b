/* OpenBLAS kernel selection. OpenBLAS (DYNAMIC_ARCH builds, as in Debian) picks its SGEMM
 * kernel from the CPU model when the library loads. CPUs newer than the OpenBLAS release are
 * not recognised and fall back to the SSE3 "Prescott" kernel, 10-20x slower than the AVX-512 or
 * AVX2 kernels the CPU can run (Debian 12's OpenBLAS 0.3.21 does this on Sapphire and Emerald
 * Rapids Xeons). The choice can only be overridden by OPENBLAS_CORETYPE before the library
 * loads, so genc_blas_ensure_fast_kernel re-executes the program once with it set (and with a
 * short OpenMP spin, see want_short_spin). */
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

/* OpenMP waiting. Between parallel regions libgomp's idle threads spin GOMP_SPINCOUNT times
 * (300 000 by default) before they sleep: with a pause instruction of ~100 cycles that is
 * ~10 ms of a core per wait. On a machine whose cores are busy with other work, a spinning
 * thread takes the slice its own team mate (or anyone else) needed, and every barrier can wait
 * for a descheduled thread: 2-thread training steps measured 4-5x slower than with passive
 * waiting on a loaded 2-core machine (ViT 1075-1486 ms vs 241-350 ms, CNN 175-320 vs 67-171).
 * A short spin of 1000 (tens of microseconds) still bridges the gaps between back-to-back
 * regions of one step on an idle machine, and it was as good as passive waiting under load
 * (ViT 335-381 ms). libgomp reads the setting only when it loads, so it goes through the same
 * re-execution as the BLAS kernel; a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is kept. */
static int want_short_spin(void) { return !getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT"); }

void genc_blas_ensure_fast_kernel(void) {
    if (getenv("GENC_NO_BLAS_REEXEC")) return;
    const char *want = getenv("OPENBLAS_CORETYPE") ? NULL : genc_blas_suggested_coretype();
    int spin = want_short_spin();
    if (!want && !spin) return;
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
    if (want) setenv("OPENBLAS_CORETYPE", want, 1);
    if (spin) setenv("GOMP_SPINCOUNT", "1000", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the slow kernel and libgomp's own spinning */
    if (want) unsetenv("OPENBLAS_CORETYPE");
    if (spin) unsetenv("GOMP_SPINCOUNT");
}
