// Tests of moela-fuse-add-norm: rms_norm(add(a, b)) becomes add_rms_norm(a, b),
// which writes the normed value and the sum (the residual stream, which
// replaces the add for its other users). With `quantize`, norms whose every
// use is the input of an FP8 GEMM are marked for FP8 output.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-add-norm))' | FileCheck %s
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-add-norm{quantize=true}))' | FileCheck %s --check-prefix=QUANT

// Tests the fusion: the fused op sits at the add, the norm's users read its
// first result and the add's other users (the next residual) its sum. The
// bf16 GEMM after it never gets `quantize`.
// CHECK-LABEL: func.func @fused
// CHECK-NEXT: %[[Y:.*]], %[[SUM:.*]] = kernel.add_rms_norm %arg0, %arg1 weight <"post_norm" : bf16[64]> eps 9.9999999999999995E-7 : tensor<?x64xf32>
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %[[Y]] weights [#nn.weight<"down" : bf16[64, 64]>]
// CHECK-NEXT: %[[R:.*]] = kernel.add %[[SUM]], %[[G]] : tensor<?x64xf32>
// CHECK-NEXT: return %[[R]]
// QUANT-LABEL: func.func @fused
// QUANT-NOT: quantize
// QUANT: return
func.func @fused(%h: tensor<?x64xf32>, %attn: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %sum = kernel.add %h, %attn : tensor<?x64xf32>
  %y = kernel.rms_norm %sum weight <"post_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %g = kernel.gemm %y weights [#nn.weight<"down" : bf16[64, 64]>] : tensor<?x64xf32> -> tensor<?x64xf32>
  %r = kernel.add %sum, %g : tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// -----

// Tests that an add whose result feeds no norm stays an add (NEGATIVE), and
// a norm of something else stays a norm.
// CHECK-LABEL: func.func @no_norm
// CHECK-NEXT: %[[N:.*]] = kernel.rms_norm %arg0
// CHECK-NEXT: %[[A:.*]] = kernel.add %[[N]], %arg1 : tensor<?x64xf32>
// CHECK-NEXT: return %[[A]]
// CHECK-NOT: add_rms_norm
func.func @no_norm(%x: tensor<?x64xf32>, %h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %n = kernel.rms_norm %x weight <"n" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %a = kernel.add %n, %h : tensor<?x64xf32>
  return %a : tensor<?x64xf32>
}

// -----

// Tests the layer chain of a decoder: every residual add followed by the
// next norm fuses, so each sum feeds the next add_rms_norm.
// CHECK-LABEL: func.func @chain
// CHECK-NEXT: %[[Y0:.*]], %[[S0:.*]] = kernel.add_rms_norm %arg0, %arg1 weight <"n0"
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %[[Y0]]
// CHECK-NEXT: %[[Y1:.*]], %[[S1:.*]] = kernel.add_rms_norm %[[S0]], %[[G]] weight <"n1"
// CHECK-NEXT: return %[[Y1]], %[[S1]]
func.func @chain(%h: tensor<?x64xf32>, %a: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %s0 = kernel.add %h, %a : tensor<?x64xf32>
  %y0 = kernel.rms_norm %s0 weight <"n0" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %g = kernel.gemm %y0 weights [#nn.weight<"w" : bf16[64, 64]>] : tensor<?x64xf32> -> tensor<?x64xf32>
  %s1 = kernel.add %s0, %g : tensor<?x64xf32>
  %y1 = kernel.rms_norm %s1 weight <"n1" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  return %y1, %s1 : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// Tests `quantize` on FP8 weights: a plain norm and a fused add+norm whose
// every use is the A operand of an FP8 GEMM get `quantize` (FP8 activations
// with 128-wide block scales); without the option nothing is marked.
// CHECK-LABEL: func.func @fp8
// CHECK-NOT: quantize
// CHECK: return
// QUANT-LABEL: func.func @fp8
// QUANT-NEXT: %[[N:.*]] = kernel.rms_norm %arg0 weight <"input_norm" : bf16[64]> eps {{.*}} quantize : tensor<?x64xf32>
// QUANT-NEXT: %[[Q:.*]] = kernel.gemm %[[N]] weights [#nn.weight<"q_a" : f8E4M3FN[128, 64], scale "q_a_scale_inv"[1, 1]>, #nn.weight<"kv_a" : f8E4M3FN[40, 64], scale "kv_a_scale_inv"[1, 1]>]
// QUANT-NEXT: %[[Y:.*]], %[[S:.*]] = kernel.add_rms_norm %arg0, %arg1 weight <"post_norm" : bf16[64]> eps {{.*}} quantize : tensor<?x64xf32>
// QUANT-NEXT: kernel.gemm %[[Y]] weights [#nn.weight<"gate" : f8E4M3FN[32, 64], scale "gate_scale_inv"[1, 1]>, #nn.weight<"up" : f8E4M3FN[32, 64], scale "up_scale_inv"[1, 1]>] silu_mul
// QUANT-NEXT: kernel.gemm %[[Y]] weights [#nn.weight<"s" : f8E4M3FN[64, 64], scale "s_scale_inv"[1, 1]>]
func.func @fp8(%h: tensor<?x64xf32>, %attn: tensor<?x64xf32>) -> (tensor<?x168xf32>, tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x64xf32>) {
  %n = kernel.rms_norm %h weight <"input_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %q = kernel.gemm %n weights [#nn.weight<"q_a" : f8E4M3FN[128, 64], scale "q_a_scale_inv"[1, 1]>, #nn.weight<"kv_a" : f8E4M3FN[40, 64], scale "kv_a_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x168xf32>
  %sum = kernel.add %h, %attn : tensor<?x64xf32>
  %y = kernel.rms_norm %sum weight <"post_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %a = kernel.gemm %y weights [#nn.weight<"gate" : f8E4M3FN[32, 64], scale "gate_scale_inv"[1, 1]>, #nn.weight<"up" : f8E4M3FN[32, 64], scale "up_scale_inv"[1, 1]>] silu_mul : tensor<?x64xf32> -> tensor<?x32xf32>
  %s = kernel.gemm %y weights [#nn.weight<"s" : f8E4M3FN[64, 64], scale "s_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x64xf32>
  return %q, %a, %s, %sum : tensor<?x168xf32>, tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests that `quantize` is NOT set when a norm has any other use: a bf16
// router GEMM next to FP8 GEMMs, a kernel.route, or the residual operand of
// an FP8 GEMM (the residual stream stays at full precision).
// QUANT-LABEL: func.func @fp8_mixed_users
// QUANT-NOT: quantize
// QUANT: return
func.func @fp8_mixed_users(%h: tensor<?x64xf32>, %x: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x64xf32>) {
  %n0 = kernel.rms_norm %h weight <"n0" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %e = kernel.gemm %n0 weights [#nn.weight<"s" : f8E4M3FN[64, 64], scale "s_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x64xf32>
  %l = kernel.gemm %n0 weights [#nn.weight<"router" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %n1 = kernel.rms_norm %x weight <"n1" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %f = kernel.gemm %n1 weights [#nn.weight<"s" : f8E4M3FN[64, 64], scale "s_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x64xf32>
  %i, %w = kernel.route %n1 routing #routing gate <"gate" : bf16[8, 64]> : tensor<?x64xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  %n2 = kernel.rms_norm %f weight <"n2" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %r = kernel.gemm %e residual %n2 : tensor<?x64xf32> weights [#nn.weight<"o" : f8E4M3FN[64, 64], scale "o_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x64xf32>
  return %e, %l, %w, %r : tensor<?x64xf32>, tensor<?x8xf32>, tensor<?x2xf32>, tensor<?x64xf32>
}
