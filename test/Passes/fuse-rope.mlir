// Tests of moela-fuse-rope: kernel.rope(kernel.gemm(x)) becomes one GEMM with
// a rope epilogue (and the positions operand), when the GEMM has no other
// user and no rope or residual epilogue yet.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-rope))' | FileCheck %s

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that the query rope moves into the epilogue of the q_b GEMM, which
// keeps its weights and tile.
// CHECK-LABEL: func.func @fused
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %arg0 positions %arg1 weights [#nn.weight<"q_b" : bf16[96, 48]>] rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> tile <block_m = 64, block_n = 64, block_k = 64, stages = 4, threads = 256> : tensor<?x48xf32> -> tensor<?x96xf32>
// CHECK-NEXT: return %[[Q]] : tensor<?x96xf32>
func.func @fused(%x: tensor<?x48xf32>, %pos: tensor<?xi32>) -> tensor<?x96xf32> {
  %q = kernel.gemm %x weights [#nn.weight<"q_b" : bf16[96, 48]>]
      tile <block_m = 64, block_n = 64, block_k = 64, stages = 4, threads = 256> : tensor<?x48xf32> -> tensor<?x96xf32>
  %r = kernel.rope %q, %pos rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x96xf32>
  return %r : tensor<?x96xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a rope on a single head (k_pe) fuses the same way.
// CHECK-LABEL: func.func @single_head
// CHECK-NEXT: kernel.gemm %arg0 positions %arg1 weights [#nn.weight<"k" : bf16[8, 64]>] rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x64xf32> -> tensor<?x8xf32>
// CHECK-NOT: kernel.rope
func.func @single_head(%x: tensor<?x64xf32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
  %k = kernel.gemm %x weights [#nn.weight<"k" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  %r = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a GEMM with a second user is NOT fused: the other user needs the
// unrotated value.
// CHECK-LABEL: func.func @two_users
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %arg0 weights [#nn.weight<"q_b" : bf16[96, 48]>] : tensor<?x48xf32> -> tensor<?x96xf32>
// CHECK-NEXT: %[[R:.*]] = kernel.rope %[[Q]], %arg1 rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x96xf32>
// CHECK-NEXT: kernel.add %[[R]], %[[Q]]
func.func @two_users(%x: tensor<?x48xf32>, %pos: tensor<?xi32>) -> tensor<?x96xf32> {
  %q = kernel.gemm %x weights [#nn.weight<"q_b" : bf16[96, 48]>] : tensor<?x48xf32> -> tensor<?x96xf32>
  %r = kernel.rope %q, %pos rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x96xf32>
  %s = kernel.add %r, %q : tensor<?x96xf32>
  return %s : tensor<?x96xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a rope whose input is not a GEMM (a slice of one) is NOT fused.
// CHECK-LABEL: func.func @not_a_gemm
// CHECK: kernel.slice
// CHECK-NEXT: kernel.rope
func.func @not_a_gemm(%x: tensor<?x64xf32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  %r = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a GEMM with a residual epilogue is NOT fused (the rope would
// rotate the sum, not the projection).
// CHECK-LABEL: func.func @residual_epilogue
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %arg0 residual %arg2 : tensor<?x96xf32> weights
// CHECK-NEXT: kernel.rope %[[Q]], %arg1
func.func @residual_epilogue(%x: tensor<?x48xf32>, %pos: tensor<?xi32>, %h: tensor<?x96xf32>) -> tensor<?x96xf32> {
  %q = kernel.gemm %x residual %h : tensor<?x96xf32> weights [#nn.weight<"q_b" : bf16[96, 48]>] : tensor<?x48xf32> -> tensor<?x96xf32>
  %r = kernel.rope %q, %pos rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x96xf32>
  return %r : tensor<?x96xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a GEMM that already has a rope epilogue is NOT fused again:
// the second rotation stays a separate op.
// CHECK-LABEL: func.func @already_roped
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %arg0 positions %arg1 weights [#nn.weight<"q_b" : bf16[96, 48]>] rope <heads = 4, head_dim = 24, offset = 16, rope = #rope>
// CHECK-NEXT: kernel.rope %[[Q]], %arg1
func.func @already_roped(%x: tensor<?x48xf32>, %pos: tensor<?xi32>) -> tensor<?x96xf32> {
  %q = kernel.gemm %x positions %pos weights [#nn.weight<"q_b" : bf16[96, 48]>] rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x48xf32> -> tensor<?x96xf32>
  %r = kernel.rope %q, %pos rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x96xf32>
  return %r : tensor<?x96xf32>
}
