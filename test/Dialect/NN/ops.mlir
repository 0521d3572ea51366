// Round trip of every nn op and of #nn.weight in all its forms: printing,
// re-parsing and printing again gives the same IR, both from the custom and
// from the generic form.
// RUN: moela-opt %s | moela-opt | FileCheck %s
// RUN: moela-opt %s --mlir-print-op-generic | moela-opt | FileCheck %s

// Tests that nn.embedding keeps its table weight and result type.
// CHECK-LABEL: func.func @embedding
// CHECK: nn.embedding %{{.*}} table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x192xf32>
func.func @embedding(%tokens: tensor<?xi32>) -> tensor<?x192xf32> {
  %h = nn.embedding %tokens table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x192xf32>
  return %h : tensor<?x192xf32>
}

// Tests that nn.rms_norm keeps its weight and eps; the weight may be written
// with its full #nn.weight prefix.
// CHECK-LABEL: func.func @rms_norm
// CHECK: nn.rms_norm %{{.*}} weight <"model.norm.weight" : bf16[192]> eps 9.9999999999999995E-7 : tensor<?x192xf32>
// CHECK: nn.rms_norm %{{.*}} weight <"model.layers.0.input_layernorm.weight" : f32[192]> eps 2.500000e-01 : tensor<?x192xf32>
func.func @rms_norm(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %y = nn.rms_norm %x weight #nn.weight<"model.norm.weight" : bf16[192]> eps 1.0e-06 : tensor<?x192xf32>
  %z = nn.rms_norm %y weight <"model.layers.0.input_layernorm.weight" : f32[192]> eps 2.500000e-01 : tensor<?x192xf32>
  return %z : tensor<?x192xf32>
}

// Tests that nn.linear accepts every weight dtype: bf16, f16, f32 and
// f8E4M3FN with its block scale (partial last blocks: ceil(300/128) = 3).
// CHECK-LABEL: func.func @linear
// CHECK: nn.linear %{{.*}} weight <"o_proj.weight" : bf16[192, 192]> : tensor<?x192xf32> -> tensor<?x192xf32>
// CHECK: nn.linear %{{.*}} weight <"f16.weight" : f16[300, 192]> : tensor<?x192xf32> -> tensor<?x300xf32>
// CHECK: nn.linear %{{.*}} weight <"f32.weight" : f32[192, 300]> : tensor<?x300xf32> -> tensor<?x192xf32>
// CHECK: nn.linear %{{.*}} weight <"fp8.weight" : f8E4M3FN[300, 192], scale "fp8.weight_scale_inv"[3, 2]> : tensor<?x192xf32> -> tensor<?x300xf32>
// CHECK: nn.linear %{{.*}} weight <"fp8.exact.weight" : f8E4M3FN[256, 128], scale "fp8.exact.weight_scale_inv"[2, 1]> : tensor<?x128xf32> -> tensor<?x256xf32>
func.func @linear(%x: tensor<?x192xf32>, %x128: tensor<?x128xf32>) -> tensor<?x192xf32> {
  %a = nn.linear %x weight <"o_proj.weight" : bf16[192, 192]> : tensor<?x192xf32> -> tensor<?x192xf32>
  %b = nn.linear %a weight <"f16.weight" : f16[300, 192]> : tensor<?x192xf32> -> tensor<?x300xf32>
  %c = nn.linear %b weight <"f32.weight" : f32[192, 300]> : tensor<?x300xf32> -> tensor<?x192xf32>
  %d = nn.linear %c weight <"fp8.weight" : f8E4M3FN[300, 192], scale "fp8.weight_scale_inv"[3, 2]> : tensor<?x192xf32> -> tensor<?x300xf32>
  %e = nn.linear %x128 weight <"fp8.exact.weight" : f8E4M3FN[256, 128], scale "fp8.exact.weight_scale_inv"[2, 1]> : tensor<?x128xf32> -> tensor<?x256xf32>
  return %c : tensor<?x192xf32>
}

// Tests that nn.linear also applies to rank-3 activations ([T, H, K]).
// CHECK-LABEL: func.func @linear_rank3
// CHECK: nn.linear %{{.*}} weight <"w" : bf16[32, 16]> : tensor<?x4x16xf32> -> tensor<?x4x32xf32>
func.func @linear_rank3(%x: tensor<?x4x16xf32>) -> tensor<?x4x32xf32> {
  %y = nn.linear %x weight <"w" : bf16[32, 16]> : tensor<?x4x16xf32> -> tensor<?x4x32xf32>
  return %y : tensor<?x4x32xf32>
}

// Tests that nn.add prints both operands and one type.
// CHECK-LABEL: func.func @add
// CHECK: nn.add %{{.*}}, %{{.*}} : tensor<?x192xf32>
func.func @add(%a: tensor<?x192xf32>, %b: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %c = nn.add %a, %b : tensor<?x192xf32>
  return %c : tensor<?x192xf32>
}

