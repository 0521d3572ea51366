// Tests of moela-sample: every kernel program gets a fifth input, the rows'
// sampling words [R, 8] i32, and ends with kernel.sample of its logits,
// whose ids and logprobs [R, 21] are its last two results; the logits (and
// MTP drafts) stay in front. A function that is not a kernel program of
// four inputs returning its logits first is an error.
// RUN: moela-opt %s -split-input-file -verify-diagnostics --moela-sample | FileCheck %s

// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%{{.*}}: tensor<?xi32>, %{{.*}}: tensor<?xi32>, %{{.*}}: tensor<?xi32>, %{{.*}}: tensor<?xi32>, %[[S:.*]]: tensor<?x8xi32>)
// CHECK-SAME: -> (tensor<?x256xf32>, tensor<?x21xi32>, tensor<?x21xf32>)
// CHECK: %[[L:.*]] = kernel.gemm
// CHECK-NEXT: %[[IDS:.*]], %[[LP:.*]] = kernel.sample %[[L]], %[[S]] : tensor<?x256xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32>
// CHECK-NEXT: return %[[L]], %[[IDS]], %[[LP]]
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x256xf32> {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32> loc("logits")
  return %l : tensor<?x256xf32>
}

// -----

// With MTP drafts: logits, drafts, ids, logprobs.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: -> (tensor<?x256xf32>, tensor<?xi32>, tensor<?x21xi32>, tensor<?x21xf32>)
// CHECK: return %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} :
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> (tensor<?x256xf32>, tensor<?xi32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32> loc("logits")
  %d = kernel.argmax %l : tensor<?x256xf32> -> tensor<?xi32> loc("draft")
  return %l, %d : tensor<?x256xf32>, tensor<?xi32>
}

// -----

// Already sampled: five inputs.
// expected-error @+1 {{moela-sample: @decode is not a kernel program of 4 inputs returning its logits first}}
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %s: tensor<?x8xi32>) -> tensor<?x64xf32> {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  return %e : tensor<?x64xf32>
}
