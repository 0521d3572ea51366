//===- Attention.cpp - KV append, MLA attention (docs/model.md §3.1) -===//
//
// The cache holds per (slot, position) one row [c (R_l) | k_pe (Dr)], in pages
// of 64 rows placed by the slot's block table. A query at position p of slot
// s sees the rows 0..p of s, read as one matrix (KvLayer::rows: in place when
// the pages are consecutive, else gathered), so the arithmetic and its
// results do not depend on which pages a sequence got. Two forms of attention
// give the same numbers:
//  - absorbed: q_abs = Wuk^T q_nope, so the scores are [q_abs | q_pe] . row_j
//    (one dot product with the whole cache row), and the output is
//    Wuv (sum_j P_j c_j). Cheap per query, used for decode. All heads of a
//    token share the cache rows, so heads are processed in blocks: the rows
//    are read once per block.
//  - expanded: k_nope_j = Wuk c_j and v_j = Wuv c_j are computed once per step
//    for the visible rows of each slot (one GEMM), then ordinary attention,
//    for blocks of queries of one slot at a time (they share keys and values).
// Scores and weighted sums are GEMM calls on the cache rows, so they are
// vectorised like every GEMM.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "kernels/Abi.h"

#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace moela::host {
namespace {

/// Work (multiply-adds) below which a parallel chunk costs more than it saves.
constexpr int64_t kMinChunkWork = 1 << 20;

/// Rows [r0, + n) of w as f32: its own, or a stored weight's converted into
/// this thread's tile buffer `slot` (valid until the next conversion there).
const float *weightRows(const Weight &w, int64_t r0, int64_t n, int slot) {
  if (w.data)
    return w.row(r0);
  float *tile = tileBuffer(slot, n * w.cols); // [n, cols]
  w.toF32(r0, n, 0, w.cols, tile, w.cols);
  return tile;
}

/// Heads per task of latent attention; queries per task of expanded attention.
constexpr int64_t kHeadBlock = 16, kQueryBlock = 4;

int64_t grainFor(int64_t workPerTask) {
  return std::max<int64_t>(1,
                           kMinChunkWork / std::max<int64_t>(1, workPerTask));
}

int maxPosition(CIMat positions) {
  int p = 0;
  for (int64_t t = 0; t < positions.rows; ++t)
    p = std::max(p, *positions.row(t));
  return p;
}

/// Latent attention of `heads` query rows of one token over the visible cache
/// rows 0..pos of `slot`: scores [heads, pos+1] = scale * q . row_j with
/// q [heads, R_l + Dr] = [q_lat | q_pe] per head, softmax per head, then
/// ctx [heads, R_l] (row stride ldCtx) = P @ c.
void attendLatent(const float *q, int64_t heads, const KvLayer &cache, int slot,
                  int pos, float scale, float *scores, float *ctx,
                  int64_t ldCtx, std::vector<float> &rowScratch) {
  const int64_t visible = int64_t(pos) + 1, width = cache.width();
  const float *rows =
      cache.rows(slot, visible, rowScratch); // [visible, R_l + Dr]
  gemmSerial(q, width, rows, width, scores, visible, heads, visible, width);
  for (int64_t h = 0; h < heads; ++h) {
    float *sh = scores + h * visible;
    for (int64_t j = 0; j < visible; ++j)
      sh[j] *= scale;
    softmax(sh, visible);
  }
  gemmNNSerial(scores, visible, rows, width, ctx, ldCtx, heads, cache.latent,
               visible);
}

/// row [width] as an F8E4M3 cache row holds it: per 128-column block b,
/// s_b = max(amax, 1e-4) / 448 and x = e4m3(x / s_b) * s_b (docs/model.md
/// §3.4, the quantizer of FP8 activations; KvAppend.cuh does the same).
void roundRowToE4m3(float *row, int64_t width) {
  for (int64_t b0 = 0; b0 < width; b0 += abi::kFp8Block) {
    const int64_t b1 = std::min<int64_t>(width, b0 + abi::kFp8Block);
    float amax = 0.0f;
    for (int64_t i = b0; i < b1; ++i)
      amax = std::max(amax, std::fabs(row[i]));
    const float s = std::max(amax, 1e-4f) / 448.0f;
    for (int64_t i = b0; i < b1; ++i)
      row[i] = e4m3ToFloat(floatToE4m3(row[i] / s)) * s;
  }
}

} // namespace

float *KvLayer::row(int slot, int pos) const {
  const int32_t page =
      blockTables[int64_t(slot) * pagesPerSeq + pos / abi::kKvPageTokens];
  return data +
         (int64_t(page) * abi::kKvPageTokens + pos % abi::kKvPageTokens) *
             width();
}

