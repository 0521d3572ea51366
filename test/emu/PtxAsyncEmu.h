//===- PtxAsyncEmu.h - The Hopper async PTX instructions on the CPU -------===//
//
// The mbarrier, async-proxy and wgmma instructions of the kernels (Ptx.cuh)
// on the CPU, as PtxEmu.h does the others, with the same rules for
// shared-memory operands:
//
//  - mbarrier.init / arrive / try_wait.parity (.shared::cta.b64): the state
//    (expected and pending arrivals, completed phases) lives in the Runner,
//    keyed by address; the barrier's 8 bytes hold an encoding of it that
//    every later mbarrier instruction checks (a plain store over a live
//    barrier fails). try_wait.parity p is true once the phase of parity p
//    completed (current phase parity != p); otherwise the thread is
//    suspended until the phase changes, so other warps run, and a block whose
//    live threads all wait fails as a deadlock naming the waits.
//  - fence.proxy.async.shared::cta and the async proxy: every 16-byte chunk
//    written through the generic proxy (st.shared, cp.async at its
//    issue and when it lands) is marked with the writing thread until that
//    thread executes fence.proxy.async; a wgmma operand read of a marked
//    chunk fails the launch. Plain C++ stores into shared memory are not
//    seen (the kernels write wgmma operands only through the wrappers), and
//    only the writer's own fence counts (a conservative reading of the
//    memory model; the writer fences in the ISA's and CUTLASS's pattern).
//  - wgmma.fence / commit_group / wait_group N / mma_async (.sync.aligned):
//    rendezvous of the warpgroup's 128 threads (EmuCollectives.h
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
//    (the exact sum, + D unless scale-d = 0, rounded once to fp32; D is the
//    pending result of an in-flight wgmma on the same registers, as in a
//    chain of K steps) but reaches the 128 threads' registers, by the ISA's
//    D fragment layout (warp q, lane l: d[4j + i] = D[16q + l/4 + 8 (i >=
//    2)][8j + 2 (l % 4) + (i & 1)]), only at the wait_group that completes
//    the last group writing them; until then they hold the NaN
//    kWgmmaPendingBits, so a kernel that reads its accumulators too early
//    computes NaN, and one that writes them in flight fails the launch. The
//    16-byte chunks a wgmma read are kept and compared at that wait_group:
//    shared memory overwritten while a wgmma may still read it fails the
//    launch. Also failing: a
//    wgmma.mma_async with no wgmma.fence since the start or the last
//    wait_group (conservative: the ISA asks for it only when the registers
//    were accessed in between), descriptors or scale-d that differ between the
//    threads, reserved descriptor bits, a base offset other than 0, transposed
//    (MN-major) operands, imm-scale other than +-1, operands outside the
//    launch's dynamic shared memory, and a block that ends with wgmma groups
//    not waited for. Not modelled: the compiler's freedom to move register
//    accesses across wgmma.wait_group (Ptx.cuh's fenceRegs; g++ must reload
//    the escaped arrays anyway), and the reduced-precision accumulation of
//    FP8 tensor cores (the emulation is exact, as for mma.sync).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_PTXASYNCEMU_H
#define MOELA_TEST_EMU_PTXASYNCEMU_H

#include "PtxEmu.h"

