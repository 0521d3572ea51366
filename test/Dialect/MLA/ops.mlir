// Round trip of every mla op and attribute: both forms of mla.q_proj,
// mla.attention with and without `form` (every AttentionForm value), and
// #mla.rope with and without #mla.yarn.
// RUN: moela-opt %s | moela-opt | FileCheck %s
// RUN: moela-opt %s --mlir-print-op-generic | moela-opt | FileCheck %s

// The printer names each distinct rope attribute once, as an alias.
// CHECK-DAG: #[[ROPE:[a-z0-9_]+]] = #mla.rope<theta = 1.000000e+04, dim = 32>
// CHECK-DAG: #[[YARN:[a-z0-9_]+]] = #mla.rope<theta = 1.000000e+04, dim = 64, yarn = <factor = 4.000000e+01, original_max_position_embeddings = 4096, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00, mscale = 1.000000e+00, mscale_all_dim = 1.000000e+00>>
// CHECK-DAG: #[[V2YARN:[a-z0-9_]+]] = #mla.rope<theta = 5.000000e+04, dim = 16, yarn = <factor = 8.000000e+00, original_max_position_embeddings = 128, beta_fast = 2.400000e+01, beta_slow = 2.000000e+00, mscale = 7.070000e-01, mscale_all_dim = 7.070000e-01>>
#plain = #mla.rope<theta = 10000.0, dim = 32>
#yarn = #mla.rope<theta = 1.0e4, dim = 64, yarn = <factor = 40.0, original_max_position_embeddings = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>>