const float *KvLayer::rows(int slot, int64_t n,
                           std::vector<float> &scratch) const {
  const int32_t *table = blockTables + int64_t(slot) * pagesPerSeq;
  const int64_t pageCount = (n + abi::kKvPageTokens - 1) / abi::kKvPageTokens;
  bool consecutive = true;
  for (int64_t i = 1; i < pageCount && consecutive; ++i)
    consecutive = table[i] == table[0] + i;
  if (consecutive)
    return row(slot, 0);
  scratch.resize(size_t(n * width()));
  for (int64_t i = 0; i < pageCount; ++i) {
    const int64_t count =
        std::min<int64_t>(abi::kKvPageTokens, n - i * abi::kKvPageTokens);
    const float *src = data + int64_t(table[i]) * abi::kKvPageTokens * width();
    std::copy(src, src + count * width(),
              scratch.begin() + i * abi::kKvPageTokens * width());
  }
  return scratch.data();
}

void softmax(float *s, int64_t n) {
  float max = -INFINITY;
  for (int64_t i = 0; i < n; ++i)
    max = std::max(max, s[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    s[i] = std::exp(s[i] - max);
    sum += s[i];
  }
  const float inv = float(1.0 / sum);
  for (int64_t i = 0; i < n; ++i)
    s[i] *= inv;
}

void kvAppend(CMat latent, CMat kPe, CIMat positions, CIMat seqIds,
              const float *normW, float eps, const RopeTable *rope,
              const KvLayer &cache) {
  const int64_t r = cache.latent, dr = cache.rope;
  parallelFor(latent.rows, std::max<int64_t>(1, 4096 / cache.width()),
              [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t) {
                  float *dst = cache.row(*seqIds.row(t), *positions.row(t));
                  if (normW)
                    rmsNormRow(latent.row(t), normW, eps, r, dst);
                  else
                    std::copy(latent.row(t), latent.row(t) + r, dst);
                  std::copy(kPe.row(t), kPe.row(t) + dr, dst + r);
                  if (rope)
                    rope->rotate(dst + r, t);
                  if (cache.bf16)
                    for (int64_t i = 0; i < r + dr; ++i)
                      dst[i] = bf16ToFloat(floatToBf16(dst[i]));
                  if (cache.fp8)
                    roundRowToE4m3(dst, r + dr);
                }
              });
}

void mlaAttentionAbsorbed(CMat q, CIMat positions, CIMat seqIds,
                          const Weight &kvB, const MlaDims &d,
                          const KvLayer &cache, Mat o) {
  const int64_t heads = d.heads, latent = d.latent, width = latent + d.rope;
  const int64_t qHead = d.nope + d.rope, kvHead = d.nope + d.v;
  const int64_t blocks = (heads + kHeadBlock - 1) / kHeadBlock;
  const int maxPos = maxPosition(positions);
  const int64_t work =
      std::min(kHeadBlock, heads) *
      ((int64_t(maxPos) + 1) * (2 * latent + d.rope) + kvHead * latent);
  parallelFor(q.rows * blocks, grainFor(work), [&](int64_t begin, int64_t end) {
    std::vector<float> qFull(kHeadBlock * width); // [hb, R_l + Dr]
    std::vector<float> ctx(kHeadBlock * latent);  // [hb, R_l]
    std::vector<float> scores(kHeadBlock * (size_t(maxPos) + 1)), rows;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / blocks, h0 = (task % blocks) * kHeadBlock;
      const int64_t hb = std::min(kHeadBlock, heads - h0);
      for (int64_t i = 0; i < hb; ++i) {
        const float *qh = q.row(t) + (h0 + i) * qHead; // [Dn | Dr]
        const float *wuk = weightRows(kvB, (h0 + i) * kvHead, d.nope,
                                      1); // [Dn, R_l]
        float *qi = qFull.data() + i * width;
        // q_abs [1, R_l] = q_nope [1, Dn] @ Wuk [Dn, R_l]
        gemmNNSerial(qh, d.nope, wuk, latent, qi, latent, 1, latent, d.nope);
        std::copy(qh + d.nope, qh + qHead, qi + latent);
      }
      attendLatent(qFull.data(), hb, cache, *seqIds.row(t), *positions.row(t),
                   d.scale, scores.data(), ctx.data(), latent, rows);
      for (int64_t i = 0; i < hb; ++i) {
        const float *wuv = weightRows(kvB, (h0 + i) * kvHead + d.nope, d.v,
                                      1); // [Dv, R_l]
        // out [1, Dv] = ctx [1, R_l] @ Wuv^T
        gemmSerial(ctx.data() + i * latent, latent, wuv, latent,
                   o.row(t) + (h0 + i) * d.v, d.v, 1, d.v, latent);
      }
    }
  });
}

