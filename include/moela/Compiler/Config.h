//===- Config.h - Reading and validating config.json ------------*- C++ -*-===//
#ifndef MOELA_COMPILER_CONFIG_H
#define MOELA_COMPILER_CONFIG_H

#include "moela/Runtime/ModelConfig.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

namespace moela {

/// Reads `path` (a config.json, or a checkpoint directory holding one) and
/// validates every field and rule of docs/model.md §1. Errors are one line that
/// names the file, the field, its value and the rule, e.g.
/// "config.json: num_experts_per_tok = 20 must be <= n_routed_experts = 12".
llvm::Expected<ModelConfig> loadModelConfig(llvm::StringRef path);

/// The same for JSON text; `origin` prefixes the errors.
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef json,
                                             llvm::StringRef origin);

/// The path of the config.json that `path` names (itself, or
/// <dir>/config.json).
std::string resolveConfigPath(llvm::StringRef path);

} // namespace moela

#endif // MOELA_COMPILER_CONFIG_H
