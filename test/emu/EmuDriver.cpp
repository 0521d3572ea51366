//===- EmuDriver.cpp - The CUDA driver API on the CPU emulation -----------===//
//
// libmoela-cuda-emu.so: every entry point of runtime/cuda/
// CudaDriverFunctions.def, with cuda.h's signatures and exported under the
// symbol names its macros give (cuMemAlloc_v2, cuGraphInstantiateWithFlags,
// ...), so that MOELA_CUDA_DRIVER=<this library> runs the unchanged CUDA
// backend in CI without a GPU:
//
//  - one device, "moela CUDA emulator", with H100 (sm_90) attributes;
//  - device memory is host memory, poisoned with 0xff (NaN in every float
//    format) on allocation, so a kernel that reads what nobody wrote shows;
//    cp.async reads outside every allocation fail the launch; each
//    allocation ends at a PROT_NONE page, so an access 256 bytes or more
//    past its end faults (SIGSEGV) instead of corrupting the next one;
//  - streams run their work at once, in order; events take the host clock;
//  - but asynchronous copies deliver to the host only at a synchronisation
//    (EmuAsyncCopies.h): a cuMemcpyDtoHAsync destination holds 0xff until
//    its stream is synchronised (cuStreamSynchronize, a cuStreamQuery that
//    says done, cuEventSynchronize on a later event, cuCtxSynchronize, a
//    synchronous copy), and a pinned cuMemcpyHtoDAsync source that the host
//    changes before then fails that synchronisation with
//    CUDA_ERROR_ILLEGAL_STATE. MOELA_EMU_EAGER_COPIES=1 delivers at once;
//  - stream capture records launches, copies and host functions
//    (cuLaunchHostFunc: the emulated NCCL's collectives) into a graph that
//    cuGraphLaunch replays (the kernel arguments are copied at capture, as
//    CUDA does);
//  - cuModuleLoadData accepts any ELF image (the plan's cubin, unread) and
//    cuModuleGetFunction finds the kernel by name among the emulated kernels
//    generated from the plans under test (EmuKernelRegistry.h);
//  - cuLaunchKernel checks what a GPU checks (block size against the
//    kernel's __launch_bounds__, dynamic shared memory against the opt-in)
//    and runs the launch with emu::launch. A failing launch returns
//    CUDA_ERROR_LAUNCH_FAILED; the reason goes to stderr and to
//    cuGetErrorString.
//
//===----------------------------------------------------------------------===//
#include "EmuAsyncCopies.h"
#include "EmuKernelRegistry.h"

#include <cuda.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <sys/mman.h>
#include <vector>

// The opaque handles of cuda.h, defined here.
struct CUctx_st {
  int retained = 0;
};
struct CUfunc_st {
  const emu::driver::Kernel *kernel = nullptr;
  int maxDynamicShared = 48 * 1024; // without opt-in
};
struct CUmod_st {
  std::map<std::string, std::unique_ptr<CUfunc_st>> functions;
};
/// One recorded stream operation (a launch or a copy).
using Op = std::function<CUresult()>;
struct CUgraph_st {
  std::vector<Op> ops;
};
struct CUgraphExec_st {
  std::vector<Op> ops;
};
struct CUstream_st {
  CUgraph_st *capture = nullptr; // recording into, while capturing
};
struct CUevent_st {
  std::chrono::steady_clock::time_point at;
  bool recorded = false;
  const void *stream = nullptr; // where it was last recorded
  uint64_t copies = 0;          // the copies enqueued before it (sequence)
};

