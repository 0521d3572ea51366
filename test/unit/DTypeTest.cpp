//===- DTypeTest.cpp - dtype conversions against their definitions -------===//
//
// All 256 e4m3 codes, all 65536 bf16/f16 patterns, rounding at every tie and
// saturation, each against an independent formula.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/DType.h"

#include "SafetensorsTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

using namespace moela;
using namespace moela::test;

namespace {

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

/// Nearest finite e4m3 code to x by brute force, ties to the even code,
/// saturating at +-448.
uint8_t refEncodeE4m3(float x) {
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const double a = std::fabs(static_cast<double>(x));
  uint8_t best = 0;
  for (int c = 1; c <= 0x7E; ++c) {
    double dBest = std::fabs(refE4m3(best) - a), d = std::fabs(refE4m3(c) - a);
    if (d < dBest || (d == dBest && (c & 1) == 0))
      best = static_cast<uint8_t>(c);
  }
  return sign | best;
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

// Tests names, sizes and parsing of every dtype.
TEST(DType, NamesAndSizes) {
  for (DType t : {DType::F32, DType::BF16, DType::F16, DType::F8E4M3,
                  DType::I32, DType::I64})
    EXPECT_EQ(parseDType(dtypeName(t)), t);
  EXPECT_EQ(dtypeName(DType::F8E4M3), "F8_E4M3");
  EXPECT_EQ(dtypeSize(DType::F32), 4u);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F16), 2u);
  EXPECT_EQ(dtypeSize(DType::F8E4M3), 1u);
  EXPECT_EQ(dtypeSize(DType::I32), 4u);
  EXPECT_EQ(dtypeSize(DType::I64), 8u);
  EXPECT_FALSE(parseDType("F64"));
  EXPECT_FALSE(parseDType("BOOL"));
  EXPECT_FALSE(parseDType("bf16"));
}

// Tests all 256 e4m3fn codes against the definition, and that encoding a
// decoded value gives the code back.
TEST(DType, E4m3AllCodes) {
  for (int c = 0; c < 256; ++c) {
    const uint8_t code = static_cast<uint8_t>(c);
    const double want = refE4m3(code);
    const float got = e4m3ToFloat(code);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << c;
      EXPECT_EQ(floatToE4m3(got) & 0x7F, 0x7F) << c;
      continue;
    }
    EXPECT_EQ(static_cast<double>(got), want) << "code " << c;
    EXPECT_EQ(std::signbit(got), (c & 0x80) != 0) << c;
    EXPECT_EQ(floatToE4m3(got), code) << "code " << c;
  }
  EXPECT_EQ(e4m3ToFloat(0x7E), 448.0f);
  EXPECT_EQ(e4m3ToFloat(0x01), std::ldexp(1.0f, -9)); // smallest subnormal
  EXPECT_EQ(e4m3ToFloat(0x08), std::ldexp(1.0f, -6)); // smallest normal
}

// Tests round-to-nearest-even at every midpoint between neighbouring codes,
// just beside it, and at random values against a brute-force encoder.
TEST(DType, E4m3Rounding) {
  for (uint8_t c = 0; c < 0x7E; ++c) {
    const float lo = e4m3ToFloat(c), hi = e4m3ToFloat(c + 1);
    const float mid = (lo + hi) / 2; // exact in float
    const uint8_t even = (c & 1) ? c + 1 : c;
    EXPECT_EQ(floatToE4m3(mid), even) << "midpoint after code " << int(c);
    EXPECT_EQ(floatToE4m3(-mid), 0x80 | even);
    EXPECT_EQ(floatToE4m3(std::nextafter(mid, 0.0f)), c);
    EXPECT_EQ(floatToE4m3(std::nextafter(mid, 1e9f)), c + 1);
  }
  std::mt19937 rng(5);
  for (float range : {0.02f, 1.0f, 500.0f}) {
    std::uniform_real_distribution<float> dist(-range, range);
    for (int i = 0; i < 20000; ++i) {
      float x = dist(rng);
      ASSERT_EQ(floatToE4m3(x), refEncodeE4m3(x)) << x;
    }
  }
}

