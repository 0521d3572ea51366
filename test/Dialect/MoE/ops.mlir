// Round trip of every moe op and attribute: moe.route with and without its
// correction bias, every scoring function and top-k method, moe.experts with
// plain and FP8 expert weights, moe.shared_expert, moe.combine with and
// without the shared expert.
// RUN: moela-opt %s | moela-opt | FileCheck %s
// RUN: moela-opt %s --mlir-print-op-generic | moela-opt | FileCheck %s

// The printer names each distinct routing attribute once, as an alias.
// CHECK-DAG: #[[V3:[a-z0-9_]+]] = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 256, top_k = 8, groups = 8, topk_groups = 4, norm_topk_prob = true, scaling = 2.500000e+00>
// CHECK-DAG: #[[V2:[a-z0-9_]+]] = #moe.routing<scoring = softmax, method = group_limited_greedy, experts = 160, top_k = 6, groups = 8, topk_groups = 3, norm_topk_prob = false, scaling = 1.600000e+01>
// CHECK-DAG: #[[LITE:[a-z0-9_]+]] = #moe.routing<scoring = softmax, method = greedy, experts = 64, top_k = 6, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.000000e+00>
// CHECK-DAG: #[[SIGGREEDY:[a-z0-9_]+]] = #moe.routing<scoring = sigmoid, method = greedy, experts = 16, top_k = 1, groups = 4, topk_groups = 1, norm_topk_prob = true, scaling = 1.000000e+00>
// CHECK-DAG: #[[GLGSIG:[a-z0-9_]+]] = #moe.routing<scoring = sigmoid, method = group_limited_greedy, experts = 8, top_k = 2, groups = 4, topk_groups = 1, norm_topk_prob = true, scaling = 1.000000e+00>
// CHECK-DAG: #[[NOAUXSOFT:[a-z0-9_]+]] = #moe.routing<scoring = softmax, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 1, norm_topk_prob = false, scaling = 1.000000e+00>
#v3 = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 256, top_k = 8, groups = 8,
                   topk_groups = 4, norm_topk_prob = true, scaling = 2.5>
#v2 = #moe.routing<scoring = softmax, method = group_limited_greedy, experts = 160, top_k = 6,
                   groups = 8, topk_groups = 3, norm_topk_prob = false, scaling = 16.0>

// Tests that noaux_tc routing keeps its e_score_correction_bias (f32 [E]).
// CHECK-LABEL: func.func @route_noaux_tc
// CHECK: %{{.*}}, %{{.*}} = moe.route %{{.*}} routing #[[V3]] bias <"model.layers.3.mlp.gate.e_score_correction_bias" : f32[256]> : tensor<?x256xf32> -> tensor<?x8xi32>, tensor<?x8xf32>
func.func @route_noaux_tc(%logits: tensor<?x256xf32>) -> (tensor<?x8xi32>, tensor<?x8xf32>) {
  %idx, %w = moe.route %logits routing #v3
      bias <"model.layers.3.mlp.gate.e_score_correction_bias" : f32[256]>
      : tensor<?x256xf32> -> tensor<?x8xi32>, tensor<?x8xf32>
  return %idx, %w : tensor<?x8xi32>, tensor<?x8xf32>
}

// Tests that group_limited_greedy and greedy routing take no bias, and that
// the routing attribute may be written inline.
// CHECK-LABEL: func.func @route_without_bias
// CHECK: moe.route %{{.*}} routing #[[V2]] : tensor<?x160xf32> -> tensor<?x6xi32>, tensor<?x6xf32>
// CHECK: moe.route %{{.*}} routing #[[LITE]] : tensor<?x64xf32> -> tensor<?x6xi32>, tensor<?x6xf32>
// CHECK: moe.route %{{.*}} routing #[[SIGGREEDY]] : tensor<?x16xf32> -> tensor<?x1xi32>, tensor<?x1xf32>
func.func @route_without_bias(%l2: tensor<?x160xf32>, %lite: tensor<?x64xf32>, %l16: tensor<?x16xf32>) {
  %i0, %w0 = moe.route %l2 routing #v2 : tensor<?x160xf32> -> tensor<?x6xi32>, tensor<?x6xf32>
  %i1, %w1 = moe.route %lite routing <scoring = softmax, method = greedy, experts = 64, top_k = 6, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0> : tensor<?x64xf32> -> tensor<?x6xi32>, tensor<?x6xf32>
  // greedy ignores groups, so top_k may exceed topk_groups * E / G.
  %i2, %w2 = moe.route %l16 routing <scoring = sigmoid, method = greedy, experts = 16, top_k = 1, groups = 4, topk_groups = 1, norm_topk_prob = true, scaling = 1.0> : tensor<?x16xf32> -> tensor<?x1xi32>, tensor<?x1xf32>
  return
}

