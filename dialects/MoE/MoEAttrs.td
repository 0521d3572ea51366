//===- MoEAttrs.td - moe attributes -----------------------------*- tablegen -*-===//
#ifndef MOELA_MOE_ATTRS
#define MOELA_MOE_ATTRS

include "MoE/MoEDialect.td"
include "NN/NNDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "MoE/MoEEnums.td"

def MoE_RoutingAttr : AttrDef<MoE_Dialect, "Routing"> {
  let mnemonic = "routing";
  let summary = "How tokens choose their experts";
  let description = [{
    docs/model.md §3.2: scores are `sigmoid` or `softmax` of the router logits; with
    `noaux_tc` a correction bias is added for selection only; with more than
    one group, only the `topk_groups` best groups (top-2 sum for noaux_tc, max
    for group_limited_greedy) stay eligible; the top `top_k` experts are
    chosen, weighted by their unbiased scores, renormalised if
    `norm_topk_prob` (and top_k > 1), and scaled by `scaling`.

    Example:
    ```mlir
    #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 256, top_k = 8,
                 groups = 8, topk_groups = 4, norm_topk_prob = true, scaling = 2.500000e+00>
    ```
  }];
  let parameters = (ins
    EnumParameter<MoE_ScoringFunc>:$scoring,
    EnumParameter<MoE_TopkMethod>:$method,
    "int64_t":$experts,
    "int64_t":$top_k,
    "int64_t":$groups,
    "int64_t":$topk_groups,
    "bool":$norm_topk_prob,
    DoubleParameter<"routed_scaling_factor">:$scaling
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether the group restriction applies (greedy ignores groups).
    bool usesGroups() const {
      return getGroups() > 1 && getMethod() != TopkMethod::greedy;
    }
  }];
}

def MoE_ExpertWeightsAttr : AttrDef<MoE_Dialect, "ExpertWeights"> {
  let mnemonic = "expert_weights";
  let summary = "The routed experts' weights, by name pattern";
  let description = [{
    Names the `count` routed experts of a layer without listing 3 x count
    tensors: expert e's weights are `<prefix>.<e>.{gate_proj,up_proj}.weight`
    `[intermediate, hidden]` and `<prefix>.<e>.down_proj.weight`
    `[hidden, intermediate]`, of `dtype`; FP8 weights come with
    `_scale_inv` block scales.

    In a multi-device module (docs/parallel.md), `expert_parts` > 1 splits
    the experts over the ranks (expert parallelism: each binds `count /
    expert_parts` of them; `count` stays the layer's total, which routing
    indexes), and `intermediate_parts` > 1 splits every expert's
    intermediate dim (`intermediate` is then one rank's slice). Both default
    to 1 and are not printed then.

    Example:
    ```mlir
    #moe.expert_weights<prefix = "model.layers.3.mlp.experts", count = 256,
                        hidden = 7168, intermediate = 2048, dtype = f8E4M3FN>
    #moe.expert_weights<prefix = "model.layers.3.mlp.experts", count = 256,
                        hidden = 7168, intermediate = 2048, dtype = f8E4M3FN,
                        expert_parts = 8>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"tensor name prefix">:$prefix,
    "int64_t":$count,
    "int64_t":$hidden,
    "int64_t":$intermediate,
    "::mlir::Type":$dtype,
    DefaultValuedParameter<"int64_t", "1">:$expert_parts,
    DefaultValuedParameter<"int64_t", "1">:$intermediate_parts
  );
  let builders = [
    AttrBuilder<(ins "::llvm::StringRef":$prefix, "int64_t":$count,
                     "int64_t":$hidden, "int64_t":$intermediate,
                     "::mlir::Type":$dtype), [{
      return $_get($_ctxt, prefix, count, hidden, intermediate, dtype, 1, 1);
    }]>
  ];
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The weight `proj` ("gate_proj", "up_proj" or "down_proj") of expert
    /// `expert`; expert -1 gives the pattern with "{e}" in place of the index.
    ::moela::nn::WeightAttr getWeight(int64_t expert, ::llvm::StringRef proj) const;
    /// The experts each rank binds.
    int64_t getLocalCount() const { return getCount() / getExpertParts(); }
  }];
}

#endif // MOELA_MOE_ATTRS
