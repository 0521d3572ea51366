//===- Passes.td - moela passes ---------------------------------*- tablegen -*-===//
//
// The passes of the default pipeline (passes/Pipelines.cpp), in pipeline
// order. Model IR (nn, mla, moe) -> kernel IR -> fused, tiled, planned
// kernel IR. Each pass is one file and has one lit test in test/Passes/.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_PASSES
#define MOELA_PASSES

include "mlir/Pass/PassBase.td"

// The values that typed options accept, as llvm::cl modifiers (EnumNames.h).
defvar CompileTargetNames = "::moela::compileTargetNames()";
defvar GemmEngineNames = "::moela::gemmEngineNames()";
defvar AttentionFormNames = "::moela::odsEnumNames(::moela::mla::"
    "getMaxEnumValForAttentionForm(), ::moela::mla::stringifyAttentionForm)";

def MtpDraftPass : Pass<"moela-mtp-draft", "mlir::ModuleOp"> {
  let summary = "Run MTP module 0 inside @prefill and @decode: greedy drafts";
  let description = [{
    For speculative decoding (`moela-compile --mtp`): appends @mtp_0's body
    to @prefill and @decode, fed with the main model's last hidden state and
    each row's next token (`nn.next_tokens`: the next row of the sequence,
    else the greedy choice of the row's logits), and returns the argmax of
    its logits at the logit rows as a second result, the drafts `[R]` i32.
    The module's attention appends to KV cache layer num_hidden_layers.
  }];
  let dependentDialects = ["::moela::nn::NNDialect"];
}

// The sharding passes (docs/parallel.md, `moela-compile --tp N [--ep]`): they
// run on the model IR before lowering, cut weights into per-rank slices
// (`shard D of P`) and insert `nn.all_reduce` / `nn.all_gather`.

def ShardAttentionPass : Pass<"moela-shard-attention", "mlir::ModuleOp"> {
  let summary = "Tensor-parallel MLA: each rank computes H / ranks heads";
  let description = [{
    Splits every `mla.attention` by heads: `q_b_proj` (or `q_proj`) and
    `kv_b_proj` by rows, `o_proj` by columns, and sums the ranks' `o_proj`
    outputs with `nn.all_reduce`. The small `q_a_proj` / `kv_a_proj_with_mqa`
    projections and their norms stay whole on every rank, and so does the
    latent KV cache (it is shared by all heads: every rank holds all of it).
    The heads must divide by the ranks.
  }];
  let options = [
    Option<"ranks", "ranks", "int64_t", /*default=*/"1",
           "ranks the module runs on (1: nothing to split)">,
    Option<"target", "target", "::moela::CompileTarget",
           /*default=*/"::moela::kDefaultCompileTarget",
           "host | sm_90a: a GPU target needs FP8 slices of whole 128x128 "
           "scale blocks", CompileTargetNames>,
  ];
  let dependentDialects = ["::moela::nn::NNDialect"];
}

def ShardMlpPass : Pass<"moela-shard-mlp", "mlir::ModuleOp"> {
  let summary = "Tensor-parallel dense MLPs: gate/up by rows, down by columns";
  let description = [{
    Splits the intermediate dim of every `nn.mlp` (the dense layers) over the
    ranks, `gate_proj` / `up_proj` by rows and `down_proj` by columns, and
    sums the ranks' outputs with `nn.all_reduce`.
  }];
  let options = [
    Option<"ranks", "ranks", "int64_t", /*default=*/"1",
           "ranks the module runs on (1: nothing to split)">,
    Option<"target", "target", "::moela::CompileTarget",
           /*default=*/"::moela::kDefaultCompileTarget",
           "host | sm_90a: a GPU target needs FP8 slices of whole 128x128 "
           "scale blocks", CompileTargetNames>,
  ];
  let dependentDialects = ["::moela::nn::NNDialect"];
}

