//===- CudaDevice.cpp - The kernel cases on the CUDA driver API -----------===//
#include "CudaDevice.h"

#include "cuda/CudaDriver.h"
#include "moela/Runtime/Nvrtc.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>

namespace moela::cases {

struct CudaDevice::Compiled {
  NvrtcResult result;
};

namespace {

const cuda::Driver &drv() { return cuda::Driver::get(); }
void ck(CUresult r, const char *what) { cuda::check(r, what); }

NvrtcOptions nvrtcOptions() {
  NvrtcOptions o;
  o.arch = "sm_90a";
  o.cacheDir = defaultKernelCacheDir();
  return o;
}

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
  std::vector<const Kernel *> jobs;
  for (const Kernel &k : kernels)
    if (!compiled_.count(k.name())) {
      compiled_[k.name()] = std::make_shared<Compiled>();
      jobs.push_back(&k);
    }
  std::vector<std::string> errors(jobs.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < std::max(1u, std::thread::hardware_concurrency());
       ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < jobs.size();) {
        try {
          compiled_.at(jobs[i]->name())->result =
              compileCuda(jobs[i]->name(), jobs[i]->source(), nvrtcOptions());
        } catch (const std::exception &e) {
          errors[i] = e.what();
        }
      }
    });
  for (std::thread &t : pool)
    t.join();
  for (const std::string &e : errors)
    if (!e.empty())
      throw std::runtime_error(e);
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
    const NvrtcResult &r = compiled_.at(name)->result;
    std::printf("  compiled %s: %d registers, %d spill bytes%s\n", name.c_str(),
                r.registers, r.spillBytes, r.fromCache ? " (cached)" : "");
    ck(drv().cuModuleLoadData(&module, r.cubin.data()), "cuModuleLoadData");
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
