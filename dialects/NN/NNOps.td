//===- NNOps.td - nn operations ---------------------------------*- tablegen -*-===//
#ifndef MOELA_NN_OPS
#define MOELA_NN_OPS

include "NN/NNDialect.td"
include "NN/NNAttrs.td"
include "NN/NNTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def NN_EmbeddingOp : NN_Op<"embedding", [Pure]> {
  let summary = "Row lookup of token embeddings";
  let description = [{
    `h[t] = table[tokens[t]]`, with no scaling (docs/model.md §3).

    Example:
    ```mlir
    %h = nn.embedding %tokens table <"model.embed_tokens.weight" : bf16[1280, 192]>
        : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Indices:$tokens, NN_WeightAttr:$table);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$tokens `table` $table attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def NN_RmsNormOp : NN_Op<"rms_norm", [Pure, SameOperandsAndResultType]> {
  let summary = "RMSNorm over the last dimension";
  let description = [{
    `y = w * x / sqrt(mean(x^2) + eps)`, statistics in fp32 (docs/model.md §3).

    Example:
    ```mlir
    %y = nn.rms_norm %x weight <"model.norm.weight" : bf16[192]> eps 1.0e-06
        : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_WeightAttr:$weight, F64Attr:$eps);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `weight` $weight `eps` $eps attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def NN_LinearOp : NN_Op<"linear", [Pure]> {
  let summary = "y = x @ W^T with a checkpoint weight";
  let description = [{
    A linear layer without bias. The weight is `[N, K]` (Hugging Face
    `[out, in]`); the input's last dimension is K and the result's is N.
    An FP8 weight is dequantized with its block scales (docs/model.md §2).

    Example:
    ```mlir
    %y = nn.linear %x weight <"model.layers.0.self_attn.o_proj.weight" : bf16[192, 192]>
        : tensor<?x192xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_WeightAttr:$weight);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `weight` $weight attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def NN_AddOp : NN_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let summary = "Residual add";
  let description = [{
    Element-wise sum; the residual connections of the decoder blocks.

    Example:
    ```mlir
    %h1 = nn.add %h0, %attn : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$lhs, NN_Activation:$rhs);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def NN_MlpOp : NN_Op<"mlp", [Pure, SameOperandsAndResultType]> {
  let summary = "Dense SwiGLU MLP: down(silu(gate(x)) * up(x))";
  let description = [{
    The feed-forward block of the dense layers (`i < first_k_dense_replace`).
    `gate` and `up` are `[F, D]`, `down` is `[D, F]`.

    Example:
    ```mlir
    %y = nn.mlp %x gate <"model.layers.0.mlp.gate_proj.weight" : bf16[448, 192]>
                   up <"model.layers.0.mlp.up_proj.weight" : bf16[448, 192]>
                   down <"model.layers.0.mlp.down_proj.weight" : bf16[192, 448]>
        : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_WeightAttr:$gate,
                       NN_WeightAttr:$up, NN_WeightAttr:$down);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = [{
    $input `gate` $gate `up` $up `down` $down attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def NN_SiluMulOp : NN_Op<"silu_mul", [Pure, SameOperandsAndResultType]> {
  let summary = "SwiGLU activation: silu(gate) * up";
  let description = [{
    The element-wise part of a SwiGLU MLP, produced when an MLP is split
    into its GEMMs.

    Example:
    ```mlir
    %a = nn.silu_mul %g, %u : tensor<?x448xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$gate, NN_Activation:$up);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def NN_GatherRowsOp : NN_Op<"gather_rows", [Pure]> {
  let summary = "Select rows: y[r] = x[rows[r]]";
  let description = [{
    Picks the token rows whose logits are wanted (the last prompt position of
    each sequence in a prefill, every row in a decode step).

    Example:
    ```mlir
    %last = nn.gather_rows %h, %logit_rows : tensor<?x192xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_Indices:$rows);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `,` $rows attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def NN_LmHeadOp : NN_Op<"lm_head", [Pure]> {
  let summary = "Vocabulary projection: logits = x @ lm_head^T";
  let description = [{
    The output head `[V, D]`, applied to the final-normed hidden state of the
    rows whose logits are wanted. Logits are fp32.

    Example:
    ```mlir
    %logits = nn.lm_head %x weight <"lm_head.weight" : bf16[1280, 192]>
        : tensor<?x192xf32> -> tensor<?x1280xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, NN_WeightAttr:$weight);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `weight` $weight attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def NN_ArgmaxOp : NN_Op<"argmax", [Pure]> {
  let summary = "Greedy choice per row: the index of the largest logit";
  let description = [{
    The first index on ties. Used in-program by MTP drafting (the next token
    of a sequence's last row, and the draft itself).

    Example:
    ```mlir
    %ids = nn.argmax %logits : tensor<?x1280xf32> -> tensor<?xi32>
    ```
  }];
  let arguments = (ins NN_Activation:$input);
  let results = (outs NN_Indices:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def NN_NextTokensOp : NN_Op<"next_tokens", [Pure]> {
  let summary = "The token that follows each row of a step";
  let description = [{
    `next[t] = tokens[t + 1]` when row t + 1 continues row t's sequence
    (same slot, next position); otherwise the greedy choice `ids[r]` of the
    logit row `r` with `logit_rows[r] = t`; otherwise `tokens[t]` (a
    placeholder: that row's successor is in a later step). The input of an
    in-program MTP draft (docs/model.md §3.3: module k at position t reads token t+1).

    Example:
    ```mlir
    %next = nn.next_tokens %tokens, %positions, %seq_ids, %logit_rows, %ids
        : tensor<?xi32>
    ```
  }];
  let arguments = (ins NN_Indices:$tokens, NN_Indices:$positions,
                       NN_Indices:$seq_ids, NN_Indices:$logit_rows,
                       NN_Indices:$ids);
  let results = (outs NN_Indices:$result);
  let assemblyFormat = [{
    $tokens `,` $positions `,` $seq_ids `,` $logit_rows `,` $ids attr-dict `:` type($result)
  }];
}

def NN_MtpProjOp : NN_Op<"mtp_proj", [Pure, SameOperandsAndResultType]> {
  let summary = "MTP input projection: eh_proj(concat(e, h))";
  let description = [{
    The entry of a multi-token-prediction module (docs/model.md §3.3): the normed
    embedding of the next token and the normed main-model hidden state are
    concatenated `[T, 2D]` and projected by `eh_proj` `[D, 2D]`.

    Example:
    ```mlir
    %x = nn.mtp_proj %e, %h weight <"model.layers.3.eh_proj.weight" : bf16[192, 384]>
        : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$embedded, NN_Activation:$hidden, NN_WeightAttr:$weight);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$embedded `,` $hidden `weight` $weight attr-dict `:` type($result)";
  let hasVerifier = 1;
}

// Collectives of a multi-device module (docs/parallel.md). They are not Pure:
// every rank must run the same collectives in the same order, so none is
// erased, merged or moved.

def NN_AllReduceOp : NN_Op<"all_reduce", [SameOperandsAndResultType]> {
  let summary = "Sum over the ranks of a multi-device module";
  let description = [{
    `result = sum over the ranks r of input_r`, the same on every rank: what
    turns the partial sums of a row-split weight (o_proj, down_proj, a
    vocab-parallel embedding, the experts of one rank) into the whole.

    Example:
    ```mlir
    %h = nn.all_reduce %partial ranks 2 : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, I64Attr:$ranks);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `ranks` $ranks attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def NN_AllGatherOp : NN_Op<"all_gather", []> {
  let summary = "Columns of every rank side by side";
  let description = [{
    `[T, C]` on each rank becomes `[T, ranks * C]` on every rank: rank 0's
    columns first (a vocab-parallel lm_head's logits).

    Example:
    ```mlir
    %logits = nn.all_gather %part ranks 2 : tensor<?x640xf32> -> tensor<?x1280xf32>
    ```
  }];
  let arguments = (ins NN_Activation:$input, I64Attr:$ranks);
  let results = (outs NN_Activation:$result);
  let assemblyFormat = "$input `ranks` $ranks attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

#endif // MOELA_NN_OPS
