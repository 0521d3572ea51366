//===- EmuNccl.cpp - NCCL's entry points for emulated devices -------------===//
//
// libmoela-nccl-emu.so: the entry points of runtime/cuda/NcclFunctions.def,
// so that MOELA_NCCL_LIBRARY=<this library> (with MOELA_CUDA_DRIVER naming
// the emulated driver) runs the CUDA backend's collectives in CI on CPU
// ranks started by mpirun:
//
//  - emulated device memory is host memory, so each collective is an MPI
//    collective on the device pointers;
//  - a collective is enqueued on its stream with the emulated driver's
//    cuLaunchHostFunc, so it runs in stream order and is recorded into a
//    graph while the stream captures, as NCCL's kernels are;
//  - ncclCommInitRank joins the ranks that hold the same unique id (an MPI
//    split of MPI_COMM_WORLD by the id, ordered by the NCCL rank) and checks
//    that they are `nranks` distinct ranks;
//  - NCCL's semantics: sums (bf16 summed in f32 in rank order and rounded to
//    nearest even once, so every rank gets the same bits), rank-major
//    all-gather, in-place forms; bad arguments return NCCL's error codes with
//    the reason on stderr.
//
//===----------------------------------------------------------------------===//
#include "cuda/Nccl.h"

#include <cuda.h>
#include <dlfcn.h>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

/// One enqueued collective; run() does it on the host pointers.
struct EmuCollective {
  bool once = true; // freed after running (not recorded into a graph)
  std::function<void()> run;
};

struct ncclComm {
  MPI_Comm mpi = MPI_COMM_NULL;
  int rank = 0, size = 1;
  /// Collectives recorded into graphs: their data lives as long as the comm.
  std::mutex mutex;
  std::deque<std::unique_ptr<EmuCollective>> recorded;
  int collectivesRun = 0; // for MOELA_EMU_NCCL_ASYNC_ERROR
};

namespace {

constexpr int kVersion = 22800; // reports itself as NCCL 2.28.0
constexpr char kIdMagic[] = "moela-emu-nccl";

ncclResult_t error(ncclResult_t r, const std::string &why) {
  std::fprintf(stderr, "moela NCCL emulator: %s\n", why.c_str());
  return r;
}

size_t typeSize(ncclDataType_t t) {
  switch (static_cast<int>(t)) {
  case ncclFloat32:
    return 4;
  case ncclBfloat16:
    return 2;
  default:
    return 0; // not emulated
  }
}

float bf16ToFloat(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) // NaN stays a (quiet) NaN
    return uint16_t((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u); // round to nearest even
  return uint16_t(bits >> 16);
}

/// The emulated driver's stream entry points: the library MOELA_CUDA_DRIVER
/// names, already opened by the CUDA backend.
struct DriverHooks {
  CUresult (*launchHostFunc)(CUstream, CUhostFn, void *) = nullptr;
  CUresult (*isCapturing)(CUstream, CUstreamCaptureStatus *) = nullptr;
  std::string error; // empty when usable
};

const DriverHooks &driverHooks() {
  static const DriverHooks hooks = [] {
    DriverHooks h;
    const char *path = std::getenv("MOELA_CUDA_DRIVER");
    if (!path || !*path) {
      h.error = "the emulated NCCL runs on the emulated CUDA driver: set "
                "MOELA_CUDA_DRIVER to libmoela-cuda-emu.so";
      return h;
    }
    void *handle = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (!handle) {
      h.error = std::string("the emulated CUDA driver ") + path +
                " is not loaded (open it before NCCL)";
      return h;
    }
    h.launchHostFunc = reinterpret_cast<decltype(h.launchHostFunc)>(
        dlsym(handle, "cuLaunchHostFunc"));
    h.isCapturing = reinterpret_cast<decltype(h.isCapturing)>(
        dlsym(handle, "cuStreamIsCapturing"));
    if (!h.launchHostFunc || !h.isCapturing)
      h.error =
          std::string(path) + " lacks cuLaunchHostFunc or cuStreamIsCapturing";
    return h;
  }();
  return hooks;
}

void runCollective(void *data) {
  auto *c = static_cast<EmuCollective *>(data);
  c->run();
  if (c->once)
    delete c;
}

/// Enqueues `run` on `stream`, in stream order (recorded while capturing).
ncclResult_t enqueue(ncclComm *comm, CUstream stream, const char *what,
                     std::function<void()> run) {
  const DriverHooks &driver = driverHooks();
  if (!driver.error.empty())
    return error(ncclUnhandledCudaError,
                 std::string(what) + ": " + driver.error);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  if (driver.isCapturing(stream, &status) != CUDA_SUCCESS)
    return error(ncclUnhandledCudaError,
                 std::string(what) + ": cuStreamIsCapturing failed");
  auto c = std::make_unique<EmuCollective>();
  c->run = [comm, run = std::move(run)] {
    run();
    ++comm->collectivesRun;
  };
  EmuCollective *raw = c.get();
  if (status == CU_STREAM_CAPTURE_STATUS_ACTIVE) {
    // A captured collective replays with every graph launch: keep it.
    raw->once = false;
    std::lock_guard<std::mutex> lock(comm->mutex);
    comm->recorded.push_back(std::move(c));
  } else {
    c.release(); // runCollective frees it
  }
  if (driver.launchHostFunc(stream, runCollective, raw) != CUDA_SUCCESS) {
    if (raw->once)
      delete raw;
    return error(ncclUnhandledCudaError,
                 std::string(what) + ": cuLaunchHostFunc failed");
  }
  return ncclSuccess;
}

void mpiCheck(int rc, const char *what) {
  if (rc == MPI_SUCCESS)
    return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  std::fprintf(stderr, "moela NCCL emulator: %s: %s\n", what, text);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

/// What NCCL checks of every collective's arguments: a communicator, an
/// emulated data type, and buffers when there is data.
ncclResult_t checkCollective(const char *name, ncclComm_t comm,
                             ncclDataType_t type, size_t count,
                             const void *send, const void *recv) {
  const std::string call = name;
  if (!comm)
    return error(ncclInvalidArgument, call + ": null comm");
  if (typeSize(type) == 0)
    return error(ncclInvalidArgument,
                 call + ": data type " + std::to_string(int(type)) +
                     " is not emulated (ncclFloat32, ncclBfloat16)");
  if (count > 0 && (!send || !recv))
    return error(ncclInvalidArgument, call + ": null buffer");
  return ncclSuccess;
}

/// Whether [a, a + n) and [b, b + m) overlap.
bool overlaps(const void *a, size_t n, const void *b, size_t m) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return x < y + m && y < x + n;
}

} // namespace