// Tests saturation to +-448 (e4m3fn has no infinity) and NaN.
TEST(DType, E4m3SaturationAndNaN) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(floatToE4m3(448.0f), 0x7E);
  EXPECT_EQ(floatToE4m3(463.99f), 0x7E);
  EXPECT_EQ(floatToE4m3(464.0f), 0x7E);
  EXPECT_EQ(floatToE4m3(1e30f), 0x7E);
  EXPECT_EQ(floatToE4m3(inf), 0x7E);
  EXPECT_EQ(floatToE4m3(-inf), 0xFE);
  EXPECT_EQ(floatToE4m3(-1e30f), 0xFE);
  EXPECT_EQ(floatToE4m3(std::numeric_limits<float>::quiet_NaN()) & 0x7F, 0x7F);
  EXPECT_EQ(floatToE4m3(0.0f), 0x00);
  EXPECT_EQ(floatToE4m3(-0.0f), 0x80);
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -11)),
            0x00); // below half the min subnormal
  EXPECT_EQ(floatToE4m3(std::ldexp(1.0f, -10)), 0x00); // tie with 0: even
  EXPECT_EQ(floatToE4m3(std::ldexp(3.0f, -11)), 0x01); // 0.75 * 2^-9
  EXPECT_EQ(floatToE4m3(std::ldexp(3.0f, -10)), 0x02); // tie 1|2: even
}

// Tests that every non-NaN bf16 pattern round-trips through float exactly.
TEST(DType, Bf16RoundTrip) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16ToFloat(static_cast<uint16_t>(b));
    EXPECT_EQ(bitsOf(f), b << 16);
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(f))));
      continue;
    }
    ASSERT_EQ(floatToBf16(f), b) << std::hex << b;
  }
}

// Tests round-to-nearest-even of float -> bf16 at and around ties.
TEST(DType, Bf16TiesToEven) {
  // 1 + 2^-8 is halfway between 1 (even mantissa) and 1 + 2^-7 (odd).
  EXPECT_EQ(floatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even).
  EXPECT_EQ(floatToBf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
  EXPECT_EQ(floatToBf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)),
            0x3F81);
  EXPECT_EQ(floatToBf16(-(1.0f + std::ldexp(1.0f, -8))), 0xBF80);
  // Rounding up carries into the exponent; the largest floats become inf.
  EXPECT_EQ(floatToBf16(std::nextafter(2.0f, 0.0f)), 0x4000);
  EXPECT_EQ(floatToBf16(std::numeric_limits<float>::max()), 0x7F80);
  EXPECT_EQ(floatToBf16(-std::numeric_limits<float>::infinity()), 0xFF80);
  const uint16_t nan = floatToBf16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bf16ToFloat(nan)));
  // A signalling NaN whose payload sits in the dropped bits stays NaN.
  float snan;
  const uint32_t snanBits = 0x7F800001;
  std::memcpy(&snan, &snanBits, 4);
  EXPECT_TRUE(std::isnan(bf16ToFloat(floatToBf16(snan))));
  // Random floats: the result is one of the two neighbours, the nearer one.
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = dist(rng);
    const uint32_t lower = bitsOf(x) & 0xFFFF0000u;
    const float down = bf16ToFloat(lower >> 16);
    const float up = bf16ToFloat((lower >> 16) + 1);
    const float got = bf16ToFloat(floatToBf16(x));
    const double dDown = std::fabs(double(x) - down),
                 dUp = std::fabs(double(x) - up);
    if (dDown < dUp) {
      ASSERT_EQ(got, down) << x;
    } else if (dUp < dDown) {
      ASSERT_EQ(got, up) << x;
    }
  }
}

// Tests every f16 pattern against the IEEE half definition.
TEST(DType, F16AllPatterns) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const int s = b >> 15, e = (b >> 10) & 31, m = b & 1023;
    const float got = f16ToFloat(static_cast<uint16_t>(b));
    if (e == 31) {
      EXPECT_EQ(std::isnan(got), m != 0) << b;
      EXPECT_EQ(std::isinf(got), m == 0) << b;
      continue;
    }
    double want = e == 0 ? std::ldexp(double(m), -24)
                         : std::ldexp(1.0 + m / 1024.0, e - 15);
    if (s)
      want = -want;
    ASSERT_EQ(static_cast<double>(got), want) << b;
    EXPECT_EQ(std::signbit(got), s != 0);
  }
  EXPECT_EQ(f16ToFloat(0x7BFF), 65504.0f);
}

} // namespace
