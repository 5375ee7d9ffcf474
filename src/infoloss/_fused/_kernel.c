/* infoloss fused CPU row kernels (class-index and probability targets). Plain C, no torch headers:
 * compiles in ~1 s.
 *
 * Per row i (compute type T, d_j = max(z_j - m, -IL_DCLAMP), e_j = exp(d_j), S = sum e, p = e / S):
 *   loss_i = ce * CE_i + ent * s_i * H_i + rev * s_i * R_i
 *   grad_ij = p_j * (K_i + beta_i * d_j) - ce * eps / C * w_j   (+ a correction at j = y_i)
 * See docs/fused.md for the derivation. Ignored rows get loss 0 and a zero gradient row.
 *
 * Speed: the float32 row passes run on IL_W-lane GCC/clang vector extensions (il_v8f: 16 lanes where
 * -march=native turns on AVX-512, 8 otherwise, i.e. AVX2; split into narrower SIMD or scalar code
 * elsewhere; -DIL_W=8 forces 8) with a branch-free polynomial exp
 * and log of our own, and a scalar tail. Row sums accumulate in float vectors over blocks of IL_BLOCK
 * elements, then in double. Other compilers (or -DIL_NO_VECTOR) get the same math in plain scalar
 * loops. The float64 kernels use libm exp/log.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#if !defined(IL_NO_VECTOR) && (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 5))
#define IL_VEC 1
#else
#define IL_VEC 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define IL_INLINE static inline __attribute__((always_inline))
#else
#define IL_INLINE static inline
#endif

/* d = z - m is clamped at -IL_DCLAMP in the exp scans and the gradient passes, so that a -inf logit
 * gives e = 0 and e * d = 0 (not 0 * inf = NaN). exp(-1e4) is exactly 0 in both kernels (float32 below
 * -87, double below -746), so the clamp changes no e; a small bound keeps coef * d finite. */
#define IL_DCLAMP 1e4f

/* Rows are independent: with OpenMP (-fopenmp) the row loop runs on the process's OpenMP team, which
 * under a pip torch is torch's own (the library resolves libgomp.so.1 to the copy torch loaded), so the
 * kernel shares threads with torch's and inductor's parallel regions instead of competing with them.
 * Each row is computed by one thread with the same code: results do not depend on the thread count. */
#if defined(_OPENMP)
#define IL_PARALLEL_ROWS _Pragma("omp parallel for schedule(static)")
#else
#define IL_PARALLEL_ROWS
#endif
/* 0 in a forked child (set from Python): GNU libgomp's team does not survive fork(), and a parallel
 * region there would wait forever on the parent's threads (torch's own ops share that limit). */
static int il_parallel = 1;
#define IL_PARALLEL_MIN 65536 /* logits below which a call stays on one thread */
void il_set_parallel(int64_t on) { il_parallel = (int)on; }

#define IL_BLOCK 128 /* float-vector accumulation block: 16 terms per lane before the double sum */

/* exp: x = n ln2 + r, |r| <= ln2/2, n by the round-to-nearest trick (adding 1.5 * 2^23 leaves the
 * integer in the low mantissa bits); ln2 split in a short exact part and a correction. exp(r) =
 * 1 + r + r^2 P(r), P of degree 4 fitted for minimum relative error on [-ln2/2, ln2/2] (max 3e-9 in
 * exact arithmetic, about 1 ulp in float). */
#define IL_LOG2E 1.44269504088896341f
#define IL_LN2_HI 0.693359375f      /* 355/512: n * IL_LN2_HI is exact for |n| < 2^15 */
#define IL_LN2_LO (-2.12194440e-4f) /* ln2 - IL_LN2_HI */
#define IL_RND 12582912.0f          /* 1.5 * 2^23 */
#define IL_RND_BITS 0x4b400000
#define IL_EXP_MIN (-87.0f)         /* below: 0 (also for -inf); keeps 2^n normal */
#define IL_P0 4.9999994040e-01f
#define IL_P1 1.6666521132e-01f
#define IL_P2 4.1668388993e-02f
#define IL_P3 8.3687454462e-03f
#define IL_P4 1.3814539416e-03f
/* log: x = 2^e m, m in (sqrt(1/2), sqrt(2)], s = (m - 1) / (m + 1), log m = 2 atanh s
 * = 2s + s^3 (2/3 + 2/5 s^2 + 2/7 s^4 + 2/9 s^6) + O(s^11) (|s| <= 0.172: truncation < 1e-9). */
#define IL_SQRT2 1.41421356237309505f
#define IL_FLT_MIN 1.17549435e-38f

static inline float il_bits2f(int32_t i) { float f; memcpy(&f, &i, sizeof f); return f; }
static inline int32_t il_f2bits(float f) { int32_t i; memcpy(&i, &f, sizeof i); return i; }

static inline float il_expf(float x) {
    /* exp(x) for x <= 0 (the kernels only need that); 0 below IL_EXP_MIN, NaN stays NaN. Branch-free. */
    const float xc = x < IL_EXP_MIN ? IL_EXP_MIN : x;
    const float t = xc * IL_LOG2E + IL_RND;
    const float n = t - IL_RND;
    const float r = (xc - n * IL_LN2_HI) - n * IL_LN2_LO;
    float p = IL_P4;
    p = p * r + IL_P3;
    p = p * r + IL_P2;
    p = p * r + IL_P1;
    p = p * r + IL_P0;
    p = p * (r * r) + r + 1.0f;
    const float res = p * il_bits2f((il_f2bits(t) - IL_RND_BITS + 127) << 23);
    return x < IL_EXP_MIN ? 0.0f : res;
}

