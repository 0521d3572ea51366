//===- CudaEmu.h - The CUDA execution model on the CPU, for kernel tests --===//
//
// Lets g++ compile the device templates of runtime/kernels unchanged and run
// their launches on the host, so that CI checks the kernels without a GPU.
// Header-only. The kernels' inline PTX sits in wrappers in Ptx.cuh and
// WgmmaCommon.cuh, which call PtxEmu.h when MOELA_KERNEL_EMULATION is
// defined; include/cuda_bf16.h and include/cuda_fp8.h stand in for the
// toolkit's headers and bring this one. Build with -fno-strict-aliasing (the
// kernels pun types through pointers, as CUDA allows) and
// -fno-extern-tls-init (see __shared__ below); EmuKernels.h includes it all.
//
// Execution model. emu::launch(kernel, grid, block, sharedBytes, args) runs
// the grid's blocks on a few worker threads (MOELA_EMU_WORKERS, default: all
// cores), one block at a time per worker, and returns when all are done. A
// block runs as one fiber (its own stack) per CUDA thread, all on
// the worker's OS thread: fibers switch only where CUDA threads synchronise
// (__syncthreads, every warp collective), so a block is deterministic. The
// order in which runnable fibers are resumed is a seeded shuffle
// (MOELA_EMU_SCHEDULE: a seed, or "forward"), so that races between warps
// show up as wrong results rather than hide behind one lucky order.
//
//  - Built-in variables (threadIdx, blockIdx, blockDim, gridDim) are
//    thread_local globals that the scheduler sets before it resumes a fiber.
//  - __shared__ is thread_local: one instance per worker, i.e. per running
//    block. Static shared arrays keep the previous block's values (they are
//    not poisoned). `extern __shared__` arrays (dynamic shared memory) must be
//    defined with MOELA_EMU_DYNAMIC_SHARED (one per kernel's array name, each
//    kMaxDynamicSharedBytes long); the launcher fills them with 0xff (NaN in
//    every float format) before each block and checks after it that the 4 KiB
//    past the launch's size are untouched.
//  - Warp collectives (shuffles, votes, match_any, __syncwarp, ldmatrix,
//    mma) are rendezvous of the warp's 32 lanes: each lane deposits its
//    operand, the last to arrive computes every lane's result. They require
//    the full mask, all 32 lanes present and every lane at the same kind of
//    collective; anything else fails the launch.
//  - Warpgroup collectives (wgmma.*, PtxEmu.h) are rendezvous of the 128
//    threads of 4 consecutive warps (the first a multiple of 4), with the
//    same rules.
//  - Shared-memory addresses: byte b of dynamic shared array i is at
//    0x40000000 + (i << 20) + 384 + b (an 18-bit window, as on the GPU, not
//    1024-byte aligned); other __shared__ objects at their offset from an
//    anchor. mbarrier waits suspend the thread until the barrier's phase
//    changes.
//  - __syncthreads fails the launch once a thread of the block has exited
//    (CUDA leaves that undefined). A block whose fibers all wait on each
//    other is reported as a deadlock, with where they wait.
//  - Device memory is host memory. Tests may declare their buffers as
//    emu::GlobalRange and set Options::checkGlobal: then a cp.async that
//    reads outside every buffer fails the launch.
//  - Failures (__trap, the checks above and those of PtxEmu.h) stop the
//    launch; emu::launch then throws emu::Error naming the block and thread.
//  - Arithmetic is IEEE fp32 (the host's): fast-math intrinsics (__expf,
//    __sincosf, ...) are computed accurately, FMA contraction is g++'s.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_CUDAEMU_H
#define MOELA_TEST_EMU_CUDAEMU_H

#include <math.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

// ---- Keywords -------------------------------------------------------------------------

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ thread_local
#define __restrict__ __restrict

// ---- Vector types and built-in variables ----------------------------------------------

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- Number formats (bit exact, independent of the CUDA headers) ----------------------

