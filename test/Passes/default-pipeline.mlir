// Tests of the whole default pipeline, moela-default, on a one-layer module
// per program (@prefill: MLA + dense MLP, @decode: MLA + MoE): mla forms are
// chosen (decode absorbed, prefill expanded), the model IR is lowered to
// kernels, prefill's attention runs over the step's own tokens (with an
// absorbed copy, @extend, for chunks that continue a sequence), then fused
// (rope into q_b, q_a + kv_a, kv append,
// absorption, SwiGLU, router (decode only on a GPU), MoE dispatch, add + norm), tiled for the
// target, given a Sample step (moela-sample) and planned. `disable=` leaves
// named optional passes out; their ops stay.
// RUN: moela-opt %s --pass-pipeline='builtin.module(moela-default{target=host max-prefill-tokens=16 max-batch=4})' | FileCheck %s --check-prefixes=CHECK,HOST
// RUN: moela-opt %s --pass-pipeline='builtin.module(moela-default{max-prefill-tokens=16 max-batch=4})' | FileCheck %s --check-prefixes=CHECK,GPU
// RUN: moela-opt %s --pass-pipeline='builtin.module(moela-default{target=host disable=moela-mla-absorb,moela-fuse-add-norm})' | FileCheck %s --check-prefix=DISABLE
// RUN: moela-opt %s --pass-pipeline='builtin.module(moela-default{target=sm_90a disable=moela-mla-expand-prefill,moela-fuse-rope,moela-fuse-qkv-a,moela-mla-fuse-kv-append,moela-mla-absorb,moela-fuse-swiglu,moela-fuse-router,moela-moe-dispatch,moela-fuse-add-norm,moela-tile})' | FileCheck %s --check-prefix=NONE

// The prefill program: one merged q_a/kv_a GEMM, the rope in q_b's
// epilogue, norm and rope inside the cache append, attention expanded over
// the step's tokens (the appended rows read back, one GEMM with kv_b, causal
// attention), add + norm fused, gate/up fused; planned for 16 tokens and 4
// logit rows. Only sm_90a has tiles (128x128 for prefill GEMMs).
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: kernel.arena_bytes =
// CHECK-SAME: kernel.buffer_table = [#kernel.buffer<name = "tokens"
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 16 : i64, moela.fresh_sequences
// CHECK-NEXT: %[[H:.*]] = kernel.embedding
// CHECK-NEXT: %[[X:.*]] = kernel.rms_norm %[[H]] weight <"l0.input_norm"
// CHECK-NEXT: %[[QKV:.*]] = kernel.gemm %[[X]] weights [#nn.weight<"l0.q_a" : bf16[48, 64]>, #nn.weight<"l0.kv_a" : bf16[40, 64]>]
// HOST-NOT: tile
// GPU-SAME: tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
// CHECK-NEXT: %[[QA:.*]] = kernel.slice %[[QKV]][0, 48]
// CHECK-NEXT: %[[QN:.*]] = kernel.rms_norm %[[QA]] weight <"l0.q_norm"
// CHECK-NEXT: %[[KV:.*]] = kernel.slice %[[QKV]][48, 40]
// CHECK-NEXT: %[[C:.*]] = kernel.slice %[[KV]][0, 32]
// CHECK-NEXT: %[[K:.*]] = kernel.slice %[[KV]][32, 8]
// CHECK-NEXT: %[[Q:.*]] = kernel.gemm %[[QN]] positions %arg1 weights [#nn.weight<"l0.q_b" : bf16[96, 48]>] rope <heads = 4, head_dim = 24, offset = 16
// CHECK-NEXT: kernel.kv_append %[[C]], %[[K]], %arg1, %arg2 layer 0 norm <"l0.kv_norm" : bf16[32]> eps {{.*}} rope <heads = 1, head_dim = 8, offset = 0
// CHECK-NEXT: %[[ROWS:.*]] = kernel.kv_gather %arg1, %arg2 layer 0 {{.*}}: tensor<?x40xf32>
// CHECK-NEXT: %[[LAT:.*]] = kernel.slice %[[ROWS]][0, 32]
// CHECK-NEXT: %[[KPE:.*]] = kernel.slice %[[ROWS]][32, 8]
// CHECK-NEXT: %[[KVX:.*]] = kernel.gemm %[[LAT]] weights [#nn.weight<"l0.kv_b" : bf16[128, 32]>]
// GPU-SAME: tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
// CHECK-NEXT: %[[O:.*]] = kernel.mla_prefill_attention %[[Q]], %[[KVX]], %[[KPE]], %arg1 heads 4 nope 16 rope 8 v 16 scale
// CHECK-NEXT: %[[A:.*]] = kernel.gemm %[[O]] weights [#nn.weight<"l0.o" : bf16[64, 64]>]
// CHECK-NEXT: %[[Y:.*]], %[[H1:.*]] = kernel.add_rms_norm %[[H]], %[[A]] weight <"l0.post_norm"
// CHECK-NEXT: %[[M:.*]] = kernel.gemm %[[Y]] weights [#nn.weight<"l0.gate" : bf16[128, 64]>, #nn.weight<"l0.up" : bf16[128, 64]>] silu_mul
// CHECK-NEXT: %[[D:.*]] = kernel.gemm %[[M]] weights [#nn.weight<"l0.down" : bf16[64, 128]>]
// CHECK-NEXT: %[[H2:.*]] = kernel.add %[[H1]], %[[D]]
// CHECK-NEXT: %[[G:.*]] = kernel.gather_rows %[[H2]], %arg3
// CHECK-NEXT: %[[N:.*]] = kernel.rms_norm %[[G]] weight <"norm"
// CHECK-NEXT: %[[L:.*]] = kernel.gemm %[[N]] weights [#nn.weight<"lm_head" : bf16[256, 64]>]
// CHECK-NEXT: %[[IDS:.*]], %[[LP:.*]] = kernel.sample %[[L]], %arg4
// CHECK-NEXT: return %[[L]], %[[IDS]], %[[LP]]

