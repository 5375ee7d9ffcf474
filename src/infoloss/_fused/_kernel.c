/* infoloss fused CPU row kernels (class-index and probability targets). Plain C, no torch headers:
 * compiles in ~1 s.
 *
 * Per row i (compute type T, d_j = max(z_j - m, -BIG), e_j = exp(d_j), S = sum e, p = e / S):
 *   loss_i = ce * CE_i + ent * s_i * H_i + rev * s_i * R_i
 *   grad_ij = p_j * (K_i + beta_i * d_j) - ce * eps / C * w_j   (+ a correction at j = y_i)
 * See docs/fused.md for the derivation. Ignored rows get loss 0 and a zero gradient row.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float il_expf(float x) {
    /* Cephes-style exp, branch-free so the loops vectorize; 0 below -87 (this also covers -inf). */
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    float n = __builtin_floorf(xc * 1.44269504088896341f + 0.5f);
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float q = 1.9875691500e-4f;
    q = q * r + 1.3981999507e-3f;
    q = q * r + 8.3334519073e-3f;
    q = q * r + 4.1665795894e-2f;
    q = q * r + 1.6666665459e-1f;
    q = q * r + 5.0000001201e-1f;
    q = q * r * r + r + 1.0f;
    union { int32_t i; float f; } sc;
    sc.i = ((int32_t)n + 127) << 23;
    float res = q * sc.f;
    return x < -87.0f ? 0.0f : res;
}

static inline float il_logf_floor(float x, float fl) {
    /* max(log x, fl) with a Cephes-style natural log, branch-free so the loops vectorize (keep the
     * selects on floats: an int select here stopped gcc 12 from vectorizing); fl for x <= 0,
     * subnormals are rescaled first. Not for inf/NaN input. */
    const float scale = x < 1.17549435e-38f ? 8388608.0f : 1.0f; /* 2^23 */
    const float bias = x < 1.17549435e-38f ? 23.0f : 0.0f;
    float xs = x * scale;
    union { int32_t i; float f; } u;
    u.f = xs;
    float e = (float)(((u.i >> 23) & 0xff) - 126) - bias;
    u.i = (u.i & 0x007fffff) | 0x3f000000; /* mantissa in [0.5, 1) */
    float mx = u.f;
    const int lo = mx < 0.707106781186547524f;
    e -= lo ? 1.0f : 0.0f;
    mx = (lo ? mx + mx : mx) - 1.0f;
    const float z2 = mx * mx;
    float y = 7.0376836292e-2f;
    y = y * mx - 1.1514610310e-1f;
    y = y * mx + 1.1676998740e-1f;
    y = y * mx - 1.2420140846e-1f;
    y = y * mx + 1.4249322787e-1f;
    y = y * mx - 1.6668057665e-1f;
    y = y * mx + 2.0000714765e-1f;
    y = y * mx - 2.4999993993e-1f;
    y = y * mx + 3.3333331174e-1f;
    y = y * mx * z2;
    y += e * -2.12194440e-4f;
    y += -0.5f * z2;
    const float r = mx + y + e * 0.693359375f;
    const float res = r < fl ? fl : r;
    return x > 0.0f ? res : fl;
}

static inline double il_log_floor(double x, double fl) {
    const double r = log(x);
    return r < fl ? fl : r;
}