namespace emu {
namespace num {

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float fromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float bf16ToFloat(uint16_t b) { return fromBits(uint32_t(b) << 16); }

/// Round to nearest even; NaN -> 0x7fff (cvt.rn.bf16.f32's canonical NaN).
inline uint16_t floatToBf16(float f) {
  uint32_t u = bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fff;
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const int e = (h >> 10) & 31, m = h & 1023;
  float mag;
  if (e == 31)
    mag = m ? NAN : INFINITY;
  else if (e == 0)
    mag = ldexpf(float(m), -24);
  else
    mag = ldexpf(1.0f + float(m) / 1024.0f, e - 15);
  return fromBits(bits(mag) | sign);
}

/// Round to nearest even; NaN -> 0x7fff.
inline uint16_t floatToHalf(float f) {
  const uint16_t sign = uint16_t((bits(f) >> 16) & 0x8000u);
  const double a = fabs(double(f));
  if (a != a)
    return 0x7fff;
  if (a >= 65520.0) // rounds to infinity
    return sign | 0x7c00;
  if (a < ldexp(1.0, -14)) // subnormal (m = 1024 is the smallest normal)
    return sign | uint16_t(nearbyint(a * ldexp(1.0, 24)));
  int e;
  frexp(a, &e); // a = f * 2^e, f in [0.5, 1)
  double m = nearbyint((a / ldexp(1.0, e - 1) - 1.0) * 1024.0);
  if (m == 1024.0) {
    m = 0;
    ++e;
  }
  const int field = e - 1 + 15;
  if (field >= 31)
    return sign | 0x7c00;
  return sign | uint16_t(field << 10) | uint16_t(m);
}

/// e4m3fn: no infinities; 0x7f / 0xff are NaN; largest finite 448.
inline float e4m3ToFloat(uint8_t v) {
  const int e = (v >> 3) & 15, m = v & 7;
  float mag;
  if (e == 15 && m == 7)
    mag = NAN;
  else if (e == 0)
    mag = ldexpf(float(m), -9);
  else
    mag = ldexpf(1.0f + float(m) / 8.0f, e - 7);
  return (v & 0x80) ? -mag : mag;
}

/// Round to nearest even with saturation to +-448 (infinities too); NaN -> 0x7f.
inline uint8_t floatToE4m3(float f) {
  const uint8_t sign = (bits(f) >> 31) ? 0x80 : 0;
  const double a = fabs(double(f));
  if (a != a)
    return 0x7f;
  if (a >= 448.0)
    return sign | 0x7e;
  if (a < ldexp(1.0, -6)) // subnormal: m * 2^-9 (m = 8 is the smallest normal)
    return sign | uint8_t(nearbyint(a * 512.0));
  int e;
  frexp(a, &e);
  double m = nearbyint((a / ldexp(1.0, e - 1) - 1.0) * 8.0);
  if (m == 8.0) {
    m = 0;
    ++e;
  }
  const int field = e - 1 + 7;
  const int code = (field << 3) | int(m);
  return sign | uint8_t(code > 0x7e ? 0x7e : code);
}

} // namespace num
} // namespace emu

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(emu::num::floatToBf16(f)) {}
  __nv_bfloat16(double d) : __x(emu::num::floatToBf16(float(d))) {}
  operator float() const { return emu::num::bf16ToFloat(__x); }
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y; // x at the lower address
};
struct __nv_fp8_e4m3 {
  unsigned char __x;
  __nv_fp8_e4m3() = default;
  explicit __nv_fp8_e4m3(float f) : __x(emu::num::floatToE4m3(f)) {}
  explicit __nv_fp8_e4m3(double d) : __x(emu::num::floatToE4m3(float(d))) {}
  explicit operator float() const { return emu::num::e4m3ToFloat(__x); }
};
static_assert(sizeof(__nv_bfloat16) == 2 && sizeof(__nv_bfloat162) == 4 &&
                  sizeof(__nv_fp8_e4m3) == 1,
              "storage sizes as in CUDA");

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return float(b); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__nv_bfloat16(lo), __nv_bfloat16(hi)};
}

// ---- Math intrinsics (IEEE, accurate) -------------------------------------------------

inline float __int_as_float(int v) { return emu::num::fromBits(uint32_t(v)); }
inline float __uint_as_float(unsigned v) { return emu::num::fromBits(v); }
inline int __float_as_int(float f) { return int(emu::num::bits(f)); }
inline unsigned __float_as_uint(float f) { return emu::num::bits(f); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float *s, float *c) { sincosf(x, s, c); }
/// sin(pi x), cos(pi x): x reduced exactly to [-1, 1], then in long double.
inline void sincospi(double x, double *s, double *c) {
  const long double a =
      static_cast<long double>(x - 2.0 * rint(0.5 * x)) * 3.14159265358979323846264338327950288L;
  *s = static_cast<double>(sinl(a));
  *c = static_cast<double>(cosl(a));
}
inline float __powf(float x, float y) { return powf(x, y); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __clz(int v) { return v ? __builtin_clz(unsigned(v)) : 32; }
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i)
    r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

// ---- The runtime ----------------------------------------------------------------------

namespace emu {

/// A failed launch: __trap, a broken CUDA rule or a PTX check. The message
/// names the block and the thread.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The sm_90 per-block maximum of dynamic shared memory (227 KiB).
constexpr unsigned kMaxDynamicSharedBytes = 232448;
/// Bytes past a launch's dynamic shared memory checked to stay untouched.
constexpr unsigned kSharedGuardBytes = 4096;

struct Options {
  int workers = 0;           // OS threads running blocks; 0 = all cores
  bool shuffle = true;       // seeded fiber order, else thread index order
  uint64_t scheduleSeed = 0; // base seed of the fiber order
  bool checkGlobal = false;  // cp.async sources must lie in a GlobalRange
};

namespace detail {

inline Options readOptions() {
  Options o;
  if (const char *w = std::getenv("MOELA_EMU_WORKERS"))
    o.workers = std::atoi(w);
  if (const char *s = std::getenv("MOELA_EMU_SCHEDULE")) {
    if (std::string(s) == "forward")
      o.shuffle = false;
    else
      o.scheduleSeed = std::strtoull(s, nullptr, 0);
  }
  return o;
}

} // namespace detail

/// The emulator's settings (from MOELA_EMU_WORKERS and MOELA_EMU_SCHEDULE at
/// first use; tests may change them between launches).
inline Options &options() {
  static Options o = detail::readOptions();
  return o;
}

namespace detail {

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kGuardPage = 4096;

/// A pending cp.async: lands at cp.async.wait_group.
struct Copy {
  unsigned char *dst;
  const unsigned char *src;
  int size, srcSize;
  long long group; // -1: not committed yet
};

struct Fiber {
  ucontext_t ctx;
  unsigned char *mapping = nullptr; // guard page + stack
  uint3 tid{};
  unsigned linear = 0, warp = 0, lane = 0;
  enum State : uint8_t { kReady, kWaiting, kDone, kAborted } state = kDone;
  const unsigned *waitOn = nullptr; // runnable again once *waitOn != waitSeen
  unsigned waitSeen = 0;
  const char *waitWhat = "";
  unsigned collectives = 0;        // warp collectives executed (all lanes agree)
  unsigned wgCollectives = 0;      // warpgroup collectives executed
  std::vector<uintptr_t> unfenced; // 16-byte chunks it wrote (address >> 4), not fenced
  std::vector<Copy> copies;
  long long committed = 0; // cp.async groups committed
  void *jump[5];           // where it waits (__builtin_setjmp), once started
  bool started = false;    // entered through ctx yet

