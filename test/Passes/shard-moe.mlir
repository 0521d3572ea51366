// Tests of moela-shard-moe: with ep the routed experts are partitioned over
// the ranks (expert_parts; each rank computes its own experts for every
// token); without it every expert's intermediate dim is cut. The shared
// expert is always cut by its intermediate dim, routing stays whole, and one
// nn.all_reduce after moe.combine sums the ranks' partial outputs.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-moe{ranks=2 target=host ep=true})' | FileCheck %s --check-prefix=EP
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-moe{ranks=2 target=host})' | FileCheck %s --check-prefix=TP
// RUN: not moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-moe{ranks=3 target=host ep=true})' -o /dev/null 2>&1 | FileCheck %s --check-prefix=ODD

// EP: module attributes {moela.layout = {ep, ranks = 2 : i64, tp = 2 : i64}}
// EP: moe.route %arg1 routing {{.*}} bias <"bias" : f32[16]>
// EP: %[[Y:.*]] = moe.experts %arg0, %{{.*}} weights <prefix = "experts", count = 16, hidden = 192, intermediate = 64, dtype = bf16, expert_parts = 2>
// EP: %[[SH:.*]] = moe.shared_expert %arg0 gate <"sg" : bf16[32, 192], shard 0 of 2> up <"su" : bf16[32, 192], shard 0 of 2> down <"sd" : bf16[192, 32], shard 1 of 2>
// EP: %[[C:.*]] = moe.combine %[[Y]], %{{.*}} shared %[[SH]]
// EP: %[[S:.*]] = nn.all_reduce %[[C]] ranks 2
// EP: return %[[S]]
// TP: module attributes {moela.layout = {ranks = 2 : i64, tp = 2 : i64}}
// TP: moe.experts %arg0, %{{.*}} weights <prefix = "experts", count = 16, hidden = 192, intermediate = 32, dtype = bf16, intermediate_parts = 2>
// TP: nn.all_reduce
// ODD: error: n_routed_experts = 16 cannot be split evenly over 3 ranks
#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 16, top_k = 4, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.500000e+00>
func.func @moe(%x: tensor<?x192xf32>, %logits: tensor<?x16xf32>) -> tensor<?x192xf32> {
  %idx, %w = moe.route %logits routing #routing bias <"bias" : f32[16]> : tensor<?x16xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  %y = moe.experts %x, %idx weights <prefix = "experts", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x4x192xf32>
  %s = moe.shared_expert %x gate <"sg" : bf16[64, 192]> up <"su" : bf16[64, 192]> down <"sd" : bf16[192, 64]> : tensor<?x192xf32>
  %c = moe.combine %y, %w shared %s : tensor<?x4x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %c : tensor<?x192xf32>
}
