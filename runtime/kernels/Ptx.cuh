//===- Ptx.cuh - The PTX instructions the device templates use ------------===//
//
// One wrapper per instruction (or exact instruction sequence), shared by the
// mma.sync engine (MatmulCommon.cuh), the warpgroup engine (WgmmaCommon.cuh)
// and the attention kernels (OpsCommon.cuh). Compiled by NVRTC/nvcc, and by
// g++ for the CPU emulation of test/emu: with MOELA_KERNEL_EMULATION every
// wrapper calls test/emu/PtxEmu.h (PtxAsyncEmu.h) instead of its inline
// assembly. Each wrapper names both in one MOELA_PTX line: the emulation hook
// (named after the instruction) first, then the asm operands.
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
// The wgmma accumulators: WgmmaCommon.cuh.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_PTX_CUH
#define MOELA_KERNELS_PTX_CUH

#include "Common.cuh"
#if defined(MOELA_KERNEL_EMULATION)
#include "PtxAsyncEmu.h"
#include "PtxEmu.h"
#include <array>
#endif

// MOELA_PTX(hook, asm...): the emulation hook, or `asm volatile(asm...)`.
// MOELA_PTX_PURE: the same with a plain `asm` (no side effects: the compiler
// may move or drop it). MOELA_PTX_MEMORY(hook, text): an instruction without
// operands that orders memory (a "memory" clobber). The hook must have no
// top-level comma.
#if defined(MOELA_KERNEL_EMULATION)
#define MOELA_PTX(HOOK, ...) HOOK
#define MOELA_PTX_PURE(HOOK, ...) HOOK
#define MOELA_PTX_MEMORY(HOOK, TEXT) HOOK
#else
#define MOELA_PTX(HOOK, ...) asm volatile(__VA_ARGS__)
#define MOELA_PTX_PURE(HOOK, ...) asm(__VA_ARGS__)
#define MOELA_PTX_MEMORY(HOOK, TEXT) asm volatile(TEXT ::: "memory")
#endif

