//===- GoldenFile.h - Reading DeepSeek's golden tensors
//--------------------===//
//
// The goldens (test/data/v3_a/golden.safetensors) hold prompts and tokens as
// I64 [B, N] and logits as F32. Shared by GoldenTest and the GPU plan
// test; plain C++ (no GoogleTest), so the GPU test can use it.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_GOLDENFILE_H
#define MOELA_TEST_GOLDENFILE_H

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Safetensors.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace moela::test {

/// An I64 [B, N] golden tensor as B rows of int32 ids.
inline std::vector<std::vector<int32_t>> readIds(const Checkpoint &golden,
                                                 const std::string &name) {
  TensorView t = golden.tensor(name);
  if (t.dtype != DType::I64 || t.shape.size() != 2)
    fail("golden tensor '", name, "' is not I64 [B, N]");
  std::vector<std::vector<int32_t>> rows(t.shape[0]);
  for (int64_t b = 0; b < t.shape[0]; ++b)
    for (int64_t i = 0; i < t.shape[1]; ++i) {
      int64_t v;
      std::memcpy(&v, t.data + (b * t.shape[1] + i) * 8, 8);
      rows[b].push_back(static_cast<int32_t>(v));
    }
  return rows;
}

/// An F32 golden tensor, flattened.
inline std::vector<float> readFloats(const Checkpoint &golden,
                                     const std::string &name) {
  TensorView t = golden.tensor(name);
  if (t.dtype != DType::F32)
    fail("golden tensor '", name, "' is not F32");
  std::vector<float> values(t.numel());
  std::memcpy(values.data(), t.data, t.bytes);
  return values;
}

} // namespace moela::test

#endif // MOELA_TEST_GOLDENFILE_H
