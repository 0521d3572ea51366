//===- Attention.cpp - KV cache append and MLA attention (spec 3.1) -------===//
//
// The cache holds per (slot, position) one row [c (R_l) | k_pe (Dr)]. A query
// at position p of slot s sees the rows 0..p of s. Two forms of attention give
// the same numbers:
//  - absorbed: q_abs = Wuk^T q_nope, so the scores are [q_abs | q_pe] . row_j
//    (one dot product with the whole cache row), and the output is
//    Wuv (sum_j P_j c_j). Cheap per query, used for decode.
//  - expanded: k_nope_j = Wuk c_j and v_j = Wuv c_j are computed once per step
//    for the visible rows of each slot (one GEMM), then ordinary attention.
// The score and weighted-sum loops are GEMM calls on the cache rows, so they
// are vectorised like every GEMM. Work is parallel over (token, head).
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

namespace moela::host {
namespace {

/// Work (multiply-adds) below which a parallel chunk costs more than it saves.
constexpr int64_t kMinChunkWork = 1 << 17;

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

/// Softmax-weighted sum over the visible cache rows 0..pos of `slot`:
/// scores[j] = scale * q . row_j with q = [q_lat | q_pe] [R_l + Dr], then
/// ctx [R_l] = sum_j softmax(scores)_j c_j. scores has room for pos + 1.
void attendLatent(const float *q, const KvLayer &cache, int slot, int pos,
                  float scale, float *scores, float *ctx) {
  const int64_t visible = int64_t(pos) + 1, width = cache.width();
  const float *rows = cache.row(slot, 0); // [visible, R_l + Dr]
  gemmSerial(q, width, rows, width, scores, visible, 1, visible, width);
  for (int64_t j = 0; j < visible; ++j)
    scores[j] *= scale;
  softmax(scores, visible);
  // ctx [1, R_l] = P [1, visible] @ C [visible, R_l]
  gemmNNSerial(scores, visible, rows, width, ctx, cache.latent, 1, cache.latent,
               visible);
}

} // namespace

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

void kvAppend(CMat kv, CIMat positions, CIMat seqIds, const float *normW,
              float eps, const RopeTable &rope, const KvLayer &cache) {
  const int64_t latent = cache.latent, ropeDim = cache.rope;
  parallelFor(kv.rows, std::max<int64_t>(1, 4096 / cache.width()),
              [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t) {
                  const float *src = kv.row(t); // [R_l + Dr]
                  float *dst = cache.row(*seqIds.row(t), *positions.row(t));
                  rmsNormRow(src, normW, eps, latent, dst);
                  std::copy(src + latent, src + latent + ropeDim, dst + latent);
                  if (ropeDim)
                    rope.rotate(dst + latent, t);
                }
              });
}

void mlaAttentionAbsorbed(CMat q, CIMat positions, CIMat seqIds,
                          const Weight &kvB, const MlaDims &d,
                          const KvLayer &cache, Mat o) {
  const int64_t tokens = q.rows, heads = d.heads, latent = d.latent;
  const int64_t qHead = d.nope + d.rope, kvHead = d.nope + d.v;
  const int maxPos = maxPosition(positions);
  const int64_t work =
      (int64_t(maxPos) + 1) * (2 * latent + d.rope) + (d.nope + d.v) * latent;
  parallelFor(tokens * heads, grainFor(work), [&](int64_t begin, int64_t end) {
    std::vector<float> qFull(latent + d.rope); // [R_l + Dr] = [q_abs | q_pe]
    std::vector<float> scores(size_t(maxPos) + 1), ctx(latent);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t t = task / heads, h = task % heads;
      const float *qh = q.row(t) + h * qHead;          // [Dn | Dr]
      const float *wuk = kvB.row(h * kvHead);          // [Dn, R_l]
      const float *wuv = kvB.row(h * kvHead + d.nope); // [Dv, R_l]
      // q_abs [1, R_l] = q_nope [1, Dn] @ Wuk [Dn, R_l]
      gemmNNSerial(qh, d.nope, wuk, latent, qFull.data(), latent, 1, latent,
                   d.nope);
      std::copy(qh + d.nope, qh + qHead, qFull.begin() + latent);
      attendLatent(qFull.data(), cache, *seqIds.row(t), *positions.row(t),
                   d.scale, scores.data(), ctx.data());
      // out [1, Dv] = ctx [1, R_l] @ Wuv^T
      gemmSerial(ctx.data(), latent, wuv, latent, o.row(t) + h * d.v, d.v, 1,
                 d.v, latent);
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
    CMat latent{cache.row(slot, 0), visible, d.latent, cache.width()};
    gemm(latent, kvB, kvx);

    const int64_t tasks = int64_t(tokens.size()) * heads;
    const int64_t work = visible * (qHead + d.v);
    parallelFor(tasks, grainFor(work), [&](int64_t begin, int64_t end) {
      std::vector<float> scores(visible);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t t = tokens[task / heads], h = task % heads;
        const int64_t seen = int64_t(*positions.row(t)) + 1;
        const float *qh = q.row(t) + h * qHead; // [Dn | Dr]
        const float *kNope = kvx.row(0) + h * kvHead;
        const float *v = kNope + d.nope;
        // scores [1, seen] = q_nope . k_nope_j + q_pe . k_pe_j
        gemmSerial(qh, qHead, kNope, kvCols, scores.data(), seen, 1, seen,
                   d.nope);
        if (d.rope)
          gemmSerial(qh + d.nope, qHead, cache.row(slot, 0) + d.latent,
                     cache.width(), scores.data(), seen, 1, seen, d.rope,
                     scores.data(), seen);
        for (int64_t j = 0; j < seen; ++j)
          scores[j] *= d.scale;
        softmax(scores.data(), seen);
        // out [1, Dv] = P [1, seen] @ v [seen, Dv]
        gemmNNSerial(scores.data(), seen, v, kvCols, o.row(t) + h * d.v, d.v, 1,
                     d.v, seen);
      }
    });
  }
}

void mlaLatentAttention(CMat qLat, int64_t latStride, CMat qPe,
                        int64_t peStride, CIMat positions, CIMat seqIds,
                        int heads, float scale, const KvLayer &cache,
                        Mat oLat) {
  const int64_t latent = cache.latent, rope = cache.rope;
  const int maxPos = maxPosition(positions);
  const int64_t work = (int64_t(maxPos) + 1) * (2 * latent + rope);
  parallelFor(
      qLat.rows * heads, grainFor(work), [&](int64_t begin, int64_t end) {
        std::vector<float> qFull(latent + rope); // [R_l + Dr] = [q_lat | q_pe]
        std::vector<float> scores(size_t(maxPos) + 1);
        for (int64_t task = begin; task < end; ++task) {
          const int64_t t = task / heads, h = task % heads;
          const float *ql = qLat.row(t) + h * latStride;
          std::copy(ql, ql + latent, qFull.begin());
          if (rope) {
            const float *qp = qPe.row(t) + h * peStride;
            std::copy(qp, qp + rope, qFull.begin() + latent);
          }
          attendLatent(qFull.data(), cache, *seqIds.row(t), *positions.row(t),
                       scale, scores.data(), oLat.row(t) + h * latent);
        }
      });
}

} // namespace moela::host
