//===- Driver.cpp - config -> model IR -> passes -> plan ------------------===//
#include "moela/Compiler/Driver.h"

#include "moela/Compiler/Config.h"
#include "moela/Compiler/CudaEmitter.h"
#include "moela/Compiler/Explain.h"
#include "moela/Compiler/Importer.h"
#include "moela/Compiler/PlanWriter.h"
#include "moela/Runtime/CostReport.h"
#include "moela/Runtime/GpuSpec.h"
#include "moela/Runtime/Nvrtc.h"
#include "moela/Runtime/Plan.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <chrono>
#include <mutex>
#include <sstream>

using namespace mlir;
using namespace llvm;

namespace moela {
namespace {

int fail(const Twine &message) {
  WithColor::error(errs(), "moela-compile") << message << "\n";
  return 1;
}

/// Writes the module after every pass to DIR/NN-<pass>.mlir, each file
/// re-parseable by moela-opt.
///
/// Function passes run nested, each function through the whole nest before
/// (or in parallel with) the next, so the module is never in the state
/// "after nested pass k" as a whole: after each nested pass a copy of the
/// function is kept, and when the nest ends one module per nested pass is
/// assembled from the copies and written.
class DumpIrInstrumentation : public PassInstrumentation {
public:
  explicit DumpIrInstrumentation(std::string dir) : dir(std::move(dir)) {}
  ~DumpIrInstrumentation() override { dropSnapshots(); }

  void dump(Operation *op, StringRef what) {
    SmallString<256> path(dir);
    sys::path::append(path, formatv("{0:2}-{1}.mlir", counter++, what).str());
    std::error_code ec;
    raw_fd_ostream os(path, ec);
    if (!ec) {
      op->print(os, OpPrintingFlags().enableDebugInfo(/*enable=*/true,
                                                      /*prettyForm=*/false));
      os.close();
      ec = os.error();
      os.clear_error();
    }
    if (ec && firstError.empty())
      firstError = ("cannot write " + path + ": " + ec.message()).str();
  }

  /// The first file that could not be written, or "".
  const std::string &error() const { return firstError; }

  void runAfterPass(Pass *pass, Operation *op) override {
    if (auto func = dyn_cast<func::FuncOp>(op)) {
      // Threads run copies of the nest: the k-th nested pass a function
      // leaves is the nest's k-th pass.
      std::lock_guard<std::mutex> lock(mutex);
      size_t k = passesSeen[func.getSymName()]++;
      if (k == nested.size())
        nested.push_back(Nested{pass->getArgument().str(), {}});
      nested[k].functions[func.getSymName()] = func.clone();
      return;
    }
    auto module = dyn_cast<ModuleOp>(op);
    if (!module)
      return;
    if (nested.empty()) {
      dump(module, pass->getArgument());
      return;
    }
    // A nest of function passes ended: the module after each of them.
    for (Nested &n : nested) {
      OwningOpRef<ModuleOp> copy = module.clone();
      for (func::FuncOp func :
           llvm::make_early_inc_range(copy->getOps<func::FuncOp>())) {
        auto snapshot = n.functions.find(func.getSymName());
        if (snapshot == n.functions.end())
          continue;
        func->getBlock()->getOperations().insert(func->getIterator(),
                                                 snapshot->second);
        n.functions.erase(snapshot);
        func.erase();
      }
      dump(*copy, n.name);
    }
    dropSnapshots();
  }

private:
  struct Nested {
    std::string name;
    llvm::StringMap<Operation *> functions; // detached copies, owned here
  };

  void dropSnapshots() {
    for (Nested &n : nested)
      for (auto &entry : n.functions)
        entry.second->erase();
    nested.clear();
    passesSeen.clear();
  }

