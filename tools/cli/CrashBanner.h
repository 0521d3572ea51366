//===- CrashBanner.h - What a compiler tool says when it crashes ----------===//
//
// LLVM's crash handler (installed by InitLLVM) prints a stack dump and, by
// default, asks users to file the crash at LLVM's bug tracker. A crash in a
// moela tool is moela's bug: the banner says so instead.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_CLI_CRASHBANNER_H
#define MOELA_TOOLS_CLI_CRASHBANNER_H

#include "llvm/Support/PrettyStackTrace.h"

namespace moela::cli {

/// Replaces LLVM's "PLEASE submit a bug report to <LLVM's tracker>" line.
inline void setMoelaCrashBanner() {
  llvm::setBugReportMsg(
      "This is a bug in moela, not in LLVM or MLIR: please report it to "
      "moela's maintainers with the command line, the input files and the "
      "stack dump below.\n");
}

} // namespace moela::cli

#endif // MOELA_TOOLS_CLI_CRASHBANNER_H
