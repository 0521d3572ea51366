// Tests of moela-fuse-router: route(gemm(x, gate)) becomes route(x) with the
// gate weight, so the [T, E] router logits never leave the kernel.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-router))' | FileCheck %s
// With `functions`, only the functions so named are fused (a GPU fuses in
// decode only); the gate GEMMs of the others become `precise`.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-router{functions=decode}))' | FileCheck %s --check-prefix=ONLY

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests the fusion: the route reads the hidden state and carries the gate
// weight and the correction bias; the gate GEMM is gone.
// CHECK-LABEL: func.func @fused
// CHECK-NEXT: %[[I:.*]], %[[W:.*]] = kernel.route %arg0 routing #routing gate <"gate" : bf16[8, 64]> bias <"bias" : f32[8]> : tensor<?x64xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
// CHECK-NEXT: return %[[I]], %[[W]]
func.func @fused(%x: tensor<?x64xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %logits = kernel.gemm %x weights [#nn.weight<"gate" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = kernel.route %logits routing #routing bias <"bias" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %idx, %w : tensor<?x2xi32>, tensor<?x2xf32>
}

// -----

#v2 = #moe.routing<scoring = softmax, method = greedy, experts = 8, top_k = 2, groups = 1, topk_groups = 1, norm_topk_prob = false, scaling = 1.0>

// Tests that a route without a bias (softmax, greedy) fuses too.
// CHECK-LABEL: func.func @no_bias
// CHECK-NEXT: kernel.route %arg0 routing #{{.*}} gate <"gate" : bf16[8, 64]> : tensor<?x64xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
func.func @no_bias(%x: tensor<?x64xf32>) -> tensor<?x2xf32> {
  %logits = kernel.gemm %x weights [#nn.weight<"gate" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = kernel.route %logits routing #v2 : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %w : tensor<?x2xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests that router logits with another user are NOT fused.
// CHECK-LABEL: func.func @logits_used_elsewhere
// CHECK-NEXT: %[[L:.*]] = kernel.gemm %arg0
// CHECK-NEXT: kernel.route %[[L]] routing #routing : tensor<?x8xf32>
func.func @logits_used_elsewhere(%x: tensor<?x64xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>) {
  %logits = kernel.gemm %x weights [#nn.weight<"gate" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = kernel.route %logits routing #routing : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %logits, %w : tensor<?x8xf32>, tensor<?x2xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests that a GEMM over two concatenated weights is NOT fused (the route
// takes one gate weight).
// CHECK-LABEL: func.func @two_weights
// CHECK-NEXT: %[[L:.*]] = kernel.gemm %arg0 weights [#nn.weight<"g0" : bf16[4, 64]>, #nn.weight<"g1" : bf16[4, 64]>]
// CHECK-NEXT: kernel.route %[[L]] routing
func.func @two_weights(%x: tensor<?x64xf32>) -> tensor<?x2xf32> {
  %logits = kernel.gemm %x weights [#nn.weight<"g0" : bf16[4, 64]>, #nn.weight<"g1" : bf16[4, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = kernel.route %logits routing #routing : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %w : tensor<?x2xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests that logits that do not come from a GEMM are NOT fused, and a route
// that already has its gate is left alone.
// CHECK-LABEL: func.func @not_a_gemm
// CHECK-NEXT: kernel.route %arg0 routing #routing : tensor<?x8xf32>
// CHECK-NEXT: kernel.route %arg1 routing #routing gate <"gate" : bf16[8, 64]> : tensor<?x64xf32>
func.func @not_a_gemm(%logits: tensor<?x8xf32>, %x: tensor<?x64xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %i0, %w0 = kernel.route %logits routing #routing : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  %i1, %w1 = kernel.route %x routing #routing gate <"gate" : bf16[8, 64]> : tensor<?x64xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %w0, %w1 : tensor<?x2xf32>, tensor<?x2xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// ONLY-LABEL: func.func @prefill
// ONLY-NEXT: kernel.gemm %arg0 weights [#nn.weight<"gate" : bf16[8, 64]>] precise :
// ONLY-LABEL: func.func @decode
// ONLY-NEXT: kernel.route %arg0 routing {{.*}} gate <"gate" : bf16[8, 64]>
// CHECK-LABEL: func.func @prefill
// CHECK-NEXT: kernel.route %arg0 routing {{.*}} gate <"gate" : bf16[8, 64]>
// CHECK-LABEL: func.func @decode
// CHECK-NEXT: kernel.route %arg0 routing {{.*}} gate <"gate" : bf16[8, 64]>
func.func @prefill(%x: tensor<?x64xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %logits = kernel.gemm %x weights [#nn.weight<"gate" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = kernel.route %logits routing #routing bias <"bias" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %idx, %w : tensor<?x2xi32>, tensor<?x2xf32>
}
func.func @decode(%x: tensor<?x64xf32>) -> (tensor<?x2xi32>, tensor<?x2xf32>) {
  %logits = kernel.gemm %x weights [#nn.weight<"gate" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = kernel.route %logits routing #routing bias <"bias" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  return %idx, %w : tensor<?x2xi32>, tensor<?x2xf32>
}