  std::string dir;
  std::string firstError;
  int counter = 0;
  std::mutex mutex;
  std::vector<Nested> nested;         // in pipeline order
  llvm::StringMap<size_t> passesSeen; // per function, in the current nest
};

LogicalResult writeOutput(StringRef path,
                          llvm::function_ref<void(raw_ostream &)> write) {
  std::string error;
  std::unique_ptr<ToolOutputFile> out = openOutputFile(path, &error);
  if (!out) {
    fail(error);
    return failure();
  }
  write(out->os());
  // A full disk shows only once the data is flushed: check after closing
  // (stdout is only flushed: LLVM never closes it).
  if (path == "-")
    out->os().flush();
  else
    out->os().close();
  if (std::error_code ec = out->os().error()) {
    out->os().clear_error();
    fail("cannot write " + (path == "-" ? "standard output" : path) + ": " +
         ec.message());
    return failure(); // the partial file is removed (LLVM removes only files)
  }
  out->keep();
  return success();
}

/// Wall seconds since construction, and since the last lap.
class Timer {
public:
  double lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last).count();
    last = now;
    return s;
  }
  double total() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

private:
  std::chrono::steady_clock::time_point start =
                                            std::chrono::steady_clock::now(),
                                        last = start;
};

/// --cost: the tables on stdout; --cost-json: the JSON to its file.
LogicalResult writeCostReport(const std::vector<uint8_t> &plan,
                              const GpuSpec &gpu,
                              const CompileOptions &options) {
  // writePlan verified the bytes: the cost model may trust them.
  const std::vector<RunCost> costs =
      standardCosts(*plan::GetPlan(plan.data()), gpu);
  std::ostringstream text;
  if (!options.cost.empty()) {
    printCostReport(costs, gpu, text);
    outs() << text.str();
    outs().flush();
  }
  if (options.costJson.empty())
    return success();
  std::ostringstream json;
  writeCostJson(costs, gpu, json);
  return writeOutput(options.costJson,
                     [&](raw_ostream &os) { os << json.str(); });
}

