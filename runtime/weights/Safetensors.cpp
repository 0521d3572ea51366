//===- Safetensors.cpp - Memory-mapped safetensors files and checkpoints --===//
//
// Everything in a header is checked on open, so that a tensor handed out later
// always lies inside the mapping: a corrupt or hostile file gives one
// moela::Error naming the file and the field, never a crash.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Safetensors.h"

#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace moela {

namespace {

/// Bits per element of every safetensors dtype, including those moela does
/// not read (so that their byte ranges can still be checked).
int safetensorsBits(const std::string &dtype) {
  static const std::map<std::string, int> bits = {
      {"BOOL", 8},    {"U8", 8},   {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},
      {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},    {"BF16", 16},
      {"I32", 32},    {"U32", 32}, {"F32", 32}, {"F64", 64},    {"I64", 64},
      {"U64", 64},    {"C64", 64}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6}};
  auto it = bits.find(dtype);
  return it == bits.end() ? 0 : it->second;
}

std::string rangeString(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// Reads a non-negative JSON integer; false for anything else (negative,
/// fractional, too large for uint64, not a number).
bool readCount(const json &value, uint64_t &out) {
  if (!value.is_number_unsigned())
    return false;
  out = value.get<uint64_t>();
  return true;
}

SafetensorsEntry parseEntry(const std::string &path, const std::string &name,
                            const json &value, uint64_t dataBytes) {
  auto bad = [&](auto &&...parts) {
    fail(path, ": tensor '", name, "': ", parts...);
  };
  if (!value.is_object())
    bad("header entry is not an object");

  SafetensorsEntry entry;
  entry.name = name;
  auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string())
    bad("'dtype' must be a string");
  entry.dtypeName = dtype->get<std::string>();
  const int bits = safetensorsBits(entry.dtypeName);
  if (bits == 0)
    bad("unknown dtype '", entry.dtypeName, "'");
  entry.dtype = parseDType(entry.dtypeName);

  auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array())
    bad("'shape' must be an array of non-negative integers");
  uint64_t numel = 1;
  bool overflow = false;
  for (const json &dim : *shape) {
    uint64_t d;
    // The culprit alone: the whole shape may be huge.
    if (!readCount(dim, d) || d > static_cast<uint64_t>(INT64_MAX))
      bad("'shape'[", entry.shape.size(),
          "] = ", dim.is_number() ? dim.dump() : dim.type_name(),
          " is not a non-negative integer");
    entry.shape.push_back(static_cast<int64_t>(d));
    overflow |= __builtin_mul_overflow(numel, d, &numel);
  }

  // numel() multiplies in int64 in any order: the dims other than zeros
  // must multiply within it even when a zero makes the tensor empty.
  CheckedInt nonZero = 1;
  for (int64_t d : entry.shape)
    nonZero = nonZero * (d ? d : 1);
  if (nonZero.overflowed())
    bad("shape ", shapeString(entry.shape),
        " is too large: its dimensions multiply past 2^63");

  auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
      !readCount((*offsets)[0], entry.begin) ||
      !readCount((*offsets)[1], entry.end))
    bad("'data_offsets' must be [begin, end] of non-negative integers");
  if (entry.begin > entry.end)
    bad("data_offsets ", rangeString(entry.begin, entry.end),
        " has begin > end");
  if (entry.end > dataBytes)
    bad("data_offsets ", rangeString(entry.begin, entry.end),
        " exceed the data region of ", dataBytes, " bytes");

  uint64_t needBits = 0;
  if (overflow ||
      __builtin_mul_overflow(numel, static_cast<uint64_t>(bits), &needBits))
    bad("shape ", shapeString(entry.shape), " is too large");
  if (needBits % 8 != 0)
    bad(entry.dtypeName, " ", shapeString(entry.shape),
        " does not fill whole bytes");
  if (entry.end - entry.begin != needBits / 8)
    bad("data_offsets ", rangeString(entry.begin, entry.end), " hold ",
        entry.end - entry.begin, " bytes, but ", entry.dtypeName, " ",
        shapeString(entry.shape), " needs ", needBits / 8);
  return entry;
}

} // namespace

