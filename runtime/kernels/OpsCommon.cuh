//===- OpsCommon.cuh - Private helpers of the non-GEMM kernel families ----===//
//
// Included by the .cuh files of the element-wise, norm, rope, MLA and MoE
// families (not by the emitter directly). Device code only.
//
//  - PTX wrappers for the tensor-core path of LatentAttention: ldmatrix,
//    mma.sync m16n8k16 bf16 -> f32, cp.async with zero fill (built with
//    MOELA_KERNEL_EMULATION, they call the CPU emulation test/emu/PtxEmu.h
//    instead of their inline assembly). Fragment layouts are those of the
//    PTX ISA ("Matrix fragments for mma.m16n8k16 with floating point
//    type"): with g = lane / 4 and q = lane % 4,
//      A (16x16, row-major): a0 = (g, 2q..2q+1), a1 = (g+8, 2q..), a2 = (g,
//        2q+8..), a3 = (g+8, 2q+8..);
//      B (16x8, "col": k runs along a register): b0 = (k 2q..2q+1, n g),
//        b1 = (k 2q+8.., n g);
//      C (16x8 f32): c0,c1 = (g, 2q..2q+1), c2,c3 = (g+8, 2q..2q+1).
//    ldmatrix.x4 gives each thread one 32-bit register per 8x8 matrix: the
//    pair (row lane/4, cols 2q, 2q+1) of the matrix whose 8 row addresses
//    lanes 8i..8i+7 supplied; with .trans the pair (rows 2q, 2q+1, col lane/4).
//  - RoPE angles computed like the host reference (fp32 angle, accurate
//    cos/sin), FP8 scale rounding (spec 3.4), and an argmax comparator with
//    the "lowest index wins ties, NaN never wins" rule.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_OPSCOMMON_CUH
#define MOELA_KERNELS_OPSCOMMON_CUH

#include "Common.cuh"
#if defined(MOELA_KERNEL_EMULATION)
#include "PtxEmu.h"
#endif

namespace moela {
namespace kernels {
namespace ops {

// ---- Shared memory and tensor cores (sm_80+) -----------------------------------

__device__ __forceinline__ unsigned smemAddr(const void *p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// Four 8x8 b16 matrices; lanes 8i..8i+7 give the 8 row addresses (16 bytes
/// each) of matrix i, which lands in r[i].
__device__ __forceinline__ void ldsmX4(unsigned r[4], unsigned addr) {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::ldmatrix_m8n8_shared_b16(r, 4, false, addr);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
#endif
}

/// As ldsmX4, each matrix transposed on the way.
__device__ __forceinline__ void ldsmX4T(unsigned r[4], unsigned addr) {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::ldmatrix_m8n8_shared_b16(r, 4, true, addr);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
#endif
}

/// c += A (16x16 bf16) * B (16x8 bf16), f32 accumulators.
__device__ __forceinline__ void mmaBf16(float c[4], const unsigned a[4], unsigned b0,
                                       unsigned b1) {
#if defined(MOELA_KERNEL_EMULATION)
  const unsigned b[2] = {b0, b1};
  emu::ptx::mma_m16n8k16_row_col_f32_bf16_bf16_f32(c, a, b, c);
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/// Copies 16 bytes global -> shared asynchronously (L2 only); with !valid the
/// 16 shared bytes are zero-filled and nothing is read (src must still be a
/// mapped address: callers pass a valid row).
__device__ __forceinline__ void cpAsync16(unsigned dst, const void *src, bool valid) {
  const int bytes = valid ? 16 : 0;
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::cp_async_shared_global(true, dst, src, 16, bytes);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(bytes)
               : "memory");
#endif
}

__device__ __forceinline__ void cpAsyncCommit() {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::cp_async_commit_group();
#else
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

__device__ __forceinline__ void cpAsyncWaitAll() {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::cp_async_wait_group(0);
#else
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#endif
}

/// The dynamic shared memory of this launch, in bytes.
__device__ __forceinline__ unsigned dynamicSmemBytes() {
  unsigned v;
#if defined(MOELA_KERNEL_EMULATION)
  v = emu::ptx::dynamic_smem_size();
#else
  asm("mov.u32 %0, %%dynamic_smem_size;" : "=r"(v));
#endif
  return v;
}

/// Two floats as bf16x2 (round to nearest even); `lo` in the low half, i.e.
/// at the lower address / lower column.
__device__ __forceinline__ unsigned packBf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<unsigned *>(&v);
}

// ---- RoPE ------------------------------------------------------------------------

/// cos and sin of pair i at `position`, as the host (runtime/host/RopeStep.cpp):
/// angle = float(position) * inv_freq[i] rounded to fp32, then cos/sin of that
/// fp32 angle computed accurately (in double: --use_fast_math would make
/// sinf/cosf the approximate __sinf/__cosf, wrong for large angles), rounded to
/// fp32 and scaled by `magnitude`.
__device__ __forceinline__ void ropeCosSin(int position, float invFreq, float magnitude,
                                           float &c, float &s) {
  const float angle = __fmul_rn(static_cast<float>(position), invFreq);
  double sd, cd;
  sincos(static_cast<double>(angle), &sd, &cd);
  c = __fmul_rn(static_cast<float>(cd), magnitude);
  s = __fmul_rn(static_cast<float>(sd), magnitude);
}

/// Rotates one interleaved pair: (a, b) -> (a c - b s, a s + b c), fp32.
__device__ __forceinline__ void ropeRotate(float a, float b, float c, float s, float &ya,
                                          float &yb) {
  ya = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
  yb = __fadd_rn(__fmul_rn(a, s), __fmul_rn(b, c));
}

// ---- FP8 activation scales (spec 3.4) -------------------------------------------

/// s = max(amax, 1e-4) / 448; with ue8m0, s = 2^ceil(log2 s) computed exactly on
/// the bits (s is a positive normal float here).
__device__ __forceinline__ float fp8Scale(float amax, bool ue8m0) {
  float s = __fdiv_rn(fmaxf(amax, 1e-4f), 448.0f);
  if (ue8m0) {
    const unsigned bits = __float_as_uint(s);
    if (bits & 0x007fffffu) // not a power of two: next power of two up
      s = __uint_as_float((bits & 0x7f800000u) + 0x00800000u);
  }
  return s;
}

// ---- Arg-max with the spec's tie rule --------------------------------------------

/// Candidate (value, index); index < 0 = none. `better` prefers a candidate
/// to none, then the larger value, then the lower index. Callers never
/// offer NaN values (they skip them), so NaN never wins.
struct ArgBest {
  float value;
  int index;
};

__device__ __forceinline__ bool better(float va, int ia, float vb, int ib) {
  if (ia < 0)
    return false;
  if (ib < 0)
    return true;
  return va > vb || (va == vb && ia < ib);
}

__device__ __forceinline__ ArgBest warpArgBest(ArgBest b) {
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, b.value, o);
    const int i = __shfl_xor_sync(0xffffffffu, b.index, o);
    if (better(v, i, b.value, b.index)) {
      b.value = v;
      b.index = i;
    }
  }
  return b;
}

/// NaN test on the bits (independent of fast-math assumptions).
__device__ __forceinline__ bool isNan(float v) {
  return (__float_as_uint(v) & 0x7fffffffu) > 0x7f800000u;
}

} // namespace ops
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_OPSCOMMON_CUH
