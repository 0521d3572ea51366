//===- MLADialect.h - The mla dialect ---------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_MLA_MLADIALECT_H
#define MOELA_DIALECTS_MLA_MLADIALECT_H

#include "NN/NNDialect.h"

#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "MLA/MLADialect.h.inc"
#include "MLA/MLAEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "MLA/MLAAttrs.h.inc"

namespace moela::mla {

/// The latent KV cache that mla.attention appends to and reads.
struct KVCacheResource
    : public mlir::SideEffects::Resource::Base<KVCacheResource> {
  llvm::StringRef getName() final { return "mla.kv_cache"; }
};

} // namespace moela::mla

#endif // MOELA_DIALECTS_MLA_MLADIALECT_H
