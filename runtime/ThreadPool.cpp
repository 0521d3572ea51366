//===- ThreadPool.cpp - A small fork-join pool for the host backend -------===//
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace moela {
namespace {

thread_local bool insideWorker = false;

/// Workers wait for a job; a job wakes only as many workers as it has chunks
/// beyond the caller's own (small jobs do not pay for waking every core).
/// Each woken worker takes a ticket, runs chunks until none are left, and
/// reports back; the caller runs chunks too. Any waiting worker may take any
/// ticket, also one that has served the job already (it then finds no chunk
/// left): a wake-up can land on such a worker, and if it could not take the
/// ticket the wake-up would be lost and the caller wait forever.
class Pool {
public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i)
      workers.emplace_back([this] { workerLoop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    for (auto &w : workers)
      w.join();
  }

  void run(int64_t chunks, const std::function<void(int64_t)> &chunkBody) {
    std::lock_guard<std::mutex> serial(runMutex);
    {
      std::lock_guard<std::mutex> lock(mutex);
      job = &chunkBody;
      jobChunks = chunks;
      nextChunk = 0;
      tickets = busy = static_cast<int>(
          std::min<int64_t>(static_cast<int64_t>(workers.size()), chunks - 1));
    }
    for (int i = 0; i < busy; ++i)
      wake.notify_one();
    drain();
    std::unique_lock<std::mutex> lock(mutex);
    done.wait(lock, [&] { return busy == 0; });
    job = nullptr;
  }

private:
  void drain() {
    insideWorker = true;
    for (int64_t c; (c = nextChunk.fetch_add(1)) < jobChunks;)
      (*job)(c);
    insideWorker = false;
  }

  void workerLoop() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return stopping || tickets > 0; });
        if (stopping)
          return;
        --tickets;
      }
      drain();
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (--busy == 0)
          done.notify_one();
      }
    }
  }

  std::vector<std::thread> workers;
  std::mutex mutex, runMutex;
  std::condition_variable wake, done;
  const std::function<void(int64_t)> *job = nullptr;
  int64_t jobChunks = 0;
  std::atomic<int64_t> nextChunk{0};
  int busy = 0;    // workers of the current job still running
  int tickets = 0; // workers of the current job not yet woken
  bool stopping = false;
};

Pool &pool() {
  static Pool instance(hostThreadCount());
  return instance;
}

} // namespace

int hostThreadCount() {
  static int count = [] {
    if (const char *env = std::getenv("MOELA_NUM_THREADS")) {
      int n = std::atoi(env);
      if (n > 0)
        return n;
    }
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }();
  return count;
}

void parallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t, int64_t)> &body) {
  if (n <= 0)
    return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks =
      std::min<int64_t>((n + grain - 1) / grain, 4 * hostThreadCount());
  if (chunks <= 1 || insideWorker || hostThreadCount() == 1) {
    body(0, n);
    return;
  }
  int64_t per = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int64_t c) {
    int64_t begin = c * per, end = std::min(n, begin + per);
    if (begin < end)
      body(begin, end);
  });
}

} // namespace moela
