//===- NNDialect.td - The nn dialect ----------------------------*- tablegen -*-===//
//
// nn: the generic neural-network ops of the model IR (embedding, RMSNorm,
// linear, dense MLP, residual add, lm_head) and the weight reference attribute
// that every model-IR op uses to name checkpoint tensors.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_NN_DIALECT
#define MOELA_NN_DIALECT

include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/OpBase.td"

def NN_Dialect : Dialect {
  let name = "nn";
  let cppNamespace = "::moela::nn";
  let summary = "Generic neural-network ops of the moela model IR";
  let description = [{
    The `nn` dialect holds the model-IR ops that are not specific to MLA or
    MoE. Activations are ranked tensors whose leading dimension is the dynamic
    token count `T`; model dimensions are static. Weights are not SSA values:
    they are `#nn.weight` attributes naming a checkpoint tensor by its Hugging
    Face name, with its dtype, shape and (for FP8) block scale tensor.
  }];
  let useDefaultAttributePrinterParser = 1;
}

// A floating-point attribute parameter held as an f64 APFloat (hashable,
// compared bitwise), written as a plain number: `factor = 4.000000e+01`.
class DoubleParameter<string desc> : APFloatParameter<desc> {
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double value;
    if ($_parser.parseFloat(value))
      return ::mlir::failure();
    return ::llvm::APFloat(value);
  }() }];
  let printer = "$_printer.printFloat($_self)";
}

class NN_Op<string mnemonic, list<Trait> traits = []>
    : Op<NN_Dialect, mnemonic, traits>;

#endif // MOELA_NN_DIALECT
