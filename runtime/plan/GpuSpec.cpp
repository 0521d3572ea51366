//===- GpuSpec.cpp - The built-in GPU descriptions and the JSON reader ----===//
//
// The numbers and where they come from: docs/cost-model.md.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/GpuSpec.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace moela {
namespace {

// Hopper SXM: 80% of the datasheet's dense tensor peaks (989 BF16, 1979
// FP8 TFLOP/s) for wgmma; mma.sync reaches about 2/3 of the datasheet peak
// (FlashAttention-3, Shah et al. 2024), again at 80%; 80% of the 67 TFLOP/s
// FP32; PCIe Gen5 x16 pinned copies; launch costs are assumptions that
// tools/gpu-check.sh calibrates.
GpuSpec hopper(const char *name, double memoryTBps) {
  GpuSpec g;
  g.name = name;
  g.memoryTBps = memoryTBps;
  g.wgmmaBf16Tflops = 790;
  g.wgmmaFp8Tflops = 1580;
  g.mmaBf16Tflops = 527;
  g.mmaFp8Tflops = 1055;
  g.cudaCoreTflops = 53;
  g.hostGBps = 50;
  g.launchUs = 3.0;
  g.graphLaunchUs = 1.0;
  return g;
}

const std::vector<std::pair<std::string, GpuSpec>> &builtins() {
  static const std::vector<std::pair<std::string, GpuSpec>> gpus = {
      {"h200", hopper("H200", 4.3)},
      {"h100", hopper("H100 SXM", 3.0)},
  };
  return gpus;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

} // namespace

std::vector<std::string> builtinGpuNames() {
  std::vector<std::string> names;
  for (const auto &entry : builtins())
    names.push_back(entry.first);
  return names;
}

std::string loadGpuSpec(const std::string &nameOrPath, GpuSpec &gpu) {
  for (const auto &entry : builtins())
    if (entry.first == lower(nameOrPath)) {
      gpu = entry.second;
      return "";
    }
  std::ifstream file(nameOrPath);
  if (!file)
    return "--cost " + nameOrPath +
           ": neither a built-in GPU (h200, h100) nor a readable JSON file";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(file);
  } catch (const std::exception &e) {
    return nameOrPath + ": not JSON (" + e.what() + ")";
  }
  if (!j.is_object())
    return nameOrPath + ": a GPU description is a JSON object";
  GpuSpec g;
  g.name = nameOrPath;
  if (const auto name = j.find("name"); name != j.end()) {
    if (!name->is_string())
      return nameOrPath + ": field 'name' must be a string";
    g.name = name->get<std::string>();
  }
  const std::pair<const char *, double *> fields[] = {
      {"memory_tbps", &g.memoryTBps},
      {"wgmma_bf16_tflops", &g.wgmmaBf16Tflops},
      {"wgmma_fp8_tflops", &g.wgmmaFp8Tflops},
      {"mma_bf16_tflops", &g.mmaBf16Tflops},
      {"mma_fp8_tflops", &g.mmaFp8Tflops},
      {"cuda_core_tflops", &g.cudaCoreTflops},
      {"host_gbps", &g.hostGBps},
      {"launch_us", &g.launchUs},
      {"graph_launch_us", &g.graphLaunchUs},
  };
  for (const auto &[key, value] : fields) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number())
      return nameOrPath + ": field '" + key + "' must be a number";
    *value = it->get<double>();
    const bool mayBeZero = std::string(key).find("launch") != std::string::npos;
    if (!(*value > 0) && !(mayBeZero && *value == 0))
      return nameOrPath + ": field '" + key + "' must be positive, got " +
             it->dump();
  }
  gpu = g;
  return "";
}

} // namespace moela
