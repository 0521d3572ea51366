//===- EmuLanguage.h - CUDA types, built-ins and math on the host ---------===//
//
// The language part of the emulation (CudaEmu.h, which also defines CUDA's
// keywords as macros): the vector types and built-in variables (thread_local:
// the scheduler sets them before it resumes a fiber), bit-exact bf16, f16 and
// e4m3 conversions and the math intrinsics (IEEE, accurate).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMULANGUAGE_H
#define MOELA_TEST_EMU_EMULANGUAGE_H

#include <math.h>

#include <array>
#include <cstdint>
#include <cstring>

// ---- Vector types and built-in variables ------------------------------------

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1)
      : x(vx), y(vy), z(vz) {}
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

// ---- Number formats (bit exact, independent of the CUDA headers) ------------

namespace emu {
namespace num {

inline uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float fromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline float bf16ToFloat(uint16_t b) { return fromBits(uint32_t(b) << 16); }

/// Round to nearest even; NaN -> 0x7fff (cvt.rn.bf16.f32's canonical NaN).
inline uint16_t floatToBf16(float f) {
  uint32_t u = bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fff;
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const int e = (h >> 10) & 31, m = h & 1023;
  float mag;
  if (e == 31)
    mag = m ? NAN : INFINITY;
  else if (e == 0)
    mag = ldexpf(float(m), -24);
  else
    mag = ldexpf(1.0f + float(m) / 1024.0f, e - 15);
  return fromBits(bits(mag) | sign);
}

/// Round to nearest even; NaN -> 0x7fff.
inline uint16_t floatToHalf(float f) {
  const uint16_t sign = uint16_t((bits(f) >> 16) & 0x8000u);
  const double a = fabs(double(f));
  if (a != a)
    return 0x7fff;
  if (a >= 65520.0) // rounds to infinity
    return sign | 0x7c00;
  if (a < ldexp(1.0, -14)) // subnormal (m = 1024 is the smallest normal)
    return sign | uint16_t(nearbyint(a * ldexp(1.0, 24)));
  int e;
  frexp(a, &e); // a = f * 2^e, f in [0.5, 1)
  double m = nearbyint((a / ldexp(1.0, e - 1) - 1.0) * 1024.0);
  if (m == 1024.0) {
    m = 0;
    ++e;
  }
  const int field = e - 1 + 15;
  if (field >= 31)
    return sign | 0x7c00;
  return sign | uint16_t(field << 10) | uint16_t(m);
}

/// e4m3fn: no infinities; 0x7f / 0xff are NaN; largest finite 448.
inline float e4m3ToFloat(uint8_t v) {
  const int e = (v >> 3) & 15, m = v & 7;
  float mag;
  if (e == 15 && m == 7)
    mag = NAN;
  else if (e == 0)
    mag = ldexpf(float(m), -9);
  else
    mag = ldexpf(1.0f + float(m) / 8.0f, e - 7);
  return (v & 0x80) ? -mag : mag;
}

/// Round to nearest even with saturation to +-448 (infinities too); NaN ->
/// 0x7f.
inline uint8_t floatToE4m3(float f) {
  const uint8_t sign = (bits(f) >> 31) ? 0x80 : 0;
  const double a = fabs(double(f));
  if (a != a)
    return 0x7f;
  if (a >= 448.0)
    return sign | 0x7e;
  if (a < ldexp(1.0, -6)) // subnormal: m * 2^-9 (m = 8 is the smallest normal)
    return sign | uint8_t(nearbyint(a * 512.0));
  int e;
  frexp(a, &e);
  double m = nearbyint((a / ldexp(1.0, e - 1) - 1.0) * 8.0);
  if (m == 8.0) {
    m = 0;
    ++e;
  }
  const int field = e - 1 + 7;
  const int code = (field << 3) | int(m);
  return sign | uint8_t(code > 0x7e ? 0x7e : code);
}

} // namespace num
} // namespace emu

struct __nv_bfloat16 {
  unsigned short __x;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : __x(emu::num::floatToBf16(f)) {}
  __nv_bfloat16(double d) : __x(emu::num::floatToBf16(float(d))) {}
  operator float() const { return emu::num::bf16ToFloat(__x); }
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y; // x at the lower address
};
struct __nv_fp8_e4m3 {
  unsigned char __x;
  __nv_fp8_e4m3() = default;
  explicit __nv_fp8_e4m3(float f) : __x(emu::num::floatToE4m3(f)) {}
  explicit __nv_fp8_e4m3(double d) : __x(emu::num::floatToE4m3(float(d))) {}
  explicit operator float() const { return emu::num::e4m3ToFloat(__x); }
};
static_assert(sizeof(__nv_bfloat16) == 2 && sizeof(__nv_bfloat162) == 4 &&
                  sizeof(__nv_fp8_e4m3) == 1,
              "storage sizes as in CUDA");

inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return float(b); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) {
  return {__nv_bfloat16(lo), __nv_bfloat16(hi)};
}

// ---- Math intrinsics (IEEE, accurate) ---------------------------------------

inline float __int_as_float(int v) { return emu::num::fromBits(uint32_t(v)); }
inline float __uint_as_float(unsigned v) { return emu::num::fromBits(v); }
inline int __float_as_int(float f) { return int(emu::num::bits(f)); }
inline unsigned __float_as_uint(float f) { return emu::num::bits(f); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
inline float __expf(float x) { return expf(x); }
inline float __exp10f(float x) { return exp10f(x); }
inline float __logf(float x) { return logf(x); }
inline float __log2f(float x) { return log2f(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline void __sincosf(float x, float *s, float *c) { sincosf(x, s, c); }
/// sin(pi x), cos(pi x): x reduced exactly to [-1, 1], then in long double.
inline void sincospi(double x, double *s, double *c) {
  const long double a = static_cast<long double>(x - 2.0 * rint(0.5 * x)) *
                        3.14159265358979323846264338327950288L;
  *s = static_cast<double>(sinl(a));
  *c = static_cast<double>(cosl(a));
}
inline float __powf(float x, float y) { return powf(x, y); }
inline float __saturatef(float x) {
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __ffs(int v) { return __builtin_ffs(v); }
inline int __clz(int v) { return v ? __builtin_clz(unsigned(v)) : 32; }
inline unsigned __brev(unsigned v) {
  unsigned r = 0;
  for (int i = 0; i < 32; ++i)
    r |= ((v >> i) & 1u) << (31 - i);
  return r;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) {
  return a < b ? a : b;
}
inline float min(float a, float b) { return fminf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) {
  return a > b ? a : b;
}
inline float max(float a, float b) { return fmaxf(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

#endif // MOELA_TEST_EMU_EMULANGUAGE_H
