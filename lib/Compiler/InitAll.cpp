//===- InitAll.cpp - Register moela's dialects and passes -----------------===//
#include "moela/InitAll.h"

#include "Kernel/KernelDialect.h"
#include "MLA/MLADialect.h"
#include "MoE/MoEDialect.h"
#include "NN/NNDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"

void moela::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::func::FuncDialect, nn::NNDialect, mla::MLADialect,
                  moe::MoEDialect, kernel::KernelDialect>();
}

void moela::registerAllPasses() {
  registerMoelaPasses();
  registerPipelines();
}
