//===- Importer.h - ModelConfig -> model IR ---------------------*- C++ -*-===//
#ifndef MOELA_COMPILER_IMPORTER_H
#define MOELA_COMPILER_IMPORTER_H

#include "moela/Runtime/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace moela {

/// Builds the model IR of `config`: a module with the functions
///   @prefill and @decode (tokens, positions, seq_ids, logit_rows) -> logits,
///   @mtp_<k> for each MTP module (the same plus the main model's hidden
///   state),
/// every weight referenced by its Hugging Face tensor name, dtype and shape.
/// The config itself is attached as the module attribute `moela.model`.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ModelConfig &config);

/// Attaches `config` to `module` as the `moela.model` dictionary attribute.
void writeModelConfig(mlir::ModuleOp module, const ModelConfig &config);

/// The config stored in a module's `moela.model` attribute, or failure (with
/// a diagnostic on the module) when it is missing or malformed.
mlir::FailureOr<ModelConfig> readModelConfig(mlir::ModuleOp module);

} // namespace moela

#endif // MOELA_COMPILER_IMPORTER_H
