// Tests of moela-tile: on sm_90a every GEMM, grouped GEMM, per-head GEMM and
// attention gets a tile from the target description (132 SMs, 227 KiB of
// shared memory per block, wgmma): 128x128 tiles for the many rows of
// @prefill, 64x64 tiles for the few rows of @decode, eight warps each, a K
// step of 128 (one scale block) for FP8 and 64 for bf16, and as many
// pipeline stages as fit in shared memory (2..8). The host target has no
// tiles; an unknown target or gemm-kernel is an error of the option.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{target=sm_90a}))' | FileCheck %s --check-prefix=SM90
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile))' | FileCheck %s --check-prefix=SM90
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{target=host}))' | FileCheck %s --check-prefix=HOST
// RUN: not moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{target=sm_80}))' 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{gemm-kernel=wgmma}))' | FileCheck %s --check-prefix=WGMMA
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{gemm-kernel=mma}))' | FileCheck %s --check-prefix=SM90
// RUN: not moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{gemm-kernel=tcgen05}))' 2>&1 | FileCheck %s --check-prefix=BADKERNEL
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-tile{target=sm_90a max-prefill-tokens=4096}))' | FileCheck %s --check-prefix=LONG

// BAD: for the --target option: Cannot find option named 'sm_80'!
// BADKERNEL: for the --gemm-kernel option: Cannot find option named 'tcgen05'!

// Tests gemm-kernel=wgmma: kernel.gemm gets the wgmma engine (which the
// emitter instantiates as GemmWgmma.cuh) and that kernel's tiles and 384
// threads: 128x256x64 for bf16 weights and 128x128x64 otherwise for the many
// rows of @prefill, 64x64x64 for few rows; stages as the kernel's layout
// gives for bf16 activations (4 for 128x256 bf16, 5 for FP8 weights, 3 for
// mixed (counted as f32), 8 for 64x64). Grouped and per-head GEMMs keep the
// mma.sync tiles.

// Tests prefill shapes: bf16 GEMMs take 128x128x64 tiles in 7 stages
// (7 * (128+128)*64*2 B fit in 227 KiB), FP8 GEMMs 128x128x128 in 7 stages;
// a GEMM mixing bf16 and FP8 weights counts as bf16; grouped GEMMs follow
// their expert dtype; attention and norms are as below.
// SM90-LABEL: func.func @prefill
// SM90: kernel.gemm %arg0 weights [#nn.weight<"bf16" : bf16[256, 64]>] tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
// SM90: kernel.gemm %arg0 weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>] tile <block_m = 128, block_n = 128, block_k = 128, stages = 7, threads = 256>
// SM90: kernel.gemm %arg0 weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>, #nn.weight<"bf16" : bf16[256, 64]>] tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
// SM90: kernel.grouped_gemm {{.*}} dtype = f8E4M3FN> proj gate_up silu_mul tile <block_m = 128, block_n = 128, block_k = 128, stages = 7, threads = 256>
// SM90: kernel.grouped_gemm {{.*}} dtype = bf16> proj down tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
// SM90: kernel.mla_attention {{.*}} form expanded tile <block_m = 1, block_n = 64, block_k = 24, stages = 1, threads = 256>
// SM90: kernel.rms_norm
// SM90-NOT: tile
// SM90: return
// WGMMA-LABEL: func.func @prefill
// WGMMA: kernel.gemm %arg0 weights [#nn.weight<"bf16" : bf16[256, 64]>] tile <engine = wgmma, block_m = 128, block_n = 256, block_k = 64, stages = 4, threads = 384>
// WGMMA: kernel.gemm %arg0 weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>] tile <engine = wgmma, block_m = 128, block_n = 128, block_k = 64, stages = 5, threads = 384>
// WGMMA: kernel.gemm %arg0 weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>, #nn.weight<"bf16" : bf16[256, 64]>] tile <engine = wgmma, block_m = 128, block_n = 128, block_k = 64, stages = 3, threads = 384>
// WGMMA: kernel.grouped_gemm {{.*}} dtype = f8E4M3FN> proj gate_up silu_mul tile <block_m = 128, block_n = 128, block_k = 128, stages = 7, threads = 256>
// WGMMA: kernel.grouped_gemm {{.*}} dtype = bf16> proj down tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
// HOST-LABEL: func.func @prefill
// HOST-NOT: tile
// HOST: return
func.func @prefill(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %q: tensor<?x96xf32>,
                   %xs: tensor<?x64xf32>, %off: tensor<9xi32>) {
  %a = kernel.gemm %x weights [#nn.weight<"bf16" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32>
  %b = kernel.gemm %x weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>] : tensor<?x64xf32> -> tensor<?x256xf32>
  %c = kernel.gemm %x weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>, #nn.weight<"bf16" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x512xf32>
  %g = kernel.grouped_gemm %xs, %off weights <prefix = "e", count = 8, hidden = 64, intermediate = 32, dtype = f8E4M3FN> proj gate_up silu_mul
      : tensor<?x64xf32>, tensor<9xi32> -> tensor<?x32xf32>
  %d = kernel.grouped_gemm %g, %off weights <prefix = "e", count = 8, hidden = 64, intermediate = 32, dtype = bf16> proj down
      : tensor<?x32xf32>, tensor<9xi32> -> tensor<?x64xf32>
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 0 heads 4 nope 16 rope 8 v 16 latent 32 scale 0.25 form expanded
      : tensor<?x96xf32> -> tensor<?x64xf32>
  %n = kernel.rms_norm %d weight <"n" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  return
}

