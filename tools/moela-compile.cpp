//===- moela-compile.cpp - config.json -> model IR -> kernels -> plan -----===//
#include "cli/CrashBanner.h"
#include "cli/Version.h"
#include "moela/Compiler/Driver.h"
#include "moela/InitAll.h"
#include "moela/Runtime/Nvrtc.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"

#include <unistd.h>

using namespace llvm;

namespace {

// --help lists moela's options in these groups, then MLIR's pass-manager
// options (which moela-compile forwards), and hides LLVM's backend options.
cl::OptionCategory ioCategory("Input and output");
cl::OptionCategory modelCategory("Model, target and numerics");
cl::OptionCategory pipelineCategory("Pipeline");
cl::OptionCategory parallelCategory("Many devices (docs/parallel.md)");
cl::OptionCategory cacheCategory("Kernel cache");

cl::opt<bool> quiet("q",
                    cl::desc("No progress or summary on stderr (errors and "
                             "--explain still print)"),
                    cl::cat(ioCategory));
cl::alias quietLong("quiet", cl::desc("Alias for -q"), cl::aliasopt(quiet),
                    cl::cat(ioCategory));
cl::opt<bool> verbose("v",
                      cl::desc("The seconds of each phase and a summary of "
                               "what was written"),
                      cl::cat(ioCategory));
cl::alias verboseLong("verbose", cl::desc("Alias for -v"),
                      cl::aliasopt(verbose), cl::cat(ioCategory));
cl::OptionCategory
    mlirCategory("MLIR pass-manager options (forwarded to the pipeline)");

cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<config.json | checkpoint dir>"),
                               cl::cat(ioCategory));