  Fiber() = default;
  Fiber(const Fiber &) = delete;
  Fiber &operator=(const Fiber &) = delete;
  ~Fiber() {
    if (mapping)
      munmap(mapping, kStackBytes + kGuardPage);
  }
};

/// Kinds of warp collectives: every lane of a rendezvous must agree.
enum Kind : int {
  kShflIdx = 1,
  kShflXor,
  kShflUp,
  kShflDown,
  kBallot,
  kAny,
  kAll,
  kMatchAny,
  kSyncWarp,
  kLdmatrix,   // + 8 * num + (trans ? 64 : 0)
  kMma = 1000, // + variant
  kWgFence = 2000, // warpgroup collectives (wgmma.*)
  kWgCommit,
  kWgWait,
  kWgMma,
};

inline const char *kindName(int k) {
  switch (k) {
  case kShflIdx:
    return "__shfl_sync";
  case kShflXor:
    return "__shfl_xor_sync";
  case kShflUp:
    return "__shfl_up_sync";
  case kShflDown:
    return "__shfl_down_sync";
  case kBallot:
    return "__ballot_sync";
  case kAny:
    return "__any_sync";
  case kAll:
    return "__all_sync";
  case kMatchAny:
    return "__match_any_sync";
  case kSyncWarp:
    return "__syncwarp";
  case kWgFence:
    return "wgmma.fence";
  case kWgCommit:
    return "wgmma.commit_group";
  case kWgWait:
    return "wgmma.wait_group";
  case kWgMma:
    return "wgmma.mma_async";
  default:
    return k >= kMma ? "mma.sync" : "ldmatrix";
  }
}

struct Slot {
  int kind;
  unsigned seq;
  alignas(16) unsigned char in[64];
  alignas(16) unsigned char out[16];
};

/// 16 shared-memory bytes an in-flight asynchronous operation (wgmma) read,
/// as they were at the issue: they must not change until it completes.
struct AsyncRead {
  const unsigned char *p;
  unsigned addr;
  unsigned char bytes[16];
};

/// A warpgroup (4 consecutive warps, the first a multiple of 4): its
/// rendezvous (every wgmma instruction is .sync.aligned over the 128
/// threads) and its wgmma groups (PtxEmu.h).
struct WarpgroupState {
  unsigned arrived = 0, gen = 0;
  int pendingKind = 0;
  struct {
    int kind;
    unsigned seq;
    const void *in;
  } slot[128];
  bool fenced = false;                          // wgmma.fence since the last wait_group
  std::vector<AsyncRead> uncommitted;           // wgmma.mma_async since the last commit
  std::deque<std::vector<AsyncRead>> committed; // oldest first
};

/// An mbarrier object (PtxEmu.h), keyed by its shared address; its 8 bytes
/// hold `encoded` (checked at every use: a generic store over a live barrier
/// fails the launch).
struct Mbarrier {
  unsigned expected = 0, pending = 0;
  unsigned phase = 0; // completed phases
  uint64_t encoded = 0;
};

struct WarpState {
  unsigned arrived = 0, gen = 0, exited = 0;
  int pendingKind = 0; // of the rendezvous lanes are waiting at
  Slot slot[2][32];    // double buffered: collective n uses slot[n & 1]
};

/// The live GlobalRanges: begin -> end.
struct GlobalRanges {
  std::mutex m;
  std::map<uintptr_t, uintptr_t> ranges;
};
inline GlobalRanges &globalRanges() {
  static GlobalRanges g;
  return g;
}

/// What a launch runs, shared by its workers.
struct LaunchState {
  void (*invoke)(const void *kernel, const void *args);
  const void *kernel, *args;
  dim3 grid, block;
  unsigned sharedBytes;
  uint64_t seed;
  bool checkGlobal;
  std::vector<std::pair<uintptr_t, uintptr_t>> globals; // sorted [begin, end)

  /// Whether [p, p + bytes) lies in one device allocation.
  bool inGlobal(const void *p, size_t bytes) const {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = std::upper_bound(globals.begin(), globals.end(), std::make_pair(a, ~uintptr_t(0)));
    return it != globals.begin() && a + bytes <= std::prev(it)->second;
  }
};

struct Runner;
inline thread_local Runner *tlsRunner = nullptr;

/// Places dynamic shared arrays (MOELA_EMU_DYNAMIC_SHARED) register here.
struct DynamicShared {
  void *(*get)(); // this thread's instance
  const char *name;
  size_t bytes;
};
inline std::vector<DynamicShared> &dynamicShared() {
  static std::vector<DynamicShared> v;
  return v;
}
inline bool registerDynamicShared(void *(*get)(), const char *name, size_t bytes) {
  dynamicShared().push_back({get, name, bytes});
  return true;
}

/// Shared-memory addresses (cvta.to.shared, ldmatrix, cp.async): 32-bit
/// offsets from this anchor, which lies in the same thread-local block as
/// every __shared__ object of the worker; except in the dynamic shared
/// arrays: byte b of array i is at kDynamicWindowBase + (i << 20) +
/// kDynamicWindowOffset + b, so that, as on the GPU, a launch's dynamic
/// shared memory lies within 2^18 bytes of a window start (the wgmma
/// descriptors keep 18 address bits) and does not start 1024-byte aligned.
alignas(16) inline thread_local unsigned char sharedAnchor = 0;
constexpr uint32_t kDynamicWindowBase = 0x40000000u;
constexpr unsigned kDynamicWindowShift = 20;
constexpr uint32_t kDynamicWindowOffset = 384;

/// One per OS thread: runs blocks as fibers.
struct Runner {
  const LaunchState *launch = nullptr;
  std::vector<std::unique_ptr<Fiber>> fibers;
  Fiber *current = nullptr;
  unsigned threads = 0, exited = 0, barArrived = 0, barGen = 0;
  std::vector<WarpState> warps;
  std::vector<WarpgroupState> warpgroups;
  std::map<unsigned, Mbarrier> mbarriers;
  // Shared 16-byte chunks (host address >> 4) written through the generic
  // proxy (st.shared, cp.async) and not yet followed by the writer's
  // fence.proxy.async: chunk -> the writer's linear thread index.
  std::unordered_map<uintptr_t, unsigned> unfencedChunks;
  // The dynamic shared array the block's __cvta_generic_to_shared pointed
  // into: -1 none yet, -2 several.
  int activeArray = -1;
  std::vector<unsigned> order;
  std::mt19937_64 rng;
  bool failed = false;
  std::string error;
  std::vector<unsigned char *> arrays; // this thread's dynamic shared arrays
  void *schedJump[5];                  // the scheduler, while a fiber runs

