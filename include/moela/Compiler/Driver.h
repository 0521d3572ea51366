//===- Driver.h - moela-compile's pipeline, callable as a library -*- C++
//-*-===//
#ifndef MOELA_COMPILER_DRIVER_H
#define MOELA_COMPILER_DRIVER_H

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
class PassManager;
} // namespace mlir

namespace moela {

enum class EmitKind {
  ModelMlir,  // the verified model IR as imported
  KernelMlir, // the planned kernel IR after the default pipeline
  Cuda,       // the CUDA C++ of every kernel, as given to NVRTC
  Plan,       // the plan file
};

struct CompileOptions {
  std::string input;        // config.json or a checkpoint directory
  std::string output = "-"; // "-" = stdout
  EmitKind emit = EmitKind::Plan;
  std::string target = "sm_90a";
  int64_t maxPrefillTokens = 2048;
  int64_t maxBatch = 64;
  std::vector<std::string> disable; // optional passes to leave out, by name
  std::string dumpIrDir; // one numbered .mlir per pass when not empty
  bool explain = false;  // print the memory report to stderr
  /// The cost report (docs/cost-model.md) for this GPU ("h200", "h100" or a
  /// JSON file) on stdout; costJson: the same as JSON to that file.
  std::string cost;
  std::string costJson;
  std::string cacheDir;           // NVRTC cubin cache ("" = the default folder)
  bool noCache = false;           // compile every kernel afresh
  std::string gemmKernel = "mma"; // kernel.gemm on sm_90a: mma | wgmma
  /// GEMM inputs on the GPU: bf16, or fp8 (W8A8 with the checkpoint's FP8
  /// weights: norms quantize their output, docs/model.md §3.4).
  std::string activationDtype = "bf16";
  /// Linear weights: auto (as the checkpoint stores them) or fp8 (128x128
  /// block-scaled; a BF16 checkpoint is quantized at load).
  std::string weightDtype = "auto";
  /// The latent KV cache: auto (f32 for the host target, bf16 for a GPU), f32
  /// (host only), bf16 (the host then rounds what it caches as a GPU does) or
  /// fp8 (e4m3 with a f32 scale per 128 columns of a row; the host emulates
  /// it the same way).
  std::string kvDtype = "auto";
  /// Run MTP module 0 in the main programs: greedy drafts for speculative
  /// decoding (moela-mtp-draft; the checkpoint needs num_nextn_predict_layers).
  bool mtp = false;
  /// Ranks to split the model over (docs/parallel.md): attention heads,
  /// dense and shared-expert MLPs and the vocabulary tensor-parallel.
  int64_t tp = 1;
  /// With tp > 1: routed experts partitioned over the ranks (expert
  /// parallelism) instead of split inside each expert.
  bool ep = false;
  /// With tp > 1: attention data-parallel over the ranks (not yet built).
  bool dpAttention = false;
  /// With tp > 1: sample from the ranks' candidates even where gathering
  /// the whole logits would be cheaper (moela-sample-vocab-parallel always).
  bool sampleCandidatesAlways = false;
  /// GiB of memory per device: refuse a plan whose per-rank budget exceeds it
  /// (0 = no check).
  double deviceMemoryGiB = 0;
  /// Kernel compilation progress on stderr (moela-compile: on a terminal).
  bool progress = false;
  /// A one-line summary of what was written and the time of each phase.
  bool verbose = false;
};

/// Runs config -> model IR -> passes -> plan. Errors are printed as one line
/// each ("moela-compile: ..."); returns the process exit code (0 or 1).
/// `configure` may adjust the pass manager (command-line instrumentation).
int runCompiler(const CompileOptions &options, mlir::MLIRContext &context,
                void (*configure)(mlir::PassManager &) = nullptr);

/// The same, but the plan is returned in `plan` rather than written to
/// options.output (moela-bisect runs plans without files).
int compilePlanBytes(const CompileOptions &options, mlir::MLIRContext &context,
                     std::vector<uint8_t> &plan);

} // namespace moela

#endif // MOELA_COMPILER_DRIVER_H
