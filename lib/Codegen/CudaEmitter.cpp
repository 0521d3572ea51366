//===- CudaEmitter.cpp - One CUDA C++ instantiation per unique kernel -----===//
//
// Each kernel op becomes a short instantiation of its device template
// (runtime/kernels/<Family>.cuh, whose header comment states the template
// exactly):
//
//   #include "Gemm.cuh"
//   extern "C" __global__ void __launch_bounds__(256, 1)
//   moela_gemm_1a2b3c4d(const moela::kernels::GemmArgs args) {
//     moela::kernels::gemm<__nv_bfloat16, __nv_fp8_e4m3, float, float, 64, 64,
//                          128, false, false, true>(args);
//   }
//
// The template arguments are the storage types of the op's buffers (from the
// memory plan) and weights, its tile and its epilogue flags; ops with equal
// arguments share one kernel. The entry point is named after a hash of the
// call, so a kernel keeps its name across compilations.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/CudaEmitter.h"

#include "Kernel/KernelOps.h"
#include "kernels/Abi.h"
#include "kernels/MatmulLaunch.h"
#include "kernels/OpsLaunch.h"
#include "kernels/WgmmaLaunch.h"
#include "moela/Runtime/Nvrtc.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ThreadPool.h"
#include "llvm/Support/xxhash.h"

#include <mutex>

using namespace mlir;

namespace moela {
namespace {

/// The device template call of one kernel op.
struct Instance {
  std::string family;   // file stem of the device template: "Gemm"
  std::string argsType; // "GemmArgs"
  std::string call;     // "gemm<...>"
  int threads = abi::kRowThreads;
  bool oneBlockPerSm = false; // __launch_bounds__(threads, 1)
  unsigned dynamicShared = 0; // the most dynamic shared memory any launch asks
};

/// C++ spelling of a storage type.
std::string cxxType(Type type) {
  if (type.isBF16())
    return "__nv_bfloat16";
  if (type.isFloat8E4M3FN())
    return "__nv_fp8_e4m3";
  return "float"; // f32; F16 weights are widened to f32 on upload
}

const char *flag(bool b) { return b ? "true" : "false"; }

class Emitter {
public:
  /// The storage type of a kernel tensor: its buffer's dtype.
  Type storageOf(Value v) {
    while (auto slice = v.getDefiningOp<kernel::SliceOp>())
      v = slice.getInput();
    int64_t id;
    func::FuncOp func;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      func = cast<func::FuncOp>(arg.getOwner()->getParentOp());
      id = func.getArgAttrOfType<IntegerAttr>(arg.getArgNumber(),
                                              kernel::kBufferIdsAttr)
               .getInt();
    } else {
      func = v.getDefiningOp()->getParentOfType<func::FuncOp>();
      id = v.getDefiningOp()->getAttrOfType<DenseI64ArrayAttr>(
          kernel::kBufferIdsAttr)[cast<OpResult>(v).getResultNumber()];
    }
    auto table = func->getAttrOfType<ArrayAttr>(kernel::kBufferTableAttr);
    return cast<kernel::BufferAttr>(table[id]).getDtype();
  }

  std::string t(Value v) { return cxxType(storageOf(v)); }

  static std::string tileArgs(kernel::TileAttr tile) {
    int64_t bm = tile ? tile.getBlockM() : 64,
            bn = tile ? tile.getBlockN() : 64;
    int64_t bk = tile ? tile.getBlockK() : 64;
    return llvm::formatv("{0}, {1}, {2}", bm, bn, bk).str();
  }

