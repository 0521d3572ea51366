//===- Nvrtc.cpp - NVRTC compilation with an on-disk cache ----------------===//
#include "moela/Runtime/Nvrtc.h"

#include "moela/Runtime/Error.h"

#include "KernelCache.h"

#include <nvrtc.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <regex>

namespace fs = std::filesystem;

namespace moela {
namespace {

void check(nvrtcResult result, const std::string &name, const char *what) {
  if (result != NVRTC_SUCCESS)
    fail("kernel ", name, ": ", what, ": ", nvrtcGetErrorString(result));
}

std::string cudaIncludeDir() {
  if (const char *env = std::getenv("MOELA_CUDA_INCLUDE"))
    return env;
  return MOELA_CUDA_INCLUDE_DIR;
}

} // namespace

std::string nvrtcVersionString() {
  int major = 0, minor = 0;
  nvrtcVersion(&major, &minor);
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string defaultKernelCacheDir() {
  if (const char *dir = std::getenv("MOELA_CACHE_DIR"))
    return dir;
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return (fs::path(xdg) / "moela" / "kernels").string();
  if (const char *home = std::getenv("HOME"); home && *home)
    return (fs::path(home) / ".cache" / "moela" / "kernels").string();
  return "";
}

void parsePtxasReport(const std::string &log, NvrtcResult &result) {
  std::smatch m;
  static const std::regex registers(R"(Used (\d+) registers)");
  static const std::regex spills(
      R"((\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex smem(R"((\d+) bytes smem)");
  static const std::regex stack(R"((\d+) bytes stack frame)");
  if (std::regex_search(log, m, registers))
    result.registers = std::stoi(m[1]);
  if (std::regex_search(log, m, spills))
    result.spillBytes = std::stoi(m[1]) + std::stoi(m[2]);
  if (std::regex_search(log, m, smem))
    result.sharedBytes = std::stoi(m[1]);
  if (std::regex_search(log, m, stack))
    result.stackBytes = std::stoi(m[1]);
}

NvrtcResult compileCuda(const std::string &name, const std::string &source,
                        const NvrtcOptions &options) {
  std::vector<std::string> flags = {"--gpu-architecture=" + options.arch,
                                    "--std=c++17",
                                    "--include-path=" + cudaIncludeDir(),
                                    "--ptxas-options=-v",
                                    "-default-device",
                                    "--use_fast_math"};
  flags.insert(flags.end(), options.extraFlags.begin(),
               options.extraFlags.end());

  // The key covers everything that changes the cubin, headers included.
  std::string material = nvrtcVersionString() + "\n" + name + "\n" + source;
  for (const std::string &f : flags)
    material += "\n" + f;
  for (const auto &[include, text] : kernelHeaders())
    material += "\n" + include + "\n" + text;
  std::optional<KernelCache> cache;
  if (!options.cacheDir.empty())
    cache.emplace(options.cacheDir, kernelCacheMaxBytes());
  if (cache)
    if (std::optional<KernelCacheEntry> hit = cache->load(material)) {
      NvrtcResult cached;
      cached.cubin = std::move(hit->cubin);
      cached.log = std::move(hit->log);
      parsePtxasReport(cached.log, cached);
      cached.fromCache = true;
      return cached;
    }

  std::vector<const char *> headerTexts, headerNames;
  for (const auto &[include, text] : kernelHeaders()) {
    headerNames.push_back(include.c_str());
    headerTexts.push_back(text.c_str());
  }
  nvrtcProgram program;
  check(nvrtcCreateProgram(&program, source.c_str(), name.c_str(),
                           static_cast<int>(headerTexts.size()),
                           headerTexts.data(), headerNames.data()),
        name, "nvrtcCreateProgram");
  std::vector<const char *> argv;
  for (const std::string &f : flags)
    argv.push_back(f.c_str());
  nvrtcResult compiled =
      nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  size_t logSize = 0;
  nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  if (logSize > 1)
    nvrtcGetProgramLog(program, log.data());
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n'))
    log.pop_back();
  if (compiled != NVRTC_SUCCESS) {
    nvrtcDestroyProgram(&program);
    fail("kernel ", name, " failed to compile for ", options.arch, ":\n", log);
  }
  NvrtcResult result;
  result.log = log;
  size_t cubinSize = 0;
  check(nvrtcGetCUBINSize(program, &cubinSize), name, "nvrtcGetCUBINSize");
  result.cubin.resize(cubinSize);
  if (cubinSize)
    check(nvrtcGetCUBIN(program, reinterpret_cast<char *>(result.cubin.data())),
          name, "nvrtcGetCUBIN");
  nvrtcDestroyProgram(&program);
  // -arch=compute_XX gives PTX only: a cubin of size 0 is a failure here.
  if (result.cubin.empty())
    fail("kernel ", name, ": NVRTC produced no cubin for ", options.arch,
         " (give a real architecture such as sm_90a)");
  parsePtxasReport(log, result);
  if (cache)
    cache->store(material, {result.cubin, result.log});
  return result;
}

bool compileCuda(const std::string &name, const std::string &source,
                 const NvrtcOptions &options, NvrtcResult &result,
                 std::string &error) noexcept {
  try {
    result = compileCuda(name, source, options);
    return true;
  } catch (const std::exception &e) {
    error = e.what();
    return false;
  }
}

} // namespace moela
