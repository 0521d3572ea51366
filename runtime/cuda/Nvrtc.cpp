//===- Nvrtc.cpp - NVRTC compilation with an on-disk cache ----------------===//
#include "moela/Runtime/Nvrtc.h"

#include "moela/Runtime/Error.h"

#include <nvrtc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace moela {
namespace {

/// 64-bit FNV-1a with a seed; two of them make the 128-bit cache key.
uint64_t fnv1a(const std::string &text, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string cacheKey(const std::string &material) {
  char key[33];
  std::snprintf(
      key, sizeof key, "%016llx%016llx",
      static_cast<unsigned long long>(fnv1a(material, 0)),
      static_cast<unsigned long long>(fnv1a(material, 0x9e3779b97f4a7c15ULL)));
  return key;
}

void check(nvrtcResult result, const std::string &name, const char *what) {
  if (result != NVRTC_SUCCESS)
    fail("kernel ", name, ": ", what, ": ", nvrtcGetErrorString(result));
}

std::string readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

/// Writes via a temporary file and a rename, so that concurrent compilers
/// never see half a file.
void writeAtomically(const fs::path &path, const std::string &bytes) {
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out)
      return; // an unwritable cache is not an error
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
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
  std::string key = cacheKey(material);
  fs::path cubinPath, logPath;
  if (!options.cacheDir.empty()) {
    cubinPath = fs::path(options.cacheDir) / (key + ".cubin");
    logPath = fs::path(options.cacheDir) / (key + ".log");
    if (fs::exists(cubinPath) && fs::exists(logPath)) {
      NvrtcResult cached;
      std::string bytes = readFile(cubinPath);
      cached.cubin.assign(bytes.begin(), bytes.end());
      cached.log = readFile(logPath);
      parsePtxasReport(cached.log, cached);
      cached.fromCache = true;
      if (!cached.cubin.empty())
        return cached;
    }
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
  if (!options.cacheDir.empty()) {
    std::error_code ec;
    fs::create_directories(options.cacheDir, ec);
    // The log first: a reader takes a cubin only when both exist.
    writeAtomically(logPath, result.log);
    writeAtomically(cubinPath,
                    std::string(result.cubin.begin(), result.cubin.end()));
  }
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
