//===- NNAttrs.td - nn attributes -------------------------------*- tablegen -*-===//
#ifndef MOELA_NN_ATTRS
#define MOELA_NN_ATTRS

include "NN/NNDialect.td"
include "mlir/IR/AttrTypeBase.td"

def NN_WeightAttr : AttrDef<NN_Dialect, "Weight"> {
  let mnemonic = "weight";
  let summary = "A reference to a checkpoint tensor";
  let description = [{
    Names a tensor of the Hugging Face checkpoint with the dtype and shape the
    model expects it to have. Linear weights are `[out, in]`. An FP8 weight
    (`f8E4M3FN`) carries the name and shape of its `_scale_inv` tensor, one F32
    scale per 128x128 block: `[ceil(out/128), ceil(in/128)]`.

    Example:
    ```mlir
    #nn.weight<"model.layers.0.mlp.down_proj.weight" : bf16[192, 448]>
    #nn.weight<"model.layers.0.mlp.down_proj.weight" : f8E4M3FN[192, 448],
               scale "model.layers.0.mlp.down_proj.weight_scale_inv"[2, 4]>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"checkpoint tensor name">:$name,
    "::mlir::Type":$dtype,
    ArrayRefParameter<"int64_t", "tensor shape">:$shape,
    StringRefParameter<"name of the block scale tensor", "\"\"">:$scaleName,
    OptionalArrayRefParameter<"int64_t", "block scale shape">:$scaleShape
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True for FP8 weights that come with a block scale tensor.
    bool isBlockScaled() const { return !getScaleName().empty(); }
    int64_t getRank() const { return getShape().size(); }
    int64_t getDim(unsigned i) const { return getShape()[i]; }
  }];
}

#endif // MOELA_NN_ATTRS
