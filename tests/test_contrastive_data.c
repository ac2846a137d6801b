/* Caption data of the contrastive family: hand-written captions for known (template, name)
 * pairs, the token layout (BOS, bytes, EOS, PAD), refusal of texts longer than the context,
 * and training batches that are deterministic in the seed, caption each image with its own
 * class, and never use a held-out template. */
#include "genc/contrastive.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

int main(void) {
    char buf[128];
    CHECK(genc_caption_text(0, "Ankle boot", buf, sizeof buf) > 0 && !strcmp(buf, "a photo of an ankle boot."), "%s", buf);
    CHECK(genc_caption_text(1, "T-shirt/top", buf, sizeof buf) > 0 && !strcmp(buf, "a t-shirt/top."), "%s", buf);
    CHECK(genc_caption_text(7, "Bag", buf, sizeof buf) > 0 && !strcmp(buf, "a close-up photo of a bag, centred."), "%s", buf);
    CHECK(genc_caption_text(8, "Bag", buf, sizeof buf) == GENC_ERR, "template 8 refused");
    CHECK(genc_caption_text(0, "Bag", buf, 8) == GENC_ERR, "too small a buffer refused");
    CHECK(genc_caption_heldout_template(0) == 6 && genc_caption_heldout_template(1) == 7 &&
              genc_caption_heldout_template(4) == 6, "held-out templates alternate 6, 7");

    int32_t ids[8];
    int eos = -1;
    CHECK(genc_caption_tokens("ab", 6, ids, &eos) == GENC_OK && eos == 3, "eos at %d", eos);
    CHECK(ids[0] == GENC_TOK_BOS && ids[1] == 'a' && ids[2] == 'b' && ids[3] == GENC_TOK_EOS && ids[4] == GENC_TOK_PAD &&
              ids[5] == GENC_TOK_PAD, "token layout");
    CHECK(genc_caption_tokens("abcde", 6, ids, &eos) == GENC_ERR && strstr(genc_error(), "5 bytes"), "%s", genc_error());
    CHECK(genc_caption_tokens("", 6, ids, &eos) == GENC_ERR, "empty text refused");
    /* the longest caption fits the context */
    int longest = 0;
    for (int k = 0; k < GENC_CAPTION_TEMPLATES; k++) {
        int n = genc_caption_text(k, "T-shirt/top", buf, sizeof buf);
        if (n > longest) longest = n;
    }
    CHECK(longest + 2 <= GENC_CAPTION_CTX, "longest caption %d bytes", longest);

    genc_images im;
    if (genc_images_load("fashion-mnist", GENC_SPLIT_TEST, &im)) {
        CHECK(0, "load: %s", genc_error());
        return tu_finish();
    }
    enum { B = 400, T = GENC_CAPTION_CTX };
    int64_t per = (int64_t)im.height * im.width;
    float *x1 = malloc(sizeof(float) * B * per), *x2 = malloc(sizeof(float) * B * per);
    int32_t *t1 = malloc(sizeof(int32_t) * B * T), *t2 = malloc(sizeof(int32_t) * B * T), lab[B];
    int e1[B], e2[B];
    genc_rng r1 = genc_rng_make(7, 1), r2 = genc_rng_make(7, 1);
    CHECK(genc_caption_batch(&im, &r1, B, T, -1, 1, x1, t1, e1, lab) == GENC_OK, "%s", genc_error());
    CHECK(genc_caption_batch(&im, &r2, B, T, -1, 1, x2, t2, e2, NULL) == GENC_OK, "%s", genc_error());
    CHECK(!memcmp(x1, x2, sizeof(float) * B * per) && !memcmp(t1, t2, sizeof(int32_t) * B * T) &&
              !memcmp(e1, e2, sizeof e1), "same seed, same batch");
    int wrong = 0, heldout = 0, used[GENC_CAPTION_TEMPLATES] = {0};
    for (int i = 0; i < B; i++) {
        char text[T + 1];
        int64_t n = genc_detokenize(t1 + (int64_t)i * T, T, 0, text, T);
        text[n] = 0;
        int hit = -1;
        for (int k = 0; k < GENC_CAPTION_TEMPLATES && hit < 0; k++) {
            genc_caption_text(k, im.class_names[lab[i]], buf, sizeof buf);
            if (!strcmp(buf, text)) hit = k;
        }
        if (hit < 0) wrong++;
        else if (hit >= GENC_CAPTION_TRAIN_TEMPLATES) heldout++;
        else used[hit]++;
        if (t1[(int64_t)i * T + e1[i]] != GENC_TOK_EOS) wrong++;
    }
    CHECK(wrong == 0, "%d captions do not name their image's class", wrong);
    CHECK(heldout == 0, "%d training captions use a held-out template", heldout);
    /* 400 draws over 6 templates: each expected 67 times; fewer than 30 is > 6 sigma off */
    for (int k = 0; k < GENC_CAPTION_TRAIN_TEMPLATES; k++) CHECK(used[k] >= 30, "template %d drawn %d times", k, used[k]);
    free(x1); free(x2); free(t1); free(t2);
    genc_images_free(&im);
    return tu_finish();
}
