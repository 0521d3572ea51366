//===- LatentAttention.cuh - Absorbed MLA decode attention (tensor cores) -===//
//
// Instantiation (the emitter writes exactly this, NAME its entry point):
//
//   #include "LatentAttention.cuh"
//   extern "C" __global__ void __launch_bounds__(THREADS, 1)
//   NAME(const moela::kernels::LatentAttentionArgs args) {
//     moela::kernels::latentAttention<TQL, TQP, TO, R, DR, MT>(args);
//   }
//
//   TQL, TQP  element type of q_lat, q_pe (float, or __nv_bfloat16)
//   TO        element type of out (float or __nv_bfloat16)
//   R, DR     latent_dim and rope_dim (R % 32 == 0, DR % 8 == 0)
//   MT        16-head tiles per block = latentAttentionMTiles(heads) of
//             OpsLaunch.h = min(4, ceil(heads / 16))
//   THREADS   64 * MT (the literal number, e.g. 256 for MT = 4)
//
// The KV cache is paged (Args.h KvPages): a tile of 64 keys is exactly one
// page, of __nv_bfloat16 rows [R + DR] (copied with cp.async) or of e4m3
// rows with per-128-column scales (dequantized to bf16 on the way into
// shared memory, the tensor cores' operand type). The launch
// (grid, block, dynamic shared memory, and whether a second launch is needed)
// comes from OpsLaunch.h: launchLatentAttention, latentAttentionLaunches,
// latentAttentionWorkspaceBytes. With two launches the backend runs the same
// function with args.phase = 0, then args.phase = 1.
//
// Design (FlashMLA-like, with mma.sync m16n8k16 bf16 and ldmatrix):
//  - A block owns one token t, HB = 16*MT heads of it (a head group) and one
//    contiguous split of the token's visible cache rows 0..positions[t]. Each
//    cache row is read from global memory once per head group: all HB heads
//    use it. Q [HB, R + DR] (bf16) stays in shared memory for the whole split.
//  - Rows come in tiles of 64 (cp.async, zero-filled past the visible end, so
//    unwritten cache rows, even NaN, never reach the arithmetic), double
//    buffered: tile i+1 loads while tile i is computed.
//  - Warps form MT x 2: warp (wm, wn) computes the scores of heads
//    16wm..16wm+15 against keys 32wn..32wn+31 of the tile (S = Q K^T, k over
//    R + DR), and the output columns wn*R/2 .. +R/2 of the same 16 heads for
//    all 64 keys (O += P V, V = the first R columns of the same rows). The two
//    warps of a head row agree on the running max through shared memory; P
//    goes through shared memory as bf16.
//  - Online softmax in fp32 in the log2 domain (scores times scale*log2(e)).
//  - Split-KV: gridDim.y = S splits per token (launchLatentAttention picks S
//    from T). Token t uses S_t = min(S, ceil(tiles_t / 2)) splits of whole
//    tiles. With S_t = 1 the block writes out directly; otherwise it writes
//    an unnormalised partial (O, m, l) to the workspace and phase 1 combines
//    the S_t partials of each (t, head) in split order (deterministic).
//
// Workspace (floats; T = args.rows, Hp = ceil(H / HB) * HB):
//   [0, T)                      int count[t] = S_t (written when gridDim.y > 1)
//   at roundUp(T, 4):           records [S][T][Hp][R + 4]:
//                               record (s, t, h) = [O (R) | m | l | 0 | 0]
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_LATENTATTENTION_CUH
#define MOELA_KERNELS_LATENTATTENTION_CUH

#include "Abi.h"
#include "OpsCommon.cuh"