static inline float il_logf_floor(float x, float fl) {
    /* max(log x, fl); fl for x <= 0 (and NaN); subnormals are rescaled by 2^23 first. Not for +inf. */
    const int small = x < IL_FLT_MIN;
    const int32_t b = il_f2bits(small ? x * 8388608.0f : x);
    int32_t e = ((b >> 23) & 0xff) - 127 - (small ? 23 : 0);
    float mx = il_bits2f((b & 0x007fffff) | 0x3f800000); /* [1, 2) */
    const int big = mx > IL_SQRT2;
    mx = big ? 0.5f * mx : mx;
    e += big;
    const float ef = (float)e;
    const float s = (mx - 1.0f) / (mx + 1.0f), u = s * s;
    float q = 2.0f / 9.0f;
    q = q * u + 2.0f / 7.0f;
    q = q * u + 2.0f / 5.0f;
    q = q * u + 2.0f / 3.0f;
    const float r = ef * IL_LN2_HI + ((s + s) + (s * u * q + ef * IL_LN2_LO));
    const float res = r < fl ? fl : r;
    return x > 0.0f ? res : fl;
}

static inline double il_log_floor(double x, double fl) {
    const double r = log(x);
    return r < fl ? fl : r;
}

#if IL_VEC
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* 32-byte vectors without AVX: only inlined helpers */
#endif
/* IL_W lanes: 16 (one 64-byte register) where AVX-512 is on, else 8; -DIL_W=8 forces 8 (tests build both). */
#ifndef IL_W
#if defined(__AVX512F__)
#define IL_W 16
#else
#define IL_W 8
#endif
#endif
typedef float il_v8f __attribute__((vector_size(IL_W * 4)));
typedef int32_t il_v8i __attribute__((vector_size(IL_W * 4)));
#define IL_SPLAT(v) ((il_v8f){0} + (float)(v))
#define IL_ISPLAT(v) ((il_v8i){0} + (int32_t)(v))

IL_INLINE il_v8f il_vload(const float *p) { il_v8f v; memcpy(&v, p, sizeof v); return v; }
IL_INLINE void il_vstore(float *p, il_v8f v) { memcpy(p, &v, sizeof v); }
IL_INLINE il_v8f il_vsel(il_v8i mask, il_v8f a, il_v8f b) { /* mask ? a : b, lane-wise */
    return (il_v8f)((mask & (il_v8i)a) | (~mask & (il_v8i)b));
}
/* The last n < IL_W elements of a row as one vector: lanes >= n hold `fill` (loaded) or are left
 * untouched (stored). AVX-512 masked moves, which never touch the memory of a masked-off lane;
 * elsewhere a lane loop. The masked tail replaces up to IL_W - 1 scalar steps (each a scalar exp in
 * the scans): for C < 2 * IL_W, most of a row. */
IL_INLINE il_v8f il_vload_n(const float *p, int64_t n, float fill) {
#if defined(__AVX512F__) && IL_W == 16
    return (il_v8f)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1u), p);
#elif defined(__AVX512F__) && defined(__AVX512VL__) && IL_W == 8
    return (il_v8f)_mm256_mask_loadu_ps(_mm256_set1_ps(fill), (__mmask8)((1u << n) - 1u), p);
#else
    il_v8f v = IL_SPLAT(fill);
    for (int64_t k = 0; k < n; ++k) v[k] = p[k];
    return v;
#endif
}
IL_INLINE void il_vstore_n(float *p, il_v8f v, int64_t n) {
#if defined(__AVX512F__) && IL_W == 16
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#elif defined(__AVX512F__) && defined(__AVX512VL__) && IL_W == 8
    _mm256_mask_storeu_ps(p, (__mmask8)((1u << n) - 1u), (__m256)v);
#else
    for (int64_t k = 0; k < n; ++k) p[k] = v[k];
#endif
}

/* Horizontal max and sum, once per row and pass: for rows of a few dozen classes they cost as much as
 * the exps, so the AVX-512 build reduces in registers (a tree of shuffles) instead of lane by lane. */
IL_INLINE float il_vmax(il_v8f v) { /* NaN lanes may be dropped: a NaN logit makes the row's S NaN */
#if defined(__AVX512F__) && IL_W == 16
    return _mm512_reduce_max_ps((__m512)v);
#else
    float m = -INFINITY;
    for (int k = 0; k < IL_W; ++k) m = v[k] > m ? v[k] : m;
    return m;
#endif
}
IL_INLINE double il_vsum(il_v8f v) { /* pairwise, in double */
#if defined(__AVX512F__) && IL_W == 16
    const __m512 f = (__m512)v;
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(f), 1));
    return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(f)), _mm512_cvtps_pd(hi)));
#else
    double t[IL_W];
    for (int k = 0; k < IL_W; ++k) t[k] = (double)v[k];
    for (int n = IL_W / 2; n > 0; n /= 2)
        for (int k = 0; k < n; ++k) t[k] = t[2 * k] + t[2 * k + 1];
    return t[0];