  Runner() {
    for (const DynamicShared &d : dynamicShared())
      arrays.push_back(static_cast<unsigned char *>(d.get()));
  }

  static Runner &self() {
    thread_local Runner r;
    return r;
  }

  std::string where(const Fiber *f) const {
    char buf[128];
    if (f)
      std::snprintf(buf, sizeof buf, "block (%u,%u,%u) thread (%u,%u,%u): ", blockIdx.x, blockIdx.y,
                    blockIdx.z, f->tid.x, f->tid.y, f->tid.z);
    else
      std::snprintf(buf, sizeof buf, "block (%u,%u,%u): ", blockIdx.x, blockIdx.y, blockIdx.z);
    return buf;
  }

  void record(const Fiber *f, const std::string &msg) {
    if (!failed) {
      failed = true;
      error = where(f) + msg;
    }
  }

  static void fiberMain();
  // Fibers switch with __builtin_setjmp/longjmp: swapcontext would make a
  // sigprocmask system call per switch (half of the emulation's time). The
  // contexts are used only to enter a fiber's stack the first time.
  [[noreturn]] __attribute__((noinline)) void toScheduler() {
    __builtin_longjmp(schedJump, 1);
  }
  [[noreturn]] __attribute__((noinline)) static void enter(Fiber &f) {
    if (f.started)
      __builtin_longjmp(f.jump, 1);
    f.started = true;
    setcontext(&f.ctx);
    __builtin_unreachable();
  }
  void runBlock(const LaunchState &l, unsigned linearBlock);
  void schedule();
  void exitThread(Fiber &f);
};

/// Fails the running launch (from kernel code) or throws (outside one).
[[noreturn]] inline void fail(const std::string &msg) {
  Runner *r = tlsRunner;
  if (r && r->current) {
    Fiber *f = r->current;
    r->record(f, msg);
    f->state = Fiber::kAborted;
    r->toScheduler(); // never returns: the block is abandoned
  }
  throw Error(msg);
}

inline Runner &runner() {
  if (!tlsRunner || !tlsRunner->current)
    throw Error("CUDA device function called outside an emulated kernel");
  return *tlsRunner;
}
inline Fiber &fiber() { return *runner().current; }

/// Suspends the current fiber until *on != seen.
inline void waitUntilChanged(const unsigned *on, unsigned seen, const char *what) {
  Runner &r = runner();
  Fiber &f = *r.current;
  f.state = Fiber::kWaiting;
  f.waitOn = on;
  f.waitSeen = seen;
  f.waitWhat = what;
  if (__builtin_setjmp(f.jump) == 0)
    r.toScheduler();
}

inline void Runner::fiberMain() {
  Runner &r = *tlsRunner;
  r.launch->invoke(r.launch->kernel, r.launch->args);
  r.exitThread(*r.current);
  r.toScheduler();
}

inline void Runner::exitThread(Fiber &f) {
  f.state = Fiber::kDone;
  ++exited;
  WarpState &w = warps[f.warp];
  ++w.exited;
  if (barArrived > 0)
    record(&f, "exited while " + std::to_string(barArrived) +
                   " threads of its block wait at __syncthreads");
  if (w.arrived > 0)
    record(&f, "exited while " + std::to_string(w.arrived) + " lanes of its warp wait at " +
                   kindName(w.pendingKind));
  if (f.linear / 128 < warpgroups.size()) {
    WarpgroupState &g = warpgroups[f.linear / 128];
    if (g.arrived > 0)
      record(&f, "exited while " + std::to_string(g.arrived) +
                     " threads of its warpgroup wait at " + kindName(g.pendingKind));
  }
}

inline void Runner::runBlock(const LaunchState &l, unsigned linearBlock) {
  launch = &l;
  const unsigned gx = l.grid.x, gy = l.grid.y;
  blockIdx = {linearBlock % gx, (linearBlock / gx) % gy, linearBlock / (gx * gy)};
  blockDim = l.block;
  gridDim = l.grid;
  threads = l.block.x * l.block.y * l.block.z;
  exited = barArrived = barGen = 0;
  warps.assign((threads + 31) / 32, WarpState{});
  warpgroups.clear();
  warpgroups.resize(threads / 128);
  mbarriers.clear();
  unfencedChunks.clear();
  activeArray = -1;
  if (threads % 32) // lanes past the block never arrive anywhere
    warps.back().exited = 32 - threads % 32;
  for (size_t i = 0; i < arrays.size(); ++i)
    std::memset(arrays[i], 0xff,
                std::min<size_t>(dynamicShared()[i].bytes, l.sharedBytes + kSharedGuardBytes));
  while (fibers.size() < threads) {
    auto f = std::make_unique<Fiber>();
    void *m = mmap(nullptr, kStackBytes + kGuardPage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
      throw Error("emu: cannot map a fiber stack");
    mprotect(m, kGuardPage, PROT_NONE); // overflow faults instead of corrupting
    f->mapping = static_cast<unsigned char *>(m);
    fibers.push_back(std::move(f));
  }
  for (unsigned t = 0; t < threads; ++t) {
    Fiber &f = *fibers[t];
    f.linear = t;
    f.tid = {t % l.block.x, (t / l.block.x) % l.block.y, t / (l.block.x * l.block.y)};
    f.warp = t / 32;
    f.lane = t % 32;
    f.state = Fiber::kReady;
    f.collectives = 0;
    f.wgCollectives = 0;
    f.unfenced.clear();
    f.copies.clear();
    f.committed = 0;
    f.started = false;
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = f.mapping + kGuardPage;
    f.ctx.uc_stack.ss_size = kStackBytes;
    f.ctx.uc_link = nullptr; // fiberMain leaves through toScheduler
    makecontext(&f.ctx, &Runner::fiberMain, 0);
  }
  order.resize(threads);
  for (unsigned t = 0; t < threads; ++t)
    order[t] = t;
  rng.seed(l.seed ^ (0x9e3779b97f4a7c15ull * (linearBlock + 1)));
  schedule();
  current = nullptr;
  if (failed)
    return;
  for (size_t g = 0; g < warpgroups.size(); ++g)
    if (!warpgroups[g].uncommitted.empty() || !warpgroups[g].committed.empty()) {
      record(nullptr, "warpgroup " + std::to_string(g) +
                          " exited with wgmma.mma_async operations not waited for "
                          "(wgmma.commit_group + wgmma.wait_group 0)");
      return;
    }
  for (size_t i = 0; i < arrays.size(); ++i) {
    const size_t from = l.sharedBytes,
                 to = std::min<size_t>(dynamicShared()[i].bytes, from + kSharedGuardBytes);
    for (size_t b = from; b < to; ++b)
      if (arrays[i][b] != 0xff) {
        record(nullptr, std::string("wrote dynamic shared memory past the launch's ") +
                            std::to_string(l.sharedBytes) + " bytes (" + dynamicShared()[i].name +
                            "[byte " + std::to_string(b) + "])");
        return;
      }
  }
}

inline void Runner::schedule() {
  tlsRunner = this;
  const Options &opt = options();
  for (;;) {
    if (opt.shuffle)
      std::shuffle(order.begin(), order.end(), rng);
    bool progressed = false;
    unsigned done = 0;
    for (unsigned idx : order) {
      Fiber &f = *fibers[idx];
      if (f.state == Fiber::kDone || f.state == Fiber::kAborted) {
        ++done;
        continue;
      }
      if (f.state == Fiber::kWaiting && *f.waitOn == f.waitSeen)
        continue;
      f.state = Fiber::kReady;
      current = &f;
      threadIdx = f.tid;
      if (__builtin_setjmp(schedJump) == 0)
        enter(f);
      progressed = true;
      if (failed)
        return;
    }
    if (done == threads)
      return;
    if (!progressed) { // every live fiber waits for another: say where they wait
      std::map<std::string, unsigned> waiting;
      for (unsigned t = 0; t < threads; ++t)
        if (fibers[t]->state == Fiber::kWaiting)
          ++waiting[fibers[t]->waitWhat];
      std::string msg = "deadlock:";
      for (const auto &[what, n] : waiting)
        msg += " " + std::to_string(n) + " threads wait at " + what + ";";
      current = nullptr;
      record(nullptr, msg + " " + std::to_string(exited) + " exited");
      return;
    }
  }
}

/// A warp rendezvous: every lane deposits `in`; the last to arrive checks that
/// all lanes are at the same kind of collective and runs compute(slots), which
/// fills each lane's `out`; every lane then gets its own `out`.
template <typename Compute>
inline void warpCollective(int kind, const void *in, size_t inBytes, void *out, size_t outBytes,
                           Compute compute) {
  Runner &r = runner();
  Fiber &f = *r.current;
  WarpState &w = r.warps[f.warp];
  const unsigned seq = f.collectives++;
  Slot(&slots)[32] = w.slot[seq & 1];
  Slot &mine = slots[f.lane];
  mine.kind = kind;
  mine.seq = seq;
  if (inBytes)
    std::memcpy(mine.in, in, inBytes);
  if (w.exited)
    fail(std::string(kindName(kind)) + " in a warp with " + std::to_string(w.exited) +
         " exited or missing lanes");
  const unsigned gen = w.gen;
  if (w.arrived == 0)
    w.pendingKind = kind;
  if (++w.arrived == 32) {
    for (int l = 0; l < 32; ++l)
      if (slots[l].kind != kind || slots[l].seq != seq)
        fail(std::string("warp divergence: lane ") + std::to_string(l) + " is at " +
             kindName(slots[l].kind) + " (#" + std::to_string(slots[l].seq) + "), lane " +
             std::to_string(f.lane) + " at " + kindName(kind) + " (#" + std::to_string(seq) + ")");
    compute(slots);
    w.arrived = 0;
    ++w.gen;
  } else {
    waitUntilChanged(&w.gen, gen, kindName(kind));
  }
  if (outBytes)
    std::memcpy(out, mine.out, outBytes);
}

/// A warpgroup rendezvous (wgmma.*: .sync.aligned over 128 threads): every
/// thread of the warpgroup deposits `in` (a pointer that stays valid while it
/// waits, e.g. to its registers); the last to arrive checks that all are at
/// the same kind of collective and runs compute(ins), which may write through
/// the pointers. The block must hold the whole warpgroup, none of it exited.
template <typename Compute>
inline void warpgroupCollective(int kind, const void *in, Compute compute) {
  Runner &r = runner();
  Fiber &f = *r.current;
  const unsigned wg = f.linear / 128, rank = f.linear % 128;
  if (wg >= r.warpgroups.size())
    fail(std::string(kindName(kind)) + ": thread " + std::to_string(f.linear) +
         " is not in a complete warpgroup (the block has " + std::to_string(r.threads) +
         " threads)");
  WarpgroupState &w = r.warpgroups[wg];
  const unsigned seq = f.wgCollectives++;
  w.slot[rank].kind = kind;
  w.slot[rank].seq = seq;
  w.slot[rank].in = in;
  for (unsigned q = 0; q < 4; ++q)
    if (r.warps[4 * wg + q].exited)
      fail(std::string(kindName(kind)) + " in a warpgroup with " +
           std::to_string(r.warps[4 * wg + q].exited) + " exited threads");
  const unsigned gen = w.gen;
  if (w.arrived == 0)
    w.pendingKind = kind;
  if (++w.arrived == 128) {
    const void *ins[128];
    for (int t = 0; t < 128; ++t) {
      if (w.slot[t].kind != kind || w.slot[t].seq != seq)
        fail(std::string("warpgroup divergence: thread ") + std::to_string(128 * wg + t) +
             " is at " + kindName(w.slot[t].kind) + " (#" + std::to_string(w.slot[t].seq) +
             "), thread " + std::to_string(f.linear) + " at " + kindName(kind) + " (#" +
             std::to_string(seq) + ")");
      ins[t] = w.slot[t].in;
    }
    compute(ins, w);
    w.arrived = 0;
    ++w.gen;
  } else {
    waitUntilChanged(&w.gen, gen, kindName(kind));
  }
}

inline void requireFullMask(unsigned mask, const char *what) {
  if (mask != 0xffffffffu)
    fail(std::string(what) + " with mask " + std::to_string(mask) +
         ": the emulator supports full-warp masks only");
}

/// Shuffle: lane l gets the value of lane src(l) (within segments of `width`).
template <typename T> inline T shuffle(int kind, unsigned mask, T v, int param, int width) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 16, "shuffle type");
  requireFullMask(mask, kindName(kind));
  struct In {
    T v;
    int param, width;
  } in{v, param, width};
  static_assert(sizeof(In) <= sizeof(Slot::in), "slot size");
  T out;
  warpCollective(kind, &in, sizeof in, &out, sizeof out, [kind](Slot(&s)[32]) {
    for (int l = 0; l < 32; ++l) {
      In a;
      std::memcpy(&a, s[l].in, sizeof a);
      const int wd = a.width, base = l & ~(wd - 1), rel = l - base;
      int src = l;
      if (kind == kShflIdx)
        src = base + ((a.param % wd) + wd) % wd;
      else if (kind == kShflXor)
        src = (rel ^ a.param) < wd ? base + (rel ^ a.param) : l;
      else if (kind == kShflUp)
        src = rel - a.param >= 0 ? l - a.param : l;
      else if (kind == kShflDown)
        src = rel + a.param < wd ? l + a.param : l;
      In b;
      std::memcpy(&b, s[src].in, sizeof b);
      std::memcpy(s[l].out, &b.v, sizeof(T));
    }
  });
  return out;
}

inline void checkWidth(int width) {
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail("shuffle width " + std::to_string(width) + " is not a power of two in [1, 32]");
}

} // namespace detail

