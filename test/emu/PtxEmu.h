//===- PtxEmu.h - The PTX instructions of the kernels, on the CPU ---------===//
//
// What the inline-PTX wrappers of runtime/kernels (Ptx.cuh) call when
// MOELA_KERNEL_EMULATION is defined: one function per PTX
// instruction form, named after it, with the semantics of the PTX ISA (not of
// the kernels' comments), so that the kernel tests check the kernels'
// fragment indexing and shared-memory layouts independently. Runs inside
// emu::launch (CudaEmu.h).
//
//  - ldmatrix.sync.aligned.m8n8.{x1,x2,x4}{.trans}.shared.b16: lanes 8i..8i+7
//    give the row addresses (16 bytes, 16-byte aligned) of matrix i; lane l
//    gets in register i the 32-bit word l % 4 of row l / 4 of matrix i (two
//    b16, the lower address in the low half); with .trans, elements (row
//    2 (l % 4), column l / 4) and (row 2 (l % 4) + 1, column l / 4).
//  - mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{bf16,f16}.f32 d, a, b,
//    c: with g = lane / 4, t = lane % 4 and element pairs (low half first),
//      a: {A[g][2t..], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]}
//      b: {B[2t..2t+1][g], B[2t+8..2t+9][g]} (B is K x N)
//      c, d: {C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1]}
//    d = A B + c, each element as the exact sum rounded once to fp32.
//  - cp.async.{ca,cg}.shared.global [dst], [src], cp-size, src-size: src-size
//    bytes copied, the rest of cp-size zero-filled. The destination reads as
//    0xff (NaN) from the issue until the copy's group completes in
//    cp.async.wait_group of the issuing thread: a read before the wait (or a
//    reuse of a buffer that another warp still reads) computes with NaN.
//    cp.async.commit_group, cp.async.wait_group N (all but the newest N
//    committed groups complete), cp.async.wait_all.
//  - mov.u32 %dynamic_smem_size; cvt.rn.f16x2.e4m3x2 (low byte -> low half);
//    cvt.f32.f16; cvt.rn.bf16x2.f32 d, a, b and cvt.rn.f16x2.f32 d, a, b (a
//    -> high half, b -> low half).
//  - ld.shared.v4.u32, st.shared.v4.u32, st.shared.v2.u32.
//  - mbarrier, fence.proxy.async and wgmma: PtxAsyncEmu.h.
// Every shared-memory operand must lie inside the launch's dynamic shared
// memory and be aligned as the ISA requires, and with Options::checkGlobal
// every byte a cp.async reads inside a GlobalRange; anything else fails the
// launch. The descriptors keep 18 address bits: they address the dynamic
// shared array the block's __cvta_generic_to_shared pointed into.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_PTXEMU_H
#define MOELA_TEST_EMU_PTXEMU_H

#include "CudaEmu.h"

