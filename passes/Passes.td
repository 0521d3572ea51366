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
    Option<"prefillForm", "prefill", "std::string", /*default=*/"\"expanded\"",
           "form for @prefill: absorbed | expanded">,
    Option<"decodeForm", "decode", "std::string", /*default=*/"\"absorbed\"",
           "form for @decode: absorbed | expanded">,
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
    MTP functions (not executed by the runtime yet) are dropped.
  }];
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
    Option<"target", "target", "std::string", /*default=*/"\"sm_90a\"",
           "host | sm_90a: decides the storage dtypes">,
  ];
}

#endif // MOELA_PASSES
