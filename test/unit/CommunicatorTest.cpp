//===- CommunicatorTest.cpp - The MPI communicator under mpirun -----------===//
//
// Launches moela-mpi-check (MpiRankCheck.cpp) with `mpirun -n 2` and `-n 3`:
// the collectives give what the Communicator interface promises on every
// rank, and an abort on one rank ends every rank, non-zero, within 30 s. The
// single-process communicator is checked in-process. Skipped only when this
// moela was built without MPI.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace moela::test {
namespace {

struct Outcome {
  int exitCode = -1;
  std::string output;
  double seconds = 0;
};

/// Runs `mpirun -n N moela-mpi-check MODE` (as root too, oversubscribed: CI
/// machines have 2 cores), stdout and stderr together, killed after 60 s.
Outcome mpirun(int ranks, const std::string &mode) {
  const std::string command =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "timeout -s KILL 60 mpirun --oversubscribe -n " +
      std::to_string(ranks) + " " MOELA_MPI_CHECK " " + mode + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  Outcome out;
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe)
    return out;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    out.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  out.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  out.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return out;
}

TEST(Communicator, SingleProcess) {
  std::unique_ptr<Communicator> comm = makeSingleProcessCommunicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  float x[2] = {1.5f, -2.0f}, y[2] = {0, 0};
  comm->allReduceSum(x, 2);
  EXPECT_EQ(x[0], 1.5f);
  comm->allGather(x, 2, y);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(comm->describe(), "single process");
}

TEST(Communicator, WithoutMpiSaysSo) {
  if (mpiAvailable())
    GTEST_SKIP() << "built with MPI";
  try {
    makeMpiCommunicator();
    FAIL() << "an MPI communicator without MPI";
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("built without MPI"),
              std::string::npos);
  }
}

TEST(Communicator, MpiCollectivesAgreeOnEveryRank) {
  if (!mpiAvailable())
    GTEST_SKIP() << "this moela was built without MPI";
  for (int ranks : {2, 3}) {
    const Outcome out = mpirun(ranks, "collectives");
    EXPECT_EQ(out.exitCode, 0) << ranks << " ranks:\n" << out.output;
    EXPECT_NE(out.output.find(std::to_string(ranks) + " ranks agree"),
              std::string::npos)
        << out.output;
  }
}

TEST(Communicator, MpiAbortEndsEveryRankQuickly) {
  if (!mpiAvailable())
    GTEST_SKIP() << "this moela was built without MPI";
  for (int ranks : {2, 3}) {
    const Outcome out = mpirun(ranks, "abort");
    EXPECT_NE(out.exitCode, 0) << out.output;
    EXPECT_LT(out.seconds, 30.0) << out.output;
    EXPECT_NE(out.output.find("rank " + std::to_string(ranks - 1) +
                              ": deliberate abort of the test"),
              std::string::npos)
        << out.output;
    EXPECT_EQ(out.output.find("the broadcast returned"), std::string::npos)
        << out.output;
  }
}

} // namespace
} // namespace moela::test
