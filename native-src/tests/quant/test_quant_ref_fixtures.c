/* Every tensor of every llama.cpp-quantized fixture is reproduced byte for byte by quantizing the
 * matching tensor of the family's F32 file; dequantizing it stays close to the F32 original. */
#include "fflama.h"
#include "test_util.h"

#include <math.h>
#include <stdint.h>

static const char *FIXTURES[][2] = {
    {"llama-dense-f32.gguf", "llama-dense-f16.gguf"},    {"llama-dense-f32.gguf", "llama-dense-bf16.gguf"},
    {"llama-dense-f32.gguf", "llama-dense-q8_0.gguf"},   {"llama-dense-f32.gguf", "llama-dense-q4_0.gguf"},
    {"llama-dense-f32.gguf", "llama-dense-q4_1.gguf"},   {"llama-dense-f32.gguf", "llama-dense-q5_0.gguf"},
    {"llama-dense-f32.gguf", "llama-dense-q5_1.gguf"},   {"llama-dense-f32.gguf", "llama-dense-q2_k.gguf"},
    {"llama-dense-f32.gguf", "llama-dense-q3_k_m.gguf"}, {"llama-dense-f32.gguf", "llama-dense-q4_k_m.gguf"},
    {"llama-dense-f32.gguf", "llama-dense-q5_k_m.gguf"}, {"llama-dense-f32.gguf", "llama-dense-q6_k.gguf"},
    {"llama-dense-f32.gguf", "llama-dense-iq4_nl.gguf"}, {"llama-dense-f32.gguf", "llama-dense-iq4_xs.gguf"},
    {"llama-moe-f32.gguf", "llama-moe-q8_0.gguf"},       {"llama-moe-f32.gguf", "llama-moe-q4_k_m.gguf"},
    {"qwen2-f32.gguf", "qwen2-q8_0.gguf"},               {"qwen2-f32.gguf", "qwen2-q4_k_m.gguf"},
};

static int64_t matched[FFL_TYPE_COUNT], total[FFL_TYPE_COUNT];

static void check_pair(const char *f32_name, const char *q_name) {
    char p1[1024], p2[1024], rel[256];
    snprintf(rel, sizeof rel, "models/%s", f32_name);
    testdata_path(p1, sizeof p1, rel);
    snprintf(rel, sizeof rel, "models/%s", q_name);
    testdata_path(p2, sizeof p2, rel);
    ffl_gguf *ref = NULL, *q = NULL;
    CHECK_MSG(ffl_gguf_open(p1, 0, &ref) == FFL_OK, "%s: %s", p1, ffl_last_error());
    CHECK_MSG(ffl_gguf_open(p2, 0, &q) == FFL_OK, "%s: %s", p2, ffl_last_error());
    if (!ref || !q) goto done;
    CHECK(ffl_gguf_tensor_count(ref) == ffl_gguf_tensor_count(q));
    for (int64_t i = 0; i < ffl_gguf_tensor_count(q); i++) {
        ffl_tensor_info tq, tf;
        CHECK(ffl_gguf_tensor_info(q, i, &tq) == FFL_OK);
        int64_t j = ffl_gguf_find_tensor(ref, tq.name);
        CHECK_MSG(j >= 0, "%s: %s missing from %s", q_name, tq.name, f32_name);
        if (j < 0) continue;
        CHECK(ffl_gguf_tensor_info(ref, j, &tf) == FFL_OK);
        CHECK(tf.type == FFL_TYPE_F32 && tf.ne0 == tq.ne0 && tf.ne1 == tq.ne1 && tf.ne2 == tq.ne2);
        if (tq.type == FFL_TYPE_F32) continue; /* kept as is */
        uint64_t n = (uint64_t)tf.ne0 * (uint64_t)tf.ne1 * (uint64_t)tf.ne2 * (uint64_t)tf.ne3;
        uint8_t *buf = malloc(tq.n_bytes);
        float *back = malloc(n * sizeof(float));
        int st = ffl_quantize_row(tq.type, tf.data, buf, (int64_t)n);
        CHECK_MSG(st == FFL_OK, "%s %s: %s", q_name, tq.name, ffl_last_error());
        total[tq.type]++;
        if (st == FFL_OK && memcmp(buf, tq.data, tq.n_bytes) == 0) {
            matched[tq.type]++;
        } else {
            uint64_t first = 0;
            while (first < tq.n_bytes && buf[first] == ((const uint8_t *)tq.data)[first]) first++;
            CHECK_MSG(0, "%s %s (%s): bytes differ from offset %llu of %llu", q_name, tq.name, ffl_type_name(tq.type),
                      (unsigned long long)first, (unsigned long long)tq.n_bytes);
        }
        /* the fixture's own bytes dequantize near the original */
        CHECK(ffl_dequantize_row(tq.type, tq.data, back, (int64_t)n) == FFL_OK);
        double err = 0, sig = 0;
        const float *orig = tf.data;
        for (uint64_t k = 0; k < n; k++) {
            err += (back[k] - orig[k]) * (double)(back[k] - orig[k]);
            sig += orig[k] * (double)orig[k];
        }
        CHECK_MSG(err / sig < 0.1, "%s %s: relative error %g", q_name, tq.name, err / sig);
        free(buf);
        free(back);
    }
done:
    ffl_gguf_close(ref);
    ffl_gguf_close(q);
}

int main(void) {
    for (size_t i = 0; i < sizeof FIXTURES / sizeof *FIXTURES; i++) check_pair(FIXTURES[i][0], FIXTURES[i][1]);
    int64_t all = 0;
    for (int t = 0; t < FFL_TYPE_COUNT; t++) {
        if (!total[t]) continue;
        printf("  %-7s %lld/%lld tensors byte-identical\n", ffl_type_name(t), (long long)matched[t], (long long)total[t]);
        CHECK(matched[t] == total[t]);
        all += total[t];
    }
    CHECK(all > 200);
    return test_finish("test_quant_ref_fixtures");
}