// The extend program: prefill's copy, with the attention absorbed over the
// cache, planned for as many tokens as prefill.
// CHECK-LABEL: func.func @extend
// CHECK-NOT: fresh_sequences
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 16 : i64
// CHECK: kernel.kv_append {{.*}} layer 0
// CHECK-NEXT: kernel.head_gemm %{{.*}} weight <"l0.kv_b" : bf16[128, 32]> heads 4 head_rows 32 row_offset 0 rows 16 transpose
// CHECK-NEXT: kernel.mla_latent_attention
// CHECK-NEXT: kernel.head_gemm %{{.*}} weight <"l0.kv_b" : bf16[128, 32]> heads 4 head_rows 32 row_offset 16 rows 16

// The decode program: absorbed attention decomposed into W_UK^T, latent
// attention and W_UV; the router GEMM fused into the route; the experts
// dispatched; planned for 4 tokens. sm_90a tiles are 64x64.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 4 : i64
// CHECK: kernel.kv_append {{.*}} layer 1 norm <"l1.kv_norm"
// CHECK-NEXT: %[[QL:.*]] = kernel.head_gemm %{{.*}} weight <"l1.kv_b" : bf16[128, 32]> heads 4 head_rows 32 row_offset 0 rows 16 transpose
// GPU-SAME: tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// CHECK-NEXT: %[[OL:.*]] = kernel.mla_latent_attention %[[QL]], {{.*}} layer 1 heads 4 latent 32 rope 8 q_pe_offset 16 q_pe_stride 24
// GPU-SAME: tile <block_m = 64, block_n = 64, block_k = 40, stages = 2, threads = 64>
// CHECK-NEXT: %[[O:.*]] = kernel.head_gemm %[[OL]] weight <"l1.kv_b" : bf16[128, 32]> heads 4 head_rows 32 row_offset 16 rows 16 in_offset 0 in_stride 32
// CHECK-NEXT: %[[A:.*]] = kernel.gemm %[[O]] weights [#nn.weight<"l1.o" : bf16[64, 64]>]
// GPU-SAME: tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// CHECK-NEXT: %[[Y:.*]], %[[H1:.*]] = kernel.add_rms_norm %{{.*}}, %[[A]] weight <"l1.post_norm"
// The router GEMM is fused into routing (f32 logits), in decode also on a
// GPU (a GPU's prefill keeps one GEMM for all tokens: moela-fuse-router).
// CHECK-NEXT: %[[I:.*]], %[[W:.*]] = kernel.route %[[Y]] routing #routing gate <"l1.router" : bf16[8, 64]> bias <"l1.bias" : f32[8]>
// CHECK-NEXT: %[[SA:.*]] = kernel.gemm %[[Y]] weights [#nn.weight<"l1.s.gate" : bf16[32, 64]>, #nn.weight<"l1.s.up" : bf16[32, 64]>] silu_mul
// CHECK-NEXT: %[[S:.*]] = kernel.gemm %[[SA]] weights [#nn.weight<"l1.s.down" : bf16[64, 32]>]
// CHECK-NEXT: %[[XS:.*]], %[[OFF:.*]], %[[PERM:.*]] = kernel.moe_dispatch %[[Y]], %[[I]] experts 8
// CHECK-NEXT: %[[E:.*]] = kernel.grouped_gemm %[[XS]], %[[OFF]] weights <prefix = "l1.experts", {{.*}}> proj gate_up silu_mul
// CHECK-NEXT: %[[YS:.*]] = kernel.grouped_gemm %[[E]], %[[OFF]] weights <prefix = "l1.experts", {{.*}}> proj down
// CHECK-NEXT: %[[MO:.*]] = kernel.moe_combine %[[YS]], %[[W]] perm %[[PERM]] : tensor<?xi32> shared %[[S]]
// CHECK-NEXT: kernel.add %[[H1]], %[[MO]]
// CHECK-NOT: kernel.mla_attention
// CHECK-NOT: kernel.moe_experts

