//===- Version.h - What every tool's --version prints ---------------------===//
//
// One header for the runtime tools (CLI11) and the compiler tools (llvm::cl):
// moela's version and git commit (generated at build time by
// GitVersion.cmake), the plan schema version, and the versions of the
// libraries a tool loads. Nothing here needs a GPU or a driver.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_CLI_VERSION_H
#define MOELA_TOOLS_CLI_VERSION_H

#include <string>
#include <vector>

namespace moela::cli {

/// "<tool> <version> (git <describe>)", "plan schema: <n>", then `extra`,
/// one per line, each line ending in '\n'.
std::string versionText(const std::string &tool,
                        const std::vector<std::string> &extra = {});

/// "CUDA driver: 13.0" when libcuda.so.1 (or $MOELA_CUDA_DRIVER) opens, else
/// "CUDA driver: not loaded (<why>)". Asks cuDriverGetVersion only, which
/// needs neither cuInit nor a device.
std::string cudaDriverLine();

} // namespace moela::cli

#endif // MOELA_TOOLS_CLI_VERSION_H
