/* Byte-level tokenizer: id = byte value (0..255) for text, 256..259 for MASK, BOS, EOS, PAD.
 * No merges and no unknown token: every byte string round-trips, whatever its encoding. */
#include "genc/data.h"

#include <string.h>

static const char *const SPECIAL_NAMES[] = {"[MASK]", "[BOS]", "[EOS]", "[PAD]"};

int64_t genc_tokenize(const uint8_t *bytes, int64_t n, int32_t *ids) {
    for (int64_t i = 0; i < n; i++) ids[i] = bytes[i];
    return n;
}

const char *genc_token_name(int32_t id) {
    return id >= GENC_TOK_MASK && id < GENC_VOCAB ? SPECIAL_NAMES[id - GENC_TOK_MASK] : NULL;
}

/* Output is raw bytes, not NUL-terminated. A special token's name is written whole or not at
 * all, so a truncated output never ends in half a "[MASK]". Ids outside the vocabulary (a
 * model bug) show as "[?]" with show_special and are dropped otherwise. */
int64_t genc_detokenize(const int32_t *ids, int64_t n, int show_special, char *out, int64_t cap) {
    int64_t w = 0;
    for (int64_t i = 0; i < n && w < cap; i++) {
        int32_t id = ids[i];
        if (id >= 0 && id < 256) {
            out[w++] = (char)id;
            continue;
        }
        if (!show_special) continue;
        const char *name = genc_token_name(id);
        if (!name) name = "[?]";
        int64_t len = (int64_t)strlen(name);
        if (w + len > cap) break;
        memcpy(out + w, name, (size_t)len);
        w += len;
    }
    return w;
}