namespace {

constexpr unsigned kMaxSharedOptIn = 232448; // 227 KiB, sm_90
constexpr int kSms = 132;                    // H100 SXM

bool initialized = false;
CUctx_st primary;
thread_local CUctx_st *current = nullptr;
CUstream_st legacyStream;                    // the null stream
thread_local int capturing = 0;              // streams this thread is capturing
thread_local CUstream_st *running = nullptr; // the stream of the op running
emu::driver::AsyncCopies asyncCopies;

/// CUDA forbids synchronous calls in a thread that captures (mode
/// THREAD_LOCAL or GLOBAL, the only ones moela uses).
CUresult notWhileCapturing(const char *what);

/// Device allocations end at an inaccessible (PROT_NONE) page, so a kernel
/// or copy that runs past one by 256 bytes or more faults at once instead
/// of corrupting its neighbour (on a GPU: other data or an illegal
/// address). `rounded` is a multiple of 256, the alignment cuMemAlloc
/// guarantees; the mapping's start is unused slack.
constexpr size_t kPage = 4096;
size_t guardedSpan(size_t rounded) {
  return (rounded + kPage - 1) / kPage * kPage + kPage;
}
void *guardedAlloc(size_t rounded) {
  const size_t span = guardedSpan(rounded);
  void *base = mmap(nullptr, span, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED)
    return nullptr;
  char *guard = static_cast<char *>(base) + span - kPage;
  if (mprotect(guard, kPage, PROT_NONE) != 0) {
    munmap(base, span);
    return nullptr;
  }
  return guard - rounded;
}
void guardedFree(void *p, size_t rounded) {
  const size_t span = guardedSpan(rounded);
  munmap(static_cast<char *>(p) + rounded + kPage - span, span);
}

std::mutex allocMutex;
std::map<CUdeviceptr, size_t> allocations;
size_t allocatedBytes = 0;

/// The last detail per error code, for cuGetErrorString.
std::map<CUresult, std::string> &details() {
  static std::map<CUresult, std::string> d;
  return d;
}

const char *errorName(CUresult r) {
  switch (r) {
#define NAME(e)                                                                \
  case e:                                                                      \
    return #e;
    NAME(CUDA_SUCCESS)
    NAME(CUDA_ERROR_INVALID_VALUE)
    NAME(CUDA_ERROR_OUT_OF_MEMORY)
    NAME(CUDA_ERROR_NOT_INITIALIZED)
    NAME(CUDA_ERROR_INVALID_DEVICE)
    NAME(CUDA_ERROR_INVALID_IMAGE)
    NAME(CUDA_ERROR_INVALID_CONTEXT)
    NAME(CUDA_ERROR_INVALID_HANDLE)
    NAME(CUDA_ERROR_NOT_FOUND)
    NAME(CUDA_ERROR_NOT_READY)
    NAME(CUDA_ERROR_LAUNCH_FAILED)
    NAME(CUDA_ERROR_NOT_SUPPORTED)
    NAME(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED)
    NAME(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED)
    NAME(CUDA_ERROR_ILLEGAL_STATE)
#undef NAME
  default:
    return nullptr;
  }
}

const char *errorText(CUresult r) {
  switch (r) {
  case CUDA_SUCCESS:
    return "no error";
  case CUDA_ERROR_INVALID_VALUE:
    return "invalid argument";
  case CUDA_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  case CUDA_ERROR_NOT_INITIALIZED:
    return "initialization error";
  case CUDA_ERROR_INVALID_DEVICE:
    return "invalid device ordinal";
  case CUDA_ERROR_INVALID_IMAGE:
    return "device kernel image is invalid";
  case CUDA_ERROR_INVALID_CONTEXT:
    return "invalid device context";
  case CUDA_ERROR_INVALID_HANDLE:
    return "invalid resource handle";
  case CUDA_ERROR_NOT_FOUND:
    return "named symbol not found";
  case CUDA_ERROR_NOT_READY:
    return "device not ready";
  case CUDA_ERROR_LAUNCH_FAILED:
    return "unspecified launch failure";
  case CUDA_ERROR_NOT_SUPPORTED:
    return "operation not supported";
  case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
    return "operation not permitted when stream is capturing";
  case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED:
    return "operation failed due to a previous error during capture";
  case CUDA_ERROR_ILLEGAL_STATE:
    return "the operation is not permitted in the current state";
  default:
    return nullptr;
  }
}

/// Returns `r` after saying why on stderr and for cuGetErrorString.
CUresult error(CUresult r, const std::string &why) {
  std::fprintf(stderr, "moela CUDA emulator: %s\n", why.c_str());
  details()[r] = std::string(errorText(r)) + ": " + why;
  return r;
}

CUresult needContext(const char *what) {
  if (!initialized)
    return error(CUDA_ERROR_NOT_INITIALIZED,
                 std::string(what) + " before cuInit");
  if (current != &primary || primary.retained == 0)
    return error(CUDA_ERROR_INVALID_CONTEXT,
                 std::string(what) + " without a current context");
  return CUDA_SUCCESS;
}

CUresult notWhileCapturing(const char *what) {
  if (capturing)
    return error(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                 std::string(what) + " while capturing");
  return CUDA_SUCCESS;
}

CUstream_st *streamOf(CUstream s) { return s ? s : &legacyStream; }

/// Runs `op` now, or records it while the stream captures.
CUresult enqueue(CUstream s, Op op) {
  if (CUgraph_st *g = streamOf(s)->capture) {
    g->ops.push_back(std::move(op));
    return CUDA_SUCCESS;
  }
  CUstream_st *saved = running;
  running = streamOf(s);
  const CUresult r = op();
  running = saved;
  return r;
}

/// Delivers the asynchronous copies of `stream` (all streams: nullptr)
/// enqueued before `before`: the host may read them now.
CUresult synchronised(const void *stream, const char *what,
                      uint64_t before = ~uint64_t(0)) {
  const std::string why = asyncCopies.deliver(stream, before);
  return why.empty()
             ? CUDA_SUCCESS
             : error(CUDA_ERROR_ILLEGAL_STATE, std::string(what) + ": " + why);
}

/// Whether [p, p + bytes) lies in one allocation.
bool isDevice(CUdeviceptr p, size_t bytes) {
  std::lock_guard<std::mutex> lock(allocMutex);
  auto it = allocations.upper_bound(p);
  if (it == allocations.begin())
    return false;
  --it;
  return p + bytes <= it->first + it->second;
}

CUresult checkDevice(CUdeviceptr p, size_t bytes, const char *what) {
  if (bytes && !isDevice(p, bytes))
    return error(CUDA_ERROR_INVALID_VALUE,
                 std::string(what) + ": [0x" + std::to_string(p) + ", +" +
                     std::to_string(bytes) +
                     ") is not inside one device allocation");
  return CUDA_SUCCESS;
}

int attribute(CUdevice_attribute a, bool *known) {
  *known = true;
  switch (a) {
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
    return 1024;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
    return 1024;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
    return 64;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
    return 2147483647;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
    return 65535;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
    return 48 * 1024;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    return static_cast<int>(kMaxSharedOptIn);
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
    return 233472;
  case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
    return 65536;
  case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
    return 32;
  case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
  case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
    return 65536;
  case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
    return 1980000; // kHz
  case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
    return 2619000; // kHz
  case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
    return 5120;
  case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE:
    return 50 * 1024 * 1024;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    return kSms;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
    return 2048;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR:
    return 32;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    return 9;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    return 0;
  case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
  case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
  case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
    return 1;
  case CU_DEVICE_ATTRIBUTE_INTEGRATED:
  case CU_DEVICE_ATTRIBUTE_TCC_DRIVER:
    return 0;
  default:
    *known = false;
    return 0;
  }
}

/// Runs one launch now (also from a graph replay).
CUresult runKernel(const CUfunc_st &f, const unsigned grid[3],
                   const unsigned block[3], unsigned shared, const void *args) {
  try {
    f.kernel->run(grid, block, shared, args);
    return CUDA_SUCCESS;
  } catch (const std::exception &e) {
    return error(CUDA_ERROR_LAUNCH_FAILED, std::string("kernel ") +
                                               f.kernel->name +
                                               " failed: " + e.what());
  }
}

} // namespace

