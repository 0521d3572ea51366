//===- Moe.cpp - Expert dispatch, grouped GEMM, experts, combine ----------===//
//
// Two equal ways to run the routed experts (plan.fbs): MoeExperts in one step,
// or MoeDispatch + GroupedGemm (gate/up with silu_mul) + GroupedGemm (down) +
// MoeCombine(permuted). MoeExperts is that same composition internally, so
// each expert's weights are read once per step whatever the tokens.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace moela::host {
namespace {

/// Work (multiply-adds) below which a parallel chunk costs more than it saves.
constexpr int64_t kMinChunkWork = 1 << 20;

/// Copies row i of x to row i of y for each i, in parallel.
void copyRows(int64_t rows, int64_t cols,
              const std::function<const float *(int64_t)> &src,
              const std::function<float *(int64_t)> &dst) {
  parallelFor(rows, std::max<int64_t>(1, 8192 / cols),
              [&](int64_t begin, int64_t end) {
                for (int64_t i = begin; i < end; ++i)
                  std::copy(src(i), src(i) + cols, dst(i));
              });
}

} // namespace

void moeDispatch(CMat x, CIMat idx, int experts, Mat xSorted, IMat offsets,
                 IMat perm) {
  const int64_t topK = idx.cols, slots = x.rows * topK;
  // Counting sort by expert; slots of one expert stay in ascending order.
  std::vector<int64_t> start(size_t(experts) + 1, 0);
  for (int64_t t = 0; t < x.rows; ++t)
    for (int64_t k = 0; k < topK; ++k) {
      const int32_t e = idx.row(t)[k];
      if (e < 0 || e >= experts)
        fail("expert index ", e, " of token ", t, " out of range [0, ", experts,
             ")");
      ++start[size_t(e) + 1];
    }
  for (int e = 0; e < experts; ++e)
    start[e + 1] += start[e];
  for (int e = 0; e <= experts; ++e)
    *offsets.row(e) = int32_t(start[e]);
  for (int64_t slot = 0; slot < slots; ++slot) {
    const int32_t e = idx.row(slot / topK)[slot % topK];
    *perm.row(start[e]++) = int32_t(slot);
  }
  copyRows(
      slots, x.cols, [&](int64_t i) { return x.row(*perm.row(i) / topK); },
      [&](int64_t i) { return xSorted.row(i); });
}

void groupedGemm(CMat x, CIMat offsets, const std::vector<Weight> &w,
                 bool siluMul, Mat y, std::vector<float> &scratch) {
  const int experts = int(w.size());
  const int64_t n = w[0].rows, k = w[0].cols;
  int64_t previous = 0;
  for (int e = 0; e <= experts; ++e) {
    const int64_t o = *offsets.row(e);
    if (o < previous || o > x.rows)
      fail("offsets[", e, "] = ", o, " must lie in [", previous, ", ", x.rows,
           "] (offsets ascend within the ", x.rows, " rows)");
    previous = o;
  }

  // The GEMM writes y directly, or the pre-activation rows [rows, N] first.
  float *out = y.data;
  int64_t ldo = y.stride;
  if (siluMul) {
    scratch.resize(size_t(x.rows * n));
    out = scratch.data();
    ldo = n;
  }

  // Tasks: (expert, block of up to 64 rows, block of 32 weight rows).
  struct Task {
    int expert;
    int64_t i0, rows, j0, cols;
  };
  std::vector<Task> tasks;
  // Another rank's experts: zero rows (zero pre-activations give zero
  // silu_mul rows below).
  for (int e = 0; e < experts; ++e)
    if (!w[e].present())
      for (int64_t i = *offsets.row(e); i < *offsets.row(e + 1); ++i)
        std::fill(out + i * ldo, out + i * ldo + n, 0.0f);
  for (int e = 0; e < experts; ++e)
    for (int64_t i0 = *offsets.row(e);
         w[e].present() && i0 < *offsets.row(e + 1); i0 += 64)
      for (int64_t j0 = 0; j0 < n; j0 += 32)
        tasks.push_back({e, i0, std::min<int64_t>(64, *offsets.row(e + 1) - i0),
                         j0, std::min<int64_t>(32, n - j0)});
  const int64_t taskWork = std::max<int64_t>(1, 32 * k);
  parallelFor(
      int64_t(tasks.size()), std::max<int64_t>(1, kMinChunkWork / taskWork),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          const Task &task = tasks[size_t(i)];
          gemmWeight(x.row(task.i0), x.stride, w[task.expert], task.j0,
                     out + task.i0 * ldo + task.j0, ldo, task.rows, task.cols);
        }
      });

  if (siluMul) { // y = silu(acc[:, :N/2]) * acc[:, N/2:] on the routed rows
    const int64_t first = *offsets.row(0), last = *offsets.row(experts);
    const int64_t half = n / 2;
    CMat gate{scratch.data() + first * n, last - first, half, n};
    CMat up{scratch.data() + first * n + half, last - first, half, n};
    Mat dst{y.row(first), last - first, half, y.stride};
    moela::host::siluMul(gate, up, dst);
  }
}

