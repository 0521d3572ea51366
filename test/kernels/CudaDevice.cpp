//===- CudaDevice.cpp - The kernel cases on the CUDA driver API -----------===//
#include "CudaDevice.h"

#include "Compile.h"

#include "cuda/CudaDriver.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

namespace moela::cases {
namespace {

const cuda::Driver &drv() { return cuda::Driver::get(); }
void ck(CUresult r, const char *what) { cuda::check(r, what); }

/// The emulated driver only checks an image's ELF magic.
const char kEmulatedImage[16] = {0x7f, 'E', 'L', 'F'};

} // namespace

std::unique_ptr<CudaDevice> CudaDevice::open(std::string &why) {
  if (cuda::Driver::deviceCount(&why) == 0)
    return nullptr;
  std::unique_ptr<CudaDevice> d(new CudaDevice);
  CUdevice dev;
  ck(drv().cuDeviceGet(&dev, 0), "cuDeviceGet");
  char name[256] = {};
  ck(drv().cuDeviceGetName(name, sizeof name, dev), "cuDeviceGetName");
  CUcontext ctx;
  ck(drv().cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  ck(drv().cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  d->name_ = name;
  d->emulated_ = d->name_ == "moela CUDA emulator";
  return d;
}

CudaDevice::~CudaDevice() = default;

void CudaDevice::prepare(const std::vector<Kernel> &kernels) {
  if (emulated_)
    return;
  std::vector<Kernel> jobs;
  for (const Kernel &k : kernels)
    if (!cubins_.count(k.name()) &&
        std::none_of(jobs.begin(), jobs.end(),
                     [&](const Kernel &j) { return j.name() == k.name(); }))
      jobs.push_back(k);
  const std::vector<Compiled> done = compileAll(jobs, /*cached=*/true);
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!done[i].error.empty())
      throw std::runtime_error(done[i].error);
    const NvrtcResult &r = done[i].result;
    std::printf("  compiled %s: %d registers, %d spill bytes%s\n",
                jobs[i].name().c_str(), r.registers, r.spillBytes,
                r.fromCache ? " (cached)" : "");
    cubins_[jobs[i].name()] = r.cubin;
  }
}

void *CudaDevice::function(const Kernel &k) {
  const std::string name = k.name();
  auto it = functions_.find(name);
  if (it != functions_.end())
    return it->second;
  CUmodule module;
  if (emulated_) {
    ck(drv().cuModuleLoadData(&module, kEmulatedImage), "cuModuleLoadData");
  } else {
    prepare({k});
    ck(drv().cuModuleLoadData(&module, cubins_.at(name).data()),
       "cuModuleLoadData");
  }
  CUfunction f;
  ck(drv().cuModuleGetFunction(&f, module, name.c_str()),
     "cuModuleGetFunction");
  return functions_[name] = f;
}

uint64_t CudaDevice::allocate(size_t bytes) {
  CUdeviceptr p;
  ck(drv().cuMemAlloc(&p, std::max<size_t>(bytes, 16)), "cuMemAlloc");
  return p;
}

void CudaDevice::release(uint64_t address) {
  drv().cuMemFree(CUdeviceptr(address));
}

void CudaDevice::upload(uint64_t dst, const void *src, size_t bytes) {
  ck(drv().cuMemcpyHtoD(CUdeviceptr(dst), src, bytes), "cuMemcpyHtoD");
}

void CudaDevice::download(void *dst, uint64_t src, size_t bytes) {
  ck(drv().cuCtxSynchronize(), "kernel execution");
  ck(drv().cuMemcpyDtoH(dst, CUdeviceptr(src), bytes), "cuMemcpyDtoH");
}

void CudaDevice::launch(const Kernel &k, const kernels::Launch &l,
                        const void *args, size_t) {
  CUfunction f = static_cast<CUfunction>(function(k));
  if (l.shared_bytes > 48 * 1024)
    ck(drv().cuFuncSetAttribute(f,
                                CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                int(l.shared_bytes)),
       "cuFuncSetAttribute");
  void *params[] = {const_cast<void *>(args)};
  ck(drv().cuLaunchKernel(f, l.grid_x, l.grid_y, l.grid_z, l.block, 1, 1,
                          l.shared_bytes, nullptr, params, nullptr),
     "cuLaunchKernel");
}

double CudaDevice::medianSeconds(const std::function<void(int)> &run) {
  CUevent start, stop;
  ck(drv().cuEventCreate(&start, 0), "cuEventCreate");
  ck(drv().cuEventCreate(&stop, 0), "cuEventCreate");
  std::vector<float> times;
  for (int i = 0; i < 23; ++i) {
    ck(drv().cuEventRecord(start, nullptr), "cuEventRecord");
    run(i);
    ck(drv().cuEventRecord(stop, nullptr), "cuEventRecord");
    ck(drv().cuEventSynchronize(stop), "cuEventSynchronize");
    float ms = 0;
    ck(drv().cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
    if (i >= 3)
      times.push_back(ms);
  }
  drv().cuEventDestroy(start);
  drv().cuEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2] * 1e-3;
}

} // namespace moela::cases
