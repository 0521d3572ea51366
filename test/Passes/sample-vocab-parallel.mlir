// Tests of moela-sample-vocab-parallel: in a vocab-parallel module, the
// all_gather of the lm_head's columns before kernel.sample becomes
// kernel.sample_candidates on the rank's columns, an all_gather of the
// candidate blocks and kernel.sample with candidate_parts; the program's
// logits result becomes the rank's columns and the layout says so. Only
// where the blocks are smaller than the columns, unless `always`; a program
// whose gathered logits have another user (an MTP draft) keeps them, and
// then every program does; a module that is not vocab-parallel is unchanged.
// RUN: moela-opt %s -split-input-file --moela-sample-vocab-parallel | FileCheck %s
// RUN: moela-opt %s -split-input-file --moela-sample-vocab-parallel="always=true" | FileCheck %s --check-prefix=ALWAYS

// 2 ranks of 4096 columns each: blocks of 2 * 1024 + 2 floats are smaller.
// CHECK: module attributes {moela.layout = {logits_sharded, ranks = 2 : i64, tp = 2 : i64, vocab_parallel}}
// CHECK-LABEL: func.func @decode
// CHECK-SAME: -> (tensor<?x4096xf32>, tensor<?x21xi32>, tensor<?x21xf32>)
// CHECK: %[[L:.*]] = kernel.gemm
// CHECK-NEXT: %[[C:.*]] = kernel.sample_candidates %[[L]], %[[S:.*]] candidates 1024 : tensor<?x4096xf32>, tensor<?x8xi32> -> tensor<?x2050xf32>
// CHECK-NEXT: %[[G:.*]] = kernel.all_gather %[[C]] ranks 2 : tensor<?x2050xf32> -> tensor<?x4100xf32>
// CHECK-NEXT: %[[IDS:.*]], %[[LP:.*]] = kernel.sample %[[G]], %[[S]] {candidate_parts = 2 : i64} : tensor<?x4100xf32>
// CHECK-NEXT: return %[[L]], %[[IDS]], %[[LP]]
// CHECK-NOT: kernel.all_gather
module attributes {moela.layout = {ranks = 2 : i64, tp = 2 : i64, vocab_parallel}} {
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %s: tensor<?x8xi32>) -> (tensor<?x8192xf32>, tensor<?x21xi32>, tensor<?x21xf32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[8192, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[4096, 64], shard 0 of 2>] : tensor<?x64xf32> -> tensor<?x4096xf32> loc("logits")
  %a = kernel.all_gather %l ranks 2 : tensor<?x4096xf32> -> tensor<?x8192xf32> loc("logits")
  %ids, %lp = kernel.sample %a, %s : tensor<?x8192xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32> loc("sample")
  return %a, %ids, %lp : tensor<?x8192xf32>, tensor<?x21xi32>, tensor<?x21xf32>
}
}

// -----

// 2 ranks of 640 columns: a block of 2 * 640 + 2 floats is larger, so the
// logits stay gathered unless `always`.
// CHECK-NOT: logits_sharded
// CHECK-LABEL: func.func @decode
// CHECK: kernel.all_gather %{{.*}} ranks 2 : tensor<?x640xf32> -> tensor<?x1280xf32>
// CHECK-NOT: sample_candidates
// ALWAYS-LABEL: func.func @decode
// ALWAYS: kernel.sample_candidates %{{.*}} candidates 640 : tensor<?x640xf32>, tensor<?x8xi32> -> tensor<?x1282xf32>
module attributes {moela.layout = {ranks = 2 : i64, tp = 2 : i64, vocab_parallel}} {
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %s: tensor<?x8xi32>) -> (tensor<?x1280xf32>, tensor<?x21xi32>, tensor<?x21xf32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[1280, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[640, 64], shard 0 of 2>] : tensor<?x64xf32> -> tensor<?x640xf32> loc("logits")
  %a = kernel.all_gather %l ranks 2 : tensor<?x640xf32> -> tensor<?x1280xf32> loc("logits")
  %ids, %lp = kernel.sample %a, %s : tensor<?x1280xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32> loc("sample")
  return %a, %ids, %lp : tensor<?x1280xf32>, tensor<?x21xi32>, tensor<?x21xf32>
}
}

// -----

// An MTP draft reads the gathered logits: this program keeps them, and so
// the other program does too.
// CHECK-NOT: logits_sharded
// CHECK-LABEL: func.func @decode
// CHECK-NOT: sample_candidates
// CHECK-LABEL: func.func @prefill
// CHECK-NOT: sample_candidates
module attributes {moela.layout = {ranks = 2 : i64, tp = 2 : i64, vocab_parallel}} {
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %s: tensor<?x8xi32>) -> (tensor<?x8192xf32>, tensor<?xi32>, tensor<?x21xi32>, tensor<?x21xf32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[8192, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[4096, 64], shard 0 of 2>] : tensor<?x64xf32> -> tensor<?x4096xf32> loc("logits")
  %a = kernel.all_gather %l ranks 2 : tensor<?x4096xf32> -> tensor<?x8192xf32> loc("logits")
  %d = kernel.argmax %a : tensor<?x8192xf32> -> tensor<?xi32> loc("draft")
  %ids, %lp = kernel.sample %a, %s : tensor<?x8192xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32> loc("sample")
  return %a, %d, %ids, %lp : tensor<?x8192xf32>, tensor<?xi32>, tensor<?x21xi32>, tensor<?x21xf32>
}
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %s: tensor<?x8xi32>) -> (tensor<?x8192xf32>, tensor<?x21xi32>, tensor<?x21xf32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[8192, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[4096, 64], shard 0 of 2>] : tensor<?x64xf32> -> tensor<?x4096xf32> loc("logits")
  %a = kernel.all_gather %l ranks 2 : tensor<?x4096xf32> -> tensor<?x8192xf32> loc("logits")
  %ids, %lp = kernel.sample %a, %s : tensor<?x8192xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32> loc("sample")
  return %a, %ids, %lp : tensor<?x8192xf32>, tensor<?x21xi32>, tensor<?x21xf32>
}
}

// -----

// Not vocab-parallel: unchanged.
// CHECK-NOT: logits_sharded
// CHECK-LABEL: func.func @decode
// CHECK: kernel.sample %{{.*}}, %{{.*}} : tensor<?x256xf32>
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %s: tensor<?x8xi32>) -> (tensor<?x256xf32>, tensor<?x21xi32>, tensor<?x21xf32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32> loc("logits")
  %ids, %lp = kernel.sample %l, %s : tensor<?x256xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32> loc("sample")
  return %l, %ids, %lp : tensor<?x256xf32>, tensor<?x21xi32>, tensor<?x21xf32>
}