#endif
}

IL_INLINE il_v8f il_vexpf(il_v8f x) { /* lane-wise il_expf */
    const il_v8i under = x < IL_SPLAT(IL_EXP_MIN);
    const il_v8f xc = il_vsel(under, IL_SPLAT(IL_EXP_MIN), x);
    const il_v8f t = xc * IL_SPLAT(IL_LOG2E) + IL_SPLAT(IL_RND);
    const il_v8f n = t - IL_SPLAT(IL_RND);
    const il_v8f r = (xc - n * IL_SPLAT(IL_LN2_HI)) - n * IL_SPLAT(IL_LN2_LO);
    il_v8f p = IL_SPLAT(IL_P4);
    p = p * r + IL_SPLAT(IL_P3);
    p = p * r + IL_SPLAT(IL_P2);
    p = p * r + IL_SPLAT(IL_P1);
    p = p * r + IL_SPLAT(IL_P0);
    p = p * (r * r) + r + IL_SPLAT(1.0f);
    const il_v8i sc = ((il_v8i)t - IL_ISPLAT(IL_RND_BITS) + IL_ISPLAT(127)) << IL_ISPLAT(23);
    return (il_v8f)(~under & (il_v8i)(p * (il_v8f)sc));
}

IL_INLINE il_v8f il_vlogf_floor(il_v8f x, il_v8f fl) { /* lane-wise il_logf_floor */
    const il_v8i small = x < IL_SPLAT(IL_FLT_MIN);
    const il_v8i b = (il_v8i)il_vsel(small, x * IL_SPLAT(8388608.0f), x);
    il_v8i e = ((b >> IL_ISPLAT(23)) & IL_ISPLAT(0xff)) - IL_ISPLAT(127) - (small & IL_ISPLAT(23));
    il_v8f mx = (il_v8f)((b & IL_ISPLAT(0x007fffff)) | IL_ISPLAT(0x3f800000));
    const il_v8i big = mx > IL_SPLAT(IL_SQRT2);
    mx = il_vsel(big, IL_SPLAT(0.5f) * mx, mx);
    e -= big; /* a true lane is -1 */
    const il_v8f ef = (il_v8f)(e + IL_ISPLAT(IL_RND_BITS)) - IL_SPLAT(IL_RND); /* int -> float, |e| < 2^22 */
    const il_v8f s = (mx - IL_SPLAT(1.0f)) / (mx + IL_SPLAT(1.0f)), u = s * s;
    il_v8f q = IL_SPLAT(2.0f / 9.0f);
    q = q * u + IL_SPLAT(2.0f / 7.0f);
    q = q * u + IL_SPLAT(2.0f / 5.0f);
    q = q * u + IL_SPLAT(2.0f / 3.0f);
    const il_v8f r = ef * IL_SPLAT(IL_LN2_HI) + ((s + s) + (s * u * q + ef * IL_SPLAT(IL_LN2_LO)));
    return il_vsel(x > IL_SPLAT(0.0f), il_vsel(r < fl, fl, r), fl);
}
#endif

/* ---- row passes. f64: scalar loops (libm exp). f32: vector body + the same scalar loop as tail. ---- */

#define IL_ROWMAX_TAIL(T)                                                                              \
    for (; j < C; ++j) m = z[j] > m ? z[j] : m;

static double il_rowmax_f64(const double *z, int64_t C) {
    double m = -INFINITY;
    int64_t j = 0;
    IL_ROWMAX_TAIL(double)
    return m;
}

static float il_rowmax_f32(const float *z, int64_t C) {
    float m = -INFINITY;
    int64_t j = 0;
#if IL_VEC
    il_v8f vm = IL_SPLAT(-INFINITY);
    for (; j + IL_W <= C; j += IL_W) {
        const il_v8f v = il_vload(z + j);
        vm = il_vsel(v > vm, v, vm);
    }
    if (j < C) { /* masked tail, padded with -inf */
        const il_v8f v = il_vload_n(z + j, C - j, -INFINITY);
        vm = il_vsel(v > vm, v, vm);
        j = C;
    }
    const float vmax = il_vmax(vm);
    m = vmax > m ? vmax : m;
#endif
    IL_ROWMAX_TAIL(float)
    return m;
}

/* Class-index scan: S = sum e, Td = sum e d; e stored in g when g != NULL. */
#define IL_SCAN_TAIL(T, EXPS, BIG)                                                                     \
    for (; j < C; ++j) {                                                                               \
        T d = z[j] - m; d = d < -(BIG) ? -(BIG) : d;                                                   \
        const T e = EXPS(d);                                                                           \
        if (g) g[j] = e;                                                                               \
        S += e; Td += e * d;                                                                           \
    }

static void il_scan_f64(const double *z, double *g, int64_t C, double m, double *out) {
    double S = 0, Td = 0;
    int64_t j = 0;
    IL_SCAN_TAIL(double, exp, IL_DCLAMP)
    out[0] = S; out[1] = Td;
}

