//===- DeviceMemory.h - Owning device and pinned host allocations ---------===//
#ifndef MOELA_RUNTIME_CUDA_DEVICEMEMORY_H
#define MOELA_RUNTIME_CUDA_DEVICEMEMORY_H

#include "CudaDriver.h"

#include <cstddef>
#include <string>
#include <utility>

namespace moela::cuda {

/// A cuMemAlloc'ed block, freed on destruction.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  /// `what` names the memory in errors ("<plan>: the KV cache"), which
  /// then also give the bytes asked for.
  DeviceBuffer(size_t bytes, const std::string &what) : bytes_(bytes) {
    if (bytes)
      check(Driver::get().cuMemAlloc(&ptr_, bytes),
            ("cuMemAlloc of " + std::to_string(bytes) + " bytes for " + what)
                .c_str());
  }
  ~DeviceBuffer() {
    if (ptr_)
      Driver::get().cuMemFree(ptr_);
  }
  DeviceBuffer(DeviceBuffer &&o) noexcept
      : ptr_(std::exchange(o.ptr_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer &operator=(DeviceBuffer &&o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }

  CUdeviceptr get() const { return ptr_; }
  void *pointer() const { return reinterpret_cast<void *>(ptr_); }
  size_t bytes() const { return bytes_; }

  void upload(const void *host, size_t bytes, const char *what) const {
    if (bytes)
      check(Driver::get().cuMemcpyHtoD(ptr_, host, bytes), what);
  }

private:
  CUdeviceptr ptr_ = 0;
  size_t bytes_ = 0;
};

/// Page-locked host memory for asynchronous copies.
class PinnedBuffer {
public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes)
      check(Driver::get().cuMemAllocHost(&ptr_, bytes), "cuMemAllocHost");
  }
  ~PinnedBuffer() {
    if (ptr_)
      Driver::get().cuMemFreeHost(ptr_);
  }
  PinnedBuffer(PinnedBuffer &&o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  PinnedBuffer &operator=(PinnedBuffer &&o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }

  void *get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

private:
  void *ptr_ = nullptr;
  size_t bytes_ = 0;
};

} // namespace moela::cuda

#endif // MOELA_RUNTIME_CUDA_DEVICEMEMORY_H
