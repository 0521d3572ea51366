// Every verifier rule of the kernel dialect (dialects/Kernel/KernelOps.cpp,
// KernelDialect.cpp), one case each, plus the type rules the op definitions
// impose; each error names the rule that broke.
// RUN: moela-opt %s -split-input-file -verify-diagnostics

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that #kernel.head_rope needs at least one head.
// expected-error @+1 {{head_rope needs heads >= 1 and head_dim >= 1}}
func.func @head_rope_heads() attributes {r = #kernel.head_rope<heads = 0, head_dim = 96, offset = 64, rope = #rope>} { return }

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that #kernel.head_rope needs a positive head dim.
// expected-error @+1 {{head_rope needs heads >= 1 and head_dim >= 1}}
func.func @head_rope_head_dim() attributes {r = #kernel.head_rope<heads = 4, head_dim = 0, offset = 0, rope = #rope>} { return }

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that the rotated columns end within the head.
// expected-error @+1 {{head_rope rotates columns [80, 112) of a 96-column head (offset + rope dim <= head_dim)}}
func.func @head_rope_past_head() attributes {r = #kernel.head_rope<heads = 4, head_dim = 96, offset = 80, rope = #rope>} { return }

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that the rotated columns start within the head.
// expected-error @+1 {{head_rope rotates columns [-1, 31) of a 96-column head (offset + rope dim <= head_dim)}}
func.func @head_rope_negative_offset() attributes {r = #kernel.head_rope<heads = 4, head_dim = 96, offset = -1, rope = #rope>} { return }

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that kernel.rope covers exactly the input's columns.
func.func @rope_columns(%q: tensor<?x384xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{'kernel.rope' op rotates 3 heads of 96 columns but the input has 384 columns (heads * head_dim)}}
  %0 = kernel.rope %q, %pos rope <heads = 3, head_dim = 96, offset = 64, rope = #rope> : tensor<?x384xf32>
  return
}

// -----

// Tests that kernel.gemm needs at least one weight.
func.func @gemm_no_weights(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op needs at least one weight}}
  %0 = kernel.gemm %x weights [] : tensor<?x192xf32> -> tensor<?x192xf32>
  return
}

// -----

// Tests that every GEMM weight is [N, K] with K the input's columns.
func.func @gemm_weight_cols(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op weight 'up' must be [N, 192] for an input of 192 columns}}
  %0 = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>, #nn.weight<"up" : bf16[448, 160]>] : tensor<?x192xf32> -> tensor<?x896xf32>
  return
}

// -----

// Tests that a GEMM weight has rank 2.
func.func @gemm_weight_rank(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op weight 'norm' must be [N, 192] for an input of 192 columns}}
  %0 = kernel.gemm %x weights [#nn.weight<"norm" : bf16[192]>] : tensor<?x192xf32> -> tensor<?x192xf32>
  return
}

// -----

// Tests that silu_mul needs an even number of weight rows (gate and up halves).
func.func @gemm_silu_mul_odd(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op silu_mul needs an even number of weight rows}}
  %0 = kernel.gemm %x weights [#nn.weight<"w" : bf16[447, 192]>] silu_mul : tensor<?x192xf32> -> tensor<?x223xf32>
  return
}

// -----

// Tests that the result has the concatenated weight's rows as columns.
func.func @gemm_result_cols(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op result has 448 columns, expected 896 (weight rows, halved by silu_mul)}}
  %0 = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>, #nn.weight<"up" : bf16[448, 192]>] : tensor<?x192xf32> -> tensor<?x448xf32>
  return
}

// -----

