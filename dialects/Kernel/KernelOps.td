//===- KernelOps.td - kernel operations -------------------------*- tablegen -*-===//
//
// One op per kernel family of runtime/schema/plan.fbs; the table comments
// there define the exact semantics each backend implements.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNEL_OPS
#define MOELA_KERNEL_OPS

include "Kernel/KernelDialect.td"
include "Kernel/KernelAttrs.td"
include "MLA/MLAAttrs.td"
include "MoE/MoEAttrs.td"
include "NN/NNAttrs.td"
include "NN/NNTypes.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Kernel_KVCache : Resource<"::moela::mla::KVCacheResource">;

def Kernel_Tensor : RankedTensorOf<[F32]>;
def Kernel_IndexTensor : RankedTensorOf<[I32]>;

def Kernel_EmbeddingOp : Kernel_Op<"embedding", [Pure]> {
  let summary = "Embedding row lookup";
  let description = [{
    `out[t] = table[tokens[t]]` `[T, D]`.
    ```mlir
    %h = kernel.embedding %tokens table <"model.embed_tokens.weight" : bf16[1280, 192]> : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins NN_Indices:$tokens, NN_WeightAttr:$table);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$tokens `table` $table attr-dict `:` type($result)";
}

def Kernel_RmsNormOp : Kernel_Op<"rms_norm", [Pure, SameOperandsAndResultType]> {
  let summary = "RMSNorm of each row, optionally producing FP8 for the next GEMM";
  let description = [{
    `y = w * x / sqrt(mean(x^2) + eps)`. With `quantize`, the CUDA backend
    stores y as FP8 with one scale per 128 columns (docs/model.md §3.4); the host
    backend computes exact fp32 either way.
    ```mlir
    %y = kernel.rms_norm %x weight <"model.norm.weight" : bf16[192]> eps 1.000000e-06 : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, NN_WeightAttr:$weight, F64Attr:$eps,
                       UnitAttr:$quantize);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $input `weight` $weight `eps` $eps (`quantize` $quantize^)? attr-dict `:` type($result)
  }];
}