// The library is built with hidden visibility (its emulation must not bind to
// same-named code of the program that opens it); only the driver API shows.
#pragma GCC visibility push(default)
extern "C" {

// ---- Initialisation, errors, device, context --------------------------------

CUresult CUDAAPI cuInit(unsigned int flags) {
  if (flags != 0)
    return error(CUDA_ERROR_INVALID_VALUE, "cuInit flags must be 0");
  initialized = true;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorName(CUresult r, const char **out) {
  *out = errorName(r);
  return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorString(CUresult r, const char **out) {
  auto it = details().find(r);
  *out = it != details().end() ? it->second.c_str() : errorText(r);
  return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuDeviceGetCount(int *count) {
  if (!initialized)
    return error(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGetCount before cuInit");
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal) {
  if (!initialized)
    return error(CUDA_ERROR_NOT_INITIALIZED, "cuDeviceGet before cuInit");
  if (ordinal != 0)
    return error(CUDA_ERROR_INVALID_DEVICE,
                 "device " + std::to_string(ordinal) +
                     " (the emulator has device 0 only)");
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice dev) {
  if (dev != 0 || len <= 0)
    return error(CUDA_ERROR_INVALID_VALUE,
                 "cuDeviceGetName: bad device or length");
  std::snprintf(name, static_cast<size_t>(len), "%s", "moela CUDA emulator");
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int *value, CUdevice_attribute a,
                                      CUdevice dev) {
  if (dev != 0)
    return error(CUDA_ERROR_INVALID_DEVICE,
                 "cuDeviceGetAttribute: device " + std::to_string(dev));
  bool known;
  *value = attribute(a, &known);
  if (!known)
    return error(CUDA_ERROR_INVALID_VALUE,
                 "cuDeviceGetAttribute: attribute " + std::to_string(a) +
                     " is not emulated (add it to EmuDriver.cpp)");
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
  if (!initialized)
    return error(CUDA_ERROR_NOT_INITIALIZED,
                 "cuDevicePrimaryCtxRetain before cuInit");
  if (dev != 0)
    return error(CUDA_ERROR_INVALID_DEVICE,
                 "cuDevicePrimaryCtxRetain: device " + std::to_string(dev));
  ++primary.retained;
  *ctx = &primary;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev) {
  if (dev != 0 || primary.retained == 0)
    return error(CUDA_ERROR_INVALID_CONTEXT,
                 "cuDevicePrimaryCtxRelease without a retain");
  --primary.retained;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  if (ctx && ctx != &primary)
    return error(CUDA_ERROR_INVALID_CONTEXT,
                 "cuCtxSetCurrent: not the primary context");
  current = ctx;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  if (CUresult r = needContext("cuCtxSynchronize"))
    return r;
  if (CUresult r = notWhileCapturing("cuCtxSynchronize"))
    return r;
  return synchronised(nullptr, "cuCtxSynchronize");
}

// ---- Modules and launches ---------------------------------------------------

CUresult CUDAAPI cuModuleLoadData(CUmodule *module, const void *image) {
  if (CUresult r = needContext("cuModuleLoadData"))
    return r;
  // The image is the plan's cubin; only its ELF magic is checked.
  if (!image || std::memcmp(image,
                            "\x7f"
                            "ELF",
                            4) != 0)
    return error(CUDA_ERROR_INVALID_IMAGE,
                 "cuModuleLoadData: the image is not an ELF cubin");
  *module = new CUmod_st;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleUnload(CUmodule module) {
  if (!module)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload: null module");
  delete module;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction *function, CUmodule module,
                                     const char *name) {
  if (!module || !name)
    return error(CUDA_ERROR_INVALID_HANDLE,
                 "cuModuleGetFunction: null module or name");
  const emu::driver::Kernel *k = emu::driver::findKernel(name);
  if (!k)
    return error(
        CUDA_ERROR_NOT_FOUND,
        std::string("no emulated kernel '") + name + "' (" +
            std::to_string(emu::driver::kernelCount()) +
            " are built in; the emulator knows the kernels of the plans "
            "test/emu/CMakeLists.txt compiles)");
  std::unique_ptr<CUfunc_st> &f = module->functions[name];
  if (!f) {
    f = std::make_unique<CUfunc_st>();
    f->kernel = k;
  }
  *function = f.get();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncSetAttribute(CUfunction f, CUfunction_attribute attrib,
                                    int value) {
  if (!f)
    return error(CUDA_ERROR_INVALID_HANDLE,
                 "cuFuncSetAttribute: null function");
  if (attrib != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
    return error(CUDA_ERROR_NOT_SUPPORTED, "cuFuncSetAttribute: attribute " +
                                               std::to_string(attrib) +
                                               " is not emulated");
  if (value < 0 || static_cast<unsigned>(value) > kMaxSharedOptIn)
    return error(CUDA_ERROR_INVALID_VALUE,
                 std::string("cuFuncSetAttribute(") + f->kernel->name +
                     "): " + std::to_string(value) +
                     " bytes of dynamic shared memory (max " +
                     std::to_string(kMaxSharedOptIn) + ")");
  f->maxDynamicShared = value;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridX,
                                unsigned int gridY, unsigned int gridZ,
                                unsigned int blockX, unsigned int blockY,
                                unsigned int blockZ, unsigned int sharedBytes,
                                CUstream stream, void **params, void **extra) {
  if (CUresult r = needContext("cuLaunchKernel"))
    return r;
  if (!f)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel: null function");
  const emu::driver::Kernel &k = *f->kernel;
  const std::string what = std::string("cuLaunchKernel(") + k.name + "): ";
  if (extra || !params || !params[0])
    return error(CUDA_ERROR_INVALID_VALUE,
                 what + "expects kernelParams[0] = &args, no extra");
  if (!gridX || !gridY || !gridZ || !blockX || !blockY || !blockZ ||
      gridY > 65535 || gridZ > 65535 || blockZ > 64)
    return error(CUDA_ERROR_INVALID_VALUE,
                 what + "bad geometry grid (" + std::to_string(gridX) + "," +
                     std::to_string(gridY) + "," + std::to_string(gridZ) +
                     ") block (" + std::to_string(blockX) + "," +
                     std::to_string(blockY) + "," + std::to_string(blockZ) +
                     ")");
  const unsigned threads = blockX * blockY * blockZ;
  if (threads > k.maxThreads)
    return error(CUDA_ERROR_INVALID_VALUE,
                 what + std::to_string(threads) +
                     " threads per block exceed its launch bounds (" +
                     std::to_string(k.maxThreads) + ")");
  if (sharedBytes > static_cast<unsigned>(f->maxDynamicShared))
    return error(CUDA_ERROR_INVALID_VALUE,
                 what + std::to_string(sharedBytes) +
                     " bytes of dynamic shared memory, " +
                     std::to_string(f->maxDynamicShared) +
                     " allowed (cuFuncSetAttribute opts in above 48 KiB)");
  // The arguments are copied now, as CUDA does: a graph replays these values.
  auto args = std::make_shared<std::vector<std::max_align_t>>(
      (k.argsBytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t));
  std::memcpy(args->data(), params[0], k.argsBytes);
  const CUfunc_st *fn = f;
  return enqueue(stream, [fn, args, gridX, gridY, gridZ, blockX, blockY, blockZ,
                          sharedBytes] {
    const unsigned grid[3] = {gridX, gridY, gridZ},
                   block[3] = {blockX, blockY, blockZ};
    return runKernel(*fn, grid, block, sharedBytes, args->data());
  });
}

// ---- Memory -----------------------------------------------------------------

CUresult CUDAAPI cuMemAlloc(CUdeviceptr *out, size_t bytes) {
  if (CUresult r = needContext("cuMemAlloc"))
    return r;
  if (CUresult r = notWhileCapturing("cuMemAlloc"))
    return r;
  if (bytes == 0)
    return error(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
  const size_t rounded = (bytes + 255) / 256 * 256;
  void *p = guardedAlloc(rounded);
  if (!p)
    return error(CUDA_ERROR_OUT_OF_MEMORY,
                 "cuMemAlloc of " + std::to_string(bytes) + " bytes");
  std::memset(p, 0xff, rounded); // NaN: nothing reads memory nobody wrote
  {
    std::lock_guard<std::mutex> lock(allocMutex);
    allocations[reinterpret_cast<CUdeviceptr>(p)] = bytes;
    allocatedBytes += rounded;
  }
  emu::driver::trackDeviceMemory(p, bytes);
  *out = reinterpret_cast<CUdeviceptr>(p);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr p) {
  if (CUresult r = needContext("cuMemFree"))
    return r;
  if (CUresult r = notWhileCapturing("cuMemFree"))
    return r;
  size_t rounded = 0;
  {
    std::lock_guard<std::mutex> lock(allocMutex);
    auto it = allocations.find(p);
    if (it == allocations.end())
      return error(CUDA_ERROR_INVALID_VALUE,
                   "cuMemFree of a pointer cuMemAlloc did not return");
    rounded = (it->second + 255) / 256 * 256;
    allocatedBytes -= rounded;
    allocations.erase(it);
  }
  emu::driver::untrackDeviceMemory(reinterpret_cast<void *>(p));
  guardedFree(reinterpret_cast<void *>(p), rounded);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemGetInfo(size_t *free, size_t *total) {
  if (CUresult r = needContext("cuMemGetInfo"))
    return r;
  // The host's memory is the device's.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  *total = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * page;
  *free = static_cast<size_t>(sysconf(_SC_AVPHYS_PAGES)) * page;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost(void **out, size_t bytes) {
  if (CUresult r = needContext("cuMemAllocHost"))
    return r;
  *out = std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
  if (!*out)
    return error(CUDA_ERROR_OUT_OF_MEMORY,
                 "cuMemAllocHost of " + std::to_string(bytes) + " bytes");
  asyncCopies.pinned(*out, bytes);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFreeHost(void *p) {
  asyncCopies.unpinned(p);
  std::free(p);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoD(CUdeviceptr dst, const void *src, size_t bytes) {
  if (CUresult r = needContext("cuMemcpyHtoD"))
    return r;
  if (CUresult r = notWhileCapturing("cuMemcpyHtoD"))
    return r;
  if (CUresult r = checkDevice(dst, bytes, "cuMemcpyHtoD"))
    return r;
  if (CUresult r = synchronised(nullptr, "cuMemcpyHtoD"))
    return r;
  std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyDtoH(void *dst, CUdeviceptr src, size_t bytes) {
  if (CUresult r = needContext("cuMemcpyDtoH"))
    return r;
  if (CUresult r = notWhileCapturing("cuMemcpyDtoH"))
    return r;
  if (CUresult r = checkDevice(src, bytes, "cuMemcpyDtoH"))
    return r;
  if (CUresult r = synchronised(nullptr, "cuMemcpyDtoH"))
    return r;
  std::memcpy(dst, reinterpret_cast<const void *>(src), bytes);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemcpyHtoDAsync(CUdeviceptr dst, const void *src,
                                   size_t bytes, CUstream stream) {
  if (CUresult r = needContext("cuMemcpyHtoDAsync"))
    return r;
  if (CUresult r = checkDevice(dst, bytes, "cuMemcpyHtoDAsync"))
    return r;
  return enqueue(stream, [=] {
    std::memcpy(reinterpret_cast<void *>(dst), src, bytes);
    asyncCopies.fromHost(running, src, bytes);
    return CUDA_SUCCESS;
  });
}

CUresult CUDAAPI cuMemcpyDtoHAsync(void *dst, CUdeviceptr src, size_t bytes,
                                   CUstream stream) {
  if (CUresult r = needContext("cuMemcpyDtoHAsync"))
    return r;
  if (CUresult r = checkDevice(src, bytes, "cuMemcpyDtoHAsync"))
    return r;
  return enqueue(stream, [=] {
    asyncCopies.toHost(running, dst, reinterpret_cast<const void *>(src),
                       bytes);
    return CUDA_SUCCESS;
  });
}

CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t n,
                                 CUstream stream) {
  if (CUresult r = needContext("cuMemsetD8Async"))
    return r;
  if (CUresult r = checkDevice(dst, n, "cuMemsetD8Async"))
    return r;
  return enqueue(stream, [=] {
    std::memset(reinterpret_cast<void *>(dst), value, n);
    return CUDA_SUCCESS;
  });
}

CUresult CUDAAPI cuMemcpy2DAsync(const CUDA_MEMCPY2D *copy, CUstream stream) {
  if (CUresult r = needContext("cuMemcpy2DAsync"))
    return r;
  // Device to device only: what the backend's copies need.
  if (!copy || copy->srcMemoryType != CU_MEMORYTYPE_DEVICE ||
      copy->dstMemoryType != CU_MEMORYTYPE_DEVICE || copy->srcXInBytes ||
      copy->srcY || copy->dstXInBytes || copy->dstY)
    return error(CUDA_ERROR_NOT_SUPPORTED,
                 "cuMemcpy2DAsync: the emulator copies device to device only, "
                 "without offsets");
  const CUDA_MEMCPY2D c = *copy;
  if (c.Height == 0)
    return CUDA_SUCCESS;
  if (CUresult r =
          checkDevice(c.srcDevice, c.srcPitch * (c.Height - 1) + c.WidthInBytes,
                      "cuMemcpy2DAsync (source)"))
    return r;
  if (CUresult r =
          checkDevice(c.dstDevice, c.dstPitch * (c.Height - 1) + c.WidthInBytes,
                      "cuMemcpy2DAsync (destination)"))
    return r;
  return enqueue(stream, [c] {
    for (size_t row = 0; row < c.Height; ++row)
      std::memmove(
          reinterpret_cast<void *>(c.dstDevice + row * c.dstPitch),
          reinterpret_cast<const void *>(c.srcDevice + row * c.srcPitch),
          c.WidthInBytes);
    return CUDA_SUCCESS;
  });
}

// ---- Streams, graphs, events ------------------------------------------------

CUresult CUDAAPI cuStreamCreate(CUstream *stream, unsigned int) {
  if (CUresult r = needContext("cuStreamCreate"))
    return r;
  *stream = new CUstream_st;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamDestroy(CUstream stream) {
  if (!stream)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy: null stream");
  if (stream->capture) { // a capture never ended is dropped
    delete stream->capture;
    --capturing;
  }
  // Its work completes (the copies land) though nobody waits for it.
  const CUresult r = synchronised(stream, "cuStreamDestroy");
  delete stream;
  return r;
}

CUresult CUDAAPI cuStreamSynchronize(CUstream stream) {
  if (CUresult r = needContext("cuStreamSynchronize"))
    return r;
  if (CUresult r = notWhileCapturing("cuStreamSynchronize"))
    return r;
  return synchronised(streamOf(stream), "cuStreamSynchronize");
}

CUresult CUDAAPI cuStreamQuery(CUstream stream) {
  if (CUresult r = needContext("cuStreamQuery"))
    return r;
  if (CUresult r = notWhileCapturing("cuStreamQuery"))
    return r;
  // The work ran at its enqueue: never CUDA_ERROR_NOT_READY; "done" lets the
  // host read the copies.
  return synchronised(streamOf(stream), "cuStreamQuery");
}

CUresult CUDAAPI cuStreamBeginCapture(CUstream stream, CUstreamCaptureMode) {
  if (CUresult r = needContext("cuStreamBeginCapture"))
    return r;
  if (!stream)
    return error(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                 "cuStreamBeginCapture on the null stream");
  if (stream->capture)
    return error(CUDA_ERROR_ILLEGAL_STATE,
                 "cuStreamBeginCapture: already capturing");
  stream->capture = new CUgraph_st;
  ++capturing;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamEndCapture(CUstream stream, CUgraph *graph) {
  if (!stream || !stream->capture)
    return error(CUDA_ERROR_ILLEGAL_STATE,
                 "cuStreamEndCapture without cuStreamBeginCapture");
  *graph = stream->capture;
  stream->capture = nullptr;
  --capturing;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamIsCapturing(CUstream stream,
                                     CUstreamCaptureStatus *status) {
  if (!status)
    return error(CUDA_ERROR_INVALID_VALUE, "cuStreamIsCapturing: null status");
  *status = streamOf(stream)->capture ? CU_STREAM_CAPTURE_STATUS_ACTIVE
                                      : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

/// A host function in stream order, recorded like a launch while capturing
/// (a host node). The emulated NCCL (EmuNccl.cpp) enqueues its collectives
/// here, as NCCL enqueues its kernels.
CUresult CUDAAPI cuLaunchHostFunc(CUstream stream, CUhostFn fn, void *data) {
  if (CUresult r = needContext("cuLaunchHostFunc"))
    return r;
  if (!fn)
    return error(CUDA_ERROR_INVALID_VALUE, "cuLaunchHostFunc: null function");
  return enqueue(stream, [fn, data] {
    fn(data);
    return CUDA_SUCCESS;
  });
}

CUresult CUDAAPI cuGraphInstantiate(CUgraphExec *exec, CUgraph graph,
                                    unsigned long long) {
  if (!graph)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuGraphInstantiate: null graph");
  *exec = new CUgraphExec_st{graph->ops};
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphLaunch(CUgraphExec exec, CUstream stream) {
  if (CUresult r = needContext("cuGraphLaunch"))
    return r;
  if (!exec)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuGraphLaunch: null graph");
  return enqueue(stream, [exec] {
    for (const Op &op : exec->ops)
      if (CUresult r = op())
        return r;
    return CUDA_SUCCESS;
  });
}

CUresult CUDAAPI cuGraphDestroy(CUgraph graph) {
  delete graph;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec exec) {
  delete exec;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventCreate(CUevent *event, unsigned int) {
  if (CUresult r = needContext("cuEventCreate"))
    return r;
  *event = new CUevent_st;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventRecord(CUevent event, CUstream stream) {
  if (!event)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord: null event");
  return enqueue(stream, [event] {
    event->at = std::chrono::steady_clock::now();
    event->recorded = true;
    event->stream = running;
    event->copies = asyncCopies.enqueued();
    return CUDA_SUCCESS;
  });
}

CUresult CUDAAPI cuEventSynchronize(CUevent event) {
  if (!event)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize: null event");
  if (!event->recorded)
    return CUDA_SUCCESS;
  return synchronised(event->stream, "cuEventSynchronize", event->copies);
}

CUresult CUDAAPI cuEventElapsedTime(float *ms, CUevent start, CUevent end) {
  if (!start || !end)
    return error(CUDA_ERROR_INVALID_HANDLE, "cuEventElapsedTime: null event");
  if (!start->recorded || !end->recorded)
    return error(CUDA_ERROR_NOT_READY,
                 "cuEventElapsedTime: an event was never recorded");
  *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy(CUevent event) {
  delete event;
  return CUDA_SUCCESS;
}

} // extern "C"
#pragma GCC visibility pop
