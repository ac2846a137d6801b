/* Private to src/core: counted blocks (memory.c) and the out-of-memory exit of a step. */
#ifndef GENC_CORE_MEM_H
#define GENC_CORE_MEM_H

#include <stddef.h>

/* 64-byte aligned, counted against genc_mem_limit(), zeroed when zero != 0.
 * NULL with genc_error() set when over the limit or malloc fails. */
void *genc_mem_block(size_t bytes, int zero);
void genc_mem_block_free(void *p);
/* bytes rounded up to whole MiB, for messages */
size_t genc_mib(size_t bytes);
/* Calls the handler installed with genc_set_oom_handler (genc_error() holds the message);
 * by default, or when the handler returns, prints "genc: error: <message>" and exits 1. */
_Noreturn void genc_out_of_memory(void);

#endif
