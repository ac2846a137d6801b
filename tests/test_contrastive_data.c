/* Caption data of the contrastive family: hand-written captions for known (template, name)
 * pairs, the token layout (BOS, bytes, EOS, PAD), refusal of texts longer than the context,
 * and training batches that are deterministic in the seed, caption each image with its own
 * class, and never use a held-out template. Two-item pairs: hand-written pair captions, the
 * canvas (which item is left, 2×2 averages, background), and on a hand-made two-class set
 * whose classes have different grey levels, that every pair caption of a mixed batch names
 * the item on the left of its canvas as the left one; held-out pairs skip same-class
 * neighbours. */
#include "genc/contrastive.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* the (template, left, right) of a pair caption over names[2], or -1 */
static int parse_pair(const char *text, const char *const *names, int *left) {
    char buf[128];
    for (int k = 0; k < GENC_PAIR_TEMPLATES; k++)
        for (int l = 0; l < 2; l++) {
            genc_pair_caption_text(k, names[l], names[1 - l], buf, sizeof buf);
            if (!strcmp(buf, text)) return *left = l, k;
        }
    return -1;
}

static void pairs(void) {
    char buf[128];
    CHECK(genc_pair_caption_text(0, "Sandal", "Shirt", buf, sizeof buf) > 0 && !strcmp(buf, "a sandal to the left of a shirt."), "%s", buf);
    CHECK(genc_pair_caption_text(1, "Sandal", "Ankle boot", buf, sizeof buf) > 0 &&
              !strcmp(buf, "an ankle boot to the right of a sandal."), "%s", buf);
    CHECK(genc_pair_caption_text(5, "Bag", "Coat", buf, sizeof buf) > 0 && !strcmp(buf, "a coat on the right of a bag."), "%s", buf);
    CHECK(genc_pair_caption_text(6, "Bag", "Coat", buf, sizeof buf) == GENC_ERR, "pair template 6 refused");
    CHECK(genc_pair_heldout_template(0) == 4 && genc_pair_heldout_template(3) == 5, "held-out pair templates alternate");
    /* every pair caption of the longest names fits the context, in both orders */
    for (int k = 0; k < GENC_PAIR_TEMPLATES; k++) {
        int n = genc_pair_caption_text(k, "T-shirt/top", "Ankle boot", buf, sizeof buf);
        int m = genc_pair_caption_text(k, "Ankle boot", "T-shirt/top", buf, sizeof buf);
        CHECK(n > 0 && m > 0 && n + 2 <= GENC_CAPTION_CTX && m + 2 <= GENC_CAPTION_CTX, "pair template %d: %d bytes", k, n);
    }

    /* canvas of 1 channel 4×6: left[y][x] = 10y + x, right = 100 + the same; items 2×3 at rows 1..2 */
    enum { H = 4, W = 6 };
    float l[H * W], r[H * W], out[H * W];
    for (int i = 0; i < H * W; i++) l[i] = (float)(10 * (i / W) + i % W), r[i] = 100 + l[i];
    CHECK(genc_pair_canvas(l, r, 1, H, W, -1, out) == GENC_OK, "canvas");
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float want = -1;
            if (y >= 1 && y < 3) {
                int side = x >= 3, sx = x - 3 * side, sy = y - 1;
                /* mean of rows 2sy, 2sy+1 and columns 2sx, 2sx+1: 10(2sy + ½) + 2sx + ½ */
                want = 100.f * side + 10.f * (2 * sy + 0.5f) + 2 * sx + 0.5f;
            }
            CHECK(out[y * W + x] == want, "canvas (%d, %d) = %g, want %g", y, x, out[y * W + x], want);
        }
    CHECK(genc_pair_canvas(l, r, 1, 1, W, -1, out) == GENC_ERR, "a 1-row canvas refused");

    /* a hand-made set: 8 images 4×4, class 0 "Bag" all 255, class 1 "Coat" all 0 */
    uint8_t px[8 * 16];
    int32_t lab[8] = {0, 0, 0, 1, 1, 0, 1, 0};
    const char *const names[2] = {"Bag", "Coat"};
    for (int i = 0; i < 8 * 16; i++) px[i] = lab[i / 16] ? 0 : 255;
    genc_images im = {.pixels = px, .labels = lab, .n = 8, .channels = 1, .height = 4, .width = 4, .n_classes = 2,
                      .class_names = names};
    enum { B = 40, NP = 30, T = GENC_CAPTION_CTX };
    static float x[B * 16];
    static int32_t ids[B * T];
    int eos[B], got[B];
    genc_rng rng = genc_rng_make(3, 1);
    CHECK(genc_caption_batch_mixed(&im, &rng, B, NP, T, -1, 1, x, ids, eos, got) == GENC_OK, "%s", genc_error());
    int bad = 0, heldout = 0, lefts[2] = {0, 0};
    for (int i = 0; i < B; i++) {
        char text[T + 1];
        int64_t n = genc_detokenize(ids + (int64_t)i * T, T, 0, text, T);
        text[n] = 0;
        int left = -1, k = parse_pair(text, names, &left);
        if (i < B - NP) {
            bad += k >= 0 || got[i] < 0; /* single items first */
            continue;
        }
        bad += got[i] != -1;
        if (k < 0) {
            bad++;
            continue;
        }
        heldout += k >= GENC_PAIR_TRAIN_TEMPLATES;
        lefts[left]++;
        /* canvas row 1 (inside the items): column 0 is the left item, column 2 the right one;
         * a bag is +1, a coat −1 */
        float want_l = left == 0 ? 1.f : -1.f;
        const float *c = x + (int64_t)i * 16;
        bad += c[4] != want_l || c[6] != -want_l || c[0] != -1.f;
    }
    CHECK(bad == 0, "%d items of the mixed batch wrong (pair captions must name the left item first in meaning)", bad);
    CHECK(heldout == 0, "%d training pair captions use a held-out pair template", heldout);
    CHECK(lefts[0] > 5 && lefts[1] > 5, "both orders drawn (%d, %d of 30)", lefts[0], lefts[1]);
    int64_t a, b;
    CHECK(genc_pair_heldout(&im, 0, &a, &b) == GENC_OK && a == 0 && b == 3, "held-out pair 0: %lld, %lld", (long long)a, (long long)b);
    CHECK(genc_pair_heldout(&im, 2, &a, &b) == GENC_OK && a == 4 && b == 5, "held-out pair 2: %lld, %lld", (long long)a, (long long)b);
    CHECK(genc_pair_heldout(&im, 3, &a, &b) == GENC_OK && a == 6 && b == 7, "held-out pair 3: %lld, %lld", (long long)a, (long long)b);
    CHECK(genc_pair_heldout(&im, 4, &a, &b) == GENC_ERR, "held-out pair 4 needs image 9 of 8");
    lab[7] = 1;
    CHECK(genc_pair_heldout(&im, 3, &a, &b) == GENC_ERR, "held-out pair 3: no image of another class after 6");
    int32_t one[8] = {0};
    im.labels = one;
    im.n_classes = 1;
    CHECK(genc_caption_batch_mixed(&im, &rng, 4, 2, T, -1, 1, x, ids, eos, NULL) == GENC_ERR, "one class: pairs refused");
}

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

    pairs();
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