  /// The instantiation of `op`, or failure with a diagnostic.
  FailureOr<Instance> instantiate(Operation *op) {
    using namespace kernel;
    auto simple = [](const char *family, const char *args, std::string call,
                     int threads = abi::kRowThreads) {
      Instance i;
      i.family = family;
      i.argsType = args;
      i.call = std::move(call);
      i.threads = threads;
      return i;
    };
    // <input, weight, result, tile, option>: the template arguments of the
    // grouped and per-head GEMMs.
    auto gemmArgs = [&](auto o, Type weight, bool option) {
      return "<" + t(o.getInput()) + ", " + cxxType(weight) + ", " + t(o) +
             ", " + tileArgs(o.getTileAttr()) + ", " + flag(option) + ">";
    };
    auto matmul = [](const char *family, const char *args, std::string call) {
      Instance i;
      i.family = family;
      i.argsType = args;
      i.call = std::move(call);
      i.threads = abi::kMmaGemmThreads;
      i.oneBlockPerSm = true;
      i.dynamicShared = kernels::kMatmulSharedBytes;
      return i;
    };
    return TypeSwitch<Operation *, FailureOr<Instance>>(op)
        .Case([&](EmbeddingOp o) -> FailureOr<Instance> {
          return simple("Embedding", "EmbeddingArgs",
                        "embedding<" + t(o) + ", " +
                            cxxType(o.getTable().getDtype()) + ">");
        })
        .Case([&](RmsNormOp o) -> FailureOr<Instance> {
          return simple("RmsNorm", "RmsNormArgs",
                        "rmsNorm<" + t(o.getInput()) + ", float, " + t(o) +
                            ", " + cxxType(o.getWeight().getDtype()) + ">");
        })
        .Case([&](AddRmsNormOp o) -> FailureOr<Instance> {
          if (storageOf(o.getResidual()) != storageOf(o.getSum())) {
            o.emitOpError()
                << "needs the residual and the sum in one storage type";
            return failure();
          }
          return simple("RmsNorm", "RmsNormArgs",
                        "rmsNorm<" + t(o.getInput()) + ", " +
                            t(o.getResidual()) + ", " + t(o.getResult()) +
                            ", " + cxxType(o.getWeight().getDtype()) + ">");
        })
        .Case([&](AddOp o) -> FailureOr<Instance> {
          return simple("Elementwise", "AddArgs",
                        "add<" + t(o.getLhs()) + ", " + t(o.getRhs()) + ", " +
                            t(o) + ">");
        })
        .Case([&](SiluMulOp o) -> FailureOr<Instance> {
          return simple("Elementwise", "SiluMulArgs",
                        "siluMul<" + t(o.getGate()) + ", " + t(o.getUp()) +
                            ", " + t(o) + ">");
        })
        .Case([&](GatherRowsOp o) -> FailureOr<Instance> {
          return simple("Elementwise", "GatherRowsArgs",
                        "gatherRows<" + t(o.getInput()) + ", " + t(o) + ">");
        })
        .Case([&](RopeOp o) -> FailureOr<Instance> {
          return simple("Rope", "RopeArgs",
                        "rope<" + t(o.getInput()) + ", " + t(o) + ">");
        })
        .Case([&](SampleOp o) -> FailureOr<Instance> {
          return simple("Sample", "SampleArgs",
                        "sampleRows<" + t(o.getLogits()) + ">",
                        abi::kSampleThreads);
        })
        .Case([&](SampleCandidatesOp o) -> FailureOr<Instance> {
          return simple("Sample", "SampleCandidatesArgs",
                        "sampleCandidates<" + t(o.getLogits()) + ">",
                        abi::kSampleThreads);
        })
        .Case([&](ArgmaxOp o) -> FailureOr<Instance> {
          return simple("Argmax", "ArgmaxArgs",
                        "argmax<" + t(o.getInput()) + ">", abi::kArgmaxThreads);
        })
        .Case([&](KvAppendOp o) -> FailureOr<Instance> {
          std::string tw =
              o.getNormAttr() ? cxxType(o.getNormAttr().getDtype()) : "float";
          return simple("KvAppend", "KvAppendArgs",
                        "kvAppend<" + t(o.getLatent()) + ", " + t(o.getKPe()) +
                            ", " + tw + ">");
        })
        .Case([&](MlaAttentionOp o) -> FailureOr<Instance> {
          return simple("MlaAttention", "MlaAttentionArgs",
                        "mlaAttention<" + t(o.getQuery()) + ", " + t(o) + ", " +
                            cxxType(o.getKvB().getDtype()) + ">",
                        abi::kMlaAttentionThreads);
        })
        .Case([&](MlaLatentAttentionOp o) -> FailureOr<Instance> {
          int heads = static_cast<int>(o.getHeads());
          int r = static_cast<int>(o.getLatentDim()),
              dr = static_cast<int>(o.getRopeDim());
          if (r % 32 != 0 || dr % 8 != 0) {
            o.emitOpError()
                << "the CUDA latent attention needs latent_dim % 32 == 0 and "
                   "rope_dim % 8 == 0, got "
                << r << " and " << dr;
            return failure();
          }
          Instance i = simple(
              "LatentAttention", "LatentAttentionArgs",
              llvm::formatv("latentAttention<{0}, {1}, {2}, {3}, {4}, {5}>",
                            t(o.getQLat()), t(o.getQPe()), t(o), r, dr,
                            kernels::latentAttentionMTiles(heads))
                  .str(),
              kernels::latentAttentionThreads(heads));
          i.oneBlockPerSm = true;
          i.dynamicShared =
              kernels::latentAttentionMaxSharedBytes(r, dr, heads);
          return i;
        })
        .Case([&](ConcatOp o) -> FailureOr<Instance> {
          return simple("Elementwise", "ConcatArgs",
                        "concat<" + t(o.getLhs()) + ", " + t(o.getRhs()) +
                            ", " + t(o) + ">");
        })
        .Case([&](NextTokensOp) -> FailureOr<Instance> {
          return simple("Elementwise", "NextTokensArgs", "nextTokens");
        })
        .Case([&](KvGatherOp o) -> FailureOr<Instance> {
          return simple("KvGather", "KvGatherArgs", "kvGather<" + t(o) + ">");
        })
        .Case([&](MlaPrefillAttentionOp o) -> FailureOr<Instance> {
          int dn = static_cast<int>(o.getNopeDim()),
              dr = static_cast<int>(o.getRopeDim()),
              dv = static_cast<int>(o.getVDim());
          if (dn % 8 != 0 || dr % 8 != 0 || dv % 16 != 0) {
            o.emitOpError() << "the CUDA prefill attention needs nope_dim and "
                               "rope_dim % 8 == 0 and v_dim % 16 == 0, got "
                            << dn << ", " << dr << " and " << dv;
            return failure();
          }
          Instance i = simple(
              "MlaPrefillAttention", "MlaPrefillAttentionArgs",
              llvm::formatv("mlaPrefillAttention<{0}, {1}, {2}, {3}, {4}, {5}, "
                            "{6}>",
                            t(o.getQuery()), t(o.getKv()), t(o.getKPe()), t(o),
                            dn, dr, dv)
                  .str(),
              kernels::mlaPrefillAttentionThreads());
          i.dynamicShared = kernels::mlaPrefillAttentionSharedBytes(dn, dr, dv);
          return i;
        })
        .Case([&](RouteOp o) -> FailureOr<Instance> {
          std::string tw =
              o.getGateAttr() ? cxxType(o.getGateAttr().getDtype()) : "float";
          return simple("Route", "RouteArgs",
                        "route<" + t(o.getInput()) + ", " + tw + ">",
                        abi::kRouteThreads);
        })
        .Case([&](MoeDispatchOp o) -> FailureOr<Instance> {
          return simple("Dispatch", "DispatchArgs",
                        "dispatch<" + t(o.getInput()) + ", " +
                            t(o.getSorted()) + ">",
                        abi::kDispatchThreads);
        })
        .Case([&](MoeCombineOp o) -> FailureOr<Instance> {
          std::string tsh = o.getShared() ? t(o.getShared()) : "float";
          std::string tr = o.getResidual() ? t(o.getResidual()) : "float";
          return simple("Combine", "CombineArgs",
                        "combine<" + t(o.getExpertOutputs()) + ", " + tsh +
                            ", " + tr + ", " + t(o) + ">");
        })
        .Case([&](MoeExpertsOp o) -> FailureOr<Instance> {
          return simple("MoeExperts", "MoeExpertsArgs",
                        "moeExperts<" + t(o.getInput()) + ", " + t(o) + ", " +
                            cxxType(o.getWeights().getDtype()) + ">");
        })
        .Case([&](GemmOp o) -> FailureOr<Instance> {
          Type tw = cast<nn::WeightAttr>(o.getWeights()[0]).getDtype();
          for (Attribute w : o.getWeights())
            if (cast<nn::WeightAttr>(w).getDtype() != tw) {
              o.emitOpError() << "concatenates weights of different dtypes";
              return failure();
            }
          std::string tc = t(o);
          std::string tr = o.getResidual() ? t(o.getResidual()) : tc;
          std::string targs = "<" + t(o.getInput()) + ", " + cxxType(tw) +
                              ", " + tc + ", " + tr + ", " +
                              tileArgs(o.getTileAttr()) + ", " +
                              flag(o.getSiluMul()) + ", " +
                              flag(static_cast<bool>(o.getRopeAttr())) + ", " +
                              flag(static_cast<bool>(o.getResidual())) +
                              (o.getPrecise() ? ", true>" : ">");
          if (o.getPrecise() && !storageOf(o.getInput()).isF32()) {
            o.emitOpError() << "is precise but its input is not stored in f32";
            return failure();
          }
          // The tile's engine (moela-tile gemm-kernel) picks the template.
          if (o.getTileAttr() &&
              o.getTileAttr().getEngine() == GemmEngine::wgmma) {
            Instance i = matmul("GemmWgmma", "GemmArgs", "gemmWgmma" + targs);
            i.threads = abi::kWgmmaGemmThreads;
            i.dynamicShared = kernels::kWgmmaSharedBytes;
            return i;
          }
          return matmul("Gemm", "GemmArgs", "gemm" + targs);
        })
        .Case([&](GroupedGemmOp o) -> FailureOr<Instance> {
          return matmul("GroupedGemm", "GroupedGemmArgs",
                        "groupedGemm" + gemmArgs(o, o.getWeights().getDtype(),
                                                 o.getSiluMul()));
        })
        .Case([&](HeadGemmOp o) -> FailureOr<Instance> {
          return matmul("HeadGemm", "HeadGemmArgs",
                        "headGemm" + gemmArgs(o, o.getWeight().getDtype(),
                                              o.getTranspose()));
        })
        .Default([&](Operation *other) -> FailureOr<Instance> {
          {
            other->emitOpError() << "has no CUDA device template";
            return failure();
          }
        });
  }
};

std::string source(const Instance &i, const std::string &name) {
  std::string bounds = i.oneBlockPerSm
                           ? llvm::formatv("{0}, 1", i.threads).str()
                           : std::to_string(i.threads);
  return llvm::formatv("#include \"{0}.cuh\"\n"
                       "extern \"C\" __global__ void __launch_bounds__({1})\n"
                       "{2}(const moela::kernels::{3} args) {{\n"
                       "  moela::kernels::{4}(args);\n"
                       "}\n",
                       i.family, bounds, name, i.argsType, i.call)
      .str();
}

/// Lower-case snake name of a family: "GroupedGemm" -> "grouped_gemm".
std::string snake(llvm::StringRef family) {
  std::string out;
  for (char c : family) {
    if (std::isupper(static_cast<unsigned char>(c)) && !out.empty())
      out += '_';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

} // namespace

FailureOr<std::vector<CompiledKernel>>
emitCudaKernels(ModuleOp module, const CodegenOptions &options) {
  Emitter emitter;
  std::vector<CompiledKernel> kernels;
  llvm::StringMap<int> bySource;
  bool ok = true;
  module.walk([&](Operation *op) {
    // Views cost nothing; the collectives are NCCL calls, not kernels.
    if (!isa<kernel::KernelDialect>(op->getDialect()) ||
        isa<kernel::SliceOp, kernel::AllReduceOp, kernel::AllGatherOp>(op))
      return;
    FailureOr<Instance> instance = emitter.instantiate(op);
    if (failed(instance)) {
      ok = false;
      return;
    }
    std::string call = instance->family + "|" + instance->call;
    auto [it, inserted] =
        bySource.try_emplace(call, static_cast<int>(kernels.size()));
    if (inserted) {
      CompiledKernel k;
      // "GatherRowsArgs" -> "gather_rows": the family a user sees.
      k.family = snake(llvm::StringRef(instance->argsType).drop_back(4));
      k.name = llvm::formatv("moela_{0}_{1:x-8}", k.family,
                             static_cast<uint32_t>(llvm::xxh3_64bits(call)))
                   .str();
      k.arch = options.arch;
      k.source = source(*instance, k.name);
      k.threads = instance->threads;
      k.dynamicSharedBytes = static_cast<int>(instance->dynamicShared);
      kernels.push_back(std::move(k));
    }
    op->setAttr(
        "kernel.kernel",
        IntegerAttr::get(IntegerType::get(op->getContext(), 32), it->second));
  });
  if (!ok)
    return failure();
  if (!options.compile)
    return kernels;

  // Compile the unique kernels in parallel; each failure names its kernel.
  NvrtcOptions nvrtc;
  nvrtc.arch = options.arch;
  nvrtc.cacheDir = options.cacheDir;
  std::mutex mutex;
  std::vector<std::string> errors;
  size_t done = 0;
  {
    llvm::DefaultThreadPool pool(llvm::hardware_concurrency(options.jobs));
    for (CompiledKernel &k : kernels)
      pool.async([&] {
        NvrtcResult r;
        std::string error;
        if (!compileCuda(k.name, k.source, nvrtc, r, error)) {
          std::lock_guard<std::mutex> lock(mutex);
          errors.push_back(std::move(error));
          return;
        }
        k.cubin = std::move(r.cubin);
        k.registers = r.registers;
        k.spillBytes = r.spillBytes;
        k.sharedBytes = r.sharedBytes;
        if (options.onKernelDone) {
          std::lock_guard<std::mutex> lock(mutex);
          options.onKernelDone(++done, kernels.size());
        }
      });
    pool.wait();
  }
  if (!errors.empty()) {
    std::sort(errors.begin(), errors.end());
    InFlightDiagnostic diag = module.emitError();
    diag << errors.front();
    if (errors.size() > 1)
      diag << "\n(and " << errors.size() - 1 << " more kernels failed)";
    return failure();
  }
  return kernels;
}

} // namespace moela