// With moela-mla-absorb and moela-fuse-add-norm disabled, decode keeps the
// whole absorbed kernel.mla_attention and the separate adds and norms.
// DISABLE-LABEL: func.func @prefill
// DISABLE-NOT: add_rms_norm
// DISABLE-LABEL: func.func @decode
// DISABLE: kernel.mla_attention {{.*}} layer 1 {{.*}} form absorbed
// DISABLE-NOT: kernel.head_gemm
// DISABLE-NOT: kernel.mla_latent_attention
// DISABLE: %[[S:.*]] = kernel.add
// DISABLE-NEXT: kernel.rms_norm %[[S]] weight <"l1.post_norm"
// DISABLE-NOT: add_rms_norm

// With every optional pass disabled only the lowering and the memory plan
// run: unfused kernels in both programs (no @extend) and no tiles, even for
// sm_90a.
// NONE-LABEL: func.func @prefill
// NONE-NOT: tile
// NONE: kernel.rope
// NONE: kernel.kv_append {{.*}} layer 0 : tensor<?x32xf32>, tensor<?x8xf32>
// NONE-NEXT: kernel.mla_attention {{.*}} form expanded
// NONE: kernel.silu_mul
// NONE-LABEL: func.func @decode
// NONE-NOT: tile
// NONE: kernel.mla_attention {{.*}} form absorbed
// NONE: kernel.route %{{.*}} routing #routing bias
// NONE: kernel.moe_experts
// NONE: kernel.moe_combine
// NONE-NOT: tile