namespace emu {

/// What the accumulator registers of an in-flight wgmma read: a signalling
/// NaN with a recognisable payload.
constexpr uint32_t kWgmmaPendingBits = 0x7fbadbadu;

namespace ptx {

// ---- mbarrier ---------------------------------------------------------------

namespace detail {

inline uint64_t encodeMbarrier(const Mbarrier &b) {
  return 0x6d62000000000000ull ^ (uint64_t(b.phase & 0xff) << 40) ^
         (uint64_t(b.expected) << 20) ^ uint64_t(b.pending);
}

/// The barrier at `addr` (8-byte aligned shared memory), initialised, its
/// bytes as the last mbarrier instruction left them.
inline Mbarrier &mbarrier(unsigned addr, const char *what) {
  Runner &r = runner();
  unsigned char *p = sharedPtr(addr, 8, 8, what);
  auto it = r.mbarriers.find(addr);
  if (it == r.mbarriers.end())
    fail(std::string(what) + ": no mbarrier.init at shared address " +
         hex(addr));
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
inline bool mbarrier_try_wait_parity_shared_b64(unsigned addr,
                                                unsigned parity) {
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

// ---- wgmma ------------------------------------------------------------------

/// wgmma.fence.sync.aligned
inline void wgmma_fence_sync_aligned() {
  detail::warpgroupCollective(
      detail::kWgFence, nullptr,
      [](const void *const(&)[128], detail::WarpgroupState &w) {
        w.fenced = true;
      });
}

/// wgmma.commit_group.sync.aligned: the wgmma.mma_async since the last
/// commit become a group (possibly empty).
inline void wgmma_commit_group_sync_aligned() {
  detail::warpgroupCollective(
      detail::kWgCommit, nullptr,
      [](const void *const(&)[128], detail::WarpgroupState &w) {
        w.committed.push_back(std::move(w.uncommitted));
        w.uncommitted = {};
      });
}

namespace detail {

/// A completing wgmma group: its operands must not have changed since the
/// issue, and each accumulator array whose last in-flight wgmma it held
/// receives the results (its registers must still hold the poison: a thread
/// that wrote them while a wgmma owned them has a bug).
inline void completeWgmmaGroup(WarpgroupState &w, const WgmmaGroup &g) {
  for (const AsyncRead &a : g.reads)
    if (std::memcmp(a.p, a.bytes, 16) != 0)
      fail("wgmma.wait_group: shared bytes [" + hex(a.addr) +
           ", +16) that an in-flight "
           "wgmma.mma_async reads were overwritten before it completed");
  for (float *d : g.accumulators) {
    auto it = w.pending.find(d);
    if (--it->second.inFlight > 0)
      continue;
    const std::vector<float> &v = it->second.values;
    for (size_t i = 0; i < v.size(); ++i)
      if (num::bits(d[i]) != kWgmmaPendingBits)
        fail("wgmma.wait_group: accumulator register " + std::to_string(i) +
             " of a thread was written while a wgmma.mma_async owned it");
    std::memcpy(d, v.data(), v.size() * sizeof(float));
    w.pending.erase(it);
  }
}

} // namespace detail

/// wgmma.wait_group.sync.aligned n: every committed group but the newest n
/// completes: its accumulators receive their results, and the shared memory
/// it read must not have changed since the issue (the operands are read
/// asynchronously until then).
inline void wgmma_wait_group_sync_aligned(int n) {
  using namespace detail;
  if (n < 0 || n > 7)
    fail("wgmma.wait_group " + std::to_string(n) + " (0..7)");
  warpgroupCollective(
      kWgWait, &n, [](const void *const(&in)[128], WarpgroupState &w) {
        const int keep = *static_cast<const int *>(in[0]);
        for (int t = 1; t < 128; ++t)
          if (*static_cast<const int *>(in[t]) != keep)
            fail("wgmma.wait_group: threads of the warpgroup wait for "
                 "different counts");
        while (int(w.committed.size()) > keep) {
          completeWgmmaGroup(w, w.committed.front());
          w.committed.pop_front();
        }
        w.fenced = false; // the accumulators are read next: a new wgmma needs
                          // wgmma.fence
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
  const std::string what = std::string("wgmma.mma_async: descriptor of ") +
                           operand + " (" + hex(unsigned(desc >> 32)) + "_" +
                           hex(unsigned(desc)) + ")";
  const uint64_t reserved =
      (3ull << 14) | (3ull << 30) | (7ull << 46) | (0x3ffull << 52);
  if (desc & reserved)
    fail(what + ": reserved bits set");
  if ((desc >> 49) & 7)
    fail(what + ": matrix base offset " + std::to_string((desc >> 49) & 7) +
         " (the emulator supports 0: pattern-aligned tiles)");
  if (r.activeArray < 0)
    fail(what + ": the block's dynamic shared memory is unknown (no "
                "__cvta_generic_to_shared "
                "into exactly one dynamic shared array)");
  MatrixDesc d;
  d.start = kDynamicWindowBase +
            (uint32_t(r.activeArray) << kDynamicWindowShift) +
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
    return d.start + uint32_t(row % 8) * 16 + uint32_t(row / 8) * d.sbo +
           uint32_t(chunk) * d.lbo;
  uint32_t a = d.start + uint32_t(row % 8) * uint32_t(d.swizzle) +
               uint32_t(row / 8) * d.sbo + uint32_t(chunk) * 16;
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
    if (y.descA != x.descA || y.descB != x.descB || y.scaleD != x.scaleD ||
        y.n != x.n || y.type != x.type || y.scaleA != x.scaleA ||
        y.scaleB != x.scaleB || y.tnspA != x.tnspA || y.tnspB != x.tnspB)
      fail("wgmma.mma_async: thread " + std::to_string(t) +
           " of the warpgroup has other operands (descriptors, scale-d) than "
           "thread 0");
  }
  if (!w.fenced)
    fail("wgmma.mma_async without wgmma.fence before it (at the start, and "
         "after each "
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
        const unsigned char *p =
            sharedPtr(addr, 16, 16, "wgmma.mma_async operand");
        auto it = r.unfencedChunks.find(reinterpret_cast<uintptr_t>(p) >> 4);
        if (it != r.unfencedChunks.end())
          fail("wgmma.mma_async reads shared address " + hex(addr) +
               ", which thread " + std::to_string(it->second) +
               " wrote through the generic proxy (st.shared, cp.async) with no "
               "fence.proxy.async since");
        AsyncRead a;
        a.p = p;
        a.addr = addr;
        std::memcpy(a.bytes, p, 16);
        w.uncommitted.reads.push_back(a);
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
    // D is the result of the thread's in-flight wgmmas on d, if any (a chain
    // of K steps), else d's registers.
    PendingAccumulators &p = w.pending[d];
    if (p.inFlight == 0)
      p.values.assign(d, d + N / 2);
    else if (p.values.size() != size_t(N / 2))
      fail("wgmma.mma_async: n " + std::to_string(N) +
           " on accumulators an in-flight wgmma of another n writes");
    const int q = t / 32, lane = t % 32, g = lane / 4, tq = lane % 4;
    for (int j = 0; j < N / 8; ++j)
      for (int i = 0; i < 4; ++i) {
        const int row = 16 * q + g + (i >= 2 ? 8 : 0),
                  col = 8 * j + 2 * tq + (i & 1);
        double acc = x.scaleD ? double(p.values[4 * j + i]) : 0.0;
        const float *a = &A[size_t(row) * K], *b = &B[size_t(col) * K];
        for (int k = 0; k < K; ++k)
          acc += sign * double(a[k]) * double(b[k]);
        p.values[4 * j + i] = float(acc);
      }
    // Until its group completes (wgmma.wait_group), d reads as NaN.
    ++p.inFlight;
    w.uncommitted.accumulators.push_back(d);
    const float poison = num::fromBits(kWgmmaPendingBits);
    std::fill(d, d + N / 2, poison);
  }
}

inline void wgmma(int type, int n, float *d, uint64_t descA, uint64_t descB,
                  int scaleD, int scaleA, int scaleB, int tnspA, int tnspB) {
  WgmmaIn in{descA,  descB,  n,     type,  scaleD != 0,
             scaleA, scaleB, tnspA, tnspB, d};
  warpgroupCollective(kWgMma, &in, &wgmmaCompute);
}

} // namespace detail

/// wgmma.mma_async.sync.aligned.m64n{n}k16.f32.bf16.bf16 {d}, descA, descB,
/// scaleD, imm-scale-a, imm-scale-b, imm-trans-a, imm-trans-b: d = n / 2
/// floats per thread (PTX ISA "Matrix fragments for wgmma .m64nNk16": warp q
/// of the warpgroup, lane l, g = l / 4, t = l % 4: d[4j + i] = D[16q + g +
/// 8 (i >= 2)][8j + 2t + (i & 1)]); D = A B^T (+ D when scaleD != 0), each
/// element the exact sum rounded once to fp32.
inline void wgmma_mma_async_m64nNk16_f32_bf16_bf16(int n, float *d,
                                                   uint64_t descA,
                                                   uint64_t descB, int scaleD,
                                                   int scaleA, int scaleB,
                                                   int tnspA, int tnspB) {
  detail::wgmma(0, n, d, descA, descB, scaleD, scaleA, scaleB, tnspA, tnspB);
}

/// wgmma.mma_async.sync.aligned.m64n{n}k32.f32.e4m3.e4m3 {d}, descA, descB,
/// scaleD, imm-scale-a, imm-scale-b (K-major operands only).
inline void wgmma_mma_async_m64nNk32_f32_e4m3_e4m3(int n, float *d,
                                                   uint64_t descA,
                                                   uint64_t descB, int scaleD,
                                                   int scaleA, int scaleB) {
  detail::wgmma(1, n, d, descA, descB, scaleD, scaleA, scaleB, 0, 0);
}

} // namespace ptx
} // namespace emu

#endif // MOELA_TEST_EMU_PTXASYNCEMU_H
