// Every verifier rule of #mla.yarn, #mla.rope and the mla ops, one case each;
// each error names the rule that broke.
// RUN: moela-opt %s -split-input-file -verify-diagnostics

// Tests that the YaRN factor is positive.
// expected-error @+1 {{yarn factor must be > 0, got 0.000000e+00}}
func.func @yarn_factor() attributes {y = #mla.yarn<factor = 0.0, original_max_position_embeddings = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} { return }

// -----

// Tests that YaRN's original context length is positive.
// expected-error @+1 {{yarn original_max_position_embeddings must be > 0, got 0}}
func.func @yarn_original_max() attributes {y = #mla.yarn<factor = 40.0, original_max_position_embeddings = 0, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>} { return }

// -----

// Tests that beta_fast > beta_slow.
// expected-error @+1 {{yarn needs beta_fast > beta_slow > 0, got beta_fast = 1.000000e+00, beta_slow = 3.200000e+01}}
func.func @yarn_beta_order() attributes {y = #mla.yarn<factor = 40.0, original_max_position_embeddings = 4096, beta_fast = 1.0, beta_slow = 32.0, mscale = 1.0, mscale_all_dim = 1.0>} { return }

// -----

// Tests that beta_fast == beta_slow is rejected (the ramp would be empty).
// expected-error @+1 {{yarn needs beta_fast > beta_slow > 0, got beta_fast = 4.000000e+00, beta_slow = 4.000000e+00}}
func.func @yarn_beta_equal() attributes {y = #mla.yarn<factor = 40.0, original_max_position_embeddings = 4096, beta_fast = 4.0, beta_slow = 4.0, mscale = 1.0, mscale_all_dim = 1.0>} { return }

// -----

// Tests that beta_slow > 0.
// expected-error @+1 {{yarn needs beta_fast > beta_slow > 0, got beta_fast = 3.200000e+01, beta_slow = 0.000000e+00}}
func.func @yarn_beta_slow() attributes {y = #mla.yarn<factor = 40.0, original_max_position_embeddings = 4096, beta_fast = 32.0, beta_slow = 0.0, mscale = 1.0, mscale_all_dim = 1.0>} { return }

// -----

// Tests that the rope base is positive.
// expected-error @+1 {{rope theta must be > 0, got -1.000000e+00}}
func.func @rope_theta() attributes {r = #mla.rope<theta = -1.0, dim = 64>} { return }

// -----

// Tests that the rope dim is even (RoPE rotates interleaved pairs).
// expected-error @+1 {{rope dim must be positive and even (interleaved pairs), got 63}}
func.func @rope_odd_dim() attributes {r = #mla.rope<theta = 1.0e4, dim = 63>} { return }

// -----

// Tests that the rope dim is positive.
// expected-error @+1 {{rope dim must be positive and even (interleaved pairs), got 0}}
func.func @rope_zero_dim() attributes {r = #mla.rope<theta = 1.0e4, dim = 0>} { return }

// -----

// Tests that a bad YaRN nested in a rope attribute is reported.
// expected-error @+2 {{yarn factor must be > 0, got -4.000000e+00}}
// expected-error @+1 {{failed to parse MLA_RopeAttr parameter 'yarn'}}
func.func @rope_bad_yarn() attributes {r = #mla.rope<theta = 1.0e4, dim = 64, yarn = <factor = -4.0, original_max_position_embeddings = 4096, beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>>} { return }

// -----

// Tests that q_proj produces [T, H, Dn + Dr].
func.func @q_proj_result_rank(%x: tensor<?x192xf32>) -> tensor<?x384xf32> {
  // expected-error @+1 {{'mla.q_proj' op result must be [T, H, Dn + Dr], got 'tensor<?x384xf32>'}}
  %q = mla.q_proj %x q = <"q" : bf16[384, 192]> : tensor<?x192xf32> -> tensor<?x384xf32>
  return %q : tensor<?x384xf32>
}

// -----

// Tests that q_proj takes a [T, D] input (no crash on rank 1).
func.func @q_proj_input_rank(%x: tensor<192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op input has type 'tensor<192xf32>', expected shape [?, ?] (input is [T, D])}}
  %q = mla.q_proj %x q = <"q" : bf16[384, 192]> : tensor<192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_proj takes either q or the lora weights, not both.
func.func @q_proj_both_forms(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op expects either q (no q compression) or all of q_a, q_norm, q_b and eps (q_lora_rank > 0)}}
  %q = mla.q_proj %x lora(q_a = <"qa" : bf16[160, 192]>, norm = <"qn" : bf16[160]>, q_b = <"qb" : bf16[384, 160]>, eps = 1.0e-06)
                   q = <"q" : bf16[384, 192]> : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_proj needs one of its two forms.
func.func @q_proj_no_weights(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op expects either q (no q compression) or all of q_a, q_norm, q_b and eps (q_lora_rank > 0)}}
  %q = mla.q_proj %x : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that the lora form needs all of its weights (the custom syntax
// requires them; the generic form can omit one).
func.func @q_proj_incomplete_lora(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op expects either q (no q compression) or all of q_a, q_norm, q_b and eps (q_lora_rank > 0)}}
  %q = "mla.q_proj"(%x) <{q_a = #nn.weight<"qa" : bf16[160, 192]>, q_b = #nn.weight<"qb" : bf16[384, 160]>, eps = 1.0e-06 : f64}> : (tensor<?x192xf32>) -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that a stray lora piece next to q is rejected as well.
func.func @q_proj_q_with_lora_piece(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op expects either q (no q compression) or all of q_a, q_norm, q_b and eps (q_lora_rank > 0)}}
  %q = "mla.q_proj"(%x) <{q = #nn.weight<"q" : bf16[384, 192]>, eps = 1.0e-06 : f64}> : (tensor<?x192xf32>) -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_proj is [H * (Dn + Dr), D].
func.func @q_proj_weight(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op q_proj weight 'q' has shape [512, 192], expected [384, 192] (q_proj is [H * (Dn + Dr), D])}}
  %q = mla.q_proj %x q = <"q" : bf16[512, 192]> : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_a_proj is [Rq, D].
func.func @q_a_proj_weight(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op q_a_proj weight 'qa' has shape [160, 128], expected [?, 192] (q_a_proj is [Rq, D])}}
  %q = mla.q_proj %x lora(q_a = <"qa" : bf16[160, 128]>, norm = <"qn" : bf16[160]>, q_b = <"qb" : bf16[384, 160]>, eps = 1.0e-06)
      : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_a_layernorm is [Rq], Rq = q_a_proj's rows.
func.func @q_a_layernorm_weight(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op q_a_layernorm weight 'qn' has shape [192], expected [160] (q_a_layernorm is [Rq])}}
  %q = mla.q_proj %x lora(q_a = <"qa" : bf16[160, 192]>, norm = <"qn" : bf16[192]>, q_b = <"qb" : bf16[384, 160]>, eps = 1.0e-06)
      : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_b_proj is [H * (Dn + Dr), Rq].
func.func @q_b_proj_weight(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op q_b_proj weight 'qb' has shape [384, 192], expected [384, 160] (q_b_proj is [H * (Dn + Dr), Rq])}}
  %q = mla.q_proj %x lora(q_a = <"qa" : bf16[160, 192]>, norm = <"qn" : bf16[160]>, q_b = <"qb" : bf16[384, 192]>, eps = 1.0e-06)
      : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that q_proj's RMSNorm needs eps > 0.
func.func @q_proj_eps(%x: tensor<?x192xf32>) -> tensor<?x4x96xf32> {
  // expected-error @+1 {{'mla.q_proj' op eps must be > 0}}
  %q = mla.q_proj %x lora(q_a = <"qa" : bf16[160, 192]>, norm = <"qn" : bf16[160]>, q_b = <"qb" : bf16[384, 160]>, eps = 0.0)
      : tensor<?x192xf32> -> tensor<?x4x96xf32>
  return %q : tensor<?x4x96xf32>
}

// -----

// Tests that kv_proj takes a [T, D] input (no crash on rank 1).
func.func @kv_proj_input_rank(%x: tensor<192xf32>) -> (tensor<?x96xf32>, tensor<?x32xf32>) {
  // expected-error @+1 {{'mla.kv_proj' op input has type 'tensor<192xf32>', expected shape [?, ?] (input is [T, D])}}
  %c, %k = mla.kv_proj %x kv_a <"kva" : bf16[128, 192]> norm <"kvn" : bf16[96]> eps 1.0e-06
      : tensor<192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  return %c, %k : tensor<?x96xf32>, tensor<?x32xf32>
}

// -----

// Tests that the latent result is [T, R].
func.func @kv_proj_latent_rank(%x: tensor<?x192xf32>) -> (tensor<?x1x96xf32>, tensor<?x32xf32>) {
  // expected-error @+1 {{'mla.kv_proj' op latent has type 'tensor<?x1x96xf32>', expected shape [?, ?] (latent is [T, R])}}
  %c, %k = mla.kv_proj %x kv_a <"kva" : bf16[128, 192]> norm <"kvn" : bf16[96]> eps 1.0e-06
      : tensor<?x192xf32> -> tensor<?x1x96xf32>, tensor<?x32xf32>
  return %c, %k : tensor<?x1x96xf32>, tensor<?x32xf32>
}

// -----

// Tests that the k_pe result is [T, Dr].
func.func @kv_proj_k_pe_rank(%x: tensor<?x192xf32>) -> (tensor<?x96xf32>, tensor<32xf32>) {
  // expected-error @+1 {{'mla.kv_proj' op k_pe has type 'tensor<32xf32>', expected shape [?, ?] (k_pe is [T, Dr])}}
  %c, %k = mla.kv_proj %x kv_a <"kva" : bf16[128, 192]> norm <"kvn" : bf16[96]> eps 1.0e-06
      : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<32xf32>
  return %c, %k : tensor<?x96xf32>, tensor<32xf32>
}

// -----

// Tests that kv_a_proj_with_mqa is [R + Dr, D].
func.func @kv_a_proj_weight(%x: tensor<?x192xf32>) -> (tensor<?x96xf32>, tensor<?x32xf32>) {
  // expected-error @+1 {{'mla.kv_proj' op kv_a_proj_with_mqa weight 'kva' has shape [96, 192], expected [128, 192] (kv_a_proj_with_mqa is [R + Dr, D])}}
  %c, %k = mla.kv_proj %x kv_a <"kva" : bf16[96, 192]> norm <"kvn" : bf16[96]> eps 1.0e-06
      : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  return %c, %k : tensor<?x96xf32>, tensor<?x32xf32>
}

// -----

// Tests that kv_a_layernorm is [R]: only the latent is normed, not k_pe.
func.func @kv_a_layernorm_weight(%x: tensor<?x192xf32>) -> (tensor<?x96xf32>, tensor<?x32xf32>) {
  // expected-error @+1 {{'mla.kv_proj' op kv_a_layernorm weight 'kvn' has shape [128], expected [96] (kv_a_layernorm is [R])}}
  %c, %k = mla.kv_proj %x kv_a <"kva" : bf16[128, 192]> norm <"kvn" : bf16[128]> eps 1.0e-06
      : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  return %c, %k : tensor<?x96xf32>, tensor<?x32xf32>
}

// -----

// Tests that kv_proj's RMSNorm needs eps > 0.
func.func @kv_proj_eps(%x: tensor<?x192xf32>) -> (tensor<?x96xf32>, tensor<?x32xf32>) {
  // expected-error @+1 {{'mla.kv_proj' op eps must be > 0}}
  %c, %k = mla.kv_proj %x kv_a <"kva" : bf16[128, 192]> norm <"kvn" : bf16[96]> eps -1.0
      : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
  return %c, %k : tensor<?x96xf32>, tensor<?x32xf32>
}

// -----

// Tests that RoPE cannot rotate more channels than the input has.
func.func @rope_dim_too_large(%k: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x32xf32> {
  // expected-error @+1 {{'mla.rope' op rotates the last 64 channels, but the input is 'tensor<?x32xf32>' (rank >= 2, static last dim >= rope dim)}}
  %r = mla.rope %k, %pos rope <theta = 1.0e4, dim = 64> : tensor<?x32xf32>
  return %r : tensor<?x32xf32>
}

// -----

// Tests that RoPE applies to [T, .., C] activations, not a single vector.
func.func @rope_rank1(%k: tensor<64xf32>, %pos: tensor<?xi32>) -> tensor<64xf32> {
  // expected-error @+1 {{'mla.rope' op rotates the last 64 channels, but the input is 'tensor<64xf32>' (rank >= 2, static last dim >= rope dim)}}
  %r = mla.rope %k, %pos rope <theta = 1.0e4, dim = 64> : tensor<64xf32>
  return %r : tensor<64xf32>
}

// -----

// Tests that the rotated channel count is static.
func.func @rope_dynamic_channels(%k: tensor<?x?xf32>, %pos: tensor<?xi32>) -> tensor<?x?xf32> {
  // expected-error @+1 {{'mla.rope' op rotates the last 64 channels, but the input is 'tensor<?x?xf32>' (rank >= 2, static last dim >= rope dim)}}
  %r = mla.rope %k, %pos rope <theta = 1.0e4, dim = 64> : tensor<?x?xf32>
  return %r : tensor<?x?xf32>
}

// -----

// Tests that the attention query is [T, H, Dn + Dr].
func.func @attention_query_rank(%q: tensor<?x384xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                                %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op query must be [T, H, Dn + Dr], got 'tensor<?x384xf32>'}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x384xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that the latent is [T, R].
func.func @attention_latent_rank(%q: tensor<?x4x96xf32>, %c: tensor<96xf32>, %k: tensor<?x32xf32>,
                                 %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op latent has type 'tensor<96xf32>', expected shape [?, ?] (latent is [T, R])}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that the shared rope key is [T, Dr] (one head for all heads).
func.func @attention_k_pe_rank(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x4x32xf32>,
                               %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op k_pe has type 'tensor<?x4x32xf32>', expected shape [?, ?] (k_pe is [T, Dr])}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x4x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that the model dims of attention are static.
func.func @attention_dynamic_heads(%q: tensor<?x?x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                                   %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op needs static model dims H, Dn + Dr, R and Dr}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x?x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that attention needs at least one head (no division by zero).
func.func @attention_zero_heads(%q: tensor<?x0x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                                %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op query needs H >= 1 heads, got 0}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x0x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that the query head has a nope part: Dn = (Dn + Dr) - Dr > 0.
func.func @attention_no_nope(%q: tensor<?x4x32xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                             %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op query head dim 32 must exceed the rope dim 32 (Dn > 0)}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x4x32xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that kv_b has H * (Dn + Dv) rows: a row count not divisible by H.
func.func @attention_kv_b_rows_not_per_head(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                                            %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op kv_b_proj weight 'kv_b' has 450 rows, expected H * (Dn + Dv) with H = 4, Dn = 64, Dv > 0}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[450, 96]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that kv_b leaves Dv > 0 rows per head after the Dn key rows.
func.func @attention_kv_b_no_v(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                               %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op kv_b_proj weight 'kv_b' has 256 rows, expected H * (Dn + Dv) with H = 4, Dn = 64, Dv > 0}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[256, 96]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that kv_b's columns are the latent dim R.
func.func @attention_kv_b_cols(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                               %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op kv_b_proj weight 'kv_b' has shape [448, 128], expected [448, 96] (kv_b_proj is [H * (Dn + Dv), R])}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 128]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that kv_b is a matrix.
func.func @attention_kv_b_rank(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                               %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op kv_b_proj weight 'kv_b' has shape [448], expected [448, 96] (kv_b_proj is [H * (Dn + Dv), R])}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that the result is [T, H * Dv] with Dv taken from kv_b.
func.func @attention_result(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                            %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x256xf32> {
  // expected-error @+1 {{'mla.attention' op result has type 'tensor<?x256xf32>', expected shape [?, 192] (result is [T, H * Dv])}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x256xf32>
  return %o : tensor<?x256xf32>
}

// -----

// Tests that the layer index (the KV cache slot) is not negative.
func.func @attention_layer(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                           %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op layer must be >= 0, got -1}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer -1 scale 0.25
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that the softmax scale is positive.
func.func @attention_scale(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                           %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'mla.attention' op scale must be > 0}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.0
      : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests that `form` is one of the AttentionForm values.
func.func @attention_bad_form(%q: tensor<?x4x96xf32>, %c: tensor<?x96xf32>, %k: tensor<?x32xf32>,
                              %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+2 {{expected ::moela::mla::AttentionForm to be one of: absorbed, expanded}}
  // expected-error @+1 {{failed to parse MLA_AttentionFormAttr parameter 'value'}}
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0 scale 0.25 form flash : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}
