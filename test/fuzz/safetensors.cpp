//===- safetensors.cpp - Fuzzes opening a safetensors file ----------------===//
//
// A file opens, and then every tensor it lists reads in full (each byte
// touched, so ASan sees a view outside the mapping), or it gives one
// moela::Error.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Safetensors.h"
#include "FuzzFiles.h"
#include "moela/Runtime/Error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string path = moela::fuzz::writeScratch(
      "model.safetensors", moela::fuzz::asText(data, size));
  std::unique_ptr<moela::SafetensorsFile> file;
  try {
    file = moela::SafetensorsFile::open(path);
  } catch (const moela::Error &) {
    return 0;
  }
  volatile uint8_t sink = 0;
  for (const moela::SafetensorsEntry &entry : file->entries()) {
    try {
      moela::TensorView view = file->tensor(entry.name);
      if (static_cast<size_t>(view.numel()) * moela::dtypeSize(view.dtype) !=
          view.bytes)
        std::abort(); // the bytes of a view are its shape's
      for (size_t i = 0; i < view.bytes; ++i)
        sink = sink + view.data[i];
    } catch (const moela::Error &) {
    }
  }
  return 0;
}
