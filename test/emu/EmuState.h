//===- EmuState.h - What the emulated device keeps ------------------------===//
//
// The state of the emulation (CudaEmu.h): options, errors, device memory
// (GlobalRange), the dynamic shared arrays and their shared-memory
// addresses, and per block its fibers (one per CUDA thread), warps,
// warpgroups, mbarriers and pending cp.async copies. The scheduler that
// runs them is EmuScheduler.h.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUSTATE_H
#define MOELA_TEST_EMU_EMUSTATE_H

#include "EmuLanguage.h"

#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// ---- The runtime ------------------------------------------------------------

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
  unsigned collectives = 0;   // warp collectives executed (all lanes agree)
  unsigned wgCollectives = 0; // warpgroup collectives executed
  std::vector<uintptr_t>
      unfenced; // 16-byte chunks it wrote (address >> 4), not fenced
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
  kLdmatrix,       // + 8 * num + (trans ? 64 : 0)
  kMma = 1000,     // + variant
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

/// What one wgmma group (or the wgmma.mma_async since the last commit) has in
/// flight: the shared bytes its operands read, and one entry per thread and
/// wgmma of the accumulator array it writes at completion.
struct WgmmaGroup {
  std::vector<AsyncRead> reads;
  std::vector<float *> accumulators;
  bool empty() const { return reads.empty() && accumulators.empty(); }
};

/// The results of in-flight wgmmas for one thread's accumulator array: its
/// registers hold NaN (kWgmmaPendingBits) until the last group writing it
/// completes.
struct PendingAccumulators {
  std::vector<float> values;
  int inFlight = 0; // wgmma.mma_async not completed yet
};

/// A warpgroup (4 consecutive warps, the first a multiple of 4): its
/// rendezvous (every wgmma instruction is .sync.aligned over the 128
/// threads) and its wgmma groups (PtxAsyncEmu.h).
struct WarpgroupState {
  unsigned arrived = 0, gen = 0;
  int pendingKind = 0;
  struct {
    int kind;
    unsigned seq;
    const void *in;
  } slot[128];
  bool fenced = false;              // wgmma.fence since the last wait_group
  WgmmaGroup uncommitted;           // wgmma.mma_async since the last commit
  std::deque<WgmmaGroup> committed; // oldest first
  std::map<float *, PendingAccumulators> pending; // by accumulator array
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
    auto it = std::upper_bound(globals.begin(), globals.end(),
                               std::make_pair(a, ~uintptr_t(0)));
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
inline bool registerDynamicShared(void *(*get)(), const char *name,
                                  size_t bytes) {
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

} // namespace detail

/// While alive, [p, p + bytes) counts as device memory: with
/// Options::checkGlobal, a cp.async that reads outside every such range fails
/// the launch. Tests register the buffers they give kernels (move-only).
class GlobalRange {
public:
  GlobalRange() = default;
  GlobalRange(const void *p, size_t bytes)
      : begin_(reinterpret_cast<uintptr_t>(p)) {
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

} // namespace emu

/// Defines the dynamic shared array that kernels declare as
/// `extern __shared__ Type Name[]`, in the current namespace (the kernel's).
#define MOELA_EMU_DYNAMIC_SHARED(Type, Name)                                   \
  alignas(128) inline thread_local Type                                        \
      Name[::emu::kMaxDynamicSharedBytes / sizeof(Type)];                      \
  inline const bool Name##EmuRegistered =                                      \
      ::emu::detail::registerDynamicShared([]() -> void * { return Name; },    \
                                           #Name, sizeof(Name))

#endif // MOELA_TEST_EMU_EMUSTATE_H
