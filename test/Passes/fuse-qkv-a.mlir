// Tests of moela-fuse-qkv-a: the kv_a GEMM of an attention (the one whose
// slices reach kernel.kv_append) and the other plain GEMMs that read the same
// normed hidden state become one GEMM over the concatenated weights, kv_a
// last; slices split the result. FP8 parts must end on a 128-row block.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-fuse-qkv-a))' | FileCheck %s

// Tests that q_a_proj and kv_a_proj_with_mqa merge into one [Rq + R + Dr]
// GEMM at the first of them, that each is replaced by its column slice (q_a
// [0, 48), kv_a [48, 88)), and that the latent and k_pe slices now slice kv_a's.
// CHECK-LABEL: func.func @q_a_and_kv_a
// CHECK-NEXT: %[[M:.*]] = kernel.gemm %arg0 weights [#nn.weight<"q_a" : bf16[48, 64]>, #nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x88xf32>
// CHECK-NEXT: %[[QA:.*]] = kernel.slice %[[M]][0, 48] : tensor<?x88xf32> -> tensor<?x48xf32>
// CHECK-NEXT: %[[QN:.*]] = kernel.rms_norm %[[QA]] weight <"q_norm" : bf16[48]>
// CHECK-NEXT: %[[KV:.*]] = kernel.slice %[[M]][48, 40] : tensor<?x88xf32> -> tensor<?x40xf32>
// CHECK-NEXT: %[[C:.*]] = kernel.slice %[[KV]][0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[K:.*]] = kernel.slice %[[KV]][32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %[[CN:.*]] = kernel.rms_norm %[[C]]
// CHECK-NEXT: kernel.kv_append %[[CN]], %[[K]], %arg1, %arg2 layer 0
// CHECK-NEXT: return %[[QN]]
func.func @q_a_and_kv_a(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x48xf32> {
  %qa = kernel.gemm %x weights [#nn.weight<"q_a" : bf16[48, 64]>] : tensor<?x64xf32> -> tensor<?x48xf32>
  %qn = kernel.rms_norm %qa weight <"q_norm" : bf16[48]> eps 1.0e-06 : tensor<?x48xf32>
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  kernel.kv_append %cn, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %qn : tensor<?x48xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that the kv_a GEMM is found through the latent norm and the k_pe
// rope, and that kv_a goes last even when it comes first in the block.
// CHECK-LABEL: func.func @kv_a_first
// CHECK-NEXT: %[[M:.*]] = kernel.gemm %arg0 weights [#nn.weight<"q" : bf16[96, 64]>, #nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x136xf32>
// CHECK-NEXT: %[[KV:.*]] = kernel.slice %[[M]][96, 40] : tensor<?x136xf32> -> tensor<?x40xf32>
// CHECK: %[[Q:.*]] = kernel.slice %[[M]][0, 96] : tensor<?x136xf32> -> tensor<?x96xf32>
// CHECK-NEXT: return %[[Q]]
func.func @kv_a_first(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x96xf32> {
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  %cn = kernel.rms_norm %c weight <"kv_norm" : bf16[32]> eps 1.0e-06 : tensor<?x32xf32>
  %kr = kernel.rope %k, %pos rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
  kernel.kv_append %cn, %kr, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  %q = kernel.gemm %x weights [#nn.weight<"q" : bf16[96, 64]>] : tensor<?x64xf32> -> tensor<?x96xf32>
  return %q : tensor<?x96xf32>
}

// -----

// Tests that FP8 parts merge when every part before kv_a ends on a 128-row
// scale block (q_a has 128 rows).
// CHECK-LABEL: func.func @fp8_aligned
// CHECK-NEXT: kernel.gemm %arg0 weights [#nn.weight<"q_a" : f8E4M3FN[128, 64], scale "q_a_scale_inv"[1, 1]>, #nn.weight<"kv_a" : f8E4M3FN[40, 64], scale "kv_a_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x168xf32>
func.func @fp8_aligned(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x128xf32> {
  %qa = kernel.gemm %x weights [#nn.weight<"q_a" : f8E4M3FN[128, 64], scale "q_a_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x128xf32>
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : f8E4M3FN[40, 64], scale "kv_a_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %qa : tensor<?x128xf32>
}

// -----

// Tests that an FP8 q_a whose rows are NOT a multiple of 128 is not merged:
// its last scale block would straddle kv_a's rows.
// CHECK-LABEL: func.func @fp8_unaligned
// CHECK-NEXT: kernel.gemm %arg0 weights [#nn.weight<"q_a" : f8E4M3FN[160, 64], scale "q_a_scale_inv"[2, 1]>] : tensor<?x64xf32> -> tensor<?x160xf32>
// CHECK-NEXT: kernel.gemm %arg0 weights [#nn.weight<"kv_a" : f8E4M3FN[40, 64], scale "kv_a_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x40xf32>
func.func @fp8_unaligned(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x160xf32> {
  %qa = kernel.gemm %x weights [#nn.weight<"q_a" : f8E4M3FN[160, 64], scale "q_a_scale_inv"[2, 1]>] : tensor<?x64xf32> -> tensor<?x160xf32>
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : f8E4M3FN[40, 64], scale "kv_a_scale_inv"[1, 1]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %qa : tensor<?x160xf32>
}

// -----

// Tests that a GEMM on a different input is NOT merged, and a kv_a GEMM with
// no partner stays alone.
// CHECK-LABEL: func.func @different_input
// CHECK-NEXT: kernel.gemm %arg1 weights [#nn.weight<"q_a" : bf16[48, 64]>] : tensor<?x64xf32> -> tensor<?x48xf32>
// CHECK-NEXT: kernel.gemm %arg0 weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
func.func @different_input(%x: tensor<?x64xf32>, %y: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x48xf32> {
  %qa = kernel.gemm %y weights [#nn.weight<"q_a" : bf16[48, 64]>] : tensor<?x64xf32> -> tensor<?x48xf32>
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %qa : tensor<?x48xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests that a GEMM with an epilogue (q_proj after moela-fuse-rope) is NOT
// merged: only plain GEMMs join the group.
// CHECK-LABEL: func.func @epilogue_not_merged
// CHECK-NEXT: kernel.gemm %arg0 positions %arg1 weights [#nn.weight<"q" : bf16[96, 64]>] rope
// CHECK-NEXT: kernel.gemm %arg0 weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
func.func @epilogue_not_merged(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x96xf32> {
  %q = kernel.gemm %x positions %pos weights [#nn.weight<"q" : bf16[96, 64]>] rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x64xf32> -> tensor<?x96xf32>
  %kv = kernel.gemm %x weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %q : tensor<?x96xf32>
}

// -----

// Tests that GEMMs are NOT merged when the latent and k_pe of the append
// come from different GEMMs (no single kv_a projection).
// CHECK-LABEL: func.func @no_single_kv_a
// CHECK-COUNT-3: kernel.gemm %arg0 weights [#nn.weight<"{{q_a|c|k}}" : bf16[{{[0-9]+}}, 64]>]
// CHECK-NOT: kernel.slice
func.func @no_single_kv_a(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x48xf32> {
  %qa = kernel.gemm %x weights [#nn.weight<"q_a" : bf16[48, 64]>] : tensor<?x64xf32> -> tensor<?x48xf32>
  %c = kernel.gemm %x weights [#nn.weight<"c" : bf16[32, 64]>] : tensor<?x64xf32> -> tensor<?x32xf32>
  %k = kernel.gemm %x weights [#nn.weight<"k" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
  return %qa : tensor<?x48xf32>
}
