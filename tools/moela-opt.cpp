//===- moela-opt.cpp - Run moela passes on MLIR files ---------------------===//
#include "moela/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  moela::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "moela optimizer driver\n", registry));
}
