//===- EmuKernelRegistry.cpp - Emulated kernels by name, device ranges ----===//
#include "EmuKernelRegistry.h"

#include "CudaEmu.h"

#include <map>
#include <mutex>
#include <string>

namespace emu::driver {
namespace {

std::map<std::string, const Kernel *> &kernels() {
  static std::map<std::string, const Kernel *> k;
  return k;
}

struct Ranges {
  std::mutex m;
  std::map<const void *, GlobalRange> live;
};
// Never destroyed: allocations may outlive the emulator's own statics at exit.
Ranges &ranges() {
  static Ranges *r = new Ranges;
  return *r;
}

} // namespace

bool registerKernels(const Kernel *list, size_t count) {
  for (size_t i = 0; i < count; ++i)
    kernels().emplace(list[i].name, &list[i]); // plans share kernels by name
  return true;
}

const Kernel *findKernel(const char *name) {
  auto it = kernels().find(name);
  return it == kernels().end() ? nullptr : it->second;
}

size_t kernelCount() { return kernels().size(); }

void trackDeviceMemory(const void *p, size_t bytes) {
  // Every launch then checks its cp.async sources against device memory.
  options().checkGlobal = true;
  Ranges &r = ranges();
  std::lock_guard<std::mutex> lock(r.m);
  r.live[p] = GlobalRange(p, bytes);
}

void untrackDeviceMemory(const void *p) {
  Ranges &r = ranges();
  std::lock_guard<std::mutex> lock(r.m);
  r.live.erase(p);
}

} // namespace emu::driver
