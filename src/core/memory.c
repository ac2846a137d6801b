/* Memory: 64-byte aligned blocks counted against one process-wide limit, and the handler
 * that ends a step which runs out of activation memory.
 *
 * Why a limit of our own: Linux overcommits, so malloc of more than the machine has usually
 * succeeds and the process is killed (SIGKILL, no message) when it first touches the pages.
 * Every large block genc allocates (parameters, optimizer state, caches, activation arena
 * blocks) is counted here first, and a request that would take the total past the limit
 * fails at once with a message that says how much was wanted. The default limit is the
 * physical memory; GENC_MEM_LIMIT or genc_set_mem_limit lower it (a container with a memory
 * limit below the machine's, a shared machine, tests).
 *
 * Each block carries a 64-byte header that holds its size, so genc_aligned_free can return
 * it to the count; the caller sees the 64-byte aligned memory right after the header. */
#include "genc/core.h"

#include "mem.h"

#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_size_t g_used;
static atomic_size_t g_limit; /* 0: not decided yet */

static size_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0) return SIZE_MAX;
    if ((unsigned long)pages > SIZE_MAX / (unsigned long)page) return SIZE_MAX;
    return (size_t)pages * (size_t)page;
}

/* "4G", "512M", "64k", "1048576" (binary units) → bytes; 0 when not a positive size. */
static size_t parse_size(const char *s) {
    char *end;
    if (!s || !isdigit((unsigned char)*s)) return 0;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = 0;
    switch (toupper((unsigned char)*end)) {
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: break;
    }
    if (*end == 'i' && shift) end++;  /* "4Gi" */
    if (toupper((unsigned char)*end) == 'B') end++;  /* "4GB", "4GiB" */
    if (*end || v == 0 || v > (SIZE_MAX >> shift)) return 0;
    return (size_t)v << shift;
}

static size_t default_limit(void) {
    size_t phys = physical_memory();
    const char *env = getenv("GENC_MEM_LIMIT");
    if (!env || !*env) return phys;
    size_t v = parse_size(env);
    if (!v) {
        fprintf(stderr, "genc: warning: GENC_MEM_LIMIT=%s is not a size such as 4G or 512M; "
                        "using the physical memory\n", env);
        return phys;
    }
    return v;
}

size_t genc_mem_limit(void) {
    size_t lim = atomic_load(&g_limit);
    if (lim) return lim;
    lim = default_limit();
    size_t expect = 0; /* first caller decides; a concurrent one computed the same value */
    atomic_compare_exchange_strong(&g_limit, &expect, lim);
    return atomic_load(&g_limit);
}

void genc_set_mem_limit(size_t bytes) { atomic_store(&g_limit, bytes ? bytes : default_limit()); }

size_t genc_mem_used(void) { return atomic_load(&g_used); }

size_t genc_mib(size_t bytes) { return bytes / ((size_t)1 << 20) + (bytes % ((size_t)1 << 20) != 0); }

/* Count bytes against the limit; 0 (nothing counted) when they do not fit. */
static int reserve(size_t bytes) {
    size_t lim = genc_mem_limit(), cur = atomic_load(&g_used);
    do {
        if (bytes > lim || cur > lim - bytes) return 0;
    } while (!atomic_compare_exchange_weak(&g_used, &cur, cur + bytes));
    return 1;
}

static void release(size_t bytes) { atomic_fetch_sub(&g_used, bytes); }

void *genc_mem_block(size_t bytes, int zero) {
    if (bytes > SIZE_MAX / 2) {
        genc_set_error("out of memory: %zu MiB requested", genc_mib(bytes));
        return NULL;
    }
    size_t sz = bytes ? (bytes + GENC_ALIGN - 1) / GENC_ALIGN * GENC_ALIGN : GENC_ALIGN;
    size_t total = sz + GENC_ALIGN;
    if (!reserve(total)) {
        genc_set_error("out of memory: %zu MiB requested, %zu MiB of genc's limit of %zu MiB "
                       "already in use (the limit is the physical memory or GENC_MEM_LIMIT)",
                       genc_mib(total), genc_mib(genc_mem_used()), genc_mib(genc_mem_limit()));
        return NULL;
    }
    unsigned char *base = aligned_alloc(GENC_ALIGN, total);
    if (!base) {
        release(total);
        genc_set_error("out of memory: the system refused %zu MiB", genc_mib(total));
        return NULL;
    }
    memcpy(base, &total, sizeof total);
    if (zero) memset(base + GENC_ALIGN, 0, sz);
    return base + GENC_ALIGN;
}

void genc_mem_block_free(void *p) {
    if (!p) return;
    unsigned char *base = (unsigned char *)p - GENC_ALIGN;
    size_t total;
    memcpy(&total, base, sizeof total);
    release(total);
    free(base);
}

void *genc_aligned_alloc(size_t bytes) { return genc_mem_block(bytes, 1); }
void genc_aligned_free(void *p) { genc_mem_block_free(p); }

/* ---------------------------------------------------------------- out of memory in a step */

static genc_oom_handler g_oom;
static void *g_oom_user;

void genc_set_oom_handler(genc_oom_handler fn, void *user) {
    g_oom = fn;
    g_oom_user = user;
}

_Noreturn void genc_out_of_memory(void) {
    if (g_oom) g_oom(g_oom_user);
    /* the default, and what happens when a handler returns: a runtime error, not an abort */
    fflush(stdout);
    fprintf(stderr, "genc: error: %s\n", genc_error());
    exit(1);
}