def Kernel_AddRmsNormOp : Kernel_Op<"add_rms_norm", [Pure,
    AllTypesMatch<["input", "residual", "result", "sum"]>]> {
  let summary = "Residual add fused with the following RMSNorm";
  let description = [{
    `sum = x + residual`, `y = RMSNorm(sum)`: one pass over the residual
    stream instead of two (the fused add + norm + quant of docs/model.md §3.4).
    ```mlir
    %y, %sum = kernel.add_rms_norm %x, %h weight <"..." : bf16[192]> eps 1.000000e-06
        : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, Kernel_Tensor:$residual,
                       NN_WeightAttr:$weight, F64Attr:$eps, UnitAttr:$quantize);
  let results = (outs Kernel_Tensor:$result, Kernel_Tensor:$sum);
  let assemblyFormat = [{
    $input `,` $residual `weight` $weight `eps` $eps (`quantize` $quantize^)? attr-dict
    `:` type($result)
  }];
}

def Kernel_AddOp : Kernel_Op<"add", [Pure, SameOperandsAndResultType]> {
  let summary = "Element-wise sum";
  let description = [{
    ```mlir
    %c = kernel.add %a, %b : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$lhs, Kernel_Tensor:$rhs);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Kernel_SiluMulOp : Kernel_Op<"silu_mul", [Pure, SameOperandsAndResultType]> {
  let summary = "silu(gate) * up";
  let description = [{
    ```mlir
    %a = kernel.silu_mul %g, %u : tensor<?x448xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$gate, Kernel_Tensor:$up);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def Kernel_RopeOp : Kernel_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RoPE on a column slice of every head";
  let description = [{
    ```mlir
    %q2 = kernel.rope %q, %positions rope <heads = 4, head_dim = 96, offset = 64, rope = #rope>
        : tensor<?x384xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, NN_Indices:$positions,
                       Kernel_HeadRopeAttr:$rope);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$input `,` $positions `rope` $rope attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Kernel_GemmOp : Kernel_Op<"gemm", [Pure, AttrSizedOperandSegments]> {
  let summary = "x @ W^T with fused epilogues";
  let description = [{
    `acc = input @ W^T` where W is the rows of `weights` concatenated `[N, K]`,
    then in order: `silu_mul` (`c = silu(acc[:, :N/2]) * acc[:, N/2:]`),
    `rope` (rotate the rope slice of each head of acc; needs `positions`),
    `residual` (`c = acc + residual`). `precise` keeps the f32 input to
    ~16 mantissa bits on tensor cores (two bf16 halves; the router logits
    of docs/model.md §3.2).
    ```mlir
    %y = kernel.gemm %x weights [#nn.weight<"...gate_proj.weight" : bf16[448, 192]>, #nn.weight<"...up_proj.weight" : bf16[448, 192]>]
        silu_mul : tensor<?x192xf32> -> tensor<?x448xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, Optional<NN_Indices>:$positions,
                       Optional<Kernel_Tensor>:$residual,
                       TypedArrayAttrBase<NN_WeightAttr, "weights">:$weights,
                       UnitAttr:$silu_mul,
                       OptionalAttr<Kernel_HeadRopeAttr>:$rope,
                       OptionalAttr<Kernel_TileAttr>:$tile,
                       UnitAttr:$precise);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $input (`positions` $positions^)? (`residual` $residual^ `:` type($residual))?
    `weights` $weights (`silu_mul` $silu_mul^)? (`rope` $rope^)? (`precise` $precise^)?
    (`tile` $tile^)?
    attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [
    // A GEMM whose only epilogue may be silu_mul; moela-tile sets the tile.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::ArrayAttr":$weights,
                   CArg<"bool", "false">:$siluMul), [{
      build($_builder, $_state, result, input, /*positions=*/::mlir::Value(),
            /*residual=*/::mlir::Value(), weights, siluMul,
            ::moela::kernel::HeadRopeAttr(), ::moela::kernel::TileAttr(),
            /*precise=*/false);
    }]>,
    // `gemm` with a rope epilogue added (moela-fuse-rope).
    OpBuilder<(ins "GemmOp":$gemm, "::mlir::Value":$positions,
                   "::moela::kernel::HeadRopeAttr":$rope), [{
      build($_builder, $_state, gemm.getType(), gemm.getInput(), positions,
            gemm.getResidual(), gemm.getWeights(), gemm.getSiluMulAttr(), rope,
            gemm.getTileAttr(), gemm.getPreciseAttr());
    }]>
  ];
  let extraClassDeclaration = [{
    /// Rows of the concatenated weight (N before silu_mul halves it).
    int64_t getWeightRows();
    int64_t getWeightCols();
    /// Whether silu_mul, rope or residual follows the product: the fusion
    /// passes extend or merge only GEMMs that have none.
    bool hasEpilogue() { return getSiluMul() || getRope() || getResidual(); }
  }];
}

def Kernel_KvAppendOp : Kernel_Op<"kv_append",
    [MemoryEffects<[MemWrite<Kernel_KVCache>]>]> {
  let summary = "Write this step's latent and rope key into the KV cache";
  let description = [{
    `cache[layer][seq_ids[t]][positions[t]] = [norm(latent[t]) | rope(k_pe[t])]`;
    the norm (with `norm` weight) and the rope are optional: they are fused
    here by `moela-mla-fuse-kv-append`, otherwise done by earlier ops.
    ```mlir
    kernel.kv_append %c, %k_pe, %positions, %seq_ids layer 0 : tensor<?x96xf32>, tensor<?x32xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$latent, Kernel_Tensor:$k_pe,
                       NN_Indices:$positions, NN_Indices:$seq_ids,
                       I64Attr:$layer, OptionalAttr<NN_WeightAttr>:$norm,
                       OptionalAttr<F64Attr>:$eps,
                       OptionalAttr<Kernel_HeadRopeAttr>:$rope);
  let assemblyFormat = [{
    $latent `,` $k_pe `,` $positions `,` $seq_ids `layer` $layer
    (`norm` $norm^ `eps` $eps)? (`rope` $rope^)? attr-dict `:` type($latent) `,` type($k_pe)
  }];
}

def Kernel_MlaAttentionOp : Kernel_Op<"mla_attention",
    [MemoryEffects<[MemRead<Kernel_KVCache>]>]> {
  let summary = "Complete MLA attention over the cache (absorbed or expanded)";
  let description = [{
    plan.fbs MlaAttentionParams: `q` `[T, H*(Dn+Dr)]` roped, attends over the
    cache rows `0..positions[t]` of slot `seq_ids[t]`; result `[T, H*Dv]`.
    ```mlir
    %o = kernel.mla_attention %q, %positions, %seq_ids kv_b <"..." : bf16[448, 96]> layer 0
        heads 4 nope 64 rope 32 v 48 latent 96 scale 1.912494e-01 form expanded
        : tensor<?x384xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$query, NN_Indices:$positions,
                       NN_Indices:$seq_ids, NN_WeightAttr:$kv_b, I64Attr:$layer,
                       I64Attr:$heads, I64Attr:$nope_dim, I64Attr:$rope_dim,
                       I64Attr:$v_dim, I64Attr:$latent_dim, F64Attr:$scale,
                       MLA_AttentionFormAttr:$form,
                       OptionalAttr<Kernel_TileAttr>:$tile);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $query `,` $positions `,` $seq_ids `kv_b` $kv_b `layer` $layer `heads` $heads
    `nope` $nope_dim `rope` $rope_dim `v` $v_dim `latent` $latent_dim `scale` $scale
    `form` $form (`tile` $tile^)? attr-dict `:` type($query) `->` type($result)
  }];
}

def Kernel_KvGatherOp : Kernel_Op<"kv_gather",
    [MemoryEffects<[MemRead<Kernel_KVCache>]>]> {
  let summary = "Read back the cache rows this step appended";
  let description = [{
    `rows[t] = cache[layer][seq_ids[t]][positions[t]]` `[T, R + Dr]`: the
    normalised latent and rotated rope key of each token, as stored (the
    expanded prefill multiplies them by kv_b).
    ```mlir
    %rows = kernel.kv_gather %positions, %seq_ids layer 0 : tensor<?x128xf32>
    ```
  }];
  let arguments = (ins NN_Indices:$positions, NN_Indices:$seq_ids,
                       I64Attr:$layer);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $positions `,` $seq_ids `layer` $layer attr-dict `:` type($result)
  }];
}

def Kernel_MlaPrefillAttentionOp : Kernel_Op<"mla_prefill_attention", [Pure]> {
  let summary = "Expanded MLA attention over the step's own tokens (fresh sequences)";
  let description = [{
    plan.fbs MlaPrefillAttentionParams: causal multi-head attention with
    per-head keys `[k_nope | k_pe]` and values `v`, where `kv` `[T, H*(Dn+Dv)]`
    holds `[k_nope | v]` per head and `k_pe` `[T, Dr]` is shared by the heads.
    Token t sees the rows `t - positions[t] .. t`: only valid in a function
    with `moela.fresh_sequences` (every sequence of a step starts at 0).
    ```mlir
    %o = kernel.mla_prefill_attention %q, %kv, %k_pe, %positions heads 4 nope 64
        rope 32 v 48 scale 1.912494e-01
        : tensor<?x384xf32>, tensor<?x448xf32>, tensor<?x32xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$query, Kernel_Tensor:$kv,
                       Kernel_Tensor:$k_pe, NN_Indices:$positions,
                       I64Attr:$heads, I64Attr:$nope_dim, I64Attr:$rope_dim,
                       I64Attr:$v_dim, F64Attr:$scale);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $query `,` $kv `,` $k_pe `,` $positions `heads` $heads `nope` $nope_dim
    `rope` $rope_dim `v` $v_dim `scale` $scale attr-dict
    `:` type($query) `,` type($kv) `,` type($k_pe) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kernel_MlaLatentAttentionOp : Kernel_Op<"mla_latent_attention",
    [MemoryEffects<[MemRead<Kernel_KVCache>]>]> {
  let summary = "The core of absorbed MLA: attention in latent space";
  let description = [{
    `o_lat[t,h] = sum_j softmax_j(scale (q_lat[t,h] . c_j + q_pe[t,h] . k_pe_j)) c_j`.
    `q_lat` is `[T, H*R]`; the rope query of head h is columns
    `q_pe_offset + h*q_pe_stride .. + rope_dim` of `q_pe`.
    ```mlir
    %o = kernel.mla_latent_attention %q_lat, %q, %positions, %seq_ids layer 0 heads 4
        latent 96 rope 32 q_pe_offset 64 q_pe_stride 96 scale 1.912494e-01
        : tensor<?x384xf32>, tensor<?x384xf32> -> tensor<?x384xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$q_lat, Kernel_Tensor:$q_pe,
                       NN_Indices:$positions, NN_Indices:$seq_ids,
                       I64Attr:$layer, I64Attr:$heads, I64Attr:$latent_dim,
                       I64Attr:$rope_dim, I64Attr:$q_pe_offset,
                       I64Attr:$q_pe_stride, F64Attr:$scale,
                       OptionalAttr<Kernel_TileAttr>:$tile);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $q_lat `,` $q_pe `,` $positions `,` $seq_ids `layer` $layer `heads` $heads
    `latent` $latent_dim `rope` $rope_dim `q_pe_offset` $q_pe_offset
    `q_pe_stride` $q_pe_stride `scale` $scale (`tile` $tile^)? attr-dict
    `:` type($q_lat) `,` type($q_pe) `->` type($result)
  }];
}

def Kernel_HeadGemmOp : Kernel_Op<"head_gemm", [Pure]> {
  let summary = "Per-head GEMM with a row block of a weight (MLA absorption)";
  let description = [{
    W viewed `[heads, head_rows, cols]`; `W_h` = rows `[h*head_rows + row_offset,
    + rows)`. Head h of the input starts at column `in_offset + h*in_stride`;
    the result is `[T, heads * out]`, `out = transpose ? cols : rows`,
    `y[t,h] = transpose ? W_h^T x[t,h] : W_h x[t,h]`.
    ```mlir
    %q_lat = kernel.head_gemm %q weight <"...kv_b_proj.weight" : bf16[448, 96]> heads 4
        head_rows 112 row_offset 0 rows 64 transpose in_offset 0 in_stride 96
        : tensor<?x384xf32> -> tensor<?x384xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, NN_WeightAttr:$weight,
                       I64Attr:$heads, I64Attr:$head_rows, I64Attr:$row_offset,
                       I64Attr:$rows, UnitAttr:$transpose, I64Attr:$in_offset,
                       I64Attr:$in_stride, OptionalAttr<Kernel_TileAttr>:$tile);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $input `weight` $weight `heads` $heads `head_rows` $head_rows `row_offset`
    $row_offset `rows` $rows (`transpose` $transpose^)? `in_offset` $in_offset
    `in_stride` $in_stride (`tile` $tile^)? attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let builders = [
    // moela-tile sets the tile.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::moela::nn::WeightAttr":$weight, "int64_t":$heads,
                   "int64_t":$headRows, "int64_t":$rowOffset, "int64_t":$rows,
                   "bool":$transpose, "int64_t":$inOffset, "int64_t":$inStride), [{
      build($_builder, $_state, result, input, weight, heads, headRows,
            rowOffset, rows, transpose, inOffset, inStride,
            ::moela::kernel::TileAttr());
    }]>
  ];
}

def Kernel_RouteOp : Kernel_Op<"route", [Pure]> {
  let summary = "Expert selection, optionally with the gate GEMM fused in";
  let description = [{
    From router logits `[T, E]`, or with `gate` from the hidden state `[T, D]`
    (the gate GEMM fused in), computes the top-k experts `[T, K]` and their
    weights `[T, K]` (docs/model.md §3.2).
    ```mlir
    %idx, %w = kernel.route %x routing #routing gate <"...mlp.gate.weight" : bf16[16, 192]>
        bias <"...e_score_correction_bias" : f32[16]> : tensor<?x192xf32> -> tensor<?x4xi32>, tensor<?x4xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, MoE_RoutingAttr:$routing,
                       OptionalAttr<NN_WeightAttr>:$gate,
                       OptionalAttr<NN_WeightAttr>:$bias);
  let results = (outs Kernel_IndexTensor:$indices, Kernel_Tensor:$weights);
  let assemblyFormat = [{
    $input `routing` $routing (`gate` $gate^)? (`bias` $bias^)? attr-dict
    `:` type($input) `->` type($indices) `,` type($weights)
  }];
}

def Kernel_MoeExpertsOp : Kernel_Op<"moe_experts", [Pure]> {
  let summary = "Every selected expert on its token (reference form)";
  let description = [{
    `y[t*K + k] = Expert_{idx[t,k]}(x[t])` `[K*T, D]`, unweighted.
    ```mlir
    %y = kernel.moe_experts %x, %idx weights #moe.expert_weights<...>
        : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, Kernel_IndexTensor:$indices,
                       MoE_ExpertWeightsAttr:$weights);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $indices `weights` $weights attr-dict `:` type($input) `,`
    type($indices) `->` type($result)
  }];
}

def Kernel_MoeDispatchOp : Kernel_Op<"moe_dispatch", [Pure]> {
  let summary = "Sort the routed (token, slot) pairs by expert";
  let description = [{
    `x_sorted` `[K*T, D]`: rows `offsets[e] .. offsets[e+1]` belong to expert e
    (ascending slot order within an expert); `perm[i]` is the slot `t*K + k`
    of sorted row i. No host synchronisation: offsets stay on the device.
    ```mlir
    %xs, %offsets, %perm = kernel.moe_dispatch %x, %idx experts 16
        : tensor<?x192xf32>, tensor<?x4xi32> -> tensor<?x192xf32>, tensor<17xi32>, tensor<?xi32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, Kernel_IndexTensor:$indices,
                       I64Attr:$experts);
  let results = (outs Kernel_Tensor:$sorted, Kernel_IndexTensor:$offsets,
                      Kernel_IndexTensor:$perm);
  let assemblyFormat = [{
    $input `,` $indices `experts` $experts attr-dict `:` type($input) `,`
    type($indices) `->` type($sorted) `,` type($offsets) `,` type($perm)
  }];
}

def Kernel_GroupedGemmOp : Kernel_Op<"grouped_gemm", [Pure]> {
  let summary = "One GEMM per expert over its rows of the sorted activations";
  let description = [{
    `proj = gate_up` multiplies by `[gate_e; up_e]` (`[2 Fm, D]`; with
    `silu_mul` the result is `[K*T, Fm]`), `proj = down` by `down_e` `[D, Fm]`.
    ```mlir
    %a = kernel.grouped_gemm %xs, %offsets weights <...> proj gate_up silu_mul
        : tensor<?x192xf32>, tensor<17xi32> -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, Kernel_IndexTensor:$offsets,
                       MoE_ExpertWeightsAttr:$weights,
                       Kernel_ExpertProj:$proj, UnitAttr:$silu_mul,
                       OptionalAttr<Kernel_TileAttr>:$tile);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $offsets `weights` $weights `proj` $proj (`silu_mul` $silu_mul^)?
    (`tile` $tile^)? attr-dict `:` type($input) `,` type($offsets) `->` type($result)
  }];
  let builders = [
    // moela-tile sets the tile.
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$offsets,
                   "::moela::moe::ExpertWeightsAttr":$weights,
                   "::moela::kernel::ExpertProj":$proj, "bool":$siluMul), [{
      build($_builder, $_state, result, input, offsets, weights, proj, siluMul,
            ::moela::kernel::TileAttr());
    }]>
  ];
}

def Kernel_MoeCombineOp : Kernel_Op<"moe_combine", [Pure, AttrSizedOperandSegments]> {
  let summary = "Weighted sum of the expert outputs, plus shared expert and residual";
  let description = [{
    `out[t] = sum_k w[t,k] * y[slot t*K+k] (+ shared[t]) (+ residual[t])`; with
    `perm`, y is in sorted order and `perm` maps its rows to slots.
    ```mlir
    %out = kernel.moe_combine %y, %w perm %perm : tensor<?xi32> shared %s : tensor<?x192xf32>
        : tensor<?x192xf32>, tensor<?x4xf32> -> tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$expert_outputs, Kernel_Tensor:$weights,
                       Optional<Kernel_IndexTensor>:$perm,
                       Optional<Kernel_Tensor>:$shared,
                       Optional<Kernel_Tensor>:$residual);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $expert_outputs `,` $weights (`perm` $perm^ `:` type($perm))?
    (`shared` $shared^ `:` type($shared))? (`residual` $residual^ `:` type($residual))?
    attr-dict `:` type($expert_outputs) `,` type($weights) `->` type($result)
  }];
}

def Kernel_GatherRowsOp : Kernel_Op<"gather_rows", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "y[r] = x[rows[r]]";
  let description = [{
    ```mlir
    %y = kernel.gather_rows %h, %logit_rows : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, NN_Indices:$rows);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$input `,` $rows attr-dict `:` type($result)";
}

def Kernel_ArgmaxOp : Kernel_Op<"argmax", [Pure]> {
  let summary = "Greedy token choice per row (first index on ties)";
  let description = [{
    ```mlir
    %ids = kernel.argmax %logits : tensor<?x1280xf32> -> tensor<?xi32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input);
  let results = (outs Kernel_IndexTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
}

def Kernel_SampleOp : Kernel_Op<"sample", [Pure]> {
  let summary = "The token of each logit row and its logprobs (docs/model.md §4)";
  let description = [{
    Per row: greedy (the argmax) or a seeded top-k / top-p draw, as the row's
    `sampling` words say (`abi::SamplingWord`, runtime/kernels/Abi.h), and
    the log-softmax of the chosen token and of the row's most likely tokens.
    `ids` and `logprobs` have `abi::kSampleCols` columns: the chosen token,
    then the top tokens, most likely first.

    ```mlir
    %ids, %logprobs = kernel.sample %logits, %sampling
        : tensor<?x1280xf32>, tensor<?x8xi32> -> tensor<?x21xi32>, tensor<?x21xf32>
    ```

    With `candidate_parts = N` (vocab-parallel plans, pass
    moela-sample-vocab-parallel) `logits` is instead the N ranks'
    `kernel.sample_candidates` blocks side by side, gathered, and the op
    picks from their union exactly as from the whole rows.
  }];
  let arguments = (ins Kernel_Tensor:$logits, Kernel_IndexTensor:$sampling,
                       DefaultValuedAttr<I64Attr, "0">:$candidate_parts);
  let results = (outs Kernel_IndexTensor:$ids, Kernel_Tensor:$logprobs);
  let assemblyFormat = [{
    $logits `,` $sampling attr-dict `:` type($logits) `,` type($sampling)
    `->` type($ids) `,` type($logprobs)
  }];
  let hasVerifier = 1;
}

def Kernel_SampleCandidatesOp : Kernel_Op<"sample_candidates", [Pure]> {
  let summary = "One rank's share of a vocab-parallel kernel.sample";
  let description = [{
    Per row, of the rank's logit columns: the `candidates` most likely tokens
    the row's sampling needs (at least one) in kernel.sample's order, and the
    partial log-sum-exp, as one block of `abi::sampleCandidateCols` floats
    (plan.fbs SampleCandidatesParams). The rank's column 0 is vocabulary id
    rank * (its columns), which the runtime knows.

    ```mlir
    %c = kernel.sample_candidates %logits, %sampling candidates 640
        : tensor<?x640xf32>, tensor<?x8xi32> -> tensor<?x1282xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$logits, Kernel_IndexTensor:$sampling,
                       I64Attr:$candidates);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $logits `,` $sampling `candidates` $candidates attr-dict `:` type($logits)
    `,` type($sampling) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kernel_NextTokensOp : Kernel_Op<"next_tokens", [Pure]> {
  let summary = "The token that follows each row of a step (nn.next_tokens)";
  let description = [{
    ```mlir
    %next = kernel.next_tokens %tokens, %positions, %seq_ids, %logit_rows, %ids
        : tensor<?xi32>
    ```
  }];
  let arguments = (ins NN_Indices:$tokens, NN_Indices:$positions,
                       NN_Indices:$seq_ids, NN_Indices:$logit_rows,
                       NN_Indices:$ids);
  let results = (outs Kernel_IndexTensor:$result);
  let assemblyFormat = [{
    $tokens `,` $positions `,` $seq_ids `,` $logit_rows `,` $ids attr-dict `:` type($result)
  }];
}

def Kernel_ConcatOp : Kernel_Op<"concat", [Pure]> {
  let summary = "Columns side by side: [a | b]";
  let description = [{
    `out[t] = [a[t] | b[t]]` `[T, A + B]` (MTP's eh_proj input).
    ```mlir
    %ab = kernel.concat %a, %b : tensor<?x192xf32>, tensor<?x192xf32> -> tensor<?x384xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$lhs, Kernel_Tensor:$rhs);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Kernel_AllReduceOp : Kernel_Op<"all_reduce", [SameOperandsAndResultType]> {
  let summary = "Sum over the ranks (nn.all_reduce)";
  let description = [{
    The AllReduce step: `result = sum over the ranks of input`; the memory
    planner may run it in place.
    ```mlir
    %h = kernel.all_reduce %partial ranks 2 : tensor<?x192xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, I64Attr:$ranks);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$input `ranks` $ranks attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Kernel_AllGatherOp : Kernel_Op<"all_gather", []> {
  let summary = "Columns of every rank side by side (nn.all_gather)";
  let description = [{
    The AllGather step: `[T, C]` per rank -> `[T, ranks * C]`, rank 0 first.
    ```mlir
    %l = kernel.all_gather %part ranks 2 : tensor<?x640xf32> -> tensor<?x1280xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, I64Attr:$ranks);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = "$input `ranks` $ranks attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Kernel_SliceOp : Kernel_Op<"slice", [Pure]> {
  let summary = "A column range of a tensor, without a copy";
  let description = [{
    Columns `[offset, offset + size)` of every row; the memory planner makes
    it an alias of its input's buffer.
    ```mlir
    %c = kernel.slice %kv [0, 96] : tensor<?x128xf32> -> tensor<?x96xf32>
    ```
  }];
  let arguments = (ins Kernel_Tensor:$input, I64Attr:$offset, I64Attr:$size);
  let results = (outs Kernel_Tensor:$result);
  let assemblyFormat = [{
    $input `[` $offset `,` $size `]` attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // MOELA_KERNEL_OPS