/// While alive, [p, p + bytes) counts as device memory: with
/// Options::checkGlobal, a cp.async that reads outside every such range fails
/// the launch. Tests register the buffers they give kernels (move-only).
class GlobalRange {
public:
  GlobalRange() = default;
  GlobalRange(const void *p, size_t bytes) : begin_(reinterpret_cast<uintptr_t>(p)) {
    detail::GlobalRanges &g = detail::globalRanges();
    std::lock_guard<std::mutex> lock(g.m);
    g.ranges[begin_] = begin_ + bytes;
  }
  GlobalRange(GlobalRange &&o) noexcept : begin_(o.begin_) { o.begin_ = 0; }
  GlobalRange &operator=(GlobalRange &&o) noexcept {
    std::swap(begin_, o.begin_);
    return *this;
  }
  GlobalRange(const GlobalRange &) = delete;
  GlobalRange &operator=(const GlobalRange &) = delete;
  ~GlobalRange() {
    if (!begin_)
      return;
    detail::GlobalRanges &g = detail::globalRanges();
    std::lock_guard<std::mutex> lock(g.m);
    g.ranges.erase(begin_);
  }

private:
  uintptr_t begin_ = 0;
};

/// The dynamic shared array `name` of the running block (tests of the
/// emulator itself).
inline unsigned char *currentDynamicShared(const char *name) {
  detail::Runner &r = detail::runner();
  for (size_t i = 0; i < r.arrays.size(); ++i)
    if (std::strcmp(detail::dynamicShared()[i].name, name) == 0)
      return r.arrays[i];
  return nullptr;
}

} // namespace emu