/// runCompiler, and with `planOut` compilePlanBytes: the plan goes there
/// instead of to options.output.
int compile(const CompileOptions &options, MLIRContext &context,
            void (*configure)(PassManager &), std::vector<uint8_t> *planOut) {
  // -v: the seconds of each phase, then what was written.
  Timer clock;
  auto phase = [&](const char *name) {
    if (options.verbose)
      errs() << formatv("moela-compile: {0,-8} {1:F2} s\n", name, clock.lap());
  };
  Expected<ModelConfig> config = loadModelConfig(options.input);
  if (!config)
    return fail(toString(config.takeError()));
  const bool cost = !options.cost.empty() || !options.costJson.empty();
  GpuSpec gpu;
  if (cost) {
    if (options.emit != EmitKind::Plan)
      return fail("--cost and --cost-json report on a plan: leave --emit out");
    if (std::string why =
            loadGpuSpec(options.cost.empty() ? "h200" : options.cost, gpu);
        !why.empty())
      return fail(why);
  }
  if (options.weightDtype != "auto" && options.weightDtype != "fp8")
    return fail("--weight-dtype=" + options.weightDtype +
                " is not supported (auto, fp8)");
  // FP8 weights from a higher-precision checkpoint: the model is imported as
  // the FP8 checkpoint DeepSeek would make of it, the runtime quantizes.
  const bool quantizeWeightsAtLoad =
      options.weightDtype == "fp8" && !config->fp8.enabled;
  if (quantizeWeightsAtLoad)
    config->fp8 = Fp8Config{.enabled = true};

  OwningOpRef<ModuleOp> module = importModel(context, *config);
  if (failed(verify(*module)))
    return fail("the imported model IR does not verify (a moela bug)");
  if (options.emit == EmitKind::ModelMlir)
    return failed(writeOutput(options.output,
                              [&](raw_ostream &os) { module->print(os); }));

  std::optional<CompileTarget> target = parseCompileTarget(options.target);
  if (!target)
    return fail("--target=" + options.target + " is not supported (" +
                compileTargetNames().joined() + ")");
  std::optional<kernel::GemmEngine> gemmEngine =
      kernel::symbolizeGemmEngine(options.gemmKernel);
  if (!gemmEngine)
    return fail("--gemm-kernel=" + options.gemmKernel + " is not supported (" +
                gemmEngineNames().joined() + ")");
  const bool host = *target == CompileTarget::host;
  if (options.kvDtype != "auto" && options.kvDtype != "f32" &&
      options.kvDtype != "bf16" && options.kvDtype != "fp8")
    return fail("--kv-dtype=" + options.kvDtype +
                " is not supported (auto, f32, bf16, fp8)");
  if (options.kvDtype == "f32" && !host)
    return fail("--kv-dtype=f32 needs --target=host: the " + options.target +
                " kernels keep the latent KV cache in bf16 or fp8");
  const std::string kvDtype = options.kvDtype != "auto" ? options.kvDtype
                              : host                    ? "f32"
                                                        : "bf16";
  if (options.activationDtype != "bf16" && options.activationDtype != "fp8")
    return fail("--activation-dtype=" + options.activationDtype +
                " is not supported (bf16, fp8)");
  if (options.activationDtype == "fp8" && !config->fp8.enabled)
    return fail("--activation-dtype=fp8 needs FP8 weights, but " +
                options.input +
                " has no quantization_config (add --weight-dtype=fp8)");

  if (options.mtp && config->numNextnPredictLayers < 1)
    return fail("--mtp needs an MTP module, but " + options.input +
                " has num_nextn_predict_layers = 0");

  if (options.tp < 1)
    return fail("--tp=" + std::to_string(options.tp) +
                " must be at least 1 (the number of ranks)");
  if ((options.ep || options.dpAttention) && options.tp < 2)
    return fail(std::string(options.ep ? "--ep" : "--dp-attention") +
                " splits over the ranks of --tp N: give --tp 2 or more");
  if (options.dpAttention)
    return fail("--dp-attention is not built yet (docs/parallel.md): use "
                "--tp N, with --ep for the experts");
  if (options.deviceMemoryGiB < 0)
    return fail("--device-memory must be a positive number of GiB");

  for (const std::string &name : options.disable)
    if (!llvm::is_contained(optionalPassNames(), name)) {
      std::string known;
      for (StringRef n : optionalPassNames())
        known += (known.empty() ? "" : ", ") + n.str();
      return fail("--disable-pass=" + name +
                  " is not an optional pass of the default pipeline (" + known +
                  ")");
    }

  PassManager pm(&context);
  DumpIrInstrumentation *dumper = nullptr; // owned by pm
  if (!options.dumpIrDir.empty()) {
    if (std::error_code ec = sys::fs::create_directories(options.dumpIrDir))
      return fail("cannot create --dump-ir-dir " + options.dumpIrDir + ": " +
                  ec.message());
    auto instrumentation =
        std::make_unique<DumpIrInstrumentation>(options.dumpIrDir);
    instrumentation->dump(*module, "import");
    if (!instrumentation->error().empty())
      return fail(instrumentation->error());
    dumper = instrumentation.get();
    pm.addInstrumentation(std::move(instrumentation));
  }
  if (configure)
    configure(pm);
  PipelineOptions pipeline;
  pipeline.target = *target;
  pipeline.maxPrefillTokens = options.maxPrefillTokens;
  pipeline.maxBatch = options.maxBatch;
  pipeline.disable = options.disable;
  pipeline.gemmKernel = *gemmEngine;
  pipeline.quantizeActivations = options.activationDtype == "fp8";
  pipeline.mtp = options.mtp;
  pipeline.ranks = options.tp;
  pipeline.ep = options.ep;
  pipeline.sampleCandidatesAlways = options.sampleCandidatesAlways;
  buildDefaultPipeline(pm, pipeline);
  phase("import");
  if (failed(pm.run(*module)))
    return fail("the pass pipeline failed (see the error above)");
  if (dumper && !dumper->error().empty())
    return fail(dumper->error());
  phase("passes");

  MemoryReport memory = computeMemoryReport(*module, *config, kvDtype);
  if (options.explain)
    explainMemory(*module, *config, memory, kvDtype, options.deviceMemoryGiB,
                  errs());
  if (std::string why = checkDeviceMemory(memory, options.deviceMemoryGiB);
      !why.empty())
    return fail(why);
  if (options.emit == EmitKind::KernelMlir)
    return failed(writeOutput(options.output,
                              [&](raw_ostream &os) { module->print(os); }));

  PlanWriterOptions writer;
  writer.quantizeWeightsAtLoad = quantizeWeightsAtLoad;
  writer.kvDtype = kvDtype;
  writer.target = compileTargetName(*target).str();
  if (const abi::Target *gpu = gpuTarget(*target)) {
    CodegenOptions codegen;
    codegen.arch = gpu->arch;
    codegen.cacheDir = options.noCache            ? ""
                       : options.cacheDir.empty() ? defaultKernelCacheDir()
                                                  : options.cacheDir;
    codegen.compile = options.emit != EmitKind::Cuda;
    if (options.progress)
      codegen.onKernelDone = [](size_t done, size_t total) {
        errs() << formatv("\rmoela-compile: kernels {0}/{1}", done, total);
        if (done == total)
          errs() << "\n";
      };
    FailureOr<std::vector<CompiledKernel>> kernels =
        emitCudaKernels(*module, codegen);
    if (failed(kernels))
      return fail("CUDA code generation failed (see the error above)");
    phase("kernels");
    if (options.emit == EmitKind::Cuda)
      return failed(writeOutput(options.output, [&](raw_ostream &os) {
        for (const CompiledKernel &k : *kernels)
          os << "// ---- " << k.name << " (" << k.family << ", " << k.arch
             << ")\n"
             << k.source << "\n";
      }));
    writer.kernels = std::move(*kernels);
  } else if (options.emit == EmitKind::Cuda) {
    return fail("--emit=cuda needs a CUDA --target such as sm_90a");
  }
  std::string pipelineText;
  raw_string_ostream pipelineStream(pipelineText);
  pm.printAsTextualPipeline(pipelineStream);
  writer.pipeline = pipelineText;
  FailureOr<std::vector<uint8_t>> plan = writePlan(*module, *config, writer);
  if (failed(plan))
    return fail("cannot write the plan (see the error above)");
  if (planOut) {
    *planOut = std::move(*plan);
    return 0;
  }
  if (cost) {
    if (failed(writeCostReport(*plan, gpu, options)))
      return 1;
    if (options.output == "-")
      return 0; // the report was asked for, not the plan
  }
  if (options.output == "-")
    return fail("a plan is binary: give an output file with -o");
  if (failed(writeOutput(options.output, [&](raw_ostream &os) {
        os.write(reinterpret_cast<const char *>(plan->data()), plan->size());
      })))
    return 1;
  phase("write");
  if (options.verbose || options.progress)
    errs() << formatv("moela-compile: wrote {0} ({1:F1} MB, {2} kernels) in "
                      "{3:F1} s\n",
                      options.output, plan->size() / 1e6, writer.kernels.size(),
                      clock.total());
  return 0;
}

} // namespace

int runCompiler(const CompileOptions &options, MLIRContext &context,
                void (*configure)(PassManager &)) {
  return compile(options, context, configure, /*planOut=*/nullptr);
}

int compilePlanBytes(const CompileOptions &options, MLIRContext &context,
                     std::vector<uint8_t> &plan) {
  if (options.emit != EmitKind::Plan)
    return fail("compilePlanBytes needs emit = plan");
  return compile(options, context, /*configure=*/nullptr, &plan);
}

} // namespace moela
