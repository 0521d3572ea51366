//===- KernelGpuTest.cpp - The kernel cases on a GPU ----------------------===//
//
// The GPU's runner of the kernel-case table (test/kernels/Cases.h): every
// case marked kGpu of a group of families, on device 0 through CudaDevice
// (NVRTC for sm_90a through the disk cache, $MOELA_CACHE_DIR; the group's
// kernels are compiled on all cores first). Without a device it prints
// "SKIP: no CUDA device: ..." and exits 0. Inputs are fresh random numbers
// every run (the seed is printed; --seed N repeats one). One PASS / FAIL
// line per check, TIME and BENCH lines for the timed cases (CUDA events,
// median of 20 after 3 warm-ups), then "N passed, N failed".
//
//   moela-gpu-kernel-test --group ops|matmul|wgmma [--seed N] [--quick]
//                         [--filter SUBSTRING] [--list]
//
// ops: every family but the GEMMs; matmul: Gemm, GroupedGemm, HeadGemm;
// wgmma: GemmWgmma. --quick leaves out DeepSeek-V3 sizes and timing;
// --filter keeps the cases whose name contains SUBSTRING; --list prints them.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "CudaDevice.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using namespace moela::cases;

class PrintReport : public Report {
public:
  int passed = 0, failed = 0;
  void record(const std::string &what, bool ok,
              const std::string &detail) override {
    std::printf("%s %-78s %s\n", ok ? "PASS" : "FAIL", what.c_str(),
                detail.c_str());
    std::fflush(stdout);
    ++(ok ? passed : failed);
  }
};

std::string groupOf(const Case &c) {
  const std::string &f = c.kernels.front().family;
  if (f == "GemmWgmma")
    return "wgmma";
  return f == "Gemm" || f == "GroupedGemm" || f == "HeadGemm" ? "matmul"
                                                              : "ops";
}

int usage(const char *argv0) {
  std::fprintf(stderr,
               "usage: %s --group ops|matmul|wgmma [--seed N] [--quick] "
               "[--filter SUBSTRING] "
               "[--list]\n",
               argv0);
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string group, filter;
  bool quick = false, list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--group" && i + 1 < argc)
      group = argv[++i];
    else if (arg == "--seed" && i + 1 < argc)
      setRunSeed(std::stoull(argv[++i]));
    else if (arg == "--filter" && i + 1 < argc)
      filter = argv[++i];
    else if (arg == "--quick")
      quick = true;
    else if (arg == "--list")
      list = true;
    else
      return usage(argv[0]);
  }
  if (group != "ops" && group != "matmul" && group != "wgmma")
    return usage(argv[0]);
  Cases cases;
  std::vector<Kernel> kernels;
  for (Case &c : allCases())
    if ((c.suites & kGpu) && groupOf(c) == group && !(quick && c.large) &&
        c.name.find(filter) != std::string::npos) {
      kernels.insert(kernels.end(), c.kernels.begin(), c.kernels.end());
      cases.push_back(std::move(c));
    }
  if (list) {
    for (const Case &c : cases)
      std::printf("%s\n", c.name.c_str());
    return 0;
  }
  std::string why;
  std::unique_ptr<CudaDevice> device;
  try {
    device = CudaDevice::open(why);
  } catch (const std::exception &e) {
    why = e.what();
  }
  if (!device) {
    std::printf("SKIP: no CUDA device: %s\n", why.c_str());
    return 0;
  }
  setDevice(device.get());
  std::printf("device: %s\n", device->name().c_str());
  runSeed(); // prints the seed
  PrintReport report;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  };
  try {
    device->prepare(kernels);
    std::printf("compiled the kernels of %zu cases in %.1f s\n", cases.size(),
                seconds());
  } catch (const std::exception &e) {
    report.record("compiling the kernels", false, e.what());
    cases.clear();
  }
  for (const Case &c : cases) {
    try {
      c.run(report);
    } catch (const std::exception &e) {
      report.record(c.name + " (exception)", false, e.what());
      // A failed launch leaves the context unusable: stop here.
      if (std::string(e.what()).find("CUDA") != std::string::npos)
        break;
    }
  }
  std::printf("time %.1f s\n", seconds());
  std::printf("%d passed, %d failed\n", report.passed, report.failed);
  return report.failed ? 1 : 0;
}
