//===- MLAOps.td - mla operations -------------------------------*- tablegen -*-===//
#ifndef MOELA_MLA_OPS
#define MOELA_MLA_OPS

include "MLA/MLADialect.td"
include "MLA/MLAAttrs.td"
include "NN/NNAttrs.td"
include "NN/NNTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

/// The latent KV cache of every layer, read and written by attention.
def MLA_KVCache : Resource<"::moela::mla::KVCacheResource">;

def MLA_QProjOp : MLA_Op<"q_proj", [Pure]> {
  let summary = "MLA query projection";
  let description = [{
    `q = q_b(RMSNorm(q_a(x), q_a_layernorm))` when the model compresses
    queries (`q_lora_rank` > 0), else `q = q_proj(x)`. The result is viewed
    per head: `[T, H, Dn + Dr]`, the nope part first, then the rope part (no
    RoPE applied yet).

    Example:
    ```mlir
    %q = mla.q_proj %x lora(q_a = <"model.layers.0.self_attn.q_a_proj.weight" : bf16[160, 192]>,
                            norm = <"model.layers.0.self_attn.q_a_layernorm.weight" : bf16[160]>,
                            q_b = <"model.layers.0.self_attn.q_b_proj.weight" : bf16[384, 160]>,
                            eps = 1.0e-06)
        : tensor<?x192xf32> -> tensor<?x4x96xf32>
    %q2 = mla.q_proj %x q = <"model.layers.0.self_attn.q_proj.weight" : bf16[384, 192]>
        : tensor<?x192xf32> -> tensor<?x4x96xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input,
                       OptionalAttr<NN_WeightAttr>:$q_a,
                       OptionalAttr<NN_WeightAttr>:$q_norm,
                       OptionalAttr<NN_WeightAttr>:$q_b,
                       OptionalAttr<F64Attr>:$eps,
                       OptionalAttr<NN_WeightAttr>:$q);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = [{
    $input (`lora` `(` `q_a` `=` $q_a^ `,` `norm` `=` $q_norm `,` `q_b` `=` $q_b `,` `eps` `=` $eps `)`)?
    (`q` `=` $q^)? attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    bool hasLora() { return getQA().has_value(); }
  }];
}

def MLA_KvProjOp : MLA_Op<"kv_proj", [Pure]> {
  let summary = "MLA latent projection: the compressed KV and the shared rope key";
  let description = [{
    `kv = kv_a_proj_with_mqa(x)` `[T, R + Dr]`; `latent = RMSNorm(kv[:, :R],
    kv_a_layernorm)` `[T, R]` and `k_pe = kv[:, R:]` `[T, Dr]`, one rope key
    shared by all heads (RoPE not yet applied). Only the latent is normed.

    Example:
    ```mlir
    %c, %k_pe = mla.kv_proj %x kv_a <"model.layers.0.self_attn.kv_a_proj_with_mqa.weight" : bf16[128, 192]>
                               norm <"model.layers.0.self_attn.kv_a_layernorm.weight" : bf16[96]>
                               eps 1.0e-06
        : tensor<?x192xf32> -> tensor<?x96xf32>, tensor<?x32xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_WeightAttr:$kv_a,
                       NN_WeightAttr:$kv_norm, F64Attr:$eps);
  let results = (outs NN_Activation:$latent, NN_Activation:$k_pe);
  let assemblyFormat = [{
    $input `kv_a` $kv_a `norm` $kv_norm `eps` $eps attr-dict `:` type($input)
    `->` type($latent) `,` type($k_pe)
  }];
  let hasVerifier = 1;
}

def MLA_RopeOp : MLA_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Interleaved rotary embedding of the trailing rope channels";
  let description = [{
    Rotates the last `rope.dim` channels of every row (every head of a
    `[T, H, Dn + Dr]` query, or the `[T, Dr]` shared key) by the token's
    absolute position; other channels pass through (docs/model.md §3.1).

    Example:
    ```mlir
    %q_rot = mla.rope %q, %positions rope <theta = 1.000000e+04, dim = 32> : tensor<?x4x96xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_Indices:$positions, MLA_RopeAttr:$rope);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `,` $positions `rope` $rope attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def MLA_AttentionOp : MLA_Op<"attention",
    [MemoryEffects<[MemRead<MLA_KVCache>, MemWrite<MLA_KVCache>]>]> {
  let summary = "Multi-head latent attention over the KV cache of one layer";
  let description = [{
    Appends this step's `latent` `[T, R]` and roped `k_pe` `[T, Dr]` to the
    cache of `layer` at `(seq_ids[t], positions[t])`, then attends: a query
    at position p of a sequence sees that sequence's cache rows 0..p.
    With `Wuk, Wuv = kv_b` viewed `[H, Dn + Dv, R]` and split,
    `score(h, j) = scale * (q_nope[h] . Wuk[h] c_j + q_pe[h] . k_pe_j)`,
    `out[h] = sum_j softmax_j(score) * Wuv[h] c_j`, softmax in fp32; the
    result is `concat_h out[h]` `[T, H * Dv]`, ready for `o_proj`.
    `form` says how a backend computes it (absorbed or expanded); unset means
    not decided yet.

    Example:
    ```mlir
    %o = mla.attention %q, %c, %k_pe, %positions, %seq_ids
        kv_b <"model.layers.0.self_attn.kv_b_proj.weight" : bf16[448, 96]>
        layer 0 scale 1.912494e-01 form absorbed
        : tensor<?x4x96xf32>, tensor<?x96xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$query, NN_Activation:$latent,
                       NN_Activation:$k_pe, NN_Indices:$positions,
                       NN_Indices:$seq_ids, NN_WeightAttr:$kv_b,
                       I64Attr:$layer, F64Attr:$scale,
                       OptionalAttr<MLA_AttentionFormAttr>:$form);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = [{
    $query `,` $latent `,` $k_pe `,` $positions `,` $seq_ids `kv_b` $kv_b
    `layer` $layer `scale` $scale (`form` $form^)? attr-dict `:` type($query) `,`
    type($latent) `,` type($k_pe) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeads() { return ::moela::nn::dimOf(getQuery().getType(), 1); }
    int64_t getRopeDim() { return ::moela::nn::dimOf(getKPe().getType(), 1); }
    int64_t getNopeDim() { return ::moela::nn::dimOf(getQuery().getType(), 2) - getRopeDim(); }
    int64_t getLatentDim() { return ::moela::nn::dimOf(getLatent().getType(), 1); }
    int64_t getVDim() { return getKvB().getDim(0) / getHeads() - getNopeDim(); }
  }];
}

#endif // MOELA_MLA_OPS
