//===- GpuSpec.h - What the cost model assumes of a GPU ---------*- C++ -*-===//
//
// Sustained, not datasheet, numbers (docs/cost-model.md gives their sources):
// the roofline of every step (StepCost.h) is max(bytes / bandwidth, FLOPs /
// the peak of the engine the step runs on) plus a fixed cost per launch.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_GPUSPEC_H
#define MOELA_RUNTIME_GPUSPEC_H

#include <string>
#include <vector>

namespace moela {

struct GpuSpec {
  std::string name;           // "H200"
  double memoryTBps = 0;      // HBM, sustained
  double wgmmaBf16Tflops = 0; // Hopper warpgroup MMA, dense
  double wgmmaFp8Tflops = 0;
  double mmaBf16Tflops = 0; // mma.sync: the pre-Hopper instructions
  double mmaFp8Tflops = 0;
  double cudaCoreTflops = 0; // FP32 FMA on the CUDA cores
  double hostGBps = 0;       // pinned host <-> device copies
  double launchUs = 0;       // per kernel launched one by one (prefill)
  double graphLaunchUs = 0;  // per kernel of a replayed CUDA graph (decode)
};

/// The built-in descriptions: "h200", "h100".
std::vector<std::string> builtinGpuNames();

/// `nameOrPath` is a built-in name (case-insensitive) or a JSON file with
/// the fields of docs/cost-model.md. Fills `gpu` and returns "", or returns
/// the one-line error (never throws: the compiler is built without
/// exceptions).
std::string loadGpuSpec(const std::string &nameOrPath, GpuSpec &gpu);

} // namespace moela

#endif // MOELA_RUNTIME_GPUSPEC_H
