//===- NcclLoaderTest.cpp - libnccl through dlopen: the error lines -------===//
//
// A missing library, one too old (FakeOldNccl.cpp) and one lacking entry
// points are each one line naming the library; the emulated NCCL (built with
// MPI) loads, and an NCCL error is reported by name with the step and
// ncclGetErrorString's text.
//
//===----------------------------------------------------------------------===//
#include "cuda/Nccl.h"

#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace moela;
using namespace moela::cuda;

namespace {

std::string openError(const std::string &library) {
  try {
    Nccl::open(library);
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(NcclLoader, VersionStrings) {
  EXPECT_EQ(ncclVersionString(22809), "2.28.9");
  EXPECT_EQ(ncclVersionString(21800), "2.18.0");
  EXPECT_EQ(ncclVersionString(2804), "2.8.4"); // before 2.9: X*1000+Y*100+Z
}

TEST(NcclLoader, MissingLibraryIsOneLine) {
  std::string e = openError("/nonexistent/libnccl.so.2");
  EXPECT_EQ(e.rfind("NCCL: cannot open /nonexistent/libnccl.so.2 (", 0), 0u)
      << e;
  EXPECT_NE(e.find("need NCCL 2.18 or newer"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(NcclLoader, OldVersionIsRefused) {
  std::string e = openError(MOELA_FAKE_OLD_NCCL);
  EXPECT_EQ(e, std::string("NCCL: ") + MOELA_FAKE_OLD_NCCL +
                   " is version 2.16.2; moela needs 2.18 or newer");
}

TEST(NcclLoader, MissingEntryPointIsNamed) {
  // The C library has none of NCCL's entry points.
  std::string e = openError("libc.so.6");
  EXPECT_EQ(e, "NCCL: libc.so.6 lacks ncclGetVersion (moela needs NCCL 2.18 "
               "or newer)");
}

TEST(NcclLoader, EmulatedNcclLoadsAndNamesErrors) {
  if (std::string(MOELA_EMU_NCCL).empty())
    GTEST_SKIP() << "built without MPI: no emulated NCCL";
  Nccl n = Nccl::open(MOELA_EMU_NCCL);
  EXPECT_EQ(n.version, 22800);
  // check() reports through the process-wide NCCL: the emulated one.
  setenv("MOELA_NCCL_LIBRARY", MOELA_EMU_NCCL, 1);
  try {
    check(ncclInvalidArgument, "ncclAllReduce in step 'embed' (AllReduce)");
    FAIL() << "check() did not throw";
  } catch (const Error &e) {
    EXPECT_EQ(std::string(e.what()),
              "NCCL: ncclAllReduce in step 'embed' (AllReduce): "
              "ncclInvalidArgument (invalid argument (run with NCCL_DEBUG=WARN "
              "for details))");
  }
  // A bad argument is refused before anything is enqueued.
  EXPECT_EQ(n.ncclAllReduce(nullptr, nullptr, 4, ncclFloat32, ncclSum, nullptr,
                            nullptr),
            ncclInvalidArgument);
}
