//===- KernelEmuTest.cpp - The kernel cases on the CPU emulation ----------===//
//
// The emulator's runner of the kernel-case table (test/kernels/Cases.h):
// every case marked kEmu, one GoogleTest KernelEmu<Family>.<Group> per group
// of the table, run through CudaDevice on the emulated driver
// (libmoela-cuda-emu.so: the driver API over CudaEmu.h and PtxEmu.h, whose
// kernels gen-emu-kernels.py generates from the same table). Each check is
// an expectation and prints its line. MOELA_TEST_SEED=<n> replays a run.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "CudaDevice.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace {

using namespace moela::cases;

class ExpectReport : public Report {
public:
  void record(const std::string &what, bool ok,
              const std::string &detail) override {
    std::printf("  %-78s %s\n", what.c_str(), detail.c_str());
    EXPECT_TRUE(ok) << what << ": " << detail;
  }
};

/// The emulated device, opened once per process.
void openEmulator() {
  static std::unique_ptr<CudaDevice> device;
  if (device)
    return;
  std::string why;
  device = CudaDevice::open(why);
  if (!device)
    throw std::runtime_error("no emulated device: " + why);
  if (!device->emulated())
    throw std::runtime_error("MOELA_CUDA_DRIVER opens '" + device->name() +
                             "', not the emulator");
  setDevice(device.get());
}

class Group : public ::testing::Test {
public:
  explicit Group(std::vector<Case> cases) : cases_(std::move(cases)) {}
  void TestBody() override {
    ASSERT_NO_THROW(openEmulator());
    ExpectReport report;
    for (const Case &c : cases_) {
      SCOPED_TRACE(c.name);
      try {
        c.run(report);
      } catch (const std::exception &e) {
        ADD_FAILURE() << c.name << ": " << e.what();
      }
    }
  }

private:
  std::vector<Case> cases_;
};

} // namespace

int main(int argc, char **argv) {
  setenv("MOELA_CUDA_DRIVER", MOELA_EMU_DRIVER, /*overwrite=*/0);
  ::testing::InitGoogleTest(&argc, argv);
  std::vector<std::pair<std::string, std::vector<Case>>>
      groups; // in table order
  for (Case &c : allCases()) {
    if (!(c.suites & kEmu))
      continue;
    if (groups.empty() || groups.back().first != c.test)
      groups.push_back({c.test, {}});
    groups.back().second.push_back(std::move(c));
  }
  for (auto &[test, cases] : groups) {
    const size_t dot = test.find('.');
    const std::string suite = "KernelEmu" + test.substr(0, dot),
                      name = test.substr(dot + 1);
    ::testing::RegisterTest(
        suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
        [cases = cases]() -> ::testing::Test * { return new Group(cases); });
  }
  return RUN_ALL_TESTS();
}