namespace moela {
namespace kernels {
namespace latent {

constexpr int kKeys =
    ::moela::abi::kKvPageTokens; // cache rows per tile: a page
constexpr int kMinTilesPerSplit =
    2; // a split never has fewer tiles (but the last)

/// Shared-memory geometry of one instantiation, in 16-byte chunks.
template <int R, int DR, int MT> struct Geometry {
  static constexpr int HB = 16 * MT;              // heads per block
  static constexpr int THREADS = 64 * MT;         // MT x 2 warps
  static constexpr int DRP = (DR + 15) / 16 * 16; // rope part padded to k16
  static constexpr int W = R + DRP;               // shared row width (elements)
  static constexpr int CH = W / 8;                // chunks per shared row
  static constexpr int GCH = (R + DR) / 8;        // chunks per cache row
  static constexpr bool SWZ = CH % 8 == 0;       // XOR swizzle, else odd stride
  static constexpr int RS = SWZ ? CH : (CH | 1); // row stride (chunks)
  static constexpr int Q_CHUNKS = HB * RS;
  static constexpr int K_CHUNKS = kKeys * RS; // one buffer
  static constexpr int P_CHUNKS = HB * 8;     // [HB][64 keys] bf16
  static constexpr int BYTES =
      16 * (Q_CHUNKS + 2 * K_CHUNKS + P_CHUNKS) + 2 * HB * 4; // + red[2][HB]

  /// Chunk index of (row, chunk c) in a Q or K buffer: with SWZ the chunk is
  /// XORed with row % 8, so the 8 rows an ldmatrix reads (same c) hit 8
  /// different 16-byte bank groups; else the odd row stride does the same.
  static __device__ __forceinline__ int at(int row, int c) {
    return row * RS + (SWZ ? (c ^ (row & 7)) : c);
  }
  /// Chunk index of (head row, key chunk c) in P (8 chunks per row, swizzled).
  static __device__ __forceinline__ int atP(int row, int c) {
    return row * 8 + (c ^ (row & 7));
  }
};

/// Splits of a token with `n` visible rows given S splits in the grid:
/// count and tiles per split (every split non-empty).
__device__ __forceinline__ void splitsOf(int n, int S, int &count,
                                         int &perSplit) {
  const int tiles = (n + kKeys - 1) / kKeys;
  int c = (tiles + kMinTilesPerSplit - 1) / kMinTilesPerSplit;
  c = c < S ? c : S;
  perSplit = (tiles + c - 1) / c;
  count = (tiles + perSplit - 1) / perSplit;
}

/// Phase 1: out[t, h, :] = sum_s 2^(m_s - M) O_s / sum_s 2^(m_s - M) l_s for
/// the tokens with more than one split; one thread per 4 output columns.
template <typename TO, int R, int MT>
__device__ __forceinline__ void latentCombine(const LatentAttentionArgs &args) {
  constexpr int HB = 16 * MT, THREADS = 64 * MT, C4 = R / 4;
  const int T = args.rows, H = args.heads;
  const int Hp = (H + HB - 1) / HB * HB;
  const long long i =
      static_cast<long long>(blockIdx.x) * THREADS + threadIdx.x;
  if (i >= static_cast<long long>(T) * H * C4)
    return;
  const int t = static_cast<int>(i / (static_cast<long long>(H) * C4));
  const int rem = static_cast<int>(i - static_cast<long long>(t) * H * C4);
  const int h = rem / C4, c = (rem % C4) * 4;
  const int *count = reinterpret_cast<const int *>(args.workspace);
  const int splits = count[t];
  if (splits <= 1)
    return; // phase 0 wrote this token's output
  const float *records = args.workspace + (T + 3) / 4 * 4;
  const long long stride =
      static_cast<long long>(T) * Hp * (R + 4); // one split
  const float *rec = records + (static_cast<long long>(t) * Hp + h) * (R + 4);
  float mmax = negInf();
  for (int s = 0; s < splits; ++s)
    mmax = fmaxf(mmax, rec[s * stride + R]);
  float den = 0.0f, num[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int s = 0; s < splits; ++s) {
    const float *r = rec + s * stride;
    const float w = exp2f(r[R] - mmax);
    den += w * r[R + 1];
    const float4 v = *reinterpret_cast<const float4 *>(r + c);
    num[0] += w * v.x;
    num[1] += w * v.y;
    num[2] += w * v.z;
    num[3] += w * v.w;
  }
  const float inv = 1.0f / den;
  for (int k = 0; k < 4; ++k)
    storeF<TO>(args.out, t, static_cast<long long>(h) * R + c + k,
               num[k] * inv);
}

} // namespace latent

template <typename TQL, typename TQP, typename TO, int R, int DR, int MT>
__device__ __forceinline__ void
latentAttention(const LatentAttentionArgs &args) {
  static_assert(R % 32 == 0 && R >= 32, "latent_dim must be a multiple of 32");
  static_assert(DR % 8 == 0 && DR >= 0, "rope_dim must be a multiple of 8");
  static_assert(MT >= 1 && MT <= 4, "1..4 head tiles of 16");
  using Geo = latent::Geometry<R, DR, MT>;
  constexpr int HB = Geo::HB, THREADS = Geo::THREADS, NK = latent::kKeys;
  constexpr int KS = Geo::W / 16; // k16 steps of q.k
  constexpr int NTO = R / 16; // 8-column n-tiles of a warp's R/2 output columns
  static_assert(Geo::BYTES <= ::moela::abi::kMaxSharedBytesPerBlock,
                "shared memory over the target's opt-in limit");

  // Contract checks: a wrong instantiation or launch traps instead of
  // computing garbage.
  if (blockDim.x != THREADS || args.latent_dim != R || args.rope_dim != DR)
    __trap();
  if (args.phase == 1) {
    latent::latentCombine<TO, R, MT>(args);
    return;
  }
  if (ops::dynamicSmemBytes() < static_cast<unsigned>(Geo::BYTES))
    __trap();

  const int T = args.rows, H = args.heads;
  const int G = (H + HB - 1) / HB, Hp = G * HB;
  const int t = T - 1 - static_cast<int>(blockIdx.x) / G; // long prefixes first
  const int g = static_cast<int>(blockIdx.x) % G;
  const int split = blockIdx.y, S = gridDim.y;
  int n = args.positions[t] + 1; // visible cache rows 0..pos
  if (n < 1)
    n = 1;
  int splits, perSplit;
  latent::splitsOf(n, S, splits, perSplit);
  if (S > 1 && split == 0 && g == 0 && threadIdx.x == 0)
    reinterpret_cast<int *>(args.workspace)[t] = splits;
  if (split >= splits)
    return; // the whole block: before any barrier
  const int tileBegin = split * perSplit;
  const int tileEnd = min((n + NK - 1) / NK, tileBegin + perSplit);
  const int keyEnd = min(n, tileEnd * NK); // keys [tileBegin*NK, keyEnd)

  extern __shared__ __align__(16) unsigned char latentSmem[];
  const unsigned sQ = ops::smemU32(latentSmem);
  const unsigned sK = sQ + 16 * Geo::Q_CHUNKS;     // [2][NK rows]
  const unsigned sP = sK + 16 * 2 * Geo::K_CHUNKS; // [HB][64] bf16
  float *red = reinterpret_cast<float *>(
      latentSmem +
      16 * (Geo::Q_CHUNKS + 2 * Geo::K_CHUNKS + Geo::P_CHUNKS)); // [2][HB]

  const int *table =
      args.cache.block_tables +
      static_cast<long long>(args.seq_ids[t]) * args.cache.pages_per_seq;

  // cp.async of tile `tile` (rows tile*64 .. +63, the sequence's page for
  // block `tile`) into buffer `buf`; rows at or past keyEnd are zero-filled
  // without reading.
  auto loadTile = [&](int tile, int buf) {
    const int key0 = tile * NK;
    const long long row0 = static_cast<long long>(table[tile]) * NK;
    const unsigned dst = sK + 16 * buf * Geo::K_CHUNKS;
    if (args.cache.scales) {
      // e4m3 rows: 8 codes times their block's scale, stored as bf16 with
      // plain loads (visible after the next barrier, like the cp.async).
      const unsigned char *codes =
          static_cast<const unsigned char *>(args.cache.data);
      for (int c = threadIdx.x; c < NK * Geo::GCH; c += THREADS) {
        const int row = c / Geo::GCH, ch = c % Geo::GCH;
        uint4 packed = make_uint4(0u, 0u, 0u, 0u);
        if (key0 + row < keyEnd) {
          const long long r = row0 + row;
          const uint2 q =
              *reinterpret_cast<const uint2 *>(codes + r * (R + DR) + ch * 8);
          const float s =
              args.cache.scales[r * ::moela::abi::kvFp8Scales(R + DR) +
                                ch * 8 / ::moela::abi::kFp8Block];
          const unsigned char *b8 = reinterpret_cast<const unsigned char *>(&q);
          float v[8];
#pragma unroll
          for (int e = 0; e < 8; ++e)
            v[e] = __fmul_rn(
                toFloat(*reinterpret_cast<const __nv_fp8_e4m3 *>(b8 + e)), s);
          packed.x = ops::packBf16(v[0], v[1]);
          packed.y = ops::packBf16(v[2], v[3]);
          packed.z = ops::packBf16(v[4], v[5]);
          packed.w = ops::packBf16(v[6], v[7]);
        }
        *reinterpret_cast<uint4 *>(latentSmem + (dst - sQ) +
                                   16 * Geo::at(row, ch)) = packed;
      }
      ops::cpAsyncCommit(); // an empty group: the waits stay balanced
      return;
    }
    const __nv_bfloat16 *base =
        static_cast<const __nv_bfloat16 *>(args.cache.data) + row0 * (R + DR);
#pragma unroll 4
    for (int c = threadIdx.x; c < NK * Geo::GCH; c += THREADS) {
      const int row = c / Geo::GCH, ch = c % Geo::GCH;
      const int key = key0 + row;
      const bool valid = key < keyEnd;
      const __nv_bfloat16 *src =
          base + static_cast<long long>(valid ? row : 0) * (R + DR) + ch * 8;
      ops::cpAsync16(dst + 16 * Geo::at(row, ch), src, valid);
    }
    ops::cpAsyncCommit();
  };

  loadTile(tileBegin, 0);

  // Q [HB, W] as bf16: [q_lat (R) | q_pe (DR) | 0], zero rows for heads >= H.
  {
    const long long qls = args.q_lat_stride ? args.q_lat_stride : R;
    const long long qps = args.q_pe_stride ? args.q_pe_stride : DR;
    for (int c = threadIdx.x; c < HB * Geo::CH; c += THREADS) {
      const int row = c / Geo::CH, ch = c % Geo::CH, col = ch * 8;
      const int h = g * HB + row;
      float v[8];
#pragma unroll
      for (int e = 0; e < 8; ++e)
        v[e] = 0.0f;
      if (h < H && col < R) {
#pragma unroll
        for (int e = 0; e < 8; ++e)
          v[e] = loadF<TQL>(args.q_lat, t, h * qls + col + e);
      } else if (h < H && col < R + DR) {
#pragma unroll
        for (int e = 0; e < 8; ++e)
          v[e] = loadF<TQP>(args.q_pe, t, h * qps + (col - R) + e);
      }
      uint4 packed;
      packed.x = ops::packBf16(v[0], v[1]);
      packed.y = ops::packBf16(v[2], v[3]);
      packed.z = ops::packBf16(v[4], v[5]);
      packed.w = ops::packBf16(v[6], v[7]);
      *reinterpret_cast<uint4 *>(latentSmem + 16 * Geo::at(row, ch)) = packed;
    }
    // The pad chunks [GCH, CH) of both K buffers: zero once, never loaded.
    constexpr int PAD = Geo::CH - Geo::GCH;
    if constexpr (PAD > 0) {
      for (int c = threadIdx.x; c < 2 * NK * PAD; c += THREADS) {
        const int row = c / PAD % NK, buf = c / (PAD * NK),
                  ch = Geo::GCH + c % PAD;
        *reinterpret_cast<uint4 *>(
            latentSmem + 16 * (Geo::Q_CHUNKS + buf * Geo::K_CHUNKS +
                               Geo::at(row, ch))) = make_uint4(0u, 0u, 0u, 0u);
      }
    }
  }

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int wm = warp >> 1, wn = warp & 1;  // head tile, key half / column half
  const int gq = lane >> 2, tq = lane & 3;  // fragment row group, column pair
  const int r0 = 16 * wm + gq, r1 = r0 + 8; // the two head rows of this thread
  const float c2 = args.scale * 1.4426950408889634f; // log2 domain

  // O[16 heads, R/2 columns]: n-tile nt = columns wn*R/2 + 8nt..
  float o[NTO][4];
  ops::zeroTiles(o);
  // Rows r0, r1: running max (log2 domain), this thread's part of the sums.
  float m0 = negInf(), m1 = negInf(), l0 = 0.0f, l1 = 0.0f;

  for (int tile = tileBegin; tile < tileEnd; ++tile) {
    const int buf = (tile - tileBegin) & 1;
    ops::cpAsyncWait<0>();
    __syncthreads(); // (A) tile visible; everyone is done with the other buffer
                     // and P
    if (tile + 1 < tileEnd)
      loadTile(tile + 1, buf ^ 1);
    const unsigned kb = sK + 16 * buf * Geo::K_CHUNKS;

    // S[16 heads, 32 keys] = Q K^T: 4 n-tiles of 8 keys, k = R + DR (padded).
    float s[4][4];
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        s[nt][e] = 0.0f;
#pragma unroll 4
    for (int ks = 0; ks < KS; ++ks) {
      unsigned a[4]; // rows 16wm + lane%16, k chunk 2ks + lane/16
      ops::ldsm4(sQ + 16 * Geo::at(16 * wm + (lane & 15), 2 * ks + (lane >> 4)),
                 a);
#pragma unroll
      for (int np = 0; np < 2; ++np) {
        // Matrices: (keys +0..7, k lo), (keys +0..7, k hi), (keys +8..15, k
        // lo), (keys +8..15, k hi) = b0, b1 of n-tile 2np and of n-tile 2np+1.
        unsigned b[4];
        const int key = 32 * wn + 16 * np + (lane & 7) + ((lane >> 4) << 3);
        ops::ldsm4(kb + 16 * Geo::at(key, 2 * ks + ((lane >> 3) & 1)), b);
        ops::mmaBf16(s[2 * np], a, b[0], b[1]);
        ops::mmaBf16(s[2 * np + 1], a, b[2], b[3]);
      }
    }

    // Scale, mask keys >= keyEnd, row max over the 32 keys of this warp.
    const int key0 = tile * NK + 32 * wn;
    float mx0 = negInf(), mx1 = negInf();
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const bool valid = key0 + 8 * nt + 2 * tq + e < keyEnd;
        s[nt][e] = valid ? s[nt][e] * c2 : negInf();         // row r0
        s[nt][2 + e] = valid ? s[nt][2 + e] * c2 : negInf(); // row r1
        mx0 = fmaxf(mx0, s[nt][e]);
        mx1 = fmaxf(mx1, s[nt][2 + e]);
      }
    ops::quadRowMax(mx0, mx1); // the 4 threads of a row group
    if (tq == 0) {
      red[wn * HB + r0] = mx0;
      red[wn * HB + r1] = mx1;
    }
    __syncthreads(); // (B) both key halves' maxima visible
    // Every tile holds at least one visible key, so the new max is finite.
    ops::onlineSoftmaxTile(s, o, fmaxf(m0, fmaxf(red[r0], red[HB + r0])),
                           fmaxf(m1, fmaxf(red[r1], red[HB + r1])), m0, m1, l0,
                           l1);
    // P (bf16) of keys 32wn + 8nt + 2tq, +1 to P[r][key] (key chunk 4wn + nt).
#pragma unroll
    for (int nt = 0; nt < 4; ++nt) {
      const int ch = 4 * wn + nt;
      *reinterpret_cast<unsigned *>(
          latentSmem +
          16 * (Geo::Q_CHUNKS + 2 * Geo::K_CHUNKS + Geo::atP(r0, ch)) +
          4 * tq) = ops::packBf16(s[nt][0], s[nt][1]);
      *reinterpret_cast<unsigned *>(
          latentSmem +
          16 * (Geo::Q_CHUNKS + 2 * Geo::K_CHUNKS + Geo::atP(r1, ch)) +
          4 * tq) = ops::packBf16(s[nt][2], s[nt][3]);
    }
    __syncthreads(); // (C) P of all 64 keys visible

    // O[16 heads, R/2 cols] += P[16, 64 keys] V[64 keys, R/2 cols].
#pragma unroll
    for (int kk = 0; kk < NK / 16; ++kk) {
      unsigned a[4]; // P rows 16wm + lane%16, key chunk 2kk + lane/16
      {
        const int row = 16 * wm + (lane & 15);
        ops::ldsm4(sP + 16 * Geo::atP(row, 2 * kk + (lane >> 4)), a);
      }
      // Transposed matrices: (keys +0..7, cols lo), (keys +8..15, cols lo),
      // (keys +0..7, cols hi), (keys +8..15, cols hi) = b0, b1 of n-tile 2np
      // and of n-tile 2np+1.
      const int key = 16 * kk + (lane & 7) + (((lane >> 3) & 1) << 3);
      ops::mmaPV(o, a, [&](int np) {
        return kb + 16 * Geo::at(key, wn * (R / 16) + 2 * np + (lane >> 4));
      });
    }
  }

