//===- ThreadPoolTest.cpp - The host backend's fork-join pool -------------===//
//
// parallelFor runs every index exactly once, whatever the job size, and never
// loses a worker's wake-up: with more workers than cores and many tiny jobs
// back to back, a worker that finished a job early used to swallow the
// wake-up meant for another, and the caller waited forever (seen as a hung
// `moela-run --threads 4`). A watchdog turns a hang into a failure.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

using namespace moela;

namespace {

/// Eight threads whatever the machine has, set before the pool's first use.
const bool kEightThreads = setenv("MOELA_NUM_THREADS", "8", 1) == 0;

/// Aborts the process if the test body has not finished in `seconds`.
class Watchdog {
public:
  explicit Watchdog(int seconds)
      : thread([this, seconds] {
          std::unique_lock<std::mutex> lock(mutex);
          if (!finished.wait_for(lock, std::chrono::seconds(seconds),
                                 [&] { return over; })) {
            std::fprintf(stderr, "ThreadPoolTest: parallelFor hung\n");
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      over = true;
    }
    finished.notify_one();
    thread.join();
  }

private:
  std::mutex mutex;
  std::condition_variable finished;
  bool over = false;
  std::thread thread;
};

TEST(ThreadPool, EveryIndexOnceForEverySize) {
  ASSERT_TRUE(kEightThreads);
  ASSERT_EQ(hostThreadCount(), 8);
  Watchdog watchdog(120);
  for (int64_t n : {1, 2, 3, 7, 8, 31, 32, 33, 1000, 100000}) {
    std::vector<std::atomic<int>> hits(n);
    parallelFor(n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        hits[i].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(hits[i].load(), 1) << "n " << n << " index " << i;
  }
}

TEST(ThreadPool, ManyTinyJobsNeverLoseAWakeUp) {
  Watchdog watchdog(120);
  std::atomic<int64_t> total{0};
  int64_t want = 0;
  for (int job = 0; job < 20000; ++job) {
    const int64_t n = 2 + job % 40; // 2 to 41 chunks: 1 to 7 workers woken
    want += n;
    parallelFor(n, 1, [&](int64_t begin, int64_t end) {
      total.fetch_add(end - begin);
    });
  }
  EXPECT_EQ(total.load(), want);
}

} // namespace