// Tests that nn.mlp keeps its gate, up and down weights, plain and FP8.
// CHECK-LABEL: func.func @mlp
// CHECK: nn.mlp %{{.*}} gate <"model.layers.0.mlp.gate_proj.weight" : bf16[448, 192]> up <"model.layers.0.mlp.up_proj.weight" : bf16[448, 192]> down <"model.layers.0.mlp.down_proj.weight" : bf16[192, 448]> : tensor<?x192xf32>
// CHECK: nn.mlp %{{.*}} gate <"g" : f8E4M3FN[448, 192], scale "g_scale_inv"[4, 2]> up <"u" : f8E4M3FN[448, 192], scale "u_scale_inv"[4, 2]> down <"d" : f8E4M3FN[192, 448], scale "d_scale_inv"[2, 4]> : tensor<?x192xf32>
func.func @mlp(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %y = nn.mlp %x gate <"model.layers.0.mlp.gate_proj.weight" : bf16[448, 192]>
                 up <"model.layers.0.mlp.up_proj.weight" : bf16[448, 192]>
                 down <"model.layers.0.mlp.down_proj.weight" : bf16[192, 448]> : tensor<?x192xf32>
  %z = nn.mlp %y gate <"g" : f8E4M3FN[448, 192], scale "g_scale_inv"[4, 2]>
                 up <"u" : f8E4M3FN[448, 192], scale "u_scale_inv"[4, 2]>
                 down <"d" : f8E4M3FN[192, 448], scale "d_scale_inv"[2, 4]> : tensor<?x192xf32>
  return %z : tensor<?x192xf32>
}

// Tests that nn.silu_mul prints both operands and one type.
// CHECK-LABEL: func.func @silu_mul
// CHECK: nn.silu_mul %{{.*}}, %{{.*}} : tensor<?x448xf32>
func.func @silu_mul(%g: tensor<?x448xf32>, %u: tensor<?x448xf32>) -> tensor<?x448xf32> {
  %a = nn.silu_mul %g, %u : tensor<?x448xf32>
  return %a : tensor<?x448xf32>
}

// Tests that nn.gather_rows keeps its row-index operand and both types.
// CHECK-LABEL: func.func @gather_rows
// CHECK: nn.gather_rows %{{.*}}, %{{.*}} : tensor<?x192xf32> -> tensor<?x192xf32>
func.func @gather_rows(%h: tensor<?x192xf32>, %rows: tensor<?xi32>) -> tensor<?x192xf32> {
  %last = nn.gather_rows %h, %rows : tensor<?x192xf32> -> tensor<?x192xf32>
  return %last : tensor<?x192xf32>
}

// Tests that nn.lm_head keeps its [V, D] weight and the [R, V] logits type.
// CHECK-LABEL: func.func @lm_head
// CHECK: nn.lm_head %{{.*}} weight <"lm_head.weight" : bf16[1280, 192]> : tensor<?x192xf32> -> tensor<?x1280xf32>
func.func @lm_head(%x: tensor<?x192xf32>) -> tensor<?x1280xf32> {
  %logits = nn.lm_head %x weight <"lm_head.weight" : bf16[1280, 192]> : tensor<?x192xf32> -> tensor<?x1280xf32>
  return %logits : tensor<?x1280xf32>
}

// Tests that nn.mtp_proj keeps both inputs and its [D, 2D] eh_proj weight.
// CHECK-LABEL: func.func @mtp_proj
// CHECK: nn.mtp_proj %{{.*}}, %{{.*}} weight <"model.layers.3.eh_proj.weight" : bf16[192, 384]> : tensor<?x192xf32>
func.func @mtp_proj(%e: tensor<?x192xf32>, %h: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %x = nn.mtp_proj %e, %h weight <"model.layers.3.eh_proj.weight" : bf16[192, 384]> : tensor<?x192xf32>
  return %x : tensor<?x192xf32>
}

// Tests that #nn.weight round-trips as a free-standing attribute too, in every
// form (rank 1 and 2, every dtype, FP8 with its scale), with the full prefix,
// and that names with quotes and backslashes are printed escaped.
// CHECK-LABEL: func.func @weight_attrs
// CHECK-SAME: w.bf16 = #nn.weight<"a" : bf16[7]>
// CHECK-SAME: w.f16 = #nn.weight<"b" : f16[3, 5]>
// CHECK-SAME: w.f32 = #nn.weight<"c.e_score_correction_bias" : f32[256]>
// CHECK-SAME: w.fp8 = #nn.weight<"d" : f8E4M3FN[129, 7168], scale "d_scale_inv"[2, 56]>
// CHECK-SAME: w.fp8_small = #nn.weight<"e" : f8E4M3FN[1, 1], scale "e_scale_inv"[1, 1]>
// CHECK-SAME: w.quoted = #nn.weight<"q\22uo\\te" : f8E4M3FN[1, 1], scale "q\22uo\\te_scale_inv"[1, 1]>
func.func @weight_attrs() attributes {
  w.bf16 = #nn.weight<"a" : bf16[7]>,
  w.f16 = #nn.weight<"b" : f16[3, 5]>,
  w.f32 = #nn.weight<"c.e_score_correction_bias" : f32[256]>,
  w.fp8 = #nn.weight<"d" : f8E4M3FN[129, 7168], scale "d_scale_inv"[2, 56]>,
  w.fp8_small = #nn.weight<"e" : f8E4M3FN[1, 1], scale "e_scale_inv"[1, 1]>,
  w.quoted = #nn.weight<"q\"uo\\te" : f8E4M3FN[1, 1], scale "q\"uo\\te_scale_inv"[1, 1]>
} {
  return
}

// Tests nn.argmax and nn.next_tokens (in-program MTP drafting).
// CHECK-LABEL: func.func @drafting
// CHECK: %[[I:.*]] = nn.argmax %{{.*}} : tensor<?x1280xf32> -> tensor<?xi32>
// CHECK: nn.next_tokens %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[I]] : tensor<?xi32>
func.func @drafting(%logits: tensor<?x1280xf32>, %tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?xi32> {
  %ids = nn.argmax %logits : tensor<?x1280xf32> -> tensor<?xi32>
  %next = nn.next_tokens %tokens, %pos, %seq, %rows, %ids : tensor<?xi32>
  return %next : tensor<?xi32>
}