// Tests that silu_mul halves the result's columns.
func.func @gemm_silu_mul_cols(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op result has 896 columns, expected 448 (weight rows, halved by silu_mul)}}
  %0 = kernel.gemm %x weights [#nn.weight<"gate" : bf16[448, 192]>, #nn.weight<"up" : bf16[448, 192]>] silu_mul : tensor<?x192xf32> -> tensor<?x896xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that a rope epilogue needs the positions operand.
func.func @gemm_rope_positions(%x: tensor<?x160xf32>) {
  // expected-error @+1 {{'kernel.gemm' op a rope epilogue needs the positions operand}}
  %0 = kernel.gemm %x weights [#nn.weight<"q_b" : bf16[384, 160]>] rope <heads = 4, head_dim = 96, offset = 64, rope = #rope> : tensor<?x160xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that positions come only with a rope epilogue.
func.func @gemm_positions_without_rope(%x: tensor<?x160xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{'kernel.gemm' op positions is the operand of a rope epilogue, which is missing}}
  %0 = kernel.gemm %x positions %pos weights [#nn.weight<"q_b" : bf16[384, 160]>] : tensor<?x160xf32> -> tensor<?x384xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that a GEMM's tile has its engine's threads.
func.func @gemm_tile_threads(%x: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.gemm' op a wgmma tile has 384 threads, not 256}}
  %0 = kernel.gemm %x weights [#nn.weight<"w" : bf16[256, 192]>]
      tile <engine = wgmma, block_m = 128, block_n = 256, block_k = 64, stages = 4, threads = 256>
      : tensor<?x192xf32> -> tensor<?x256xf32>
  return
}

// -----

// Tests that a tile names a known engine.
func.func @tile_engine(%x: tensor<?x192xf32>) {
  // expected-error @+3 {{expected ::moela::kernel::GemmEngine to be one of: mma, wgmma}}
  // expected-error @+2 {{failed to parse Kernel_TileAttr parameter 'engine' which is to be a `::moela::kernel::GemmEngine`}}
  %0 = kernel.gemm %x weights [#nn.weight<"w" : bf16[256, 192]>]
      tile <engine = tcgen05, block_m = 128, block_n = 256, block_k = 64, stages = 4, threads = 384>
      : tensor<?x192xf32> -> tensor<?x256xf32>
  return
}

// -----

#rope = #mla.rope<theta = 1.0e4, dim = 32>

// Tests that a rope epilogue covers exactly the result's columns.
func.func @gemm_rope_columns(%x: tensor<?x160xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{'kernel.gemm' op rope epilogue covers 192 columns, the result has 384}}
  %0 = kernel.gemm %x positions %pos weights [#nn.weight<"q_b" : bf16[384, 160]>] rope <heads = 2, head_dim = 96, offset = 64, rope = #rope> : tensor<?x160xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that a residual epilogue has the result's type.
func.func @gemm_residual_type(%x: tensor<?x448xf32>, %h: tensor<?x448xf32>) {
  // expected-error @+1 {{'kernel.gemm' op residual must have the result type}}
  %0 = kernel.gemm %x residual %h : tensor<?x448xf32> weights [#nn.weight<"down" : bf16[192, 448]>] : tensor<?x448xf32> -> tensor<?x192xf32>
  return
}

// -----

// Tests that a precise GEMM multiplies bf16 or f32 weights only.
func.func @gemm_precise_fp8(%x: tensor<?x256xf32>) {
  // expected-error @+1 {{'kernel.gemm' op precise needs bf16 or f32 weights (its two bf16 input halves multiply the weights as they are)}}
  %0 = kernel.gemm %x weights [#nn.weight<"w8" : f8E4M3FN[8, 256], scale "w8_scale_inv"[1, 2]>] precise : tensor<?x256xf32> -> tensor<?x8xf32>
  return
}

// -----

// Tests that kernel.head_gemm's weight holds heads * head_rows rows.
func.func @head_gemm_weight_rows(%q: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op weight 'kv_b' must have heads * head_rows = 448 rows}}
  %0 = kernel.head_gemm %q weight <"kv_b" : bf16[440, 96]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that kernel.head_gemm's weight has rank 2.
func.func @head_gemm_weight_rank(%q: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op weight 'kv_b' must have heads * head_rows = 448 rows}}
  %0 = kernel.head_gemm %q weight <"kv_b" : bf16[448]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that the row block ends within each head's rows.
func.func @head_gemm_row_block(%o: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op row block [64, 128) must lie within head_rows = 112}}
  %0 = kernel.head_gemm %o weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 64 rows 64 in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x256xf32>
  return
}

// -----

// Tests that the row block starts within each head's rows.
func.func @head_gemm_negative_offset(%o: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op row block [-1, 47) must lie within head_rows = 112}}
  %0 = kernel.head_gemm %o weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset -1 rows 48 in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x192xf32>
  return
}

// -----

// Tests that the last head's input columns lie within the input (transposed:
// each head reads `rows` columns).
func.func @head_gemm_input_transposed(%q: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op head 3 reads past the input's 384 columns}}
  %0 = kernel.head_gemm %q weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset 64 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that the last head's input columns lie within the input (plain: each
// head reads the weight's columns).
func.func @head_gemm_input(%o: tensor<?x380xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op head 3 reads past the input's 380 columns}}
  %0 = kernel.head_gemm %o weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 64 rows 48 in_offset 0 in_stride 96 : tensor<?x380xf32> -> tensor<?x192xf32>
  return
}

// -----

// Tests that the first head's input columns start within the input.
func.func @head_gemm_negative_in_offset(%q: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op head 3 reads past the input's 384 columns}}
  %0 = kernel.head_gemm %q weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset -8 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that a transposed head GEMM produces heads * weight columns.
func.func @head_gemm_result_transposed(%q: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op result must have heads * 96 = 384 columns}}
  %0 = kernel.head_gemm %q weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x256xf32>
  return
}

// -----

// Tests that a plain head GEMM produces heads * rows columns.
func.func @head_gemm_result(%o: tensor<?x384xf32>) {
  // expected-error @+1 {{'kernel.head_gemm' op result must have heads * 48 = 192 columns}}
  %0 = kernel.head_gemm %o weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 64 rows 48 in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
  return
}

// -----

// Tests that a slice ends within the input's columns.
func.func @slice_past_end(%kv: tensor<?x128xf32>) {
  // expected-error @+1 {{'kernel.slice' op columns [96, 136) exceed the input's 128}}
  %0 = kernel.slice %kv [96, 40] : tensor<?x128xf32> -> tensor<?x40xf32>
  return
}

// -----

// Tests that a slice starts within the input's columns.
func.func @slice_negative_offset(%kv: tensor<?x128xf32>) {
  // expected-error @+1 {{'kernel.slice' op columns [-8, 24) exceed the input's 128}}
  %0 = kernel.slice %kv [-8, 32] : tensor<?x128xf32> -> tensor<?x32xf32>
  return
}

// -----

// Tests that a slice is not empty.
func.func @slice_empty(%kv: tensor<?x128xf32>) {
  // expected-error @+1 {{'kernel.slice' op columns [0, 0) exceed the input's 128}}
  %0 = kernel.slice %kv [0, 0] : tensor<?x128xf32> -> tensor<?x1xf32>
  return
}

// -----

// Tests that a slice's result has `size` columns.
func.func @slice_result(%kv: tensor<?x128xf32>) {
  // expected-error @+1 {{'kernel.slice' op result must have 32 columns}}
  %0 = kernel.slice %kv [96, 32] : tensor<?x128xf32> -> tensor<?x96xf32>
  return
}

// -----

// Tests that kernel tensors are f32 (the storage dtype is the planner's choice).
func.func @tensor_element_type(%a: tensor<?x192xbf16>) {
  // expected-error @+1 {{'kernel.add' op operand #0 must be ranked tensor of 32-bit float values}}
  %0 = "kernel.add"(%a, %a) : (tensor<?x192xbf16>, tensor<?x192xbf16>) -> tensor<?x192xbf16>
  return
}

// -----

// Tests that positions are a 1-D i32 index vector.
func.func @positions_type(%q: tensor<?x32xf32>, %pos: tensor<?x1xi32>) {
  // expected-error @+1 {{'kernel.rope' op operand #1 must be}}
  %0 = "kernel.rope"(%q, %pos) {rope = #kernel.head_rope<heads = 1, head_dim = 32, offset = 0, rope = #mla.rope<theta = 1.0e4, dim = 32>>} : (tensor<?x32xf32>, tensor<?x1xi32>) -> tensor<?x32xf32>
  return
}

// -----

// Tests that kernel.add_rms_norm's inputs, normed result and sum share one type.
func.func @add_rms_norm_types(%x: tensor<?x192xf32>, %h: tensor<?x64xf32>) {
  // expected-error @+1 {{'kernel.add_rms_norm' op failed to verify that all of {input, residual, result, sum} have same type}}
  %0:2 = "kernel.add_rms_norm"(%x, %h) {weight = #nn.weight<"n" : bf16[192]>, eps = 1.0e-06 : f64} : (tensor<?x192xf32>, tensor<?x64xf32>) -> (tensor<?x192xf32>, tensor<?x192xf32>)
  return
}

// -----

// Tests that a grouped GEMM's offsets are i32.
func.func @grouped_gemm_offsets(%xs: tensor<?x192xf32>, %offsets: tensor<17xf32>) {
  // expected-error @+1 {{'kernel.grouped_gemm' op operand #1 must be ranked tensor of 32-bit signless integer values}}
  %0 = kernel.grouped_gemm %xs, %offsets weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = bf16> proj gate_up silu_mul : tensor<?x192xf32>, tensor<17xf32> -> tensor<?x64xf32>
  return
}

// -----

// Tests that a grouped GEMM names its projection with an ExpertProj value.
func.func @grouped_gemm_proj(%xs: tensor<?x192xf32>, %offsets: tensor<17xi32>) {
  // expected-error @+1 {{custom op 'kernel.grouped_gemm' expected string or keyword containing one of the following enum values for attribute 'proj' [gate_up, down]}}
  %0 = kernel.grouped_gemm %xs, %offsets weights <prefix = "e", count = 16, hidden = 192, intermediate = 64, dtype = bf16> proj up : tensor<?x192xf32>, tensor<17xi32> -> tensor<?x64xf32>
  return
}

// -----

// Tests that a buffer's row kind is one of token, logit_row, fixed.
// expected-error @+2 {{expected ::moela::kernel::RowKind to be one of: token, logit_row, fixed}}
// expected-error @+1 {{failed to parse Kernel_BufferAttr parameter 'rows'}}
func.func @buffer_row_kind() attributes {b = #kernel.buffer<name = "x", dtype = f32, rows = slot, row_factor = 1, cols = 1, offset = 0, bytes = 256>} { return }

// -----

// Tests that prefill attention checks its operands' widths against the dims
// (kv must be heads * (nope + v) = 448 columns).
func.func @prefill_attention_kv(%q: tensor<?x384xf32>, %kv: tensor<?x384xf32>, %kpe: tensor<?x32xf32>, %pos: tensor<?xi32>) {
  // expected-error @+1 {{'kernel.mla_prefill_attention' op kv (heads * (nope + v)) must have 448 columns, has 384}}
  %o = kernel.mla_prefill_attention %q, %kv, %kpe, %pos heads 4 nope 64 rope 32 v 48
      scale 2.500000e-01 : tensor<?x384xf32>, tensor<?x384xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
  return
}

// -----

// Tests that a concat's result has the columns of both inputs.
func.func @concat_cols(%a: tensor<?x192xf32>) {
  // expected-error @+1 {{'kernel.concat' op result must have 192 + 192 columns}}
  %ab = kernel.concat %a, %a : tensor<?x192xf32>, tensor<?x192xf32> -> tensor<?x383xf32>
  return
}