#define IL_DEFINE_KERNEL(NAME, T, ACC, EXPV, EXPS, BIG)                                                 \
void NAME(const T *z, int64_t ldz, const int64_t *y, const T *w, int64_t M, int64_t C,                \
          int64_t ignore_index, T eps_s, T ce, T ent, T rev, T Lo, T Ly, T wsum,                       \
          T *loss, T *grad, int64_t ldg) {                                                             \
    const T c_eps = eps_s / (T)C;                                                                      \
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
        const T s = wy;                                                                                \
        T m = -INFINITY;                                                                               \
        _Pragma("omp simd reduction(max:m)")                                                           \
        for (int64_t j = 0; j < C; ++j) m = zr[j] > m ? zr[j] : m;                                     \
        if (!(m > -INFINITY)) m = 0;                                                                   \
        ACC S = 0, Td = 0; /* wide accumulators: float sums of many tiny terms drift */                \
        if (gr) {                                                                                      \
            _Pragma("omp simd reduction(+:S,Td)")                                                      \
            for (int64_t j = 0; j < C; ++j) {                                                          \
                T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                          \
                T e = EXPV(d); gr[j] = e; S += e; Td += e * d;                                         \
            }                                                                                          \
        } else {                                                                                       \
            _Pragma("omp simd reduction(+:S,Td)")                                                      \
            for (int64_t j = 0; j < C; ++j) {                                                          \
                T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                          \
                T e = EXPV(d); S += e; Td += e * d;                                                    \
            }                                                                                          \
        }                                                                                              \
        ACC Zw = 0;                                                                                    \
        if (eps_s > 0) {                                                                               \
            if (w) {                                                                                   \
                _Pragma("omp simd reduction(+:Zw)")                                                    \
                for (int64_t j = 0; j < C; ++j) Zw += w[j] * zr[j];                                    \
            } else {                                                                                   \
                _Pragma("omp simd reduction(+:Zw)")                                                    \
                for (int64_t j = 0; j < C; ++j) Zw += zr[j];                                           \
            }                                                                                          \
        }                                                                                              \
        const T logS = (T)log(S), lse = m + logS;                                                      \
        const T H = logS - (T)(Td / S);                                                                    \
        const T zy = zr[yi];                                                                           \
        const T py = EXPS(zy - lse);                                                                   \
        const T A = ((T)1 - eps_s) * wy + c_eps * wsum;                                                \
        T CE = ((T)1 - eps_s) * wy * (lse - zy);                                                       \
        if (eps_s > 0) CE += c_eps * (wsum * lse - (T)Zw);                                                \
        const T R = -(Lo + py * (Ly - Lo));                                                            \
        T L = (T)0;                                                                                    \
        if (ce != 0) L += ce * CE;                                                                     \
        if (ent != 0) L += ent * s * H;                                                                \
        if (rev != 0) L += rev * s * R;                                                                \
        loss[i] = L;                                                                                   \
        if (gr) {                                                                                      \
            const T invS = (T)(1 / S), beta = -ent * s;                                                  \
            T K = ce * A;                                                                              \
            if (ent != 0) K -= ent * s * (H - logS);                                                   \
            if (rev != 0) K -= rev * s * (Lo + R);                                                     \
            const T Ks = K * invS, bs = beta * invS, c0 = ce * c_eps;                                  \
            if (w && c0 != 0) {                                                                        \
                _Pragma("omp simd")                                                                    \
                for (int64_t j = 0; j < C; ++j) {                                                      \
                    T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                      \
                    gr[j] = gr[j] * (Ks + bs * d) - c0 * w[j];                                         \
                }                                                                                      \
            } else if (beta != 0) {                                                                    \
                _Pragma("omp simd")                                                                    \
                for (int64_t j = 0; j < C; ++j) {                                                      \
                    T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                      \
                    gr[j] = gr[j] * (Ks + bs * d) - c0;                                                \
                }                                                                                      \
            } else {                                                                                   \
                _Pragma("omp simd")                                                                    \
                for (int64_t j = 0; j < C; ++j) gr[j] = gr[j] * Ks - c0;                               \
            }                                                                                          \
            gr[yi] -= ce * ((T)1 - eps_s) * wy;                                                        \
            if (rev != 0) gr[yi] -= rev * s * (Ly - Lo) * py;                                          \
        }                                                                                              \
    }                                                                                                  \
}

IL_DEFINE_KERNEL(il_rows_f32, float, double, il_expf, expf, 1e30f)
IL_DEFINE_KERNEL(il_rows_f64, double, double, exp, exp, 1e300)

/* Probability targets. Per row i, with q' = (1 - eps) q + eps / C, a_c = w_c q'_c, L_c = max(log q'_c, rle):
 *   s = sum_c w_c q_c (unsmoothed; 1 when !weighted), A = sum_c a_c = (1 - eps) s_w + eps / C * wsum,
 *   CE = A log S - sum_c a_c d_c,  H = log S - sum e d / S,  R = -sum_c e_c L_c / S,
 *   grad_ij = (e_j / S) * (K + beta d_j + gamma L_j) - ce * a_j,
 *   K = ce A - ent s (H - log S) - rev s R,  beta = -ent s,  gamma = -rev s.
 * w is never NULL here (the caller passes ones without class weights; `weighted` says whether s = s_w).
 * The target row has unit stride in the class dim and row stride ldq. 0 log 0 = 0: d is clamped at -BIG,
 * so e = 0 and a zero a_c make every term of a -inf logit exactly 0. */
