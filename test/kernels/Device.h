//===- Device.h - Where a case's tensors live and its kernels run ---------===//
//
// The runners install one Device (CudaDevice.h: the CUDA driver API, on a
// GPU or on the emulated driver of test/emu). Cases only see Tensors, which
// mirror themselves into device memory, and launch(): the host copies the
// cases changed go to the device before a launch, and outputs come back
// when the host reads them (Tensor.h).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_DEVICE_H
#define MOELA_TEST_KERNELS_DEVICE_H

#include "Kernel.h"

#include "kernels/Args.h"

#include <cstdint>
#include <functional>
#include <string>

namespace moela::cases {

class Device {
public:
  virtual ~Device() = default;
  virtual uint64_t allocate(size_t bytes) = 0;
  virtual void release(uint64_t address) = 0;
  virtual void upload(uint64_t dst, const void *src, size_t bytes) = 0;
  /// Waits for the launches so far, then copies.
  virtual void download(void *dst, uint64_t src, size_t bytes) = 0;
  /// Launches `k` (asynchronously on a GPU) with its by-value args struct.
  virtual void launch(const Kernel &k, const kernels::Launch &l,
                      const void *args, size_t argsBytes) = 0;
  /// Whether timings mean anything (a GPU, not the emulator).
  virtual bool timed() const = 0;
  /// Median seconds of run(i) over 20 calls after 3 warm-ups (events).
  virtual double medianSeconds(const std::function<void(int)> &run) = 0;
};

/// The runner's device (throws when there is none).
Device &device();
bool haveDevice();
void setDevice(Device *d);

/// Sends the tensors the host changed, launches, and marks every tensor as
/// possibly written by the device.
void launchRaw(const Kernel &k, const kernels::Launch &l, const void *args,
               size_t argsBytes);

/// Times run() on a GPU and prints "TIME <what>" with the bandwidth of
/// `bytes` (what it must move) against 4.3 TB/s (the H200 copy rate).
void timeBandwidth(const std::string &what, double bytes,
                   const std::function<void()> &run);

template <typename Args>
void launch(const Kernel &k, const kernels::Launch &l, const Args &args) {
  launchRaw(k, l, &args, sizeof args);
}

/// Microseconds of one launch on a GPU (medianSeconds).
template <typename Args>
double launchMicroseconds(const Kernel &k, const kernels::Launch &l,
                          const Args &args) {
  return device().medianSeconds([&](int) { launch(k, l, args); }) * 1e6;
}

/// A timed case's line on stdout: "BENCH <what> <us> us <TFLOP/s> TFLOP/s
/// <GB/s> GB/s" and `note`, for tools/gpu-check.sh's table.
void printBench(const std::string &what, double us, double flop, double bytes,
                const std::string &note = "");

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_DEVICE_H
