//===- CheckpointWriter.h - Writing Hugging Face-layout checkpoints -------===//
//
// Test-only. Writes the tensors of specTensors(config) from any WeightSource
// into a single model.safetensors, in the dtypes of docs/model.md §2 (FP8
// weights with their F32 `<name>_scale_inv` siblings). Used by
// moela-gen-checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_REFERENCE_CHECKPOINTWRITER_H
#define MOELA_TEST_REFERENCE_CHECKPOINTWRITER_H

#include "SpecConfig.h"

#include "moela/Runtime/Weights.h"

#include <cstdint>
#include <string>

namespace moela::spec {

/// Writes `outDir`/config.json (a copy of `configPath`) and
/// `outDir`/model.safetensors with every tensor of specTensors(config) taken
/// from `weights` via loadRaw. Creates `outDir`. Returns the tensor count.
size_t writeCheckpoint(const std::string &configPath, WeightSource &weights,
                       const std::string &outDir);

} // namespace moela::spec

#endif // MOELA_TEST_REFERENCE_CHECKPOINTWRITER_H
