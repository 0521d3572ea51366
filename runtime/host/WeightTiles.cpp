//===- WeightTiles.cpp - Stored weights converted a tile at a time --------===//
//
// The host backend keeps 2-D weights as the checkpoint stores them (BF16,
// F16, F32, FP8 e4m3 with f32 128x128 block scales) and its kernels convert
// the tile they are about to read into a small per-thread f32 buffer. The
// values are exactly those of loading as f32: bf16/f16 -> f32 is exact, and
// FP8 is float(q) * scale_inv[i/128][j/128] in f32, as dequantizeFp8.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Weights.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

// An AVX2 clone chosen at load time where the CPU has it (GCC ifunc), as
// in Gemm.cpp.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MOELA_TILE_CLONES                                                      \
  __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MOELA_TILE_CLONES
#endif

namespace moela::host {
namespace {

/// e4m3fn code -> f32 by bit arithmetic: a normal code's exponent and
/// mantissa shift into place (bias 7 -> 127), a subnormal is mant * 2^-9;
/// 0x7f/0xff are NaN. Builds e4m3Table, after checking it equals e4m3ToFloat
/// for every code.
inline float e4m3Bits(uint8_t b) {
  const uint32_t em = b & 0x7Fu;
  uint32_t bits = (em << 20) + (120u << 23);
  const float sub = float(em) * 0x1p-9f;
  uint32_t subBits;
  std::memcpy(&subBits, &sub, 4);
  bits = em < 8 ? subBits : bits;
  bits = em == 0x7F ? 0x7FC00000u : bits;
  bits |= uint32_t(b & 0x80u) << 24;
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

/// Whether e4m3Bits equals e4m3ToFloat bit for bit on every non-NaN code.
bool e4m3BitsExact() {
  for (int i = 0; i < 256; ++i) {
    const float a = e4m3Bits(uint8_t(i)), b = e4m3ToFloat(uint8_t(i));
    if (std::isnan(b) ? !std::isnan(a) : std::memcmp(&a, &b, 4) != 0)
      return false;
  }
  return true;
}

/// Every e4m3fn code's f32 value: a load per element beats decoding the bits
/// where the conversion loop does not vectorize (2.5x in decode).
const std::array<float, 256> &e4m3Table() {
  static const std::array<float, 256> table = [] {
    if (!e4m3BitsExact())
      fail("host backend: the FP8 decoder disagrees with e4m3ToFloat");
    std::array<float, 256> t;
    for (int i = 0; i < 256; ++i)
      t[size_t(i)] = e4m3Bits(uint8_t(i));
    return t;
  }();
  return table;
}

/// Columns [c, c + n) of one stored row into out [n].
MOELA_TILE_CLONES
void rowToF32(const StoredRows &p, int64_t r, int64_t c, int64_t n,
              float *out) {
  const size_t size = dtypeSize(p.dtype);
  const uint8_t *src = p.data + (size_t(r) * size_t(p.ld) + size_t(c)) * size;
  switch (p.dtype) {
  case DType::F32:
    std::memcpy(out, src, size_t(n) * sizeof(float));
    return;
  case DType::BF16:
    for (int64_t i = 0; i < n; ++i) { // bf16 is the high half of an f32
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      const uint32_t bits = uint32_t(h) << 16;
      std::memcpy(out + i, &bits, 4);
    }
    return;
  case DType::F16:
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      out[i] = f16ToFloat(h);
    }
    return;
  case DType::F8E4M3: {
    const std::array<float, 256> &table = e4m3Table();
    if (!p.scales) {
      for (int64_t i = 0; i < n; ++i)
        out[i] = table[src[i]];
      return;
    }
    // One scale per 128 columns of the stored grid.
    const float *scales = p.scales + (r / kFp8Block) * p.scaleLd;
    for (int64_t i = 0; i < n;) {
      const int64_t block = (c + i) / kFp8Block;
      const int64_t end = std::min(n, (block + 1) * kFp8Block - c);
      const float scale = scales[block];
      for (; i < end; ++i)
        out[i] = table[src[i]] * scale;
    }
    return;
  }
  case DType::I32:
  case DType::I64:
    break;
  }
  fail("host backend: cannot read a ", dtypeName(p.dtype), " weight");
}

} // namespace

void Weight::toF32(int64_t r0, int64_t n, int64_t k0, int64_t kn, float *out,
                   int64_t ldo) const {
  if (data) {
    for (int64_t r = 0; r < n; ++r)
      std::memcpy(out + r * ldo, row(r0 + r) + k0, size_t(kn) * sizeof(float));
    return;
  }
  int part = 0;
  for (int64_t r = r0; r < r0 + n; ++r) {
    while (part + 1 < partCount && r >= parts[part + 1].row0)
      ++part;
    const StoredRows &p = parts[part];
    rowToF32(p, p.r0 + (r - p.row0), p.c0 + k0, kn, out + (r - r0) * ldo);
  }
}

float *tileBuffer(int slot, int64_t n) {
  thread_local std::vector<float> buffers[3];
  std::vector<float> &b = buffers[slot];
  if (int64_t(b.size()) < n)
    b.resize(size_t(n));
  return b.data();
}

} // namespace moela::host
