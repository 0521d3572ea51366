//===- config.cpp - Fuzzes config.json: the compiler's parse and rules ----===//
//
// Any text gives a ModelConfig or one error line, never a crash.
//
//===----------------------------------------------------------------------===//
#include "moela/Compiler/Config.h"
#include "FuzzFiles.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text = moela::fuzz::asText(data, size);
  llvm::Expected<moela::ModelConfig> config = moela::parseModelConfig(
      llvm::StringRef(text.data(), text.size()), "config.json");
  if (!config) {
    std::string message = llvm::toString(config.takeError());
    if (message.empty() || message.find('\n') != std::string::npos)
      std::abort(); // an error is one line
  }
  return 0;
}
