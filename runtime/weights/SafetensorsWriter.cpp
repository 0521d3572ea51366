//===- SafetensorsWriter.cpp - Writing a safetensors file -----------------===//
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Safetensors.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace moela {

void writeSafetensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const TensorToWrite &t : tensors) {
    uint64_t numel = 1;
    for (int64_t d : t.shape)
      numel *= static_cast<uint64_t>(d);
    uint64_t bytes = numel * dtypeSize(t.dtype);
    header[t.name] = {{"dtype", std::string(dtypeName(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    sizes.push_back(bytes);
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' '); // keep the data 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t length = text.size();
  unsigned char prefix[8];
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<unsigned char>(length >> (8 * i)); // little endian
  out.write(reinterpret_cast<const char *>(prefix), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (size_t i = 0; i < tensors.size(); ++i)
    out.write(static_cast<const char *>(tensors[i].data),
              static_cast<std::streamsize>(sizes[i]));
  out.close();
  if (!out)
    fail(path, ": cannot write: ", std::strerror(errno));
}

} // namespace moela
