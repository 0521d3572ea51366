// Tests of moela-mla-absorb: an absorbed kernel.mla_attention becomes
// q_lat = W_UK^T q_nope per head, attention over the latent cache, and
// o = W_UV o_lat per head; W_UK and W_UV are row blocks of kv_b_proj
// ([H*(Dn+Dv), R]: per head Dn rows of W_UK then Dv rows of W_UV). Expanded
// attention is left whole.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(func.func(moela-mla-absorb))' | FileCheck %s

// Tests the decomposition with the fixture's dims (H 4, Dn 64, Dr 32, Dv 48,
// R 96): the query is [T, 4*96]; W_UK^T reads the Dn nope columns of each
// head (stride Dn+Dr); the latent attention takes q_pe from columns
// 64 + h*96; W_UV reads the R columns of each head of o_lat.
// CHECK-LABEL: func.func @absorbed
// CHECK-NEXT: %[[QL:.*]] = kernel.head_gemm %arg0 weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 0 rows 64 transpose in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x384xf32>
// CHECK-NEXT: %[[OL:.*]] = kernel.mla_latent_attention %[[QL]], %arg0, %arg1, %arg2 layer 5 heads 4 latent 96 rope 32 q_pe_offset 64 q_pe_stride 96 scale 2.500000e-01 : tensor<?x384xf32>, tensor<?x384xf32> -> tensor<?x384xf32>
// CHECK-NEXT: %[[O:.*]] = kernel.head_gemm %[[OL]] weight <"kv_b" : bf16[448, 96]> heads 4 head_rows 112 row_offset 64 rows 48 in_offset 0 in_stride 96 : tensor<?x384xf32> -> tensor<?x192xf32>
// CHECK-NEXT: return %[[O]] : tensor<?x192xf32>
func.func @absorbed(%q: tensor<?x384xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 5
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.5e-01 form absorbed
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}

// -----

// Tests the decomposition with the tiny model's dims (H 4, Dn 16, Dr 8,
// Dv 16, R 32) and an FP8 kv_b.
// CHECK-LABEL: func.func @absorbed_tiny_fp8
// CHECK-NEXT: %[[QL:.*]] = kernel.head_gemm %arg0 weight <"kv_b" : f8E4M3FN[128, 32], scale "kv_b_scale_inv"[1, 1]> heads 4 head_rows 32 row_offset 0 rows 16 transpose in_offset 0 in_stride 24 : tensor<?x96xf32> -> tensor<?x128xf32>
// CHECK-NEXT: %[[OL:.*]] = kernel.mla_latent_attention %[[QL]], %arg0, %arg1, %arg2 layer 0 heads 4 latent 32 rope 8 q_pe_offset 16 q_pe_stride 24 scale {{.*}} : tensor<?x128xf32>, tensor<?x96xf32> -> tensor<?x128xf32>
// CHECK-NEXT: kernel.head_gemm %[[OL]] weight <"kv_b" : f8E4M3FN[128, 32], scale "kv_b_scale_inv"[1, 1]> heads 4 head_rows 32 row_offset 16 rows 16 in_offset 0 in_stride 32 : tensor<?x128xf32> -> tensor<?x64xf32>
// CHECK-NOT: kernel.mla_attention
func.func @absorbed_tiny_fp8(%q: tensor<?x96xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : f8E4M3FN[128, 32], scale "kv_b_scale_inv"[1, 1]> layer 0
      heads 4 nope 16 rope 8 v 16 latent 32 scale 0.26464225796422675 form absorbed
      : tensor<?x96xf32> -> tensor<?x64xf32>
  return %o : tensor<?x64xf32>
}

// -----

// Tests that expanded attention is NOT absorbed (prefill expands the keys
// and values once for many queries).
// CHECK-LABEL: func.func @expanded
// CHECK-NEXT: %[[O:.*]] = kernel.mla_attention %arg0, %arg1, %arg2 kv_b <"kv_b" : bf16[448, 96]> layer 0 heads 4 nope 64 rope 32 v 48 latent 96 scale 2.500000e-01 form expanded : tensor<?x384xf32> -> tensor<?x192xf32>
// CHECK-NEXT: return %[[O]]
// CHECK-NOT: kernel.head_gemm
func.func @expanded(%q: tensor<?x384xf32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x192xf32> {
  %o = kernel.mla_attention %q, %pos, %seq kv_b <"kv_b" : bf16[448, 96]> layer 0
      heads 4 nope 64 rope 32 v 48 latent 96 scale 2.5e-01 form expanded
      : tensor<?x384xf32> -> tensor<?x192xf32>
  return %o : tensor<?x192xf32>
}
