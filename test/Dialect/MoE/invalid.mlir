// Every verifier rule of #moe.routing, #moe.expert_weights and the moe ops,
// one case each; each error names the rule that broke.
// RUN: moela-opt %s -split-input-file -verify-diagnostics

// Tests that routing needs at least one expert.
// expected-error @+1 {{routing needs experts >= 1, got 0}}
func.func @routing_no_experts() attributes {r = #moe.routing<scoring = softmax, method = greedy, experts = 0, top_k = 1, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that K <= E.
// expected-error @+1 {{routing top_k = 9 must be in [1, experts = 8] (K <= E)}}
func.func @routing_k_gt_e() attributes {r = #moe.routing<scoring = softmax, method = greedy, experts = 8, top_k = 9, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that K >= 1.
// expected-error @+1 {{routing top_k = 0 must be in [1, experts = 8] (K <= E)}}
func.func @routing_k_zero() attributes {r = #moe.routing<scoring = softmax, method = greedy, experts = 8, top_k = 0, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that the groups divide the experts (E % G == 0).
// expected-error @+1 {{routing groups = 3 must divide experts = 8 (E % G == 0)}}
func.func @routing_groups_divide() attributes {r = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 3, topk_groups = 1, norm_topk_prob = true, scaling = 1.0>} { return }

// -----

// Tests that there is at least one group.
// expected-error @+1 {{routing groups = 0 must divide experts = 8 (E % G == 0)}}
func.func @routing_zero_groups() attributes {r = #moe.routing<scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 0, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that topk_group <= n_group.
// expected-error @+1 {{routing topk_groups = 5 must be in [1, groups = 4] (topk_group <= n_group)}}
func.func @routing_topk_groups() attributes {r = #moe.routing<scoring = softmax, method = group_limited_greedy, experts = 16, top_k = 2, groups = 4, topk_groups = 5, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that topk_group >= 1.
// expected-error @+1 {{routing topk_groups = 0 must be in [1, groups = 4] (topk_group <= n_group)}}
func.func @routing_topk_groups_zero() attributes {r = #moe.routing<scoring = softmax, method = group_limited_greedy, experts = 16, top_k = 2, groups = 4, topk_groups = 0, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that noaux_tc, which scores a group by its top-2 experts, needs at
// least 2 experts per group.
// expected-error @+1 {{routing noaux_tc scores a group by its top-2 experts, so each group needs >= 2 experts, got 1}}
func.func @routing_noaux_one_per_group() attributes {r = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 8, topk_groups = 4, norm_topk_prob = true, scaling = 2.5>} { return }

// -----

// Tests that K fits in the kept groups: K <= topk_group * E / G (noaux_tc).
// expected-error @+1 {{routing top_k = 5 exceeds the 4 experts of the kept groups (K <= topk_group * E / G)}}
func.func @routing_noaux_k_gt_kept() attributes {r = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 16, top_k = 5, groups = 4, topk_groups = 1, norm_topk_prob = true, scaling = 2.5>} { return }

// -----

// Tests that K fits in the kept groups for group_limited_greedy too.
// expected-error @+1 {{routing top_k = 7 exceeds the 6 experts of the kept groups (K <= topk_group * E / G)}}
func.func @routing_glg_k_gt_kept() attributes {r = #moe.routing<scoring = softmax, method = group_limited_greedy, experts = 16, top_k = 7, groups = 8, topk_groups = 3, norm_topk_prob = false, scaling = 16.0>} { return }

// -----

// Tests that routed_scaling_factor is positive.
// expected-error @+1 {{routing scaling must be > 0, got 0.000000e+00}}
func.func @routing_scaling() attributes {r = #moe.routing<scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 0.0>} { return }

// -----

// Tests that the scoring function is softmax or sigmoid.
// expected-error @+2 {{expected ::moela::moe::ScoringFunc to be one of: softmax, sigmoid}}
// expected-error @+1 {{failed to parse MoE_RoutingAttr parameter 'scoring'}}
func.func @routing_bad_scoring() attributes {r = #moe.routing<scoring = relu, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that the top-k method is one of the three known ones.
// expected-error @+2 {{expected ::moela::moe::TopkMethod to be one of: greedy, group_limited_greedy, noaux_tc}}
// expected-error @+1 {{failed to parse MoE_RoutingAttr parameter 'method'}}
func.func @routing_bad_method() attributes {r = #moe.routing<scoring = softmax, method = aux_loss, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>} { return }

// -----

// Tests that expert weights need a tensor name prefix.
// expected-error @+1 {{expert weights need a name prefix}}
func.func @experts_no_prefix() attributes {e = #moe.expert_weights<prefix = "", count = 8, hidden = 64, intermediate = 32, dtype = bf16>} { return }

// -----

// Tests that there is at least one routed expert.
// expected-error @+1 {{expert weights need count, hidden and intermediate >= 1, got 0, 64, 32}}
func.func @experts_zero_count() attributes {e = #moe.expert_weights<prefix = "p", count = 0, hidden = 64, intermediate = 32, dtype = bf16>} { return }

// -----

// Tests that the expert hidden size is positive.
// expected-error @+1 {{expert weights need count, hidden and intermediate >= 1, got 8, -64, 32}}
func.func @experts_negative_hidden() attributes {e = #moe.expert_weights<prefix = "p", count = 8, hidden = -64, intermediate = 32, dtype = bf16>} { return }

// -----

// Tests that the expert intermediate size is positive.
// expected-error @+1 {{expert weights need count, hidden and intermediate >= 1, got 8, 64, 0}}
func.func @experts_zero_intermediate() attributes {e = #moe.expert_weights<prefix = "p", count = 8, hidden = 64, intermediate = 0, dtype = bf16>} { return }

// -----

// Tests that expert weights have a checkpoint dtype.
// expected-error @+1 {{expert weights must be f32, bf16, f16 or f8E4M3FN, got 'f8E5M2'}}
func.func @experts_dtype() attributes {e = #moe.expert_weights<prefix = "p", count = 8, hidden = 64, intermediate = 32, dtype = f8E5M2>} { return }

// -----

// Tests that the router logits are [T, E].
func.func @route_logits(%l: tensor<?x12xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.route' op logits has type 'tensor<?x12xf32>', expected shape [?, 8] (router logits are [T, E])}}
  %i, %w = moe.route %l routing <scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0> : tensor<?x12xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

// -----

// Tests that the selected experts are [T, K].
func.func @route_indices(%l: tensor<?x8xf32>) -> (tensor<?x3xi32>, tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.route' op indices has type 'tensor<?x3xi32>', expected shape [?, 2] (selected experts are [T, K])}}
  %i, %w = moe.route %l routing <scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0> : tensor<?x8xf32> -> tensor<?x3xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x3xi32>, tensor<?x2xf32>
}

// -----

// Tests that the selected experts are i32.
func.func @route_indices_type(%l: tensor<?x8xf32>) -> (tensor<?x2xi64>, tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.route' op result #0 must be ranked tensor of 32-bit signless integer values, but got 'tensor<?x2xi64>'}}
  %i, %w = moe.route %l routing <scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0> : tensor<?x8xf32> -> tensor<?x2xi64>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi64>, tensor<?x2xf32>
}

// -----

// Tests that the routing weights are [T, K].
func.func @route_weights(%l: tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2x1xf32>) {
  // expected-error @+1 {{'moe.route' op weights has type 'tensor<?x2x1xf32>', expected shape [?, 2] (routing weights are [T, K])}}
  %i, %w = moe.route %l routing <scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2x1xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2x1xf32>
}

// -----

// Tests that noaux_tc routing needs the e_score_correction_bias.
func.func @route_noaux_without_bias(%l: tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.route' op noaux_tc routing needs the e_score_correction_bias and other methods take none}}
  %i, %w = moe.route %l routing <scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

// -----

// Tests that other methods take no bias (it only exists with noaux_tc).
func.func @route_greedy_with_bias(%l: tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.route' op noaux_tc routing needs the e_score_correction_bias and other methods take none}}
  %i, %w = moe.route %l routing <scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0> bias <"b" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

// -----

// Tests that the correction bias is [E].
func.func @route_bias_shape(%l: tensor<?x8xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  // expected-error @+1 {{'moe.route' op e_score_correction_bias weight 'b' has shape [16], expected [8] (the correction bias is [E])}}
  %i, %w = moe.route %l routing <scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5> bias <"b" : f32[16]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %i, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

// -----

// Tests that the expert input is [T, D] with the experts' hidden size D.
func.func @experts_input(%x: tensor<?x128xf32>, %idx: tensor<?x4xi32>) -> tensor<?x4x192xf32> {
  // expected-error @+1 {{'moe.experts' op input has type 'tensor<?x128xf32>', expected shape [?, 192] (input is [T, D], D = expert hidden size)}}
  %y = moe.experts %x, %idx weights <prefix = "p", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x128xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
  return %y : tensor<?x4x192xf32>
}

// -----

// Tests that the selected experts are [T, K].
func.func @experts_indices(%x: tensor<?x192xf32>, %idx: tensor<?xi32>) -> tensor<?x4x192xf32> {
  // expected-error @+1 {{'moe.experts' op indices has type 'tensor<?xi32>', expected shape [?, ?] (selected experts are [T, K])}}
  %y = moe.experts %x, %idx weights <prefix = "p", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x192xf32>, tensor<?xi32> -> tensor<?x4x192xf32>
  return %y : tensor<?x4x192xf32>
}

// -----

// Tests that the expert outputs are [T, K, D] with the indices' K.
func.func @experts_result_k(%x: tensor<?x192xf32>, %idx: tensor<?x4xi32>) -> tensor<?x8x192xf32> {
  // expected-error @+1 {{'moe.experts' op result has type 'tensor<?x8x192xf32>', expected shape [?, 4, 192] (result is [T, K, D])}}
  %y = moe.experts %x, %idx weights <prefix = "p", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x8x192xf32>
  return %y : tensor<?x8x192xf32>
}

// -----

// Tests that the expert outputs keep one row per (token, slot): rank 3.
func.func @experts_result_rank(%x: tensor<?x192xf32>, %idx: tensor<?x4xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.experts' op result has type 'tensor<?x192xf32>', expected shape [?, 4, 192] (result is [T, K, D])}}
  %y = moe.experts %x, %idx weights <prefix = "p", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that the shared expert works on [T, D] activations.
func.func @shared_expert_rank(%x: tensor<192xf32>) -> tensor<192xf32> {
  // expected-error @+1 {{'moe.shared_expert' op input has type 'tensor<192xf32>', expected shape [?, ?] (input is [T, D])}}
  %s = moe.shared_expert %x gate <"g" : bf16[64, 192]> up <"u" : bf16[64, 192]> down <"d" : bf16[192, 64]> : tensor<192xf32>
  return %s : tensor<192xf32>
}

// -----

// Tests that the shared gate_proj is [n_shared * Fm, D].
func.func @shared_expert_gate(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.shared_expert' op gate weight 'g' has shape [64, 128], expected [64, 192] (gate_proj is [n_shared * Fm, D])}}
  %s = moe.shared_expert %x gate <"g" : bf16[64, 128]> up <"u" : bf16[64, 192]> down <"d" : bf16[192, 64]> : tensor<?x192xf32>
  return %s : tensor<?x192xf32>
}

// -----

// Tests that the shared up_proj has gate_proj's shape.
func.func @shared_expert_up(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.shared_expert' op up weight 'u' has shape [128, 192], expected [64, 192] (up_proj is [n_shared * Fm, D])}}
  %s = moe.shared_expert %x gate <"g" : bf16[64, 192]> up <"u" : bf16[128, 192]> down <"d" : bf16[192, 64]> : tensor<?x192xf32>
  return %s : tensor<?x192xf32>
}

// -----

// Tests that the shared down_proj is [D, n_shared * Fm].
func.func @shared_expert_down(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.shared_expert' op down weight 'd' has shape [192, 128], expected [192, 64] (down_proj is [D, n_shared * Fm])}}
  %s = moe.shared_expert %x gate <"g" : bf16[64, 192]> up <"u" : bf16[64, 192]> down <"d" : bf16[192, 128]> : tensor<?x192xf32>
  return %s : tensor<?x192xf32>
}

// -----

// Tests that combine takes [T, K, D] expert outputs.
func.func @combine_outputs_rank(%y: tensor<?x192xf32>, %w: tensor<?x4xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.combine' op expert outputs must be [T, K, D], got 'tensor<?x192xf32>'}}
  %o = moe.combine %y, %w : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that combine's weights are [T, K] with the outputs' K.
func.func @combine_weights(%y: tensor<?x4x192xf32>, %w: tensor<?x8xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.combine' op weights has type 'tensor<?x8xf32>', expected shape [?, 4] (routing weights are [T, K])}}
  %o = moe.combine %y, %w : tensor<?x4x192xf32>, tensor<?x8xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that combine's result is [T, D] with the outputs' D.
func.func @combine_result(%y: tensor<?x4x192xf32>, %w: tensor<?x4xf32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{'moe.combine' op result has type 'tensor<?x128xf32>', expected shape [?, 192] (result is [T, D])}}
  %o = moe.combine %y, %w : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x128xf32>
  return %o : tensor<?x128xf32>
}

// -----

// Tests that the shared expert output has the result type (the custom form
// implies that type, so this is written in the generic form).
func.func @combine_shared_type(%y: tensor<?x4x192xf32>, %w: tensor<?x4xf32>, %s: tensor<?x128xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'moe.combine' op failed to verify that shared has the result type}}
  %o = "moe.combine"(%y, %w, %s) : (tensor<?x4x192xf32>, tensor<?x4xf32>, tensor<?x128xf32>) -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}
