// Tests of moela-mtp-draft: @mtp_0's body is appended to @prefill and
// @decode, reading the main model's last hidden state (the input of the
// head's gather) and each row's next token (nn.next_tokens over the greedy
// choice of the main logits); the argmax of its logits becomes a second
// result, the drafts.
// RUN: moela-opt %s -split-input-file -verify-diagnostics --pass-pipeline='builtin.module(moela-mtp-draft)' | FileCheck %s

// CHECK-LABEL: func.func @decode
// CHECK-SAME: -> (tensor<?x256xf32>, tensor<?xi32>)
// CHECK: %[[H:.*]] = nn.embedding %arg0 table <"embed"
// CHECK: %[[L:.*]] = nn.lm_head {{.*}} weight <"lm_head"
// CHECK-NEXT: %[[C:.*]] = nn.argmax %[[L]] : tensor<?x256xf32> -> tensor<?xi32>
// CHECK-NEXT: %[[N:.*]] = nn.next_tokens %arg0, %arg1, %arg2, %arg3, %[[C]] : tensor<?xi32>
// CHECK-NEXT: %[[E:.*]] = nn.embedding %[[N]] table <"mtp.embed"
// CHECK-NEXT: %[[EN:.*]] = nn.rms_norm %[[E]] weight <"enorm"
// CHECK-NEXT: %[[HN:.*]] = nn.rms_norm %[[H]] weight <"hnorm"
// CHECK-NEXT: %[[X:.*]] = nn.mtp_proj %[[EN]], %[[HN]] weight <"eh_proj"
// CHECK-NEXT: %[[G:.*]] = nn.gather_rows %[[X]], %arg3
// CHECK-NEXT: %[[SN:.*]] = nn.rms_norm %[[G]] weight <"shared_head.norm"
// CHECK-NEXT: %[[ML:.*]] = nn.lm_head %[[SN]] weight <"shared_head.head"
// CHECK-NEXT: %[[D:.*]] = nn.argmax %[[ML]]
// CHECK-NEXT: return %[[L]], %[[D]] : tensor<?x256xf32>, tensor<?xi32>
// The standalone module is left as it was (the lowering drops it).
// CHECK-LABEL: func.func @mtp_0
// CHECK: return {{.*}} : tensor<?x256xf32>
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x256xf32> {
  %h = nn.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32>
  %last = nn.gather_rows %h, %rows : tensor<?x64xf32> -> tensor<?x64xf32>
  %n = nn.rms_norm %last weight <"norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %logits = nn.lm_head %n weight <"lm_head" : bf16[256, 64]> : tensor<?x64xf32> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}
func.func @mtp_0(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %hidden: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %e = nn.embedding %tokens table <"mtp.embed" : bf16[256, 64]> : tensor<?x64xf32>
  %en = nn.rms_norm %e weight <"enorm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %hn = nn.rms_norm %hidden weight <"hnorm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %x = nn.mtp_proj %en, %hn weight <"eh_proj" : bf16[64, 128]> : tensor<?x64xf32>
  %last = nn.gather_rows %x, %rows : tensor<?x64xf32> -> tensor<?x64xf32>
  %n = nn.rms_norm %last weight <"shared_head.norm" : bf16[64]> eps 1.0e-06 : tensor<?x64xf32>
  %logits = nn.lm_head %n weight <"shared_head.head" : bf16[256, 64]> : tensor<?x64xf32> -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}

// -----

// Tests that a model without an MTP module is an error.
// expected-error @+1 {{moela-mtp-draft: the model has no MTP module (num_nextn_predict_layers is 0)}}
module {
  func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x64xf32> {
    %h = nn.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32>
    return %h : tensor<?x64xf32>
  }
}

// -----

// Tests that a program whose logits do not come from gather_rows, rms_norm
// and lm_head (where the hidden state is found) is an error.
// expected-error @+1 {{moela-mtp-draft: @decode does not end in gather_rows, rms_norm, lm_head}}
func.func @decode(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>) -> tensor<?x64xf32> {
  %h = nn.embedding %tokens table <"embed" : bf16[256, 64]> : tensor<?x64xf32>
  return %h : tensor<?x64xf32>
}
func.func @mtp_0(%tokens: tensor<?xi32>, %pos: tensor<?xi32>, %seq: tensor<?xi32>, %rows: tensor<?xi32>, %hidden: tensor<?x64xf32>) -> tensor<?x64xf32> {
  return %hidden : tensor<?x64xf32>
}
