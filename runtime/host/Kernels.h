//===- Kernels.h - fp32 CPU kernels of the host backend (internal) --------===//
//
// One function per step family (plan.fbs), each on plain views of activation
// buffers and of float32 weights. The host backend is the numerical reference:
// every kernel computes in fp32 exactly what plan.fbs and docs/model.md say,
// and is parallelised with moela::parallelFor. Kernels check their
// data-dependent inputs (token ids, expert ids, row indices) before any
// parallel work and throw moela::Error; shapes were checked when the plan was
// loaded.
//
// Shape letters as in docs/model.md §2: T tokens, D hidden, H heads, E experts,
// K experts per token, R_l latent rank, Dr rope dim.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_HOST_KERNELS_H
#define MOELA_RUNTIME_HOST_KERNELS_H

#include "moela/Runtime/DType.h"
#include "moela/Runtime/ModelConfig.h"

#include <cstdint>
#include <vector>

namespace moela {
class Communicator;
}

namespace moela::host {

/// A column view of a row-major buffer: `rows` rows of `cols` elements, row r
/// at data + r * stride (stride = the buffer's cols).
template <typename T> struct View {
  T *data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;

  T *row(int64_t r) const { return data + r * stride; }
  operator View<const T>() const { return {data, rows, cols, stride}; }
};
using Mat = View<float>;
using CMat = View<const float>;
using IMat = View<int32_t>;
using CIMat = View<const int32_t>;

/// Rows of a weight as the checkpoint stores them: weight rows [row0, row0 +
/// rows) are rows [r0, + rows) and columns [c0, + the weight's cols) of
/// `data` [*, ld] in `dtype`; FP8 with `scales` [*, scaleLd], the f32
/// 128x128 block grid of `data` (null: no scale).
struct StoredRows {
  DType dtype = DType::F32;
  const uint8_t *data = nullptr;
  int64_t ld = 0, r0 = 0, c0 = 0;
  const float *scales = nullptr;
  int64_t scaleLd = 0;
  int64_t row0 = 0, rows = 0;
};

/// A bound weight [rows, cols]: dense row-major float32 (`data`), or stored
/// rows that kernels convert a tile at a time (toF32: exactly the values
/// loading as f32 gives). In an expert set under expert parallelism, the
/// experts another rank holds have neither (present() is false, rows and
/// cols still set): their rows come out zero.
struct Weight {
  const float *data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  const StoredRows *parts = nullptr; // [partCount] by ascending row0
  int partCount = 0;

