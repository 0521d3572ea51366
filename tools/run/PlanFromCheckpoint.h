//===- PlanFromCheckpoint.h - moela-run DIR: compile, cache, run -*- C++
//-*-===//
//
// `moela-run DIR` takes a checkpoint folder as llama.cpp, vLLM and MLC do: the
// folder's config.json is compiled for the present target and the plan is
// cached, keyed by the config text, the compile flags and moela's version, so
// a second run starts at once.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_PLANFROMCHECKPOINT_H
#define MOELA_TOOLS_RUN_PLANFROMCHECKPOINT_H

#include "moela/Compiler/Driver.h"

#include <cstdint>
#include <optional>
#include <string>

namespace CLI {
class App;
} // namespace CLI

namespace moela::runtool {

/// The moela-compile flags moela-run forwards when given a folder.
struct CheckpointCompileFlags {
  std::string target; // "" = sm_90a when a CUDA device is usable, else host
  /// --max-batch, --max-prefill-tokens, --mtp, --tp and --ep, bound to the
  /// compiler's own options (std-only: the header needs no MLIR).
  CompileOptions compile;
  /// Whether any flag was given (they mean nothing for a plan file).
  bool any() const;
};

/// Registers --target, --max-batch, --max-prefill-tokens, --mtp, --tp, --ep.
void addCompileFlags(CLI::App &app, CheckpointCompileFlags &flags);

/// The plan file for `path`: `path` itself when it is a file; for a folder
/// the cached plan of DIR/config.json ($MOELA_CACHE_DIR/plans, else
/// $XDG_CACHE_HOME/moela/plans or ~/.cache/moela/plans), compiled first when
/// missing (with a note on stderr unless `quiet`). Throws Error for a folder
/// without config.json or compile flags with a plan file; nullopt when the
/// compiler failed (it printed why). `tool` starts the note.
std::optional<std::string>
planFromCheckpoint(const std::string &path, const CheckpointCompileFlags &flags,
                   bool quiet, const char *tool = "moela-run");

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_PLANFROMCHECKPOINT_H
