//===- moela-compile.cpp - config.json -> model IR -> plan ----------------===//
#include "moela/Compiler/Config.h"
#include "moela/Compiler/Importer.h"
#include "moela/InitAll.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;

namespace {

enum class EmitKind { Mlir };

cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<config.json | checkpoint dir>"));
cl::opt<std::string> outputPath("o", cl::desc("Output file ('-' for stdout)"),
                                cl::value_desc("file"), cl::init("-"));
cl::opt<EmitKind> emit(
    "emit", cl::desc("What to produce"), cl::init(EmitKind::Mlir),
    cl::values(clEnumValN(EmitKind::Mlir, "mlir",
                          "the verified model IR as imported from the config")));

/// Prints "moela-compile: <message>" and returns 1.
int fail(const Twine &message) {
  WithColor::error(errs(), "moela-compile") << message << "\n";
  return 1;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::ParseCommandLineOptions(argc, argv, "moela compiler\n");

  Expected<moela::ModelConfig> config = moela::loadModelConfig(inputPath);
  if (!config)
    return fail(toString(config.takeError()));

  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::OwningOpRef<mlir::ModuleOp> module = moela::importModel(context, *config);
  if (failed(mlir::verify(*module)))
    return fail("the imported model IR does not verify (a moela bug)");

  std::string error;
  std::unique_ptr<ToolOutputFile> out = mlir::openOutputFile(outputPath, &error);
  if (!out)
    return fail(error);
  module->print(out->os());
  out->keep();
  return 0;
}
