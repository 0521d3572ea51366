//===- Gemm.cpp - fp32 GEMM x @ W^T and the per-head GEMM -----------------===//
//
// Both operands of x @ W^T are row-major with K contiguous, so every output is
// a dot product. The serial core computes output tiles (4x2, or 1x8 for a
// single row as in decode) with 8-wide vector accumulators (GCC/Clang vector
// extensions: the compiler emits SSE, or AVX2 with FMA in the x86-64-v3 clone),
// blocked over K so that a tile's operands stay in L1. gemm() splits the output
// into row x column blocks for parallelFor, each block big enough to be worth a
// thread.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cstring>

// An AVX2+FMA clone chosen at load time where the CPU has it (GCC ifunc).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MOELA_GEMM_CLONES                                                      \
  __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MOELA_GEMM_CLONES
#endif

namespace moela::host {
namespace {

typedef float Vec8 __attribute__((vector_size(32)));

inline __attribute__((always_inline)) Vec8 load8(const float *p) {
  Vec8 v;
  std::memcpy(&v, p, sizeof v); // unaligned load
  return v;
}

inline __attribute__((always_inline)) float sum8(Vec8 v) {
  return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

/// Tile of MT rows of a and NT rows of w: out[i][j] = sum_k a[i, k] w[j, k]
/// for k < kLen. MT x NT independent accumulators hide the FMA latency; the
/// shapes used keep 8 to 12 of them in registers.
constexpr int kMaxTileM = 4, kMaxTileN = 8;

template <int MT, int NT>
inline __attribute__((always_inline)) void
dotTile(const float *a, int64_t lda, const float *w, int64_t ldw, int64_t kLen,
        float out[kMaxTileM][kMaxTileN]) {
  Vec8 acc[MT][NT] = {};
  int64_t k = 0;
  for (; k + 8 <= kLen; k += 8) {
    Vec8 av[MT];
    for (int i = 0; i < MT; ++i)
      av[i] = load8(a + i * lda + k);
    for (int j = 0; j < NT; ++j) {
      Vec8 wv = load8(w + j * ldw + k);
      for (int i = 0; i < MT; ++i)
        acc[i][j] += av[i] * wv;
    }
  }
  for (int i = 0; i < MT; ++i)
    for (int j = 0; j < NT; ++j) {
      float s = sum8(acc[i][j]);
      for (int64_t kk = k; kk < kLen; ++kk)
        s += a[i * lda + kk] * w[j * ldw + kk];
      out[i][j] = s;
    }
}

/// Tile width for a tile of mt rows: 1x8, 2x4, 3x4 or 4x2 accumulators.
constexpr int tileN(int mt) { return mt == 1 ? 8 : mt == 4 ? 2 : 4; }

/// A full-width tile of MT rows, or one weight row at a time at the edge.
template <int MT>
inline __attribute__((always_inline)) void
dotTileRows(int nt, const float *a, int64_t lda, const float *w, int64_t ldw,
            int64_t kLen, float out[kMaxTileM][kMaxTileN]) {
  if (nt == tileN(MT)) {
    dotTile<MT, tileN(MT)>(a, lda, w, ldw, kLen, out);
    return;
  }
  for (int j = 0; j < nt; ++j) {
    float col[kMaxTileM][kMaxTileN];
    dotTile<MT, 1>(a, lda, w + j * ldw, ldw, kLen, col);
    for (int i = 0; i < MT; ++i)
      out[i][j] = col[i][0];
  }
}

/// Work (multiply-adds) below which a parallel chunk costs more than it saves.
constexpr int64_t kMinChunkWork = 1 << 20;

} // namespace

/// One K block of gemmSerial: c (=, or += unless first) a[:, :kLen] @
/// w[:, :kLen]^T, with `add` added where first. Every sum is a tile's, so a
/// result does not depend on how callers split m, n or the blocks' storage.
void gemmKBlock(const float *a, int64_t lda, const float *w, int64_t ldw,
                float *c, int64_t ldc, int64_t m, int64_t n, int64_t kLen,
                bool first, const float *add, int64_t ldadd);

MOELA_GEMM_CLONES
void gemmKBlock(const float *a, int64_t lda, const float *w, int64_t ldw,
                float *c, int64_t ldc, int64_t m, int64_t n, int64_t kLen,
                bool first, const float *add, int64_t ldadd) {
  for (int64_t i0 = 0; i0 < m; i0 += kMaxTileM) {
    const int mt = int(std::min<int64_t>(kMaxTileM, m - i0));
    const int64_t width = tileN(mt);
    for (int64_t j0 = 0; j0 < n; j0 += width) {
      const int nt = int(std::min<int64_t>(width, n - j0));
      float acc[kMaxTileM][kMaxTileN];
      const float *at = a + i0 * lda, *wt = w + j0 * ldw;
      switch (mt) {
      case 4:
        dotTileRows<4>(nt, at, lda, wt, ldw, kLen, acc);
        break;
      case 3:
        dotTileRows<3>(nt, at, lda, wt, ldw, kLen, acc);
        break;
      case 2:
        dotTileRows<2>(nt, at, lda, wt, ldw, kLen, acc);
        break;
      default:
        dotTileRows<1>(nt, at, lda, wt, ldw, kLen, acc);
        break;
      }
      for (int i = 0; i < mt; ++i) {
        float *ci = c + (i0 + i) * ldc + j0;
        for (int j = 0; j < nt; ++j) {
          if (!first)
            ci[j] += acc[i][j];
          else if (add) // read before write: add may be c itself
            ci[j] = acc[i][j] + add[(i0 + i) * ldadd + j0 + j];
          else
            ci[j] = acc[i][j];
        }
      }
    }
  }
}

namespace {

/// K blocks of 512: a 4-row tile of a then takes 8 KiB of L1, and the weight
/// rows of a column block (at most 32 x 2 KiB) stay in L2.
constexpr int64_t kBlockK = 512;

/// Weight rows converted at once by gemmWeight (a [32, 512] f32 tile).
constexpr int64_t kTileRows = 32;

void emptySum(float *c, int64_t ldc, int64_t m, int64_t n, const float *add,
              int64_t ldadd) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j)
      c[i * ldc + j] = add ? add[i * ldadd + j] : 0.0f;
}

} // namespace