int64_t TensorView::numel() const {
  const CheckedInt n = checkedProduct(shape);
  if (n.overflowed())
    fail(path, ": tensor '", name, "': shape ", shapeString(shape),
         " has more than 2^63 elements");
  return *n.get();
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

std::unique_ptr<SafetensorsFile>
SafetensorsFile::open(const std::string &path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;

  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    fail("cannot open safetensors file ", path, ": ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  const uint64_t fileBytes = static_cast<uint64_t>(st.st_size);
  if (fileBytes < 8) {
    ::close(fd);
    fail(path, ": truncated safetensors file: ", fileBytes,
         " bytes, less than the 8-byte header length");
  }
  void *map = ::mmap(nullptr, fileBytes, PROT_READ, MAP_PRIVATE, fd, 0);
  int mapErrno = errno;
  ::close(fd); // the mapping keeps the file alive
  if (map == MAP_FAILED)
    fail("cannot map safetensors file ", path, ": ", std::strerror(mapErrno));
  file->map_ = static_cast<const uint8_t *>(map);
  file->mapBytes_ = fileBytes;

  uint64_t headerBytes = 0;
  for (int i = 7; i >= 0; --i) // little-endian
    headerBytes = (headerBytes << 8) | file->map_[i];
  if (headerBytes > kSafetensorsMaxHeader)
    fail(path, ": header length ", headerBytes, " exceeds the limit of ",
         kSafetensorsMaxHeader, " bytes");
  if (headerBytes > fileBytes - 8)
    fail(path, ": header length ", headerBytes, " exceeds the ", fileBytes - 8,
         " bytes after it (truncated file?)");
  const uint64_t dataBytes = fileBytes - 8 - headerBytes;
  file->dataRegion_ = file->map_ + 8 + headerBytes;

  json header =
      parseJson(std::string_view(reinterpret_cast<const char *>(file->map_ + 8),
                                 headerBytes),
                path + " (header)");
  if (!header.is_object())
    fail(path, ": header is not a JSON object");

  for (const auto &[name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object())
        fail(path, ": '__metadata__' must be an object of strings");
      for (const auto &[key, text] : value.items()) {
        if (!text.is_string())
          fail(path, ": '__metadata__' field '", key, "' is not a string");
        file->metadata_[key] = text.get<std::string>();
      }
      continue;
    }
    file->entries_.push_back(parseEntry(path, name, value, dataBytes));
  }

  // Sorted by offset, each non-empty range must start at or after the end of
  // the previous one (empty tensors occupy no bytes and may share an offset).
  auto &entries = file->entries_;
  std::sort(entries.begin(), entries.end(),
            [](const SafetensorsEntry &a, const SafetensorsEntry &b) {
              return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
            });
  const SafetensorsEntry *previous = nullptr;
  for (const SafetensorsEntry &entry : entries) {
    if (entry.begin == entry.end)
      continue;
    if (previous && entry.begin < previous->end)
      fail(path, ": tensors '", previous->name, "' ",
           rangeString(previous->begin, previous->end), " and '", entry.name,
           "' ", rangeString(entry.begin, entry.end), " overlap");
    previous = &entry;
  }
  for (size_t i = 0; i < entries.size(); ++i)
    file->index_.emplace(entries[i].name, i);
  return file;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_)
    ::munmap(const_cast<uint8_t *>(map_), mapBytes_);
}

const SafetensorsEntry *SafetensorsFile::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

TensorView SafetensorsFile::tensor(const std::string &name) const {
  const SafetensorsEntry *entry = find(name);
  if (!entry)
    fail("tensor '", name, "' not found in ", path_);
  if (!entry->dtype)
    fail("tensor '", name, "' in ", path_, " has dtype ", entry->dtypeName,
         ", which moela does not read");
  TensorView view;
  view.name = name;
  view.dtype = *entry->dtype;
  view.shape = entry->shape;
  view.data = dataRegion_ + entry->begin;
  view.bytes = entry->end - entry->begin;
  view.path = path_;
  return view;
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

namespace {

bool isIndexPath(const fs::path &p) { return p.extension() == ".json"; }

} // namespace

Checkpoint Checkpoint::open(const std::string &path) {
  Checkpoint ckpt;
  ckpt.path_ = path;
  std::error_code ec;
  fs::path p(path);
  if (!fs::exists(p, ec))
    fail("checkpoint ", path, " does not exist");

  fs::path single, index;
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "model.safetensors", ec))
      single = p / "model.safetensors";
    else if (fs::exists(p / "model.safetensors.index.json", ec))
      index = p / "model.safetensors.index.json";
    else
      fail("checkpoint directory ", path,
           " has neither model.safetensors nor model.safetensors.index.json");
  } else if (isIndexPath(p)) {
    index = p;
  } else {
    single = p;
  }

  if (!single.empty()) {
    ckpt.files_.push_back(SafetensorsFile::open(single.string()));
    const SafetensorsFile *file = ckpt.files_.back().get();
    for (const SafetensorsEntry &entry : file->entries())
      ckpt.byName_.emplace(entry.name, file);
    return ckpt;
  }

  const std::string indexName = index.string();
  json root = readJsonFile(indexName);
  auto weightMap = root.is_object() ? root.find("weight_map") : root.end();
  if (weightMap == root.end() || !weightMap->is_object())
    fail(indexName, ": 'weight_map' must be an object of tensor name -> shard "
                    "file");

  std::map<std::string, const SafetensorsFile *> shards;
  for (const auto &[name, shardJson] : weightMap->items()) {
    if (!shardJson.is_string())
      fail(indexName, ": weight_map entry '", name, "' is not a file name");
    const std::string shard = shardJson.get<std::string>();
    auto it = shards.find(shard);
    if (it == shards.end()) {
      fs::path shardPath = index.parent_path() / shard;
      if (!fs::is_regular_file(shardPath, ec))
        fail(indexName, ": weight_map puts tensor '", name, "' in shard ",
             shardPath.string(), ", which does not exist");
      ckpt.files_.push_back(SafetensorsFile::open(shardPath.string()));
      it = shards.emplace(shard, ckpt.files_.back().get()).first;
    }
    if (!it->second->find(name))
      fail(indexName, ": weight_map puts tensor '", name, "' in shard ",
           it->second->path(), ", which has no such tensor");
    ckpt.byName_.emplace(name, it->second);
  }
  return ckpt;
}

bool Checkpoint::contains(const std::string &name) const {
  return byName_.count(name) != 0;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(byName_.size());
  for (const auto &entry : byName_)
    out.push_back(entry.first);
  std::sort(out.begin(), out.end());
  return out;
}

const SafetensorsEntry *Checkpoint::find(const std::string &name,
                                         const SafetensorsFile **file) const {
  auto it = byName_.find(name);
  if (it == byName_.end())
    return nullptr;
  if (file)
    *file = it->second;
  return it->second->find(name);
}

TensorView Checkpoint::tensor(const std::string &name) const {
  auto it = byName_.find(name);
  if (it == byName_.end())
    fail("tensor '", name, "' not found in checkpoint ", path_);
  return it->second->tensor(name);
}

} // namespace moela