// Only NCCL's API shows (the library is built with hidden visibility).
#pragma GCC visibility push(default)
extern "C" {

ncclResult_t ncclGetVersion(int *version) {
  if (!version)
    return error(ncclInvalidArgument, "ncclGetVersion: null version");
  *version = kVersion;
  return ncclSuccess;
}

const char *ncclGetErrorString(ncclResult_t r) {
  switch (r) {
#define MOELA_NCCL_RESULT(name, value, text)                                   \
  case name:                                                                   \
    return text;
#include "cuda/NcclResults.def"
  }
  return "unknown result code";
}

ncclResult_t ncclGetUniqueId(ncclUniqueId *id) {
  if (!id)
    return error(ncclInvalidArgument, "ncclGetUniqueId: null id");
  std::memset(id, 0, sizeof *id);
  std::memcpy(id->internal, kIdMagic, sizeof kIdMagic);
  std::random_device random;
  for (size_t i = sizeof kIdMagic; i < sizeof id->internal; ++i)
    id->internal[i] = static_cast<char>(random());
  return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t *out, int nranks, ncclUniqueId id,
                              int rank) {
  if (!out)
    return error(ncclInvalidArgument, "ncclCommInitRank: null comm");
  if (nranks < 1 || rank < 0 || rank >= nranks)
    return error(ncclInvalidArgument, "ncclCommInitRank: rank " +
                                          std::to_string(rank) + " of " +
                                          std::to_string(nranks));
  if (std::memcmp(id.internal, kIdMagic, sizeof kIdMagic) != 0)
    return error(ncclInvalidArgument,
                 "ncclCommInitRank: not an id of ncclGetUniqueId");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    mpiCheck(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided),
             "MPI_Init_thread");
  }
  // The ranks holding this id, ordered by their NCCL rank.
  uint32_t hash = 2166136261u; // FNV-1a
  for (char c : id.internal)
    hash = (hash ^ uint8_t(c)) * 16777619u;
  auto comm = std::make_unique<ncclComm>();
  mpiCheck(
      MPI_Comm_split(MPI_COMM_WORLD, int(hash & 0x7fffffff), rank, &comm->mpi),
      "MPI_Comm_split");
  MPI_Comm_rank(comm->mpi, &comm->rank);
  MPI_Comm_size(comm->mpi, &comm->size);
  std::vector<int> ranks(size_t(comm->size));
  mpiCheck(
      MPI_Allgather(&rank, 1, MPI_INT, ranks.data(), 1, MPI_INT, comm->mpi),
      "MPI_Allgather");
  bool ok = comm->size == nranks;
  for (int r = 0; ok && r < comm->size; ++r)
    ok = ranks[size_t(r)] == r;
  if (!ok) {
    MPI_Comm_free(&comm->mpi);
    return error(ncclInvalidUsage,
                 "ncclCommInitRank: " + std::to_string(comm->size) +
                     " processes joined the id, expected nranks = " +
                     std::to_string(nranks) + " with distinct ranks");
  }
  *out = comm.release();
  return ncclSuccess;
}

ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  if (!comm)
    return error(ncclInvalidArgument, "ncclCommDestroy: null comm");
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized)
    MPI_Comm_free(&comm->mpi);
  delete comm;
  return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *result) {
  if (!comm || !result)
    return error(ncclInvalidArgument, "ncclCommGetAsyncError: null argument");
  // A failing MPI collective aborts the run instead; a test plants an error
  // with MOELA_EMU_NCCL_ASYNC_ERROR=RANK:N: that rank's communicator reports
  // ncclRemoteError once it has run N collectives.
  *result = ncclSuccess;
  if (const char *plant = std::getenv("MOELA_EMU_NCCL_ASYNC_ERROR")) {
    int rank = -1, after = 0;
    if (std::sscanf(plant, "%d:%d", &rank, &after) == 2 && rank == comm->rank &&
        comm->collectivesRun >= after)
      *result = ncclRemoteError;
  }
  return ncclSuccess;
}