/// Defines the dynamic shared array that kernels declare as
/// `extern __shared__ Type Name[]`, in the current namespace (the kernel's).
#define MOELA_EMU_DYNAMIC_SHARED(Type, Name)                                                       \
  alignas(128) inline thread_local Type Name[::emu::kMaxDynamicSharedBytes / sizeof(Type)];        \
  inline const bool Name##EmuRegistered =                                                          \
      ::emu::detail::registerDynamicShared([]() -> void * { return Name; }, #Name, sizeof(Name))

// ---- Synchronisation, warp primitives, atomics ----------------------------------------

inline void __syncthreads() {
  emu::detail::Runner &r = emu::detail::runner();
  if (r.exited)
    emu::detail::fail("__syncthreads after " + std::to_string(r.exited) +
                      " threads of the block exited");
  const unsigned gen = r.barGen;
  if (++r.barArrived == r.threads) {
    r.barArrived = 0;
    ++r.barGen;
    return;
  }
  emu::detail::waitUntilChanged(&r.barGen, gen, "__syncthreads");
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::detail::requireFullMask(mask, "__syncwarp");
  emu::detail::warpCollective(emu::detail::kSyncWarp, nullptr, 0, nullptr, 0,
                              [](emu::detail::Slot(&)[32]) {});
}

inline unsigned __activemask() {
  emu::detail::Runner &r = emu::detail::runner();
  const emu::detail::Fiber &me = *r.current;
  unsigned m = 0;
  for (unsigned l = 0; l < 32; ++l) {
    const unsigned t = me.warp * 32 + l;
    if (t < r.threads && r.fibers[t]->state != emu::detail::Fiber::kDone)
      m |= 1u << l;
  }
  return m;
}

template <typename T> inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflIdx, mask, v, src, width);
}
template <typename T> inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflXor, mask, v, laneMask, width);
}
template <typename T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflUp, mask, v, int(delta), width);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflDown, mask, v, int(delta), width);
}

