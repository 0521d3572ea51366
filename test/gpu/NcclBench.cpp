//===- NcclBench.cpp - All-reduce / all-gather bandwidth through NCCL -----===//
//
// mpirun -n N moela-gpu-nccl-bench [MiB]   (default 256)
//
// One device per rank (local rank % devices), NCCL loaded as the CUDA backend
// loads it (runtime/cuda/Nccl.h). Each collective runs once to check its
// values (rank r contributes r + 1: the sum is N(N+1)/2; the gather is
// rank-major), then 20 timed iterations on one stream. Rank 0 prints the bus
// bandwidth as nccl-tests defines it (all-reduce: bytes/time * 2(N-1)/N;
// all-gather: total bytes/time * (N-1)/N) against the NVLink roof (450 GB/s
// per direction for H100/H200 NVLink 4). Prints "SKIP" and exits 0 with one
// rank or without a device; the last line is "N passed, M failed".
//
//===----------------------------------------------------------------------===//
#include "cuda/CudaDriver.h"
#include "cuda/Nccl.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace moela;
using namespace moela::cuda;

namespace {

constexpr double kNvlinkRoofGBs = 450; // NVLink 4, one direction
constexpr int kIterations = 20;

int localRank(const Communicator &comm) {
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"})
    if (const char *v = std::getenv(name); v && *v)
      return std::atoi(v);
  return comm.rank();
}

int run(Communicator &comm, size_t mib) {
  const int n = comm.size(), rank = comm.rank();
  std::string why;
  const int devices = Driver::deviceCount(&why);
  if (n < 2 || devices == 0) {
    if (rank == 0)
      std::printf("SKIP: %s\n0 passed, 0 failed\n",
                  n < 2 ? "one rank (start it with mpirun -n N)"
                        : ("no CUDA device: " + why).c_str());
    return 0;
  }
  const Driver &d = Driver::get();
  const Nccl &nccl = Nccl::get();
  CUdevice device;
  CUcontext context;
  CUstream stream;
  check(d.cuDeviceGet(&device, localRank(comm) % devices), "cuDeviceGet");
  check(d.cuDevicePrimaryCtxRetain(&context, device), "context");
  check(d.cuCtxSetCurrent(context), "cuCtxSetCurrent");
  check(d.cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (rank == 0)
    check(nccl.ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm.broadcast(&id, sizeof id, 0);
  ncclComm_t nc;
  check(nccl.ncclCommInitRank(&nc, n, id, rank), "ncclCommInitRank");

  // f32 values, so that the check is exact.
  const size_t count = mib * (size_t(1) << 20) / sizeof(float);
  CUdeviceptr send, recv;
  check(d.cuMemAlloc(&send, count * sizeof(float)), "cuMemAlloc");
  check(d.cuMemAlloc(&recv, count * sizeof(float)), "cuMemAlloc");
  std::vector<float> host(count, float(rank + 1));
  check(d.cuMemcpyHtoD(send, host.data(), count * sizeof(float)), "upload");
  const size_t block = count / size_t(n); // all-gather: count/n per rank
  int failed = 0, passed = 0;
  auto verify = [&](const char *what, auto expected) {
    check(d.cuStreamSynchronize(stream), what);
    check(d.cuMemcpyDtoH(host.data(), recv, count * sizeof(float)), what);
    size_t bad = 0;
    for (size_t i = 0; i < count && i < block * n; ++i)
      bad += host[i] != expected(i);
    int anyBad = bad ? 1 : 0;
    float flag = float(anyBad);
    comm.allReduceSum(&flag, 1);
    if (rank == 0)
      std::printf("%s %s values (%zu wrong on rank 0)\n",
                  flag == 0 ? "PASS" : "FAIL", what, bad);
    (flag == 0 ? passed : failed)++;
  };

  CUevent start, stop;
  check(d.cuEventCreate(&start, 0), "cuEventCreate");
  check(d.cuEventCreate(&stop, 0), "cuEventCreate");
  auto time = [&](auto collective) {
    collective(); // warm-up
    check(d.cuStreamSynchronize(stream), "warm-up");
    comm.broadcast(&id, 1, 0); // every rank starts together
    check(d.cuEventRecord(start, stream), "cuEventRecord");
    for (int i = 0; i < kIterations; ++i)
      collective();
    check(d.cuEventRecord(stop, stream), "cuEventRecord");
    check(d.cuEventSynchronize(stop), "cuEventSynchronize");
    float ms = 0;
    check(d.cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
    return ms / 1e3 / kIterations; // seconds per call
  };

  auto allReduce = [&] {
    check(nccl.ncclAllReduce(reinterpret_cast<void *>(send),
                             reinterpret_cast<void *>(recv), count, ncclFloat32,
                             ncclSum, nc, stream),
          "ncclAllReduce");
  };
  auto allGather = [&] {
    check(nccl.ncclAllGather(reinterpret_cast<void *>(send),
                             reinterpret_cast<void *>(recv), block, ncclFloat32,
                             nc, stream),
          "ncclAllGather");
  };
  allReduce();
  verify("all-reduce", [&](size_t) { return float(n * (n + 1) / 2); });
  allGather();
  verify("all-gather", [&](size_t i) { return float(i / block + 1); });

  const double bytes = double(count) * sizeof(float);
  const double ar = time(allReduce), ag = time(allGather);
  const double arBus = bytes / ar * 2 * (n - 1) / n / 1e9;
  const double agBus = bytes / ag * (n - 1) / n / 1e9;
  if (rank == 0) {
    std::printf("TIME all-reduce %zu MiB f32 on %d ranks: %.3f ms, bus "
                "bandwidth %.1f GB/s = %.0f%% of the NVLink roof (%.0f GB/s)\n",
                mib, n, ar * 1e3, arBus, 100 * arBus / kNvlinkRoofGBs,
                kNvlinkRoofGBs);
    std::printf("TIME all-gather %zu MiB f32 on %d ranks: %.3f ms, bus "
                "bandwidth %.1f GB/s = %.0f%% of the NVLink roof (%.0f GB/s)\n",
                mib, n, ag * 1e3, agBus, 100 * agBus / kNvlinkRoofGBs,
                kNvlinkRoofGBs);
    std::printf("%d passed, %d failed\n", passed, failed);
  }
  nccl.ncclCommDestroy(nc);
  d.cuMemFree(send);
  d.cuMemFree(recv);
  d.cuStreamDestroy(stream);
  d.cuDevicePrimaryCtxRelease(device);
  return failed ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  const size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 256;
  std::unique_ptr<Communicator> comm =
      launchedByMpi() ? makeMpiCommunicator() : makeSingleProcessCommunicator();
  try {
    return run(*comm, mib);
  } catch (const Error &e) {
    std::fprintf(stderr, "moela-gpu-nccl-bench: rank %d: %s\n", comm->rank(),
                 e.what());
    if (comm->size() > 1)
      comm->abort(e.what());
    return 1;
  }
}
