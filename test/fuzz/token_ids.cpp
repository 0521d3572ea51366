//===- token_ids.cpp - Fuzzes the token-id files of moela-run -------------===//
//
// --prompt-ids and --teacher-force (tools/run/IdArrays): an array of arrays
// of ids, or one moela::Error.
//
//===----------------------------------------------------------------------===//
#include "FuzzFiles.h"
#include "moela/Runtime/Error.h"
#include "run/IdArrays.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  try {
    moela::runtool::parseIdArrays(moela::fuzz::asText(data, size), "ids.json",
                                  "--prompt-ids");
  } catch (const moela::Error &) {
  }
  return 0;
}
