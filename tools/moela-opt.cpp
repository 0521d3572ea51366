//===- moela-opt.cpp - Run moela passes on MLIR files ---------------------===//
#include "cli/Version.h"
#include "moela/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  moela::registerAllPasses();
  // MLIR's driver keeps its own --help; --version says which moela it is.
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << moela::cli::versionText("moela-opt",
                                  {"MLIR/LLVM: " LLVM_VERSION_STRING});
  });
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "moela optimizer driver\n", registry));
}
