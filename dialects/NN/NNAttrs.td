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

    In a multi-device module (docs/parallel.md) a weight may be one rank's
    slice: `shard D of P` cuts the checkpoint tensor along dim D into P equal
    parts and each rank binds its own; the shape (and the scale shape) is the
    slice's, so the checkpoint tensor holds `shape[D] * P` along D. FP8 blocks
    keep the whole tensor's 128x128 grid.

    Example:
    ```mlir
    #nn.weight<"model.layers.0.mlp.down_proj.weight" : bf16[192, 448]>
    #nn.weight<"model.layers.0.mlp.down_proj.weight" : f8E4M3FN[192, 448],
               scale "model.layers.0.mlp.down_proj.weight_scale_inv"[2, 4]>
    #nn.weight<"model.layers.0.mlp.down_proj.weight" : bf16[192, 224], shard 1 of 2>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"checkpoint tensor name">:$name,
    "::mlir::Type":$dtype,
    ArrayRefParameter<"int64_t", "tensor shape">:$shape,
    StringRefParameter<"name of the block scale tensor", "\"\"">:$scaleName,
    OptionalArrayRefParameter<"int64_t", "block scale shape">:$scaleShape,
    "int64_t":$shardDim,
    "int64_t":$shardParts
  );
  let builders = [
    AttrBuilder<(ins "::llvm::StringRef":$name, "::mlir::Type":$dtype,
                     "::llvm::ArrayRef<int64_t>":$shape,
                     "::llvm::StringRef":$scaleName,
                     "::llvm::ArrayRef<int64_t>":$scaleShape), [{
      return $_get($_ctxt, name, dtype, shape, scaleName, scaleShape,
                   /*shardDim=*/-1, /*shardParts=*/1);
    }]>
  ];
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True for FP8 weights that come with a block scale tensor.
    bool isBlockScaled() const { return !getScaleName().empty(); }
    int64_t getRank() const { return getShape().size(); }
    int64_t getDim(unsigned i) const { return getShape()[i]; }
    /// Whether each rank binds a slice rather than the whole tensor.
    bool isSharded() const { return getShardParts() > 1; }
    /// The checkpoint tensor's shape (the shape unless sharded).
    ::llvm::SmallVector<int64_t, 2> getFullShape() const;
    /// This weight cut along `dim` into `parts` slices: the slice's shape and
    /// scale shape, `shard dim of parts` (the shape must divide).
    WeightAttr sharded(int64_t dim, int64_t parts) const;
  }];
}

#endif // MOELA_NN_ATTRS
