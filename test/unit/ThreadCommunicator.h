//===- ThreadCommunicator.h - N ranks as N threads of one test ------------===//
//
// The collectives of a multi-rank run without MPI: ThreadWorld is shared by N
// threads, each holding the Communicator of its rank. Every collective is a
// rendezvous: each rank posts its buffer, all wait, each reads what it needs,
// all wait again before the buffers may change. allReduceSum adds in rank
// order, as the MPI communicator does, so ranks agree bit for bit.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_UNIT_THREADCOMMUNICATOR_H
#define MOELA_TEST_UNIT_THREADCOMMUNICATOR_H

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moela::test {

class ThreadWorld {
public:
  explicit ThreadWorld(int size) : size_(size), posted_(size_t(size)) {}
  int size() const { return size_; }

  /// Blocks until every rank has called it (a reusable barrier).
  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }
  const void *&posted(int rank) { return posted_[size_t(rank)]; }

private:
  int size_;
  std::vector<const void *> posted_;
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

class ThreadCommunicator final : public Communicator {
public:
  ThreadCommunicator(ThreadWorld &world, int rank)
      : world_(world), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return world_.size(); }

  void allGather(const float *in, size_t count, float *out) override {
    world_.posted(rank_) = in;
    world_.barrier();
    for (int r = 0; r < size(); ++r)
      std::memcpy(out + size_t(r) * count, world_.posted(r),
                  count * sizeof(float));
    world_.barrier();
  }
  void allReduceSum(float *x, size_t count) override {
    std::vector<float> all(size_t(size()) * count); // [size, count]
    allGather(x, count, all.data());
    std::memcpy(x, all.data(), count * sizeof(float));
    for (int r = 1; r < size(); ++r)
      for (size_t i = 0; i < count; ++i)
        x[i] += all[size_t(r) * count + i];
  }
  void broadcast(void *data, size_t bytes, int root) override {
    world_.posted(rank_) = data;
    world_.barrier();
    if (rank_ != root)
      std::memcpy(data, world_.posted(root), bytes);
    world_.barrier();
  }
  [[noreturn]] void abort(const std::string &message) override {
    fail("rank ", rank_, " aborted: ", message);
  }
  std::string describe() const override {
    return "test threads, rank " + std::to_string(rank_) + " of " +
           std::to_string(size());
  }

private:
  ThreadWorld &world_;
  int rank_;
};

/// Runs body(comm) on `size` threads, one per rank; rethrows the first
/// exception a rank threw (after every thread ended).
inline void runRanks(int size,
                     const std::function<void(Communicator &)> &body) {
  ThreadWorld world(size);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r)
    threads.emplace_back([&, r] {
      ThreadCommunicator comm(world, r);
      try {
        body(comm);
      } catch (...) {
        errors[size_t(r)] = std::current_exception();
      }
    });
  for (std::thread &t : threads)
    t.join();
  for (const std::exception_ptr &e : errors)
    if (e)
      std::rethrow_exception(e);
}

} // namespace moela::test

#endif // MOELA_TEST_UNIT_THREADCOMMUNICATOR_H
