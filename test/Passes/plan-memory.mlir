// Tests of moela-plan-memory: every kernel tensor gets a buffer (a slice
// shares its input's), each buffer a row kind (token, logit_row, fixed) with
// a row factor, a storage dtype for the target, a lifetime over the op
// sequence and an arena offset; buffers whose lifetimes are disjoint share
// memory (first fit by decreasing size, 256-byte aligned). The function gets
// the buffer table, the arena size and the row limits it was planned for;
// every op result and argument gets its buffer id.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-plan-memory{target=host max-prefill-tokens=16 max-batch=4})' | FileCheck %s --check-prefixes=CHECK,HOST
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-plan-memory{target=sm_90a max-prefill-tokens=16 max-batch=4})' | FileCheck %s --check-prefixes=CHECK,GPU
// RUN: not moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-plan-memory{max-batch=0})' 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: moela-plan-memory: max-prefill-tokens and max-batch must be >= 1

// Tests a small prefill program, at T = 16 tokens and R = min(16, 4) logit
// rows: the four inputs are named buffers (tokens, positions and seq_ids per
// token, logit_rows per logit row) alive throughout; op results are named by
// their location; the slices of kv_a alias its buffer (id 5) and keep it
// alive until the append; gather_rows and what follows it have one row per
// logit row. Lifetimes: embed [0, 5], kv_a [1, 4], head [5, 6], logits
// [6, end]: logits reuses embed's offset 0 and head reuses kv_a's 4096.
// Sizes: embed 16 x 64 x 4 B, kv_a 16 x 40 x 4 B, an i32 input 64 B rounded
// up to 256. On sm_90a `head` (read only as a GEMM's A operand) is bf16.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: (%{{.*}}: tensor<?xi32> {kernel.buffer_ids = 0 : i64}, %{{.*}}: tensor<?xi32> {kernel.buffer_ids = 1 : i64}, %{{.*}}: tensor<?xi32> {kernel.buffer_ids = 2 : i64}, %{{.*}}: tensor<?xi32> {kernel.buffer_ids = 3 : i64})
// CHECK-SAME: kernel.arena_bytes = 7680 : i64
// CHECK-SAME: kernel.buffer_table = [
// CHECK-SAME: #kernel.buffer<name = "tokens", dtype = i32, rows = token, row_factor = 1, cols = 1, offset = 6656, bytes = 256>,
// CHECK-SAME: #kernel.buffer<name = "positions", dtype = i32, rows = token, row_factor = 1, cols = 1, offset = 6912, bytes = 256>,
// CHECK-SAME: #kernel.buffer<name = "seq_ids", dtype = i32, rows = token, row_factor = 1, cols = 1, offset = 7168, bytes = 256>,
// CHECK-SAME: #kernel.buffer<name = "logit_rows", dtype = i32, rows = logit_row, row_factor = 1, cols = 1, offset = 7424, bytes = 256>,
// CHECK-SAME: #kernel.buffer<name = "embed", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 0, bytes = 4096>,
// CHECK-SAME: #kernel.buffer<name = "kv_a", dtype = f32, rows = token, row_factor = 1, cols = 40, offset = 4096, bytes = 2560>,
// HOST-SAME:  #kernel.buffer<name = "head", dtype = f32, rows = logit_row, row_factor = 1, cols = 64, offset = 4096, bytes = 1024>,
// GPU-SAME:   #kernel.buffer<name = "head", dtype = bf16, rows = logit_row, row_factor = 1, cols = 64, offset = 4096, bytes = 512>,
// CHECK-SAME: #kernel.buffer<name = "logits", dtype = f32, rows = logit_row, row_factor = 1, cols = 256, offset = 0, bytes = 4096>]
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 16 : i64
// CHECK-NEXT: kernel.embedding {{.*}} {kernel.buffer_ids = array<i64: 4>}
// CHECK-NEXT: kernel.gemm {{.*}} {kernel.buffer_ids = array<i64: 5>}
// CHECK-NEXT: kernel.slice {{.*}}[0, 32] {kernel.buffer_ids = array<i64: 5>}
// CHECK-NEXT: kernel.slice {{.*}}[32, 8] {kernel.buffer_ids = array<i64: 5>}
// CHECK-NEXT: kernel.kv_append
// CHECK-NOT: buffer_ids
// CHECK-SAME: : tensor<?x32xf32>, tensor<?x8xf32>
// CHECK-NEXT: kernel.gather_rows {{.*}} {kernel.buffer_ids = array<i64: 6>}
// CHECK-NEXT: kernel.gemm {{.*}} {kernel.buffer_ids = array<i64: 7>}
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x256xf32> {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  %kv = kernel.gemm %e weights [#nn.weight<"kv_a" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32> loc("kv_a")
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32> loc("latent")
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32> loc("k_pe")
  kernel.kv_append %c, %k, %pos, %seq layer 0 : tensor<?x32xf32>, tensor<?x8xf32> loc("append")
  %g = kernel.gather_rows %e, %rows : tensor<?x64xf32> loc("head")
  %l = kernel.gemm %g weights [#nn.weight<"lm_head" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32> loc("logits")
  return %l : tensor<?x256xf32>
}

// -----

// Tests liveness-based reuse on a chain a -> b -> c -> d of equal buffers:
// lifetimes a [0, 1], b [1, 2], c [2, 3], d [3, end]. Buffers alive at the
// same op never overlap (b != a, the input and output of one op), buffers
// with disjoint lifetimes share an offset (c takes a's 0, d takes b's 4096),
// and the arena is 2 x 4096 + the input: 8448 bytes, not 4 x 4096 + 256.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: kernel.arena_bytes = 8448 : i64
// CHECK-SAME: #kernel.buffer<name = "tokens", dtype = i32, rows = token, row_factor = 1, cols = 1, offset = 8192, bytes = 256>
// CHECK-SAME: #kernel.buffer<name = "a", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 0, bytes = 4096>
// CHECK-SAME: #kernel.buffer<name = "b", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 4096, bytes = 4096>
// CHECK-SAME: #kernel.buffer<name = "c", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 0, bytes = 4096>
// CHECK-SAME: #kernel.buffer<name = "d", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 4096, bytes = 4096>
func.func @prefill(%tokens: tensor<?xi32>) -> tensor<?x64xf32> {
  %a = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("a")
  %b = kernel.rms_norm %a weight <"n" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("b")
  %c = kernel.rms_norm %b weight <"n" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("c")
  %d = kernel.rms_norm %c weight <"n" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("d")
  return %d : tensor<?x64xf32>
}

// -----

#routing = #moe.routing<scoring = sigmoid, method = noaux_tc, experts = 8, top_k = 2, groups = 4, topk_groups = 2, norm_topk_prob = true, scaling = 2.5>

// Tests the row kinds of MoE tensors (K = 2): routing results have one row
// per token; the sorted rows, the permutation and the grouped GEMMs' results
// one per routed slot (row factor K); the E + 1 = 9 expert offsets are a
// fixed-size buffer; a combine is back to one row per token (from its
// weights); moe_experts has one row per slot. Multi-result ops name their
// buffers name#i. On sm_90a the dispatched rows and the gate_up result
// (only read as grouped GEMMs' A operands) are bf16.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: #kernel.buffer<name = "route#0", dtype = i32, rows = token, row_factor = 1, cols = 2,
// CHECK-SAME: #kernel.buffer<name = "route#1", dtype = f32, rows = token, row_factor = 1, cols = 2,
// HOST-SAME:  #kernel.buffer<name = "dispatch#0", dtype = f32, rows = token, row_factor = 2, cols = 64, offset = {{[0-9]+}}, bytes = 8192>
// GPU-SAME:   #kernel.buffer<name = "dispatch#0", dtype = bf16, rows = token, row_factor = 2, cols = 64, offset = {{[0-9]+}}, bytes = 4096>
// CHECK-SAME: #kernel.buffer<name = "dispatch#1", dtype = i32, rows = fixed, row_factor = 9, cols = 1, offset = {{[0-9]+}}, bytes = 256>
// CHECK-SAME: #kernel.buffer<name = "dispatch#2", dtype = i32, rows = token, row_factor = 2, cols = 1,
// HOST-SAME:  #kernel.buffer<name = "gate_up", dtype = f32, rows = token, row_factor = 2, cols = 32, offset = {{[0-9]+}}, bytes = 4096>
// GPU-SAME:   #kernel.buffer<name = "gate_up", dtype = bf16, rows = token, row_factor = 2, cols = 32, offset = {{[0-9]+}}, bytes = 2048>
// CHECK-SAME: #kernel.buffer<name = "down", dtype = f32, rows = token, row_factor = 2, cols = 64, offset = {{[0-9]+}}, bytes = 8192>
// CHECK-SAME: #kernel.buffer<name = "combine", dtype = f32, rows = token, row_factor = 1, cols = 64,
// CHECK-SAME: #kernel.buffer<name = "experts", dtype = f32, rows = token, row_factor = 2, cols = 64,
// CHECK-SAME: #kernel.buffer<name = "combine2", dtype = f32, rows = token, row_factor = 1, cols = 64,
// CHECK: kernel.route {{.*}} {kernel.buffer_ids = array<i64: 5, 6>}
// CHECK: kernel.moe_dispatch {{.*}} {kernel.buffer_ids = array<i64: 7, 8, 9>}
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x64xf32> {
  %x = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  %idx, %w = kernel.route %x routing #routing gate <"gate" : bf16[8, 64]> : tensor<?x64xf32> -> tensor<?x2xi32>, tensor<?x2xf32> loc("route")
  %xs, %off, %perm = kernel.moe_dispatch %x, %idx experts 8 : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32>, tensor<9xi32>, tensor<?xi32> loc("dispatch")
  %a = kernel.grouped_gemm %xs, %off weights <prefix = "e", count = 8, hidden = 64, intermediate = 32, dtype = bf16> proj gate_up silu_mul : tensor<?x64xf32>, tensor<9xi32> -> tensor<?x32xf32> loc("gate_up")
  %ys = kernel.grouped_gemm %a, %off weights <prefix = "e", count = 8, hidden = 64, intermediate = 32, dtype = bf16> proj down : tensor<?x32xf32>, tensor<9xi32> -> tensor<?x64xf32> loc("down")
  %o = kernel.moe_combine %ys, %w perm %perm : tensor<?xi32> residual %x : tensor<?x64xf32> : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32> loc("combine")
  %y = kernel.moe_experts %o, %idx weights <prefix = "e", count = 8, hidden = 64, intermediate = 32, dtype = bf16> : tensor<?x64xf32>, tensor<?x2xi32> -> tensor<?x64xf32> loc("experts")
  %z = kernel.moe_combine %y, %w : tensor<?x64xf32>, tensor<?x2xf32> -> tensor<?x64xf32> loc("combine2")
  return %z : tensor<?x64xf32>
}

// -----

// Tests the storage dtypes in a decode program (T = max-batch = 4): the host
// keeps everything in f32 (i32 for indices); on sm_90a a tensor is bf16 only
// when every read of it, also through slices, is the A operand of a GEMM or
// per-head GEMM: `norm` (read by one GEMM) and `kv` (its slices feed a
// per-head GEMM and a GEMM). `embed` (also read by an add), `p` (a GEMM's
// residual operand), and the returned `r`/`sum` stay f32.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: #kernel.buffer<name = "tokens", dtype = i32, rows = token, row_factor = 1, cols = 1,
// CHECK-SAME: #kernel.buffer<name = "embed", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 0, bytes = 1024>
// HOST-SAME:  #kernel.buffer<name = "norm", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 1024, bytes = 1024>
// GPU-SAME:   #kernel.buffer<name = "norm", dtype = bf16, rows = token, row_factor = 1, cols = 64, offset = 1024, bytes = 512>
// HOST-SAME:  #kernel.buffer<name = "kv", dtype = f32, rows = token, row_factor = 1, cols = 40, offset = 3072, bytes = 768>
// GPU-SAME:   #kernel.buffer<name = "kv", dtype = bf16, rows = token, row_factor = 1, cols = 40, offset = 3072, bytes = 512>
// CHECK-SAME: #kernel.buffer<name = "p", dtype = f32, rows = token, row_factor = 1, cols = 64,
// CHECK-SAME: #kernel.buffer<name = "r", dtype = f32, rows = token, row_factor = 1, cols = 64,
// CHECK-SAME: #kernel.buffer<name = "sum", dtype = f32, rows = token, row_factor = 1, cols = 64,
// CHECK-SAME: #kernel.buffer<name = "argmax", dtype = i32, rows = token, row_factor = 1, cols = 1,
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 4 : i64
func.func @decode(%tokens: tensor<?xi32>) -> (tensor<?x64xf32>, tensor<?xi32>) {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc("embed")
  %n = kernel.rms_norm %e weight <"norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32> loc("norm")
  %kv = kernel.gemm %n weights [#nn.weight<"kv" : bf16[40, 64]>] : tensor<?x64xf32> -> tensor<?x40xf32> loc("kv")
  %c = kernel.slice %kv [0, 32] : tensor<?x40xf32> -> tensor<?x32xf32> loc("c")
  %k = kernel.slice %kv [32, 8] : tensor<?x40xf32> -> tensor<?x8xf32> loc("k")
  %p = kernel.head_gemm %c weight <"wp" : bf16[64, 8]> heads 4 head_rows 16 row_offset 0 rows 16 in_offset 0 in_stride 8 : tensor<?x32xf32> -> tensor<?x64xf32> loc("p")
  %r = kernel.gemm %k residual %p : tensor<?x64xf32> weights [#nn.weight<"wr" : bf16[64, 8]>] : tensor<?x8xf32> -> tensor<?x64xf32> loc("r")
  %a = kernel.add %e, %r : tensor<?x64xf32> loc("sum")
  %ids = kernel.argmax %a : tensor<?x64xf32> -> tensor<?xi32> loc("argmax")
  return %a, %ids : tensor<?x64xf32>, tensor<?xi32>
}

// -----

// Tests that every function of the module is planned, @prefill at
// max-prefill-tokens rows per step and the others at max-batch, and that a
// fused location names its buffer with "+".
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: #kernel.buffer<name = "layers.0.attn_residual+layers.0.post_attn_norm", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 0, bytes = 4096>
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 16 : i64
// CHECK-LABEL: func.func @decode
// CHECK-SAME: #kernel.buffer<name = "layers.0.attn_residual+layers.0.post_attn_norm", dtype = f32, rows = token, row_factor = 1, cols = 64, offset = 0, bytes = 1024>
// CHECK-SAME: kernel.max_logit_rows = 4 : i64, kernel.max_tokens = 4 : i64
func.func @prefill(%tokens: tensor<?xi32>) -> tensor<?x64xf32> {
  %a = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc(fused["layers.0.attn_residual", "layers.0.post_attn_norm"])
  return %a : tensor<?x64xf32>
}
func.func @decode(%tokens: tensor<?xi32>) -> tensor<?x64xf32> {
  %a = kernel.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32> loc(fused["layers.0.attn_residual", "layers.0.post_attn_norm"])
  return %a : tensor<?x64xf32>
}

// -----

// Tests W8A8 storage (docs/model.md §3.4): on sm_90a the output of a norm marked
// `quantize` (and only that output, not the fused add's sum) is FP8, and it
// names in `scales` a companion f32 buffer with its rows and one column per
// 128 (ceil(200 / 128) = 2) that lives exactly as long. The host computes in
// f32 and has no scales.
// CHECK-LABEL: func.func @prefill
// GPU-SAME:   #kernel.buffer<name = "norm", dtype = f8E4M3FN, rows = token, row_factor = 1, cols = 200, offset = {{[0-9]+}}, bytes = 3328, scales = 6>
// HOST-SAME:  #kernel.buffer<name = "norm", dtype = f32, rows = token, row_factor = 1, cols = 200, offset = {{[0-9]+}}, bytes = 12800>,
// GPU-SAME:   #kernel.buffer<name = "norm.scales", dtype = f32, rows = token, row_factor = 1, cols = 2, offset = {{[0-9]+}}, bytes = 256>
// CHECK-SAME: #kernel.buffer<name = "sum", dtype = f32, rows = token, row_factor = 1, cols = 200,
// GPU-SAME:   #kernel.buffer<name = "post#0", dtype = f8E4M3FN, {{.*}}, scales = 10>
// GPU-SAME:   #kernel.buffer<name = "post#0.scales", dtype = f32,
// CHECK-SAME: #kernel.buffer<name = "post#1", dtype = f32,
func.func @prefill(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x200xf32> {
  %e = kernel.embedding %tokens table <"embed" : bf16[256, 200]> : tensor<?x200xf32> loc("embed")
  %n = kernel.rms_norm %e weight <"norm_w" : bf16[200]> eps 1.0e-06 quantize : tensor<?x200xf32> loc("norm")
  %g = kernel.gemm %n weights [#nn.weight<"w" : f8E4M3FN[200, 200], scale "w_scale_inv"[2, 2]>] : tensor<?x200xf32> -> tensor<?x200xf32> loc("gemm")
  %s = kernel.add %e, %g : tensor<?x200xf32> loc("sum")
  %y, %s2 = kernel.add_rms_norm %s, %g weight <"post_w" : bf16[200]> eps 1.0e-06 quantize : tensor<?x200xf32> loc("post")
  %h = kernel.gemm %y weights [#nn.weight<"w2" : f8E4M3FN[200, 200], scale "w2_scale_inv"[2, 2]>] : tensor<?x200xf32> -> tensor<?x200xf32> loc("gemm2")
  %o = kernel.add %s2, %h : tensor<?x200xf32> loc("out")
  return %o : tensor<?x200xf32>
}
