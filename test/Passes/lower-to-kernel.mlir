// Tests of moela-lower-to-kernel: each nn/mla/moe op becomes the kernel ops
// that compute it, one concept at a time and without fusion; per-head
// tensors [T, H, X] become [T, H*X]; MTP programs are dropped (module 0
// runs inside the main programs with moela-mtp-draft); an op with no
// lowering is an error.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-lower-to-kernel)' -verify-diagnostics | FileCheck %s

// Tests the dense ops: embedding, rms_norm, linear and lm_head (a GEMM
// each), add, gather_rows; return operands are remapped.
// CHECK-LABEL: func.func @dense
// CHECK-SAME: (%[[TOK:.*]]: tensor<?xi32>, %[[ROWS:.*]]: tensor<?xi32>) -> tensor<?x1280xf32>
// CHECK-NEXT: %[[E:.*]] = kernel.embedding %[[TOK]] table <"embed" : bf16[1280, 192]> : tensor<?x192xf32>
// CHECK-NEXT: %[[N:.*]] = kernel.rms_norm %[[E]] weight <"norm" : bf16[192]> eps 9.9999999999999995E-7 : tensor<?x192xf32>
// CHECK-NEXT: %[[L:.*]] = kernel.gemm %[[N]] weights [#nn.weight<"o" : bf16[192, 192]>] : tensor<?x192xf32> -> tensor<?x192xf32>
// CHECK-NEXT: %[[A:.*]] = kernel.add %[[E]], %[[L]] : tensor<?x192xf32>
// CHECK-NEXT: %[[G:.*]] = kernel.gather_rows %[[A]], %[[ROWS]] : tensor<?x192xf32>
// CHECK-NEXT: %[[H:.*]] = kernel.gemm %[[G]] weights [#nn.weight<"lm_head" : bf16[1280, 192]>] : tensor<?x192xf32> -> tensor<?x1280xf32>
// CHECK-NEXT: return %[[H]] : tensor<?x1280xf32>
func.func @dense(%tokens: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x1280xf32> {
  %e = nn.embedding %tokens table <"embed" : bf16[1280, 192]> : tensor<?x192xf32>
  %n = nn.rms_norm %e weight <"norm" : bf16[192]> eps 1.0e-06 : tensor<?x192xf32>
  %l = nn.linear %n weight <"o" : bf16[192, 192]> : tensor<?x192xf32> -> tensor<?x192xf32>
  %a = nn.add %e, %l : tensor<?x192xf32>
  %g = nn.gather_rows %a, %rows : tensor<?x192xf32> -> tensor<?x192xf32>
  %h = nn.lm_head %g weight <"lm_head" : bf16[1280, 192]> : tensor<?x192xf32> -> tensor<?x1280xf32>
  return %h : tensor<?x1280xf32>
}

// -----

// Tests that an MLP becomes a gate GEMM, an up GEMM, kernel.silu_mul and a
// down GEMM (fusion is a later pass), and nn.silu_mul maps to kernel.silu_mul.
// CHECK-LABEL: func.func @mlp
// CHECK-NEXT: %[[G:.*]] = kernel.gemm %arg0 weights [#nn.weight<"gate" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
// CHECK-NEXT: %[[U:.*]] = kernel.gemm %arg0 weights [#nn.weight<"up" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
// CHECK-NEXT: %[[S:.*]] = kernel.silu_mul %[[G]], %[[U]] : tensor<?x448xf32>
// CHECK-NEXT: %[[D:.*]] = kernel.gemm %[[S]] weights [#nn.weight<"down" : bf16[192, 448]>] : tensor<?x448xf32> -> tensor<?x192xf32>
// CHECK-NEXT: %[[S2:.*]] = kernel.silu_mul %[[D]], %[[D]] : tensor<?x192xf32>
// CHECK-NEXT: return %[[S2]]
func.func @mlp(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %y = nn.mlp %x gate <"gate" : bf16[448, 192]> up <"up" : bf16[448, 192]> down <"down" : bf16[192, 448]> : tensor<?x192xf32>
  %z = nn.silu_mul %y, %y : tensor<?x192xf32>
  return %z : tensor<?x192xf32>
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 8>

// Tests an attention block with q compression: q_proj is q_a GEMM, q_a norm,
// q_b GEMM; kv_proj is one GEMM [T, R + Dr] with a slice for the latent
// (then normed) and a slice for k_pe; mla.rope rotates the last Dr columns of
// each of the 4 query heads (offset 16 of 24) and of the single k_pe head;
// the [T, H, Dn + Dr] query is [T, H*(Dn+Dr)]; mla.attention is a kv_append
// of the step's latent and k_pe (nothing fused yet) and a
// kernel.mla_attention that keeps its form.
// CHECK-LABEL: func.func @attention_lora
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf32>, %[[POS:.*]]: tensor<?xi32>, %[[SEQ:.*]]: tensor<?xi32>) -> tensor<?x64xf32>
// CHECK-NEXT: %[[QA:.*]] = kernel.gemm %[[X]] weights [#nn.weight<"q_a" : bf16[48, 64]>] : tensor<?x64xf32> -> tensor<?x48xf32>
// CHECK-NEXT: %[[QN:.*]] = kernel.rms_norm %[[QA]] weight <"q_norm" : bf16[48]> eps 9.9999999999999995E-7 : tensor<?x48xf32>
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %[[QN]] weights [#nn.weight<"q_b" : bf16[96, 48]>] : tensor<?x48xf32> -> tensor<?x96xf32>
// CHECK-NEXT: %[[KV:.*]] = kernel.gemm %[[X]] weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32>
// CHECK-NEXT: %[[C:.*]] = kernel.slice %[[KV]][0, 32] : tensor<?x40xf32> -> tensor<?x32xf32>
// CHECK-NEXT: %[[K:.*]] = kernel.slice %[[KV]][32, 8] : tensor<?x40xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %[[CN:.*]] = kernel.rms_norm %[[C]] weight <"kv_norm" : bf16[32]> eps 9.9999999999999995E-7 : tensor<?x32xf32>
// CHECK-NEXT: %[[QR:.*]] = kernel.rope %[[Q]], %[[POS]] rope <heads = 4, head_dim = 24, offset = 16, rope = #rope> : tensor<?x96xf32>
// CHECK-NEXT: %[[KR:.*]] = kernel.rope %[[K]], %[[POS]] rope <heads = 1, head_dim = 8, offset = 0, rope = #rope> : tensor<?x8xf32>
// CHECK-NEXT: kernel.kv_append %[[CN]], %[[KR]], %[[POS]], %[[SEQ]] layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
// CHECK-NEXT: %[[O:.*]] = kernel.mla_attention %[[QR]], %[[POS]], %[[SEQ]] kv_b <"kv_b" : bf16[128, 32]> layer 0 heads 4 nope 16 rope 8 v 16 latent 32 scale 2.500000e-01 form expanded : tensor<?x96xf32> -> tensor<?x64xf32>
// CHECK-NEXT: return %[[O]] : tensor<?x64xf32>
func.func @attention_lora(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %q = mla.q_proj %x lora(q_a = <"q_a" : bf16[48, 64]>, norm = <"q_norm" : bf16[48]>, q_b = <"q_b" : bf16[96, 48]>, eps = 1.0e-06)
      : tensor<?x64xf32> -> tensor<?x4x24xf32>
  %c, %k = mla.kv_proj %x kv_a <"kv_a" : bf16[40, 64]> norm <"kv_norm" : bf16[32]> eps 1.0e-06
      : tensor<?x64xf32> -> tensor<?x32xf32>, tensor<?x8xf32>
  %qr = mla.rope %q, %pos rope #rope : tensor<?x4x24xf32>
  %kr = mla.rope %k, %pos rope #rope : tensor<?x8xf32>
  %o = mla.attention %qr, %c, %kr, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 0 scale 0.25 form expanded
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Tests that q_proj without q compression is a single GEMM, and that an
// attention whose form was never chosen lowers as absorbed.
// CHECK-LABEL: func.func @attention_plain
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %arg0 weights [#nn.weight<"q" : bf16[96, 64]>] : tensor<?x64xf32> -> tensor<?x96xf32>
// CHECK: kernel.kv_append
// CHECK-NEXT: kernel.mla_attention %[[Q]], %arg1, %arg2 kv_b <"kv_b" : bf16[128, 32]> layer 1 heads 4 nope 16 rope 8 v 16 latent 32 scale 2.500000e-01 form absorbed : tensor<?x96xf32> -> tensor<?x64xf32>
func.func @attention_plain(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %q = mla.q_proj %x q = <"q" : bf16[96, 64]> : tensor<?x64xf32> -> tensor<?x4x24xf32>
  %c, %k = mla.kv_proj %x kv_a <"kv_a" : bf16[40, 64]> norm <"kv_norm" : bf16[32]> eps 1.0e-06
      : tensor<?x64xf32> -> tensor<?x32xf32>, tensor<?x8xf32>
  %o = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 1 scale 0.25
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests the MoE ops: the router's linear stays a GEMM, route keeps its bias,
// experts produce one row per routed slot [K*T, D], the shared expert is an
// MLP, and combine has no perm (that is moe-dispatch's job).
// CHECK-LABEL: func.func @moe
// CHECK-NEXT: %[[L:.*]] = kernel.gemm %arg0 weights [#nn.weight<"gate" : bf16[8, 64]>] : tensor<?x64xf32> -> tensor<?x8xf32>
// CHECK-NEXT: %[[I:.*]], %[[W:.*]] = kernel.route %[[L]] routing #routing bias <"bias" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
// CHECK-NEXT: %[[Y:.*]] = kernel.moe_experts %arg0, %[[I]] weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16> : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>
// CHECK-NEXT: %[[SG:.*]] = kernel.gemm %arg0 weights [#nn.weight<"s.gate" : bf16[32, 64]>]
// CHECK-NEXT: %[[SU:.*]] = kernel.gemm %arg0 weights [#nn.weight<"s.up" : bf16[32, 64]>]
// CHECK-NEXT: %[[SA:.*]] = kernel.silu_mul %[[SG]], %[[SU]] : tensor<?x32xf32>
// CHECK-NEXT: %[[S:.*]] = kernel.gemm %[[SA]] weights [#nn.weight<"s.down" : bf16[64, 32]>]
// CHECK-NEXT: %[[O:.*]] = kernel.moe_combine %[[Y]], %[[W]] shared %[[S]] : tensor<?x64xf32> : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
// CHECK-NEXT: return %[[O]]
func.func @moe(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %logits = nn.linear %x weight <"gate" : bf16[8, 64]> : tensor<?x64xf32> -> tensor<?x8xf32>
  %idx, %w = moe.route %logits routing #routing bias <"bias" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32>
  %y = moe.experts %x, %idx weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16>
      : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x2x64xf32>
  %s = moe.shared_expert %x gate <"s.gate" : bf16[32, 64]> up <"s.up" : bf16[32, 64]> down <"s.down" : bf16[64, 32]> : tensor<?x64xf32>
  %o = moe.combine %y, %w shared %s : tensor<?x2x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Tests that combine without a shared expert lowers without one.
// CHECK-LABEL: func.func @combine_unshared
// CHECK-NEXT: %[[Y:.*]] = kernel.moe_experts
// CHECK-NEXT: kernel.moe_combine %[[Y]], %arg2 : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
func.func @combine_unshared(%x: tensor<?x64xf32>, %idx: tensor<?x2xi32>, %w: tensor<?x2xf32>) -> tensor<?x64xf32> {
  %y = moe.experts %x, %idx weights <prefix = "experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16>
      : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x2x64xf32>
  %o = moe.combine %y, %w : tensor<?x2x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Tests that MTP draft programs (functions named mtp_*) are dropped, even
// with ops that have no lowering, and the main programs stay.
// CHECK-LABEL: func.func @decode
// CHECK-NOT: func.func @mtp_0
// CHECK-NOT: nn.
func.func @decode(%tokens: tensor<?xi32>) -> tensor<?x64xf32> {
  %e = nn.embedding %tokens table <"embed" : bf16[1280, 64]> : tensor<?x64xf32>
  return %e : tensor<?x64xf32>
}
func.func @mtp_0(%e: tensor<?x64xf32>, %h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %x = nn.mtp_proj %e, %h weight <"eh_proj" : bf16[64, 128]> : tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}

// -----

// Tests the ops of in-program MTP drafting (moela-mtp-draft): mtp_proj is a
// concat of its inputs and a GEMM with eh_proj; argmax and next_tokens are
// their kernel ops.
// CHECK-LABEL: func.func @drafting
// CHECK-NEXT: %[[C:.*]] = kernel.argmax %arg0 : tensor<?x1280xf32> -> tensor<?xi32>
// CHECK-NEXT: %[[N:.*]] = kernel.next_tokens %arg1, %arg2, %arg3, %arg4, %[[C]] : tensor<?xi32>
// CHECK-NEXT: %[[EH:.*]] = kernel.concat %arg5, %arg6 : tensor<?x64xf32>, tensor<?x64xf32> -> tensor<?x128xf32>
// CHECK-NEXT: %[[X:.*]] = kernel.gemm %[[EH]] weights [#nn.weight<"eh_proj" : bf16[64, 128]>] : tensor<?x128xf32> -> tensor<?x64xf32>
// CHECK-NEXT: return %[[N]], %[[X]]
func.func @drafting(%logits: tensor<?x1280xf32>, %tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %e: tensor<?x64xf32>, %h: tensor<?x64xf32>) -> (tensor<?xi32>, tensor<?x64xf32>) {
  %ids = nn.argmax %logits : tensor<?x1280xf32> -> tensor<?xi32>
  %next = nn.next_tokens %tokens, %pos, %seq, %rows, %ids : tensor<?xi32>
  %x = nn.mtp_proj %e, %h weight <"eh_proj" : bf16[64, 128]> : tensor<?x64xf32>
  return %next, %x : tensor<?xi32>, tensor<?x64xf32>
}

// -----

// Tests that an op with no kernel lowering is an error.
func.func private @helper(tensor<?x64xf32>) -> tensor<?x64xf32>
func.func @decode(%e: tensor<?x64xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{'func.call' op has no lowering to the kernel dialect}}
  %x = func.call @helper(%e) : (tensor<?x64xf32>) -> tensor<?x64xf32>
  return %x : tensor<?x64xf32>
}
