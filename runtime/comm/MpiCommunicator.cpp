//===- MpiCommunicator.cpp - Collectives over MPI_COMM_WORLD --------------===//
//
// The host backend's collectives and the engine's token broadcast between the
// processes mpirun started. Only the thread that runs the engine calls MPI
// (MPI_THREAD_FUNNELED); the host backend's worker threads never do.
//
// allReduceSum is an MPI_Allgather followed by a sum over ranks in rank order,
// not MPI_Allreduce: MPI does not promise that MPI_Allreduce gives every rank
// the same bits (OpenMPI's recursive-doubling and ring algorithms add the
// contributions in a different order on different ranks), and ranks that hold
// different activations would then drift apart and sample different tokens.
// Gathering costs N times the bytes of a reduce, which at the sizes of a
// hidden state per token is nothing next to the GEMMs around it.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

// The C API only: OpenMPI's and MPICH's headers otherwise pull in their C++
// bindings, which live in a library we do not link.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace moela {
namespace {

/// Throws moela::Error naming the MPI call and MPI's own message.
void check(int code, const char *call) {
  if (code == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail(call, " failed: ", std::string(text, size_t(length)));
}

/// MPI counts are int: large buffers go in chunks of at most this many.
constexpr size_t kMaxCount = size_t(INT_MAX) / 8;

void finalizeAtExit() {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized)
    MPI_Finalize();
}

/// MPI_Init_thread once per process (MPI allows one initialization).
void initializeOnce() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized)
    return;
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided),
        "MPI_Init_thread");
  if (provided < MPI_THREAD_FUNNELED)
    fail("MPI_Init_thread: the MPI library provides thread level ", provided,
         ", moela needs MPI_THREAD_FUNNELED");
  // Errors come back as codes that become moela::Error naming the call.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  std::atexit(finalizeAtExit);
}

class MpiCommunicator final : public Communicator {
public:
  MpiCommunicator() {
    initializeOnce();
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    MPI_Get_processor_name(name, &length);
    host_.assign(name, size_t(length));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void allReduceSum(float *x, size_t count) override {
    if (size_ == 1 || count == 0)
      return;
    // [size, count]: every rank's x, then the same sum on every rank.
    gathered_.resize(size_t(size_) * count);
    allGather(x, count, gathered_.data());
    std::copy(gathered_.begin(), gathered_.begin() + count, x);
    for (int r = 1; r < size_; ++r) {
      const float *part = gathered_.data() + size_t(r) * count;
      for (size_t i = 0; i < count; ++i)
        x[i] += part[i];
    }
  }

  void allGather(const float *in, size_t count, float *out) override {
    if (count <= kMaxCount) {
      check(MPI_Allgather(in, int(count), MPI_FLOAT, out, int(count), MPI_FLOAT,
                          MPI_COMM_WORLD),
            "MPI_Allgather");
      return;
    }
    // In chunks through a staging buffer, then each rank's chunk into place.
    std::vector<float> stage;
    for (size_t begin = 0; begin < count; begin += kMaxCount) {
      const size_t n = std::min(kMaxCount, count - begin);
      stage.resize(size_t(size_) * n);
      check(MPI_Allgather(in + begin, int(n), MPI_FLOAT, stage.data(), int(n),
                          MPI_FLOAT, MPI_COMM_WORLD),
            "MPI_Allgather");
      for (int r = 0; r < size_; ++r)
        std::copy(stage.begin() + size_t(r) * n,
                  stage.begin() + size_t(r + 1) * n,
                  out + size_t(r) * count + begin);
    }
  }

  void broadcast(void *data, size_t bytes, int root) override {
    if (root < 0 || root >= size_)
      fail("broadcast from rank ", root, " in a world of ", size_);
    auto *p = static_cast<char *>(data);
    for (size_t begin = 0; begin < bytes; begin += kMaxCount) {
      const size_t n = std::min(kMaxCount, bytes - begin);
      check(MPI_Bcast(p + begin, int(n), MPI_BYTE, root, MPI_COMM_WORLD),
            "MPI_Bcast");
    }
  }

  [[noreturn]] void abort(const std::string &message) override {
    std::fprintf(stderr, "%s: rank %d: %s\n", program_invocation_short_name,
                 rank_, message.c_str());
    std::fflush(stderr);
    // Ends every process of the job (mpirun kills the others).
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1); // MPI_Abort does not return; if it did, still end
  }

  std::string describe() const override {
    return "MPI, rank " + std::to_string(rank_) + " of " +
           std::to_string(size_) + " on " + host_;
  }

private:
  int rank_ = 0, size_ = 1;
  std::string host_;
  std::vector<float> gathered_; // allReduceSum's [size, count]
};

} // namespace

bool mpiAvailable() { return true; }

std::unique_ptr<Communicator> makeMpiCommunicator() {
  return std::make_unique<MpiCommunicator>();
}

} // namespace moela
