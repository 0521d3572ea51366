//===- Safetensors.h - Memory-mapped safetensors files and checkpoints ----===//
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {str: str}}) and the data region the offsets point into. SafetensorsFile maps
// a file read-only and validates its whole header on open; Checkpoint is a
// Hugging Face checkpoint: one file, or shards listed by an index.json.
// Both are immutable after open, so lookups may run on several threads.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_SAFETENSORS_H
#define MOELA_RUNTIME_SAFETENSORS_H

#include "moela/Runtime/DType.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace moela {

/// Largest header moela accepts (the safetensors reference limit).
constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

/// A tensor's bytes inside a mapped file. `data` may be unaligned for the
/// dtype (the header length is arbitrary): read it with memcpy.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr; // [numel * dtypeSize(dtype)], row-major
  size_t bytes = 0;
  std::string path; // the file it lives in

  int64_t numel() const;
};

/// One header entry as written; `dtype` is empty for dtypes moela does not
/// read (BOOL, U8, F64, ...), which are listed but rejected by tensor().
struct SafetensorsEntry {
  std::string name;
  std::string dtypeName;
  std::optional<DType> dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0; // data_offsets, relative to the data region
  uint64_t end = 0;
};

class SafetensorsFile {
public:
  /// Maps `path` and validates the header; throws moela::Error naming the file
  /// and the offending field (bad length, JSON, dtype, shape, offsets,
  /// overlap).
  static std::unique_ptr<SafetensorsFile> open(const std::string &path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  const std::string &path() const { return path_; }
  /// "__metadata__" (empty when absent).
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }
  /// Every entry, in data-offset order.
  const std::vector<SafetensorsEntry> &entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  /// nullptr if the file has no tensor `name`.
  const SafetensorsEntry *find(const std::string &name) const;
  /// The tensor's bytes; throws if it is missing or of a dtype moela does not
  /// read.
  TensorView tensor(const std::string &name) const;

private:
  SafetensorsFile() = default;

  std::string path_;
  const uint8_t *map_ = nullptr;
  size_t mapBytes_ = 0;
  const uint8_t *dataRegion_ = nullptr; // map_ + 8 + header length
  std::map<std::string, std::string> metadata_;
  std::vector<SafetensorsEntry> entries_;
  std::unordered_map<std::string, size_t> index_; // name -> entries_ index
};

/// A checkpoint: a directory (model.safetensors, else
/// model.safetensors.index.json), a single .safetensors file, or an index.json
/// whose "weight_map" assigns each tensor name a shard file relative to it.
/// Shards are opened (and validated) eagerly.
class Checkpoint {
public:
  /// Throws moela::Error for a missing path or shard, a bad index, or a
  /// weight_map entry whose tensor is not in its shard (naming both).
  static Checkpoint open(const std::string &path);

  /// The path as given to open().
  const std::string &path() const { return path_; }
  /// Number of tensors (the weight_map's size for a sharded checkpoint).
  size_t size() const { return byName_.size(); }
  bool contains(const std::string &name) const;
  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  const std::vector<std::unique_ptr<SafetensorsFile>> &files() const {
    return files_;
  }
  /// The entry of `name` and the file holding it; nullptr if absent.
  const SafetensorsEntry *find(const std::string &name,
                               const SafetensorsFile **file = nullptr) const;
  /// Throws "tensor 'X' not found in checkpoint P" if absent.
  TensorView tensor(const std::string &name) const;

private:
  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, const SafetensorsFile *> byName_;
};

/// A tensor to write: `data` holds numel * dtypeSize(dtype) bytes, row-major.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

/// Writes `tensors` as one safetensors file at `path` (8-byte header length,
/// JSON header, data in the given order). Throws Error naming the path if it
/// cannot be written.
void writeSafetensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors);

} // namespace moela

#endif // MOELA_RUNTIME_SAFETENSORS_H
