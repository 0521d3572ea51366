//===- CudaDevice.h - The kernel cases on the CUDA driver API -------------===//
//
// Device 0 of the CUDA driver moela opens (runtime/cuda/CudaDriver.h): a GPU,
// or with MOELA_CUDA_DRIVER=libmoela-cuda-emu.so the CPU emulation, whose
// driver finds each case's kernel by name among those generated from the
// case table. On a GPU the kernels are compiled with NVRTC for sm_90a
// (through the disk cache; prepare() compiles a runner's kernels on all
// cores first); the emulator needs no cubin.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_CUDADEVICE_H
#define MOELA_TEST_KERNELS_CUDADEVICE_H

#include "Device.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace moela::cases {

class CudaDevice : public Device {
public:
  /// Device 0 with its primary context, or nullptr with `why` set when the
  /// driver has no device.
  static std::unique_ptr<CudaDevice> open(std::string &why);
  ~CudaDevice() override;

  const std::string &name() const { return name_; }
  bool emulated() const { return emulated_; }
  /// Compiles `kernels` on all cores (a GPU only); throws on the first failure.
  void prepare(const std::vector<Kernel> &kernels);

  uint64_t allocate(size_t bytes) override;
  void release(uint64_t address) override;
  void upload(uint64_t dst, const void *src, size_t bytes) override;
  void download(void *dst, uint64_t src, size_t bytes) override;
  void launch(const Kernel &k, const kernels::Launch &l, const void *args,
              size_t argsBytes) override;
  bool timed() const override { return !emulated_; }
  double medianSeconds(const std::function<void(int)> &run) override;

private:
  CudaDevice() = default;
  void *function(const Kernel &k); // a CUfunction

  std::string name_;
  bool emulated_ = false;
  std::map<std::string, void *> functions_;
  std::map<std::string, std::vector<uint8_t>> cubins_; // by kernel name
};

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_CUDADEVICE_H
