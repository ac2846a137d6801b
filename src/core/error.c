/* Error messages: a thread-local buffer that library calls fill before returning GENC_ERR. */
#include "genc/core.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[2048];

int genc_set_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return GENC_ERR;
}

int genc_wrap_error(const char *fmt, ...) {
    char prefix[512], old[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t pl = strnlen(prefix, sizeof prefix);
    if (pl + 2 < sizeof g_msg) {
        memcpy(g_msg, prefix, pl);
        memcpy(g_msg + pl, ": ", 2);
        size_t room = sizeof g_msg - pl - 3;
        size_t ol = strnlen(old, room);
        memcpy(g_msg + pl + 2, old, ol);
        g_msg[pl + 2 + ol] = 0;
    }
    return GENC_ERR;
}

const char *genc_error(void) { return g_msg[0] ? g_msg : "unknown error"; }
void genc_clear_error(void) { g_msg[0] = 0; }

_Noreturn void genc_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "genc: internal error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}