IL_INLINE void il_scan_f32_impl(const float *z, float *g, int64_t C, float m, double *out) {
    double S = 0, Td = 0; /* wide accumulators: float sums of many tiny terms drift */
    int64_t j = 0;
#if IL_VEC
    const il_v8f vm = IL_SPLAT(m), lo = IL_SPLAT(-IL_DCLAMP);
    while (j < C) { /* blocks of IL_BLOCK; the last one ends in a masked tail */
        const int64_t end = j + (C - j < IL_BLOCK ? C - j : IL_BLOCK);
        il_v8f vs = IL_SPLAT(0.0f), vt = IL_SPLAT(0.0f);
        for (; j + IL_W <= end; j += IL_W) {
            il_v8f d = il_vload(z + j) - vm;
            d = il_vsel(d < lo, lo, d);
            const il_v8f e = il_vexpf(d);
            if (g) il_vstore(g + j, e);
            vs += e;
            vt += e * d;
        }
        if (j < end) { /* padded with -inf: d clamps to -IL_DCLAMP, so e = 0 and e d = 0 there */
            il_v8f d = il_vload_n(z + j, end - j, -INFINITY) - vm;
            d = il_vsel(d < lo, lo, d);
            const il_v8f e = il_vexpf(d);
            if (g) il_vstore_n(g + j, e, end - j);
            vs += e;
            vt += e * d;
            j = end;
        }
        S += il_vsum(vs);
        Td += il_vsum(vt);
    }
#endif
    IL_SCAN_TAIL(float, il_expf, IL_DCLAMP)
    out[0] = S; out[1] = Td;
}

static void il_scan_f32(const float *z, float *g, int64_t C, float m, double *out) {
    if (g) il_scan_f32_impl(z, g, C, m, out);
    else il_scan_f32_impl(z, (float *)0, C, m, out);
}

/* sum_c w_c in double (C without weights); for a wsum left to the kernel (passed as NaN). */
static float il_wsum_float(const float *w, int64_t C) {
    double t = 0;
    if (!w) return (float)C;
    for (int64_t j = 0; j < C; ++j) t += w[j];
    return (float)t;
}
static double il_wsum_double(const double *w, int64_t C) {
    double t = 0;
    if (!w) return (double)C;
    for (int64_t j = 0; j < C; ++j) t += w[j];
    return t;
}

/* Rare path, for a row whose smoothing sum is not finite: sum_c w_c (log S - d_c) term by term, as torch
 * forms -sum_c w_c log p_c (an inf w_c gives +inf, not inf * 0 from wsum log S - sum w d). */
#define IL_SMOOTH_TERMS(NAME, T)                                                                        \
static double NAME(const T *z, const T *w, int64_t C, T m, double logS) {                                \
    double t = 0;                                                                                      \
    for (int64_t j = 0; j < C; ++j) t += (w ? (double)w[j] : 1.0) * (logS - (double)(z[j] - m));       \
    return t;                                                                                          \
}
IL_SMOOTH_TERMS(il_smooth_terms_float, float)
IL_SMOOTH_TERMS(il_smooth_terms_double, double)

/* Row kernel, class-index targets. Every quantity is formed from d = z - m, never from lse = m + log S:
 * lse - z_y = log S - d_y keeps full precision for logits of any magnitude (lse - z_y loses everything
 * past the ulp of m: at m = 1e8 in float32 it is 0). CE, H and R are nonnegative sums of nonnegative
 * terms (log S >= 0, -d >= 0), so nothing cancels. The smoothing sum -sum_c w_c log p_c is
 * wsum log S - sum_c w_c d_c with the raw d (a -inf logit gives +inf, w_c = 0 against it NaN, as torch);
 * when that is not finite it is redone term by term (an inf w_c then gives +inf, as torch). The
 * eps / C * wsum term of A is only formed when eps > 0, so an inf class weight reaches only its rows. */
