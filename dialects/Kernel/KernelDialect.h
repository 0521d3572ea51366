//===- KernelDialect.h - The kernel dialect ---------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_KERNEL_KERNELDIALECT_H
#define MOELA_DIALECTS_KERNEL_KERNELDIALECT_H

#include "MLA/MLADialect.h"
#include "MoE/MoEDialect.h"
#include "NN/NNDialect.h"

#include "Kernel/KernelDialect.h.inc"
#include "Kernel/KernelEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "Kernel/KernelAttrs.h.inc"

namespace moela::kernel {

/// Discardable attributes written by the memory planner.
/// On a function: the buffer table (ArrayAttr of BufferAttr).
constexpr llvm::StringLiteral kBufferTableAttr = "kernel.buffer_table";
/// On an op: the buffer index of each result (DenseI64ArrayAttr); a slice's
/// result shares its input's buffer.
constexpr llvm::StringLiteral kBufferIdsAttr = "kernel.buffer_ids";
/// On a function: the arena size in bytes and the row limits it was planned
/// for.
constexpr llvm::StringLiteral kArenaBytesAttr = "kernel.arena_bytes";
constexpr llvm::StringLiteral kMaxTokensAttr = "kernel.max_tokens";
constexpr llvm::StringLiteral kMaxLogitRowsAttr = "kernel.max_logit_rows";

/// Threads per block of the GEMM template built on `engine`
/// (abi::kMmaGemmThreads or abi::kWgmmaGemmThreads).
int64_t gemmThreads(GemmEngine engine);

} // namespace moela::kernel

#endif // MOELA_DIALECTS_KERNEL_KERNELDIALECT_H
