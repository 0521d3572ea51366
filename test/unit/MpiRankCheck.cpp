//===- MpiRankCheck.cpp - One rank of CommunicatorTest's mpirun runs ------===//
//
// moela-mpi-check collectives: every rank checks allReduceSum (the sum in rank
// order, the same bits on every rank), allGather and broadcast, and exits 0
// when all hold (else prints what failed and exits 1).
// moela-mpi-check abort: the last rank aborts while the others wait in a
// broadcast that never comes; all must end, non-zero, within seconds.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace moela;

namespace {

int failures = 0;

void expect(bool ok, const std::string &what, int rank) {
  if (!ok) {
    std::fprintf(stderr, "moela-mpi-check: rank %d: %s\n", rank, what.c_str());
    ++failures;
  }
}

int collectives(Communicator &comm) {
  const int rank = comm.rank(), size = comm.size();
  // Values whose sum depends on the order of the additions.
  const size_t n = 1000;
  std::vector<float> x(n);
  auto value = [](int r, size_t i) {
    return (r % 2 ? 1e7f : 1.0f) * (0.1f + float(i) * 1e-3f) + float(r) * 0.3f;
  };
  for (size_t i = 0; i < n; ++i)
    x[i] = value(rank, i);
  comm.allReduceSum(x.data(), n);
  for (size_t i = 0; i < n; ++i) {
    float expected = value(0, i);
    for (int r = 1; r < size; ++r)
      expected += value(r, i);
    if (std::memcmp(&x[i], &expected, sizeof(float)) != 0) {
      expect(false,
             "allReduceSum[" + std::to_string(i) +
                 "] = " + std::to_string(x[i]) + ", expected " +
                 std::to_string(expected) + " (rank-order sum)",
             rank);
      break;
    }
  }
  // The sums of every rank are the same bits.
  std::vector<float> all(size_t(size) * n);
  comm.allGather(x.data(), n, all.data());
  for (int r = 0; r < size; ++r)
    expect(std::memcmp(all.data() + size_t(r) * n, x.data(),
                       n * sizeof(float)) == 0,
           "rank " + std::to_string(r) + "'s sum differs from this rank's",
           rank);
  // allGather of [rank, rank + 0.5]: rank r's pair at 2r.
  const float mine[2] = {float(rank), float(rank) + 0.5f};
  std::vector<float> gathered(size_t(2 * size));
  comm.allGather(mine, 2, gathered.data());
  for (int r = 0; r < size; ++r)
    expect(gathered[size_t(2 * r)] == float(r) &&
               gathered[size_t(2 * r + 1)] == float(r) + 0.5f,
           "allGather slot " + std::to_string(r), rank);
  // broadcast from the last rank.
  int32_t tokens[3] = {rank, rank * 10, -1};
  comm.broadcast(tokens, sizeof(tokens), size - 1);
  expect(tokens[0] == size - 1 && tokens[1] == (size - 1) * 10 &&
             tokens[2] == -1,
         "broadcast from rank " + std::to_string(size - 1), rank);
  if (failures == 0 && rank == 0)
    std::printf("moela-mpi-check: %d ranks agree (%s)\n", size,
                comm.describe().c_str());
  return failures ? 1 : 0;
}

} // namespace

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
// OpenMPI frees neither its own tables nor its plugins' at MPI_Finalize, so a
// leak check of the ranks reports only OpenMPI (tools/fuzz-check.sh).
extern "C" const char *__asan_default_options() { return "detect_leaks=0"; }
#endif
#endif

int main(int argc, char **argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  std::unique_ptr<Communicator> comm;
  try {
    comm = makeMpiCommunicator();
  } catch (const Error &e) {
    std::fprintf(stderr, "moela-mpi-check: %s\n", e.what());
    return 1;
  }
  if (mode == "collectives")
    return collectives(*comm);
  if (mode == "abort") {
    if (comm->rank() == comm->size() - 1)
      comm->abort("deliberate abort of the test");
    int32_t never = 0;
    comm->broadcast(&never, sizeof(never), comm->size() - 1);
    std::fprintf(stderr, "moela-mpi-check: rank %d: the broadcast returned\n",
                 comm->rank());
    return 0;
  }
  std::fprintf(stderr, "usage: moela-mpi-check collectives|abort\n");
  return 2;
}
