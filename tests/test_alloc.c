/* Running out of memory is an error, never an abort: the memory limit and its accounting,
 * parameters that do not fit (ps unchanged), arenas that cannot grow (arena unchanged), and
 * the out-of-memory handler of a step (a replaceable handler; by default exit status 1).
 *
 * Nothing here allocates more than a few MiB: "too big" requests are either overflowing
 * shapes or sizes above the limit, which fail before any malloc (so no test depends on the
 * kernel's overcommit policy, and ASan never sees a huge malloc). */
#include "testutil.h"

#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

static int has(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* Bytes one genc_aligned_alloc(n) counts: n rounded up to 64 plus the 64-byte header. */
static size_t counted(size_t n) { return (n ? (n + 63) / 64 * 64 : 64) + 64; }

static void test_numel(void) {
    CHECK(genc_shape_numel(3, (int[]){2, 3, 4}) == 24, "numel [2,3,4]");
    CHECK(genc_shape_numel(2, (int[]){65536, 65536}) == (int64_t)1 << 32, "numel needs int64");
    CHECK(genc_shape_numel(2, (int[]){1 << 30, 1 << 30}) == GENC_MAX_NUMEL, "2^60 is the maximum");
    CHECK(genc_shape_numel(3, (int[]){1 << 30, 1 << 30, 2}) == -1, "2^61 elements: overflow");
    CHECK(genc_shape_numel(4, (int[]){1 << 30, 1 << 30, 1 << 30, 1 << 30}) == -1,
          "2^120 elements: overflow, not wrapped");
    CHECK(genc_shape_numel(2, (int[]){4, 0}) == -1 && genc_shape_numel(2, (int[]){4, -2}) == -1,
          "non-positive dims");
}

static void test_limit_and_accounting(void) {
    size_t limit0 = genc_mem_limit(), used0 = genc_mem_used();
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (!getenv("GENC_MEM_LIMIT"))
        CHECK(limit0 == (size_t)pages * (size_t)page, "default limit is the physical memory");

    float *p = genc_aligned_alloc(1000);
    CHECK(p && ((uintptr_t)p % 64) == 0, "aligned");
    CHECK(p && p[0] == 0 && p[249] == 0, "zeroed");
    CHECK(genc_mem_used() - used0 == counted(1000), "counts %zu bytes, want %zu",
          genc_mem_used() - used0, counted(1000));
    genc_aligned_free(p);
    CHECK(genc_mem_used() == used0, "free gives the bytes back");
    genc_aligned_free(NULL);

    /* sizes that overflow the rounding, and a size that fits size_t but not the limit */
    genc_clear_error();
    CHECK(genc_aligned_alloc(SIZE_MAX) == NULL && has(genc_error(), "out of memory"),
          "SIZE_MAX: %s", genc_error());
    CHECK(genc_aligned_alloc(SIZE_MAX - 10) == NULL, "SIZE_MAX - 10");
    genc_clear_error();
    CHECK(genc_aligned_alloc((size_t)1 << 50) == NULL && has(genc_error(), "out of memory: "),
          "1 PiB is over any physical memory: %s", genc_error());
    CHECK(genc_mem_used() == used0, "failed requests count nothing");

    /* a limit 1 MiB above what is held: 512 KiB fits, a further 768 KiB does not */
    genc_set_mem_limit(used0 + MIB);
    void *a = genc_aligned_alloc(MIB / 2);
    genc_clear_error();
    void *b = genc_aligned_alloc(3 * MIB / 4);
    CHECK(a && !b, "the second block is refused (%p %p)", a, b);
    CHECK(has(genc_error(), "out of memory: 1 MiB requested"), "message: %s", genc_error());
    genc_aligned_free(a);
    b = genc_aligned_alloc(3 * MIB / 4);
    CHECK(b != NULL, "fits once the first is freed");
    genc_aligned_free(b);
    genc_set_mem_limit(0);
    CHECK(genc_mem_limit() == limit0 && genc_mem_used() == used0, "limit restored, nothing held");
}

static void test_env_limit(void) {
    const char *old = getenv("GENC_MEM_LIMIT");
    char *saved = old ? strdup(old) : NULL;
    struct { const char *v; size_t want; } cases[] = {
        {"512M", 512 * MIB}, {"1G", (size_t)1 << 30}, {"2GiB", (size_t)2 << 30},
        {"4096", 4096}, {"64k", 64 << 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        setenv("GENC_MEM_LIMIT", cases[i].v, 1);
        genc_set_mem_limit(0);
        CHECK(genc_mem_limit() == cases[i].want, "GENC_MEM_LIMIT=%s gives %zu, want %zu",
              cases[i].v, genc_mem_limit(), cases[i].want);
    }
    unsetenv("GENC_MEM_LIMIT");
    genc_set_mem_limit(0);
    size_t phys = genc_mem_limit();
    setenv("GENC_MEM_LIMIT", "lots", 1); /* not a size: warned about and ignored */
    genc_set_mem_limit(0);
    CHECK(genc_mem_limit() == phys, "an invalid GENC_MEM_LIMIT falls back to the physical memory");
    if (saved) setenv("GENC_MEM_LIMIT", saved, 1);
    else unsetenv("GENC_MEM_LIMIT");
    free(saved);
    genc_set_mem_limit(0);
}

static void test_param_failures(void) {
    genc_params ps;
    genc_params_init(&ps);
    size_t used0 = genc_mem_used();
    genc_tensor *w = genc_param_new(&ps, "w", 2, (int[]){4, 5});
    CHECK(w && ps.n == 1, "a small parameter");

    genc_clear_error();
    CHECK(!genc_param_new(&ps, "huge", 3, (int[]){1 << 30, 1 << 30, 1 << 30}), "overflowing shape");
    CHECK(has(genc_error(), "out of memory: parameter huge of shape [1073741824, 1073741824, "
                            "1073741824]"), "message: %s", genc_error());
    /* 2^40 floats = 4 TiB, 8 TiB with the gradient: no overflow, but over any memory */
    genc_clear_error();
    CHECK(!genc_param_new(&ps, "big.weight", 2, (int[]){1 << 20, 1 << 20}), "4 TiB parameter");
    CHECK(has(genc_error(), "out of memory: big.weight ([1048576, 1048576]) needs 8388608 MiB"),
          "message: %s", genc_error());
    CHECK(!genc_param_new(&ps, "bad", 2, (int[]){3, 0}) && has(genc_error(), "dim 1 is 0"),
          "zero dim: %s", genc_error());
    CHECK(!genc_param_new(&ps, "bad", 5, (int[]){1, 1, 1, 1, 1}) && has(genc_error(), "rank 5"),
          "rank 5: %s", genc_error());

    /* data fits under the limit, its gradient does not: the data block is given back */
    size_t before = genc_mem_used();
    genc_set_mem_limit(before + counted(MIB) + MIB / 2);
    CHECK(!genc_param_new(&ps, "half", 2, (int[]){512, 512}), "data fits, gradient does not");
    CHECK(genc_mem_used() == before, "the data block was freed (%zu vs %zu)", genc_mem_used(), before);
    char want[160];
    snprintf(want, sizeof want, "half ([512, 512]) needs 2 MiB with its gradient, and %zu MiB of "
             "genc's %zu MiB are in use", (before + MIB - 1) / MIB, (genc_mem_limit() + MIB - 1) / MIB);
    CHECK(has(genc_error(), want), "message '%s' should hold '%s'", genc_error(), want);
    genc_set_mem_limit(0);

    CHECK(ps.n == 1 && genc_params_find(&ps, "w") == w && !genc_params_find(&ps, "huge") &&
              !genc_params_find(&ps, "half"),
          "failed parameters are not registered");
    CHECK(genc_params_count(&ps) == 20, "count %lld", (long long)genc_params_count(&ps));
    genc_tensor *v = genc_param_new(&ps, "v", 1, (int[]){7});
    CHECK(v && ps.n == 2 && genc_params_count(&ps) == 27, "still usable after failures");
    genc_params_zero_grad(&ps);
    genc_params_free(&ps);
    CHECK(genc_mem_used() == used0, "everything given back");
}

static void test_arena_failure(void) {
    size_t used0 = genc_mem_used();
    genc_arena *a = genc_arena_new(4096);
    CHECK(a && genc_mem_used() - used0 == counted(4096), "an arena block is counted");
    void *p = genc_arena_alloc(a, 100);
    size_t cap = genc_arena_capacity(a), used = genc_arena_used(a);
    genc_clear_error();
    CHECK(!genc_arena_alloc(a, (size_t)1 << 50) && has(genc_error(), "out of memory"),
          "1 PiB from an arena: %s", genc_error());
    CHECK(!genc_arena_alloc(a, SIZE_MAX - 8), "SIZE_MAX - 8 from an arena (rounding overflow)");
    CHECK(genc_arena_capacity(a) == cap && genc_arena_used(a) == used, "arena unchanged");
    void *q = genc_arena_alloc(a, 100);
    CHECK(q == (char *)p + 128, "arena still bumps from where it was");
    CHECK(!genc_arena_new(SIZE_MAX), "an arena of SIZE_MAX blocks");
    genc_arena_free(a);
    CHECK(genc_mem_used() == used0, "arena blocks given back");
}

/* ---------------------------------------------------------------- the handler of a step */

static jmp_buf g_jmp;
static int g_calls, g_user; /* static: written between setjmp and longjmp */
static char g_msg[1024];

static void jump_handler(void *user) {
    g_calls++;
    *(int *)user += 1;
    snprintf(g_msg, sizeof g_msg, "%s", genc_error());
    longjmp(g_jmp, 1);
}

static void test_step_handler(void) {
    genc_set_oom_handler(jump_handler, &g_user);
    genc_ctx *c = genc_ctx_new(1 << 16);
    size_t cap = genc_arena_capacity(c->arena);
    CHECK(cap == 1 << 16, "one block of 64 KiB");

    /* 2^60 floats: the shape is valid, its 2^62 bytes are over the limit */
    g_calls = 0;
    if (!setjmp(g_jmp)) genc_new2(c, 1 << 30, 1 << 30);
    CHECK(g_calls == 1 && g_user == 1, "handler called once with its user pointer");
    char want[256];
    snprintf(want, sizeof want, "out of memory: the activations of one step need more than %zu MiB",
             (size_t)((((size_t)1 << 62) + cap + MIB - 1) / MIB)); /* blocks + request */
    CHECK(has(g_msg, want), "message '%s' should hold '%s'", g_msg, want);
    CHECK(has(g_msg, "lower --batch or --seq"), "message says what to do");

    /* 2^61 elements: the element count itself overflows */
    g_calls = 0;
    if (!setjmp(g_jmp)) genc_new3(c, 1 << 30, 1 << 30, 2);
    CHECK(g_calls == 1 && has(g_msg, "out of memory: a tensor of shape [1073741824, 1073741824, 2]"),
          "overflowing shape: %s", g_msg);
    g_calls = 0;
    if (!setjmp(g_jmp)) genc_new4(c, 1 << 30, 1 << 30, 1 << 30, 1 << 30);
    CHECK(g_calls == 1, "2^120 elements");

    g_calls = 0;
    if (!setjmp(g_jmp)) genc_scratch(c, SIZE_MAX);
    CHECK(g_calls == 1 && has(g_msg, "out of memory"), "scratch of SIZE_MAX: %s", g_msg);

    /* Under a limit: 64 KiB arena blocks, 1 MiB of room. Tensors of 256 KiB each fit three
     * or four times (blocks and headers take a little), and then the handler runs before
     * genc holds more than the limit. */
    genc_ctx_reset(c);
    genc_set_mem_limit(genc_mem_used() + MIB);
    volatile int made = 0; /* changed between setjmp and longjmp */
    g_calls = 0;
    if (!setjmp(g_jmp))
        for (;;) {
            genc_new1(c, 65536);
            made++;
        }
    CHECK(g_calls == 1 && made >= 3 && made <= 4, "handler after %d tensors of 256 KiB", made);
    CHECK(genc_mem_used() <= genc_mem_limit(), "the limit holds");
    genc_set_mem_limit(0);

    /* the context is usable after a reset */
    genc_ctx_reset(c);
    genc_tensor *t = genc_zeros(c, 2, (int[]){3, 4});
    CHECK(t->n == 12 && t->data[11] == 0, "a step after the failure works");
    genc_ctx_free(c);
    genc_set_oom_handler(NULL, NULL);
}

/* Without a handler the step ends the process with status 1 and a message, not SIGABRT. */
static void test_default_handler(void) {
    int fd[2];
    if (pipe(fd) != 0) { CHECK(0, "pipe"); return; }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        genc_ctx *c = genc_ctx_new(1 << 16);
        genc_new2(c, 1 << 30, 1 << 30);
        _exit(99); /* not reached */
    }
    close(fd[1]);
    char buf[2048] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof buf - 1 && (r = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)r;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit status 1 (status %d, signal %d)",
          WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    CHECK(has(buf, "genc: error: out of memory: the activations of one step need more than"),
          "stderr: %s", buf);
}

int main(void) {
    test_numel();
    test_limit_and_accounting();
    test_env_limit();
    test_param_failures();
    test_arena_failure();
    test_step_handler();
    test_default_handler();
    return tu_finish();
}
