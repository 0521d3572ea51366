//===- KernelAttrs.td - kernel attributes -----------------------*- tablegen -*-===//
#ifndef MOELA_KERNEL_ATTRS
#define MOELA_KERNEL_ATTRS

include "Kernel/KernelDialect.td"
include "MLA/MLAAttrs.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "Kernel/KernelEnums.td"

def Kernel_GemmEngineParameter : EnumParameter<Kernel_GemmEngine> {
  let defaultValue = "::moela::kernel::GemmEngine::mma";
}

def Kernel_TileAttr : AttrDef<Kernel_Dialect, "Tile"> {
  let mnemonic = "tile";
  let summary = "Tile shape and launch geometry of a CUDA kernel";
  let description = [{
    Chosen by `moela-tile` from the target description: the tensor-core
    `engine` of a `kernel.gemm` (`mma`, the default and not printed, or
    `wgmma`; the other families always use mma.sync), the block tile
    `block_m x block_n` of the output, the K step, the software pipeline
    depth and the threads per block (the engine's own for a `kernel.gemm`,
    which its verifier checks).

    Example:
    ```mlir
    #kernel.tile<block_m = 64, block_n = 128, block_k = 128, stages = 4, threads = 256>
    #kernel.tile<engine = wgmma, block_m = 128, block_n = 256, block_k = 64, stages = 4, threads = 384>
    ```
  }];
  let parameters = (ins Kernel_GemmEngineParameter:$engine,
                        "int64_t":$block_m, "int64_t":$block_n,
                        "int64_t":$block_k, "int64_t":$stages,
                        "int64_t":$threads);
  let assemblyFormat = "`<` struct(params) `>`";
}

def Kernel_HeadRopeAttr : AttrDef<Kernel_Dialect, "HeadRope"> {
  let mnemonic = "head_rope";
  let summary = "RoPE applied to a column slice of every head";
  let description = [{
    For each of `heads` heads of `head_dim` columns, rotates the `rope.dim`
    columns starting at `offset` within the head (docs/model.md §3.1).

    Example:
    ```mlir
    #kernel.head_rope<heads = 4, head_dim = 96, offset = 64, rope = #mla.rope<theta = 1.000000e+04, dim = 32>>
    ```
  }];
  let parameters = (ins "int64_t":$heads, "int64_t":$head_dim,
                        "int64_t":$offset, "::moela::mla::RopeAttr":$rope);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Kernel_BufferAttr : AttrDef<Kernel_Dialect, "Buffer"> {
  let mnemonic = "buffer";
  let summary = "A planned activation buffer";
  let description = [{
    One entry of a program's buffer table, written by `moela-plan-memory`:
    `rows` = `row_factor` x (T for token, R for logit_row, 1 for fixed);
    `cols` columns of `dtype` (the storage type on the device); `offset` and
    `bytes` in the program's arena at the program's maximum T and R. An FP8
    buffer (W8A8 activations, docs/model.md §3.4) names in `scales` the buffer that
    holds its f32 block scales, one per row and 128 columns; -1 (the default,
    not printed) otherwise.

    Example:
    ```mlir
    #kernel.buffer<name = "layers.0.attn.q", dtype = bf16, rows = token, row_factor = 1,
                   cols = 384, offset = 4096, bytes = 49152>
    ```
  }];
  let parameters = (ins StringRefParameter<"debug name">:$name,
                        "::mlir::Type":$dtype,
                        EnumParameter<Kernel_RowKind>:$rows,
                        "int64_t":$row_factor, "int64_t":$cols,
                        "int64_t":$offset, "int64_t":$bytes,
                        DefaultValuedParameter<"int64_t", "-1">:$scales);
  let assemblyFormat = "`<` struct(params) `>`";
}

#endif // MOELA_KERNEL_ATTRS
