//===- MLAAttrs.td - mla attributes -----------------------------*- tablegen -*-===//
#ifndef MOELA_MLA_ATTRS
#define MOELA_MLA_ATTRS

include "MLA/MLADialect.td"
include "NN/NNDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "MLA/MLAEnums.td"

def MLA_YarnAttr : AttrDef<MLA_Dialect, "Yarn"> {
  let mnemonic = "yarn";
  let summary = "YaRN rope scaling parameters";
  let description = [{
    `rope_scaling` of type "yarn" (docs/model.md §3.1): frequencies between the
    `beta_fast` and `beta_slow` correction dims are interpolated by `factor`;
    the softmax scale is multiplied by m^2, m = 0.1 mscale_all_dim ln(factor) + 1.

    Example:
    ```mlir
    #mla.yarn<factor = 40.0, original_max_position_embeddings = 4096,
              beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>
    ```
  }];
  let parameters = (ins
    DoubleParameter<"interpolation factor">:$factor,
    "int64_t":$original_max_position_embeddings,
    DoubleParameter<"fast correction rotations">:$beta_fast,
    DoubleParameter<"slow correction rotations">:$beta_slow,
    DoubleParameter<"mscale of cos/sin">:$mscale,
    DoubleParameter<"mscale of the softmax scale">:$mscale_all_dim
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def MLA_RopeAttr : AttrDef<MLA_Dialect, "Rope"> {
  let mnemonic = "rope";
  let summary = "Rotary position embedding parameters";
  let description = [{
    Interleaved RoPE over the last `dim` (Dr) channels: pairs (x[2i], x[2i+1])
    rotated by `p * theta^(-2i/dim)`, YaRN-scaled when `yarn` is present.

    Example:
    ```mlir
    #mla.rope<theta = 10000.0, dim = 64>
    ```
  }];
  let parameters = (ins
    DoubleParameter<"rope base">:$theta,
    "int64_t":$dim,
    OptionalParameter<"::moela::mla::YarnAttr">:$yarn
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def MLA_AttentionFormAttr : EnumAttr<MLA_Dialect, MLA_AttentionForm, "form">;

#endif // MOELA_MLA_ATTRS
