// Tests of moela-fuse-swiglu: silu_mul(gemm(x, gate), gemm(x, up)) becomes
// gemm(x, [gate; up]) with the silu_mul epilogue, when both GEMMs are plain,
// read the same input and feed only the silu_mul.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-swiglu))' | FileCheck %s

// Tests the fusion in a dense MLP: one GEMM over [gate; up] (2F rows) whose
// epilogue halves the result to F columns; the down GEMM reads it.
// CHECK-LABEL: func.func @mlp
// CHECK-NEXT: %[[A:.*]] = kernel.gemm %arg0 weights [#nn.weight<"gate" : bf16[448, 192]>, #nn.weight<"up" : bf16[448, 192]>] silu_mul : tensor<?x192xf32> -> tensor<?x448xf32>
// CHECK-NEXT: %[[D:.*]] = kernel.gemm %[[A]] weights [#nn.weight<"down" : bf16[192, 448]>] : tensor<?x448xf32> -> tensor<?x192xf32>
// CHECK-NEXT: return %[[D]]
func.func @mlp(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %g = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %u = kernel.gemm %x weights [#nn.weight<"up" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %a = kernel.silu_mul %g, %u : tensor<?x448xf32>
  %d = kernel.gemm %a weights [#nn.weight<"down" : bf16[192, 448]>] : tensor<?x448xf32> -> tensor<?x192xf32>
  return %d : tensor<?x192xf32>
}

// -----

// Tests that FP8 gate and up weights fuse the same way, in gate;up order.
// CHECK-LABEL: func.func @fp8
// CHECK-NEXT: kernel.gemm %arg0 weights [#nn.weight<"g" : f8E4M3FN[64, 192], scale "g_scale_inv"[1, 2]>, #nn.weight<"u" : f8E4M3FN[64, 192], scale "u_scale_inv"[1, 2]>] silu_mul : tensor<?x192xf32> -> tensor<?x64xf32>
// CHECK-NOT: kernel.silu_mul
func.func @fp8(%x: tensor<?x192xf32>) -> tensor<?x64xf32> {
  %u = kernel.gemm %x weights [#nn.weight<"u" : f8E4M3FN[64, 192], scale "u_scale_inv"[1, 2]>] : tensor<?x192xf32> -> tensor<?x64xf32>
  %g = kernel.gemm %x weights [#nn.weight<"g" : f8E4M3FN[64, 192], scale "g_scale_inv"[1, 2]>] : tensor<?x192xf32> -> tensor<?x64xf32>
  %a = kernel.silu_mul %g, %u : tensor<?x64xf32>
  return %a : tensor<?x64xf32>
}

// -----

// Tests that gate and up GEMMs on different inputs are NOT merged.
// CHECK-LABEL: func.func @different_inputs
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %arg0 weights [#nn.weight<"gate" : bf16[448, 192]>]
// CHECK-NEXT: %[[U:.*]] = kernel.gemm %arg1 weights [#nn.weight<"up" : bf16[448, 192]>]
// CHECK-NEXT: kernel.silu_mul %[[G]], %[[U]] : tensor<?x448xf32>
func.func @different_inputs(%x: tensor<?x192xf32>, %y: tensor<?x192xf32>) -> tensor<?x448xf32> {
  %g = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %u = kernel.gemm %y weights [#nn.weight<"up" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %a = kernel.silu_mul %g, %u : tensor<?x448xf32>
  return %a : tensor<?x448xf32>
}

// -----

// Tests that a gate GEMM with a second user is NOT merged (its plain output
// is still needed).
// CHECK-LABEL: func.func @gate_two_users
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %arg0 weights [#nn.weight<"gate" : bf16[448, 192]>]
// CHECK-NEXT: %[[U:.*]] = kernel.gemm %arg0 weights [#nn.weight<"up" : bf16[448, 192]>]
// CHECK-NEXT: %[[A:.*]] = kernel.silu_mul %[[G]], %[[U]]
// CHECK-NEXT: kernel.add %[[A]], %[[G]]
func.func @gate_two_users(%x: tensor<?x192xf32>) -> tensor<?x448xf32> {
  %g = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %u = kernel.gemm %x weights [#nn.weight<"up" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %a = kernel.silu_mul %g, %u : tensor<?x448xf32>
  %b = kernel.add %a, %g : tensor<?x448xf32>
  return %b : tensor<?x448xf32>
}

// -----

// Tests that an up operand that is not a GEMM is NOT fused.
// CHECK-LABEL: func.func @up_not_a_gemm
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %arg0
// CHECK-NEXT: kernel.silu_mul %[[G]], %arg1 : tensor<?x448xf32>
func.func @up_not_a_gemm(%x: tensor<?x192xf32>, %u: tensor<?x448xf32>) -> tensor<?x448xf32> {
  %g = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %a = kernel.silu_mul %g, %u : tensor<?x448xf32>
  return %a : tensor<?x448xf32>
}

// -----

// Tests that a GEMM with an epilogue (here a residual) is NOT fused.
// CHECK-LABEL: func.func @epilogue
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %arg0 residual %arg1
// CHECK-NEXT: %[[U:.*]] = kernel.gemm %arg0 weights
// CHECK-NEXT: kernel.silu_mul %[[G]], %[[U]]
func.func @epilogue(%x: tensor<?x192xf32>, %h: tensor<?x448xf32>) -> tensor<?x448xf32> {
  %g = kernel.gemm %x residual %h : tensor<?x448xf32> weights [#nn.weight<"gate" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %u = kernel.gemm %x weights [#nn.weight<"up" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  %a = kernel.silu_mul %g, %u : tensor<?x448xf32>
  return %a : tensor<?x448xf32>
}
