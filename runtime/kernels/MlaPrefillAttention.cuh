//===- MlaPrefillAttention.cuh - Causal MLA prefill attention (tensor cores)
//===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "MlaPrefillAttention.cuh"
//   extern "C" __global__ void __launch_bounds__(128)
//   NAME(const moela::kernels::MlaPrefillAttentionArgs args) {
//     moela::kernels::mlaPrefillAttention<TQ, TKV, TKP, TO, DN, DR, DV>(args);
//   }
//
//   TQ, TKV, TKP, TO  element types of q, kv, k_pe and out (float or
//   __nv_bfloat16) DN, DR, DV        nope_dim, rope_dim, v_dim (DN % 8 == 0, DR
//   % 8 == 0,
//                     DV % 16 == 0): (128, 64, 128) for DeepSeek-V3/V2
//
// Launch (OpsLaunch.h launchMlaPrefillAttention): grid (ceil(T / 64), heads),
// 128 threads (mlaPrefillAttentionThreads), dynamic shared memory
// mlaPrefillAttentionSharedBytes(DN, DR, DV) (104 KB for V3: the function
// needs CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES set to it).
//
// Semantics (Args.h MlaPrefillAttentionArgs): the expanded MLA form over the
// step's own tokens. Key j is visible to query t iff t - positions[t] <= j
// <= t (a sequence's tokens are contiguous rows starting at position 0), so
// one step may pack several sequences. Per head h, with the shapes
//   q     [T, H*(DN+DR)]  head h: [q_nope | q_pe] at column h*(DN+DR)
//   kv    [T, H*(DN+DV)]  head h: [k_nope | v]    at column h*(DN+DV)
//   k_pe  [T, DR]         shared by all heads
//   out   [T, H*DV]       head h at column h*DV
// out[t,h] = sum_j softmax_j(scale (q_nope.k_nope_j + q_pe.k_pe_j)) v_j.
//
// Design (FlashAttention-2 with mma.sync m16n8k16 bf16, fp32 accumulators):
//  - A block owns head blockIdx.y and the 64 query rows of tile
//    ceil(T/64) - 1 - blockIdx.x: the query tiles of one head run together,
//    so the blocks resident at a time share few heads' keys and values in L2
//    (all 128 heads' would be 335 MB at T = 4096), and within a head the
//    last tiles, which see the most keys in a causal prefill, start first.
//  - Its keys are the union of its rows' visible ranges, [min_t (t -
//    positions[t]), last row], in tiles of 64 keys: K [64, DN+DR] (k_nope |
//    k_pe) and V [64, DV] as bf16 in shared memory, double buffered (tile
//    i+1 loads while tile i is computed; one barrier per tile). bf16 sources
//    with 16-byte aligned rows go by cp.async, the others (float, or
//    unaligned views) are converted through registers. Keys past the last
//    row are zero-filled, never read, so garbage past args.rows never
//    reaches the arithmetic (0 * NaN would).
//  - The Q tile [64, DN+DR] (rows past T zero) goes through shared memory
//    once, into registers as the A fragments of all k16 steps.
//  - Warp w owns query rows 16w..16w+15 for all 64 keys of a tile:
//    S [16, 64] = Q K^T (k over DN+DR padded to 16 with zeros), masked per
//    element, online softmax in fp32 in the log2 domain, all within the warp
//    (no shared-memory exchange); P stays in registers: the C fragments of
//    two 8-key n-tiles are, packed to bf16, the A fragment of a 16-key step
//    of O [16, DV] += P V (V through ldmatrix.trans). A warp skips the tiles
//    that none of its rows see.
//  - Shared rows: 16-byte chunks XOR-swizzled by row % 8 when a row has a
//    multiple of 8 chunks, else an odd row stride: the 8 rows an ldmatrix
//    reads hit 8 different bank groups.
//
// Shared memory (bytes, RS = row stride in 16-byte chunks):
//   Q [64 rows][RSk] | K [2][64 keys][RSk] | V [2][64 keys][RSv]
//   RSk for DN+DR padded to 16 elements, RSv for DV.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_MLAPREFILLATTENTION_CUH
#define MOELA_KERNELS_MLAPREFILLATTENTION_CUH

