//===- MoEOps.td - moe operations -------------------------------*- tablegen -*-===//
#ifndef MOELA_MOE_OPS
#define MOELA_MOE_OPS

include "MoE/MoEDialect.td"
include "MoE/MoEAttrs.td"
include "NN/NNAttrs.td"
include "NN/NNTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def MoE_RouteOp : MoE_Op<"route", [Pure]> {
  let summary = "Select the top-k experts of each token and their weights";
  let description = [{
    From router logits `[T, E]` (`x @ gate^T`, fp32) computes per token the K
    selected experts `[T, K]` (i32, in descending order of biased score) and
    their routing weights `[T, K]` (f32), following `routing` (docs/model.md §3.2).
    `bias` is the `e_score_correction_bias` `[E]`, required by noaux_tc.

    Example:
    ```mlir
    %idx, %w = moe.route %logits routing <scoring = sigmoid, method = noaux_tc,
        experts = 16, top_k = 4, groups = 4, topk_groups = 2, norm_topk_prob = true,
        scaling = 2.500000e+00>
        bias <"model.layers.1.mlp.gate.e_score_correction_bias" : f32[16]>
        : tensor<?x16xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$logits, MoE_RoutingAttr:$routing,
                       OptionalAttr<NN_WeightAttr>:$bias);
  let results = (outs RankedTensorOf<[I32]>:$indices, NN_Activation:$weights);
  let assemblyFormat = [{
    $logits `routing` $routing (`bias` $bias^)? attr-dict `:` type($logits)
    `->` type($indices) `,` type($weights)
  }];
  let hasVerifier = 1;
}

def MoE_ExpertsOp : MoE_Op<"experts", [Pure]> {
  let summary = "Apply each token's selected experts (unweighted)";
  let description = [{
    `y[t, k] = down_e(silu(gate_e(x[t])) * up_e(x[t]))` with `e = indices[t, k]`:
    one output row per (token, slot) `[T, K, D]`; `moe.combine` weights and
    sums them.

    Example:
    ```mlir
    %y = moe.experts %x, %idx weights <prefix = "model.layers.1.mlp.experts",
        count = 16, hidden = 192, intermediate = 64, dtype = bf16>
        : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, RankedTensorOf<[I32]>:$indices,
                       MoE_ExpertWeightsAttr:$weights);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = [{
    $input `,` $indices `weights` $weights attr-dict `:` type($input) `,`
    type($indices) `->` type($result)
  }];
  let hasVerifier = 1;
}

def MoE_SharedExpertOp : MoE_Op<"shared_expert", [Pure, SameOperandsAndResultType]> {
  let summary = "The always-active shared expert(s) of a MoE layer";
  let description = [{
    One SwiGLU MLP whose intermediate size is `n_shared_experts *
    moe_intermediate_size`: `down(silu(gate(x)) * up(x))`.

    Example:
    ```mlir
    %s = moe.shared_expert %x gate <"model.layers.1.mlp.shared_experts.gate_proj.weight" : bf16[64, 192]>
                              up <"model.layers.1.mlp.shared_experts.up_proj.weight" : bf16[64, 192]>
                              down <"model.layers.1.mlp.shared_experts.down_proj.weight" : bf16[192, 64]>
        : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_WeightAttr:$gate,
                       NN_WeightAttr:$up, NN_WeightAttr:$down);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = [{
    $input `gate` $gate `up` $up `down` $down attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def MoE_CombineOp : MoE_Op<"combine", [Pure,
    OptionalTypesMatchWith<"shared has the result type", "result", "shared",
                           "$_self">]> {
  let summary = "Weighted sum of the expert outputs plus the shared expert";
  let description = [{
    `out[t] = sum_k weights[t, k] * y[t, k] (+ shared[t])` `[T, D]`.

    Example:
    ```mlir
    %out = moe.combine %y, %w shared %s : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$expert_outputs, NN_Activation:$weights,
                       Optional<NN_Activation>:$shared);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = [{
    $expert_outputs `,` $weights (`shared` $shared^)? attr-dict `:`
    type($expert_outputs) `,` type($weights) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // MOELA_MOE_OPS