  // Row sums: the 4 threads of a row group, then the two key halves. red was
  // last read before barrier (C) of the last tile.
  ops::quadRowSums(l0, l1);
  if (tq == 0) {
    red[wn * HB + r0] = l0;
    red[wn * HB + r1] = l1;
  }
  __syncthreads();
  const float L0 = red[r0] + red[HB + r0], L1 = red[r1] + red[HB + r1];
  const int h0 = g * HB + r0, h1 = g * HB + r1;
  const int colBase = wn * (R / 2) + 2 * tq; // + 8nt: columns of o[nt][0..1]
  if (splits == 1) {
    const float i0 = 1.0f / L0, i1 = 1.0f / L1;
#pragma unroll
    for (int nt = 0; nt < NTO; ++nt) {
      const long long col = colBase + 8 * nt;
      if (h0 < H) {
        storeF<TO>(args.out, t, static_cast<long long>(h0) * R + col,
                   o[nt][0] * i0);
        storeF<TO>(args.out, t, static_cast<long long>(h0) * R + col + 1,
                   o[nt][1] * i0);
      }
      if (h1 < H) {
        storeF<TO>(args.out, t, static_cast<long long>(h1) * R + col,
                   o[nt][2] * i1);
        storeF<TO>(args.out, t, static_cast<long long>(h1) * R + col + 1,
                   o[nt][3] * i1);
      }
    }
  } else {
    float *records = args.workspace + (T + 3) / 4 * 4;
    float *rec0 =
        records + ((static_cast<long long>(split) * T + t) * Hp + h0) * (R + 4);
    float *rec1 = rec0 + 8 * (R + 4); // head h1 = h0 + 8
#pragma unroll
    for (int nt = 0; nt < NTO; ++nt) {
      const int col = colBase + 8 * nt;
      if (h0 < H)
        *reinterpret_cast<float2 *>(rec0 + col) =
            make_float2(o[nt][0], o[nt][1]);
      if (h1 < H)
        *reinterpret_cast<float2 *>(rec1 + col) =
            make_float2(o[nt][2], o[nt][3]);
    }
    if (wn == 0 && tq == 0) {
      if (h0 < H)
        *reinterpret_cast<float2 *>(rec0 + R) = make_float2(m0, L0);
      if (h1 < H)
        *reinterpret_cast<float2 *>(rec1 + R) = make_float2(m1, L1);
    }
  }
}

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_LATENTATTENTION_CUH
