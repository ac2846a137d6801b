/* Memory: aligned allocation and the per-step activation arena.
 * The arena is a list of blocks; allocation bumps an offset, reset rewinds to the first
 * block without freeing, so a steady training loop never calls malloc. */
#include "genc/core.h"

#include <stdlib.h>
#include <string.h>

void *genc_aligned_alloc(size_t bytes) {
    size_t sz = (bytes + GENC_ALIGN - 1) / GENC_ALIGN * GENC_ALIGN;
    if (sz == 0) sz = GENC_ALIGN;
    void *p = aligned_alloc(GENC_ALIGN, sz);
    if (p) memset(p, 0, sz);
    return p;
}

void genc_aligned_free(void *p) { free(p); }

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
    if (!b) return NULL;
    b->mem = aligned_alloc(GENC_ALIGN, size);
    if (!b->mem) { free(b); return NULL; }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    return b;
}

genc_arena *genc_arena_new(size_t block_bytes) {
    genc_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
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
        free(b->mem);
        free(b);
        b = n;
    }
    free(a);
}

void *genc_arena_alloc(genc_arena *a, size_t bytes) {
    size_t sz = (bytes + GENC_ALIGN - 1) / GENC_ALIGN * GENC_ALIGN;
    if (sz == 0) sz = GENC_ALIGN;
    for (;;) {
        block *b = a->cur;
        if (b->used + sz <= b->size) {
            void *p = b->mem + b->used;
            b->used += sz;
            return p;
        }
        /* Move on to the next retained block that is big enough, or append a new one. */
        if (b->next && b->next->size >= sz) {
            a->cur = b->next;
            a->cur->used = 0;
            continue;
        }
        size_t nsz = sz > a->block_bytes ? sz : a->block_bytes;
        block *nb = block_new(nsz);
        if (!nb) genc_fatal("arena: out of memory allocating %zu bytes", nsz);
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