ncclResult_t ncclAllReduce(const void *send, void *recv, size_t count,
                           ncclDataType_t type, ncclRedOp_t op, ncclComm_t comm,
                           CUstream stream) {
  if (ncclResult_t bad =
          checkCollective("ncclAllReduce", comm, type, count, send, recv))
    return bad;
  if (op != ncclSum)
    return error(ncclInvalidArgument, "ncclAllReduce: reduction " +
                                          std::to_string(int(op)) +
                                          " is not emulated (ncclSum)");
  const size_t bytes = count * typeSize(type);
  if (send != recv && overlaps(send, bytes, recv, bytes))
    return error(ncclInvalidArgument,
                 "ncclAllReduce: send and recv overlap without being equal");
  return enqueue(comm, stream, "ncclAllReduce", [=] {
    if (count == 0)
      return;
    // Every rank's block, then the sum in rank order: the same bits on
    // every rank.
    std::vector<char> all(bytes * size_t(comm->size));
    mpiCheck(MPI_Allgather(send, int(bytes), MPI_BYTE, all.data(), int(bytes),
                           MPI_BYTE, comm->mpi),
             "ncclAllReduce (MPI_Allgather)");
    for (size_t i = 0; i < count; ++i) {
      float sum = 0;
      for (int r = 0; r < comm->size; ++r) {
        const char *block = all.data() + size_t(r) * bytes;
        if (type == ncclFloat32) {
          float v;
          std::memcpy(&v, block + i * 4, 4);
          sum += v;
        } else {
          uint16_t h;
          std::memcpy(&h, block + i * 2, 2);
          sum += bf16ToFloat(h);
        }
      }
      if (type == ncclFloat32) {
        std::memcpy(static_cast<char *>(recv) + i * 4, &sum, 4);
      } else {
        uint16_t h = floatToBf16(sum);
        std::memcpy(static_cast<char *>(recv) + i * 2, &h, 2);
      }
    }
  });
}

ncclResult_t ncclAllGather(const void *send, void *recv, size_t sendCount,
                           ncclDataType_t type, ncclComm_t comm,
                           CUstream stream) {
  if (ncclResult_t bad =
          checkCollective("ncclAllGather", comm, type, sendCount, send, recv))
    return bad;
  const size_t bytes = sendCount * typeSize(type);
  char *mine = static_cast<char *>(recv) + size_t(comm->rank) * bytes;
  // In place is send == this rank's block of recv; any other overlap is
  // undefined in NCCL, an error here.
  const bool inPlace = send == mine;
  if (!inPlace && overlaps(send, bytes, recv, bytes * size_t(comm->size)))
    return error(ncclInvalidArgument,
                 "ncclAllGather: send overlaps recv but is not recv + rank * "
                 "sendcount");
  return enqueue(comm, stream, "ncclAllGather", [=] {
    if (sendCount == 0)
      return;
    mpiCheck(MPI_Allgather(inPlace ? MPI_IN_PLACE : send, int(bytes), MPI_BYTE,
                           recv, int(bytes), MPI_BYTE, comm->mpi),
             "ncclAllGather (MPI_Allgather)");
  });
}

} // extern "C"
#pragma GCC visibility pop

// The signatures above are the ones the runtime looks up.
#define MOELA_NCCL_FN(name, ret, params)                                       \
  static_assert(std::is_same_v<decltype(&::name), ret(*) params>,              \
                #name " differs from runtime/cuda/NcclFunctions.def");
#include "cuda/NcclFunctions.def"
#undef MOELA_NCCL_FN