void moeExperts(CMat x, CIMat idx, const std::vector<Weight> &gateUp,
                const std::vector<Weight> &down, Mat y,
                std::vector<float> &scratch) {
  const int experts = int(gateUp.size());
  const int64_t slots = x.rows * idx.cols, d = x.cols;
  const int64_t f = gateUp[0].rows / 2;
  std::vector<float> xs(static_cast<size_t>(slots * d)),
      h(static_cast<size_t>(slots * f)),
      ys(size_t(slots * d)); // [T*K, D], [T*K, F], [T*K, D]
  std::vector<int32_t> offsets(size_t(experts) + 1),
      perm(static_cast<size_t>(slots)); // [E+1], [T*K]
  Mat xSorted{xs.data(), slots, d, d}, hidden{h.data(), slots, f, f},
      ySorted{ys.data(), slots, d, d};
  IMat off{offsets.data(), experts + 1, 1, 1}, pm{perm.data(), slots, 1, 1};
  moeDispatch(x, idx, experts, xSorted, off, pm);
  groupedGemm(xSorted, off, gateUp, true, hidden, scratch);
  groupedGemm(hidden, off, down, false, ySorted, scratch);
  copyRows(
      slots, d, [&](int64_t i) { return ySorted.row(i); },
      [&](int64_t i) { return y.row(perm[size_t(i)]); });
}

void moeCombine(CMat y, CMat w, const CIMat *perm, const CMat *shared,
                const CMat *r, int topK, Mat out) {
  const int64_t tokens = out.rows, d = out.cols, slots = tokens * topK;
  // rowOf[slot] = the row of y holding that slot.
  std::vector<int64_t> rowOf(static_cast<size_t>(slots));
  if (perm) {
    std::fill(rowOf.begin(), rowOf.end(), -1);
    for (int64_t i = 0; i < slots; ++i) {
      const int32_t slot = *perm->row(i);
      if (slot < 0 || slot >= slots || rowOf[size_t(slot)] >= 0)
        fail("perm[", i, "] = ", slot, " is not a permutation of [0, ", slots,
             ")");
      rowOf[size_t(slot)] = i;
    }
  } else {
    for (int64_t i = 0; i < slots; ++i)
      rowOf[size_t(i)] = i;
  }
  parallelFor(tokens, std::max<int64_t>(1, 8192 / (d * topK)),
              [&](int64_t begin, int64_t end) {
                std::vector<float> acc(static_cast<size_t>(d)); // [D]
                for (int64_t t = begin; t < end; ++t) {
                  std::fill(acc.begin(), acc.end(), 0.0f);
                  for (int k = 0; k < topK; ++k) {
                    const float wk = w.row(t)[k];
                    const float *yk = y.row(rowOf[size_t(t * topK + k)]);
                    for (int64_t i = 0; i < d; ++i)
                      acc[i] += wk * yk[i];
                  }
                  if (shared)
                    for (int64_t i = 0; i < d; ++i)
                      acc[i] += shared->row(t)[i];
                  float *o = out.row(t);
                  if (r) // read r before writing out: out may be r
                    for (int64_t i = 0; i < d; ++i)
                      o[i] = r->row(t)[i] + acc[i];
                  else
                    std::copy(acc.begin(), acc.end(), o);
                }
              });
}

} // namespace moela::host
