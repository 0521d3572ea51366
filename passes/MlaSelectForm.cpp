//===- MlaSelectForm.cpp - absorbed MLA for decode, expanded for prefill --===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

namespace moela {
#define GEN_PASS_DEF_MLASELECTFORMPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;

namespace {

struct MlaSelectFormPass
    : public moela::impl::MlaSelectFormPassBase<MlaSelectFormPass> {
  using MlaSelectFormPassBase::MlaSelectFormPassBase;

  void runOnOperation() override {
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>()) {
      mla::AttentionForm form = func.getSymName() == abi::kPrefill ? prefillForm
                                : func.getSymName() == abi::kDecode
                                    ? decodeForm
                                    : mla::AttentionForm::absorbed;
      func.walk([&](mla::AttentionOp op) {
        if (!op.getForm())
          op.setForm(form);
      });
    }
  }
};

} // namespace
