//===- Cli11.h - moela's conventions on a CLI11 command line --------------===//
//
// Shared by the runtime tools so that they behave alike: --help and
// --version print to stdout and exit 0 (before required arguments are
// checked, so `moela-run --version` needs no plan); a bad command line is one
// line "<tool>: <message>" on stderr and exit code 1, and an unknown option
// names the nearest known one.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_CLI_CLI11_H
#define MOELA_TOOLS_CLI_CLI11_H

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>

namespace moela::cli {

/// Adds --version (printing `version()`) and parses argv into `app`. Returns
/// the exit code when the tool should stop here (help, version, error), or
/// nullopt when it should go on.
std::optional<int> parseCommandLine(CLI::App &app, int argc, char **argv,
                                    const std::string &tool,
                                    std::function<std::string()> version);

} // namespace moela::cli

#endif // MOELA_TOOLS_CLI_CLI11_H