  bool present() const { return data || partCount; }
  /// Row r of an f32 weight (data set).
  const float *row(int64_t r) const { return data + r * cols; }
  /// out [n, ldo] = rows [r0, + n), columns [k0, + kn) as float32
  /// (WeightTiles.cpp).
  void toF32(int64_t r0, int64_t n, int64_t k0, int64_t kn, float *out,
             int64_t ldo) const;
};

/// A per-thread f32 buffer of at least n floats for converted weight tiles
/// (`slot` tells a kernel's simultaneous buffers apart).
float *tileBuffer(int slot, int64_t n);

// ---- Gemm.cpp ---------------------------------------------------------------

/// c = a @ w^T (+ addend). a [M, K], w [N, K], c [M, N]; addend [M, N] may be
/// the very view c (in-place residual add). Parallel over row and column
/// blocks.
void gemm(CMat a, const Weight &w, Mat c, const CMat *addend = nullptr);

/// gemmSerial with w = rows [j0, j0 + n) of a bound weight: c [m, n] (ldc)
/// = a [m, w.cols] (lda) @ those rows^T (+ add). A stored weight is converted
/// once per block of 32 rows x 512 columns and reused for all m rows; the sums
/// are gemmSerial's, bit for bit.
void gemmWeight(const float *a, int64_t lda, const Weight &w, int64_t j0,
                float *c, int64_t ldc, int64_t m, int64_t n,
                const float *add = nullptr, int64_t ldadd = 0);

/// The serial core of gemm on raw pointers, for callers that parallelise
/// themselves: c[i, j] = sum_k a[i, k] w[j, k] (+ add[i, j]), a [m, k] with
/// row stride lda, w [n, k] with ldw, c [m, n] with ldc.
void gemmSerial(const float *a, int64_t lda, const float *w, int64_t ldw,
                float *c, int64_t ldc, int64_t m, int64_t n, int64_t k,
                const float *add = nullptr, int64_t ldadd = 0);

/// c = a @ w (no transpose): c[i, j] = sum_r a[i, r] w[r, j]; a [m, k] (lda),
/// w [k, n] (ldw), c [m, n] (ldc). Serial.
void gemmNNSerial(const float *a, int64_t lda, const float *w, int64_t ldw,
                  float *c, int64_t ldc, int64_t m, int64_t n, int64_t k);

/// HeadGemm (plan.fbs): W viewed as [heads, headRows, C]; W_h = its rows
/// [h*headRows + rowOffset, + rows). transpose = false: y[t, h] = W_h x[t, h]
/// (x head [C], y head [rows]); transpose = true: y[t, h] = W_h^T x[t, h]
/// (x head [rows], y head [C]). Head h of x starts at column h*inStride, of y
/// at h*outStride (strides already resolved, never 0).
struct HeadGemmShape {
  int heads = 0;
  int64_t headRows = 0, rowOffset = 0, rows = 0;
  bool transpose = false;
  int64_t inStride = 0, outStride = 0;
};
void headGemm(CMat x, const Weight &w, const HeadGemmShape &shape, Mat y);

// ---- Norm.cpp ---------------------------------------------------------------

/// y = w * s / sqrt(mean(s^2) + eps) per row, s = x (+ r); with r, s is also
/// written to `sum`. x, r, y, sum [T, N]; w [N]. Outputs may be the very
/// views of inputs.
void rmsNorm(CMat x, const CMat *r, const float *w, float eps, Mat y,
             const Mat *sum);

/// y = w * x / sqrt(mean(x^2) + eps) for one row x [n] (y may be x).
void rmsNormRow(const float *x, const float *w, float eps, int64_t n, float *y);

/// y = a + b; [T, N] (y may be a or b).
void add(CMat a, CMat b, Mat y);

/// y = silu(g) * u elementwise; g, u, y [T, F] (y may be g or u).
void siluMul(CMat g, CMat u, Mat y);

// ---- RopeStep.cpp -----------------------------------------------------------

/// cos and sin of every (row, pair) of one RoPE for the rows' positions:
/// angle = float(pos) * invFreq[i] in fp32, both scaled by `magnitude`.
struct RopeTable {
  int half = 0;
  std::vector<float> cos, sin; // [T, half]

  void build(const std::vector<float> &invFreq, float magnitude,
             CIMat positions);
  /// Rotates the interleaved pairs of x [2*half] with row t's angles.
  void rotate(float *x, int64_t t) const;
};

/// Rotates columns [h*headDim + offset, + 2*table.half) of every head h of
/// every row of x [T, heads*headDim], in place.
void applyRope(Mat x, const RopeTable &table, int heads, int headDim,
               int offset);

// ---- Attention.cpp ----------------------------------------------------------

/// The latent cache of one layer: a pool of pages of kKvPageTokens rows
/// [pages, 64, latent + rope], a row = [c (latent) | k_pe (rope)], and the
/// block tables [sequences, pagesPerSeq] that place position p of a slot at
/// row p % 64 of page blockTables[slot][p / 64].
struct KvLayer {
  float *data = nullptr;
  int pages = 0, latent = 0, rope = 0;
  bool bf16 = false; // the plan's cache is BF16: kvAppend rounds what it stores
  /// The plan's cache is F8E4M3: kvAppend stores each row (in f32) as the
  /// e4m3 codes and per-128-column scales of a GPU would give it back.
  bool fp8 = false;
  const int32_t *blockTables = nullptr;
  int pagesPerSeq = 0;

