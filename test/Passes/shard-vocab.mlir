// Tests of moela-shard-vocab: the embedding table and the lm_head weight are
// cut by vocab rows. Each rank looks up the tokens of its rows (zero rows
// elsewhere, summed by nn.all_reduce) and computes the logits of its rows
// (side by side again after nn.all_gather). A vocabulary that does not divide
// stays whole.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-vocab{ranks=2 target=host})' | FileCheck %s
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-shard-vocab{ranks=3 target=host})' | FileCheck %s --check-prefix=WHOLE

// CHECK: module attributes {moela.layout = {ranks = 2 : i64, tp = 1 : i64, vocab_parallel}}
// CHECK-LABEL: func.func @vocab
// CHECK: %[[E:.*]] = nn.embedding %arg0 table <"embed" : bf16[640, 192], shard 0 of 2> : tensor<?x192xf32>
// CHECK: %[[H:.*]] = nn.all_reduce %[[E]] ranks 2 : tensor<?x192xf32>
// CHECK: %[[L:.*]] = nn.lm_head %[[H]] weight <"head" : bf16[640, 192], shard 0 of 2> : tensor<?x192xf32> -> tensor<?x640xf32>
// CHECK: %[[G:.*]] = nn.all_gather %[[L]] ranks 2 : tensor<?x640xf32> -> tensor<?x1280xf32>
// CHECK: return %[[G]]
// WHOLE-NOT: moela.layout
// WHOLE: nn.embedding %arg0 table <"embed" : bf16[1280, 192]>
// WHOLE-NOT: nn.all_
func.func @vocab(%tokens: tensor<?xi32>) -> tensor<?x1280xf32> {
  %h = nn.embedding %tokens table <"embed" : bf16[1280, 192]> : tensor<?x192xf32>
  %l = nn.lm_head %h weight <"head" : bf16[1280, 192]> : tensor<?x192xf32> -> tensor<?x1280xf32>
  return %l : tensor<?x1280xf32>
}
