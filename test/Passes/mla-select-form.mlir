// Tests of moela-mla-select-form: every mla.attention without a form gets
// `expanded` in @prefill, `absorbed` in @decode and `absorbed` elsewhere; a
// form already set is kept; the options choose other forms; a bad option
// value is an error.
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-mla-select-form)' | FileCheck %s
// RUN: moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-mla-select-form{prefill=absorbed decode=expanded})' | FileCheck %s --check-prefix=SWAP
// RUN: not moela-opt %s -split-input-file --pass-pipeline='builtin.module(moela-mla-select-form{decode=naive})' 2>&1 | FileCheck %s --check-prefix=BAD

// Tests that @prefill gets the expanded form (many queries share the
// expanded keys), and the options can choose absorbed instead.
// CHECK-LABEL: func.func @prefill
// CHECK: mla.attention {{.*}} layer 0 scale 2.500000e-01 form expanded :
// CHECK: mla.attention {{.*}} layer 1 scale 2.500000e-01 form expanded :
// SWAP-LABEL: func.func @prefill
// SWAP: mla.attention {{.*}} layer 0 scale 2.500000e-01 form absorbed :
// SWAP: mla.attention {{.*}} layer 1 scale 2.500000e-01 form absorbed :
// BAD: for the --decode option: Cannot find option named 'naive'!
func.func @prefill(%q: tensor<?x4x24xf32>, %c: tensor<?x32xf32>, %k: tensor<?x8xf32>,
                   %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = mla.attention %q, %c, %k, %pos, %seq kv_b <"l0.kv_b" : bf16[128, 32]> layer 0 scale 0.25
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  %1 = mla.attention %q, %c, %k, %pos, %seq kv_b <"l1.kv_b" : bf16[128, 32]> layer 1 scale 0.25
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %1 : tensor<?x64xf32>
}

// -----

// Tests that @decode gets the absorbed form (one query per sequence attends
// over the whole latent cache), and the options can choose expanded instead.
// CHECK-LABEL: func.func @decode
// CHECK: mla.attention {{.*}} form absorbed :
// SWAP-LABEL: func.func @decode
// SWAP: mla.attention {{.*}} form expanded :
func.func @decode(%q: tensor<?x4x24xf32>, %c: tensor<?x32xf32>, %k: tensor<?x8xf32>,
                  %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 0 scale 0.25
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Tests that any other function (an MTP draft program) gets the absorbed
// form whatever the options say.
// CHECK-LABEL: func.func @mtp_0
// CHECK: mla.attention {{.*}} form absorbed :
// SWAP-LABEL: func.func @mtp_0
// SWAP: mla.attention {{.*}} form absorbed :
func.func @mtp_0(%q: tensor<?x4x24xf32>, %c: tensor<?x32xf32>, %k: tensor<?x8xf32>,
                 %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 3 scale 0.25
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// Tests that a form chosen before the pass is kept (NEGATIVE: the pass only
// fills in missing forms), in @prefill and in @decode.
// CHECK-LABEL: func.func @prefill
// CHECK: mla.attention {{.*}} layer 0 scale 2.500000e-01 form absorbed :
// CHECK-LABEL: func.func @decode
// CHECK: mla.attention {{.*}} layer 0 scale 2.500000e-01 form expanded :
// SWAP-LABEL: func.func @prefill
// SWAP: mla.attention {{.*}} form absorbed :
// SWAP-LABEL: func.func @decode
// SWAP: mla.attention {{.*}} form expanded :
func.func @prefill(%q: tensor<?x4x24xf32>, %c: tensor<?x32xf32>, %k: tensor<?x8xf32>,
                   %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 0 scale 0.25 form absorbed
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
func.func @decode(%q: tensor<?x4x24xf32>, %c: tensor<?x32xf32>, %k: tensor<?x8xf32>,
                  %pos: tensor<?xi32>, %seq: tensor<?xi32>) -> tensor<?x64xf32> {
  %0 = mla.attention %q, %c, %k, %pos, %seq kv_b <"kv_b" : bf16[128, 32]> layer 0 scale 0.25 form expanded
      : tensor<?x4x24xf32>, tensor<?x32xf32>, tensor<?x8xf32> -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}
