//===- CheckpointWriter.cpp - Writing Hugging Face-layout checkpoints -----===//
#include "CheckpointWriter.h"

#include "SpecReference.h"

#include "moela/Runtime/Error.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

namespace fs = std::filesystem;

namespace moela::spec {
namespace {

/// One tensor to write: its safetensors dtype string, shape and bytes.
struct OutTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes; // row-major, little-endian
};

/// safetensors: 8-byte little-endian header length, JSON header (padded with
/// spaces to a multiple of 8 so the data region is aligned), then the data of
/// every tensor back to back in the order given.
void writeSafetensors(const fs::path &path,
                      const std::vector<OutTensor> &tensors) {
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (const OutTensor &t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    fail(path.string(), ": cannot create");
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i)
    out.put(static_cast<char>((n >> (8 * i)) & 0xFF));
  out.write(text.data(), text.size());
  for (const OutTensor &t : tensors)
    out.write(reinterpret_cast<const char *>(t.bytes.data()), t.bytes.size());
  if (!out.good())
    fail(path.string(), ": write failed");
}

} // namespace

size_t writeCheckpoint(const std::string &configPath, WeightSource &weights,
                       const std::string &outDir) {
  SpecConfig config = loadSpecConfig(configPath);
  fs::create_directories(outDir);
  fs::copy_file(configPath, fs::path(outDir) / "config.json",
                fs::copy_options::overwrite_existing);

  std::vector<OutTensor> tensors;
  for (const TensorSpec &t : specTensors(config)) {
    RawTensor raw = weights.loadRaw(t); // in t.dtype, FP8 with block scales
    tensors.push_back({t.name, std::string(dtypeName(t.dtype)), t.shape,
                       std::move(raw.data)});
    if (t.scaleName.empty())
      continue;
    std::vector<uint8_t> scaleBytes(raw.scales.size() * sizeof(float));
    std::memcpy(scaleBytes.data(), raw.scales.data(), scaleBytes.size());
    tensors.push_back(
        {t.scaleName, "F32", t.scaleShape, std::move(scaleBytes)});
  }
  writeSafetensors(fs::path(outDir) / "model.safetensors", tensors);
  return tensors.size();
}

} // namespace moela::spec
