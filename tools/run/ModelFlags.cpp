//===- ModelFlags.cpp - The model and runtime flags moela-run and -serve share
//-===//
#include "run/ModelFlags.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/ModelConfig.h"
#include "moela/Runtime/Tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <limits>

namespace moela::runtool {

void addModelFlags(CLI::App &app, ModelFlags &flags) {
  app.add_option("plan", flags.plan,
                 "The plan written by moela-compile, or a checkpoint folder "
                 "(compiled and cached, its weights implied)")
      ->required();
  addCompileFlags(app, flags.compile);
  app.add_option("--weights", flags.weights,
                 "Checkpoint directory or .safetensors file")
      ->group("Model");
  app.add_flag("--random-weights", flags.randomWeights,
               "Deterministic random weights (by --weights-seed) instead of a "
               "checkpoint")
      ->group("Model");
  app.add_option("--weights-seed", flags.weightsSeed,
                 "Seed of --random-weights (default 0)")
      ->group("Model");
  app.add_option(
         "--tokenizer", flags.tokenizer,
         "Folder with tokenizer.json (default: next to the weights, else "
         "the bundled DeepSeek-V3 tokenizer)")
      ->group("Model");
  app.add_option("--chat-template", flags.chatTemplate,
                 "Jinja chat template file to use instead of the tokenizer's "
                 "(tokenizer_config.json's, else DeepSeek-V3's)")
      ->group("Model");
}

void addRuntimeFlags(CLI::App &app, ModelFlags &flags) {
  app.add_option("--backend", flags.backend, "host | cuda | auto (default)")
      ->group("Runtime");
  app.add_option("--max-seq-len", flags.maxSeqLen,
                 "Context length of the KV cache (default min(4096, model))")
      ->group("Runtime");
  app.add_option("--kv-pages", flags.kvPages,
                 "KV cache pool in pages of 64 tokens (default: --max-seq-len "
                 "for every sequence run at once)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()))
      ->group("Runtime");
  app.add_option("--threads", flags.threads,
                 "Host threads (default: all cores)")
      ->group("Runtime");
}

std::unique_ptr<Tokenizer> openTokenizer(const ModelFlags &flags,
                                         const ModelConfig &config) {
  namespace fs = std::filesystem;
  std::string dir = flags.tokenizer;
  if (dir.empty() && !flags.weights.empty() &&
      fs::is_directory(flags.weights) &&
      fs::exists(fs::path(flags.weights) / "tokenizer.json"))
    dir = flags.weights;
  if (dir.empty() &&
      fs::exists(fs::path(MOELA_DEFAULT_TOKENIZER) / "tokenizer.json"))
    dir = MOELA_DEFAULT_TOKENIZER;
  if (dir.empty())
    fail("no tokenizer found: pass --tokenizer DIR (a folder with "
         "tokenizer.json)");
  auto tokenizer = std::make_unique<Tokenizer>(dir);
  if (tokenizer->vocabSize() > config.vocabSize)
    fail("the tokenizer in ", dir, " has ", tokenizer->vocabSize(),
         " tokens but the model only ", config.vocabSize,
         ": pass the model's own --tokenizer");
  if (!flags.chatTemplate.empty())
    tokenizer->loadChatTemplateFile(flags.chatTemplate);
  return tokenizer;
}

int contextLength(const ModelFlags &flags, const ModelConfig &config) {
  const int length = flags.maxSeqLen > 0
                         ? flags.maxSeqLen
                         : static_cast<int>(std::min<int64_t>(
                               config.maxPositionEmbeddings, 4096));
  if (length > config.maxPositionEmbeddings)
    fail("--max-seq-len ", length,
         " exceeds the model's max_position_embeddings = ",
         config.maxPositionEmbeddings);
  return length;
}

} // namespace moela::runtool
