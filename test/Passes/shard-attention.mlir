// Tests of moela-shard-attention: with ranks=N each rank computes H/N heads.
// q_b (or q) and kv_b are cut by rows, o_proj by columns, and the ranks'
// o_proj outputs are summed by nn.all_reduce; q_a, kv_a, their norms and the
// latent KV cache stay whole. The module records its layout.
// RUN: moela-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(moela-shard-attention{ranks=2 target=host})' | FileCheck %s

// CHECK: module attributes {moela.layout = {ranks = 2 : i64, tp = 2 : i64}}
// CHECK-LABEL: func.func @lora
// CHECK: %[[Q:.*]] = mla.q_proj %arg0 lora(q_a = <"q_a" : bf16[160, 192]>, norm = <"q_norm" : bf16[160]>, q_b = <"q_b" : bf16[192, 160], shard 0 of 2>, eps = {{.*}}) : tensor<?x192xf32> -> tensor<?x2x96xf32>
// CHECK: mla.kv_proj %arg0 kv_a <"kv_a" : bf16[128, 192]> norm <"kv_norm" : bf16[96]>
// CHECK: %[[QR:.*]] = mla.rope %[[Q]], %arg1 rope {{.*}} : tensor<?x2x96xf32>
// CHECK: %[[O:.*]] = mla.attention %[[QR]], {{.*}} kv_b <"kv_b" : bf16[224, 96], shard 0 of 2> layer 0 {{.*}} : tensor<?x2x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x96xf32>
// CHECK: %[[P:.*]] = nn.linear %[[O]] weight <"o" : bf16[192, 96], shard 1 of 2> : tensor<?x96xf32> -> tensor<?x192xf32>
// CHECK: %[[S:.*]] = nn.all_reduce %[[P]] ranks 2 : tensor<?x192xf32>
// CHECK: %[[H:.*]] = nn.add %arg0, %[[S]]
// CHECK: return %[[H]]
#rope = #mla.rope<theta = 1.000000e+04, dim = 32>
func.func @lora(%x: tensor<?x192xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %q = mla.q_proj %x lora(q_a = <"q_a" : bf16[160, 192]>, norm = <"q_norm" : bf16[160]>, q_b = <"q_b" : bf16[384, 160]>, eps = 1.0e-06) : tensor<?x192xf32> -> tensor<?x4x96xf32>
  %c, %k = mla.kv_proj %x kv_a <"kv_a" : bf16[128, 192]> norm <"kv_norm" : bf16[96]> eps 1.0e-06 : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  %qr = mla.rope %q, %pos rope #rope : tensor<?x4x96xf32>
  %kr = mla.rope %k, %pos rope #rope : tensor<?x32xf32>
  %o = mla.attention %qr, %c, %kr, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.19 : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  %p = nn.linear %o weight <"o" : bf16[192, 192]> : tensor<?x192xf32> -> tensor<?x192xf32>
  %h = nn.add %x, %p : tensor<?x192xf32>
  return %h : tensor<?x192xf32>
}

// -----

// Tests a model without query compression (V2-Lite): q_proj is cut by rows.
// CHECK-LABEL: func.func @no_lora
// CHECK: mla.q_proj %arg0 q = <"q" : bf16[192, 192], shard 0 of 2> : tensor<?x192xf32> -> tensor<?x2x96xf32>
// CHECK: nn.all_reduce
#rope = #mla.rope<theta = 1.000000e+04, dim = 32>
func.func @no_lora(%x: tensor<?x192xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %q = mla.q_proj %x q = <"q" : bf16[384, 192]> : tensor<?x192xf32> -> tensor<?x4x96xf32>
  %c, %k = mla.kv_proj %x kv_a <"kv_a" : bf16[128, 192]> norm <"kv_norm" : bf16[96]> eps 1.0e-06 : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  %qr = mla.rope %q, %pos rope #rope : tensor<?x4x96xf32>
  %kr = mla.rope %k, %pos rope #rope : tensor<?x32xf32>
  %o = mla.attention %qr, %c, %kr, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.19 : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  %p = nn.linear %o weight <"o" : bf16[192, 192]> : tensor<?x192xf32> -> tensor<?x192xf32>
  return %p : tensor<?x192xf32>
}

// -----

// Tests that heads that do not divide by the ranks are one error.
#rope = #mla.rope<theta = 1.000000e+04, dim = 32>
func.func @odd_heads(%x: tensor<?x192xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %q = mla.q_proj %x q = <"q" : bf16[96, 192]> : tensor<?x192xf32> -> tensor<?x1x96xf32>
  %c, %k = mla.kv_proj %x kv_a <"kv_a" : bf16[128, 192]> norm <"kv_norm" : bf16[96]> eps 1.0e-06 : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  %qr = mla.rope %q, %pos rope #rope : tensor<?x1x96xf32>
  %kr = mla.rope %k, %pos rope #rope : tensor<?x32xf32>
  // expected-error @+1 {{num_attention_heads = 1 cannot be split evenly over 2 ranks}}
  %o = mla.attention %qr, %c, %kr, %pos, %seq kv_b <"kv_b" : bf16[112, 96]> layer 0 scale 0.19 : tensor<?x1x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x48xf32>
  %p = nn.linear %o weight <"o" : bf16[192, 48]> : tensor<?x48xf32> -> tensor<?x192xf32>
  return %p : tensor<?x192xf32>
}
