//===- NNTypes.td - Tensor constraints of the model IR ----------*- tablegen -*-===//
#ifndef MOELA_NN_TYPES
#define MOELA_NN_TYPES

include "mlir/IR/CommonTypeConstraints.td"

// Activations: tensors of f32 (the logical type; storage precision is chosen
// when lowering to kernels). Token ids and row indices: tensors of i32.
def NN_Activation : RankedTensorOf<[F32]>;
def NN_Indices : Type<CPred<"::moela::nn::isIndexVector($_self)">,
                      "tensor<?xi32> of token indices", "::mlir::RankedTensorType">,
                 BuildableType<"::moela::nn::getIndexVectorType($_builder.getContext())">;

#endif // MOELA_NN_TYPES
