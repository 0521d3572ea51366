//===- EmuDriverMutantsTest.cpp - Planted host-side races, emulated driver ===//
//
// The driver half of `ctest -L emu-mutants` (EmuMutantsTest.cpp has the
// kernels): host code that races with its stream, run on
// libmoela-cuda-emu.so through the backend's own driver loader. The
// emulator must report each mutant (a poisoned read, a failed
// synchronisation); each correct twin must pass.
//
//===----------------------------------------------------------------------===//
#include "cuda/CudaDriver.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace moela::emutest {
namespace {

using cuda::check;

/// The emulated driver with a current context, a stream, a device buffer
/// holding 0, 1, ..., 63 and a pinned host buffer of the same size.
struct Fixture {
  const cuda::Driver &d = cuda::Driver::get();
  CUstream stream = nullptr;
  CUdeviceptr device = 0;
  int32_t *pinned = nullptr;
  static constexpr size_t kCount = 64, kBytes = kCount * sizeof(int32_t);

  Fixture() {
    CUdevice dev;
    CUcontext ctx;
    check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
    check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    check(d.cuStreamCreate(&stream, 0), "cuStreamCreate");
    check(d.cuMemAlloc(&device, kBytes), "cuMemAlloc");
    std::vector<int32_t> values(kCount);
    for (size_t i = 0; i < kCount; ++i)
      values[i] = int32_t(i);
    check(d.cuMemcpyHtoD(device, values.data(), kBytes), "cuMemcpyHtoD");
    void *p = nullptr;
    check(d.cuMemAllocHost(&p, kBytes), "cuMemAllocHost");
    pinned = static_cast<int32_t *>(p);
  }
  ~Fixture() {
    d.cuStreamSynchronize(stream);
    d.cuMemFreeHost(pinned);
    d.cuMemFree(device);
    d.cuStreamDestroy(stream);
  }
};

TEST(EmuDriverMutants, DeviceToHostCopyLandsAtSynchronisation) {
  Fixture f;
  std::vector<int32_t> host(Fixture::kCount, 7);
  check(f.d.cuMemcpyDtoHAsync(host.data(), f.device, Fixture::kBytes, f.stream),
        "cuMemcpyDtoHAsync");
  // The mutant reads before cuStreamSynchronize: the poison (0xff bytes).
  EXPECT_EQ(host[5], -1);
  // The twin synchronises first.
  check(f.d.cuStreamSynchronize(f.stream), "cuStreamSynchronize");
  for (size_t i = 0; i < Fixture::kCount; ++i)
    ASSERT_EQ(host[i], int32_t(i));
}

TEST(EmuDriverMutants, AnEventCoversOnlyTheCopiesBeforeIt) {
  Fixture f;
  CUevent event;
  check(f.d.cuEventCreate(&event, 0), "cuEventCreate");
  int32_t before = 7, after = 7;
  check(f.d.cuMemcpyDtoHAsync(&before, f.device + 4, 4, f.stream), "copy");
  check(f.d.cuEventRecord(event, f.stream), "cuEventRecord");
  check(f.d.cuMemcpyDtoHAsync(&after, f.device + 8, 4, f.stream), "copy");
  check(f.d.cuEventSynchronize(event), "cuEventSynchronize");
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, -1); // enqueued after the event: still in flight
  check(f.d.cuStreamQuery(f.stream), "cuStreamQuery"); // done: delivered
  EXPECT_EQ(after, 2);
  f.d.cuEventDestroy(event);
}

TEST(EmuDriverMutants, PinnedSourceRewrittenBeforeSynchronisationFails) {
  Fixture f;
  // The twin: the host writes the pinned source, copies, synchronises, and
  // only then writes it again.
  for (size_t i = 0; i < Fixture::kCount; ++i)
    f.pinned[i] = 100;
  check(f.d.cuMemcpyHtoDAsync(f.device, f.pinned, Fixture::kBytes, f.stream),
        "cuMemcpyHtoDAsync");
  EXPECT_EQ(f.d.cuStreamSynchronize(f.stream), CUDA_SUCCESS);
  f.pinned[3] = 200;
  // The mutant: the host reuses the pinned buffer while the copy is pending.
  check(f.d.cuMemcpyHtoDAsync(f.device, f.pinned, Fixture::kBytes, f.stream),
        "cuMemcpyHtoDAsync");
  f.pinned[3] = 300;
  EXPECT_EQ(f.d.cuStreamSynchronize(f.stream), CUDA_ERROR_ILLEGAL_STATE);
  const char *why = nullptr;
  f.d.cuGetErrorString(CUDA_ERROR_ILLEGAL_STATE, &why);
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::strstr(why, "the host wrote pinned memory"), nullptr) << why;
}

} // namespace
} // namespace moela::emutest

int main(int argc, char **argv) {
  setenv("MOELA_CUDA_DRIVER", MOELA_EMU_DRIVER, /*overwrite=*/1);
  setenv("MOELA_EMU_EAGER_COPIES", "0", /*overwrite=*/1);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
