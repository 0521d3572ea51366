//===- Device.cpp - The runner's device and the launch path ---------------===//
#include "Device.h"

#include "Tensor.h"

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

} // namespace moela::cases
