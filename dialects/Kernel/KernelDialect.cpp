//===- KernelDialect.cpp - kernel dialect and attributes ------------------===//
#include "Kernel/KernelDialect.h"
#include "Kernel/KernelOps.h"
#include "runtime/kernels/Abi.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moela::kernel;

#include "Kernel/KernelDialect.cpp.inc"
#include "Kernel/KernelEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "Kernel/KernelAttrs.cpp.inc"

void KernelDialect::initialize() {
#include "Kernel/KernelRegistration.inc"
}

LogicalResult HeadRopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t heads, int64_t headDim,
                                   int64_t offset, moela::mla::RopeAttr rope) {
  if (heads < 1 || headDim < 1)
    return emitError() << "head_rope needs heads >= 1 and head_dim >= 1";
  if (offset < 0 || offset + rope.getDim() > headDim)
    return emitError() << "head_rope rotates columns [" << offset << ", "
                       << offset + rope.getDim() << ") of a " << headDim
                       << "-column head (offset + rope dim <= head_dim)";
  return success();
}

// The plan stores a GEMM's engine as abi::GemmEngine.
static_assert(int(GemmEngine::mma) == int(moela::abi::GemmEngine::kMma) &&
              int(GemmEngine::wgmma) == int(moela::abi::GemmEngine::kWgmma));

int64_t moela::kernel::gemmThreads(GemmEngine engine) {
  return engine == GemmEngine::wgmma ? moela::abi::kWgmmaGemmThreads
                                     : moela::abi::kMmaGemmThreads;
}
