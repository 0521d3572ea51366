// Tests of moela-shard-mlp: a dense MLP's intermediate dim is cut over the
// ranks (gate and up by rows, down by columns) and nn.all_reduce sums the
// ranks' outputs. On a GPU target an FP8 slice must fill whole 128x128
// scale blocks; the host target splits anywhere.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-mlp{ranks=2 target=host})' | FileCheck %s
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-mlp{ranks=3 target=host})' | FileCheck %s --check-prefix=THREE
// RUN: not moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-mlp{ranks=2 target=sm_90a})' -o /dev/null 2>&1 | FileCheck %s --check-prefix=GPU

// CHECK-LABEL: func.func @mlp
// CHECK: %[[M:.*]] = nn.mlp %arg0 gate <"gate" : bf16[192, 192], shard 0 of 2> up <"up" : bf16[192, 192], shard 0 of 2> down <"down" : bf16[192, 192], shard 1 of 2>
// CHECK: %[[S:.*]] = nn.all_reduce %[[M]] ranks 2
// CHECK: return %[[S]]
// A world size that is not a power of two.
// THREE-LABEL: func.func @mlp
// THREE: nn.mlp %arg0 gate <"gate" : bf16[128, 192], shard 0 of 3> up <"up" : bf16[128, 192], shard 0 of 3> down <"down" : bf16[192, 128], shard 1 of 3>
// THREE: nn.all_reduce {{.*}} ranks 3
func.func @mlp(%x: tensor<?x192xf32>) -> tensor<?x192xf32> {
  %y = nn.mlp %x gate <"gate" : bf16[384, 192]> up <"up" : bf16[384, 192]> down <"down" : bf16[192, 384]> : tensor<?x192xf32>
  return %y : tensor<?x192xf32>
}

// -----

// FP8 with 384 intermediate rows: halves of 192 rows cut the 128-row scale
// blocks, which the GPU kernels cannot serve.
// CHECK-LABEL: func.func @fp8
// CHECK: nn.mlp %arg0 gate <"g" : f8E4M3FN[192, 256], scale "g_scale_inv"[2, 2], shard 0 of 2>
// THREE: nn.mlp %arg0 gate <"g" : f8E4M3FN[128, 256], scale "g_scale_inv"[1, 2], shard 0 of 3>
// GPU: error: cannot split FP8 'g' [384, 256] along dim 0 into 2 parts for sm_90a: a slice of 192 is not a multiple of the 128x128 scale blocks the GPU kernels read (the host target splits anywhere)
func.func @fp8(%x: tensor<?x256xf32>) -> tensor<?x256xf32> {
  %y = nn.mlp %x gate <"g" : f8E4M3FN[384, 256], scale "g_scale_inv"[3, 2]> up <"u" : f8E4M3FN[384, 256], scale "u_scale_inv"[3, 2]> down <"d" : f8E4M3FN[256, 384], scale "d_scale_inv"[2, 3]> : tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}
