//===- MtpDraft.cpp - MTP module 0 drafts inside the main programs --------===//
//
// Speculative decoding with DeepSeek's MTP module (docs/model.md §3.3) needs,
// for every row t of a step, the module's input (the main model's last hidden
// state h_t and the token at t+1) and its cache row at position t. Running the
// module inside the main programs gives both without a second program per step
// or moving h between programs: the token at t+1 is the step's next row where
// it continues the sequence, else the greedy choice of the row's logits
// (nn.next_tokens); the module's logits at the logit rows become greedy
// drafts, a second result [R] i32. Its attention uses the KV cache layer
// num_hidden_layers, as its weights are named.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

#include "mlir/IR/IRMapping.h"

namespace moela {
#define GEN_PASS_DEF_MTPDRAFTPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

/// The main model's last hidden state h [T, D] of `func`: the input of the
/// gather in front of the final norm and the head that produce its logits.
FailureOr<Value> lastHidden(func::FuncOp func) {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  auto head = ret.getNumOperands() == 1
                  ? ret.getOperand(0).getDefiningOp<nn::LmHeadOp>()
                  : nn::LmHeadOp();
  auto norm =
      head ? head.getInput().getDefiningOp<nn::RmsNormOp>() : nn::RmsNormOp();
  auto gather = norm ? norm.getInput().getDefiningOp<nn::GatherRowsOp>()
                     : nn::GatherRowsOp();
  if (!gather)
    return failure();
  return gather.getInput();
}

struct MtpDraftPass : public moela::impl::MtpDraftPassBase<MtpDraftPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto mtp =
        module.lookupSymbol<func::FuncOp>(std::string(abi::kMtpPrefix) + "0");
    if (!mtp) {
      module.emitError() << "moela-mtp-draft: the model has no MTP module "
                            "(num_nextn_predict_layers is 0)";
      return signalPassFailure();
    }
    for (StringRef name : {abi::kPrefill, abi::kDecode}) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func)
        continue;
      FailureOr<Value> h = lastHidden(func);
      if (failed(h)) {
        func.emitError() << "moela-mtp-draft: @" << name
                         << " does not end in gather_rows, rms_norm, lm_head";
        return signalPassFailure();
      }
      auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
      Value logits = ret.getOperand(0);
      OpBuilder b(ret);
      auto loc = [&](StringRef name) {
        return NameLoc::get(b.getStringAttr("mtp.0." + name));
      };
      Block &entry = func.getBody().front();
      Value tokens = entry.getArgument(0), positions = entry.getArgument(1),
            seqIds = entry.getArgument(2), logitRows = entry.getArgument(3);
      Type ids = tokens.getType();
      // The token at t+1 of every row: the module's input embedding.
      Value chosen = b.create<nn::ArgmaxOp>(loc("chosen"), ids, logits);
      Value next = b.create<nn::NextTokensOp>(
          loc("next"), ids, tokens, positions, seqIds, logitRows, chosen);
      // The module's body, its arguments bound to this program's values.
      Block &body = mtp.getBody().front();
      IRMapping map;
      map.map(body.getArgument(0), next);
      map.map(body.getArgument(1), positions);
      map.map(body.getArgument(2), seqIds);
      map.map(body.getArgument(3), logitRows);
      map.map(body.getArgument(4), *h);
      for (Operation &op : body.without_terminator())
        b.clone(op, map);
      Value mtpLogits = map.lookup(body.getTerminator()->getOperand(0));
      Value drafts = b.create<nn::ArgmaxOp>(loc("draft"), ids, mtpLogits);
      b.create<func::ReturnOp>(ret.getLoc(), ValueRange{logits, drafts});
      ret.erase();
      func.setType(
          b.getFunctionType(func.getArgumentTypes(), {logits.getType(), ids}));
    }
  }
};

} // namespace
