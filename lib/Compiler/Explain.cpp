//===- Explain.cpp - The memory report of a planned module ----------------===//
#include "moela/Compiler/Explain.h"

#include "Kernel/KernelOps.h"
#include "Kernel/KernelPrograms.h"
#include "kernels/OpsLaunch.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;

namespace moela {
namespace {

int64_t elementsOf(nn::WeightAttr w) {
  int64_t elements = 1;
  for (int64_t d : w.getShape())
    elements *= d;
  return elements;
}

int64_t bytesOf(nn::WeightAttr w) {
  int64_t bytes =
      elementsOf(w) * ((w.getDtype().getIntOrFloatBitWidth() + 7) / 8);
  if (w.isBlockScaled())
    bytes += w.getScaleShape()[0] * w.getScaleShape()[1] * 4;
  return bytes;
}

std::string human(int64_t bytes) {
  double b = static_cast<double>(bytes);
  if (b >= (1LL << 30))
    return llvm::formatv("{0:F2} GiB", b / (1LL << 30)).str();
  if (b >= (1LL << 20))
    return llvm::formatv("{0:F2} MiB", b / (1LL << 20)).str();
  return llvm::formatv("{0:F2} KiB", b / 1024).str();
}

/// Bytes of one layer's cache row: an fp8 row adds its scales.
int64_t kvRowBytes(const ModelConfig &config, StringRef kvDtype) {
  const int64_t width = config.kvCacheElemsPerToken();
  if (kvDtype == "fp8")
    return width + abi::kvFp8Scales(static_cast<int>(width)) * 4;
  return width * (kvDtype == "f32" ? 4 : 2);
}

} // namespace

MemoryReport computeMemoryReport(ModuleOp module, const ModelConfig &config,
                                 StringRef kvDtype) {
  MemoryReport report;
  llvm::StringSet<> seen;
  auto add = [&](nn::WeightAttr w) {
    if (seen.insert(w.getName()).second) {
      report.weightBytes += bytesOf(w);
      // The host backend holds matrices as stored and vectors as f32.
      if (w.getShape().size() == 2) {
        report.hostWeightBytes += bytesOf(w);
      } else {
        report.hostWeightBytes += elementsOf(w) * 4;
        report.hostF32Bytes += elementsOf(w) * 4;
      }
      ++report.weightTensors;
    }
  };
  module.walk([&](Operation *op) {
    for (NamedAttribute attr : op->getAttrs()) {
      if (auto w = dyn_cast<nn::WeightAttr>(attr.getValue()))
        add(w);
      if (auto array = dyn_cast<ArrayAttr>(attr.getValue()))
        for (Attribute a : array)
          if (auto w = dyn_cast<nn::WeightAttr>(a))
            add(w);
      if (auto experts = dyn_cast<moe::ExpertWeightsAttr>(attr.getValue()))
        for (int64_t e = 0; e < experts.getLocalCount(); ++e)
          for (StringRef proj : {"gate_proj", "up_proj", "down_proj"})
            add(experts.getWeight(e, proj));
    }
  });
  report.kvLayers = kernel::kvCacheLayers(module, config.numHiddenLayers);
  report.kvBytesPerToken = report.kvLayers * kvRowBytes(config, kvDtype);
  report.contextBytes = report.kvBytesPerToken * config.maxPositionEmbeddings;
  // A host plan stores every buffer in f32 (or i32) and needs no workspace.
  report.host = llvm::any_of(module.getOps<func::FuncOp>(), [](func::FuncOp f) {
    auto table = f->getAttrOfType<ArrayAttr>(kernel::kBufferTableAttr);
    return table && !table.empty() && llvm::all_of(table, [](Attribute a) {
             Type t = cast<kernel::BufferAttr>(a).getDtype();
             return t.isF32() || t.isInteger(32);
           });
  });
  for (func::FuncOp func : module.getOps<func::FuncOp>()) {
    // The collectives' results, at the program's largest step.
    auto table = func->getAttrOfType<ArrayAttr>(kernel::kBufferTableAttr);
    func.walk([&](Operation *op) {
      auto ids = op->getAttrOfType<DenseI64ArrayAttr>(kernel::kBufferIdsAttr);
      if (!table || !ids || ids.empty() ||
          !isa<kernel::AllReduceOp, kernel::AllGatherOp>(op))
        return;
      auto buffer = cast<kernel::BufferAttr>(table[ids[0]]);
      report.commBytes = std::max(report.commBytes, buffer.getBytes());
    });
    auto arena = func->getAttrOfType<IntegerAttr>(kernel::kArenaBytesAttr);
    auto tokens = func->getAttrOfType<IntegerAttr>(kernel::kMaxTokensAttr);
    int64_t maxTokens = tokens ? tokens.getInt() : 0;
    report.arenas.push_back(
        {func.getSymName().str(), arena ? arena.getInt() : 0});
    report.maxTokens.push_back({func.getSymName().str(), maxTokens});
    // The CUDA kernels' scratch: split-KV partials of the latent attention
    // (at the longest context) and the combine's inverse permutation.
    func.walk([&](Operation *op) {
      int64_t need = 0;
      if (auto a = dyn_cast<kernel::MlaLatentAttentionOp>(op)) {
        kernels::LatentAttentionArgs args{};
        args.rows = static_cast<int>(maxTokens);
        args.heads = static_cast<int>(a.getHeads());
        args.latent_dim = static_cast<int>(a.getLatentDim());
        args.rope_dim = static_cast<int>(a.getRopeDim());
        args.cache.pages_per_seq = static_cast<int>(
            (config.maxPositionEmbeddings + abi::kKvPageTokens - 1) /
            abi::kKvPageTokens);
        need = kernels::latentAttentionWorkspaceBytes(args);
      } else if (auto c = dyn_cast<kernel::MoeCombineOp>(op);
                 c && c.getPerm()) {
        kernels::CombineArgs args{};
        args.rows = static_cast<int>(maxTokens);
        args.top_k = static_cast<int>(nn::dimOf(c.getWeights().getType(), 1));
        need = kernels::combineWorkspaceBytes(args);
      }
      report.workspaceBytes = std::max(report.workspaceBytes, need);
    });
  }
  return report;
}

int64_t MemoryReport::totalBytes() const {
  int64_t arena = 0;
  for (const auto &a : arenas)
    arena = std::max(arena, a.second);
  return (host ? hostWeightBytes : weightBytes) + contextBytes + arena +
         workspaceBytes + commBytes;
}

std::string checkDeviceMemory(const MemoryReport &r, double deviceGiB) {
  int64_t device = static_cast<int64_t>(deviceGiB * (1LL << 30));
  if (deviceGiB <= 0 || r.totalBytes() <= device)
    return "";
  return llvm::formatv("the plan needs {0} per device ({1} of weights, {2} "
                       "of KV cache for one full-context sequence, the rest "
                       "activations, workspace and communication), more "
                       "than --device-memory {3} GiB: add ranks (--tp N "
                       "--ep) or shorten max_position_embeddings",
                       human(r.totalBytes()),
                       human(r.host ? r.hostWeightBytes : r.weightBytes),
                       human(r.contextBytes), deviceGiB)
      .str();
}

void explainMemory(ModuleOp module, const ModelConfig &config,
                   const MemoryReport &r, StringRef kvDtype, double deviceGiB,
                   llvm::raw_ostream &os) {
  kernel::Layout layout = kernel::readLayout(module);
  if (layout.ranks == 1)
    os << "moela memory report (one device, before anything runs)\n";
  else
    os << llvm::formatv("moela memory report (per rank of {0}: attention and "
                        "dense layers tensor-parallel, routed experts {1}{2}; "
                        "before anything runs)\n",
                        layout.ranks,
                        layout.ep ? "partitioned (--ep)"
                                  : "split inside each expert",
                        layout.vocabParallel ? ", vocab-parallel" : "");
  os << llvm::formatv(
      "  weights       {0,12}  ({1} tensors, checkpoint dtypes, FP8 "
      "block scales included)\n",
      human(r.weightBytes), r.weightTensors);
  if (r.host)
    os << llvm::formatv("  host weights  {0,12}  the same as the host backend "
                        "holds them: matrices in the checkpoint dtypes, "
                        "vectors (norms, biases: {1}) as f32\n",
                        human(r.hostWeightBytes), human(r.hostF32Bytes));
  const std::string row =
      kvDtype == "fp8"
          ? llvm::formatv("(R {0} + Dr {1}) x 1 B of e4m3 + {2} x 4 B of "
                          "scales",
                          config.kvLoraRank, config.qkRopeHeadDim,
                          abi::kvFp8Scales(
                              static_cast<int>(config.kvCacheElemsPerToken())))
                .str()
          : llvm::formatv("(R {0} + Dr {1}) x {2} B", config.kvLoraRank,
                          config.qkRopeHeadDim, kvDtype == "f32" ? 4 : 2)
                .str();
  os << llvm::formatv("  KV cache      {0,12}  per token per sequence ({1} "
                      "layers x {2}); {3} for one sequence of {4} tokens\n",
                      human(r.kvBytesPerToken), r.kvLayers, row,
                      human(r.contextBytes), config.maxPositionEmbeddings);
  os << llvm::formatv(
      "  KV pages      {0,12}  per page of {1} tokens (all layers): the cache "
      "is one pool of pages, a block table per sequence; moela-run --kv-pages "
      "N sizes it (default: a full context per sequence)\n",
      human(r.kvBytesPerToken * abi::kKvPageTokens), abi::kKvPageTokens);
  if (layout.ranks > 1)
    os << llvm::formatv(
        "                              every rank holds the whole latent "
        "cache (one latent per token, shared by all heads): {0} ranks keep "
        "{0} copies, where data-parallel attention would keep each sequence "
        "once\n",
        layout.ranks);
  for (size_t i = 0; i < r.arenas.size(); ++i)
    os << llvm::formatv(
        "  activations   {0,12}  arena of @{1} (up to {2} tokens per step)\n",
        human(r.arenas[i].second), r.arenas[i].first, r.maxTokens[i].second);
  if (r.host)
    os << "  workspace         0.00 KiB  (the host backend needs none)\n";
  else
    os << llvm::formatv(
        "  workspace     {0,12}  CUDA kernels' scratch (split-KV attention "
        "partials, MoE combine), at the largest step\n",
        human(r.workspaceBytes));
  if (layout.ranks > 1)
    os << llvm::formatv("  communication {0,12}  the largest all-reduce / "
                        "all-gather result, staged once\n",
                        human(r.commBytes));
  if (deviceGiB <= 0)
    return;
  os << llvm::formatv("  total         {0,12}  weights, one full-context "
                      "sequence of KV cache, the largest arena, workspace, "
                      "communication\n",
                      human(r.totalBytes()));
  int64_t device = static_cast<int64_t>(deviceGiB * (1LL << 30));
  int64_t spare = device - r.totalBytes();
  if (spare < 0)
    os << llvm::formatv("  device        {0,12}  does not fit: {1} short\n",
                        human(device), human(-spare));
  else
    os << llvm::formatv(
        "  device        {0,12}  fits; the {1} left hold {2} more KV pages "
        "({3} tokens)\n",
        human(device), human(spare),
        spare / std::max<int64_t>(r.kvBytesPerToken * abi::kKvPageTokens, 1),
        spare / std::max<int64_t>(r.kvBytesPerToken * abi::kKvPageTokens, 1) *
            abi::kKvPageTokens);
}

} // namespace moela