void gemmSerial(const float *a, int64_t lda, const float *w, int64_t ldw,
                float *c, int64_t ldc, int64_t m, int64_t n, int64_t k,
                const float *add, int64_t ldadd) {
  if (k == 0)
    return emptySum(c, ldc, m, n, add, ldadd);
  for (int64_t k0 = 0; k0 < k; k0 += kBlockK)
    gemmKBlock(a + k0, lda, w + k0, ldw, c, ldc, m, n,
               std::min(kBlockK, k - k0), k0 == 0, add, ldadd);
}

void gemmWeight(const float *a, int64_t lda, const Weight &w, int64_t j0,
                float *c, int64_t ldc, int64_t m, int64_t n, const float *add,
                int64_t ldadd) {
  const int64_t k = w.cols;
  if (w.data)
    return gemmSerial(a, lda, w.row(j0), k, c, ldc, m, n, k, add, ldadd);
  if (k == 0)
    return emptySum(c, ldc, m, n, add, ldadd);
  float *tile = tileBuffer(0, kTileRows * kBlockK); // [nt, kLen]
  for (int64_t jt = 0; jt < n; jt += kTileRows) {
    const int64_t nt = std::min(kTileRows, n - jt);
    for (int64_t k0 = 0; k0 < k; k0 += kBlockK) {
      const int64_t kLen = std::min(kBlockK, k - k0);
      w.toF32(j0 + jt, nt, k0, kLen, tile, kLen);
      gemmKBlock(a + k0, lda, tile, kLen, c + jt, ldc, m, nt, kLen, k0 == 0,
                 add ? add + jt : nullptr, ldadd);
    }
  }
}

