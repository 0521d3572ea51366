//===- gen-checkpoint.cpp - Random Hugging Face-layout checkpoints --------===//
//
// moela-gen-checkpoint CONFIG.json OUT_DIR --seed N
//
// Writes OUT_DIR/config.json (a copy) and OUT_DIR/model.safetensors holding
// every tensor of specTensors(config) (docs/model.md §2, main model only)
// filled by makeRandomWeights(N) in the dtypes of docs/model.md §2: BF16, F32
// router bias, and for FP8 configs F8_E4M3 weights with their F32
// `<name>_scale_inv` siblings. Test-only: it makes checkpoints for configs that
// have no goldens.
//
//===----------------------------------------------------------------------===//
#include "CheckpointWriter.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Weights.h"

#include <iostream>
#include <string>

using namespace moela;

namespace {

int run(int argc, char **argv) {
  std::string configPath, outDir;
  uint64_t seed = 0;
  bool haveSeed = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seed" && i + 1 < argc) {
      std::string value = argv[++i];
      size_t used = 0;
      try {
        seed = std::stoull(value, &used);
      } catch (const std::exception &) {
        used = 0;
      }
      if (used == 0 || used != value.size())
        fail("--seed '", value, "' is not a non-negative integer");
      haveSeed = true;
    } else if (configPath.empty()) {
      configPath = arg;
    } else if (outDir.empty()) {
      outDir = arg;
    } else {
      fail("unexpected argument '", arg, "'");
    }
  }
  if (configPath.empty() || outDir.empty() || !haveSeed)
    fail("usage: moela-gen-checkpoint CONFIG.json OUT_DIR --seed N");

  std::unique_ptr<WeightSource> weights = makeRandomWeights(seed);
  size_t n = spec::writeCheckpoint(configPath, *weights, outDir);
  std::cout << "wrote " << outDir << "/model.safetensors (" << n << " tensors, "
            << weights->describe() << ")\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    std::cerr << "moela-gen-checkpoint: " << e.what() << "\n";
    return 1;
  }
}