#include "Abi.h"
#include "OpsCommon.cuh"

namespace moela {
namespace kernels {
namespace prefill {

constexpr int kRows = 64;     // query rows per block
constexpr int kKeys = 64;     // keys per tile
constexpr int kThreads = 128; // 4 warps of 16 query rows

template <typename T> struct IsBf16 {
  static constexpr bool value = false;
};
template <> struct IsBf16<__nv_bfloat16> {
  static constexpr bool value = true;
};

/// Row stride in chunks of a shared tile with `ch` chunks per row.
__host__ __device__ constexpr int rowStride(int ch) {
  return ch % 8 == 0 ? ch : (ch | 1);
}

/// Shared-memory geometry of one instantiation, in 16-byte chunks.
template <int DN, int DR, int DV> struct Geometry {
  static constexpr int DK = DN + DR;              // q.k width
  static constexpr int DKP = (DK + 15) / 16 * 16; // padded to k16
  static constexpr int KCH = DKP / 8;             // chunks per Q/K row
  static constexpr int KGCH = DK / 8; // of them loaded (the rest: zero)
  static constexpr int VCH = DV / 8;  // chunks per V row
  static constexpr int KRS = rowStride(KCH);
  static constexpr int VRS = rowStride(VCH);
  static constexpr int Q_CHUNKS = kRows * KRS;
  static constexpr int K_CHUNKS = kKeys * KRS; // one buffer
  static constexpr int V_CHUNKS = kKeys * VRS; // one buffer
  static constexpr int BYTES = 16 * (Q_CHUNKS + 2 * K_CHUNKS + 2 * V_CHUNKS);

  /// Chunk index of (row, chunk c) in Q or a K buffer (see rowStride).
  static __device__ __forceinline__ int atK(int row, int c) {
    return row * KRS + (KCH % 8 == 0 ? (c ^ (row & 7)) : c);
  }
  /// Chunk index of (key row, chunk c) in a V buffer.
  static __device__ __forceinline__ int atV(int row, int c) {
    return row * VRS + (VCH % 8 == 0 ? (c ^ (row & 7)) : c);
  }
};

/// Whether 16-byte chunks at columns that are multiples of 8 of a bf16 view
/// may go by cp.async: the base and every row 16-byte aligned.
template <typename T> __device__ __forceinline__ bool asyncRows(const View &v) {
  if constexpr (IsBf16<T>::value)
    return (reinterpret_cast<unsigned long long>(v.ptr) & 15ull) == 0 &&
           (v.ld & 7) == 0;
  else
    return false;
}

/// Elements (row, col .. col+7) of `v` as 8 bf16 to shared byte offset `off`;
/// zeros when !valid (without reading). `async`: by cp.async (bf16 only).
template <typename T>
__device__ __forceinline__ void
chunkToShared(unsigned char *smem, int off, const View &v, long long row,
              long long col, bool valid, bool async) {
  if constexpr (IsBf16<T>::value) {
    if (async) { // element (0, 0): a valid address when the chunk is not read
      ops::cpAsync16(ops::smemU32(smem) + off,
                     at<T>(v, valid ? row : 0, valid ? col : 0), valid);
      return;
    }
  }
  uint4 packed = make_uint4(0u, 0u, 0u, 0u);
  if (valid) {
    const T *p = at<T>(v, row, col);
    packed.x = ops::packBf16(toFloat(p[0]), toFloat(p[1]));
    packed.y = ops::packBf16(toFloat(p[2]), toFloat(p[3]));
    packed.z = ops::packBf16(toFloat(p[4]), toFloat(p[5]));
    packed.w = ops::packBf16(toFloat(p[6]), toFloat(p[7]));
  }
  *reinterpret_cast<uint4 *>(smem + off) = packed;
}

} // namespace prefill

template <typename TQ, typename TKV, typename TKP, typename TO, int DN, int DR,
          int DV>
__device__ __forceinline__ void
mlaPrefillAttention(const MlaPrefillAttentionArgs &args) {
  static_assert(DN % 8 == 0 && DN >= 8, "nope_dim must be a multiple of 8");
  static_assert(DR % 8 == 0 && DR >= 0, "rope_dim must be a multiple of 8");
  static_assert(DV % 16 == 0 && DV >= 16, "v_dim must be a multiple of 16");
  using Geo = prefill::Geometry<DN, DR, DV>;
  constexpr int NK = prefill::kKeys, THREADS = prefill::kThreads;
  constexpr int KS = Geo::DKP / 16; // k16 steps of q.k
  constexpr int NTS = NK / 8;       // 8-key n-tiles of S
  constexpr int NTO = DV / 8;       // 8-column n-tiles of O
  static_assert(Geo::BYTES <= ::moela::abi::kMaxSharedBytesPerBlock,
                "shared memory over the target's opt-in limit");

  // Contract checks: a wrong instantiation or launch traps instead of
  // computing garbage.
  if (blockDim.x != THREADS || args.nope_dim != DN || args.rope_dim != DR ||
      args.v_dim != DV)
    __trap();
  if (ops::dynamicSmemBytes() < static_cast<unsigned>(Geo::BYTES))
    __trap();

  const int T = args.rows, h = blockIdx.y;
  const int qt = (T + prefill::kRows - 1) / prefill::kRows - 1 -
                 static_cast<int>(blockIdx.x);
  if (qt < 0 || h >= args.heads)
    return; // the whole block: before any barrier
  const int q0 = qt * prefill::kRows;
  const int qEnd = min(T, q0 + prefill::kRows); // query rows [q0, qEnd)
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gq = lane >> 2, tq = lane & 3; // fragment row group, column pair

  // Visible keys [lo, hi] of a row (empty past T): a sequence starts at row
  // t - positions[t], clamped to the step's rows [0, t].
  auto rowLo = [&](int t) {
    return t < qEnd ? max(0, t - max(args.positions[t], 0)) : 1 << 30;
  };
  const int r0 = q0 + 16 * warp + gq, r1 = r0 + 8; // this thread's two rows
  const int lo0 = rowLo(r0), lo1 = rowLo(r1);
  const int hi0 = r0 < qEnd ? r0 : -1, hi1 = r1 < qEnd ? r1 : -1;
  // The warp's keys [wLo, wHi] and the block's [keyBegin, qEnd).
  int wLo = rowLo(q0 + 16 * warp + (lane & 15));
#pragma unroll
  for (int d = 1; d < 16; d <<= 1)
    wLo = min(wLo, __shfl_xor_sync(0xffffffffu, wLo, d));
  const int wHi = min(qEnd, q0 + 16 * warp + 16) - 1;
  __shared__ int warpLo[THREADS / 32];
  if (lane == 0)
    warpLo[warp] = wLo;
  __syncthreads();
  int keyBegin = warpLo[0];
#pragma unroll
  for (int w = 1; w < THREADS / 32; ++w)
    keyBegin = min(keyBegin, warpLo[w]);
  const int tiles = (qEnd - keyBegin + NK - 1) / NK;

  extern __shared__ __align__(16) unsigned char prefillSmem[];
  unsigned char *const smem = prefillSmem;
  const unsigned sQ = ops::smemU32(smem);
  const int kOff = 16 * Geo::Q_CHUNKS;            // K [2][NK keys], bytes
  const int vOff = kOff + 16 * 2 * Geo::K_CHUNKS; // V [2][NK keys], bytes
  const bool qAsync = prefill::asyncRows<TQ>(args.q);
  const bool kvAsync = prefill::asyncRows<TKV>(args.kv);
  const bool kpAsync = prefill::asyncRows<TKP>(args.k_pe);
  const long long kvCol =
      static_cast<long long>(h) * (DN + DV); // k_nope; v at + DN

  // K and V of tile `tile` (keys keyBegin + 64 tile ..) into buffer `buf`;
  // keys at or past qEnd zero-filled.
  auto loadTile = [&](int tile, int buf) {
    const int key0 = keyBegin + tile * NK;
#pragma unroll 4
    for (int c = threadIdx.x; c < NK * Geo::KGCH; c += THREADS) {
      const int row = c / Geo::KGCH, ch = c % Geo::KGCH, key = key0 + row;
      const int off = kOff + 16 * (buf * Geo::K_CHUNKS + Geo::atK(row, ch));
      if (ch < DN / 8)
        prefill::chunkToShared<TKV>(smem, off, args.kv, key, kvCol + 8 * ch,
                                    key < qEnd, kvAsync);
      else
        prefill::chunkToShared<TKP>(smem, off, args.k_pe, key, 8 * ch - DN,
                                    key < qEnd, kpAsync);
    }
#pragma unroll 4
    for (int c = threadIdx.x; c < NK * Geo::VCH; c += THREADS) {
      const int row = c / Geo::VCH, ch = c % Geo::VCH, key = key0 + row;
      prefill::chunkToShared<TKV>(
          smem, vOff + 16 * (buf * Geo::V_CHUNKS + Geo::atV(row, ch)), args.kv,
          key, kvCol + DN + 8 * ch, key < qEnd, kvAsync);
    }
    ops::cpAsyncCommit();
  };

  // Q [64, DKP]: [q_nope | q_pe | 0], zero rows past T. The pad chunks of
  // both K buffers: zero once, never loaded.
  {
    const long long qCol = static_cast<long long>(h) * (DN + DR);
    for (int c = threadIdx.x; c < prefill::kRows * Geo::KCH; c += THREADS) {
      const int row = c / Geo::KCH, ch = c % Geo::KCH;
      prefill::chunkToShared<TQ>(smem, 16 * Geo::atK(row, ch), args.q, q0 + row,
                                 qCol + 8 * ch,
                                 ch < Geo::KGCH && q0 + row < qEnd, qAsync);
    }
    constexpr int PAD = Geo::KCH - Geo::KGCH;
    if constexpr (PAD > 0) {
      for (int c = threadIdx.x; c < 2 * NK * PAD; c += THREADS) {
        const int row = c / PAD % NK, buf = c / (PAD * NK),
                  ch = Geo::KGCH + c % PAD;
        *reinterpret_cast<uint4 *>(
            smem + kOff + 16 * (buf * Geo::K_CHUNKS + Geo::atK(row, ch))) =
            make_uint4(0u, 0u, 0u, 0u);
      }
    }
  }
  loadTile(0, 0); // one cp.async group with Q's
  ops::cpAsyncWait<0>();
  __syncthreads(); // Q, the pads and tile 0 visible

  unsigned qf[KS][4]; // A fragments of rows 16w.., k16 step ks
#pragma unroll
  for (int ks = 0; ks < KS; ++ks)
    ops::ldsm4(sQ +
                   16 * Geo::atK(16 * warp + (lane & 15), 2 * ks + (lane >> 4)),
               qf[ks]);

  const float c2 = args.scale * 1.4426950408889634f; // log2 domain
  float o[NTO][4]; // O [16 rows, DV]: n-tile nt = columns 8nt..
  ops::zeroTiles(o);
  // Rows r0, r1: running max (log2 domain), this thread's part of the sums.
  float m0 = negInf(), m1 = negInf(), l0 = 0.0f, l1 = 0.0f;

  for (int tile = 0; tile < tiles; ++tile) {
    const int buf = tile & 1;
    if (tile > 0) {
      ops::cpAsyncWait<0>();
      __syncthreads(); // tile visible; everyone is done with the other buffer
    }
    if (tile + 1 < tiles)
      loadTile(tile + 1, buf ^ 1);
    const int key0 = keyBegin + tile * NK;
    if (key0 > wHi || key0 + NK - 1 < wLo)
      continue; // no row of this warp sees these keys (warp-uniform)
    const unsigned kb = sQ + kOff + 16 * buf * Geo::K_CHUNKS;
    const unsigned vb = sQ + vOff + 16 * buf * Geo::V_CHUNKS;

    // S [16 rows, 64 keys] = Q K^T.
    float s[NTS][4];
#pragma unroll
    for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        s[nt][e] = 0.0f;
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
#pragma unroll
      for (int np = 0; np < NTS / 2; ++np) {
        // Matrices: (keys +0..7, k lo), (keys +0..7, k hi), (keys +8..15, k
        // lo), (keys +8..15, k hi) = b0, b1 of n-tile 2np and of n-tile 2np+1.
        unsigned b[4];
        const int key = 16 * np + (lane & 7) + ((lane >> 4) << 3);
        ops::ldsm4(kb + 16 * Geo::atK(key, 2 * ks + ((lane >> 3) & 1)), b);
        ops::mmaBf16(s[2 * np], qf[ks], b[0], b[1]);
        ops::mmaBf16(s[2 * np + 1], qf[ks], b[2], b[3]);
      }
    }

    // Scale, mask (lo <= key <= hi per row), row max over the quad's 64 keys.
    float mx0 = negInf(), mx1 = negInf();
#pragma unroll
    for (int nt = 0; nt < NTS; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int key = key0 + 8 * nt + 2 * tq + e;
        s[nt][e] = lo0 <= key && key <= hi0 ? s[nt][e] * c2 : negInf();
        s[nt][2 + e] = lo1 <= key && key <= hi1 ? s[nt][2 + e] * c2 : negInf();
        mx0 = fmaxf(mx0, s[nt][e]);
        mx1 = fmaxf(mx1, s[nt][2 + e]);
      }
    ops::quadRowMax(mx0, mx1); // the 4 threads of a row group
    // A row may see no key yet (its sequence starts in a later tile, or it is
    // past T): onlineSoftmaxTile keeps it at 0.
    ops::onlineSoftmaxTile(s, o, fmaxf(m0, mx0), fmaxf(m1, mx1), m0, m1, l0,
                           l1);

    // O [16, DV] += P [16, 64 keys] V [64 keys, DV]; the A fragment of keys
    // 16kk.. is the C fragments of S n-tiles 2kk and 2kk+1 (bf16).
#pragma unroll
    for (int kk = 0; kk < NK / 16; ++kk) {
      unsigned a[4];
      a[0] = ops::packBf16(s[2 * kk][0], s[2 * kk][1]); // row g, keys 2t..
      a[1] = ops::packBf16(s[2 * kk][2], s[2 * kk][3]); // row g+8
      a[2] = ops::packBf16(s[2 * kk + 1][0],
                           s[2 * kk + 1][1]); // row g, keys 2t+8..
      a[3] = ops::packBf16(s[2 * kk + 1][2], s[2 * kk + 1][3]); // row g+8
      // Transposed matrices: (keys +0..7, cols lo), (keys +8..15, cols lo),
      // (keys +0..7, cols hi), (keys +8..15, cols hi) = b0, b1 of n-tile 2np
      // and of n-tile 2np+1.
      const int key = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3);
      ops::mmaPV(o, a, [&](int np) {
        return vb + 16 * Geo::atV(key, 2 * np + (lane >> 4));
      });
    }
  }

  // Row sums over the 4 threads of a row group; every row < T saw key t.
  ops::quadRowSums(l0, l1);
  const long long col =
      static_cast<long long>(h) * DV + 2 * tq; // + 8nt: o[nt][0..1]
  // Row r's accumulators o[nt][e], o[nt][e + 1] over its sum l.
  auto storeRow = [&](int r, float l, int e) {
    if (r >= qEnd)
      return;
    const float inv = 1.0f / l;
#pragma unroll
    for (int nt = 0; nt < NTO; ++nt) {
      storeF<TO>(args.out, r, col + 8 * nt, o[nt][e] * inv);
      storeF<TO>(args.out, r, col + 8 * nt + 1, o[nt][e + 1] * inv);
    }
  };
  storeRow(r0, l0, 0);
  storeRow(r1, l1, 2);
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_MLAPREFILLATTENTION_CUH