cl::opt<std::string> outputPath("o",
                                cl::desc("Output file (default '-', stdout; a "
                                         "plan needs a file)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(ioCategory));
cl::opt<moela::EmitKind> emit(
    "emit", cl::desc("What to produce (default plan)"),
    cl::init(moela::EmitKind::Plan),
    cl::values(clEnumValN(moela::EmitKind::ModelMlir, "mlir",
                          "the verified model IR as imported from the config"),
               clEnumValN(moela::EmitKind::KernelMlir, "kernel-mlir",
                          "the planned kernel IR after the default pipeline"),
               clEnumValN(moela::EmitKind::Cuda, "cuda",
                          "the CUDA C++ of every kernel, as given to NVRTC"),
               clEnumValN(moela::EmitKind::Plan, "plan",
                          "the plan file (default)")),
    cl::cat(ioCategory));
cl::opt<std::string> dumpIrDir(
    "dump-ir-dir",
    cl::desc("Write the IR after import and after every pass, one numbered "
             ".mlir file each, to this directory"),
    cl::value_desc("dir"), cl::cat(ioCategory));
cl::opt<bool> explain("explain",
                      cl::desc("Print the per-device memory report to stderr"),
                      cl::cat(ioCategory));

cl::opt<std::string> cost(
    "cost",
    cl::desc("Print the cost model's report on stdout: predicted time of "
             "decode and prefill by kernel family against the model's floor "
             "on this GPU (docs/cost-model.md); without -o no plan is written"),
    cl::value_desc("h200|h100|gpu.json"), cl::cat(ioCategory));
cl::opt<std::string> costJson(
    "cost-json",
    cl::desc("Write the cost report as JSON to this file (the GPU of --cost, "
             "default h200)"),
    cl::value_desc("file"), cl::cat(ioCategory));

cl::opt<std::string> target("target",
                            cl::desc("GPU target or the host (default sm_90a)"),
                            cl::value_desc("host|sm_90a"), cl::init("sm_90a"),
                            cl::cat(modelCategory));
cl::opt<int64_t> maxPrefillTokens(
    "max-prefill-tokens",
    cl::desc("Tokens per prefill step; longer prompts run in chunks (default "
             "2048)"),
    cl::value_desc("N"), cl::init(2048), cl::cat(modelCategory));
cl::opt<int64_t> maxBatch("max-batch",
                          cl::desc("Sequences per step (default 64)"),
                          cl::value_desc("N"), cl::init(64),
                          cl::cat(modelCategory));
cl::opt<std::string> gemmKernel(
    "gemm-kernel",
    cl::desc(
        "Device template of the dense GEMMs on sm_90a: mma (mma.sync, "
        "default) or wgmma (warpgroup MMA, runtime/kernels/GemmWgmma.cuh)"),
    cl::value_desc("mma|wgmma"), cl::init("mma"), cl::cat(modelCategory));
cl::opt<std::string> activationDtype(
    "activation-dtype",
    cl::desc("GEMM inputs on the GPU: bf16 (default) or fp8 (W8A8 with FP8 "
             "weights: norms emit FP8 with 128-wide block scales, "
             "docs/model.md §3.4)"),
    cl::value_desc("bf16|fp8"), cl::init("bf16"), cl::cat(modelCategory));
cl::opt<std::string> weightDtype(
    "weight-dtype",
    cl::desc("Linear weights: auto (as the checkpoint stores them, default) or "
             "fp8 (128x128 block-scaled FP8; a BF16 checkpoint is quantized at "
             "load as DeepSeek's FP8 checkpoints are made)"),
    cl::value_desc("auto|fp8"), cl::init("auto"), cl::cat(modelCategory));
cl::opt<std::string> kvDtype(
    "kv-dtype",
    cl::desc("The latent KV cache: auto (f32 on the host target, bf16 on a "
             "GPU; default), f32 (host only), bf16 (the host rounds what "
             "it caches as the GPU does) or fp8 (e4m3 with a f32 scale per "
             "128 columns of a row: half of bf16's bytes; the host emulates "
             "it)"),
    cl::value_desc("auto|f32|bf16|fp8"), cl::init("auto"),
    cl::cat(modelCategory));
cl::opt<bool>
    mtp("mtp",
        cl::desc("Run the checkpoint's MTP module 0 in the main programs: each "
                 "step also returns greedy drafts, which moela-run uses for "
                 "speculative decoding (docs/model.md §3.3; default off)"),
        cl::cat(modelCategory));

cl::list<std::string> disablePasses(
    "disable-pass", cl::CommaSeparated,
    cl::desc("Leave optional passes of the default pipeline out (e.g. "
             "moela-fuse-rope,moela-mla-absorb; default none)"),
    cl::value_desc("pass"), cl::cat(pipelineCategory));

cl::opt<int64_t>
    tp("tp",
       cl::desc("Ranks to split the model over (mpirun -n N moela-run): "
                "attention heads, dense and shared-expert MLPs and the "
                "vocabulary tensor-parallel (default 1)"),
       cl::value_desc("N"), cl::init(1), cl::cat(parallelCategory));
cl::opt<bool> ep("ep",
                 cl::desc("With --tp N: partition the routed experts over the "
                          "N ranks (expert parallelism; default off)"),
                 cl::cat(parallelCategory));
cl::opt<bool> dpAttention(
    "dp-attention",
    cl::desc("With --tp N: attention data-parallel over the ranks (not yet "
             "built)"),
    cl::cat(parallelCategory));
cl::opt<bool> sampleCandidatesAlways(
    "sample-candidates-always",
    cl::desc("With --tp N: choose each next token from the ranks' candidates "
             "even where gathering the whole logits costs less (by default "
             "only where it costs more; tests)"),
    cl::cat(parallelCategory));
cl::opt<double> deviceMemory(
    "device-memory",
    cl::desc("GiB of memory per device: refuse a plan whose per-rank budget "
             "does not fit (see --explain; default 0, no check)"),
    cl::value_desc("GiB"), cl::init(0), cl::cat(parallelCategory));

cl::opt<std::string> cacheDir(
    "cache-dir",
    cl::desc("NVRTC cubin cache (default $MOELA_CACHE_DIR, else "
             "$XDG_CACHE_HOME/moela/kernels or ~/.cache/moela/kernels)"),
    cl::value_desc("dir"), cl::cat(cacheCategory));
cl::opt<bool> noCache("no-cache", cl::desc("Compile every kernel afresh"),
                      cl::cat(cacheCategory));

/// Registers MLIR's command-line options and files every one of them (those
/// that appeared with the registration) under mlirCategory, so --help can
/// list them apart and hide the rest of LLVM's.
void registerMlirOptions() {
  llvm::StringMap<cl::Option *> &options = cl::getRegisteredOptions();
  llvm::StringSet<> before;
  for (auto &entry : options)
    before.insert(entry.getKey());
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  for (auto &entry : options)
    if (!before.contains(entry.getKey()))
      entry.getValue()->addCategory(mlirCategory);
}

/// Applies --mlir-print-ir-*, --mlir-timing and friends.
void configurePassManager(mlir::PassManager &pm) {
  (void)mlir::applyPassManagerCLOptions(pm);
  auto timing = std::make_unique<mlir::DefaultTimingManager>();
  mlir::applyDefaultTimingManagerCLOptions(*timing);
  if (timing->isEnabled())
    pm.enableTiming(std::move(timing));
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  moela::cli::setMoelaCrashBanner();
  // Registered passes are what --mlir-print-ir-{before,after}=<pass> name.
  moela::registerAllPasses();
  registerMlirOptions();
  cl::HideUnrelatedOptions({&ioCategory, &modelCategory, &pipelineCategory,
                            &parallelCategory, &cacheCategory, &mlirCategory});
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << moela::cli::versionText("moela-compile",
                                  {"MLIR/LLVM: " LLVM_VERSION_STRING,
                                   "NVRTC: " + moela::nvrtcVersionString()});
  });
  cl::ParseCommandLineOptions(
      argc, argv,
      "moela compiler: a DeepSeek-V3-family config.json (or checkpoint "
      "folder) to a plan\n");

  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();

  moela::CompileOptions options;
  options.input = inputPath;
  options.output = outputPath;
  options.emit = emit;
  options.target = target;
  options.maxPrefillTokens = maxPrefillTokens;
  options.maxBatch = maxBatch;
  options.dumpIrDir = dumpIrDir;
  options.disable.assign(disablePasses.begin(), disablePasses.end());
  options.explain = explain;
  options.cost = cost;
  options.costJson = costJson;
  options.cacheDir = cacheDir;
  options.noCache = noCache;
  options.gemmKernel = gemmKernel;
  options.activationDtype = activationDtype;
  options.mtp = mtp;
  options.weightDtype = weightDtype;
  options.kvDtype = kvDtype;
  options.tp = tp;
  options.ep = ep;
  options.dpAttention = dpAttention;
  options.sampleCandidatesAlways = sampleCandidatesAlways;
  options.deviceMemoryGiB = deviceMemory;
  // Kernel progress and the summary on a terminal; -v also when piped.
  options.progress = !quiet && isatty(STDERR_FILENO);
  options.verbose = verbose && !quiet;
  return moela::runCompiler(options, context, configurePassManager);
}