namespace emu {
namespace detail {
/// ballot / any / all: out = the ballot of every lane's predicate.
inline unsigned vote(int kind, unsigned mask, int pred) {
  requireFullMask(mask, kindName(kind));
  const int p = pred != 0;
  unsigned out;
  warpCollective(kind, &p, sizeof p, &out, sizeof out, [](Slot(&s)[32]) {
    unsigned b = 0;
    for (int l = 0; l < 32; ++l) {
      int v;
      std::memcpy(&v, s[l].in, sizeof v);
      b |= unsigned(v) << l;
    }
    for (int l = 0; l < 32; ++l)
      std::memcpy(s[l].out, &b, sizeof b);
  });
  return out;
}
} // namespace detail
} // namespace emu

inline unsigned __ballot_sync(unsigned mask, int pred) {
  return emu::detail::vote(emu::detail::kBallot, mask, pred);
}
inline int __any_sync(unsigned mask, int pred) {
  return emu::detail::vote(emu::detail::kAny, mask, pred) != 0;
}
inline int __all_sync(unsigned mask, int pred) {
  return emu::detail::vote(emu::detail::kAll, mask, pred) == 0xffffffffu;
}

template <typename T> inline unsigned __match_any_sync(unsigned mask, T value) {
  static_assert(std::is_integral<T>::value && sizeof(T) <= 8, "match_any: 32/64-bit integers");
  emu::detail::requireFullMask(mask, "__match_any_sync");
  const long long v = static_cast<long long>(value);
  unsigned out;
  emu::detail::warpCollective(emu::detail::kMatchAny, &v, sizeof v, &out, sizeof out,
                              [](emu::detail::Slot(&s)[32]) {
                                for (int l = 0; l < 32; ++l) {
                                  long long a, b;
                                  std::memcpy(&a, s[l].in, sizeof a);
                                  unsigned m = 0;
                                  for (int k = 0; k < 32; ++k) {
                                    std::memcpy(&b, s[k].in, sizeof b);
                                    m |= unsigned(a == b) << k;
                                  }
                                  std::memcpy(s[l].out, &m, sizeof m);
                                }
                              });
  return out;
}