// Tests that moe.experts keeps its expert weights, for every dtype.
// CHECK-LABEL: func.func @experts
// CHECK: moe.experts %{{.*}}, %{{.*}} weights <prefix = "model.layers.1.mlp.experts", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
// CHECK: moe.experts %{{.*}}, %{{.*}} weights <prefix = "model.layers.3.mlp.experts", count = 256, hidden = 192, intermediate = 2048, dtype = f8E4M3FN> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
// CHECK: moe.experts %{{.*}}, %{{.*}} weights <prefix = "e16", count = 1, hidden = 192, intermediate = 1, dtype = f16> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
// CHECK: moe.experts %{{.*}}, %{{.*}} weights <prefix = "e32", count = 2, hidden = 192, intermediate = 8, dtype = f32> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
func.func @experts(%x: tensor<?x192xf32>, %idx: tensor<?x4xi32>) {
  %y = moe.experts %x, %idx weights <prefix = "model.layers.1.mlp.experts",
      count = 16, hidden = 192, intermediate = 64, dtype = bf16>
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
  %z = moe.experts %x, %idx weights <prefix = "model.layers.3.mlp.experts",
      count = 256, hidden = 192, intermediate = 2048, dtype = f8E4M3FN>
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
  %a = moe.experts %x, %idx weights <prefix = "e16", count = 1, hidden = 192, intermediate = 1, dtype = f16>
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
  %b = moe.experts %x, %idx weights <prefix = "e32", count = 2, hidden = 192, intermediate = 8, dtype = f32>
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
  return
}

// Tests that moe.shared_expert keeps its three weights, plain and FP8.
// CHECK-LABEL: func.func @shared_expert
// CHECK: moe.shared_expert %{{.*}} gate <"model.layers.1.mlp.shared_experts.gate_proj.weight" : bf16[64, 192]> up <"model.layers.1.mlp.shared_experts.up_proj.weight" : bf16[64, 192]> down <"model.layers.1.mlp.shared_experts.down_proj.weight" : bf16[192, 64]> : tensor<?x192xf32>
// CHECK: moe.shared_expert %{{.*}} gate <"g" : f8E4M3FN[64, 192], scale "g_scale_inv"[1, 2]> up <"u" : f8E4M3FN[64, 192], scale "u_scale_inv"[1, 2]> down <"d" : f8E4M3FN[192, 64], scale "d_scale_inv"[2, 1]> : tensor<?x192xf32>
func.func @shared_expert(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %s = moe.shared_expert %x gate <"model.layers.1.mlp.shared_experts.gate_proj.weight" : bf16[64, 192]>
                            up <"model.layers.1.mlp.shared_experts.up_proj.weight" : bf16[64, 192]>
                            down <"model.layers.1.mlp.shared_experts.down_proj.weight" : bf16[192, 64]>
      : tensor<?x192xf32>
  %t = moe.shared_expert %s gate <"g" : f8E4M3FN[64, 192], scale "g_scale_inv"[1, 2]>
                            up <"u" : f8E4M3FN[64, 192], scale "u_scale_inv"[1, 2]>
                            down <"d" : f8E4M3FN[192, 64], scale "d_scale_inv"[2, 1]>
      : tensor<?x192xf32>
  return %t : tensor<?x192xf32>
}

// Tests that moe.combine round-trips with and without the shared expert.
// CHECK-LABEL: func.func @combine
// CHECK: moe.combine %{{.*}}, %{{.*}} shared %{{.*}} : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
// CHECK: moe.combine %{{.*}}, %{{.*}} : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
func.func @combine(%y: tensor<?x4x192xf32>, %w: tensor<?x4xf32>, %s: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %a = moe.combine %y, %w shared %s : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  %b = moe.combine %y, %w : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %b : tensor<?x192xf32>
}

// Tests that the attributes round-trip free-standing, with their full prefix,
// including every enum value of #moe<scoring_func> and #moe<topk_method>.
// CHECK-LABEL: func.func @attrs
// CHECK-SAME: a.experts = #moe.expert_weights<prefix = "p", count = 8, hidden = 64, intermediate = 32, dtype = bf16>
// CHECK-SAME: a.routing = #[[V2]]
// CHECK-SAME: a.routing_glg_sigmoid = #[[GLGSIG]]
// CHECK-SAME: a.routing_noaux_softmax = #[[NOAUXSOFT]]
func.func @attrs() attributes {
  a.experts = #moe.expert_weights<prefix = "p", count = 8, hidden = 64, intermediate = 32, dtype = bf16>,
  a.routing = #v2,
  a.routing_glg_sigmoid = #moe.routing<scoring = sigmoid, method = group_limited_greedy, experts = 8, top_k = 2, groups = 4, topk_groups = 1, norm_topk_prob = true, scaling = 1.0>,
  a.routing_noaux_softmax = #moe.routing<scoring = softmax, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>
} {
  return
}