  int64_t width() const { return latent + rope; }
  float *row(int slot, int pos) const;
  /// Rows 0..n-1 of `slot` as one [n, width] matrix: in place when their
  /// pages follow each other in the pool, else copied into `scratch`. Either
  /// way the same values, so results never depend on the page order.
  const float *rows(int slot, int64_t n, std::vector<float> &scratch) const;
};

/// cache[seq[t]][pos[t]] = [normW ? RMSNorm(latent[t], normW, eps) : latent[t]
/// |
///                          rope ? rope(kPe[t]) : kPe[t]].
/// latent [T, R_l]; kPe [T, Dr]; positions, seqIds [T] (checked by the
/// backend).
void kvAppend(CMat latent, CMat kPe, CIMat positions, CIMat seqIds,
              const float *normW, float eps, const RopeTable *rope,
              const KvLayer &cache);

struct MlaDims {
  int heads = 0, nope = 0, rope = 0, v = 0, latent = 0;
  float scale = 0;
};

/// Absorbed MLA: per head q_abs = Wuk^T q_nope [R_l], scores against the cached
/// latent and k_pe of the visible rows 0..pos of the token's slot, out =
/// Wuv (sum_j P_j c_j). q [T, H*(Dn+Dr)] (rope slice rotated), kvB [H*(Dn+Dv),
/// R_l], o [T, H*Dv].
void mlaAttentionAbsorbed(CMat q, CIMat positions, CIMat seqIds,
                          const Weight &kvB, const MlaDims &dims,
                          const KvLayer &cache, Mat o);

/// Expanded MLA: k_nope = Wuk c_j and v = Wuv c_j for every visible cache row,
/// then ordinary attention. Same operands as the absorbed form; `scratch`
/// holds the expanded keys and values of one slot.
void mlaAttentionExpanded(CMat q, CIMat positions, CIMat seqIds,
                          const Weight &kvB, const MlaDims &dims,
                          const KvLayer &cache, Mat o,
                          std::vector<float> &scratch);

/// rows[t] = cache[seq[t]][pos[t]]: rows [T, R_l + Dr].
void kvGather(CIMat positions, CIMat seqIds, const KvLayer &cache, Mat rows);

/// Expanded MLA over a prefill step's own tokens (plan.fbs
/// MlaPrefillAttentionParams): token t sees the rows t - positions[t] .. t.
/// q [T, H*(Dn+Dr)], kv [T, H*(Dn+Dv)] per head [k_nope | v], kPe [T, Dr],
/// o [T, H*Dv]. Fails unless the positions are those of fresh sequences
/// (each 0 or its predecessor's + 1).
void mlaPrefillAttention(CMat q, CMat kv, CMat kPe, CIMat positions,
                         const MlaDims &dims, Mat o);

/// o_lat[t, h] = sum_j softmax_j(scale * (q_lat[t, h].c_j + q_pe[t, h].k_pe_j))
/// c_j over the visible rows. q_lat head h at column h*latStride (R_l wide),
/// q_pe head h at h*peStride (Dr wide); o_lat [T, H*R_l] packed.
void mlaLatentAttention(CMat qLat, int64_t latStride, CMat qPe,
                        int64_t peStride, CIMat positions, CIMat seqIds,
                        int heads, float scale, const KvLayer &cache, Mat oLat);

/// In-place fp32 softmax of s [n].
void softmax(float *s, int64_t n);

// ---- Routing.cpp ------------------------------------------------------------

struct RouteConfig {
  ScoringFunc scoring = ScoringFunc::Softmax;
  TopkMethod method = TopkMethod::Greedy;
  int experts = 0, topK = 0, groups = 1, topkGroups = 1;
  bool normTopkProb = false;
  float scaling = 1.0f;
};

/// docs/model.md §3.2: scores, biased selection (bias [E] or null), groups,
/// top-K (ties to the lower index, idx in descending selection score), weights
/// from the unbiased scores. logits [T, E]; idx I32 [T, K]; w [T, K].
void route(CMat logits, const float *bias, const RouteConfig &config, IMat idx,
           Mat w);

// ---- Moe.cpp ----------------------------------------------------------------

/// Sorts the T*K (token, slot) pairs by expert, stable: xSorted [T*K, D],
/// offsets [E+1], perm [T*K] (perm[i] = t*K + k of sorted row i). idx [T, K]
/// must hold experts in [0, E) (checked: throws).
void moeDispatch(CMat x, CIMat idx, int experts, Mat xSorted, IMat offsets,
                 IMat perm);

/// y rows offsets[e]..offsets[e+1] = x rows of expert e @ w[e]^T, with
/// silu_mul: silu(acc[:, :N/2]) * acc[:, N/2:]. x [T*K, Kd]; offsets [E+1]
/// (checked: throws); w[e] [N, Kd]; y [T*K, N or N/2]. `scratch` holds the
/// pre-activation rows with silu_mul. Experts without data (another rank's)
/// give zero rows.
void groupedGemm(CMat x, CIMat offsets, const std::vector<Weight> &w,
                 bool siluMul, Mat y, std::vector<float> &scratch);

/// y[t*K + k] = down_e(silu(gate_e(x[t])) * up_e(x[t])), e = idx[t, k]:
/// dispatch, two grouped GEMMs, and back to slot order. gateUp[e] [2F, D],
/// down[e] [D, F], y [T*K, D]; slots of experts without data (another
/// rank's) give zero rows.
void moeExperts(CMat x, CIMat idx, const std::vector<Weight> &gateUp,
                const std::vector<Weight> &down, Mat y,
                std::vector<float> &scratch);

/// out[t] = sum_k w[t, k] y[slot t*K + k] (+ shared[t]) (+ r[t]); with perm,
/// y is in sorted order and perm maps sorted rows to slots (checked to be a
/// permutation: throws). y [T*K, D]; w [T, K]; out [T, D] (may be r's view).
void moeCombine(CMat y, CMat w, const CIMat *perm, const CMat *shared,
                const CMat *r, int topK, Mat out);

// ---- Collectives.cpp -------------------------------------------------------

/// y = the sum over the communicator's ranks of x (x and y the same shape; y
/// may be x's very view).
void allReduce(Communicator &comm, CMat x, Mat y);

/// y [T, N*C] = [x of rank 0 | x of rank 1 | ...], x [T, C].
void allGather(Communicator &comm, CMat x, Mat y);

// ---- Misc.cpp ---------------------------------------------------------------

/// h[t] = embed[tokens[t]]; tokens [T] must be in [0, V) (throws otherwise).
void embedding(CIMat tokens, const Weight &embed, Mat h);

/// A vocab-parallel table: `embed` holds rows [firstRow, firstRow +
/// embed.rows) of a [vocab, D] table; tokens outside them give zero rows
/// (an AllReduce adds the ranks up). tokens must be in [0, vocab).
void embeddingShard(CIMat tokens, const Weight &embed, int64_t firstRow,
                    int64_t vocab, Mat h);

/// y[i] = x[rows[i]]; rows [R] must be in [0, x.rows) (throws otherwise).
void gatherRows(CMat x, CIMat rows, Mat y);

/// ids[r] = the first index of the largest logit of row r; logits [R, V].
void argmax(CMat logits, IMat ids);

/// The token of each logit row and its logprobs (plan.fbs SampleParams,
/// docs/model.md §4): sampling [R, kSamplingWords] the rows' parameters,
/// ids and logprobs [R, kSampleCols]: the chosen token, then its row's top
/// logprobs, most likely first. Throws on a parameter out of range.
void sample(CMat logits, CIMat sampling, IMat ids, Mat logprobs);
/// Vocab-parallel sampling (plan.fbs SampleCandidatesParams): one rank's
/// candidate blocks [R, sampleCandidateCols(C)] of its logit columns, whose
/// column 0 is vocabulary id `firstId`.
void sampleCandidates(CMat logits, CIMat sampling, int64_t firstId,
                      Mat candidates);
/// Sample over the N ranks' candidate blocks side by side [R, N * W]: the
/// same ids and (to rounding) logprobs as `sample` of the whole rows.
void sampleFromCandidates(CMat blocks, int parts, CIMat sampling, IMat ids,
                          Mat logprobs);

/// next[t] = tokens[t+1] if row t+1 is the same slot at the next position,
/// else ids[r] for the r with logitRows[r] = t, else tokens[t] (plan.fbs
/// NextTokensParams). tokens, positions, seqIds, next [T]; logitRows, ids [R].
void nextTokens(CIMat tokens, CIMat positions, CIMat seqIds, CIMat logitRows,
                CIMat ids, IMat next);

/// ab = [a | b] row by row.
void concat(CMat a, CMat b, Mat ab);

} // namespace moela::host

#endif // MOELA_RUNTIME_HOST_KERNELS_H
