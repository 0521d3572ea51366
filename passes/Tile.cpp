//===- Tile.cpp - tile shapes and launch geometry from the target ---------===//
//
// Rows per step decide the shape: a prefill step has up to thousands of rows
// (compute bound: 128 x 128 tensor-core tiles, deep pipelines), a decode step
// a few (weight-bandwidth bound: 64 x 64 tiles, so that enough blocks stream
// the weights on every SM). The K step of FP8 GEMMs is one scale block.
// Threads per block are the device templates' own (runtime/kernels/Abi.h).
// gemm-kernel=wgmma gives kernel.gemm the wgmma engine and the tiles of
// GemmWgmma.cuh: 128 x 256 x 64 for bf16 weights and 128 x 128 x 64 for the
// others (FP8 weights keep two accumulator sets) when many rows, 64 x 64 x 64
// when few. A prefill grouped GEMM gives each expert about T * k / E rows
// (T the step's tokens, top-k of E experts): when that is under 128 it
// takes 64 x 128 tiles, which pad an expert's rows to 64 instead of 128
// (the cost model, docs/cost-model.md, counts the padded FLOPs).
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/Target.h"
#include "runtime/kernels/OpsLaunch.h"
#include "runtime/kernels/WgmmaLaunch.h"

namespace moela {
#define GEN_PASS_DEF_TILEPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;
using kernel::GemmEngine;

namespace {

/// Largest pipeline depth whose A and B stages fit in shared memory.
int64_t stagesThatFit(const abi::Target &t, int64_t bm, int64_t bn, int64_t bk,
                      int64_t bytes) {
  int64_t perStage = (bm + bn) * bk * bytes;
  return std::clamp<int64_t>(t.shared_bytes_per_block / perStage, 2, 8);
}

struct TilePass : public moela::impl::TilePassBase<TilePass> {
  using TilePassBase::TilePassBase;

  void runOnOperation() override {
    const abi::Target *t = gpuTarget(target);
    if (!t)
      return; // the host backend has no tiles
    bool manyRows = kernel::isPrefillProgram(getOperation());
    MLIRContext *ctx = &getContext();
    auto tile = [&](int64_t bm, int64_t bn, int64_t bk, int64_t stages,
                    int64_t threads, GemmEngine engine = GemmEngine::mma) {
      return kernel::TileAttr::get(ctx, engine, bm, bn, bk, stages, threads);
    };
    // Matrix tiles: 128 x 128 for many rows, 64 x 64 for few; eight warps.
    const int64_t mmaThreads = kernel::gemmThreads(GemmEngine::mma);
    auto gemmTile = [&](bool fp8) {
      int64_t bm = manyRows ? 128 : 64, bn = manyRows ? 128 : 64;
      int64_t bk = fp8 ? abi::kFp8Block : 64, bytes = fp8 ? 1 : 2;
      return tile(bm, bn, bk, stagesThatFit(*t, bm, bn, bk, bytes), mmaThreads);
    };
    // Grouped GEMMs of a prefill: 64-row tiles when the average expert
    // would fill less than a 128-row one. The top-k is the width of the
    // dispatch's expert indices [T, k].
    auto groupedTile = [&](kernel::GroupedGemmOp g) {
      const bool fp8 = g.getWeights().getDtype().isFloat8E4M3FN();
      auto dispatch = g.getOffsets().getDefiningOp<kernel::MoeDispatchOp>();
      if (!manyRows || !dispatch)
        return gemmTile(fp8);
      auto indices = cast<ShapedType>(dispatch.getIndices().getType());
      const int64_t topK = indices.getDimSize(1);
      if (ShapedType::isDynamic(topK) ||
          maxPrefillTokens * topK >= 128 * int64_t(dispatch.getExperts()))
        return gemmTile(fp8);
      const int64_t bk = fp8 ? abi::kFp8Block : 64, bytes = fp8 ? 1 : 2;
      return tile(64, 128, bk, stagesThatFit(*t, 64, 128, bk, bytes),
                  mmaThreads);
    };
    auto isFp8 = [](Attribute w) {
      return cast<nn::WeightAttr>(w).getDtype().isFloat8E4M3FN();
    };
    // gemmWgmma: the weight dtype decides block_n; stages as the kernel
    // computes them for bf16 activations (informational: the kernel sizes
    // its own ring).
    auto isBf16 = [](Attribute w) {
      return cast<nn::WeightAttr>(w).getDtype().isBF16();
    };
    auto wgmmaTile = [&](ArrayAttr weights) {
      const bool bf16 = llvm::all_of(weights, isBf16);
      const int wSize = bf16 ? 2 : llvm::all_of(weights, isFp8) ? 1 : 4;
      const int bm = manyRows ? 128 : 64,
                bn = manyRows ? (bf16 ? 256 : 128) : 64;
      return tile(bm, bn, 64, kernels::wgmmaLayout(bm, bn, 64, 2, wSize).stages,
                  kernel::gemmThreads(GemmEngine::wgmma), GemmEngine::wgmma);
    };
    getOperation().walk([&](Operation *op) {
      if (auto gemm = dyn_cast<kernel::GemmOp>(op))
        // A precise GEMM (split f32 input) has only the 64-row mma.sync form.
        gemm.setTileAttr(
            gemm.getPrecise()
                ? tile(64, 64, 64, stagesThatFit(*t, 64, 64, 64, 4), mmaThreads)
            : gemmKernel == GemmEngine::wgmma
                ? wgmmaTile(gemm.getWeights())
                : gemmTile(llvm::all_of(gemm.getWeights(), isFp8)));
      else if (auto g = dyn_cast<kernel::GroupedGemmOp>(op))
        g.setTileAttr(groupedTile(g));
      else if (auto h = dyn_cast<kernel::HeadGemmOp>(op))
        h.setTileAttr(
            tile(64, 64, 64, stagesThatFit(*t, 64, 64, 64, 2), mmaThreads));
      else if (auto a = dyn_cast<kernel::MlaLatentAttentionOp>(op))
        // FlashMLA-like: up to 64 heads x 64 cached positions per step, the
        // next 64 positions loading meanwhile.
        a.setTileAttr(tile(
            64, 64, a.getLatentDim() + a.getRopeDim(), 2,
            kernels::latentAttentionThreads(static_cast<int>(a.getHeads()))));
      else if (auto a = dyn_cast<kernel::MlaAttentionOp>(op))
        a.setTileAttr(tile(1, 64, a.getNopeDim() + a.getRopeDim(), 1,
                           abi::kMlaAttentionThreads));
    });
  }
};

} // namespace
