//===- Sample.cpp - Every program ends with a Sample step -----------------===//
//
// So that a step returns token ids rather than its logits [R, V] (33 MB at
// batch 64 for DeepSeek-V3's vocabulary), each program gets a fifth input,
// the rows' sampling parameters `sampling` [R, abi::kSamplingWords] i32, and
// a `kernel.sample` of its logits whose ids and logprobs [R,
// abi::kSampleCols] become its last two results (docs/model.md §4). The
// logits stay the first result: the runtime copies them only when asked.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

namespace moela {
#define GEN_PASS_DEF_SAMPLEPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct SamplePass : public moela::impl::SamplePassBase<SamplePass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      Block &body = func.getBody().front();
      auto ret = cast<func::ReturnOp>(body.getTerminator());
      auto logits =
          ret.getNumOperands() < 1
              ? RankedTensorType()
              : dyn_cast<RankedTensorType>(ret.getOperand(0).getType());
      if (body.getNumArguments() != abi::kNumProgramInputs || !logits ||
          logits.getRank() != 2 || !logits.getElementType().isF32()) {
        func.emitError() << "moela-sample: @" << func.getSymName()
                         << " is not a kernel program of "
                         << int(abi::kNumProgramInputs)
                         << " inputs returning its logits first (run "
                            "moela-lower-to-kernel first, and this pass once)";
        return signalPassFailure();
      }
      OpBuilder b(ret);
      Type i32 = b.getI32Type(), f32 = b.getF32Type();
      auto rows = [&](int64_t cols, Type element) {
        return RankedTensorType::get({ShapedType::kDynamic, cols}, element);
      };
      Location loc = NameLoc::get(b.getStringAttr("sample"));
      func.insertArgument(abi::kSampling, rows(abi::kSamplingWords, i32), {},
                          loc);
      auto sample = b.create<kernel::SampleOp>(
          loc, rows(abi::kSampleCols, i32), rows(abi::kSampleCols, f32),
          ret.getOperand(abi::kLogits), body.getArgument(abi::kSampling));
      SmallVector<Value> results(ret.getOperands());
      results.append({sample.getIds(), sample.getLogprobs()});
      b.create<func::ReturnOp>(ret.getLoc(), results);
      ret.erase();
      func.setType(b.getFunctionType(func.getArgumentTypes(),
                                     ValueRange(results).getTypes()));
    }
  }
};

} // namespace
