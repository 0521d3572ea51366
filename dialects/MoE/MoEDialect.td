//===- MoEDialect.td - The moe dialect --------------------------*- tablegen -*-===//
//
// moe: Mixture-of-Experts (docs/model.md §3.2) in the model IR: routing, the routed
// experts, the shared expert and the weighted combine.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_MOE_DIALECT
#define MOELA_MOE_DIALECT

include "mlir/IR/OpBase.td"

def MoE_Dialect : Dialect {
  let name = "moe";
  let cppNamespace = "::moela::moe";
  let summary = "Mixture-of-Experts ops of the moela model IR";
  let description = [{
    A MoE layer routes each token to K of E experts (`moe.route`), runs the
    selected experts (`moe.experts`, one unweighted output per slot), runs the
    shared expert (`moe.shared_expert`) and sums them with the routing weights
    (`moe.combine`). Passes lower this to dispatch (tokens sorted by expert),
    grouped expert GEMMs and a permuted combine.
  }];
  let dependentDialects = ["::moela::nn::NNDialect"];
  let useDefaultAttributePrinterParser = 1;
}

class MoE_Op<string mnemonic, list<Trait> traits = []>
    : Op<MoE_Dialect, mnemonic, traits>;

#endif // MOELA_MOE_DIALECT
