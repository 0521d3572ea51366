//===- MnemonicAlias.h - Attributes printed once, as #mnemonic --*- C++ -*-===//
#ifndef MOELA_DIALECTS_MNEMONICALIAS_H
#define MOELA_DIALECTS_MNEMONICALIAS_H

#include "mlir/IR/OpImplementation.h"

namespace moela {

/// Prints every attribute of type `AttrT` once, at the top of the module as
/// `#<mnemonic> = ...`, and refers to it by that alias: the RoPE and routing
/// parameters repeat on every layer's ops.
template <typename AttrT>
struct MnemonicAlias : public mlir::OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;

  AliasResult getAlias(mlir::Attribute attr,
                       llvm::raw_ostream &os) const override {
    if (!mlir::isa<AttrT>(attr))
      return AliasResult::NoAlias;
    os << AttrT::getMnemonic();
    return AliasResult::FinalAlias;
  }
};

} // namespace moela

#endif // MOELA_DIALECTS_MNEMONICALIAS_H
