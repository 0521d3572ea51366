//===- DType.cpp - Element types and their exact conversions --------------===//
//
// bf16, f16 and e4m3fn decode exactly into float32; encoding rounds to nearest,
// ties to even, as torch does. e4m3fn (OCP FP8) has 1 sign, 4 exponent (bias 7)
// and 3 mantissa bits, subnormals, no infinities, and one NaN per sign
// (S.1111.111); its largest finite value is 448 = 1.75 * 2^8.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/DType.h"

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

namespace moela {

namespace {

uint32_t bitsOf(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float floatOf(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

float decodeE4m3(uint8_t bits) {
  const float sign = (bits & 0x80) ? -1.0f : 1.0f;
  const int exponent = (bits >> 3) & 0xF;
  const int mantissa = bits & 0x7;
  if (exponent == 0xF && mantissa == 0x7)
    return sign * std::numeric_limits<float>::quiet_NaN();
  if (exponent == 0) // subnormal: m/8 * 2^(1-7)
    return sign * std::ldexp(static_cast<float>(mantissa), -9);
  return sign * std::ldexp(1.0f + mantissa / 8.0f, exponent - 7);
}

} // namespace

namespace {

/// Each dtype's safetensors name and element size.
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "F32", 4}, {DType::BF16, "BF16", 2},
    {DType::F16, "F16", 2}, {DType::F8E4M3, "F8_E4M3", 1},
    {DType::I32, "I32", 4}, {DType::I64, "I64", 8},
};

const DTypeInfo *infoOf(DType t) {
  for (const DTypeInfo &info : kDTypes)
    if (info.type == t)
      return &info;
  return nullptr;
}

} // namespace

size_t dtypeSize(DType t) {
  const DTypeInfo *info = infoOf(t);
  return info ? info->size : 0;
}

std::string_view dtypeName(DType t) {
  const DTypeInfo *info = infoOf(t);
  return info ? info->name : "?";
}

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == name)
      return info.type;
  return std::nullopt;
}

float bf16ToFloat(uint16_t bits) {
  return floatOf(static_cast<uint32_t>(bits) << 16);
}

float f16ToFloat(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1F;
  const uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0x1F) // inf, or NaN kept quiet with its payload
    return floatOf(sign | 0x7F800000 | (mantissa << 13) |
                   (mantissa ? 0x400000 : 0));
  if (exponent == 0) { // zero or subnormal: m * 2^-24, exact in float
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return floatOf(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

float e4m3ToFloat(uint8_t bits) {
  // A table: FP8 dequantization calls this once per weight.
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i)
      t[i] = decodeE4m3(static_cast<uint8_t>(i));
    return t;
  }();
  return table[bits];
}

uint16_t floatToBf16(float value) {
  uint32_t bits = bitsOf(value);
  if (std::isnan(value)) // keep the sign, force a quiet NaN
    return static_cast<uint16_t>((bits >> 16) | 0x40);
  // Adding 0x7fff plus the lowest kept bit rounds half to even; a carry out
  // of the mantissa correctly bumps the exponent (up to inf).
  bits += 0x7FFF + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

uint8_t floatToE4m3(float value) {
  const uint32_t bits = bitsOf(value);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  if (std::isnan(value))
    return sign | 0x7F;
  const uint32_t magnitude = bits & 0x7FFFFFFF;
  const float a = floatOf(magnitude);
  if (a >= 448.0f) // saturate (also +-inf): e4m3fn has no infinities
    return sign | 0x7E;
  if (a < 0.015625f) { // below 2^-6: subnormals, multiples of 2^-9
    // a * 512 is exact; nearbyint rounds half to even. k == 8 encodes 2^-6.
    return sign | static_cast<uint8_t>(std::nearbyint(a * 512.0f));
  }
  // Normal: rebias the exponent from 127 to 7 and round 23 mantissa bits to 3,
  // half to even; a carry moves into the exponent. a < 448 rounds to <= 0x7E.
  const uint32_t rebiased = magnitude - ((127u - 7u) << 23);
  const uint32_t rounded = (rebiased + 0x7FFFF + ((rebiased >> 20) & 1)) >> 20;
  return sign | static_cast<uint8_t>(rounded);
}

} // namespace moela