// -----

// Tests decode shapes: 64x64 tiles with 256 threads and the deepest
// pipeline (8 stages) for bf16 and FP8 GEMMs and grouped GEMMs; per-head
// GEMMs 64x64x64 in 4 stages; latent attention 64 heads x 64 positions with
// the whole cache row (R + Dr) as K.
// SM90-LABEL: func.func @decode
// SM90: kernel.gemm %arg0 weights [#nn.weight<"bf16" : bf16[256, 64]>] tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// SM90: kernel.gemm %arg0 weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>] tile <block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256>
// SM90: kernel.grouped_gemm {{.*}} proj gate_up silu_mul tile <block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256>
// SM90: kernel.head_gemm {{.*}} transpose in_offset 0 in_stride 24 tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// SM90: kernel.mla_latent_attention {{.*}} tile <block_m = 64, block_n = 64, block_k = 40, stages = 2, threads = 64>
// SM90: kernel.head_gemm {{.*}} in_offset 0 in_stride 32 tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// WGMMA-LABEL: func.func @decode
// WGMMA: kernel.gemm %arg0 weights [#nn.weight<"bf16" : bf16[256, 64]>] tile <engine = wgmma, block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 384>
// WGMMA: kernel.gemm %arg0 weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>] tile <engine = wgmma, block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 384>
// WGMMA: kernel.grouped_gemm {{.*}} proj gate_up silu_mul tile <block_m = 64, block_n = 64, block_k = 128, stages = 8, threads = 256>
// WGMMA: kernel.head_gemm {{.*}} tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// HOST-LABEL: func.func @decode
// HOST-NOT: tile
// HOST: return
func.func @decode(%x: tensor<?x64xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %q: tensor<?x96xf32>,
                  %xs: tensor<?x64xf32>, %off: tensor<9xi32>) -> tensor<?x64xf32> {
  %a = kernel.gemm %x weights [#nn.weight<"bf16" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32>
  %b = kernel.gemm %x weights [#nn.weight<"fp8" : f8E4M3FN[256, 64], scale "fp8_scale_inv"[2, 1]>] : tensor<?x64xf32> -> tensor<?x256xf32>
  %g = kernel.grouped_gemm %xs, %off weights <prefix = "e", count = 8, hidden = 64, intermediate = 32, dtype = f8E4M3FN> proj gate_up silu_mul
      : tensor<?x64xf32>, tensor<9xi32> -> tensor<?x32xf32>
  %ql = kernel.head_gemm %q weight <"kv_b" : bf16[128, 32]> heads 4 head_rows 32 row_offset 0 rows 16 transpose in_offset 0 in_stride 24
      : tensor<?x96xf32> -> tensor<?x128xf32>
  %ol = kernel.mla_latent_attention %ql, %q, %pos, %seq layer 0 heads 4 latent 32 rope 8 q_pe_offset 16 q_pe_stride 24 scale 0.25
      : tensor<?x128xf32>, tensor<?x96xf32> -> tensor<?x128xf32>
  %o = kernel.head_gemm %ol weight <"kv_b" : bf16[128, 32]> heads 4 head_rows 32 row_offset 16 rows 16 in_offset 0 in_stride 32
      : tensor<?x128xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Tests that a function other than @prefill (an MTP draft) is tiled for few
// rows, like @decode.
// SM90-LABEL: func.func @mtp_0
// SM90: tile <block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 256>
// WGMMA-LABEL: func.func @mtp_0
// WGMMA: tile <engine = wgmma, block_m = 64, block_n = 64, block_k = 64, stages = 8, threads = 384>
// HOST-LABEL: func.func @mtp_0
// HOST-NOT: tile
func.func @mtp_0(%x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %a = kernel.gemm %x weights [#nn.weight<"bf16" : bf16[256, 64]>] : tensor<?x64xf32> -> tensor<?x256xf32>
  return %a : tensor<?x256xf32>
}

// -----

// Tests that a precise GEMM (the prefill router) gets the 64-row mma.sync
// tile even in @prefill and with gemm-kernel=wgmma: the split f32 input has
// only that form.
// SM90-LABEL: func.func @prefill
// SM90: precise tile <block_m = 64, block_n = 64, block_k = 64, stages = 7, threads = 256>
// WGMMA-LABEL: func.func @prefill
// WGMMA: precise tile <block_m = 64, block_n = 64, block_k = 64, stages = 7, threads = 256>
func.func @prefill(%x: tensor<?x64xf32>) -> tensor<?x8xf32> {
  %a = kernel.gemm %x weights [#nn.weight<"gate" : bf16[8, 64]>] precise : tensor<?x64xf32> -> tensor<?x8xf32>
  return %a : tensor<?x8xf32>
}

// -----

// Tests that a prefill's grouped GEMMs whose experts get under 128 rows on
// average (max-prefill-tokens 2048 x top-8 / 256 experts = 64) take 64 x 128
// tiles, and 128 x 128 from 128 rows on (4096 tokens); the top-k is the
// width of the dispatch's indices.
// SM90-LABEL: func.func @prefill
// SM90: kernel.grouped_gemm {{.*}} proj gate_up silu_mul tile <block_m = 64, block_n = 128, block_k = 128, stages = 8, threads = 256>
// SM90: kernel.grouped_gemm {{.*}} proj down tile <block_m = 64, block_n = 128, block_k = 64, stages = 8, threads = 256>
// LONG-LABEL: func.func @prefill
// LONG: kernel.grouped_gemm {{.*}} proj gate_up silu_mul tile <block_m = 128, block_n = 128, block_k = 128, stages = 7, threads = 256>
// LONG: kernel.grouped_gemm {{.*}} proj down tile <block_m = 128, block_n = 128, block_k = 64, stages = 7, threads = 256>
func.func @prefill(%x: tensor<?x64xf32>, %idx: tensor<?x8xi32>) -> tensor<?x64xf32> {
  %xs, %off, %perm = kernel.moe_dispatch %x, %idx experts 256 : tensor<?x64xf32>, tensor<?x8xi32> -> tensor<?x64xf32>, tensor<257xi32>, tensor<?xi32>
  %g = kernel.grouped_gemm %xs, %off weights <prefix = "e", count = 256, hidden = 64, intermediate = 32, dtype = f8E4M3FN> proj gate_up silu_mul
      : tensor<?x64xf32>, tensor<257xi32> -> tensor<?x32xf32>
  %d = kernel.grouped_gemm %g, %off weights <prefix = "e", count = 256, hidden = 64, intermediate = 32, dtype = bf16> proj down
      : tensor<?x32xf32>, tensor<257xi32> -> tensor<?x64xf32>
  return %d : tensor<?x64xf32>
}
