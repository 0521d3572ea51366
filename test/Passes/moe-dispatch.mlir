// Tests of moela-moe-dispatch: moe_combine(moe_experts(x, idx), w, ...)
// becomes moe_dispatch (rows sorted by expert, E+1 offsets and the
// permutation stay on the device), a grouped GEMM over [gate; up] with the
// SwiGLU epilogue, a grouped GEMM over down, and a combine that reads the
// sorted rows through the permutation.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-moe-dispatch))' | FileCheck %s

// Tests the rewrite with a shared expert: [K*T, Fm] after gate_up, [K*T, D]
// after down; the shared expert's output reaches the new combine.
// CHECK-LABEL: func.func @dispatch
// CHECK-NEXT: %[[XS:.*]], %[[OFF:.*]], %[[PERM:.*]] = kernel.moe_dispatch %arg0, %arg1 experts 8 : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32>
// CHECK-NEXT: %[[A:.*]] = kernel.grouped_gemm %[[XS]], %[[OFF]] weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16> proj gate_up silu_mul : tensor<?x64xf32>, tensor<9xi32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[YS:.*]] = kernel.grouped_gemm %[[A]], %[[OFF]] weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16> proj down : tensor<?x32xf32>, tensor<9xi32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[O:.*]] = kernel.moe_combine %[[YS]], %arg2 perm %[[PERM]] : tensor<?xi32> shared %arg3 : tensor<?x64xf32> : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
// CHECK-NEXT: return %[[O]]
// CHECK-NOT: kernel.moe_experts
func.func @dispatch(%x: tensor<?x64xf32>, %idx: tensor<?x2xi32>, %w: tensor<?x2xf32>, %s: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %y = kernel.moe_experts %x, %idx weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16>
      : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>
  %o = kernel.moe_combine %y, %w shared %s : tensor<?x64xf32> : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Tests the rewrite with FP8 experts (16 of them: 17 offsets), no shared
// expert and a residual, which the new combine keeps.
// CHECK-LABEL: func.func @fp8_residual
// CHECK-NEXT: %{{.*}}, %[[OFF:.*]], %[[PERM:.*]] = kernel.moe_dispatch %arg0, %arg1 experts 16 : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>, tensor<17xi32>, tensor<?xi32>
// CHECK-NEXT: kernel.grouped_gemm {{.*}} dtype = f8E4M3FN> proj gate_up silu_mul : tensor<?x192xf32>, tensor<17xi32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[YS:.*]] = kernel.grouped_gemm {{.*}} dtype = f8E4M3FN> proj down : tensor<?x64xf32>, tensor<17xi32> -> tensor<?x192xf32>
// CHECK-NEXT: kernel.moe_combine %[[YS]], %arg2 perm %[[PERM]] : tensor<?xi32> residual %arg3 : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
func.func @fp8_residual(%x: tensor<?x192xf32>, %idx: tensor<?x4xi32>, %w: tensor<?x4xf32>, %h: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %y = kernel.moe_experts %x, %idx weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = f8E4M3FN>
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>
  %o = kernel.moe_combine %y, %w residual %h : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that expert outputs with another user are NOT dispatched (the other
// user reads them in slot order).
// CHECK-LABEL: func.func @experts_two_users
// CHECK-NEXT: %[[Y:.*]] = kernel.moe_experts
// CHECK-NEXT: kernel.moe_combine %[[Y]], %arg2 : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
// CHECK-NOT: kernel.moe_dispatch
func.func @experts_two_users(%x: tensor<?x64xf32>, %idx: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %y = kernel.moe_experts %x, %idx weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16>
      : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>
  %o = kernel.moe_combine %y, %w : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %o, %y : tensor<?x64xf32>, tensor<?x64xf32>
}

// -----

// Tests that a combine not fed by moe_experts, or already permuted, is NOT
// rewritten.
// CHECK-LABEL: func.func @not_experts
// CHECK-NEXT: %[[A:.*]] = kernel.moe_combine %arg0, %arg1 : tensor<?x64xf32>
// CHECK-NEXT: %[[B:.*]] = kernel.moe_combine %arg0, %arg1 perm %arg2 : tensor<?xi32> : tensor<?x64xf32>
// CHECK-NEXT: return %[[A]], %[[B]]
func.func @not_experts(%y: tensor<?x64xf32>, %w: tensor<?x2xf32>, %perm: tensor<?xi32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %a = kernel.moe_combine %y, %w : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
  %b = kernel.moe_combine %y, %w perm %perm : tensor<?xi32> : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %a, %b : tensor<?x64xf32>, tensor<?x64xf32>
}
