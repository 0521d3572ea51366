//===- FuzzFiles.h - A fuzz input as the file a reader opens --------------===//
//
// Readers that take a path (safetensors, tokenizer folders) get the input as a
// file in one scratch folder per process, rewritten for every input.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_FUZZ_FUZZFILES_H
#define MOELA_TEST_FUZZ_FUZZFILES_H

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace moela::fuzz {

/// A folder removed with the process's statics.
struct ScratchFolder {
  std::string path;
  ~ScratchFolder() { std::filesystem::remove_all(path); }
};

/// The scratch folder, made on first use.
inline const std::string &scratchDir() {
  static const ScratchFolder folder{[] {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "moela-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data()))
      std::abort();
    return pattern;
  }()};
  return folder.path;
}

/// Writes `bytes` to scratchDir()/`name` and returns its path.
inline std::string writeScratch(const std::string &name,
                                std::string_view bytes) {
  std::string path = scratchDir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

/// The input as text.
inline std::string_view asText(const uint8_t *data, size_t size) {
  return {reinterpret_cast<const char *>(data), size};
}

} // namespace moela::fuzz

#endif // MOELA_TEST_FUZZ_FUZZFILES_H
