//===- InitAll.h - Register moela's dialects and passes ---------*- C++ -*-===//
#ifndef MOELA_INITALL_H
#define MOELA_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace moela {

/// The dialects moela's IR uses: func, nn, mla, moe, kernel.
void registerAllDialects(mlir::DialectRegistry &registry);
/// Every moela pass and the default pipeline ("moela-default").
void registerAllPasses();

} // namespace moela

#endif // MOELA_INITALL_H
