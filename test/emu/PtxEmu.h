//===- PtxEmu.h - The PTX instructions of the kernels, on the CPU ---------===//
//
// What the inline-PTX wrappers of runtime/kernels (Ptx.cuh, WgmmaCommon.cuh)
// call when MOELA_KERNEL_EMULATION is defined: one function per PTX
// instruction form, named after it, with the semantics of the PTX ISA (not of
// the kernels' comments), so that the kernel tests check the kernels'
// fragment indexing and shared-memory layouts independently. Runs inside emu::launch (CudaEmu.h).
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
//  - mbarrier.init / arrive / try_wait.parity (.shared::cta.b64): the state
//    (expected and pending arrivals, completed phases) lives in the Runner,
//    keyed by address; the barrier's 8 bytes hold an encoding of it that
//    every later mbarrier instruction checks (a plain store over a live
//    barrier fails). try_wait.parity p is true once the phase of parity p
//    completed (current phase parity != p); otherwise the thread is
//    suspended until the phase changes, so other warps run, and a block whose
//    live threads all wait fails as a deadlock naming the waits.
//  - fence.proxy.async.shared::cta and the async proxy: every 16-byte chunk
//    written through the generic proxy (st.shared above, cp.async at its
//    issue and when it lands) is marked with the writing thread until that
//    thread executes fence.proxy.async; a wgmma operand read of a marked
//    chunk fails the launch. Plain C++ stores into shared memory are not
//    seen (the kernels write wgmma operands only through the wrappers), and
//    only the writer's own fence counts (a conservative reading of the
//    memory model; the writer fences in the ISA's and CUTLASS's pattern).
//  - wgmma.fence / commit_group / wait_group N / mma_async (.sync.aligned):
//    rendezvous of the warpgroup's 128 threads (CudaEmu.h
//    warpgroupCollective; a block with an incomplete warpgroup, divergence
//    or an exited thread fails). mma_async .m64nNk16.f32.bf16.bf16 and
//    .m64nNk32.f32.e4m3.e4m3, A and B from shared-memory descriptors (PTX
//    ISA "Matrix Descriptor Format": start address >> 4 in bits [0, 14),
//    leading / stride byte offsets >> 4 in [16, 30) / [32, 46), base offset
//    [49, 52), swizzle [62, 64): 0 none, 1 128B, 2 64B, 3 32B), K-major
//    ("Shared Memory Matrix Layout": row r at (r % 8) * W + (r / 8) * SBO,
//    16-byte K chunk c at c * 16, or c * LBO without swizzle (W = 16), then
//    address bits [4, 4 + log2(W / 16)) ^= bits [7, ...) of the final
//    address, W = the swizzle width). The result is computed at the issue
//    (the exact sum, + D unless scale-d = 0, rounded once to fp32) and
//    scattered into the 128 threads' registers by the ISA's D fragment
//    layout (warp q, lane l: d[4j + i] = D[16q + l/4 + 8 (i >= 2)][8j +
//    2 (l % 4) + (i & 1)]); the 16-byte chunks it read are kept and compared
//    at the wait_group that completes its group: shared memory overwritten
//    while a wgmma may still read it fails the launch. Also failing: a
//    wgmma.mma_async with no wgmma.fence since the start or the last
//    wait_group (conservative: the ISA asks for it only when the registers
//    were accessed in between), descriptors or scale-d that differ between the threads,
//    reserved descriptor bits, a base offset other than 0, transposed
//    (MN-major) operands, imm-scale other than +-1, operands outside the
//    launch's dynamic shared memory, and a block that ends with wgmma groups
//    not waited for. Not checked: reads of the accumulator registers before
//    the wait_group (the emulation writes them at the issue), and the
//    reduced-precision accumulation of FP8 tensor cores (the emulation is
//    exact, as for mma.sync).
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
inline unsigned char *sharedPtr(unsigned addr, unsigned bytes, unsigned align, const char *what) {
  Runner &r = runner();
  if (addr % align)
    fail(std::string(what) + ": shared address " + hex(addr) + " is not " + std::to_string(align) +
         "-byte aligned");
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
           std::to_string(p - base + bytes) + ") of " + dynamicShared()[i].name +
           " are past the launch's " + std::to_string(r.launch->sharedBytes) +
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

inline unsigned pack16(uint16_t lo, uint16_t hi) { return unsigned(lo) | (unsigned(hi) << 16); }
inline uint16_t lo16(unsigned v) { return uint16_t(v & 0xffffu); }
inline uint16_t hi16(unsigned v) { return uint16_t(v >> 16); }

struct MmaIn {
  unsigned a[4], b[2];
  float c[4];
};

/// The warp's d = A B + C (m16n8k16, A row-major 16 x 16, B "col" 16 x 8).
inline void mma(int variant, const void *a, const void *b, const float *c, float *d,
                float (*decode)(uint16_t)) {
  MmaIn in;
  std::memcpy(in.a, a, sizeof in.a);
  std::memcpy(in.b, b, sizeof in.b);
  std::memcpy(in.c, c, sizeof in.c);
  warpCollective(kMma + variant, &in, sizeof in, d, 4 * sizeof(float), [decode](Slot(&s)[32]) {
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; ++l) {
      MmaIn x;
      std::memcpy(&x, s[l].in, sizeof x);
      const int g = l >> 2, t = l & 3;
      const int ar[4] = {g, g + 8, g, g + 8}, ac[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
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
      const float out[4] = {D[g][2 * t], D[g][2 * t + 1], D[g + 8][2 * t], D[g + 8][2 * t + 1]};
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

/// Lands the thread's copies of every committed group older than the newest `keep`.
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
inline void ldmatrix_m8n8_shared_b16(unsigned *r, int num, bool trans, unsigned addr) {
  using namespace detail;
  if (num != 1 && num != 2 && num != 4)
    fail("ldmatrix: .x" + std::to_string(num));
  unsigned out[4];
  warpCollective(kLdmatrix + 8 * num + (trans ? 64 : 0), &addr, sizeof addr, out,
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
inline void mma_m16n8k16_row_col_f32_bf16_bf16_f32(float *d, const unsigned *a, const unsigned *b,
                                                   const float *c) {
  detail::mma(0, a, b, c, d, &num::bf16ToFloat);
}

/// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {d}, {a}, {b}, {c}
inline void mma_m16n8k16_row_col_f32_f16_f16_f32(float *d, const unsigned *a, const unsigned *b,
                                                 const float *c) {
  detail::mma(1, a, b, c, d, &num::halfToFloat);
}

/// cp.async.{ca,cg}.shared.global [dst], [src], cpSize, srcSize
inline void cp_async_shared_global(bool cg, unsigned dst, const void *src, int cpSize,
                                   int srcSize) {
  using namespace detail;
  const char *what = cg ? "cp.async.cg" : "cp.async.ca";
  if (cg ? cpSize != 16 : (cpSize != 4 && cpSize != 8 && cpSize != 16))
    fail(std::string(what) + ": cp-size " + std::to_string(cpSize));
  if (srcSize < 0 || srcSize > cpSize)
    fail(std::string(what) + ": src-size " + std::to_string(srcSize) + " of cp-size " +
         std::to_string(cpSize));
  unsigned char *d = sharedPtr(dst, unsigned(cpSize), unsigned(cpSize), what);
  if (reinterpret_cast<uintptr_t>(src) % unsigned(cpSize))
    fail(std::string(what) + ": global source " + pointer(src) + " is not " +
         std::to_string(cpSize) + "-byte aligned");
  if (srcSize && inShared(src))
    fail(std::string(what) + ": the source is in shared memory");
  if (srcSize && runner().launch->checkGlobal && !runner().launch->inGlobal(src, size_t(srcSize)))
    fail(std::string(what) + ": reads " + std::to_string(srcSize) + " bytes at " + pointer(src) +
         " outside every device buffer");
  std::memset(d, 0xff, size_t(cpSize)); // undefined until the group completes
  markGeneric(d, size_t(cpSize));
  fiber().copies.push_back({d, static_cast<const unsigned char *>(src), cpSize, srcSize, -1});
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
inline unsigned dynamic_smem_size() { return emu::detail::runner().launch->sharedBytes; }

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

// ---- Shared memory through registers -------------------------------------------------

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

// ---- mbarrier -------------------------------------------------------------------------

namespace detail {

inline uint64_t encodeMbarrier(const Mbarrier &b) {
  return 0x6d62000000000000ull ^ (uint64_t(b.phase & 0xff) << 40) ^ (uint64_t(b.expected) << 20) ^
         uint64_t(b.pending);
}

/// The barrier at `addr` (8-byte aligned shared memory), initialised, its
/// bytes as the last mbarrier instruction left them.
inline Mbarrier &mbarrier(unsigned addr, const char *what) {
  Runner &r = runner();
  unsigned char *p = sharedPtr(addr, 8, 8, what);
  auto it = r.mbarriers.find(addr);
  if (it == r.mbarriers.end())
    fail(std::string(what) + ": no mbarrier.init at shared address " + hex(addr));
  uint64_t bytes;
  std::memcpy(&bytes, p, 8);
  if (bytes != it->second.encoded)
    fail(std::string(what) + ": the mbarrier at shared address " + hex(addr) +
         " was overwritten since its last mbarrier instruction");
  return it->second;
}

inline void storeMbarrier(unsigned addr, Mbarrier &b) {
  b.encoded = encodeMbarrier(b);
  std::memcpy(sharedPtr(addr, 8, 8, "mbarrier"), &b.encoded, 8);
}

} // namespace detail

/// mbarrier.init.shared::cta.b64 [addr], count: phase 0, `count` pending
/// arrivals (1 <= count < 2^20).
inline void mbarrier_init_shared_b64(unsigned addr, unsigned count) {
  using namespace detail;
  sharedPtr(addr, 8, 8, "mbarrier.init");
  if (count < 1 || count >= (1u << 20))
    fail("mbarrier.init: count " + std::to_string(count) + " not in [1, 2^20)");
  Mbarrier &b = runner().mbarriers[addr];
  b.expected = b.pending = count;
  b.phase = 0;
  storeMbarrier(addr, b);
}

/// mbarrier.arrive.shared::cta.b64 state, [addr]: one arrival; the last
/// pending one completes the phase (the pending count is reset to the
/// expected count). Returns the state token (the phase before the arrival).
inline uint64_t mbarrier_arrive_shared_b64(unsigned addr) {
  using namespace detail;
  Mbarrier &b = mbarrier(addr, "mbarrier.arrive");
  const uint64_t token = b.phase;
  if (--b.pending == 0) {
    b.pending = b.expected;
    ++b.phase;
  }
  storeMbarrier(addr, b);
  return token;
}

/// mbarrier.try_wait.parity.shared::cta.b64 p, [addr], parity: whether the
/// phase of parity `parity` has completed, i.e. the current phase's parity
/// differs. When not, the thread is suspended until the barrier's phase
/// changes (other threads run) and false is returned; a block whose live
/// threads all wait so fails the launch as a deadlock.
inline bool mbarrier_try_wait_parity_shared_b64(unsigned addr, unsigned parity) {
  using namespace detail;
  Mbarrier &b = mbarrier(addr, "mbarrier.try_wait.parity");
  if ((b.phase & 1u) != (parity & 1u))
    return true;
  waitUntilChanged(&b.phase, b.phase, "mbarrier.try_wait.parity");
  return false;
}

/// fence.proxy.async.shared::cta: this thread's generic-proxy writes of
/// shared memory so far become visible to the async proxy (wgmma operands).
inline void fence_proxy_async_shared_cta() {
  using namespace detail;
  Runner &r = runner();
  Fiber &f = *r.current;
  for (uintptr_t c : f.unfenced) {
    auto it = r.unfencedChunks.find(c);
    if (it != r.unfencedChunks.end() && it->second == f.linear)
      r.unfencedChunks.erase(it);
  }
  f.unfenced.clear();
}

// ---- wgmma ----------------------------------------------------------------------------

/// wgmma.fence.sync.aligned
inline void wgmma_fence_sync_aligned() {
  detail::warpgroupCollective(detail::kWgFence, nullptr,
                              [](const void *const(&)[128], detail::WarpgroupState &w) {
                                w.fenced = true;
                              });
}

/// wgmma.commit_group.sync.aligned: the wgmma.mma_async since the last
/// commit become a group (possibly empty).
inline void wgmma_commit_group_sync_aligned() {
  detail::warpgroupCollective(detail::kWgCommit, nullptr,
                              [](const void *const(&)[128], detail::WarpgroupState &w) {
                                w.committed.push_back(std::move(w.uncommitted));
                                w.uncommitted.clear();
                              });
}

/// wgmma.wait_group.sync.aligned n: every committed group but the newest n
/// completes. Checks that the shared memory those groups read did not change
/// since their issue (the operands are read asynchronously until then).
inline void wgmma_wait_group_sync_aligned(int n) {
  using namespace detail;
  if (n < 0 || n > 7)
    fail("wgmma.wait_group " + std::to_string(n) + " (0..7)");
  warpgroupCollective(kWgWait, &n, [](const void *const(&in)[128], WarpgroupState &w) {
    const int keep = *static_cast<const int *>(in[0]);
    for (int t = 1; t < 128; ++t)
      if (*static_cast<const int *>(in[t]) != keep)
        fail("wgmma.wait_group: threads of the warpgroup wait for different counts");
    while (int(w.committed.size()) > keep) {
      for (const AsyncRead &a : w.committed.front())
        if (std::memcmp(a.p, a.bytes, 16) != 0)
          fail("wgmma.wait_group: shared bytes [" + hex(a.addr) + ", +16) that an in-flight "
               "wgmma.mma_async reads were overwritten before it completed");
      w.committed.pop_front();
    }
    w.fenced = false; // the accumulators are read next: a new wgmma needs wgmma.fence
  });
}

namespace detail {

/// One decoded shared-memory matrix descriptor of a K-major operand.
struct MatrixDesc {
  uint32_t start; // full shared address (in the block's dynamic shared window)
  uint32_t lbo, sbo;
  int swizzle; // bytes of the swizzle pattern row: 0 (none), 32, 64, 128
};

/// PTX ISA "Matrix Descriptor Format": bits [0, 14) start address >> 4,
/// [16, 30) leading dimension byte offset >> 4, [32, 46) stride dimension
/// byte offset >> 4, [49, 52) matrix base offset, [62, 64) swizzle mode
/// (0 none, 1 128B, 2 64B, 3 32B); the other bits are reserved (0).
inline MatrixDesc decodeDesc(uint64_t desc, const char *operand) {
  Runner &r = runner();
  const std::string what = std::string("wgmma.mma_async: descriptor of ") + operand + " (" +
                           hex(unsigned(desc >> 32)) + "_" + hex(unsigned(desc)) + ")";
  const uint64_t reserved = (3ull << 14) | (3ull << 30) | (7ull << 46) | (0x3ffull << 52);
  if (desc & reserved)
    fail(what + ": reserved bits set");
  if ((desc >> 49) & 7)
    fail(what + ": matrix base offset " + std::to_string((desc >> 49) & 7) +
         " (the emulator supports 0: pattern-aligned tiles)");
  if (r.activeArray < 0)
    fail(what + ": the block's dynamic shared memory is unknown (no __cvta_generic_to_shared "
                "into exactly one dynamic shared array)");
  MatrixDesc d;
  d.start = kDynamicWindowBase + (uint32_t(r.activeArray) << kDynamicWindowShift) +
            (uint32_t(desc & 0x3fff) << 4);
  d.lbo = uint32_t((desc >> 16) & 0x3fff) << 4;
  d.sbo = uint32_t((desc >> 32) & 0x3fff) << 4;
  static const int kSwizzle[4] = {0, 128, 64, 32};
  d.swizzle = kSwizzle[desc >> 62];
  return d;
}

/// Shared address of 16-byte chunk `chunk` (K bytes [16 chunk, 16 chunk +
/// 16)) of row `row` (M or N) of a K-major operand (PTX ISA "Shared Memory
/// Matrix Layout", K-major canonical layouts in 16-byte units T):
///   none:  ((8,m),(T,2k)):((1T,SBO),(1,LBO))  (8x16-byte core matrices)
///   32B:   Swizzle<1,4,3> o ((8,m),(T,2k)):((2T,SBO),(1,T))
///   64B:   Swizzle<2,4,3> o ((8,m),(T,2k)):((4T,SBO),(1,T))
///   128B:  Swizzle<3,4,3> o ((8,m),(T,2k)):((8T,SBO),(1,T))
/// The swizzle XORs address bits [4, 4+b) with bits [7, 7+b) of the final
/// address (base offset 0).
inline uint32_t operandAddr(const MatrixDesc &d, int row, int chunk) {
  if (d.swizzle == 0)
    return d.start + uint32_t(row % 8) * 16 + uint32_t(row / 8) * d.sbo + uint32_t(chunk) * d.lbo;
  uint32_t a = d.start + uint32_t(row % 8) * uint32_t(d.swizzle) + uint32_t(row / 8) * d.sbo +
               uint32_t(chunk) * 16;
  const uint32_t mask = uint32_t(d.swizzle / 16 - 1); // 1, 3 or 7
  return a ^ (((a >> 7) & mask) << 4);
}

struct WgmmaIn {
  uint64_t descA, descB;
  int n, type, scaleD, scaleA, scaleB, tnspA, tnspB;
  float *d;
};

/// The warpgroup's D (64 x N, fp32) = A (64 x K) B (N x K)^T (+ D): K = 32
/// bytes (16 bf16 or 32 e4m3), both operands K-major in shared memory.
inline void wgmmaCompute(const void *const (&in)[128], WarpgroupState &w) {
  const WgmmaIn &x = *static_cast<const WgmmaIn *>(in[0]);
  for (int t = 1; t < 128; ++t) {
    const WgmmaIn &y = *static_cast<const WgmmaIn *>(in[t]);
    if (y.descA != x.descA || y.descB != x.descB || y.scaleD != x.scaleD || y.n != x.n ||
        y.type != x.type || y.scaleA != x.scaleA || y.scaleB != x.scaleB || y.tnspA != x.tnspA ||
        y.tnspB != x.tnspB)
      fail("wgmma.mma_async: thread " + std::to_string(t) +
           " of the warpgroup has other operands (descriptors, scale-d) than thread 0");
  }
  if (!w.fenced)
    fail("wgmma.mma_async without wgmma.fence before it (at the start, and after each "
         "wgmma.wait_group, whose accumulators the threads may have accessed)");
  if (x.n < 8 || x.n > 256 || x.n % 8)
    fail("wgmma.mma_async: n " + std::to_string(x.n));
  if (x.tnspA || x.tnspB)
    fail("wgmma.mma_async: transposed (MN-major) operands are not emulated");
  if ((x.scaleA != 1 && x.scaleA != -1) || (x.scaleB != 1 && x.scaleB != -1))
    fail("wgmma.mma_async: imm-scale-a/b must be 1 or -1");
  const bool fp8 = x.type == 1;
  const int K = fp8 ? 32 : 16, N = x.n;
  const MatrixDesc da = decodeDesc(x.descA, "A"), db = decodeDesc(x.descB, "B");
  thread_local std::vector<float> A, B;
  A.assign(size_t(64) * K, 0.0f);
  B.assign(size_t(N) * K, 0.0f);
  Runner &r = runner();
  auto load = [&](const MatrixDesc &d, int rows, std::vector<float> &out) {
    for (int row = 0; row < rows; ++row)
      for (int chunk = 0; chunk < 2; ++chunk) {
        const uint32_t addr = operandAddr(d, row, chunk);
        const unsigned char *p = sharedPtr(addr, 16, 16, "wgmma.mma_async operand");
        auto it = r.unfencedChunks.find(reinterpret_cast<uintptr_t>(p) >> 4);
        if (it != r.unfencedChunks.end())
          fail("wgmma.mma_async reads shared address " + hex(addr) + ", which thread " +
               std::to_string(it->second) +
               " wrote through the generic proxy (st.shared, cp.async) with no "
               "fence.proxy.async since");
        AsyncRead a;
        a.p = p;
        a.addr = addr;
        std::memcpy(a.bytes, p, 16);
        w.uncommitted.push_back(a);
        for (int e = 0; e < 16 / (fp8 ? 1 : 2); ++e) {
          const int k = chunk * (fp8 ? 16 : 8) + e;
          float v;
          if (fp8) {
            v = num::e4m3ToFloat(p[e]);
          } else {
            uint16_t h;
            std::memcpy(&h, p + 2 * e, 2);
            v = num::bf16ToFloat(h);
          }
          out[size_t(row) * K + k] = v;
        }
      }
  };
  load(da, 64, A);
  load(db, N, B);
  const double sign = double(x.scaleA * x.scaleB);
  for (int t = 0; t < 128; ++t) {
    float *d = static_cast<const WgmmaIn *>(in[t])->d;
    const int q = t / 32, lane = t % 32, g = lane / 4, tq = lane % 4;
    for (int j = 0; j < N / 8; ++j)
      for (int i = 0; i < 4; ++i) {
        const int row = 16 * q + g + (i >= 2 ? 8 : 0), col = 8 * j + 2 * tq + (i & 1);
        double acc = x.scaleD ? double(d[4 * j + i]) : 0.0;
        const float *a = &A[size_t(row) * K], *b = &B[size_t(col) * K];
        for (int k = 0; k < K; ++k)
          acc += sign * double(a[k]) * double(b[k]);
        d[4 * j + i] = float(acc);
      }
  }
}

inline void wgmma(int type, int n, float *d, uint64_t descA, uint64_t descB, int scaleD,
                  int scaleA, int scaleB, int tnspA, int tnspB) {
  WgmmaIn in{descA, descB, n, type, scaleD != 0, scaleA, scaleB, tnspA, tnspB, d};
  warpgroupCollective(kWgMma, &in, &wgmmaCompute);
}

} // namespace detail

/// wgmma.mma_async.sync.aligned.m64n{n}k16.f32.bf16.bf16 {d}, descA, descB,
/// scaleD, imm-scale-a, imm-scale-b, imm-trans-a, imm-trans-b: d = n / 2
/// floats per thread (PTX ISA "Matrix fragments for wgmma .m64nNk16": warp q
/// of the warpgroup, lane l, g = l / 4, t = l % 4: d[4j + i] = D[16q + g +
/// 8 (i >= 2)][8j + 2t + (i & 1)]); D = A B^T (+ D when scaleD != 0), each
/// element the exact sum rounded once to fp32.
inline void wgmma_mma_async_m64nNk16_f32_bf16_bf16(int n, float *d, uint64_t descA, uint64_t descB,
                                                    int scaleD, int scaleA, int scaleB, int tnspA,
                                                    int tnspB) {
  detail::wgmma(0, n, d, descA, descB, scaleD, scaleA, scaleB, tnspA, tnspB);
}

/// wgmma.mma_async.sync.aligned.m64n{n}k32.f32.e4m3.e4m3 {d}, descA, descB,
/// scaleD, imm-scale-a, imm-scale-b (K-major operands only).
inline void wgmma_mma_async_m64nNk32_f32_e4m3_e4m3(int n, float *d, uint64_t descA, uint64_t descB,
                                                    int scaleD, int scaleA, int scaleB) {
  detail::wgmma(1, n, d, descA, descB, scaleD, scaleA, scaleB, 0, 0);
}

} // namespace ptx
} // namespace emu

#endif // MOELA_TEST_EMU_PTXEMU_H
