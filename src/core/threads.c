/* Thread count: one knob for OpenMP loops and OpenBLAS (the OpenMP build shares the pool). */
#include "genc/core.h"

#include <omp.h>
#include <time.h>

void openblas_set_num_threads(int n);

void genc_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}

int genc_get_threads(void) { return omp_get_max_threads(); }

double genc_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