void mlaAttentionExpanded(CMat q, CIMat positions, CIMat seqIds,
                          const Weight &kvB, const MlaDims &d,
                          const KvLayer &cache, Mat o,
                          std::vector<float> &scratch) {
  const int64_t heads = d.heads, qHead = d.nope + d.rope, kvHead = d.nope + d.v,
                kvCols = heads * kvHead;
  // The tokens of each slot, and how many cache rows the slot's queries see.
  std::map<int, std::vector<int64_t>> tokensOf;
  std::vector<float> rowScratch; // [visible, R_l + Dr] of one slot
  for (int64_t t = 0; t < q.rows; ++t)
    tokensOf[*seqIds.row(t)].push_back(t);
  for (const auto &[slot, tokens] : tokensOf) {
    int maxPos = 0;
    for (int64_t t : tokens)
      maxPos = std::max(maxPos, *positions.row(t));
    const int64_t visible = int64_t(maxPos) + 1;
    // kv [visible, H*(Dn+Dv)] = c [visible, R_l] @ kv_b^T: per head [k_nope |
    // v].
    scratch.resize(size_t(visible * kvCols));
    Mat kvx{scratch.data(), visible, kvCols, kvCols};
    const float *rows = cache.rows(slot, visible, rowScratch);
    CMat latent{rows, visible, d.latent, cache.width()};
    gemm(latent, kvB, kvx);
    const float *kPe = rows + d.latent; // [visible, Dr], stride width

    // Tasks: (block of up to 4 of the slot's queries, head).
    const int64_t blocks =
        (int64_t(tokens.size()) + kQueryBlock - 1) / kQueryBlock;
    const int64_t work = kQueryBlock * visible * (qHead + d.v);
    parallelFor(
        blocks * heads, grainFor(work), [&](int64_t begin, int64_t end) {
          std::vector<float> qb(kQueryBlock * qHead); // [mb, Dn+Dr]
          std::vector<float> ob(kQueryBlock * d.v);   // [mb, Dv]
          std::vector<float> scores(kQueryBlock * visible);
          for (int64_t task = begin; task < end; ++task) {
            const int64_t b0 = (task / heads) * kQueryBlock, h = task % heads;
            const int64_t mb =
                std::min<int64_t>(kQueryBlock, tokens.size() - b0);
            int64_t seenMax = 0;
            for (int64_t i = 0; i < mb; ++i) {
              const int64_t t = tokens[size_t(b0 + i)];
              const float *qh = q.row(t) + h * qHead;
              std::copy(qh, qh + qHead, qb.begin() + i * qHead);
              seenMax = std::max<int64_t>(seenMax, *positions.row(t) + 1);
            }
            const float *kNope = kvx.row(0) + h * kvHead, *v = kNope + d.nope;
            // scores [mb, seenMax] = q_nope . k_nope_j + q_pe . k_pe_j
            gemmSerial(qb.data(), qHead, kNope, kvCols, scores.data(), seenMax,
                       mb, seenMax, d.nope);
            if (d.rope)
              gemmSerial(qb.data() + d.nope, qHead, kPe, cache.width(),
                         scores.data(), seenMax, mb, seenMax, d.rope,
                         scores.data(), seenMax);
            for (int64_t i = 0; i < mb; ++i) { // each query sees its own prefix
              const int64_t seen =
                  int64_t(*positions.row(tokens[size_t(b0 + i)])) + 1;
              float *si = scores.data() + i * seenMax;
              for (int64_t j = 0; j < seen; ++j)
                si[j] *= d.scale;
              softmax(si, seen);
              std::fill(si + seen, si + seenMax, 0.0f);
            }
            // out [mb, Dv] = P [mb, seenMax] @ v [seenMax, Dv]
            gemmNNSerial(scores.data(), seenMax, v, kvCols, ob.data(), d.v, mb,
                         d.v, seenMax);
            for (int64_t i = 0; i < mb; ++i)
              std::copy(ob.begin() + i * d.v, ob.begin() + (i + 1) * d.v,
                        o.row(tokens[size_t(b0 + i)]) + h * d.v);
          }
        });
  }
}

void kvGather(CIMat positions, CIMat seqIds, const KvLayer &cache, Mat rows) {
  for (int64_t t = 0; t < rows.rows; ++t) {
    const float *row = cache.row(*seqIds.row(t), *positions.row(t));
    std::copy(row, row + cache.width(), rows.row(t));
  }
}