#define IL_PROB_SCAN(T, EXPV, LOGV, BIG, STORE, REV)                                                   \
    _Pragma("omp simd reduction(+:S,Td,Ad,Sw,El)")                                                     \
    for (int64_t j = 0; j < C; ++j) {                                                                  \
        T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                                  \
        const T e = EXPV(d);                                                                           \
        const T qj = qr[j], qs = keep * qj + c_eps, a = w[j] * qs;                                     \
        if (STORE) gr[j] = e;                                                                          \
        S += e; Td += e * d; Ad += a * d; Sw += w[j] * qj;                                             \
        if (REV) El += e * LOGV(qs, rle);                                                              \
    }

#define IL_PROB_GRAD(T, LOGV, BIG, REV)                                                                \
    _Pragma("omp simd")                                                                                \
    for (int64_t j = 0; j < C; ++j) {                                                                  \
        T d = zr[j] - m; d = d < -(BIG) ? -(BIG) : d;                                                  \
        const T qs = keep * qr[j] + c_eps;                                                             \
        T f = Ks + bs * d;                                                                             \
        if (REV) f += gs * LOGV(qs, rle);                               \
        gr[j] = gr[j] * f - ce * w[j] * qs;                                                            \
    }

#define IL_DEFINE_PROB_KERNEL(NAME, T, ACC, EXPV, LOGV, BIG)                                            \
void NAME(const T *z, int64_t ldz, const T *q, int64_t ldq, const T *w, int64_t weighted, int64_t M,    \
          int64_t C, T eps_s, T ce, T ent, T rev, T rle, T wsum, T *loss, T *grad, int64_t ldg) {      \
    const T c_eps = eps_s / (T)C, keep = (T)1 - eps_s;                                                 \
    for (int64_t i = 0; i < M; ++i) {                                                                  \
        const T *zr = z + i * ldz, *qr = q + i * ldq;                                                  \
        T *gr = grad ? grad + i * ldg : (T *)0;                                                        \
        T m = -INFINITY;                                                                               \
        _Pragma("omp simd reduction(max:m)")                                                           \
        for (int64_t j = 0; j < C; ++j) m = zr[j] > m ? zr[j] : m;                                     \
        if (!(m > -INFINITY)) m = 0;                                                                   \
        ACC S = 0, Td = 0, Ad = 0, Sw = 0, El = 0; /* wide accumulators */                             \
        if (gr) {                                                                                      \
            if (rev != 0) { IL_PROB_SCAN(T, EXPV, LOGV, BIG, 1, 1) }                                   \
            else { IL_PROB_SCAN(T, EXPV, LOGV, BIG, 1, 0) }                                            \
        } else {                                                                                       \
            if (rev != 0) { IL_PROB_SCAN(T, EXPV, LOGV, BIG, 0, 1) }                                   \
            else { IL_PROB_SCAN(T, EXPV, LOGV, BIG, 0, 0) }                                            \
        }                                                                                              \
        const ACC logS = log(S);                                                                       \
        const ACC s = weighted ? Sw : (ACC)1;                                                          \
        const ACC A = (ACC)keep * Sw + (ACC)c_eps * (ACC)wsum;                                         \
        const ACC CE = A * logS - Ad, H = logS - Td / S, R = -El / S;                                  \
        ACC L = 0;                                                                                     \
        if (ce != 0) L += (ACC)ce * CE;                                                                \
        if (ent != 0) L += (ACC)ent * s * H;                                                           \
        if (rev != 0) L += (ACC)rev * s * R;                                                           \
        loss[i] = (T)L;                                                                                \
        if (gr) {                                                                                      \
            ACC K = (ACC)ce * A;                                                                       \
            if (ent != 0) K -= (ACC)ent * s * (H - logS);                                              \
            if (rev != 0) K -= (ACC)rev * s * R;                                                       \
            const T Ks = (T)(K / S), bs = (T)(-(ACC)ent * s / S), gs = (T)(-(ACC)rev * s / S);         \
            if (rev != 0) { IL_PROB_GRAD(T, LOGV, BIG, 1) }                                            \
            else { IL_PROB_GRAD(T, LOGV, BIG, 0) }                                                     \
        }                                                                                              \
    }                                                                                                  \
}

IL_DEFINE_PROB_KERNEL(il_prob_rows_f32, float, double, il_expf, il_logf_floor, 1e30f)
IL_DEFINE_PROB_KERNEL(il_prob_rows_f64, double, double, exp, il_log_floor, 1e300)
