/* NEON elementwise math: whole groups of 8 floats (the caller finishes the tail). */
#include "vecmath/vecmath_internal.h"

#include <arm_neon.h>
#include <math.h>

static inline float32x4_t exp4(float32x4_t x) {
    const uint32x4_t nan_lanes = vmvnq_u32(vceqq_f32(x, x));
    const float32x4_t xc = vminq_f32(vmaxq_f32(x, vdupq_n_f32(FFL_EXP_MIN_ARG)), vdupq_n_f32(FFL_EXP_MAX_ARG));
    const float32x4_t k = vrndnq_f32(vmulq_n_f32(xc, FFL_EXP_LOG2E));
    float32x4_t r = vfmsq_f32(xc, k, vdupq_n_f32(FFL_EXP_LN2_HI));
    r = vfmsq_f32(r, k, vdupq_n_f32(FFL_EXP_LN2_LO));
    float32x4_t p = vfmaq_f32(vdupq_n_f32(FFL_EXP_C6), vdupq_n_f32(FFL_EXP_C7), r);
    p = vfmaq_f32(vdupq_n_f32(FFL_EXP_C5), p, r);
    p = vfmaq_f32(vdupq_n_f32(FFL_EXP_C4), p, r);
    p = vfmaq_f32(vdupq_n_f32(FFL_EXP_C3), p, r);
    p = vfmaq_f32(vdupq_n_f32(FFL_EXP_C2), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    /* 2^k as 2^(k/2) * 2^(k - k/2): each half is a normal float for k in [-150, 129] */
    const int32x4_t ki = vcvtq_s32_f32(k);
    const int32x4_t k1 = vshrq_n_s32(ki, 1), k2 = vsubq_s32(ki, k1);
    const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k1, vdupq_n_s32(127)), 23));
    const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k2, vdupq_n_s32(127)), 23));
    return vbslq_f32(nan_lanes, x, vmulq_f32(vmulq_f32(p, s1), s2));
}

static inline float32x4_t swiglu4(float32x4_t x, float32x4_t u) {
    return vmulq_f32(vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(x)))), u);
}

void ffl_swiglu_neon(float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i + 8 <= n; i += 8) {
        vst1q_f32(g + i, swiglu4(vld1q_f32(g + i), vld1q_f32(u + i)));
        vst1q_f32(g + i + 4, swiglu4(vld1q_f32(g + i + 4), vld1q_f32(u + i + 4)));
    }
}

double ffl_exp_shift_neon(float *x, int64_t n, float shift) {
    const float32x4_t sh = vdupq_n_f32(shift);
    float64x2_t s0 = vdupq_n_f64(0), s1 = vdupq_n_f64(0);
    for (int64_t i = 0; i + 8 <= n; i += 8)
        for (int h = 0; h < 8; h += 4) {
            const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i + h), sh));
            vst1q_f32(x + i + h, e);
            s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
            s1 = vaddq_f64(s1, vcvt_high_f64_f32(e));
        }
    return vaddvq_f64(vaddq_f64(s0, s1));
}

void ffl_to_half_neon(uint16_t *h, const float *x, int64_t n) {
    for (int64_t i = 0; i + 8 <= n; i += 8) {
        const float16x8_t v = vcombine_f16(vcvt_f16_f32(vld1q_f32(x + i)), vcvt_f16_f32(vld1q_f32(x + i + 4)));
        vst1q_u16(h + i, vreinterpretq_u16_f16(v));
    }
}

float ffl_scale_causal_max_neon(float *x, const int32_t *cell_pos, int64_t n, int32_t pos, float scale) {
    float32x4_t mx = vdupq_n_f32(-INFINITY);
    const float32x4_t ninf = vdupq_n_f32(-INFINITY);
    const int32x4_t p = vdupq_n_s32(pos);
    const int64_t end = n & ~(int64_t)7; /* whole groups of 8, as the other functions here */
    for (int64_t i = 0; i < end; i += 4) {
        const uint32x4_t hidden = vcgtq_s32(vld1q_s32(cell_pos + i), p);
        const float32x4_t y = vbslq_f32(hidden, ninf, vmulq_n_f32(vld1q_f32(x + i), scale));
        vst1q_f32(x + i, y);
        mx = vbslq_f32(vcgtq_f32(y, mx), y, mx); /* a NaN y leaves mx as it was */
    }
    return vmaxvq_f32(mx);
}
