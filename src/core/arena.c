/* The per-step activation arena: a list of blocks; allocation bumps an offset, reset rewinds
 * to the first block without freeing, so a steady training loop never calls malloc. Blocks
 * are counted against genc_mem_limit() (memory.c). */
#include "genc/core.h"

#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size, used;
    unsigned char *mem;
} block;

struct genc_arena {
    block *head, *cur;
    size_t block_bytes;
};

static block *block_new(size_t size) {
    block *b = malloc(sizeof *b);
    if (!b) { genc_set_error("out of memory"); return NULL; }
    b->mem = genc_mem_block(size, 0);
    if (!b->mem) { free(b); return NULL; }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

genc_arena *genc_arena_new(size_t block_bytes) {
    if (block_bytes > SIZE_MAX / 2) {
        genc_set_error("out of memory: arena blocks of %zu MiB", genc_mib(block_bytes));
        return NULL;
    }
    genc_arena *a = calloc(1, sizeof *a);
    if (!a) { genc_set_error("out of memory"); return NULL; }
    a->block_bytes = block_bytes ? (block_bytes + GENC_ALIGN - 1) / GENC_ALIGN * GENC_ALIGN
                                 : (size_t)64 << 20;
    a->head = a->cur = block_new(a->block_bytes);
    if (!a->head) { free(a); return NULL; }
    return a;
}

void genc_arena_free(genc_arena *a) {
    if (!a) return;
    for (block *b = a->head; b;) {
        block *n = b->next;
        genc_mem_block_free(b->mem);
        free(b);
        b = n;
    }
    free(a);
}

void *genc_arena_alloc(genc_arena *a, size_t bytes) {
    if (bytes > SIZE_MAX / 2) {
        genc_set_error("out of memory: %zu MiB requested from an arena", genc_mib(bytes));
        return NULL;
    }
    size_t sz = (bytes + GENC_ALIGN - 1) / GENC_ALIGN * GENC_ALIGN;
    if (sz == 0) sz = GENC_ALIGN;
    for (;;) {
        block *b = a->cur;
        if (sz <= b->size - b->used) {
            void *p = b->mem + b->used;
            b->used += sz;
            return p;
        }
        /* Move on to the next retained block that is big enough, or insert a new one. On
         * failure nothing has changed: the arena stays usable after a reset. */
        if (b->next && b->next->size >= sz) {
            a->cur = b->next;
            a->cur->used = 0;
            continue;
        }
        size_t nsz = sz > a->block_bytes ? sz : a->block_bytes;
        block *nb = block_new(nsz);
        if (!nb) return NULL; /* genc_error() says why */
        nb->next = b->next;
        b->next = nb;
        a->cur = nb;
    }
}

void genc_arena_reset(genc_arena *a) {
    for (block *b = a->head; b; b = b->next) b->used = 0;
    a->cur = a->head;
}

size_t genc_arena_used(const genc_arena *a) {
    size_t u = 0;
    for (block *b = a->head; b; b = b->next) {
        u += b->used;
        if (b == a->cur) break;
    }
    return u;
}

size_t genc_arena_capacity(const genc_arena *a) {
    size_t s = 0;
    for (block *b = a->head; b; b = b->next) s += b->size;
    return s;
}