void mlaPrefillAttention(CMat q, CMat kv, CMat kPe, CIMat positions,
                         const MlaDims &d, Mat o) {
  const int64_t T = q.rows, heads = d.heads, qHead = d.nope + d.rope,
                kvHead = d.nope + d.v;
  for (int64_t t = 0; t < T; ++t) {
    const int pos = *positions.row(t);
    if (pos != 0 && (t == 0 || pos != *positions.row(t - 1) + 1))
      fail("MlaPrefillAttention: token ", t, " is at position ", pos,
           " but its sequence does not start in this step (the program "
           "needs fresh sequences; run 'extend')");
  }
  // Tasks: (block of up to 4 consecutive tokens, head). The keys of a block
  // are the rows from its first token's sequence start to its last token.
  const int64_t blocks = (T + kQueryBlock - 1) / kQueryBlock;
  const int64_t work = kQueryBlock * (T / 2 + 1) * (qHead + d.v); // on average
  parallelFor(blocks * heads, grainFor(work), [&](int64_t begin, int64_t end) {
    std::vector<float> qb(kQueryBlock * qHead), ob(kQueryBlock * d.v), scores;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t0 = (task / heads) * kQueryBlock, h = task % heads;
      const int64_t mb = std::min<int64_t>(kQueryBlock, T - t0);
      const int64_t first = t0 - *positions.row(t0); // [first, t0 + mb)
      const int64_t keys = t0 + mb - first;
      scores.resize(size_t(mb * keys));
      for (int64_t i = 0; i < mb; ++i) {
        const float *qh = q.row(t0 + i) + h * qHead;
        std::copy(qh, qh + qHead, qb.begin() + i * qHead);
      }
      const float *kNope = kv.row(first) + h * kvHead, *v = kNope + d.nope;
      // scores [mb, keys] = q_nope . k_nope_j + q_pe . k_pe_j
      gemmSerial(qb.data(), qHead, kNope, kv.stride, scores.data(), keys, mb,
                 keys, d.nope);
      if (d.rope)
        gemmSerial(qb.data() + d.nope, qHead, kPe.row(first), kPe.stride,
                   scores.data(), keys, mb, keys, d.rope, scores.data(), keys);
      for (int64_t i = 0; i < mb; ++i) { // token t0+i sees [its start, itself]
        const int64_t t = t0 + i, lo = t - *positions.row(t) - first;
        const int64_t hi = t - first + 1;
        float *si = scores.data() + i * keys;
        std::fill(si, si + lo, 0.0f);
        for (int64_t j = lo; j < hi; ++j)
          si[j] *= d.scale;
        softmax(si + lo, hi - lo);
        std::fill(si + hi, si + keys, 0.0f);
      }
      // out [mb, Dv] = P [mb, keys] @ v [keys, Dv]
      gemmNNSerial(scores.data(), keys, v, kv.stride, ob.data(), d.v, mb, d.v,
                   keys);
      for (int64_t i = 0; i < mb; ++i)
        std::copy(ob.begin() + i * d.v, ob.begin() + (i + 1) * d.v,
                  o.row(t0 + i) + h * d.v);
    }
  });
}

void mlaLatentAttention(CMat qLat, int64_t latStride, CMat qPe,
                        int64_t peStride, CIMat positions, CIMat seqIds,
                        int heads, float scale, const KvLayer &cache,
                        Mat oLat) {
  const int64_t latent = cache.latent, rope = cache.rope;
  const int64_t width = latent + rope;
  const int64_t blocks = (heads + kHeadBlock - 1) / kHeadBlock;
  const int maxPos = maxPosition(positions);
  const int64_t work = std::min<int64_t>(kHeadBlock, heads) *
                       (int64_t(maxPos) + 1) * (2 * latent + rope);
  parallelFor(
      qLat.rows * blocks, grainFor(work), [&](int64_t begin, int64_t end) {
        std::vector<float> qFull(kHeadBlock * width); // [hb, R_l + Dr]
        std::vector<float> scores(kHeadBlock * (size_t(maxPos) + 1)), rows;
        for (int64_t task = begin; task < end; ++task) {
          const int64_t t = task / blocks, h0 = (task % blocks) * kHeadBlock;
          const int64_t hb = std::min<int64_t>(kHeadBlock, heads - h0);
          for (int64_t i = 0; i < hb; ++i) { // gather [q_lat | q_pe] per head
            const float *ql = qLat.row(t) + (h0 + i) * latStride;
            std::copy(ql, ql + latent, qFull.begin() + i * width);
            if (rope) {
              const float *qp = qPe.row(t) + (h0 + i) * peStride;
              std::copy(qp, qp + rope, qFull.begin() + i * width + latent);
            }
          }
          attendLatent(qFull.data(), hb, cache, *seqIds.row(t),
                       *positions.row(t), scale, scores.data(),
                       oLat.row(t) + h0 * latent, latent, rows);
        }
      });
}

} // namespace moela::host
