//===- Nvrtc.h - CUDA C++ -> cubin with NVRTC, cached on disk -------------===//
//
// Compiles a kernel instantiation against the device templates of
// runtime/kernels (embedded in the binary, so no source tree is needed) for
// one GPU architecture. No GPU is needed. Results are cached on disk under a
// key of (NVRTC version, arch, flags, source, device headers), and a hit is
// used only after checking it (runtime/cuda/KernelCache.h: SHA-256 of the
// key and the payload, at most $MOELA_CACHE_MAX_MB); the ptxas report
// (registers, spills, shared memory) comes back with every cubin.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_NVRTC_H
#define MOELA_RUNTIME_NVRTC_H

#include <cstdint>
#include <string>
#include <vector>

namespace moela {

struct NvrtcOptions {
  std::string arch = "sm_90a"; // --gpu-architecture (real arch: a cubin)
  std::string cacheDir;        // "" = no cache
  std::vector<std::string> extraFlags;
};

struct NvrtcResult {
  std::vector<uint8_t> cubin;
  std::string log;     // NVRTC + ptxas output
  int registers = 0;   // per thread
  int spillBytes = 0;  // spill stores + loads
  int sharedBytes = 0; // static shared memory
  int stackBytes = 0;  // stack frame
  bool fromCache = false;
};

/// Compiles `source`, an NVRTC program named `name` (the name appears in
/// NVRTC's errors). Throws moela::Error "kernel <name> failed to compile for
/// <arch>:\n<log>" on failure.
NvrtcResult compileCuda(const std::string &name, const std::string &source,
                        const NvrtcOptions &options);

/// The same without exceptions, for the compiler (built with
/// -fno-exceptions): returns false and sets `error` on failure.
bool compileCuda(const std::string &name, const std::string &source,
                 const NvrtcOptions &options, NvrtcResult &result,
                 std::string &error) noexcept;

/// "13.0": the NVRTC version, part of the cache key.
std::string nvrtcVersionString();

/// $MOELA_CACHE_DIR, else $XDG_CACHE_HOME/moela/kernels, else
/// ~/.cache/moela/kernels.
std::string defaultKernelCacheDir();

/// Reads registers, spills, shared memory and stack from a ptxas -v log.
void parsePtxasReport(const std::string &log, NvrtcResult &result);

/// The device headers given to NVRTC: {include name, contents}.
const std::vector<std::pair<std::string, std::string>> &kernelHeaders();

} // namespace moela

#endif // MOELA_RUNTIME_NVRTC_H
