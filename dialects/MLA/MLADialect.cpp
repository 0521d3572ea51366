//===- MLADialect.cpp - mla dialect and attributes ------------------------===//
#include "MLA/MLADialect.h"
#include "MLA/MLAOps.h"
#include "dialects/MnemonicAlias.h"

#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moela::mla;

#include "MLA/MLADialect.cpp.inc"
#include "MLA/MLAEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "MLA/MLAAttrs.cpp.inc"

void MLADialect::initialize() {
  addInterfaces<moela::MnemonicAlias<RopeAttr>>(); // #rope = ...
#include "MLA/MLARegistration.inc"
}

LogicalResult YarnAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat factorAttr, int64_t originalMaxPositions,
                               APFloat betaFastAttr, APFloat betaSlowAttr,
                               APFloat mscale, APFloat mscaleAllDim) {
  double factor = factorAttr.convertToDouble();
  double betaFast = betaFastAttr.convertToDouble();
  double betaSlow = betaSlowAttr.convertToDouble();
  if (factor <= 0)
    return emitError() << "yarn factor must be > 0, got " << factor;
  if (originalMaxPositions <= 0)
    return emitError()
           << "yarn original_max_position_embeddings must be > 0, got "
           << originalMaxPositions;
  if (!(betaSlow > 0 && betaFast > betaSlow))
    return emitError()
           << "yarn needs beta_fast > beta_slow > 0, got beta_fast = "
           << betaFast << ", beta_slow = " << betaSlow;
  return success();
}

LogicalResult RopeAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat thetaAttr, int64_t dim, YarnAttr) {
  double theta = thetaAttr.convertToDouble();
  if (theta <= 0)
    return emitError() << "rope theta must be > 0, got " << theta;
  if (dim <= 0 || dim % 2 != 0)
    return emitError() << "rope dim must be positive and even (interleaved "
                          "pairs), got "
                       << dim;
  return success();
}