#rope = #mla.rope<theta = 1.0e4, dim = 8>
#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>
module {
  func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x256xf32> {
    %h = nn.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
    %x = nn.rms_norm %h weight <"l0.input_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("layers.0.input_norm")
    %q = mla.q_proj %x lora(q_a = <"l0.q_a" : bf16[48, 64]>, norm = <"l0.q_norm" : bf16[48]>, q_b = <"l0.q_b" : bf16[96, 48]>, eps = 1.0e-06)
        : tensor<?x64xf32> -> tensor<?x4x24xf32> loc("layers.0.attn.q_proj")
    %c, %k = mla.kv_proj %x kv_a <"l0.kv_a" : bf16[40, 64]> norm <"l0.kv_norm" : bf16[32]> eps 1.0e-06
        : tensor<?x64xf32> -> tensor<?x32xf32>, tensor<?x8xf32> loc("layers.0.attn.kv_proj")
    %qr = mla.rope %q, %pos rope #rope : tensor<?x4x24xf32> loc("layers.0.attn.q_rope")
    %kr = mla.rope %k, %pos rope #rope : tensor<?x8xf32> loc("layers.0.attn.k_rope")
    %o = mla.attention %qr, %c, %kr, %pos, %seq kv_b <"l0.kv_b" : bf16[128, 32]> layer 0 scale 0.25
        : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32> loc("layers.0.attn.core")
    %a = nn.linear %o weight <"l0.o" : bf16[64, 64]> : tensor<?x64xf32> -> tensor<?x64xf32> loc("layers.0.attn.o_proj")
    %h1 = nn.add %h, %a : tensor<?x64xf32> loc("layers.0.attn_residual")
    %y = nn.rms_norm %h1 weight <"l0.post_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("layers.0.post_attn_norm")
    %m = nn.mlp %y gate <"l0.gate" : bf16[128, 64]> up <"l0.up" : bf16[128, 64]> down <"l0.down" : bf16[64, 128]> : tensor<?x64xf32> loc("layers.0.mlp")
    %h2 = nn.add %h1, %m : tensor<?x64xf32> loc("layers.0.ffn_residual")
    %last = nn.gather_rows %h2, %rows : tensor<?x64xf32> -> tensor<?x64xf32> loc("head")
    %n = nn.rms_norm %last weight <"norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("head.norm")
    %logits = nn.lm_head %n weight <"lm_head" : bf16[256, 64]> : tensor<?x64xf32> -> tensor<?x256xf32> loc("head")
    return %logits : tensor<?x256xf32>
  }
  func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x256xf32> {
    %h = nn.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
    %x = nn.rms_norm %h weight <"l1.input_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("layers.1.input_norm")
    %q = mla.q_proj %x lora(q_a = <"l1.q_a" : bf16[48, 64]>, norm = <"l1.q_norm" : bf16[48]>, q_b = <"l1.q_b" : bf16[96, 48]>, eps = 1.0e-06)
        : tensor<?x64xf32> -> tensor<?x4x24xf32> loc("layers.1.attn.q_proj")
    %c, %k = mla.kv_proj %x kv_a <"l1.kv_a" : bf16[40, 64]> norm <"l1.kv_norm" : bf16[32]> eps 1.0e-06
        : tensor<?x64xf32> -> tensor<?x32xf32>, tensor<?x8xf32> loc("layers.1.attn.kv_proj")
    %qr = mla.rope %q, %pos rope #rope : tensor<?x4x24xf32> loc("layers.1.attn.q_rope")
    %kr = mla.rope %k, %pos rope #rope : tensor<?x8xf32> loc("layers.1.attn.k_rope")
    %o = mla.attention %qr, %c, %kr, %pos, %seq kv_b <"l1.kv_b" : bf16[128, 32]> layer 1 scale 0.25
        : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32> loc("layers.1.attn.core")
    %a = nn.linear %o weight <"l1.o" : bf16[64, 64]> : tensor<?x64xf32> -> tensor<?x64xf32> loc("layers.1.attn.o_proj")
    %h1 = nn.add %h, %a : tensor<?x64xf32> loc("layers.1.attn_residual")
    %y = nn.rms_norm %h1 weight <"l1.post_norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("layers.1.post_attn_norm")
    %l = nn.linear %y weight <"l1.router" : bf16[8, 64]> : tensor<?x64xf32> -> tensor<?x8xf32> loc("layers.1.moe.gate")
    %idx, %w = moe.route %l routing #routing bias <"l1.bias" : f32[8]> : tensor<?x8xf32> -> tensor<?x2xi32>, tensor<?x2xf32> loc("layers.1.moe.route")
    %e = moe.experts %y, %idx weights <prefix = "l1.experts", count = 8, hidden = 64, intermediate = 32, dtype = bf16>
        : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x2x64xf32> loc("layers.1.moe.experts")
    %s = moe.shared_expert %y gate <"l1.s.gate" : bf16[32, 64]> up <"l1.s.up" : bf16[32, 64]> down <"l1.s.down" : bf16[64, 32]> : tensor<?x64xf32> loc("layers.1.moe.shared")
    %mo = moe.combine %e, %w shared %s : tensor<?x2x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32> loc("layers.1.moe.combine")
    %h2 = nn.add %h1, %mo : tensor<?x64xf32> loc("layers.1.ffn_residual")
    %last = nn.gather_rows %h2, %rows : tensor<?x64xf32> -> tensor<?x64xf32> loc("head")
    %n = nn.rms_norm %last weight <"norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("head.norm")
    %logits = nn.lm_head %n weight <"lm_head" : bf16[256, 64]> : tensor<?x64xf32> -> tensor<?x256xf32> loc("head")
    return %logits : tensor<?x256xf32>
  }
}