template <typename T> inline T emuAtomicRmw(T *p, T v, int op) {
  static_assert(std::is_integral<T>::value, "integer atomics");
  switch (op) {
  case 0:
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
  case 1:
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
  case 2:
    return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
  case 3:
    return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
  default:
    return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
  }
}
inline int atomicAdd(int *p, int v) { return emuAtomicRmw(p, v, 0); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return emuAtomicRmw(p, v, 0); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
  return emuAtomicRmw(p, v, 0);
}
inline float atomicAdd(float *p, float v) {
  uint32_t old = __atomic_load_n(reinterpret_cast<uint32_t *>(p), __ATOMIC_SEQ_CST), next;
  do
    next = emu::num::bits(emu::num::fromBits(old) + v);
  while (!__atomic_compare_exchange_n(reinterpret_cast<uint32_t *>(p), &old, next, false,
                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
  return emu::num::fromBits(old);
}
inline int atomicSub(int *p, int v) { return emuAtomicRmw(p, -v, 0); }
inline int atomicExch(int *p, int v) { return emuAtomicRmw(p, v, 1); }
inline unsigned atomicExch(unsigned *p, unsigned v) { return emuAtomicRmw(p, v, 1); }
inline int atomicOr(int *p, int v) { return emuAtomicRmw(p, v, 2); }
inline unsigned atomicOr(unsigned *p, unsigned v) { return emuAtomicRmw(p, v, 2); }
inline int atomicAnd(int *p, int v) { return emuAtomicRmw(p, v, 3); }
inline unsigned atomicAnd(unsigned *p, unsigned v) { return emuAtomicRmw(p, v, 3); }
inline int atomicXor(int *p, int v) { return emuAtomicRmw(p, v, 4); }
template <typename T> inline T atomicCAS(T *p, T compare, T v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
template <typename T> inline T emuAtomicMinMax(T *p, T v, bool isMax) {
  T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while ((isMax ? v > old : v < old) &&
         !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  return old;
}
inline int atomicMax(int *p, int v) { return emuAtomicMinMax(p, v, true); }
inline unsigned atomicMax(unsigned *p, unsigned v) { return emuAtomicMinMax(p, v, true); }
inline int atomicMin(int *p, int v) { return emuAtomicMinMax(p, v, false); }
inline unsigned atomicMin(unsigned *p, unsigned v) { return emuAtomicMinMax(p, v, false); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

[[noreturn]] inline void __trap() { emu::detail::fail("__trap()"); }

/// A shared-memory address (the 32-bit offset PTX uses) of a __shared__
/// object (see sharedAnchor). Notes the dynamic shared array it points into
/// (Runner::activeArray: the wgmma descriptors keep only 18 address bits).
inline size_t __cvta_generic_to_shared(const void *p) {
  namespace d = emu::detail;
  const unsigned char *c = static_cast<const unsigned char *>(p);
  if (d::Runner *r = d::tlsRunner)
    for (size_t i = 0; i < r->arrays.size(); ++i)
      if (c >= r->arrays[i] && c < r->arrays[i] + d::dynamicShared()[i].bytes) {
        if (r->current) {
          if (r->activeArray == -1)
            r->activeArray = int(i);
          else if (r->activeArray != int(i))
            r->activeArray = -2;
        }
        return d::kDynamicWindowBase + (uint32_t(i) << d::kDynamicWindowShift) +
               d::kDynamicWindowOffset + uint32_t(c - r->arrays[i]);
      }
  return uint32_t(reinterpret_cast<uintptr_t>(p) -
                  reinterpret_cast<uintptr_t>(&d::sharedAnchor));
}

// ---- Launch ---------------------------------------------------------------------------

namespace emu {
namespace detail {

/// Worker threads (the caller is worker 0); each keeps its Runner (fiber
/// stacks, shared arrays) for the whole process.
class Pool {
public:
  static Pool &get() {
    static Pool p;
    return p;
  }

  /// Runs body(worker) on `n` workers (the caller included); returns when all are done.
  void run(int n, const std::function<void(int)> &body) {
    std::unique_lock<std::mutex> lock(m_);
    while (int(threads_.size()) < n - 1) {
      const int index = int(threads_.size()) + 1;
      threads_.emplace_back([this, index] { loop(index); });
    }
    body_ = &body;
    active_ = n;
    pending_ = n - 1;
    ++generation_;
    cv_.notify_all();
    lock.unlock();
    body(0);
    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    body_ = nullptr;
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
      ++generation_;
    }
    cv_.notify_all();
    for (std::thread &t : threads_)
      t.join();
  }

private:
  void loop(int index) {
    unsigned seen = 0;
    for (;;) {
      std::unique_lock<std::mutex> lock(m_);
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
      if (index >= active_)
        continue;
      const std::function<void(int)> *body = body_;
      lock.unlock();
      (*body)(index);
      lock.lock();
      if (--pending_ == 0)
        done_.notify_all();
    }
  }

  std::mutex m_;
  std::condition_variable cv_, done_;
  std::vector<std::thread> threads_;
  const std::function<void(int)> *body_ = nullptr;
  int active_ = 0, pending_ = 0;
  unsigned generation_ = 0;
  bool stop_ = false;
};

inline void runLaunch(const LaunchState &l) {
  const unsigned long long blocks = 1ull * l.grid.x * l.grid.y * l.grid.z;
  const unsigned long long threads = 1ull * l.block.x * l.block.y * l.block.z;
  if (blocks == 0 || threads == 0)
    throw Error("emu::launch: empty grid or block");
  if (threads > 1024)
    throw Error("emu::launch: " + std::to_string(threads) + " threads per block (max 1024)");
  if (l.grid.y > 65535 || l.grid.z > 65535)
    throw Error("emu::launch: grid y/z over 65535");
  if (l.sharedBytes > kMaxDynamicSharedBytes)
    throw Error("emu::launch: " + std::to_string(l.sharedBytes) +
                " bytes of dynamic shared memory (max " + std::to_string(kMaxDynamicSharedBytes) +
                ")");
  std::atomic<unsigned long long> next{0};
  std::atomic<bool> failed{false};
  std::mutex errorMutex;
  std::string error;
  const int wanted = options().workers > 0 ? options().workers
                                           : int(std::max(1u, std::thread::hardware_concurrency()));
  const int workers = int(std::min<unsigned long long>(blocks, unsigned(wanted)));
  std::function<void(int)> body = [&](int) {
    Runner &r = Runner::self();
    Runner *saved = tlsRunner;
    tlsRunner = &r;
    for (unsigned long long b; !failed && (b = next++) < blocks;) {
      r.failed = false;
      r.runBlock(l, unsigned(b));
      if (r.failed) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!failed.exchange(true))
          error = r.error;
      }
    }
    tlsRunner = saved;
  };
  Pool::get().run(workers, body);
  if (failed)
    throw Error(error);
}

inline std::atomic<unsigned long long> &launchCounter() {
  static std::atomic<unsigned long long> c{0};
  return c;
}

} // namespace detail

/// Runs kernel(args) on a grid x block launch with `sharedBytes` of dynamic
/// shared memory and returns when every block is done (launches are
/// synchronous). `kernel` is any callable taking the args (a __global__
/// function, a lambda); `args` is copied once, as CUDA copies kernel
/// parameters. Throws emu::Error when the launch fails.
template <typename Kernel, typename Args>
void launch(const Kernel &kernel, dim3 grid, dim3 block, unsigned sharedBytes, const Args &args) {
  using Callable = std::decay_t<Kernel>; // functions decay to pointers
  const Callable callable = kernel;
  const Args params = args;
  detail::LaunchState l;
  l.invoke = [](const void *k, const void *a) {
    (*static_cast<const Callable *>(k))(*static_cast<const Args *>(a));
  };
  l.kernel = &callable;
  l.args = &params;
  l.grid = grid;
  l.block = block;
  l.sharedBytes = sharedBytes;
  l.seed = options().scheduleSeed * 0xbf58476d1ce4e5b9ull + detail::launchCounter()++;
  l.checkGlobal = options().checkGlobal;
  if (l.checkGlobal) {
    detail::GlobalRanges &g = detail::globalRanges();
    std::lock_guard<std::mutex> lock(g.m);
    l.globals.assign(g.ranges.begin(), g.ranges.end());
  }
  detail::runLaunch(l);
}

} // namespace emu

#endif // MOELA_TEST_EMU_CUDAEMU_H
