// Every verifier rule of #nn.weight and of the nn ops, one case each; each
// error names the rule that broke.
// RUN: moela-opt %s -split-input-file -verify-diagnostics

// Tests that a weight needs a checkpoint tensor name.
// expected-error @+1 {{weight needs a checkpoint tensor name}}
func.func @weight_empty_name() attributes {w = #nn.weight<"" : bf16[4]>} { return }

// -----

// Tests that a weight has at least one dimension.
// expected-error @+1 {{weight 'w' must have rank 1 or 2, got 0}}
func.func @weight_rank0() attributes {w = #nn.weight<"w" : bf16[]>} { return }

// -----

// Tests that a weight has at most two dimensions.
// expected-error @+1 {{weight 'w' must have rank 1 or 2, got 3}}
func.func @weight_rank3() attributes {w = #nn.weight<"w" : bf16[2, 3, 4]>} { return }

// -----

// Tests that a weight dimension of 0 is rejected.
// expected-error @+1 {{weight 'w' has a non-positive dim 0}}
func.func @weight_zero_dim() attributes {w = #nn.weight<"w" : bf16[4, 0]>} { return }

// -----

// Tests that a negative weight dimension is rejected.
// expected-error @+1 {{weight 'w' has a non-positive dim -3}}
func.func @weight_negative_dim() attributes {w = #nn.weight<"w" : bf16[-3]>} { return }

// -----

// Tests that a weight's dtype is one of the checkpoint dtypes.
// expected-error @+1 {{weight 'w' must be f32, bf16, f16 or f8E4M3FN, got 'i8'}}
func.func @weight_integer_dtype() attributes {w = #nn.weight<"w" : i8[4]>} { return }

// -----

// Tests that other float formats (here f8E5M2) are rejected too.
// expected-error @+1 {{weight 'w' must be f32, bf16, f16 or f8E4M3FN, got 'f8E5M2'}}
func.func @weight_e5m2_dtype() attributes {w = #nn.weight<"w" : f8E5M2[4, 4]>} { return }

// -----

// Tests that an FP8 weight needs its block scale tensor.
// expected-error @+1 {{weight 'w': an f8E4M3FN weight needs a block scale and only an f8E4M3FN weight may have one}}
func.func @weight_fp8_without_scale() attributes {w = #nn.weight<"w" : f8E4M3FN[128, 128]>} { return }

// -----

// Tests that only an FP8 weight may have a block scale.
// expected-error @+1 {{weight 'w': an f8E4M3FN weight needs a block scale and only an f8E4M3FN weight may have one}}
func.func @weight_scale_on_bf16() attributes {w = #nn.weight<"w" : bf16[128, 128], scale "w_scale_inv"[1, 1]>} { return }

// -----

// Tests that a block-scaled FP8 weight is a matrix.
// expected-error @+1 {{f8E4M3FN weight 'w' must have rank 2}}
func.func @weight_fp8_rank1() attributes {w = #nn.weight<"w" : f8E4M3FN[256], scale "w_scale_inv"[2]>} { return }

// -----

// Tests that the scale shape is ceil(shape / 128), with partial last blocks
// ([300, 129] needs [3, 2], not the floor [2, 1]).
// expected-error @+1 {{weight 'w' has scale shape [2, 1], expected [3, 2] (ceil(shape / 128), docs/model.md §2)}}
func.func @weight_scale_shape() attributes {w = #nn.weight<"w" : f8E4M3FN[300, 129], scale "w_scale_inv"[2, 1]>} { return }

// -----

// Tests that a scale of the wrong rank is rejected.
// expected-error @+1 {{weight 'w' has scale shape [2], expected [2, 1] (ceil(shape / 128), docs/model.md §2)}}
func.func @weight_scale_rank() attributes {w = #nn.weight<"w" : f8E4M3FN[256, 128], scale "w_scale_inv"[2]>} { return }

// -----

// Tests that token ids are a tensor<?xi32> (the custom form implies that
// type, so this is written in the generic form).
func.func @embedding_tokens_type(%tokens: tensor<?xi64>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.embedding' op operand #0 must be tensor<?xi32> of token indices, but got 'tensor<?xi64>'}}
  %h = "nn.embedding"(%tokens) <{table = #nn.weight<"model.embed_tokens.weight" : bf16[1280, 192]>}> : (tensor<?xi64>) -> tensor<?x192xf32>
  return %h : tensor<?x192xf32>
}

// -----

// Tests that the embedding table is [V, D].
func.func @embedding_table_rank(%tokens: tensor<?xi32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.embedding' op table 'model.embed_tokens.weight' must be [V, D] (rank 2)}}
  %h = nn.embedding %tokens table <"model.embed_tokens.weight" : bf16[192]> : tensor<?x192xf32>
  return %h : tensor<?x192xf32>
}

// -----

// Tests that the embedding result has the table's D.
func.func @embedding_result_dim(%tokens: tensor<?xi32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{'nn.embedding' op result has type 'tensor<?x128xf32>', expected shape [?, 192] (result is [T, D] with D = table dim 1)}}
  %h = nn.embedding %tokens table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x128xf32>
  return %h : tensor<?x128xf32>
}

// -----

// Tests that the embedding result is [T, D] (rank 2).
func.func @embedding_result_rank(%tokens: tensor<?xi32>) -> tensor<?x1x192xf32> {
  // expected-error @+1 {{'nn.embedding' op result has type 'tensor<?x1x192xf32>', expected shape [?, 192] (result is [T, D] with D = table dim 1)}}
  %h = nn.embedding %tokens table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x1x192xf32>
  return %h : tensor<?x1x192xf32>
}

// -----

// Tests that RMSNorm needs eps > 0.
func.func @rms_norm_eps(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.rms_norm' op eps must be > 0, got 0.000000e+00}}
  %y = nn.rms_norm %x weight <"model.norm.weight" : bf16[192]> eps 0.0 : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that a negative eps is rejected too.
func.func @rms_norm_negative_eps(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.rms_norm' op eps must be > 0, got -1.000000e-06}}
  %y = nn.rms_norm %x weight <"model.norm.weight" : bf16[192]> eps -1.0e-06 : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that the norm weight is [N], N = the last input dim.
func.func @rms_norm_weight_shape(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.rms_norm' op norm weight 'model.norm.weight' has shape [128], expected [192] (norm weight is [N], N = last input dim)}}
  %y = nn.rms_norm %x weight <"model.norm.weight" : bf16[128]> eps 1.0e-06 : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that the norm weight is a vector, not a matrix.
func.func @rms_norm_weight_rank(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.rms_norm' op norm weight 'model.norm.weight' has shape [1, 192], expected [192] (norm weight is [N], N = last input dim)}}
  %y = nn.rms_norm %x weight <"model.norm.weight" : bf16[1, 192]> eps 1.0e-06 : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that RMSNorm needs a dimension to normalise over (no crash on rank 0).
func.func @rms_norm_rank0(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{'nn.rms_norm' op input must be [.., N] (rank >= 1), got 'tensor<f32>'}}
  %y = nn.rms_norm %x weight <"model.norm.weight" : bf16[192]> eps 1.0e-06 : tensor<f32>
  return %y : tensor<f32>
}

// -----

// Tests that linear keeps the rank of its input.
func.func @linear_ranks(%x: tensor<?x192xf32>) -> tensor<?x1x192xf32> {
  // expected-error @+1 {{'nn.linear' op input and result ranks differ (2 vs 3)}}
  %y = nn.linear %x weight <"w" : bf16[192, 192]> : tensor<?x192xf32> -> tensor<?x1x192xf32>
  return %y : tensor<?x1x192xf32>
}

// -----

// Tests that linear needs a K dimension (no crash on rank 0).
func.func @linear_rank0(%x: tensor<f32>) -> tensor<f32> {
  // expected-error @+1 {{'nn.linear' op input must be [.., K] (rank >= 1), got 'tensor<f32>'}}
  %y = nn.linear %x weight <"w" : bf16[192, 192]> : tensor<f32> -> tensor<f32>
  return %y : tensor<f32>
}

// -----

// Tests that the linear weight's K (dim 1) is the input's last dim.
func.func @linear_weight_k(%x: tensor<?x192xf32>) -> tensor<?x448xf32> {
  // expected-error @+1 {{'nn.linear' op linear weight 'w' has shape [448, 128], expected [448, 192] (weight is [N, K] for input [.., K] and result [.., N])}}
  %y = nn.linear %x weight <"w" : bf16[448, 128]> : tensor<?x192xf32> -> tensor<?x448xf32>
  return %y : tensor<?x448xf32>
}

// -----

// Tests that the linear weight's N (dim 0) is the result's last dim; a
// transposed [K, N] weight is rejected.
func.func @linear_weight_transposed(%x: tensor<?x192xf32>) -> tensor<?x448xf32> {
  // expected-error @+1 {{'nn.linear' op linear weight 'w' has shape [192, 448], expected [448, 192] (weight is [N, K] for input [.., K] and result [.., N])}}
  %y = nn.linear %x weight <"w" : bf16[192, 448]> : tensor<?x192xf32> -> tensor<?x448xf32>
  return %y : tensor<?x448xf32>
}

// -----

// Tests that the dense MLP works on [T, D] activations.
func.func @mlp_rank(%x: tensor<?x4x192xf32>) -> tensor<?x4x192xf32> {
  // expected-error @+1 {{'nn.mlp' op input has type 'tensor<?x4x192xf32>', expected shape [?, ?] (input is [T, D])}}
  %y = nn.mlp %x gate <"g" : bf16[448, 192]> up <"u" : bf16[448, 192]> down <"d" : bf16[192, 448]> : tensor<?x4x192xf32>
  return %y : tensor<?x4x192xf32>
}

// -----

// Tests that gate_proj is [F, D].
func.func @mlp_gate(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.mlp' op gate weight 'g' has shape [448, 128], expected [448, 192] (gate_proj is [F, D])}}
  %y = nn.mlp %x gate <"g" : bf16[448, 128]> up <"u" : bf16[448, 192]> down <"d" : bf16[192, 448]> : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that up_proj has the shape of gate_proj (same F).
func.func @mlp_up(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.mlp' op up weight 'u' has shape [512, 192], expected [448, 192] (up_proj is [F, D], like gate_proj)}}
  %y = nn.mlp %x gate <"g" : bf16[448, 192]> up <"u" : bf16[512, 192]> down <"d" : bf16[192, 448]> : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that down_proj is [D, F].
func.func @mlp_down(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.mlp' op down weight 'd' has shape [448, 192], expected [192, 448] (down_proj is [D, F])}}
  %y = nn.mlp %x gate <"g" : bf16[448, 192]> up <"u" : bf16[448, 192]> down <"d" : bf16[448, 192]> : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// Tests that gather_rows takes a [T, D] input (no crash on rank 1).
func.func @gather_rows_input_rank(%h: tensor<192xf32>, %rows: tensor<?xi32>) -> tensor<192xf32> {
  // expected-error @+1 {{'nn.gather_rows' op input has type 'tensor<192xf32>', expected shape [?, ?] (input is [T, D])}}
  %y = nn.gather_rows %h, %rows : tensor<192xf32> -> tensor<192xf32>
  return %y : tensor<192xf32>
}

// -----

// Tests that gather_rows keeps D.
func.func @gather_rows_result(%h: tensor<?x192xf32>, %rows: tensor<?xi32>) -> tensor<?x128xf32> {
  // expected-error @+1 {{'nn.gather_rows' op result has type 'tensor<?x128xf32>', expected shape [?, 192] (result is [R, D] for input [T, D])}}
  %y = nn.gather_rows %h, %rows : tensor<?x192xf32> -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// Tests that lm_head takes a [R, D] input (no crash on rank 1).
func.func @lm_head_input_rank(%x: tensor<192xf32>) -> tensor<?x1280xf32> {
  // expected-error @+1 {{'nn.lm_head' op input has type 'tensor<192xf32>', expected shape [?, ?] (input is [R, D])}}
  %l = nn.lm_head %x weight <"lm_head.weight" : bf16[1280, 192]> : tensor<192xf32> -> tensor<?x1280xf32>
  return %l : tensor<?x1280xf32>
}

// -----

// Tests that lm_head produces [R, V] logits.
func.func @lm_head_result_rank(%x: tensor<?x192xf32>) -> tensor<1280xf32> {
  // expected-error @+1 {{'nn.lm_head' op result has type 'tensor<1280xf32>', expected shape [?, ?] (logits are [R, V])}}
  %l = nn.lm_head %x weight <"lm_head.weight" : bf16[1280, 192]> : tensor<?x192xf32> -> tensor<1280xf32>
  return %l : tensor<1280xf32>
}

// -----

// Tests that the lm_head weight is [V, D] for the logits' V.
func.func @lm_head_weight(%x: tensor<?x192xf32>) -> tensor<?x1024xf32> {
  // expected-error @+1 {{'nn.lm_head' op lm_head weight 'lm_head.weight' has shape [1280, 192], expected [1024, 192] (lm_head is [V, D] for logits [R, V])}}
  %l = nn.lm_head %x weight <"lm_head.weight" : bf16[1280, 192]> : tensor<?x192xf32> -> tensor<?x1024xf32>
  return %l : tensor<?x1024xf32>
}

// -----

// Tests that the MTP projection works on [T, D] activations.
func.func @mtp_proj_rank(%e: tensor<192xf32>, %h: tensor<192xf32>) -> tensor<192xf32> {
  // expected-error @+1 {{'nn.mtp_proj' op result has type 'tensor<192xf32>', expected shape [?, ?] (inputs and result are [T, D])}}
  %x = nn.mtp_proj %e, %h weight <"eh_proj" : bf16[192, 384]> : tensor<192xf32>
  return %x : tensor<192xf32>
}

// -----

// Tests that eh_proj is [D, 2D].
func.func @mtp_proj_weight(%e: tensor<?x192xf32>, %h: tensor<?x192xf32>) -> tensor<?x192xf32> {
  // expected-error @+1 {{'nn.mtp_proj' op eh_proj weight 'model.layers.3.eh_proj.weight' has shape [192, 192], expected [192, 384] (eh_proj is [D, 2D])}}
  %x = nn.mtp_proj %e, %h weight <"model.layers.3.eh_proj.weight" : bf16[192, 192]> : tensor<?x192xf32>
  return %x : tensor<?x192xf32>
}
