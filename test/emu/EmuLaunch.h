//===- EmuLaunch.h - emu::launch on a pool of workers ---------------------===//
//
// Launches of the emulation (CudaEmu.h): emu::launch checks the
// geometry, then runs the grid's blocks on a pool of worker threads (the
// caller included), each with its Runner, and throws emu::Error naming
// the first failure.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMULAUNCH_H
#define MOELA_TEST_EMU_EMULAUNCH_H

#include "EmuScheduler.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

// ---- Launch -----------------------------------------------------------------

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

  /// Runs body(worker) on `n` workers (the caller included); returns when all
  /// are done.
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
    throw Error("emu::launch: " + std::to_string(threads) +
                " threads per block (max 1024)");
  if (l.grid.y > 65535 || l.grid.z > 65535)
    throw Error("emu::launch: grid y/z over 65535");
  if (l.sharedBytes > kMaxDynamicSharedBytes)
    throw Error("emu::launch: " + std::to_string(l.sharedBytes) +
                " bytes of dynamic shared memory (max " +
                std::to_string(kMaxDynamicSharedBytes) + ")");
  std::atomic<unsigned long long> next{0};
  std::atomic<bool> failed{false};
  std::mutex errorMutex;
  std::string error;
  const int wanted =
      options().workers > 0
          ? options().workers
          : int(std::max(1u, std::thread::hardware_concurrency()));
  const int workers =
      int(std::min<unsigned long long>(blocks, unsigned(wanted)));
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
void launch(const Kernel &kernel, dim3 grid, dim3 block, unsigned sharedBytes,
            const Args &args) {
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
  l.seed = options().scheduleSeed * 0xbf58476d1ce4e5b9ull +
           detail::launchCounter()++;
  l.checkGlobal = options().checkGlobal;
  if (l.checkGlobal) {
    detail::GlobalRanges &g = detail::globalRanges();
    std::lock_guard<std::mutex> lock(g.m);
    l.globals.assign(g.ranges.begin(), g.ranges.end());
  }
  detail::runLaunch(l);
}

} // namespace emu

#endif // MOELA_TEST_EMU_EMULAUNCH_H
