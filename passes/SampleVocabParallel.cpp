//===- SampleVocabParallel.cpp - Sample without gathering the logits ------===//
//
// In a vocab-parallel plan (moela-shard-vocab) each rank's lm_head gives its
// V / N logit columns, and an all_gather puts every rank's side by side for
// kernel.sample: [R, V] f32 through the collective every step. Sampling needs
// far less: a row draws from at most abi::kMaxSampleCandidates tokens, and
// the union of every rank's own most likely tokens holds the row's. So, where
// the candidate blocks are smaller than the row (docs/parallel.md):
//
//   %part = <lm_head> : [R, V/N]                       %part = <lm_head>
//   %all = kernel.all_gather %part     ->   %c = kernel.sample_candidates %part
//   kernel.sample %all                      %all = kernel.all_gather %c
//   return %all, ..., ids, logprobs         kernel.sample %all candidate_parts
//   N
//                                           return %part, ..., ids, logprobs
//
// The logits result then holds the rank's columns (moela.layout
// logits_sharded); the runtime gathers them only when they are asked for.
// Programs whose gathered logits have other users (MTP drafting) keep them.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

#include "dialects/Kernel/KernelPrograms.h"

namespace moela {
#define GEN_PASS_DEF_SAMPLEVOCABPARALLELPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct SampleVocabParallelPass
    : public moela::impl::SampleVocabParallelPassBase<SampleVocabParallelPass> {
  using SampleVocabParallelPassBase::SampleVocabParallelPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    kernel::Layout layout = kernel::readLayout(module);
    if (!layout.vocabParallel)
      return;
    SmallVector<kernel::SampleOp> samples;
    module.walk([&](kernel::SampleOp op) { samples.push_back(op); });
    // The runtime reads one flag per plan: every program's logits must be
    // the rank's columns, or none.
    if (samples.empty() ||
        !llvm::all_of(samples, [&](kernel::SampleOp s) { return applies(s); }))
      return;
    for (kernel::SampleOp sample : samples)
      rewrite(sample);
    layout.logitsSharded = true;
    kernel::writeLayout(module, layout);
  }

  /// Whether `sample` reads the all_gather of the rank's logits, which
  /// nothing else but the program's logits result uses, and its candidate
  /// blocks are smaller than the rank's columns (or `always`).
  bool applies(kernel::SampleOp sample) {
    auto gather = sample.getLogits().getDefiningOp<kernel::AllGatherOp>();
    auto func = sample->getParentOfType<func::FuncOp>();
    if (!gather || !func || sample.getCandidateParts() > 0)
      return false;
    Operation *ret = func.getBody().front().getTerminator();
    for (OpOperand &use : gather.getResult().getUses())
      if (use.getOwner() != sample &&
          !(use.getOwner() == ret && use.getOperandNumber() == abi::kLogits))
        return false;
    const int64_t columns = cols(gather.getInput());
    if (gather.getRanks() * columns > abi::kMaxCandidateVocab)
      return false; // ids would not be exact as f32
    return always || width(columns) < columns;
  }

  static int64_t cols(Value v) {
    return cast<RankedTensorType>(v.getType()).getDimSize(1);
  }
  static int64_t candidates(int64_t columns) {
    return std::min<int64_t>(abi::kMaxSampleCandidates, columns);
  }
  static int64_t width(int64_t columns) {
    return abi::sampleCandidateCols(int(candidates(columns)));
  }

  void rewrite(kernel::SampleOp sample) {
    auto gather = sample.getLogits().getDefiningOp<kernel::AllGatherOp>();
    auto func = sample->getParentOfType<func::FuncOp>();
    Operation *ret = func.getBody().front().getTerminator();
    Value part = gather.getInput();
    auto partType = cast<RankedTensorType>(part.getType());
    const int64_t columns = cols(part), ranks = gather.getRanks();
    OpBuilder b(sample);
    auto blockType = partType.clone({partType.getDimSize(0), width(columns)});
    auto blocks = b.create<kernel::SampleCandidatesOp>(
        sample.getLoc(), blockType, part, sample.getSampling(),
        b.getI64IntegerAttr(candidates(columns)));
    auto gathered = b.create<kernel::AllGatherOp>(
        gather.getLoc(),
        partType.clone({partType.getDimSize(0), ranks * width(columns)}),
        blocks.getResult(), gather.getRanksAttr());
    sample.getLogitsMutable().assign(gathered.getResult());
    sample.setCandidatePartsAttr(b.getI64IntegerAttr(ranks));
    // The program's logits: the rank's columns.
    ret->setOperand(abi::kLogits, part);
    gather.erase();
    func.setType(FunctionType::get(func.getContext(), func.getArgumentTypes(),
                                   ret->getOperandTypes()));
  }
};

} // namespace