#define IL_KERNEL_BODY(NAME, T, ROWMAX, SCAN, EXPS, BIG, PARALLEL)                                      \
static void NAME(const T *z, int64_t ldz, const int64_t *y, const T *w, int64_t M, int64_t C,         \
          int64_t ignore_index, T eps_s, T ce, T ent, T rev, T Lo, T Ly, T wsum,                       \
          T *loss, T *grad, int64_t ldg) {                                                             \
    const T c_eps = eps_s / (T)C;                                                                      \
    const int smooth = eps_s > 0;                                                                      \
    if (wsum != wsum) wsum = il_wsum_##T(w, C); /* NaN: the caller left sum w to the kernel */         \
    PARALLEL                                                                                           \
    for (int64_t i = 0; i < M; ++i) {                                                                  \
        const T *zr = z + i * ldz;                                                                     \
        T *gr = grad ? grad + i * ldg : (T *)0;                                                        \
        const int64_t yi = y[i];                                                                       \
        if (yi == ignore_index || yi < 0 || yi >= C) {                                                 \
            loss[i] = (yi == ignore_index) ? (T)0 : (T)NAN;                                            \
            if (gr) memset(gr, 0, (size_t)C * sizeof(T));                                              \
            continue;                                                                                  \
        }                                                                                              \
        const T wy = w ? w[yi] : (T)1;                                                                 \
        const double s = (double)wy;                                                                   \
        T m = ROWMAX(zr, C);                                                                           \
        if (!(m > -INFINITY)) m = 0;                                                                   \
        double sums[2];                                                                                \
        SCAN(zr, gr, C, m, sums);                                                                      \
        const double S = sums[0], Td = sums[1];                                                        \
        const double logS = log(S), TdS = Td / S; /* TdS <= 0 */                                       \
        double Zs = 0; /* -sum_c w_c log p_c = sum_c w_c (log S - d_c) = wsum log S - sum_c w_c d_c */ \
        if (smooth) {                                                                                  \
            double Zd = 0; /* raw d (no clamp): a -inf logit gives +inf */                             \
            if (w) {                                                                                   \
                _Pragma("omp simd reduction(+:Zd)")                                                    \
                for (int64_t j = 0; j < C; ++j) Zd += w[j] * (zr[j] - m);                              \
            } else {                                                                                   \
                _Pragma("omp simd reduction(+:Zd)")                                                    \
                for (int64_t j = 0; j < C; ++j) Zd += zr[j] - m;                                       \
            }                                                                                          \
            Zs = (double)wsum * logS - Zd; /* two nonnegative terms for w >= 0: no cancellation */     \
            if (!isfinite(Zs)) Zs = il_smooth_terms_##T(zr, w, C, m, logS); /* inf w: as torch */      \
        }                                                                                              \
        const double H = logS - TdS;                                                                   \
        const T dy = zr[yi] - m;                                                                       \
        const double nlpy = logS - (double)dy; /* -log p_y >= 0; +inf for a -inf logit */              \
        const T py = rev != 0 ? EXPS((T)(-nlpy)) : (T)0; /* p_y: only the reverse term needs it */    \
        const double keep_wy = (1.0 - (double)eps_s) * (double)wy;                                     \
        const double A = keep_wy + (smooth ? (double)c_eps * (double)wsum : 0.0);                      \
        double CE = keep_wy * nlpy;                                                                    \
        if (smooth) CE += (double)c_eps * Zs;                                                          \
        const double R = -((double)Lo + (double)py * ((double)Ly - (double)Lo));                       \
        double L = 0;                                                                                  \
        if (ce != 0) L += (double)ce * CE;                                                             \
        if (ent != 0) L += (double)ent * s * H;                                                        \
        if (rev != 0) L += (double)rev * s * R;                                                        \
        loss[i] = (T)L;                                                                                \
        if (gr) {                                                                                      \
            double K = (double)ce * A;                                                                 \
            if (ent != 0) K += (double)ent * s * TdS; /* -ent s (H - log S) */                         \
            if (rev != 0) K -= (double)rev * s * ((double)Lo + R);                                     \
            /* a zero coefficient stays out (0 * an inf weight would be NaN) */                         \
            const T Ks = (T)(K / S), bs = ent != 0 ? (T)(-(double)ent * s / S) : (T)0, c0 = ce * c_eps; \
            if (w && smooth && c0 != 0) {                                                              \
                _Pragma("omp simd")                                                                    \
                for (int64_t j = 0; j < C; ++j) {                                                      \
                    T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                      \
                    gr[j] = gr[j] * (Ks + bs * d) - c0 * w[j];                                         \
                }                                                                                      \
            } else if (ent != 0) {                                                                     \
                _Pragma("omp simd")                                                                    \
                for (int64_t j = 0; j < C; ++j) {                                                      \
                    T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                      \
                    gr[j] = gr[j] * (Ks + bs * d) - c0;                                                \
                }                                                                                      \
            } else {                                                                                   \
                _Pragma("omp simd")                                                                    \
                for (int64_t j = 0; j < C; ++j) gr[j] = gr[j] * Ks - c0;                               \
            }                                                                                          \
            gr[yi] -= ce * (T)keep_wy;                                                                 \
            if (rev != 0) gr[yi] -= (T)((double)rev * s * ((double)Ly - (double)Lo) * (double)py);     \
        }                                                                                              \
    }                                                                                                  \
}

/* Two copies of each kernel, serial and parallel: entering an OpenMP region costs about 2 us even when
 * its if clause is false, a few percent of a small call. */
