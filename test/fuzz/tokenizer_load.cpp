//===- tokenizer_load.cpp - Fuzzes loading a tokenizer folder -------------===//
//
// The input is tokenizer.json, and after a NUL byte (which JSON text cannot
// hold) tokenizer_config.json. A folder loads and then encodes, decodes and
// renders a chat, or it gives one moela::Error.
//
//===----------------------------------------------------------------------===//
#include "FuzzFiles.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Tokenizer.h"

#include <filesystem>

using namespace moela;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input = fuzz::asText(data, size);
  size_t nul = input.find('\0');
  fuzz::writeScratch("tokenizer.json", input.substr(0, nul));
  std::string configPath = fuzz::scratchDir() + "/tokenizer_config.json";
  if (nul == std::string_view::npos)
    std::filesystem::remove(configPath);
  else
    fuzz::writeScratch("tokenizer_config.json", input.substr(nul + 1));
  try {
    Tokenizer tokenizer(fuzz::scratchDir(), /*wordCacheEntries=*/16);
    std::vector<TokenId> ids = tokenizer.encode(
        "Hello, world! <｜begin▁of▁sentence｜> 123 héllo\n\t  x", true);
    tokenizer.decode(ids);
    std::vector<TokenId> every;
    for (int64_t id = 0; id < std::min<int64_t>(tokenizer.vocabSize(), 512);
         ++id)
      every.push_back(static_cast<TokenId>(id));
    tokenizer.decode(every, /*skipSpecial=*/true);
    tokenizer.applyChatTemplate({{"system", "s"}, {"user", "u"}}, true);
  } catch (const Error &) {
  }
  return 0;
}
