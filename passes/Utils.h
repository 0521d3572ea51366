//===- Utils.h - Small helpers shared by moela passes -----------*- C++ -*-===//
#ifndef MOELA_PASSES_UTILS_H
#define MOELA_PASSES_UTILS_H

#include "mlir/IR/Location.h"

#include <string>

namespace moela {

/// The model position a location names ("layers.1.attn.q_proj"); fused
/// locations join their names with "+"; "" when there is none.
std::string locationName(mlir::Location loc);

} // namespace moela

#endif // MOELA_PASSES_UTILS_H