namespace moela {
namespace kernels {
namespace ptx {

__device__ __forceinline__ unsigned smemU32(const void *p) {
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

/// The dynamic shared memory of this launch, in bytes.
__device__ __forceinline__ unsigned dynamicSmemBytes() {
  unsigned v;
  MOELA_PTX_PURE(v = emu::ptx::dynamic_smem_size(),
                 "mov.u32 %0, %%dynamic_smem_size;" : "=r"(v));
  return v;
}

// ---- cp.async ---------------------------------------------------------------

// SIZE bytes global -> shared, asynchronously; zero-filled when !ok (then no
// byte of `src` is read, but it must still be a valid global address).
// CACHE: cg (CG true: L2 only, 16 bytes) or ca.
#define MOELA_PTX_CP_ASYNC(CACHE, CG, SIZE)                                    \
  MOELA_PTX(                                                                   \
      emu::ptx::cp_async_shared_global(CG, dst, src, SIZE, ok ? SIZE : 0),     \
      "cp.async." #CACHE ".shared.global [%0], [%1], " #SIZE                   \
      ", %2;\n" : : "r"(dst),                                                  \
      "l"(src), "r"(ok ? SIZE : 0) : "memory")

__device__ __forceinline__ void cpAsync16(unsigned dst, const void *src,
                                          bool ok) {
  MOELA_PTX_CP_ASYNC(cg, true, 16);
}

__device__ __forceinline__ void cpAsync4(unsigned dst, const void *src,
                                         bool ok) {
  MOELA_PTX_CP_ASYNC(ca, false, 4);
}

#undef MOELA_PTX_CP_ASYNC

__device__ __forceinline__ void cpAsyncCommit() {
  MOELA_PTX_MEMORY(emu::ptx::cp_async_commit_group(),
                   "cp.async.commit_group;\n");
}

/// Waits until at most N of this thread's committed groups are pending.
template <int N> __device__ __forceinline__ void cpAsyncWait() {
  MOELA_PTX(emu::ptx::cp_async_wait_group(N),
            "cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ---- Shared memory through registers ----------------------------------------

// ldmatrix.x4: four 8x8 b16 matrices, transposed when TRANS (SUFFIX .trans).
#define MOELA_PTX_LDMATRIX_X4(TRANS, SUFFIX)                                   \
  MOELA_PTX(emu::ptx::ldmatrix_m8n8_shared_b16(r, 4, TRANS, addr),             \
            "ldmatrix.sync.aligned.m8n8.x4" SUFFIX                             \
            ".shared.b16 {%0, %1, %2, %3}, [%4];\n" : "=r"(r[0]),              \
            "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr))

__device__ __forceinline__ void ldsm4(unsigned addr, unsigned (&r)[4]) {
  MOELA_PTX_LDMATRIX_X4(false, "");
}

__device__ __forceinline__ void ldsm4t(unsigned addr, unsigned (&r)[4]) {
  MOELA_PTX_LDMATRIX_X4(true, ".trans");
}

#undef MOELA_PTX_LDMATRIX_X4

__device__ __forceinline__ uint4 lds128(unsigned addr) {
  uint4 v;
  MOELA_PTX(v = emu::ptx::ld_shared_v4_u32(addr),
            "ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\n" : "=r"(v.x), "=r"(v.y),
            "=r"(v.z), "=r"(v.w) : "r"(addr) : "memory");
  return v;
}

__device__ __forceinline__ void sts128(unsigned addr, uint4 v) {
  MOELA_PTX(emu::ptx::st_shared_v4_u32(addr, v),
            "st.shared.v4.u32 [%0], {%1, %2, %3, %4};\n" ::"r"(addr), "r"(v.x),
            "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
}

__device__ __forceinline__ void sts64(unsigned addr, unsigned x, unsigned y) {
  MOELA_PTX(emu::ptx::st_shared_v2_u32(addr, x, y),
            "st.shared.v2.u32 [%0], {%1, %2};\n" ::"r"(addr), "r"(x),
            "r"(y) : "memory");
}

// ---- mma.sync ---------------------------------------------------------------

// d += a (16x16, row) * b (16x8, col), fp32 accumulators; T: bf16 or f16.
#define MOELA_PTX_MMA_M16N8K16(T)                                              \
  MOELA_PTX(emu::ptx::mma_m16n8k16_row_col_f32_##T##_##T##_f32(                \
                d, a, std::array<unsigned, 2>{b0, b1}.data(), d),              \
            "mma.sync.aligned.m16n8k16.row.col.f32." #T "." #T ".f32 "         \
            "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, "      \
            "%3};\n" : "+f"(d[0]),                                             \
            "+f"(d[1]), "+f"(d[2]), "+f"(d[3]) : "r"(a[0]), "r"(a[1]),         \
            "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1))

__device__ __forceinline__ void mmaBf16(float (&d)[4], const unsigned (&a)[4],
                                        unsigned b0, unsigned b1) {
  MOELA_PTX_MMA_M16N8K16(bf16);
}

__device__ __forceinline__ void mmaF16(float (&d)[4], const unsigned (&a)[4],
                                       unsigned b0, unsigned b1) {
  MOELA_PTX_MMA_M16N8K16(f16);
}

#undef MOELA_PTX_MMA_M16N8K16

// ---- Conversions ------------------------------------------------------------

/// Two e4m3 (low byte = first) -> two f16 (low half = first), exactly.
__device__ __forceinline__ unsigned e4m3x2ToF16x2(unsigned short v) {
  unsigned out;
  MOELA_PTX_PURE(out = emu::ptx::cvt_rn_f16x2_e4m3x2(v),
                 "cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(out) : "h"(v));
  return out;
}

#if defined(MOELA_KERNEL_EMULATION)
/// The instructions of e4m3x2ToBf16x2's sequence, one by one.
inline unsigned emuE4m3x2ToBf16x2(unsigned short v) {
  const unsigned h2 = emu::ptx::cvt_rn_f16x2_e4m3x2(v);
  const float lo = emu::ptx::cvt_f32_f16(static_cast<unsigned short>(h2));
  const float hi = emu::ptx::cvt_f32_f16(static_cast<unsigned short>(h2 >> 16));
  return emu::ptx::cvt_rn_bf16x2_f32(hi, lo);
}
#endif

/// Two e4m3 (low byte = first) -> two bf16 (low half = first), exactly:
/// e4m3 -> f16 is exact (hardware cvt), f16 -> f32 exact, and every e4m3
/// value is a bf16 value, so the final rounding is exact too.
__device__ __forceinline__ unsigned e4m3x2ToBf16x2(unsigned short v) {
  unsigned out;
  MOELA_PTX_PURE(out = emuE4m3x2ToBf16x2(v),
                 "{\n"
                 " .reg .b32 h2;\n"
                 " .reg .b16 lo, hi;\n"
                 " .reg .f32 flo, fhi;\n"
                 " cvt.rn.f16x2.e4m3x2 h2, %1;\n"
                 " mov.b32 {lo, hi}, h2;\n"
                 " cvt.f32.f16 flo, lo;\n"
                 " cvt.f32.f16 fhi, hi;\n"
                 " cvt.rn.bf16x2.f32 %0, fhi, flo;\n" // upper half: 1st operand
                 "}\n" : "=r"(out) : "h"(v));
  return out;
}

/// Two f32 -> two bf16 (round to nearest even), `lo` in the low half.
__device__ __forceinline__ unsigned f32x2ToBf16x2(float lo, float hi) {
  unsigned out;
  MOELA_PTX_PURE(out = emu::ptx::cvt_rn_bf16x2_f32(hi, lo),
                 "cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(out) : "f"(hi),
                 "f"(lo));
  return out;
}

// ---- mbarrier and the async proxy -------------------------------------------

__device__ __forceinline__ void mbarInit(unsigned bar, unsigned count) {
  MOELA_PTX(emu::ptx::mbarrier_init_shared_b64(bar, count),
            "mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar),
            "r"(count) : "memory");
}

/// Arrives on the barrier (release semantics, CTA scope).
__device__ __forceinline__ void mbarArrive(unsigned bar) {
  MOELA_PTX(emu::ptx::mbarrier_arrive_shared_b64(bar),
            "{\n"
            " .reg .b64 state;\n"
            " mbarrier.arrive.shared::cta.b64 state, [%0];\n"
            "}\n" ::"r"(bar) : "memory");
}

/// Whether the phase of parity `parity` has completed (acquire semantics).
__device__ __forceinline__ bool mbarTryWait(unsigned bar, unsigned parity) {
  unsigned done;
  MOELA_PTX(done = emu::ptx::mbarrier_try_wait_parity_shared_b64(bar, parity),
            "{\n"
            " .reg .pred p;\n"
            " mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
            " selp.u32 %0, 1, 0, p;\n"
            "}\n" : "=r"(done) : "r"(bar),
            "r"(parity) : "memory");
  return done != 0;
}

__device__ __forceinline__ void mbarWait(unsigned bar, unsigned parity) {
  while (!mbarTryWait(bar, parity)) {
  }
}

/// Orders this thread's generic-proxy shared-memory writes (st.shared,
/// cp.async) before later async-proxy reads (wgmma operands).
__device__ __forceinline__ void fenceProxyAsync() {
  MOELA_PTX_MEMORY(emu::ptx::fence_proxy_async_shared_cta(),
                   "fence.proxy.async.shared::cta;\n");
}

// ---- wgmma ------------------------------------------------------------------

__device__ __forceinline__ void wgmmaFence() {
  MOELA_PTX_MEMORY(emu::ptx::wgmma_fence_sync_aligned(),
                   "wgmma.fence.sync.aligned;\n");
}

__device__ __forceinline__ void wgmmaCommit() {
  MOELA_PTX_MEMORY(emu::ptx::wgmma_commit_group_sync_aligned(),
                   "wgmma.commit_group.sync.aligned;\n");
}

/// Waits until at most N of the warpgroup's committed wgmma groups are pending.
template <int N> __device__ __forceinline__ void wgmmaWait() {
  MOELA_PTX(emu::ptx::wgmma_wait_group_sync_aligned(N),
            "wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

/// Compiler fence on accumulator registers: reads after it see the values
/// the asynchronous wgmmas wrote (used right after wgmmaWait). Emulated
/// wgmmas write d at the wait_group through the array's address, which g++
/// sees escape: nothing to do.
template <int R> __device__ __forceinline__ void fenceRegs(float (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i)
    MOELA_PTX((void)d[i], "" : "+f"(d[i])::"memory");
}

// wgmma.mma_async, both operands K-major from shared-memory descriptors:
//   wgmmaBf16<N>: d (+)= A B^T, m64nNk16.f32.bf16.bf16
//   wgmmaE4m3<N>: d (+)= A B^T, m64nNk32.f32.e4m3.e4m3
// d: the N / 2 fp32 accumulators of the thread; scaleD = 0: d = A B^T (d's
// old values ignored). One specialisation per N, expanded from the table at
// the end: the accumulator operands d[0..R) (MOELA_WGMMA_D<R>) and their
// placeholders "%0, ..., %<R-1>" (MOELA_WGMMA_P<R>).

template <int N>
__device__ __forceinline__ void wgmmaBf16(float (&d)[N / 2],
                                          unsigned long long a,
                                          unsigned long long b, int scaleD);
template <int N>
__device__ __forceinline__ void wgmmaE4m3(float (&d)[N / 2],
                                          unsigned long long a,
                                          unsigned long long b, int scaleD);

#define MOELA_WGMMA_D8(i)                                                      \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]),  \
      "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define MOELA_WGMMA_D16(i) MOELA_WGMMA_D8(i), MOELA_WGMMA_D8(i + 8)
#define MOELA_WGMMA_D32(i) MOELA_WGMMA_D16(i), MOELA_WGMMA_D16(i + 16)
#define MOELA_WGMMA_D64(i) MOELA_WGMMA_D32(i), MOELA_WGMMA_D32(i + 32)
#define MOELA_WGMMA_D128(i) MOELA_WGMMA_D64(i), MOELA_WGMMA_D64(i + 64)

#define MOELA_WGMMA_P16                                                        \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15"
#define MOELA_WGMMA_P32                                                        \
  MOELA_WGMMA_P16 ", %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, "  \
                  "%27, %28, %29, %30, %31"
#define MOELA_WGMMA_P64                                                        \
  MOELA_WGMMA_P32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, "  \
                  "%43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, "    \
                  "%54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define MOELA_WGMMA_P128                                                       \
  MOELA_WGMMA_P64 ", %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, "  \
                  "%75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, "    \
                  "%86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, "    \
                  "%97, %98, %99, %100, %101, %102, %103, %104, %105, %106, "  \
                  "%107, %108, %109, %110, %111, %112, %113, %114, %115, "     \
                  "%116, %117, %118, %119, %120, %121, %122, %123, %124, "     \
                  "%125, %126, %127"

// One N: R = N / 2 accumulators, then the operand numbers of a, b, scaleD.
#define MOELA_WGMMA_N(N, R, A, B, SCALE_D)                                     \
  template <>                                                                  \
  __device__ __forceinline__ void wgmmaBf16<N>(                                \
      float(&d)[R], unsigned long long a, unsigned long long b, int scaleD) {  \
    MOELA_PTX(emu::ptx::wgmma_mma_async_m64nNk16_f32_bf16_bf16(                \
                  N, d, a, b, scaleD, 1, 1, 0, 0),                             \
              "{\n.reg .pred p;\nsetp.ne.b32 p, %" #SCALE_D ", 0;\n"           \
              "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32.bf16.bf16 "      \
              "{" MOELA_WGMMA_P##R                                             \
              "}, %" #A ", %" #B                                               \
              ", p, 1, 1, 0, 0;\n}\n" : MOELA_WGMMA_D##R(0) : "l"(a),          \
              "l"(b), "r"(scaleD));                                            \
  }                                                                            \
  template <>                                                                  \
  __device__ __forceinline__ void wgmmaE4m3<N>(                                \
      float(&d)[R], unsigned long long a, unsigned long long b, int scaleD) {  \
    MOELA_PTX(emu::ptx::wgmma_mma_async_m64nNk32_f32_e4m3_e4m3(N, d, a, b,     \
                                                               scaleD, 1, 1),  \
              "{\n.reg .pred p;\nsetp.ne.b32 p, %" #SCALE_D ", 0;\n"           \
              "wgmma.mma_async.sync.aligned.m64n" #N "k32.f32.e4m3.e4m3 "      \
              "{" MOELA_WGMMA_P##R                                             \
              "}, %" #A ", %" #B                                               \
              ", p, 1, 1;\n}\n" : MOELA_WGMMA_D##R(0) : "l"(a),                \
              "l"(b), "r"(scaleD));                                            \
  }

MOELA_WGMMA_N(32, 16, 16, 17, 18)
MOELA_WGMMA_N(64, 32, 32, 33, 34)
MOELA_WGMMA_N(128, 64, 64, 65, 66)
MOELA_WGMMA_N(256, 128, 128, 129, 130)

#undef MOELA_WGMMA_N
#undef MOELA_WGMMA_P128
#undef MOELA_WGMMA_P64
#undef MOELA_WGMMA_P32
#undef MOELA_WGMMA_P16
#undef MOELA_WGMMA_D128
#undef MOELA_WGMMA_D64
#undef MOELA_WGMMA_D32
#undef MOELA_WGMMA_D16
#undef MOELA_WGMMA_D8

} // namespace ptx
} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_PTX_CUH
