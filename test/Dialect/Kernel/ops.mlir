// Round trip of every kernel op and attribute: each op with and without its
// optional parts (epilogues, tiles, fused norm/rope, perm/shared/residual),
// #kernel.tile, #kernel.head_rope, #kernel.buffer with every row kind, and
// the planner's discardable attributes on functions and ops.
// RUN: moela-opt %s | moela-opt | FileCheck %s
// RUN: moela-opt %s --mlir-print-op-generic | moela-opt | FileCheck %s

#rope = #mla.rope<theta = 1.0e4, dim = 32>
#qrope = #kernel.head_rope<heads = 4, head_dim = 96, offset = 64, rope = #rope>
#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 16, top_k = 4, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests that kernel.embedding keeps its table.
// CHECK-LABEL: func.func @embedding
// CHECK: kernel.embedding %{{.*}} table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x192xf32>
func.func @embedding(%tokens: tensor<?xi32>) -> tensor<?x192xf32> {
  %h = kernel.embedding %tokens table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x192xf32>
  return %h : tensor<?x192xf32>
}

// Tests that kernel.rms_norm round-trips with and without `quantize`.
// CHECK-LABEL: func.func @rms_norm
// CHECK: kernel.rms_norm %{{.*}} weight <"n" : bf16[192]> eps 9.9999999999999995E-7 : tensor<?x192xf32>
// CHECK: kernel.rms_norm %{{.*}} weight <"n" : bf16[192]> eps 9.9999999999999995E-7 quantize : tensor<?x192xf32>
func.func @rms_norm(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %a = kernel.rms_norm %x weight <"n" : bf16[192]> eps 1.0e-06 : tensor<?x192xf32>
  %b = kernel.rms_norm %a weight <"n" : bf16[192]> eps 1.0e-06 quantize : tensor<?x192xf32>
  return %b : tensor<?x192xf32>
}

// Tests that kernel.add_rms_norm has two results (normed value, sum) and
// round-trips with and without `quantize`.
// CHECK-LABEL: func.func @add_rms_norm
// CHECK: %{{.*}}, %{{.*}} = kernel.add_rms_norm %{{.*}}, %{{.*}} weight <"n" : bf16[192]> eps 9.9999999999999995E-7 : tensor<?x192xf32>
// CHECK: %{{.*}}, %{{.*}} = kernel.add_rms_norm %{{.*}}, %{{.*}} weight <"n" : bf16[192]> eps 9.9999999999999995E-7 quantize : tensor<?x192xf32>
func.func @add_rms_norm(%x: tensor<?x192xf32>, %h: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %y, %sum = kernel.add_rms_norm %x, %h weight <"n" : bf16[192]> eps 1.0e-06 : tensor<?x192xf32>
  %y2, %sum2 = kernel.add_rms_norm %y, %sum weight <"n" : bf16[192]> eps 1.0e-06 quantize : tensor<?x192xf32>
  return %sum2 : tensor<?x192xf32>
}

// Tests the element-wise ops kernel.add and kernel.silu_mul.
// CHECK-LABEL: func.func @elementwise
// CHECK: kernel.add %{{.*}}, %{{.*}} : tensor<?x192xf32>
// CHECK: kernel.silu_mul %{{.*}}, %{{.*}} : tensor<?x192xf32>
func.func @elementwise(%a: tensor<?x192xf32>, %b: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %c = kernel.add %a, %b : tensor<?x192xf32>
  %d = kernel.silu_mul %c, %b : tensor<?x192xf32>
  return %d : tensor<?x192xf32>
}