namespace emu {
namespace ptx {

namespace detail {
using namespace emu::detail;

inline std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

inline std::string pointer(const void *p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

/// The host bytes of shared-memory address [addr, addr + bytes): aligned to
/// `align` and inside one dynamic shared array's launch size.
inline unsigned char *sharedPtr(unsigned addr, unsigned bytes, unsigned align,
                                const char *what) {
  Runner &r = runner();
  if (addr % align)
    fail(std::string(what) + ": shared address " + hex(addr) + " is not " +
         std::to_string(align) + "-byte aligned");
  unsigned char *p;
  const uint32_t window = addr - kDynamicWindowBase;
  if (window < (uint32_t(r.arrays.size()) << kDynamicWindowShift)) {
    const size_t i = window >> kDynamicWindowShift;
    const uint32_t offset = window & ((1u << kDynamicWindowShift) - 1);
    if (offset < kDynamicWindowOffset)
      fail(std::string(what) + ": shared address " + hex(addr) + " is before " +
           dynamicShared()[i].name);
    p = r.arrays[i] + (offset - kDynamicWindowOffset);
  } else {
    p = &sharedAnchor + int32_t(addr);
  }
  for (size_t i = 0; i < r.arrays.size(); ++i) {
    unsigned char *base = r.arrays[i];
    if (p >= base && p + bytes <= base + r.launch->sharedBytes)
      return p;
    if (p >= base && p < base + dynamicShared()[i].bytes)
      fail(std::string(what) + ": bytes [" + std::to_string(p - base) + ", " +
           std::to_string(p - base + bytes) + ") of " +
           dynamicShared()[i].name + " are past the launch's " +
           std::to_string(r.launch->sharedBytes) +
           " bytes of dynamic shared memory");
  }
  fail(std::string(what) + ": shared address " + hex(addr) +
       " is not in the dynamic shared memory");
}

inline bool inShared(const void *p) {
  Runner &r = runner();
  const unsigned char *c = static_cast<const unsigned char *>(p);
  for (size_t i = 0; i < r.arrays.size(); ++i)
    if (c >= r.arrays[i] && c < r.arrays[i] + dynamicShared()[i].bytes)
      return true;
  return false;
}

inline unsigned pack16(uint16_t lo, uint16_t hi) {
  return unsigned(lo) | (unsigned(hi) << 16);
}
inline uint16_t lo16(unsigned v) { return uint16_t(v & 0xffffu); }
inline uint16_t hi16(unsigned v) { return uint16_t(v >> 16); }

struct MmaIn {
  unsigned a[4], b[2];
  float c[4];
};

/// The warp's d = A B + C (m16n8k16, A row-major 16 x 16, B "col" 16 x 8).
inline void mma(int variant, const void *a, const void *b, const float *c,
                float *d, float (*decode)(uint16_t)) {
  MmaIn in;
  std::memcpy(in.a, a, sizeof in.a);
  std::memcpy(in.b, b, sizeof in.b);
  std::memcpy(in.c, c, sizeof in.c);
  warpCollective(kMma + variant, &in, sizeof in, d, 4 * sizeof(float),
                 [decode](Slot(&s)[32]) {
                   float A[16][16], B[16][8], C[16][8];
                   for (int l = 0; l < 32; ++l) {
                     MmaIn x;
                     std::memcpy(&x, s[l].in, sizeof x);
                     const int g = l >> 2, t = l & 3;
                     const int ar[4] = {g, g + 8, g, g + 8},
                               ac[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
                     for (int i = 0; i < 4; ++i) {
                       A[ar[i]][ac[i]] = decode(lo16(x.a[i]));
                       A[ar[i]][ac[i] + 1] = decode(hi16(x.a[i]));
                     }
                     for (int i = 0; i < 2; ++i) {
                       B[2 * t + 8 * i][g] = decode(lo16(x.b[i]));
                       B[2 * t + 8 * i + 1][g] = decode(hi16(x.b[i]));
                     }
                     C[g][2 * t] = x.c[0];
                     C[g][2 * t + 1] = x.c[1];
                     C[g + 8][2 * t] = x.c[2];
                     C[g + 8][2 * t + 1] = x.c[3];
                   }
                   float D[16][8];
                   for (int i = 0; i < 16; ++i)
                     for (int j = 0; j < 8; ++j) {
                       double acc = C[i][j];
                       for (int k = 0; k < 16; ++k)
                         acc += double(A[i][k]) * double(B[k][j]);
                       D[i][j] = float(acc);
                     }
                   for (int l = 0; l < 32; ++l) {
                     const int g = l >> 2, t = l & 3;
                     const float out[4] = {D[g][2 * t], D[g][2 * t + 1],
                                           D[g + 8][2 * t],
                                           D[g + 8][2 * t + 1]};
                     std::memcpy(s[l].out, out, sizeof out);
                   }
                 });
}

/// Notes that the current thread wrote [p, p + bytes) of shared memory
/// through the generic proxy: an async-proxy read (wgmma) of it fails until
/// the thread executes fence.proxy.async.
inline void markGeneric(const unsigned char *p, size_t bytes) {
  Runner &r = runner();
  Fiber &f = *r.current;
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) >> 4,
                  last = (reinterpret_cast<uintptr_t>(p) + bytes - 1) >> 4;
  for (uintptr_t c = first; c <= last; ++c) {
    auto [it, inserted] = r.unfencedChunks.try_emplace(c, f.linear);
    if (inserted || it->second != f.linear) {
      it->second = f.linear;
      f.unfenced.push_back(c);
    }
  }
}

/// Lands the thread's copies of every committed group older than the newest
/// `keep`.
inline void completeGroups(long long keep) {
  Fiber &f = fiber();
  const long long limit = f.committed - keep;
  size_t kept = 0;
  for (size_t i = 0; i < f.copies.size(); ++i) {
    Copy &c = f.copies[i];
    if (c.group >= 0 && c.group < limit) {
      if (c.srcSize)
        std::memcpy(c.dst, c.src, size_t(c.srcSize));
      std::memset(c.dst + c.srcSize, 0, size_t(c.size - c.srcSize));
      markGeneric(c.dst, size_t(c.size));
    } else {
      f.copies[kept++] = c;
    }
  }
  f.copies.resize(kept);
}

} // namespace detail

/// ldmatrix.sync.aligned.m8n8.x{num}{.trans}.shared.b16 {r[0..num)}, [addr]
inline void ldmatrix_m8n8_shared_b16(unsigned *r, int num, bool trans,
                                     unsigned addr) {
  using namespace detail;
  if (num != 1 && num != 2 && num != 4)
    fail("ldmatrix: .x" + std::to_string(num));
  unsigned out[4];
  warpCollective(
      kLdmatrix + 8 * num + (trans ? 64 : 0), &addr, sizeof addr, out,
      sizeof(unsigned) * num, [num, trans](Slot(&s)[32]) {
        const unsigned char *rows[4][8];
        for (int i = 0; i < num; ++i)
          for (int row = 0; row < 8; ++row) {
            unsigned a;
            std::memcpy(&a, s[8 * i + row].in, sizeof a);
            rows[i][row] = sharedPtr(a, 16, 16, "ldmatrix");
          }
        auto elem = [&](int i, int row, int col) {
          uint16_t v;
          std::memcpy(&v, rows[i][row] + 2 * col, 2);
          return v;
        };
        for (int l = 0; l < 32; ++l) {
          unsigned regs[4] = {0, 0, 0, 0};
          const int g = l >> 2, q = l & 3;
          for (int i = 0; i < num; ++i)
            regs[i] = trans ? pack16(elem(i, 2 * q, g), elem(i, 2 * q + 1, g))
                            : pack16(elem(i, g, 2 * q), elem(i, g, 2 * q + 1));
          std::memcpy(s[l].out, regs, sizeof regs);
        }
      });
  std::memcpy(r, out, sizeof(unsigned) * num);
}

/// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {d}, {a}, {b}, {c}
inline void mma_m16n8k16_row_col_f32_bf16_bf16_f32(float *d, const unsigned *a,
                                                   const unsigned *b,
                                                   const float *c) {
  detail::mma(0, a, b, c, d, &num::bf16ToFloat);
}

/// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {d}, {a}, {b}, {c}
inline void mma_m16n8k16_row_col_f32_f16_f16_f32(float *d, const unsigned *a,
                                                 const unsigned *b,
                                                 const float *c) {
  detail::mma(1, a, b, c, d, &num::halfToFloat);
}

/// cp.async.{ca,cg}.shared.global [dst], [src], cpSize, srcSize
inline void cp_async_shared_global(bool cg, unsigned dst, const void *src,
                                   int cpSize, int srcSize) {
  using namespace detail;
  const char *what = cg ? "cp.async.cg" : "cp.async.ca";
  if (cg ? cpSize != 16 : (cpSize != 4 && cpSize != 8 && cpSize != 16))
    fail(std::string(what) + ": cp-size " + std::to_string(cpSize));
  if (srcSize < 0 || srcSize > cpSize)
    fail(std::string(what) + ": src-size " + std::to_string(srcSize) +
         " of cp-size " + std::to_string(cpSize));
  unsigned char *d = sharedPtr(dst, unsigned(cpSize), unsigned(cpSize), what);
  if (reinterpret_cast<uintptr_t>(src) % unsigned(cpSize))
    fail(std::string(what) + ": global source " + pointer(src) + " is not " +
         std::to_string(cpSize) + "-byte aligned");
  if (srcSize && inShared(src))
    fail(std::string(what) + ": the source is in shared memory");
  if (srcSize && runner().launch->checkGlobal &&
      !runner().launch->inGlobal(src, size_t(srcSize)))
    fail(std::string(what) + ": reads " + std::to_string(srcSize) +
         " bytes at " + pointer(src) + " outside every device buffer");
  std::memset(d, 0xff, size_t(cpSize)); // undefined until the group completes
  markGeneric(d, size_t(cpSize));
  fiber().copies.push_back(
      {d, static_cast<const unsigned char *>(src), cpSize, srcSize, -1});
}

/// cp.async.commit_group (an empty group when no copy is pending)
inline void cp_async_commit_group() {
  emu::detail::Fiber &f = emu::detail::fiber();
  for (emu::detail::Copy &c : f.copies)
    if (c.group < 0)
      c.group = f.committed;
  ++f.committed;
}

/// cp.async.wait_group n
inline void cp_async_wait_group(int n) {
  if (n < 0)
    emu::detail::fail("cp.async.wait_group " + std::to_string(n));
  detail::completeGroups(n);
}

/// cp.async.wait_all (= commit_group; wait_group 0)
inline void cp_async_wait_all() {
  cp_async_commit_group();
  detail::completeGroups(0);
}

/// mov.u32 d, %dynamic_smem_size
inline unsigned dynamic_smem_size() {
  return emu::detail::runner().launch->sharedBytes;
}

/// cvt.rn.f16x2.e4m3x2 d, a
inline unsigned cvt_rn_f16x2_e4m3x2(unsigned short a) {
  return detail::pack16(num::floatToHalf(num::e4m3ToFloat(uint8_t(a & 0xff))),
                        num::floatToHalf(num::e4m3ToFloat(uint8_t(a >> 8))));
}

/// cvt.f32.f16 d, a
inline float cvt_f32_f16(unsigned short a) { return num::halfToFloat(a); }

/// cvt.rn.bf16x2.f32 d, a, b
inline unsigned cvt_rn_bf16x2_f32(float a, float b) {
  return detail::pack16(num::floatToBf16(b), num::floatToBf16(a));
}

/// cvt.rn.f16x2.f32 d, a, b
inline unsigned cvt_rn_f16x2_f32(float a, float b) {
  return detail::pack16(num::floatToHalf(b), num::floatToHalf(a));
}

// ---- Shared memory through registers ----------------------------------------

/// ld.shared.v4.u32 {d}, [addr]
inline uint4 ld_shared_v4_u32(unsigned addr) {
  uint4 v;
  std::memcpy(&v, detail::sharedPtr(addr, 16, 16, "ld.shared.v4.u32"), 16);
  return v;
}

/// st.shared.v4.u32 [addr], {v}
inline void st_shared_v4_u32(unsigned addr, uint4 v) {
  unsigned char *p = detail::sharedPtr(addr, 16, 16, "st.shared.v4.u32");
  std::memcpy(p, &v, 16);
  detail::markGeneric(p, 16);
}

/// st.shared.v2.u32 [addr], {x, y}
inline void st_shared_v2_u32(unsigned addr, unsigned x, unsigned y) {
  unsigned char *p = detail::sharedPtr(addr, 8, 8, "st.shared.v2.u32");
  const unsigned v[2] = {x, y};
  std::memcpy(p, v, 8);
  detail::markGeneric(p, 8);
}

} // namespace ptx
} // namespace emu

#endif // MOELA_TEST_EMU_PTXEMU_H
