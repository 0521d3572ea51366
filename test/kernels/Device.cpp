//===- Device.cpp - The runner's device and the launch path ---------------===//
#include "Device.h"

#include "Tensor.h"

#include <cstdio>
#include <stdexcept>

namespace moela::cases {

namespace {
Device *current = nullptr;
} // namespace

Device &device() {
  if (!current)
    throw std::runtime_error("kernel cases: no device installed");
  return *current;
}
bool haveDevice() { return current != nullptr; }
void setDevice(Device *d) { current = d; }

void launchRaw(const Kernel &k, const kernels::Launch &l, const void *args,
               size_t argsBytes) {
  Tensor::sendChanges();
  device().launch(k, l, args, argsBytes);
  Tensor::deviceWrote();
}

void timeBandwidth(const std::string &what, double bytes,
                   const std::function<void()> &run) {
  const double sec = device().medianSeconds([&](int) { run(); });
  std::printf("TIME %-50s %9.1f us  %7.1f GB/s (%4.1f%% of 4.3 TB/s)\n",
              what.c_str(), sec * 1e6, bytes / sec * 1e-9,
              bytes / sec / 4.3e12 * 100);
  std::fflush(stdout);
}

void printBench(const std::string &what, double us, double flop, double bytes,
                const std::string &note) {
  std::printf("BENCH %-76s %9.1f us %7.1f TFLOP/s %7.0f GB/s%s\n", what.c_str(),
              us, flop / us * 1e-6, bytes / us * 1e-3, note.c_str());
  std::fflush(stdout);
}

} // namespace moela::cases
