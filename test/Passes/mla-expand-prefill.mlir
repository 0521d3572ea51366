// Tests of moela-mla-expand-prefill: @prefill's expanded kernel.mla_attention
// becomes kv_gather (the rows the step appended) + a GEMM with kv_b + causal
// attention over the step's own tokens, @prefill gets moela.fresh_sequences,
// and a copy of the original @prefill with absorbed attention becomes @extend.
// RUN: moela-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(moela-mla-expand-prefill)' | FileCheck %s

// Tests the rewrite with the fixture's dims (H 4, Dn 64, Dr 32, Dv 48, R 96):
// the gathered rows are [T, 96 + 32]; the GEMM multiplies their first 96
// columns by kv_b [4*(64+48), 96]; the attention takes k_pe from columns
// 96..127. @extend follows @prefill and keeps the whole op, absorbed; @decode
// is untouched.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: attributes {moela.fresh_sequences}
// CHECK-NEXT: kernel.kv_append
// CHECK-NEXT: %[[ROWS:.*]] = kernel.kv_gather %arg2, %arg3 layer 1 : tensor<?x128xf32>
// CHECK-NEXT: %[[C:.*]] = kernel.slice %[[ROWS]][0, 96] : tensor<?x128xf32> -> tensor<?x96xf32>
// CHECK-NEXT: %[[KPE:.*]] = kernel.slice %[[ROWS]][96, 32] : tensor<?x128xf32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[KV:.*]] = kernel.gemm %[[C]] weights [#nn.weight<"kv_b" : bf16[448, 96]>] : tensor<?x96xf32> -> tensor<?x448xf32>
// CHECK-NEXT: %[[O:.*]] = kernel.mla_prefill_attention %arg4, %[[KV]], %[[KPE]], %arg2 heads 4 nope 64 rope 32 v 48 scale 2.500000e-01 : tensor<?x384xf32>, tensor<?x448xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
// CHECK-NEXT: return %[[O]]
// CHECK-LABEL: func.func @extend
// CHECK-NOT: fresh_sequences
// CHECK: kernel.mla_attention %arg4, %arg2, %arg3 kv_b <"kv_b" : bf16[448, 96]> layer 1 heads 4 nope 64 rope 32 v 48 latent 96 scale 2.500000e-01 form absorbed
// CHECK-LABEL: func.func @decode
// CHECK-NOT: fresh_sequences
// CHECK: kernel.mla_attention {{.*}} form absorbed
func.func @prefill(%c: tensor<?x96xf32>, %kpe: tensor<?x32xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %q: tensor<?x384xf32>) -> tensor<?x192xf32> {
  kernel.kv_append %c, %kpe, %pos, %seq layer 1 : tensor<?x96xf32>, tensor<?x32xf32>
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 1
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.5e-01 form expanded
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}
func.func @decode(%c: tensor<?x96xf32>, %kpe: tensor<?x32xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %q: tensor<?x384xf32>) -> tensor<?x192xf32> {
  kernel.kv_append %c, %kpe, %pos, %seq layer 1 : tensor<?x96xf32>, tensor<?x32xf32>
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 1
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.5e-01 form absorbed
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that a @prefill with absorbed attention (moela-mla-select-form
// prefill=absorbed) is left alone: no @extend, no fresh_sequences.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT: fresh_sequences
// CHECK-NEXT: kernel.mla_attention {{.*}} form absorbed
// CHECK-NOT: func.func @extend
func.func @prefill(%q: tensor<?x384xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.5e-01 form absorbed
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that an existing @extend is an error, not silently replaced.
// expected-error @+1 {{moela-mla-expand-prefill: the module already has an @extend}}
func.func @prefill(%q: tensor<?x384xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.5e-01 form expanded
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}
func.func @extend(%q: tensor<?x384xf32>) -> tensor<?x384xf32> {
  return %q : tensor<?x384xf32>
}
