// Tests of moela-mla-fuse-kv-append: kernel.kv_append(rms_norm(c), rope(k_pe))
// becomes one kv_append that normalises, rotates and writes the cache row
// from the projection's slices; the norm and rope disappear when nothing
// else reads them.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-mla-fuse-kv-append))' | FileCheck %s

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests the fusion: the append reads the raw slices and carries the norm
// weight, eps and the rope; the dead norm and rope are gone.
// CHECK-LABEL: func.func @fused
// CHECK-NEXT: %[[KV:.*]] = kernel.gemm
// CHECK-NEXT: %[[C:.*]] = kernel.slice %[[KV]][0, 32]
// CHECK-NEXT: %[[K:.*]] = kernel.slice %[[KV]][32, 8]
// CHECK-NEXT: kernel.kv_append %[[C]], %[[K]], %arg1, %arg2 layer 3 norm <"kv_norm" : bf16[32]> eps 9.9999999999999995E-7 rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x32xf32>, tensor<?x8xf32>
// CHECK-NEXT: return
func.func @fused(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  %kr = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  kernel.kv_append %cn, %kr, %pos, %seq layer 3 : tensor<?x32xf32>, tensor<?x8xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a norm with another user still fuses into the append but stays
// for that user.
// CHECK-LABEL: func.func @norm_kept_for_other_user
// CHECK-NEXT: %[[CN:.*]] = kernel.rms_norm %arg0
// CHECK-NEXT: kernel.kv_append %arg0, %arg1, %arg2, %arg3 layer 0 norm <"kv_norm" : bf16[32]> eps {{.*}} rope
// CHECK-NEXT: return %[[CN]]
func.func @norm_kept_for_other_user(%c: tensor<?x32xf32>, %k: tensor<?x8xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x32xf32> {
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  %kr = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  kernel.kv_append %cn, %kr, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %cn : tensor<?x32xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that an append whose latent is not normed here is NOT fused (the
// rope alone is not fused either).
// CHECK-LABEL: func.func @latent_not_normed
// CHECK-NEXT: %[[KR:.*]] = kernel.rope %arg1
// CHECK-NEXT: kernel.kv_append %arg0, %[[KR]], %arg2, %arg3 layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
func.func @latent_not_normed(%c: tensor<?x32xf32>, %k: tensor<?x8xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  %kr = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  kernel.kv_append %c, %kr, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return
}

// -----

// Tests that an append whose k_pe is not rotated here is NOT fused.
// CHECK-LABEL: func.func @k_pe_not_roped
// CHECK-NEXT: %[[CN:.*]] = kernel.rms_norm %arg0
// CHECK-NEXT: kernel.kv_append %[[CN]], %arg1, %arg2, %arg3 layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
func.func @k_pe_not_roped(%c: tensor<?x32xf32>, %k: tensor<?x8xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  kernel.kv_append %cn, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a rope at other positions than the append's is NOT fused.
// CHECK-LABEL: func.func @other_positions
// CHECK: kernel.rms_norm
// CHECK: kernel.rope %arg1, %arg4
// CHECK: kernel.kv_append %{{.*}}, %{{.*}}, %arg2, %arg3 layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
func.func @other_positions(%c: tensor<?x32xf32>, %k: tensor<?x8xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %pos2: tensor<?xi32>) {
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  %kr = kernel.rope %k, %pos2 rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  kernel.kv_append %cn, %kr, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a rope that does not rotate a whole single head (offset 8 of a
// 16-column k_pe) is NOT fused: the cache append rotates all of k_pe.
// CHECK-LABEL: func.func @partial_rope
// CHECK: kernel.rope %arg1, %arg2 rope <heads = 1, head_dim = 16, offset = 8
// CHECK: kernel.kv_append %{{.*}}, %{{.*}}, %arg2, %arg3 layer 0 : tensor<?x32xf32>, tensor<?x16xf32>
func.func @partial_rope(%c: tensor<?x32xf32>, %k: tensor<?x16xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  %kr = kernel.rope %k, %pos rope <heads = 1, head_dim = 16, offset = 8, rope = #rope> : tensor<?x16xf32>
  kernel.kv_append %cn, %kr, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x16xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that an append that is already fused is left alone (NEGATIVE: its
// inputs are not fused a second time).
// CHECK-LABEL: func.func @already_fused
// CHECK-NEXT: %[[CN:.*]] = kernel.rms_norm %arg0
// CHECK-NEXT: %[[KR:.*]] = kernel.rope %arg1
// CHECK-NEXT: kernel.kv_append %[[CN]], %[[KR]], %arg2, %arg3 layer 0 norm <"n2" : bf16[32]>
func.func @already_fused(%c: tensor<?x32xf32>, %k: tensor<?x8xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  %kr = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  kernel.kv_append %cn, %kr, %pos, %seq layer 0 norm <"n2" : bf16[32]> eps 1.0e-06
      rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x32xf32>, tensor<?x8xf32>
  return
}
