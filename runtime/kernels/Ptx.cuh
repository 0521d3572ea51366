//===- Ptx.cuh - The PTX instructions the device templates use ------------===//
//
// One wrapper per instruction (or exact instruction sequence), shared by the
// mma.sync engine (MatmulCommon.cuh), the warpgroup engine (WgmmaCommon.cuh)
// and the attention kernels (OpsCommon.cuh). Compiled by NVRTC/nvcc, and by
// g++ for the CPU emulation of test/emu: with MOELA_KERNEL_EMULATION every
// wrapper calls test/emu/PtxEmu.h instead of its inline assembly.
//
// Fragment layouts are those of the PTX ISA ("Matrix fragments for
// mma.m16n8k16 with floating point type"): with g = lane / 4, q = lane % 4,
//   A (16x16, row-major): a0 = (g, 2q..2q+1), a1 = (g+8, 2q..), a2 = (g,
//     2q+8..), a3 = (g+8, 2q+8..);
//   B (16x8, "col": k runs along a register): b0 = (k 2q..2q+1, n g),
//     b1 = (k 2q+8.., n g);
//   C (16x8 f32): c0,c1 = (g, 2q..2q+1), c2,c3 = (g+8, 2q..2q+1).
// ldmatrix.x4 gives each thread one 32-bit register per 8x8 matrix: the pair
// (row lane/4, cols 2q, 2q+1) of the matrix whose 8 row addresses lanes
// 8i..8i+7 supplied; with .trans the pair (rows 2q, 2q+1, col lane/4).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_PTX_CUH
#define MOELA_KERNELS_PTX_CUH

#include "Common.cuh"
#if defined(MOELA_KERNEL_EMULATION)
#include "PtxEmu.h"
#endif

namespace moela {
namespace kernels {
namespace ptx {

__device__ __forceinline__ unsigned smemU32(const void *p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// 16 bytes global -> shared, asynchronously; zero-filled when !ok (then no
/// byte of `src` is read, but it must still be a valid global address).
__device__ __forceinline__ void cpAsync16(unsigned dst, const void *src, bool ok) {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::cp_async_shared_global(true, dst, src, 16, ok ? 16 : 0);
#else
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(ok ? 16 : 0)
               : "memory");
#endif
}

__device__ __forceinline__ void cpAsync4(unsigned dst, const void *src, bool ok) {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::cp_async_shared_global(false, dst, src, 4, ok ? 4 : 0);
#else
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
               "r"(ok ? 4 : 0)
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

/// Waits until at most N of this thread's committed groups are pending.
template <int N> __device__ __forceinline__ void cpAsyncWait() {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::cp_async_wait_group(N);
#else
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

__device__ __forceinline__ void ldsm4(unsigned addr, unsigned (&r)[4]) {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::ldmatrix_m8n8_shared_b16(r, 4, false, addr);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
#endif
}

__device__ __forceinline__ void ldsm4t(unsigned addr, unsigned (&r)[4]) {
#if defined(MOELA_KERNEL_EMULATION)
  emu::ptx::ldmatrix_m8n8_shared_b16(r, 4, true, addr);
#else
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
#endif
}

/// d += a (16x16 bf16, row) * b (16x8 bf16, col), fp32 accumulators.
__device__ __forceinline__ void mmaBf16(float (&d)[4], const unsigned (&a)[4], unsigned b0,
                                        unsigned b1) {
#if defined(MOELA_KERNEL_EMULATION)
  const unsigned b[2] = {b0, b1};
  emu::ptx::mma_m16n8k16_row_col_f32_bf16_bf16_f32(d, a, b, d);
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/// d += a (16x16 f16, row) * b (16x8 f16, col), fp32 accumulators.
__device__ __forceinline__ void mmaF16(float (&d)[4], const unsigned (&a)[4], unsigned b0,
                                       unsigned b1) {
#if defined(MOELA_KERNEL_EMULATION)
  const unsigned b[2] = {b0, b1};
  emu::ptx::mma_m16n8k16_row_col_f32_f16_f16_f32(d, a, b, d);
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

/// Two e4m3 (low byte = first) -> two f16 (low half = first), exactly.
__device__ __forceinline__ unsigned e4m3x2ToF16x2(unsigned short v) {
  unsigned out;
#if defined(MOELA_KERNEL_EMULATION)
  out = emu::ptx::cvt_rn_f16x2_e4m3x2(v);
#else
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(out) : "h"(v));
#endif
  return out;
}

/// Two e4m3 (low byte = first) -> two bf16 (low half = first), exactly:
/// e4m3 -> f16 is exact (hardware cvt), f16 -> f32 exact, and every e4m3
/// value is a bf16 value, so the final rounding is exact too.
__device__ __forceinline__ unsigned e4m3x2ToBf16x2(unsigned short v) {
  unsigned out;
#if defined(MOELA_KERNEL_EMULATION)
  { // the same instructions, one by one
    const unsigned h2 = emu::ptx::cvt_rn_f16x2_e4m3x2(v);
    const unsigned short lo = static_cast<unsigned short>(h2 & 0xffffu), // mov.b32 {lo, hi}
        hi = static_cast<unsigned short>(h2 >> 16);
    const float flo = emu::ptx::cvt_f32_f16(lo), fhi = emu::ptx::cvt_f32_f16(hi);
    out = emu::ptx::cvt_rn_bf16x2_f32(fhi, flo);
  }
#else
  asm("{\n"
      " .reg .b32 h2;\n"
      " .reg .b16 lo, hi;\n"
      " .reg .f32 flo, fhi;\n"
      " cvt.rn.f16x2.e4m3x2 h2, %1;\n"
      " mov.b32 {lo, hi}, h2;\n"
      " cvt.f32.f16 flo, lo;\n"
      " cvt.f32.f16 fhi, hi;\n"
      " cvt.rn.bf16x2.f32 %0, fhi, flo;\n" // upper half from the first operand
      "}\n"
      : "=r"(out)
      : "h"(v));
#endif
  return out;
}

/// Two f32 -> two bf16 (round to nearest even), `lo` in the low half.
__device__ __forceinline__ unsigned f32x2ToBf16x2(float lo, float hi) {
  unsigned out;
#if defined(MOELA_KERNEL_EMULATION)
  out = emu::ptx::cvt_rn_bf16x2_f32(hi, lo);
#else
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(out) : "f"(hi), "f"(lo));
#endif
  return out;
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

} // namespace ptx
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_PTX_CUH