// Tests that mla.q_proj with q compression (q_lora_rank > 0) keeps q_a, the
// q_a_layernorm weight, q_b and eps.
// CHECK-LABEL: func.func @q_proj_lora
// CHECK: mla.q_proj %{{.*}} lora(q_a = <"model.layers.0.self_attn.q_a_proj.weight" : bf16[160, 192]>, norm = <"model.layers.0.self_attn.q_a_layernorm.weight" : bf16[160]>, q_b = <"model.layers.0.self_attn.q_b_proj.weight" : bf16[384, 160]>, eps = 9.9999999999999995E-7) : tensor<?x192xf32> -> tensor<?x4x96xf32>
func.func @q_proj_lora(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  %q = mla.q_proj %x lora(q_a = <"model.layers.0.self_attn.q_a_proj.weight" : bf16[160, 192]>,
                          norm = #nn.weight<"model.layers.0.self_attn.q_a_layernorm.weight" : bf16[160]>,
                          q_b = <"model.layers.0.self_attn.q_b_proj.weight" : bf16[384, 160]>,
                          eps = 1.0e-06)
      : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// Tests that mla.q_proj without q compression keeps its single q weight.
// CHECK-LABEL: func.func @q_proj_plain
// CHECK: mla.q_proj %{{.*}} q = <"model.layers.0.self_attn.q_proj.weight" : bf16[384, 192]> : tensor<?x192xf32> -> tensor<?x4x96xf32>
func.func @q_proj_plain(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  %q = mla.q_proj %x q = <"model.layers.0.self_attn.q_proj.weight" : bf16[384, 192]> : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// Tests that both q_proj forms accept FP8 weights with their block scales.
// CHECK-LABEL: func.func @q_proj_fp8
// CHECK: mla.q_proj %{{.*}} lora(q_a = <"qa" : f8E4M3FN[1536, 7168], scale "qa_scale_inv"[12, 56]>, norm = <"qn" : bf16[1536]>, q_b = <"qb" : f8E4M3FN[24576, 1536], scale "qb_scale_inv"[192, 12]>, eps = 9.9999999999999995E-7) : tensor<?x7168xf32> -> tensor<?x128x192xf32>
// CHECK: mla.q_proj %{{.*}} q = <"q" : f8E4M3FN[24576, 7168], scale "q_scale_inv"[192, 56]> : tensor<?x7168xf32> -> tensor<?x128x192xf32>
func.func @q_proj_fp8(%x: tensor<?x7168xf32>) -> tensor<?x128x192xf32> {
  %a = mla.q_proj %x lora(q_a = <"qa" : f8E4M3FN[1536, 7168], scale "qa_scale_inv"[12, 56]>,
                          norm = <"qn" : bf16[1536]>,
                          q_b = <"qb" : f8E4M3FN[24576, 1536], scale "qb_scale_inv"[192, 12]>,
                          eps = 1.0e-06) : tensor<?x7168xf32> -> tensor<?x128x192xf32>
  %b = mla.q_proj %x q = <"q" : f8E4M3FN[24576, 7168], scale "q_scale_inv"[192, 56]> : tensor<?x7168xf32> -> tensor<?x128x192xf32>
  return %b : tensor<?x128x192xf32>
}

// Tests that mla.kv_proj keeps kv_a, the kv_a_layernorm weight and eps, and
// both results (latent [T, R], k_pe [T, Dr]).
// CHECK-LABEL: func.func @kv_proj
// CHECK: %{{.*}}, %{{.*}} = mla.kv_proj %{{.*}} kv_a <"model.layers.0.self_attn.kv_a_proj_with_mqa.weight" : bf16[128, 192]> norm <"model.layers.0.self_attn.kv_a_layernorm.weight" : bf16[96]> eps 9.9999999999999995E-7 : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
func.func @kv_proj(%x: tensor<?x192xf32>) -> (tensor<?x96xf32>, tensor<?x32xf32>) {
  %c, %k_pe = mla.kv_proj %x kv_a <"model.layers.0.self_attn.kv_a_proj_with_mqa.weight" : bf16[128, 192]>
                             norm <"model.layers.0.self_attn.kv_a_layernorm.weight" : bf16[96]>
                             eps 1.0e-06
      : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  return %c, %k_pe : tensor<?x96xf32>, tensor<?x32xf32>
}

// Tests that mla.rope keeps its #mla.rope attribute, with and without YaRN,
// written as an alias or inline, on a [T, H, Dn + Dr] query and a [T, Dr] key.
// CHECK-LABEL: func.func @rope
// CHECK: mla.rope %{{.*}}, %{{.*}} rope #[[ROPE]] : tensor<?x4x96xf32>
// CHECK: mla.rope %{{.*}}, %{{.*}} rope #[[ROPE]] : tensor<?x32xf32>
// CHECK: mla.rope %{{.*}}, %{{.*}} rope #[[YARN]] : tensor<?x4x192xf32>
// CHECK: mla.rope %{{.*}}, %{{.*}} rope #[[V2YARN]] : tensor<?x16xf32>
func.func @rope(%q: tensor<?x4x96xf32>, %k: tensor<?x32xf32>, %q3: tensor<?x4x192xf32>,
                %k2: tensor<?x16xf32>, %pos: tensor<?xi32>) {
  %a = mla.rope %q, %pos rope #plain : tensor<?x4x96xf32>
  %b = mla.rope %k, %pos rope <theta = 1.0e4, dim = 32> : tensor<?x32xf32>
  %c = mla.rope %q3, %pos rope #yarn : tensor<?x4x192xf32>
  %d = mla.rope %k2, %pos rope <theta = 5.0e4, dim = 16, yarn = <factor = 8.0, original_max_position_embeddings = 128, beta_fast = 24.0, beta_slow = 2.0, mscale = 0.707, mscale_all_dim = 0.707>> : tensor<?x16xf32>
  return
}

// Tests that mla.attention round-trips without `form` (not decided yet) and
// with each AttentionForm value: absorbed and expanded.
// CHECK-LABEL: func.func @attention
// CHECK: mla.attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} kv_b <"model.layers.0.self_attn.kv_b_proj.weight" : bf16[448, 96]> layer 0 scale 2.500000e-01 : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
// CHECK-NOT: form
// CHECK: mla.attention {{.*}} layer 1 scale 2.500000e-01 form absorbed : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
// CHECK: mla.attention {{.*}} layer 60 scale 2.500000e-01 form expanded : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
func.func @attention(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k_pe: tensor<?x32xf32>,
                     %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %o = mla.attention %q, %c, %k_pe, %pos, %seq
      kv_b <"model.layers.0.self_attn.kv_b_proj.weight" : bf16[448, 96]> layer 0 scale 2.500000e-01
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  %a = mla.attention %q, %c, %k_pe, %pos, %seq
      kv_b <"model.layers.1.self_attn.kv_b_proj.weight" : bf16[448, 96]> layer 1 scale 2.500000e-01 form absorbed
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  %e = mla.attention %q, %c, %k_pe, %pos, %seq
      kv_b <"model.layers.60.self_attn.kv_b_proj.weight" : bf16[448, 96]> layer 60 scale 2.500000e-01 form expanded
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %e : tensor<?x192xf32>
}

// Tests that mla.attention accepts an FP8 kv_b with Dv != Dn (V2/V3 dims:
// H = 128, Dn = 128, Dr = 64, Dv = 128, R = 512) and any positive scale.
// CHECK-LABEL: func.func @attention_v3_dims
// CHECK: mla.attention {{.*}} kv_b <"kv_b" : f8E4M3FN[32768, 512], scale "kv_b_scale_inv"[256, 4]> layer 3 scale 1.250000e-01 : tensor<?x128x192xf32>, tensor<?x512xf32>, tensor<?x64xf32> -> tensor<?x16384xf32>
// CHECK: mla.attention {{.*}} kv_b <"kv_b2" : bf16[160, 8]> layer 0 scale 5.000000e-01 form expanded : tensor<?x2x24xf32>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x128xf32>
func.func @attention_v3_dims(%q: tensor<?x128x192xf32>, %c: tensor<?x512xf32>, %k_pe: tensor<?x64xf32>,
                             %q2: tensor<?x2x24xf32>, %c2: tensor<?x8xf32>, %k2: tensor<?x8xf32>,
                             %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  %o = mla.attention %q, %c, %k_pe, %pos, %seq
      kv_b <"kv_b" : f8E4M3FN[32768, 512], scale "kv_b_scale_inv"[256, 4]> layer 3 scale 1.250000e-01
      : tensor<?x128x192xf32>, tensor<?x512xf32>, tensor<?x64xf32> -> tensor<?x16384xf32>
  // Dn = 16, Dv = 64: kv_b is [H * (Dn + Dv), R] = [160, 8].
  %p = mla.attention %q2, %c2, %k2, %pos, %seq
      kv_b <"kv_b2" : bf16[160, 8]> layer 0 scale 0.5 form expanded
      : tensor<?x2x24xf32>, tensor<?x8xf32>, tensor<?x8xf32> -> tensor<?x128xf32>
  return
}

// Tests that the attributes also round-trip free-standing, with their full
// dialect prefix: #mla.yarn, #mla.rope and the #mla<form ...> enum.
// CHECK-LABEL: func.func @attrs
// CHECK-SAME: a.form_absorbed = #mla<form absorbed>
// CHECK-SAME: a.form_expanded = #mla<form expanded>
// CHECK-SAME: a.rope = #[[ROPE]]
// CHECK-SAME: a.yarn = #mla.yarn<factor = 4.000000e+00, original_max_position_embeddings = 1024, beta_fast = 3.200000e+01, beta_slow = 1.000000e+00, mscale = 1.000000e+00, mscale_all_dim = 0.000000e+00>
func.func @attrs() attributes {
  a.form_absorbed = #mla<form absorbed>,
  a.form_expanded = #mla<form expanded>,
  a.rope = #mla.rope<theta = 10000.0, dim = 32>,
  a.yarn = #mla.yarn<factor = 4.0, original_max_position_embeddings = 1024, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 0.0>
} {
  return
}