// Tests that kernel.rope keeps its #kernel.head_rope (written as an alias or
// inline), for per-head queries and for the single shared k_pe head.
// CHECK-LABEL: func.func @rope
// CHECK: kernel.rope %{{.*}}, %{{.*}} rope <heads = 4, head_dim = 96, offset = 64, rope = #{{.*}}> : tensor<?x384xf32>
// CHECK: kernel.rope %{{.*}}, %{{.*}} rope <heads = 1, head_dim = 32, offset = 0, rope = #{{.*}}> : tensor<?x32xf32>
func.func @rope(%q: tensor<?x384xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>) -> tensor<?x384xf32> {
  %q2 = kernel.rope %q, %pos rope #qrope : tensor<?x384xf32>
  %k2 = kernel.rope %k, %pos rope <heads = 1, head_dim = 32, offset = 0, rope = #rope> : tensor<?x32xf32>
  return %q2 : tensor<?x384xf32>
}

// Tests every form of kernel.gemm: plain, concatenated weights with
// silu_mul, a rope epilogue with positions, a residual epilogue, FP8
// weights with block scales, and a tile of each engine (mma, the default,
// is not printed); `precise` (split f32 input).
// CHECK-LABEL: func.func @gemm
// CHECK: kernel.gemm %{{.*}} weights [#nn.weight<"o" : bf16[192, 384]>] : tensor<?x384xf32> -> tensor<?x192xf32>
// CHECK: kernel.gemm %{{.*}} weights [#nn.weight<"gate" : bf16[8, 384]>] precise : tensor<?x384xf32> -> tensor<?x8xf32>
// CHECK: kernel.gemm %{{.*}} weights [#nn.weight<"gate" : bf16[448, 192]>, #nn.weight<"up" : bf16[448, 192]>] silu_mul : tensor<?x192xf32> -> tensor<?x448xf32>
// CHECK: kernel.gemm %{{.*}} positions %{{.*}} weights [#nn.weight<"q_b" : bf16[384, 160]>] rope <heads = 4, head_dim = 96, offset = 64, rope = #{{.*}}> : tensor<?x160xf32> -> tensor<?x384xf32>
// CHECK: kernel.gemm %{{.*}} residual %{{.*}} : tensor<?x192xf32> weights [#nn.weight<"down" : bf16[192, 448]>] : tensor<?x448xf32> -> tensor<?x192xf32>
// CHECK: kernel.gemm %{{.*}} weights [#nn.weight<"w8" : f8E4M3FN[256, 192], scale "w8_scale_inv"[2, 2]>] tile <block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256> : tensor<?x192xf32> -> tensor<?x256xf32>
// CHECK: kernel.gemm %{{.*}} weights [#nn.weight<"w8" : f8E4M3FN[256, 192], scale "w8_scale_inv"[2, 2]>] tile <block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256> : tensor<?x192xf32> -> tensor<?x256xf32>
// CHECK: kernel.gemm %{{.*}} weights [#nn.weight<"w8" : f8E4M3FN[256, 192], scale "w8_scale_inv"[2, 2]>] tile <engine = wgmma, block_m = 128, block_n = 128, block_k = 64, stages = 5, threads = 384> : tensor<?x192xf32> -> tensor<?x256xf32>
func.func @gemm(%x: tensor<?x192xf32>, %o: tensor<?x384xf32>, %c: tensor<?x160xf32>,
                %pos: tensor<?xi32>) -> tensor<?x192xf32> {
  %a = kernel.gemm %o weights [#nn.weight<"o" : bf16[192, 384]>] : tensor<?x384xf32> -> tensor<?x192xf32>
  %g = kernel.gemm %o weights [#nn.weight<"gate" : bf16[8, 384]>] precise : tensor<?x384xf32> -> tensor<?x8xf32>
  %b = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>, #nn.weight<"up" : bf16[448, 192]>] silu_mul
      : tensor<?x192xf32> -> tensor<?x448xf32>
  %q = kernel.gemm %c positions %pos weights [#nn.weight<"q_b" : bf16[384, 160]>]
      rope <heads = 4, head_dim = 96, offset = 64, rope = #rope> : tensor<?x160xf32> -> tensor<?x384xf32>
  %r = kernel.gemm %b residual %a : tensor<?x192xf32> weights [#nn.weight<"down" : bf16[192, 448]>]
      : tensor<?x448xf32> -> tensor<?x192xf32>
  %f = kernel.gemm %x weights [#nn.weight<"w8" : f8E4M3FN[256, 192], scale "w8_scale_inv"[2, 2]>]
      tile <block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256>
      : tensor<?x192xf32> -> tensor<?x256xf32>
  %fm = kernel.gemm %x weights [#nn.weight<"w8" : f8E4M3FN[256, 192], scale "w8_scale_inv"[2, 2]>]
      tile <engine = mma, block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256>
      : tensor<?x192xf32> -> tensor<?x256xf32>
  %fw = kernel.gemm %x weights [#nn.weight<"w8" : f8E4M3FN[256, 192], scale "w8_scale_inv"[2, 2]>]
      tile <engine = wgmma, block_m = 128, block_n = 128, block_k = 64, stages = 5, threads = 384>
      : tensor<?x192xf32> -> tensor<?x256xf32>
  return %r : tensor<?x192xf32>
}

// Tests kernel.kv_append without fusion and with the latent norm and the
// k_pe rope fused in.
// CHECK-LABEL: func.func @kv_append
// CHECK: kernel.kv_append %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} layer 0 : tensor<?x96xf32>, tensor<?x32xf32>
// CHECK: kernel.kv_append %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} layer 7 norm <"kv_norm" : bf16[96]> eps 9.9999999999999995E-7 rope <heads = 1, head_dim = 32, offset = 0, rope = #{{.*}}> : tensor<?x96xf32>, tensor<?x32xf32>
func.func @kv_append(%c: tensor<?x96xf32>, %k: tensor<?x32xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) {
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x96xf32>, tensor<?x32xf32>
  kernel.kv_append %c, %k, %pos, %seq layer 7 norm <"kv_norm" : bf16[96]> eps 1.0e-06
      rope <heads = 1, head_dim = 32, offset = 0, rope = #rope> : tensor<?x96xf32>, tensor<?x32xf32>
  return
}

// Tests kernel.mla_attention in both forms, with and without a tile.
// CHECK-LABEL: func.func @mla_attention
// CHECK: kernel.mla_attention %{{.*}}, %{{.*}}, %{{.*}} kv_b <"kv_b" : bf16[448, 96]> layer 0 heads 4 nope 64 rope 32 v 48 latent 96 scale 2.500000e-01 form expanded : tensor<?x384xf32> -> tensor<?x192xf32>
// CHECK: kernel.mla_attention %{{.*}}, %{{.*}}, %{{.*}} kv_b <"kv_b" : bf16[448, 96]> layer 2 heads 4 nope 64 rope 32 v 48 latent 96 scale 2.500000e-01 form absorbed tile <block_m = 64, block_n = 64, block_k = 96, stages = 2, threads = 128> : tensor<?x384xf32> -> tensor<?x192xf32>
func.func @mla_attention(%q: tensor<?x384xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %a = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.500000e-01 form expanded
      : tensor<?x384xf32> -> tensor<?x192xf32>
  %b = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 2
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.500000e-01 form absorbed
      tile <block_m = 64, block_n = 64, block_k = 96, stages = 2, threads = 128>
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %b : tensor<?x192xf32>
}

// Tests the absorbed decomposition: kernel.head_gemm (transposed W_UK and
// plain W_UV, with and without a tile) around kernel.mla_latent_attention.
// CHECK-LABEL: func.func @absorbed_parts
// CHECK: kernel.head_gemm %{{.*}} weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
// CHECK: kernel.mla_latent_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} layer 0 heads 4 latent 96 rope 32 q_pe_offset 64 q_pe_stride 96 scale 2.500000e-01 : tensor<?x384xf32>, tensor<?x384xf32> -> tensor<?x384xf32>
// CHECK: kernel.mla_latent_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} layer 0 heads 4 latent 96 rope 32 q_pe_offset 64 q_pe_stride 96 scale 2.500000e-01 tile <block_m = 64, block_n = 64, block_k = 128, stages = 2, threads = 256> : tensor<?x384xf32>, tensor<?x384xf32> -> tensor<?x384xf32>
// CHECK: kernel.head_gemm %{{.*}} weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 64 rows 48 in_offset 0 in_stride 96 tile <block_m = 64, block_n = 64, block_k = 64, stages = 4, threads = 128> : tensor<?x384xf32> -> tensor<?x192xf32>
func.func @absorbed_parts(%q: tensor<?x384xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %q_lat = kernel.head_gemm %q weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112
      row_offset 0 rows 64 transpose in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
  %o_lat = kernel.mla_latent_attention %q_lat, %q, %pos, %seq layer 0 heads 4 latent 96 rope 32
      q_pe_offset 64 q_pe_stride 96 scale 2.500000e-01
      : tensor<?x384xf32>, tensor<?x384xf32> -> tensor<?x384xf32>
  %o_lat2 = kernel.mla_latent_attention %q_lat, %q, %pos, %seq layer 0 heads 4 latent 96 rope 32
      q_pe_offset 64 q_pe_stride 96 scale 2.500000e-01
      tile <block_m = 64, block_n = 64, block_k = 128, stages = 2, threads = 256>
      : tensor<?x384xf32>, tensor<?x384xf32> -> tensor<?x384xf32>
  %o = kernel.head_gemm %o_lat2 weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112
      row_offset 64 rows 48 in_offset 0 in_stride 96
      tile <block_m = 64, block_n = 64, block_k = 64, stages = 4, threads = 128>
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// Tests the expanded prefill parts: kernel.kv_gather and
// kernel.mla_prefill_attention.
// CHECK-LABEL: func.func @prefill_parts
// CHECK: kernel.kv_gather %{{.*}}, %{{.*}} layer 2 : tensor<?x128xf32>
// CHECK: kernel.mla_prefill_attention %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} heads 4 nope 64 rope 32 v 48 scale 2.500000e-01 : tensor<?x384xf32>, tensor<?x448xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
func.func @prefill_parts(%q: tensor<?x384xf32>, %kv: tensor<?x448xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %rows = kernel.kv_gather %pos, %seq layer 2 : tensor<?x128xf32>
  %kpe = kernel.slice %rows [96, 32] : tensor<?x128xf32> -> tensor<?x32xf32>
  %o = kernel.mla_prefill_attention %q, %kv, %kpe, %pos heads 4 nope 64 rope 32 v 48
      scale 2.500000e-01 : tensor<?x384xf32>, tensor<?x448xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// Tests kernel.next_tokens and kernel.concat (in-program MTP drafting).
// CHECK-LABEL: func.func @drafting
// CHECK: kernel.next_tokens %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<?xi32>
// CHECK: kernel.concat %{{.*}}, %{{.*}} : tensor<?x192xf32>, tensor<?x192xf32> -> tensor<?x384xf32>
func.func @drafting(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %ids: tensor<?xi32>, %a: tensor<?x192xf32>) -> (tensor<?xi32>, tensor<?x384xf32>) {
  %next = kernel.next_tokens %tokens, %pos, %seq, %rows, %ids : tensor<?xi32>
  %ab = kernel.concat %a, %a : tensor<?x192xf32>, tensor<?x192xf32> -> tensor<?x384xf32>
  return %next, %ab : tensor<?xi32>, tensor<?x384xf32>
}

// Tests kernel.route on router logits, and with the gate GEMM fused in; the
// correction bias is optional in both.
// CHECK-LABEL: func.func @route
// CHECK: %{{.*}}, %{{.*}} = kernel.route %{{.*}} routing #{{.*}} : tensor<?x16xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
// CHECK: %{{.*}}, %{{.*}} = kernel.route %{{.*}} routing #{{.*}} gate <"gate" : bf16[16, 192]> bias <"bias" : f32[16]> : tensor<?x192xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
func.func @route(%logits: tensor<?x16xf32>, %x: tensor<?x192xf32>) -> tensor<?x4xi32> {
  %i1, %w1 = kernel.route %logits routing #routing : tensor<?x16xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  %i2, %w2 = kernel.route %x routing #routing gate <"gate" : bf16[16, 192]> bias <"bias" : f32[16]>
      : tensor<?x192xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
  return %i2 : tensor<?x4xi32>
}

// Tests the reference MoE form: kernel.moe_experts and a kernel.moe_combine
// with only the required operands.
// CHECK-LABEL: func.func @moe_reference
// CHECK: kernel.moe_experts %{{.*}}, %{{.*}} weights <prefix = "model.layers.1.mlp.experts", count = 16, hidden = 192, intermediate = 64, dtype = bf16> : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>
// CHECK: kernel.moe_combine %{{.*}}, %{{.*}} : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
func.func @moe_reference(%x: tensor<?x192xf32>, %idx: tensor<?x4xi32>, %w: tensor<?x4xf32>) -> tensor<?x192xf32> {
  %y = kernel.moe_experts %x, %idx weights <prefix = "model.layers.1.mlp.experts", count = 16, hidden = 192, intermediate = 64, dtype = bf16>
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>
  %out = kernel.moe_combine %y, %w : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %out : tensor<?x192xf32>
}

// Tests the dispatched MoE form: kernel.moe_dispatch, kernel.grouped_gemm
// with each ExpertProj value (gate_up with silu_mul, down with a tile), and
// kernel.moe_combine with perm, shared and residual.
// CHECK-LABEL: func.func @moe_dispatched
// CHECK: %{{.*}}, %{{.*}}, %{{.*}} = kernel.moe_dispatch %{{.*}}, %{{.*}} experts 16 : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>, tensor<17xi32>, tensor<?xi32>
// CHECK: kernel.grouped_gemm %{{.*}}, %{{.*}} weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = f8E4M3FN> proj gate_up silu_mul : tensor<?x192xf32>, tensor<17xi32> -> tensor<?x64xf32>
// CHECK: kernel.grouped_gemm %{{.*}}, %{{.*}} weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = f8E4M3FN> proj down tile <block_m = 128, block_n = 128, block_k = 128, stages = 6, threads = 384> : tensor<?x64xf32>, tensor<17xi32> -> tensor<?x192xf32>
// CHECK: kernel.moe_combine %{{.*}}, %{{.*}} perm %{{.*}} : tensor<?xi32> shared %{{.*}} : tensor<?x192xf32> residual %{{.*}} : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
func.func @moe_dispatched(%x: tensor<?x192xf32>, %idx: tensor<?x4xi32>, %w: tensor<?x4xf32>,
                          %s: tensor<?x192xf32>, %h: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %xs, %offsets, %perm = kernel.moe_dispatch %x, %idx experts 16
      : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>, tensor<17xi32>, tensor<?xi32>
  %a = kernel.grouped_gemm %xs, %offsets weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = f8E4M3FN>
      proj gate_up silu_mul : tensor<?x192xf32>, tensor<17xi32> -> tensor<?x64xf32>
  %ys = kernel.grouped_gemm %a, %offsets weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = f8E4M3FN>
      proj down tile <block_m = 128, block_n = 128, block_k = 128, stages = 6, threads = 384>
      : tensor<?x64xf32>, tensor<17xi32> -> tensor<?x192xf32>
  %out = kernel.moe_combine %ys, %w perm %perm : tensor<?xi32> shared %s : tensor<?x192xf32>
      residual %h : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %out : tensor<?x192xf32>
}

// Tests kernel.moe_combine with only a shared expert, and with only a residual.
// CHECK-LABEL: func.func @moe_combine_parts
// CHECK: kernel.moe_combine %{{.*}}, %{{.*}} shared %{{.*}} : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
// CHECK: kernel.moe_combine %{{.*}}, %{{.*}} residual %{{.*}} : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
func.func @moe_combine_parts(%y: tensor<?x192xf32>, %w: tensor<?x4xf32>, %s: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %a = kernel.moe_combine %y, %w shared %s : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  %b = kernel.moe_combine %y, %w residual %a : tensor<?x192xf32> : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
  return %b : tensor<?x192xf32>
}

// Tests the head ops: kernel.gather_rows, kernel.argmax and a column
// kernel.slice.
// CHECK-LABEL: func.func @head
// CHECK: kernel.gather_rows %{{.*}}, %{{.*}} : tensor<?x192xf32>
// CHECK: kernel.argmax %{{.*}} : tensor<?x1280xf32> -> tensor<?xi32>
// CHECK: kernel.slice %{{.*}}[96, 32] : tensor<?x128xf32> -> tensor<?x32xf32>
func.func @head(%h: tensor<?x192xf32>, %rows: tensor<?xi32>, %logits: tensor<?x1280xf32>,
                %kv: tensor<?x128xf32>) -> tensor<?xi32> {
  %y = kernel.gather_rows %h, %rows : tensor<?x192xf32>
  %ids = kernel.argmax %logits : tensor<?x1280xf32> -> tensor<?xi32>
  %k = kernel.slice %kv [96, 32] : tensor<?x128xf32> -> tensor<?x32xf32>
  return %ids : tensor<?xi32>
}

// Tests the memory planner's annotations: a buffer table with every row kind
// (token with a row factor, logit_row, fixed) and storage dtype, the arena
// attributes, buffer ids on arguments and on every result (a slice shares
// its input's buffer).
// CHECK-LABEL: func.func @planned
// CHECK-SAME: %{{.*}}: tensor<?xi32> {kernel.buffer_ids = 0 : i64}
// CHECK-SAME: kernel.arena_bytes = 1048576 : i64
// CHECK-SAME: kernel.buffer_table = [#kernel.buffer<name = "tokens", dtype = i32, rows = token, row_factor = 1, cols = 1, offset = 0, bytes = 256>, #kernel.buffer<name = "layers.1.moe.dispatch#0", dtype = bf16, rows = token, row_factor = 8, cols = 7168, offset = 256, bytes = 4096>, #kernel.buffer<name = "offsets", dtype = i32, rows = fixed, row_factor = 257, cols = 1, offset = 4352, bytes = 1280>, #kernel.buffer<name = "head", dtype = f32, rows = logit_row, row_factor = 1, cols = 1280, offset = 8192, bytes = 327680>]
// CHECK-SAME: kernel.max_logit_rows = 64 : i64, kernel.max_tokens = 2048 : i64
// CHECK: kernel.embedding {{.*}} {kernel.buffer_ids = array<i64: 1>}
// CHECK: kernel.slice {{.*}} {kernel.buffer_ids = array<i64: 1>}
func.func @planned(%tokens: tensor<?xi32> {kernel.buffer_ids = 0 : i64}) -> tensor<?x64xf32>
    attributes {kernel.arena_bytes = 1048576 : i64,
                kernel.buffer_table = [
                  #kernel.buffer<name = "tokens", dtype = i32, rows = token, row_factor = 1, cols = 1, offset = 0, bytes = 256>,
                  #kernel.buffer<name = "layers.1.moe.dispatch#0", dtype = bf16, rows = token, row_factor = 8, cols = 7168, offset = 256, bytes = 4096>,
                  #kernel.buffer<name = "offsets", dtype = i32, rows = fixed, row_factor = 257, cols = 1, offset = 4352, bytes = 1280>,
                  #kernel.buffer<name = "head", dtype = f32, rows = logit_row, row_factor = 1, cols = 1280, offset = 8192, bytes = 327680>],
                kernel.max_logit_rows = 64 : i64, kernel.max_tokens = 2048 : i64} {
  %h = kernel.embedding %tokens table <"e" : bf16[1280, 192]> {kernel.buffer_ids = array<i64: 1>} : tensor<?x192xf32>
  %s = kernel.slice %h [0, 64] {kernel.buffer_ids = array<i64: 1>} : tensor<?x192xf32> -> tensor<?x64xf32>
  return %s : tensor<?x64xf32>
}
