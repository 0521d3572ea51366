//===- SingleProcessCommunicator.cpp - A world of one rank ----------------===//
//
// What a single-device plan runs with: every collective is a copy (or
// nothing), and abort prints the message and exits, as a tool's main would.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace moela {
namespace {

class SingleProcessCommunicator final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allReduceSum(float *, size_t) override {} // the sum of one rank
  void allGather(const float *in, size_t count, float *out) override {
    if (count > 0 && in != out)
      std::memmove(out, in, count * sizeof(float));
  }
  void broadcast(void *, size_t, int) override {} // rank 0 has it already
  [[noreturn]] void abort(const std::string &message) override {
    // No rank in the message: there is only one.
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name,
                 message.c_str());
    std::fflush(stderr);
    std::_Exit(1);
  }
  std::string describe() const override { return "single process"; }
};

} // namespace

std::unique_ptr<Communicator> makeSingleProcessCommunicator() {
  return std::make_unique<SingleProcessCommunicator>();
}

} // namespace moela
