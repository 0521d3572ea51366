//===- EmuScheduler.h - Blocks as fibers on the worker threads ------------===//
//
// The thread scheduling of the emulation (CudaEmu.h): a Runner per OS
// thread runs one block at a time, one fiber per CUDA thread; fibers
// switch only where CUDA threads synchronise, in a seeded shuffled order,
// and a block whose live fibers all wait is a deadlock. fail() stops the
// launch from kernel code.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUSCHEDULER_H
#define MOELA_TEST_EMU_EMUSCHEDULER_H

#include "EmuState.h"
#include "EmuStaticShared.h"

#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace emu {
namespace detail {

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
      std::snprintf(buf, sizeof buf,
                    "block (%u,%u,%u) thread (%u,%u,%u): ", blockIdx.x,
                    blockIdx.y, blockIdx.z, f->tid.x, f->tid.y, f->tid.z);
    else
      std::snprintf(buf, sizeof buf, "block (%u,%u,%u): ", blockIdx.x,
                    blockIdx.y, blockIdx.z);
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
inline void waitUntilChanged(const unsigned *on, unsigned seen,
                             const char *what) {
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
    record(&f, "exited while " + std::to_string(w.arrived) +
                   " lanes of its warp wait at " + kindName(w.pendingKind));
  if (f.linear / 128 < warpgroups.size()) {
    WarpgroupState &g = warpgroups[f.linear / 128];
    if (g.arrived > 0)
      record(&f, "exited while " + std::to_string(g.arrived) +
                     " threads of its warpgroup wait at " +
                     kindName(g.pendingKind));
  }
}

inline void Runner::runBlock(const LaunchState &l, unsigned linearBlock) {
  launch = &l;
  const unsigned gx = l.grid.x, gy = l.grid.y;
  blockIdx = {linearBlock % gx, (linearBlock / gx) % gy,
              linearBlock / (gx * gy)};
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
  poisonStaticShared(); // a block must not see the previous block's values
  for (size_t i = 0; i < arrays.size(); ++i)
    std::memset(arrays[i], 0xff,
                std::min<size_t>(dynamicShared()[i].bytes,
                                 l.sharedBytes + kSharedGuardBytes));
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
    f.tid = {t % l.block.x, (t / l.block.x) % l.block.y,
             t / (l.block.x * l.block.y)};
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
    if (!warpgroups[g].uncommitted.empty() ||
        !warpgroups[g].committed.empty()) {
      record(nullptr,
             "warpgroup " + std::to_string(g) +
                 " exited with wgmma.mma_async operations not waited for "
                 "(wgmma.commit_group + wgmma.wait_group 0)");
      return;
    }
  for (size_t i = 0; i < arrays.size(); ++i) {
    const size_t from = l.sharedBytes,
                 to = std::min<size_t>(dynamicShared()[i].bytes,
                                       from + kSharedGuardBytes);
    for (size_t b = from; b < to; ++b)
      if (arrays[i][b] != 0xff) {
        record(nullptr,
               std::string("wrote dynamic shared memory past the launch's ") +
                   std::to_string(l.sharedBytes) + " bytes (" +
                   dynamicShared()[i].name + "[byte " + std::to_string(b) +
                   "])");
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
    if (!progressed) { // every live fiber waits for another: say where they
                       // wait
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

} // namespace detail

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

#endif // MOELA_TEST_EMU_EMUSCHEDULER_H
