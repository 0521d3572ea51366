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

int64_t bytesOf(nn::WeightAttr w) {
  int64_t elements = 1;
  for (int64_t d : w.getShape())
    elements *= d;
  int64_t bytes = elements * ((w.getDtype().getIntOrFloatBitWidth() + 7) / 8);
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

} // namespace

MemoryReport computeMemoryReport(ModuleOp module, const ModelConfig &config,
                                 int64_t kvElementBytes) {
  MemoryReport report;
  llvm::StringSet<> seen;
  auto add = [&](nn::WeightAttr w) {
    if (seen.insert(w.getName()).second) {
      report.weightBytes += bytesOf(w);
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
        for (int64_t e = 0; e < experts.getCount(); ++e)
          for (StringRef proj : {"gate_proj", "up_proj", "down_proj"})
            add(experts.getWeight(e, proj));
    }
  });
  report.kvLayers = kernel::kvCacheLayers(module, config.numHiddenLayers);
  report.kvBytesPerToken =
      report.kvLayers * config.kvCacheElemsPerToken() * kvElementBytes;
  for (func::FuncOp func : module.getOps<func::FuncOp>()) {
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
        args.slot_stride =
            config.maxPositionEmbeddings * (args.latent_dim + args.rope_dim);
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

void explainMemory(ModuleOp module, const ModelConfig &config,
                   int64_t kvElementBytes, llvm::raw_ostream &os) {
  MemoryReport r = computeMemoryReport(module, config, kvElementBytes);
  // A host plan stores every buffer in f32 (or i32) and needs no workspace.
  bool host = llvm::any_of(module.getOps<func::FuncOp>(), [](func::FuncOp f) {
    auto table = f->getAttrOfType<ArrayAttr>(kernel::kBufferTableAttr);
    return table && !table.empty() && llvm::all_of(table, [](Attribute a) {
             Type t = cast<kernel::BufferAttr>(a).getDtype();
             return t.isF32() || t.isInteger(32);
           });
  });
  int64_t contextBytes = r.kvBytesPerToken * config.maxPositionEmbeddings;
  os << "moela memory report (one device, before anything runs)\n";
  os << llvm::formatv(
      "  weights       {0,12}  ({1} tensors, checkpoint dtypes, FP8 "
      "block scales included)\n",
      human(r.weightBytes), r.weightTensors);
  os << llvm::formatv(
      "  KV cache      {0,12}  per token per sequence ({1} layers x "
      "(R {2} + Dr {3}) x {4} B); {5} for one sequence of {6} tokens\n",
      human(r.kvBytesPerToken), r.kvLayers, config.kvLoraRank,
      config.qkRopeHeadDim, kvElementBytes, human(contextBytes),
      config.maxPositionEmbeddings);
  for (size_t i = 0; i < r.arenas.size(); ++i)
    os << llvm::formatv(
        "  activations   {0,12}  arena of @{1} (up to {2} tokens per step)\n",
        human(r.arenas[i].second), r.arenas[i].first, r.maxTokens[i].second);
  if (host)
    os << "  workspace         0.00 KiB  (the host backend needs none)\n";
  else
    os << llvm::formatv(
        "  workspace     {0,12}  CUDA kernels' scratch (split-KV attention "
        "partials, MoE combine), at the largest step\n",
        human(r.workspaceBytes));
}

} // namespace moela
