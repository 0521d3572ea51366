//===- DType.h - Element types of checkpoints, plans and buffers ----------===//
#ifndef MOELA_RUNTIME_DTYPE_H
#define MOELA_RUNTIME_DTYPE_H

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace moela {

/// The element types moela reads and stores. Values match plan.fbs's DType.
enum class DType : uint8_t {
  F32 = 0,
  BF16 = 1,
  F16 = 2,
  F8E4M3 = 3,
  I32 = 4,
  I64 = 5
};

/// Bytes per element.
size_t dtypeSize(DType t);
/// The safetensors spelling: "F32", "BF16", "F16", "F8_E4M3", "I32", "I64".
std::string_view dtypeName(DType t);
/// Parses a safetensors dtype string; nullopt if moela does not read it.
std::optional<DType> parseDType(std::string_view name);

/// Exact conversions to float.
float bf16ToFloat(uint16_t bits);
float f16ToFloat(uint16_t bits);
float e4m3ToFloat(uint8_t bits); // e4m3fn: no infinities, 0x7f/0xff are NaN
/// Round-to-nearest-even conversions from float.
uint16_t floatToBf16(float value);
uint8_t floatToE4m3(float value); // saturates to +-448

} // namespace moela

#endif // MOELA_RUNTIME_DTYPE_H