def ShardMoePass : Pass<"moela-shard-moe", "mlir::ModuleOp"> {
  let summary = "Expert or tensor parallelism for the MoE layers";
  let description = [{
    With `ep`, partitions the routed experts of every `moe.experts` over the
    ranks (each computes its own experts for every token, the others
    contribute zero); without it, splits every expert's intermediate dim as
    `moela-shard-mlp` does. The shared experts are always split by their
    intermediate dim. One `nn.all_reduce` after `moe.combine` sums the
    ranks' partial outputs. Routing stays whole on every rank.
  }];
  let options = [
    Option<"ranks", "ranks", "int64_t", /*default=*/"1",
           "ranks the module runs on (1: nothing to split)">,
    Option<"target", "target", "::moela::CompileTarget",
           /*default=*/"::moela::kDefaultCompileTarget",
           "host | sm_90a: a GPU target needs FP8 slices of whole 128x128 "
           "scale blocks", CompileTargetNames>,
    Option<"ep", "ep", "bool", /*default=*/"false",
           "partition the routed experts over the ranks (expert parallelism) "
           "instead of splitting inside each expert">,
  ];
  let dependentDialects = ["::moela::nn::NNDialect"];
}

def ShardVocabPass : Pass<"moela-shard-vocab", "mlir::ModuleOp"> {
  let summary = "Vocab-parallel embedding and lm_head";
  let description = [{
    Splits the rows of every `nn.embedding` table (each rank looks up the
    tokens of its vocab range, zero rows elsewhere, and `nn.all_reduce` sums
    them) and of every `nn.lm_head` weight (each rank computes the logits of
    its range and `nn.all_gather` puts the rows' logits side by side). When
    the vocabulary does not divide by the ranks both stay whole.
  }];
  let options = [
    Option<"ranks", "ranks", "int64_t", /*default=*/"1",
           "ranks the module runs on (1: nothing to split)">,
    Option<"target", "target", "::moela::CompileTarget",
           /*default=*/"::moela::kDefaultCompileTarget",
           "host | sm_90a: a GPU target needs FP8 slices of whole 128x128 "
           "scale blocks", CompileTargetNames>,
  ];
  let dependentDialects = ["::moela::nn::NNDialect"];
}

def MlaSelectFormPass : Pass<"moela-mla-select-form", "mlir::ModuleOp"> {
  let summary = "Choose absorbed MLA for decode and expanded MLA for prefill";
  let description = [{
    Sets `form` on every `mla.attention` that has none: `absorbed` in
    @decode (one query per sequence attends over the whole latent cache:
    folding W_UK/W_UV into the query and output avoids expanding the cache),
    `expanded` in @prefill (many queries share the expanded keys and values,
    so expanding once is cheaper), `absorbed` elsewhere.
  }];
  let options = [
    Option<"prefillForm", "prefill", "::moela::mla::AttentionForm",
           /*default=*/"::moela::mla::AttentionForm::expanded",
           "form for @prefill: absorbed | expanded", AttentionFormNames>,
    Option<"decodeForm", "decode", "::moela::mla::AttentionForm",
           /*default=*/"::moela::mla::AttentionForm::absorbed",
           "form for @decode: absorbed | expanded", AttentionFormNames>,
  ];
  let dependentDialects = ["::moela::mla::MLADialect"];
}

def LowerToKernelPass : Pass<"moela-lower-to-kernel", "mlir::ModuleOp"> {
  let summary = "Lower the model IR to kernel IR, one kernel per concept";
  let description = [{
    Replaces every nn/mla/moe op by the kernel ops that compute it, without
    fusion: a linear becomes a `kernel.gemm`, an MLP three GEMMs and a
    `kernel.silu_mul`, `mla.kv_proj` a GEMM, a slice and an RMSNorm,
    `mla.attention` a `kernel.kv_append` and a `kernel.mla_attention`, MoE
    routing `kernel.route`, experts `kernel.moe_experts` and
    `kernel.moe_combine`. Per-head tensors `[T, H, X]` become `[T, H*X]`.
    MTP functions are dropped (moela-mtp-draft runs module 0 in the main
    programs).
  }];
  let dependentDialects = ["::moela::kernel::KernelDialect"];
}

def MlaExpandPrefillPass : Pass<"moela-mla-expand-prefill", "mlir::ModuleOp"> {
  let summary = "Expanded MLA of @prefill over the step's own tokens; @extend for the rest";
  let description = [{
    If @prefill has expanded `kernel.mla_attention`, requires its steps to
    hold fresh sequences (each starts in the step at position 0; the function
    gets `moela.fresh_sequences`, the plan's Program.fresh_sequences) and
    replaces each by `kernel.kv_gather` (the rows the step appended), a GEMM
    with kv_b (`[T, H*(Dn+Dv)]`, per head `[k_nope | v]`) and
    `kernel.mla_prefill_attention` (causal attention over the step's rows).
    A copy of @prefill with absorbed attention becomes @extend: the runtime
    runs it for chunks that continue a sequence.
  }];
}

def FuseQkvAPass : Pass<"moela-fuse-qkv-a", "mlir::func::FuncOp"> {
  let summary = "Merge the q_a and kv_a projections into one GEMM";
  let description = [{
    `q_a_proj` and `kv_a_proj_with_mqa` both read the normed hidden state:
    one GEMM with their weights concatenated (`[Rq + R + Dr, D]`) reads the
    activations once and launches once; slices split the result.
  }];
}

def MlaFuseKvAppendPass : Pass<"moela-mla-fuse-kv-append", "mlir::func::FuncOp"> {
  let summary = "Fuse the latent RMSNorm and the k_pe RoPE into the cache append";
  let description = [{
    `kernel.kv_append(rms_norm(slice(kv)), rope(slice(kv)))` becomes one
    `kernel.kv_append` that normalises, rotates and writes the cache row
    straight from the projection's output.
  }];
}

def FuseRopePass : Pass<"moela-fuse-rope", "mlir::func::FuncOp"> {
  let summary = "Fuse the query RoPE into the epilogue of the GEMM that produces q";
  let description = [{
    `kernel.rope(kernel.gemm(x))` becomes a GEMM with a rope epilogue, so the
    query is rotated before it is first written.
  }];
}

def MlaAbsorbPass : Pass<"moela-mla-absorb", "mlir::func::FuncOp"> {
  let summary = "Decompose absorbed MLA into W_UK, latent attention and W_UV";
  let description = [{
    An absorbed `kernel.mla_attention` becomes a per-head GEMM with W_UK^T
    (`q_lat = Wuk^T q_nope`, `[T, H*R]`), attention over the latent cache
    (`kernel.mla_latent_attention`), and a per-head GEMM with W_UV
    (`o = Wuv o_lat`). Expanded attention is left as is.
  }];
}

def FuseSwiGluPass : Pass<"moela-fuse-swiglu", "mlir::func::FuncOp"> {
  let summary = "Fuse gate and up projections and SwiGLU into one GEMM";
  let description = [{
    `silu_mul(gemm(x, gate), gemm(x, up))` becomes `gemm(x, [gate; up])`
    with the `silu_mul` epilogue: one pass over x and no `[T, 2F]` round trip.
  }];
}

def FuseRouterPass : Pass<"moela-fuse-router", "mlir::func::FuncOp"> {
  let summary = "Fuse the router GEMM into expert selection";
  let description = [{
    `route(gemm(x, gate))` becomes `route(x)` with the gate weight: the
    `[T, E]` logits never leave the kernel and are computed from the f32
    activations in f32 (docs/model.md §3.2), where a tensor-core GEMM
    would round x to bf16 and flip near-tied expert choices. The fused
    kernel reads the gate weight once per token, so on a GPU it pays only
    for few tokens per step: `functions` limits it to those programs, and
    in the others the gate GEMM becomes `precise` (f32 inputs kept to ~16
    bits on tensor cores).
  }];
  let options = [
    ListOption<"functions", "functions", "std::string",
               "fuse only in these functions (default: all)">,
  ];
}

def MoeDispatchPass : Pass<"moela-moe-dispatch", "mlir::func::FuncOp"> {
  let summary = "Lower routed experts to dispatch, grouped GEMMs and a permuted combine";
  let description = [{
    `moe_combine(moe_experts(x, idx), w, shared)` becomes `moe_dispatch`
    (slots sorted by expert, offsets computed on the device),
    a grouped GEMM with gate/up and the SwiGLU epilogue, a grouped GEMM with
    down, and a combine that reads the sorted rows through the permutation.
    Nothing waits for the host.
  }];
}

def FuseAddNormPass : Pass<"moela-fuse-add-norm", "mlir::func::FuncOp"> {
  let summary = "Fuse the residual add into the RMSNorm that follows it";
  let description = [{
    `rms_norm(add(a, b))` becomes `add_rms_norm(a, b)`, which writes both
    the sum (the residual stream) and the normed value in one pass. With
    `quantize`, norms whose only users are FP8 GEMMs also produce FP8
    activations with 128-wide block scales (docs/model.md §3.4).
  }];
  let options = [
    Option<"quantize", "quantize", "bool", /*default=*/"false",
           "mark norms that feed only FP8 GEMMs for FP8 output">,
  ];
}

def TilePass : Pass<"moela-tile", "mlir::func::FuncOp"> {
  let summary = "Choose tile shapes and launch geometry from the target";
  let description = [{
    Sets `tile` on every GEMM, per-head GEMM, grouped GEMM and attention:
    shapes sized so that the program's typical row count fills the SMs, as
    many pipeline stages as the target's shared memory per block holds
    (abi::kTargets), and for kernel.gemm the engine `gemm-kernel` names
    (the tile's `engine`, which the emitter instantiates). A prefill
    grouped GEMM whose experts get fewer than 128 rows on average
    (max-prefill-tokens * top-k / experts) takes 64 x 128 tiles: half the
    padded rows of 128 x 128. The host target has no tiles.
  }];
  let options = [
    Option<"target", "target", "::moela::CompileTarget",
           /*default=*/"::moela::kDefaultCompileTarget", "host | sm_90a",
           CompileTargetNames>,
    Option<"gemmKernel", "gemm-kernel", "::moela::kernel::GemmEngine",
           /*default=*/"::moela::kernel::GemmEngine::mma",
           "the engine of kernel.gemm: mma (mma.sync, runtime/kernels/Gemm.cuh) "
           "| wgmma (sm_90a warpgroup MMA, runtime/kernels/GemmWgmma.cuh)",
           GemmEngineNames>,
    Option<"maxPrefillTokens", "max-prefill-tokens", "int64_t",
           /*default=*/"2048",
           "tokens of a prefill step: with top-k of E experts an expert's "
           "grouped GEMM gets about tokens * k / E rows">,
  ];
}

def SamplePass : Pass<"moela-sample", "mlir::ModuleOp"> {
  let summary = "End every program with a Sample step: token ids, not logits";
  let description = [{
    Gives every kernel program a fifth input, `sampling` `[R, 8]` i32 (each
    logit row's temperature, top_k, top_p, seed, counter and top logprobs:
    `abi::SamplingWord`), and appends `kernel.sample` of its logits, whose
    `ids` and `logprobs` `[R, 21]` become its last two results
    (docs/model.md §4). The logits stay the first result.
  }];
  let dependentDialects = ["::moela::kernel::KernelDialect"];
}

def SampleVocabParallelPass : Pass<"moela-sample-vocab-parallel", "mlir::ModuleOp"> {
  let summary = "Sample vocab-parallel logits from each rank's candidates";
  let description = [{
    In a vocab-parallel module, replaces each program's `kernel.all_gather`
    of its lm_head columns before `kernel.sample` by
    `kernel.sample_candidates` on the rank's columns, an all_gather of the
    candidate blocks and `kernel.sample` with `candidate_parts`, where the
    blocks are smaller than the rows (or `always`). The program's logits
    result becomes the rank's columns (`moela.layout` `logits_sharded`).
    Run after moela-sample.
  }];
  let options = [
    Option<"always", "always", "bool", /*default=*/"false",
           "also where the gathered blocks are not smaller than the rows (tests)">
  ];
  let dependentDialects = ["::moela::kernel::KernelDialect"];
}

def PlanMemoryPass : Pass<"moela-plan-memory", "mlir::ModuleOp"> {
  let summary = "Assign every kernel tensor a buffer and an arena offset";
  let description = [{
    Derives each tensor's row kind (per token, per routed slot, per logit
    row, fixed) from its producer, picks its storage dtype for the target,
    computes liveness over the op sequence and packs buffers whose lifetimes
    do not overlap into one arena (first fit by decreasing size). Slices
    alias their input's buffer. Writes `kernel.buffer_ids` on every op and the
    buffer table and arena size on every function.
  }];
  let options = [
    Option<"maxPrefillTokens", "max-prefill-tokens", "int64_t", /*default=*/"2048",
           "tokens per @prefill step (the runtime chunks longer prompts)">,
    Option<"maxBatch", "max-batch", "int64_t", /*default=*/"64",
           "sequences per step: tokens per @decode step, logit rows per step">,
    Option<"target", "target", "::moela::CompileTarget",
           /*default=*/"::moela::kDefaultCompileTarget",
           "host | sm_90a: decides the storage dtypes", CompileTargetNames>,
  ];
}

#endif // MOELA_PASSES