MOELA_GEMM_CLONES
void gemmNNSerial(const float *a, int64_t lda, const float *w, int64_t ldw,
                  float *c, int64_t ldc, int64_t m, int64_t n, int64_t k) {
  // Four rows of c at a time, so that each row of w is read once per four.
  for (int64_t i0 = 0; i0 < m; i0 += 4) {
    const int64_t mt = std::min<int64_t>(4, m - i0);
    for (int64_t i = 0; i < mt; ++i)
      std::fill(c + (i0 + i) * ldc, c + (i0 + i) * ldc + n, 0.0f);
    for (int64_t r = 0; r < k; ++r) {
      const float *wr = w + r * ldw;
      for (int64_t i = 0; i < mt; ++i) {
        const float s = a[(i0 + i) * lda + r];
        float *__restrict ci = c + (i0 + i) * ldc;
        for (int64_t j = 0; j < n; ++j)
          ci[j] += s * wr[j];
      }
    }
  }
}

void gemm(CMat a, const Weight &w, Mat c, const CMat *addend) {
  const int64_t m = a.rows, n = w.rows, k = w.cols;
  if (m == 0)
    return;
  // Tasks are blocks of up to 64 rows x 32 weight rows; consecutive tasks
  // share the rows of a. A stored weight's tile is converted once per task,
  // so there tasks take up to 256 rows.
  const int64_t blockM = std::min<int64_t>(m, w.data ? 64 : 256),
                blockN = kTileRows;
  const int64_t tasksM = (m + blockM - 1) / blockM;
  const int64_t tasksN = (n + blockN - 1) / blockN;
  const int64_t grain =
      std::max<int64_t>(1, kMinChunkWork / (blockM * blockN * k));
  parallelFor(tasksM * tasksN, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t i0 = (task / tasksN) * blockM,
                    j0 = (task % tasksN) * blockN;
      const int64_t mt = std::min(blockM, m - i0),
                    nt = std::min(blockN, n - j0);
      gemmWeight(a.row(i0), a.stride, w, j0, c.row(i0) + j0, c.stride, mt, nt,
                 addend ? addend->row(i0) + j0 : nullptr,
                 addend ? addend->stride : 0);
    }
  });
}

void headGemm(CMat x, const Weight &w, const HeadGemmShape &s, Mat y) {
  const int64_t t = x.rows, cw = w.cols;
  if (t == 0)
    return;
  // Tasks: (head, block of up to 64 tokens).
  const int64_t blockT = std::min<int64_t>(t, 64);
  const int64_t blocks = (t + blockT - 1) / blockT;
  const int64_t grain =
      std::max<int64_t>(1, kMinChunkWork / (blockT * s.rows * cw));
  parallelFor(s.heads * blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t h = task / blocks, t0 = (task % blocks) * blockT;
      const int64_t mt = std::min(blockT, t - t0);
      const int64_t row0 = h * s.headRows + s.rowOffset; // W_h [rows, C]
      const float *xh = x.row(t0) + h * s.inStride;
      float *yh = y.row(t0) + h * s.outStride;
      if (!s.transpose) { // y_h [mt, rows] = x_h [mt, C] @ W_h^T
        gemmWeight(xh, x.stride, w, row0, yh, y.stride, mt, s.rows);
        continue;
      }
      // y_h [mt, C] = x_h [mt, rows] @ W_h; a stored W_h converted whole.
      const float *wh = w.data ? w.row(row0) : nullptr;
      if (!wh) {
        float *tile = tileBuffer(1, s.rows * cw); // [rows, C]
        w.toF32(row0, s.rows, 0, cw, tile, cw);
        wh = tile;
      }
      gemmNNSerial(xh, x.stride, wh, cw, yh, y.stride, mt, cw, s.rows);
    }
  });
}

} // namespace moela::host