#define IL_DEFINE_KERNEL(NAME, T, ROWMAX, SCAN, EXPS, BIG)                                              \
IL_KERNEL_BODY(NAME##_serial, T, ROWMAX, SCAN, EXPS, BIG, )                                            \
IL_KERNEL_BODY(NAME##_parallel, T, ROWMAX, SCAN, EXPS, BIG, IL_PARALLEL_ROWS)                          \
void NAME(const T *z, int64_t ldz, const int64_t *y, const T *w, int64_t M, int64_t C,                \
          int64_t ignore_index, T eps_s, T ce, T ent, T rev, T Lo, T Ly, T wsum,                       \
          T *loss, T *grad, int64_t ldg) {                                                             \
    (il_parallel && M * C >= IL_PARALLEL_MIN ? NAME##_parallel : NAME##_serial)(                       \
        z, ldz, y, w, M, C, ignore_index, eps_s, ce, ent, rev, Lo, Ly, wsum, loss, grad, ldg);         \
}
IL_DEFINE_KERNEL(il_rows_f32, float, il_rowmax_f32, il_scan_f32, il_expf, IL_DCLAMP)
IL_DEFINE_KERNEL(il_rows_f64, double, il_rowmax_f64, il_scan_f64, exp, IL_DCLAMP)

/* Probability targets. Per row i, with q' = (1 - eps) q + eps / C, a_c = w_c q'_c, L_c = max(log q'_c, rle):
 *   s = sum_c w_c q_c (unsmoothed; 1 when !weighted), A = sum_c a_c = (1 - eps) s_w + eps / C * wsum,
 *   CE = A log S - sum_c a_c d_c,  H = log S - sum e d / S,  R = -sum_c e_c L_c / S,
 *   grad_ij = (e_j / S) * (K + beta d_j + gamma L_j) - ce * a_j,
 *   K = ce A - ent s (H - log S) - rev s R,  beta = -ent s,  gamma = -rev s.
 * w is never NULL here (the caller passes ones without class weights; `weighted` says whether s = s_w).
 * The target row has unit stride in the class dim and row stride ldq. 0 log 0 = 0: d is clamped at
 * -IL_DCLAMP in e and its products, so e = 0 there; sum a d takes the raw d only where a_c != 0, so a -inf
 * logit against a positive (smoothed, weighted) target gives CE = +inf (as torch) and against a zero one
 * the finite limit. CE = A log S - sum a d is a sum of two nonnegative terms (no cancellation). The
 * eps / C * wsum term of A is only formed when eps > 0 (an inf class weight reaches only its rows). */

/* Scan: out = {S, Td, Ad = sum a d, Sw = sum w q, El = sum e L (REV only)}; e stored in g when g. */
#define IL_PROB_SCAN_TAIL(T, EXPS, LOGS, BIG, REV)                                                     \
    for (; j < C; ++j) {                                                                               \
        const T dr = z[j] - m, d = dr < -(BIG) ? -(BIG) : dr;                                          \
        const T e = EXPS(d);                                                                           \
        const T qj = q[j], qs = keep * qj + c_eps, a = w[j] * qs;                                      \
        if (g) g[j] = e;                                                                               \
        S += e; Td += e * d; Ad += a != 0 ? a * dr : (T)0; Sw += w[j] * qj;                            \
        if (REV) El += e * LOGS(qs, rle);                                                              \
    }

/* Gradient pass: g = g * (Ks + bs d + gs L) - ce w q'. */
#define IL_PROB_GRAD_TAIL(T, LOGS, BIG, REV)                                                           \
    for (; j < C; ++j) {                                                                               \
        T d = z[j] - m; d = d < -(BIG) ? -(BIG) : d;                                                   \
        const T qs = keep * q[j] + c_eps;                                                              \
        T f = Ks + bs * d;                                                                             \
        if (REV) f += gs * LOGS(qs, rle);                                                              \
        g[j] = g[j] * f - ce * w[j] * qs;                                                              \
    }

#define IL_PROB_ARGS(T) const T *z, const T *q, const T *w, T *g, int64_t C, T m, T keep, T c_eps, T rle
#define IL_PROB_GARGS(T) IL_PROB_ARGS(T), T Ks, T bs, T gs, T ce

static void il_prob_scan_f64(IL_PROB_ARGS(double), int rev, double *out) {
    double S = 0, Td = 0, Ad = 0, Sw = 0, El = 0;
    int64_t j = 0;
    if (rev) { IL_PROB_SCAN_TAIL(double, exp, il_log_floor, IL_DCLAMP, 1) }
    else { IL_PROB_SCAN_TAIL(double, exp, il_log_floor, IL_DCLAMP, 0) }
    out[0] = S; out[1] = Td; out[2] = Ad; out[3] = Sw; out[4] = El;
}

static void il_prob_grad_f64(IL_PROB_GARGS(double), int rev) {
    int64_t j = 0;
    if (rev) { IL_PROB_GRAD_TAIL(double, il_log_floor, IL_DCLAMP, 1) }
    else { IL_PROB_GRAD_TAIL(double, il_log_floor, IL_DCLAMP, 0) }
}

#if IL_VEC
typedef struct { il_v8f s, t, a, w, e; } il_prob_acc; /* the five per-lane sums of a block */

/* One vector of the probability-target scan (raw z - m, q, w already loaded); e stored by the caller. */
IL_INLINE il_v8f il_prob_step(il_prob_acc *acc, il_v8f dr, il_v8f qj, il_v8f wj, il_v8f vk, il_v8f vc,
                              il_v8f vr, const int rev) {
    const il_v8f zero = IL_SPLAT(0.0f), lo = IL_SPLAT(-IL_DCLAMP);
    const il_v8f d = il_vsel(dr < lo, lo, dr);
    const il_v8f e = il_vexpf(d);
    const il_v8f qs = vk * qj + vc, a = wj * qs;
    acc->s += e;
    acc->t += e * d;
    acc->a += il_vsel(a != zero, a * dr, zero); /* raw d: a -inf logit with a > 0 gives +inf */
    acc->w += wj * qj;
    if (rev) acc->e += e * il_vlogf_floor(qs, vr);
    return e;
}
#endif

IL_INLINE void il_prob_scan_f32_impl(IL_PROB_ARGS(float), const int rev, double *out) {
    double S = 0, Td = 0, Ad = 0, Sw = 0, El = 0; /* wide accumulators */
    int64_t j = 0;
#if IL_VEC
    const il_v8f vm = IL_SPLAT(m), vk = IL_SPLAT(keep), vc = IL_SPLAT(c_eps), vr = IL_SPLAT(rle);
    while (j < C) { /* blocks of IL_BLOCK; the last one ends in a masked tail */
        const int64_t end = j + (C - j < IL_BLOCK ? C - j : IL_BLOCK);
        il_prob_acc acc = {IL_SPLAT(0.0f), IL_SPLAT(0.0f), IL_SPLAT(0.0f), IL_SPLAT(0.0f), IL_SPLAT(0.0f)};
        for (; j + IL_W <= end; j += IL_W) {
            const il_v8f e = il_prob_step(&acc, il_vload(z + j) - vm, il_vload(q + j), il_vload(w + j), vk, vc, vr, rev);
            if (g) il_vstore(g + j, e);
        }
        if (j < end) { /* padding: z = -inf (so e = 0), q = w = 0 (so a = 0): every padded term is 0 */
            const int64_t n = end - j;
            const il_v8f e = il_prob_step(&acc, il_vload_n(z + j, n, -INFINITY) - vm, il_vload_n(q + j, n, 0.0f),
                                          il_vload_n(w + j, n, 0.0f), vk, vc, vr, rev);
            if (g) il_vstore_n(g + j, e, n);
            j = end;
        }
        S += il_vsum(acc.s); Td += il_vsum(acc.t); Ad += il_vsum(acc.a); Sw += il_vsum(acc.w);
        if (rev) El += il_vsum(acc.e);
    }
#endif
    if (rev) { IL_PROB_SCAN_TAIL(float, il_expf, il_logf_floor, IL_DCLAMP, 1) }
    else { IL_PROB_SCAN_TAIL(float, il_expf, il_logf_floor, IL_DCLAMP, 0) }
    out[0] = S; out[1] = Td; out[2] = Ad; out[3] = Sw; out[4] = El;
}

static void il_prob_scan_f32(IL_PROB_ARGS(float), int rev, double *out) {
    if (rev) {
        if (g) il_prob_scan_f32_impl(z, q, w, g, C, m, keep, c_eps, rle, 1, out);
        else il_prob_scan_f32_impl(z, q, w, (float *)0, C, m, keep, c_eps, rle, 1, out);
    } else {
        if (g) il_prob_scan_f32_impl(z, q, w, g, C, m, keep, c_eps, rle, 0, out);
        else il_prob_scan_f32_impl(z, q, w, (float *)0, C, m, keep, c_eps, rle, 0, out);
    }
}

IL_INLINE void il_prob_grad_f32_impl(IL_PROB_GARGS(float), const int rev) {
    int64_t j = 0;
#if IL_VEC
    const il_v8f vm = IL_SPLAT(m), lo = IL_SPLAT(-IL_DCLAMP), vk = IL_SPLAT(keep), vc = IL_SPLAT(c_eps);
    const il_v8f vr = IL_SPLAT(rle), vK = IL_SPLAT(Ks), vb = IL_SPLAT(bs), vg = IL_SPLAT(gs), vce = IL_SPLAT(ce);
    for (; j + IL_W <= C; j += IL_W) {
        il_v8f d = il_vload(z + j) - vm;
        d = il_vsel(d < lo, lo, d);
        const il_v8f qs = vk * il_vload(q + j) + vc;
        il_v8f f = vK + vb * d;
        if (rev) f += vg * il_vlogf_floor(qs, vr);
        il_vstore(g + j, il_vload(g + j) * f - vce * il_vload(w + j) * qs);
    }
    if (j < C) { /* masked tail: the padded lanes are computed but not stored */
        const int64_t n = C - j;
        il_v8f d = il_vload_n(z + j, n, 0.0f) - vm;
        d = il_vsel(d < lo, lo, d);
        const il_v8f qs = vk * il_vload_n(q + j, n, 0.0f) + vc;
        il_v8f f = vK + vb * d;
        if (rev) f += vg * il_vlogf_floor(qs, vr);
        il_vstore_n(g + j, il_vload_n(g + j, n, 0.0f) * f - vce * il_vload_n(w + j, n, 0.0f) * qs, n);
        j = C;
    }
#endif
    if (rev) { IL_PROB_GRAD_TAIL(float, il_logf_floor, IL_DCLAMP, 1) }
    else { IL_PROB_GRAD_TAIL(float, il_logf_floor, IL_DCLAMP, 0) }
}

static void il_prob_grad_f32(IL_PROB_GARGS(float), int rev) {
    if (rev) il_prob_grad_f32_impl(z, q, w, g, C, m, keep, c_eps, rle, Ks, bs, gs, ce, 1);
    else il_prob_grad_f32_impl(z, q, w, g, C, m, keep, c_eps, rle, Ks, bs, gs, ce, 0);
}

/* Rare path, for a row whose A or CE is not finite: A = sum_c a_c and CE = sum_c a_c (log S - d_c) term by
 * term (a_c = 0 terms are 0), the exact non-finite pattern of torch's -sum_c w_c q'_c log p_c when a
 * weight is inf (the fast forms give inf - inf, or inf * 0 from the unsmoothed sum w q). */
#define IL_PROB_EXACT(NAME, T)                                                                          \
static void NAME(const T *z, const T *q, const T *w, int64_t C, T m, T keep, T c_eps, double logS,       \
                 double *A, double *CE) {                                                              \
    double a_sum = 0, t = 0;                                                                           \
    for (int64_t j = 0; j < C; ++j) {                                                                  \
        const T a = w[j] * (keep * q[j] + c_eps);                                                      \
        a_sum += (double)a;                                                                            \
        if (a != 0) t += (double)a * (logS - (double)(z[j] - m));                                      \
    }                                                                                                  \
    *A = a_sum; *CE = t;                                                                               \
}
IL_PROB_EXACT(il_prob_exact_float, float)
IL_PROB_EXACT(il_prob_exact_double, double)

#define IL_PROB_BODY(NAME, T, ROWMAX, SCAN, GRAD, PARALLEL)                                             \
static void NAME(const T *z, int64_t ldz, const T *q, int64_t ldq, const T *w, int64_t weighted,       \
          int64_t M, int64_t C, T eps_s, T ce, T ent, T rev, T rle, T wsum, T *loss, T *grad,         \
          int64_t ldg) {                                                                               \
    const T c_eps = eps_s / (T)C, keep = (T)1 - eps_s;                                                 \
    if (wsum != wsum) wsum = il_wsum_##T(w, C); /* NaN: the caller left sum w to the kernel */         \
    const int has_rev = rev != 0;                                                                      \
    PARALLEL                                                                                           \
    for (int64_t i = 0; i < M; ++i) {                                                                  \
        const T *zr = z + i * ldz, *qr = q + i * ldq;                                                  \
        T *gr = grad ? grad + i * ldg : (T *)0;                                                        \
        T m = ROWMAX(zr, C);                                                                           \
        if (!(m > -INFINITY)) m = 0;                                                                   \
        double sums[5];                                                                                \
        SCAN(zr, qr, w, gr, C, m, keep, c_eps, rle, has_rev, sums);                                    \
        const double S = sums[0], Td = sums[1], Ad = sums[2], Sw = sums[3], El = sums[4];              \
        const double logS = log(S);                                                                    \
        const double s = weighted ? Sw : 1.0;                                                          \
        double A = (double)keep * Sw + (eps_s > 0 ? (double)c_eps * (double)wsum : 0.0);               \
        const double TdS = Td / S; /* <= 0 */                                                          \
        double CE = A * logS - Ad;                                                                     \
        if (!isfinite(CE) || !isfinite(A)) il_prob_exact_##T(zr, qr, w, C, m, keep, c_eps, logS, &A, &CE); \
        const double H = logS - TdS, R = -El / S;                                                      \
        double L = 0;                                                                                  \
        if (ce != 0) L += (double)ce * CE;                                                             \
        if (ent != 0) L += (double)ent * s * H;                                                        \
        if (has_rev) L += (double)rev * s * R;                                                         \
        loss[i] = (T)L;                                                                                \
        if (gr) {                                                                                      \
            double K = (double)ce * A;                                                                 \
            if (ent != 0) K += (double)ent * s * TdS; /* -ent s (H - log S) */                         \
            if (has_rev) K -= (double)rev * s * R;                                                     \
            const T Ks = (T)(K / S);                                                                   \
            const T bs = ent != 0 ? (T)(-(double)ent * s / S) : (T)0;  /* 0 * inf s would be NaN */     \
            const T gs = has_rev ? (T)(-(double)rev * s / S) : (T)0;                                   \
            GRAD(zr, qr, w, gr, C, m, keep, c_eps, rle, Ks, bs, gs, ce, has_rev);                      \
        }                                                                                              \
    }                                                                                                  \
}

#define IL_DEFINE_PROB_KERNEL(NAME, T, ROWMAX, SCAN, GRAD)                                              \
IL_PROB_BODY(NAME##_serial, T, ROWMAX, SCAN, GRAD, )                                                   \
IL_PROB_BODY(NAME##_parallel, T, ROWMAX, SCAN, GRAD, IL_PARALLEL_ROWS)                                 \
void NAME(const T *z, int64_t ldz, const T *q, int64_t ldq, const T *w, int64_t weighted, int64_t M,    \
          int64_t C, T eps_s, T ce, T ent, T rev, T rle, T wsum, T *loss, T *grad, int64_t ldg) {      \
    (il_parallel && M * C >= IL_PARALLEL_MIN ? NAME##_parallel : NAME##_serial)(                       \
        z, ldz, q, ldq, w, weighted, M, C, eps_s, ce, ent, rev, rle, wsum, loss, grad, ldg);           \
}
IL_DEFINE_PROB_KERNEL(il_prob_rows_f32, float, il_rowmax_f32, il_prob_scan_f32, il_prob_grad_f32)
IL_DEFINE_PROB_KERNEL(il_prob_rows_f64, double, il_rowmax_f64, il_prob_scan_f64, il_prob_grad_f64)

/* Build facts for diagnostics: bit 0 = vectorized float32 passes (IL_VEC). */
int64_t il_openmp(void) {
#if defined(_OPENMP)
    return 1;
#else
    return 0;
#endif
}

int64_t il_build_info(void) {
#if IL_VEC
    return (int64_t)IL_W; /* lanes of the float32 passes */
#else
    return 0;
#endif
}
