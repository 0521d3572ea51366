//===- moela-opt.cpp - Run moela passes on MLIR files ---------------------===//
//
// MLIR's optimizer driver (MlirOptMain) with moela's dialects and passes. The
// IR goes to stdout (or -o); stderr holds only diagnostics, so -q has nothing
// to remove and is accepted so that every moela tool takes it. -v turns on
// MLIR's own --mlir-timing (the pass timing report on stderr), what an
// mlir-opt user reaches for; --mlir-print-ir-after-all shows the IR itself.
// -q beats -v, as in moela-compile and moela-run.
//
//===----------------------------------------------------------------------===//
#include "cli/CrashBanner.h"
#include "cli/Version.h"
#include "moela/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"

namespace {

llvm::cl::OptionCategory messageCategory("moela-opt messages");

bool sawQuiet = false, sawVerbose = false;

/// Sets MLIR's --mlir-timing as if it were given (it is registered by the
/// time the command line is parsed): on for -v, unless -q (which beats it
/// in either order).
void setTiming(bool on) {
  llvm::StringMap<llvm::cl::Option *> &options =
      llvm::cl::getRegisteredOptions();
  auto timing = options.find("mlir-timing");
  if (timing != options.end())
    timing->second->addOccurrence(0, "mlir-timing", on ? "true" : "false");
}

llvm::cl::opt<bool>
    quiet("q",
          llvm::cl::desc("Nothing but errors on stderr, and no -v (moela-opt "
                         "prints nothing else); also --quiet"),
          llvm::cl::callback([](const bool &on) {
            sawQuiet = on;
            if (on && sawVerbose)
              setTiming(false);
          }),
          llvm::cl::cat(messageCategory));
llvm::cl::alias quietLong("quiet", llvm::cl::desc("Alias for -q"),
                          llvm::cl::aliasopt(quiet),
                          llvm::cl::cat(messageCategory));
llvm::cl::opt<bool>
    verbose("v",
            llvm::cl::desc("The pass timing report on stderr (the same as "
                           "--mlir-timing; the IR is unchanged); also "
                           "--verbose"),
            llvm::cl::callback([](const bool &on) {
              sawVerbose = on;
              if (on && !sawQuiet)
                setTiming(true);
            }),
            llvm::cl::cat(messageCategory));
llvm::cl::alias verboseLong("verbose", llvm::cl::desc("Alias for -v"),
                            llvm::cl::aliasopt(verbose),
                            llvm::cl::cat(messageCategory));

/// Hides (from --help, not --help-hidden) the options registered so far in
/// LLVM's general and Polly categories: LLVM's backend and optimizer options,
/// linked in with LLVM. MLIR registers its own inside MlirOptMain, later,
/// and they stay listed, as do -q/-v, --help, --version and --color.
void hideLlvmOptions() {
  for (auto &entry : llvm::cl::getRegisteredOptions()) {
    llvm::cl::Option *option = entry.getValue();
    if (llvm::all_of(option->Categories, [](llvm::cl::OptionCategory *c) {
          return c == &llvm::cl::getGeneralCategory() ||
                 c->getName() == "Polly Options";
        }))
      option->setHiddenFlag(llvm::cl::Hidden);
  }
}

} // namespace

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  moela::registerAllPasses();
  hideLlvmOptions();
  moela::cli::setMoelaCrashBanner();
  // MLIR's driver keeps its own --help (less LLVM's backend options); --version
  // says which moela it is.
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << moela::cli::versionText("moela-opt",
                                  {"MLIR/LLVM: " LLVM_VERSION_STRING});
  });
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "moela optimizer driver\n", registry));
}
