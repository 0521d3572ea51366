//===- Compile.cpp - NVRTC over many kernels at once ----------------------===//
#include "Compile.h"

#include <algorithm>
#include <atomic>
#include <thread>

namespace moela::cases {

std::vector<Compiled> compileAll(const std::vector<Kernel> &kernels,
                                 bool cached) {
  NvrtcOptions options;
  options.arch = "sm_90a";
  if (cached)
    options.cacheDir = defaultKernelCacheDir();
  std::vector<Compiled> out(kernels.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < std::max(1u, std::thread::hardware_concurrency());
       ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < kernels.size();) {
        try {
          out[i].result =
              compileCuda(kernels[i].name(), kernels[i].source(), options);
        } catch (const std::exception &e) {
          out[i].error = e.what();
        }
      }
    });
  for (std::thread &t : pool)
    t.join();
  return out;
}

} // namespace moela::cases
