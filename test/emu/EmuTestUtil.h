//===- EmuTestUtil.h - Tensors, random inputs and checks of kernel tests --===//
//
// Shared by the emulated kernel tests (KernelEmu*Test.cpp). Inputs are fresh
// random numbers every run: the run's seed is printed once (MOELA_TEST_SEED=
// <n> replays it) and each test draws from its own stream of it, so one test
// replays alone. Tensors keep their elements in the kernels' storage types,
// converted with the runtime's DType.h (not the emulator's types), between
// guard bands; outputs start as NaN (0x7fffffff for ints) so that unwritten
// elements fail, and elements that must not be written are checked to stay so.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUTESTUTIL_H
#define MOELA_TEST_EMU_EMUTESTUTIL_H

#include "EmuKernels.h"

#include "host/Kernels.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace moela::emutest {

namespace K = moela::kernels;
namespace H = moela::host;

// ---- Random numbers -------------------------------------------------------------------

inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// MOELA_TEST_SEED, else a fresh seed; printed at first use.
inline uint64_t runSeed() {
  static const uint64_t seed = [] {
    uint64_t s;
    if (const char *e = std::getenv("MOELA_TEST_SEED"))
      s = std::strtoull(e, nullptr, 0);
    else
      s = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
    std::printf("seed %llu (MOELA_TEST_SEED=%llu replays this run)\n", (unsigned long long)s,
                (unsigned long long)s);
    return s;
  }();
  return seed;
}

/// A random stream of the run's seed, named after what draws from it.
class Rng {
public:
  explicit Rng(const std::string &stream) {
    uint64_t h = runSeed();
    for (char c : stream)
      h = mix(h ^ uint64_t(uint8_t(c)));
    engine_.seed(h);
  }
  float uniform(float lo, float hi) {
    return std::uniform_real_distribution<float>(lo, hi)(engine_);
  }
  int uniformInt(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(engine_); }
  /// Uniform in [lo, hi) with |x| >= tiny: never exactly 0.
  float nonZero(float lo, float hi) {
    float v;
    do
      v = uniform(lo, hi);
    while (std::fabs(v) < 1e-6f);
    return v;
  }
  /// A random e4m3 code: exponent field in [0, maxExp], never zero or NaN.
  uint8_t fp8Code(int maxExp = 10) {
    const int e = uniformInt(0, maxExp), m = uniformInt(e == 0 ? 1 : 0, 7);
    return uint8_t((uniformInt(0, 1) << 7) | (e << 3) | m);
  }
  std::mt19937_64 &engine() { return engine_; }

private:
  std::mt19937_64 engine_;
};

// ---- Tensors --------------------------------------------------------------------------

/// Storage types as the kernels spell them.
enum class Ty { F32, BF16, F8, I32 };

template <typename T> constexpr Ty tyOf();
template <> constexpr Ty tyOf<float>() { return Ty::F32; }
template <> constexpr Ty tyOf<__nv_bfloat16>() { return Ty::BF16; }
template <> constexpr Ty tyOf<__nv_fp8_e4m3>() { return Ty::F8; }

inline size_t sizeOf(Ty t) { return t == Ty::BF16 ? 2 : t == Ty::F8 ? 1 : 4; }
inline const char *tyName(Ty t) {
  return t == Ty::F32 ? "f32" : t == Ty::BF16 ? "bf16" : t == Ty::F8 ? "f8" : "i32";
}

/// The value a storage type holds for v (rounded to nearest even).
inline float roundTo(Ty t, float v) {
  if (t == Ty::BF16)
    return bf16ToFloat(floatToBf16(v));
  if (t == Ty::F8)
    return e4m3ToFloat(floatToE4m3(v));
  return v;
}

/// A row-major [rows, ld] matrix in a storage type (columns [cols, ld) are
/// padding), between guard bands: the kernels' device memory (an
/// emu::GlobalRange, so a cp.async past it fails). Starts poisoned: NaN, or
/// 0x7fffffff. Move-only.
class Tensor {
public:
  static constexpr size_t kGuard = 256;

  Tensor() = default;
  Tensor(Ty ty, int64_t rows, int64_t cols, int64_t ld = 0)
      : ty_(ty), rows_(rows), cols_(cols), ld_(ld ? ld : cols),
        mem_(2 * kGuard + size_t(rows * (ld ? ld : cols)) * sizeOf(ty)),
        range_(mem_.data() + kGuard, bytes()) {
    std::memset(mem_.data(), 0xa5, kGuard);
    std::memset(mem_.data() + mem_.size() - kGuard, 0xa5, kGuard);
    poison();
  }
  Tensor(Tensor &&) = default;
  Tensor &operator=(Tensor &&) = default;

  Ty ty() const { return ty_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t ld() const { return ld_; }
  void *ptr() { return mem_.data() + kGuard; }
  const void *ptr() const { return mem_.data() + kGuard; }
  template <typename T> T *as() { return static_cast<T *>(ptr()); }
  K::View view() { return K::View{ptr(), ld_}; }
  size_t bytes() const { return size_t(rows_ * ld_) * sizeOf(ty_); }

  /// Every element (padding included) NaN / 0x7fffffff.
  void poison() {
    for (int64_t i = 0; i < rows_ * ld_; ++i)
      setRaw(i, ty_ == Ty::I32 ? 0 : NAN, true);
  }

  float get(int64_t r, int64_t c) const { return getRaw(r * ld_ + c); }
  /// Stores v rounded to the storage type.
  void set(int64_t r, int64_t c, float v) { setRaw(r * ld_ + c, v, false); }
  int32_t geti(int64_t r, int64_t c) const {
    int32_t v;
    std::memcpy(&v, static_cast<const uint8_t *>(ptr()) + size_t(r * ld_ + c) * 4, 4);
    return v;
  }
  void seti(int64_t r, int64_t c, int32_t v) {
    std::memcpy(static_cast<uint8_t *>(ptr()) + size_t(r * ld_ + c) * 4, &v, 4);
  }
  void setCode(int64_t r, int64_t c, uint8_t code) { // raw e4m3 byte
    static_cast<uint8_t *>(ptr())[r * ld_ + c] = code;
  }

  /// [rows, cols] as floats (or ints converted), padding left out.
  std::vector<float> floats() const {
    std::vector<float> v(size_t(rows_ * cols_));
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        v[size_t(r * cols_ + c)] = ty_ == Ty::I32 ? float(geti(r, c)) : get(r, c);
    return v;
  }
  std::vector<int32_t> ints() const {
    std::vector<int32_t> v(size_t(rows_ * cols_));
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        v[size_t(r * cols_ + c)] = geti(r, c);
    return v;
  }

  /// Fills [rows, cols] with uniform(lo, hi) (never 0) rounded to the type.
  void fillUniform(Rng &rng, float lo, float hi) {
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        set(r, c, rng.nonZero(lo, hi));
  }

  bool guardsIntact() const {
    for (size_t i = 0; i < kGuard; ++i)
      if (mem_[i] != 0xa5 || mem_[mem_.size() - 1 - i] != 0xa5)
        return false;
    return true;
  }

private:
  float getRaw(int64_t i) const {
    const uint8_t *p = static_cast<const uint8_t *>(ptr()) + size_t(i) * sizeOf(ty_);
    switch (ty_) {
    case Ty::F32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case Ty::BF16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return bf16ToFloat(v);
    }
    case Ty::F8:
      return e4m3ToFloat(*p);
    case Ty::I32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return float(v);
    }
    }
    return NAN;
  }
  void setRaw(int64_t i, float v, bool poisonValue) {
    uint8_t *p = static_cast<uint8_t *>(ptr()) + size_t(i) * sizeOf(ty_);
    switch (ty_) {
    case Ty::F32:
      std::memcpy(p, &v, 4);
      break;
    case Ty::BF16: {
      const uint16_t b = floatToBf16(v);
      std::memcpy(p, &b, 2);
      break;
    }
    case Ty::F8:
      *p = poisonValue ? 0x7f : floatToE4m3(v);
      break;
    case Ty::I32: {
      const int32_t x = poisonValue ? 0x7fffffff : int32_t(v);
      std::memcpy(p, &x, 4);
      break;
    }
    }
  }

  Ty ty_ = Ty::F32;
  int64_t rows_ = 0, cols_ = 0, ld_ = 0;
  std::vector<uint8_t> mem_;
  emu::GlobalRange range_;
};

inline Tensor fromInts(const std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  Tensor t(Ty::I32, rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t.seti(r, c, v[size_t(r * cols + c)]);
  return t;
}

inline Tensor fromFloats(Ty ty, const std::vector<float> &v, int64_t rows, int64_t cols) {
  Tensor t(ty, rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t.set(r, c, v[size_t(r * cols + c)]);
  return t;
}

/// FP8 weights of `experts` stacked [rows, cols] matrices with block scales
/// [experts][ceil(rows / 128), scaleLd] (scaleLd >= ceil(cols / 128)).
struct Fp8Weight {
  Tensor codes;  // [experts * rows, cols]
  Tensor scales; // f32 [1, experts * scaleExpertStride]: [blockRows, scaleLd] + padding per expert
  int64_t rows = 0, cols = 0, blockRows = 0, scaleLd = 0, scaleExpertStride = 0;

  float value(int64_t e, int64_t r, int64_t c) const {
    return codes.get(e * rows + r, c) *
           scales.get(0, e * scaleExpertStride + (r / 128) * scaleLd + c / 128);
  }
  const float *scalePtr() const { return static_cast<const float *>(scales.ptr()); }
};

inline Fp8Weight randomFp8Weight(Rng &rng, int64_t experts, int64_t rows, int64_t cols) {
  Fp8Weight w;
  w.rows = rows;
  w.cols = cols;
  w.blockRows = (rows + 127) / 128;
  w.scaleLd = (cols + 127) / 128 + 1;                // + 1: kernels must use scale_ld
  w.scaleExpertStride = w.blockRows * w.scaleLd + 3; // + 3: and the expert stride
  w.codes = Tensor(Ty::F8, experts * rows, cols);
  for (int64_t r = 0; r < experts * rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w.codes.setCode(r, c, rng.fp8Code());
  w.scales = Tensor(Ty::F32, 1, experts * w.scaleExpertStride);
  for (int64_t i = 0; i < experts * w.scaleExpertStride; ++i)
    w.scales.set(0, i, rng.uniform(0.5f, 2.0f) / 16.0f);
  return w;
}

// ---- Checks ---------------------------------------------------------------------------

/// ||out - ref|| / ||ref|| over [rows, cols] of `out`, non-finite outputs
/// counted separately (a NaN where the reference is finite is an unwritten
/// or wrongly read element).
inline ::testing::AssertionResult near(const Tensor &out, const std::vector<float> &ref,
                                       double bound) {
  double err2 = 0, ref2 = 0, maxAbs = 0;
  int64_t bad = 0;
  std::string first;
  for (int64_t r = 0; r < out.rows(); ++r)
    for (int64_t c = 0; c < out.cols(); ++c) {
      const double o = out.get(r, c), e = ref[size_t(r * out.cols() + c)];
      if (std::isfinite(e) != std::isfinite(o) ||
          (!std::isfinite(e) && std::isnan(e) != std::isnan(o))) {
        if (!bad++)
          first = "(" + std::to_string(r) + ", " + std::to_string(c) + ") = " + std::to_string(o) +
                  ", expected " + std::to_string(e);
        continue;
      }
      if (!std::isfinite(e))
        continue;
      err2 += (o - e) * (o - e);
      ref2 += e * e;
      maxAbs = std::max(maxAbs, std::fabs(o - e));
    }
  const double rel = ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "rel %.3g (bound %.0e), max |diff| %.3g, %lld non-finite mismatches", rel, bound,
                maxAbs, (long long)bad);
  if (bad || !(rel <= bound) || (ref2 == 0 && out.rows() * out.cols() > 0))
    return ::testing::AssertionFailure() << buf << (bad ? ", first at " + first : "");
  return ::testing::AssertionSuccess() << buf;
}

/// EXPECTs near() and prints "  <what>: <result>" (the run's record of each case).
inline void expectNear(const std::string &what, const Tensor &out, const std::vector<float> &ref,
                       double bound) {
  const ::testing::AssertionResult r = near(out, ref, bound);
  std::printf("  %-78s %s\n", what.c_str(), r.message());
  EXPECT_TRUE(r) << what;
}

/// Element-wise equality (ints, indices, copies).
template <typename T>
::testing::AssertionResult equal(const std::vector<T> &out, const std::vector<T> &ref) {
  if (out.size() != ref.size())
    return ::testing::AssertionFailure() << "sizes " << out.size() << " vs " << ref.size();
  size_t diff = 0, first = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool same = out[i] == ref[i] || (out[i] != out[i] && ref[i] != ref[i]); // NaN == NaN
    if (!same && !diff++)
      first = i;
  }
  if (diff)
    return ::testing::AssertionFailure() << diff << " of " << ref.size() << " differ, first at "
                                         << first << ": " << out[first] << " vs " << ref[first];
  return ::testing::AssertionSuccess();
}

/// Elements for which mustWrite(r, c) is false (padding, gaps, other rows)
/// are still poison, and the guard bands are intact.
inline ::testing::AssertionResult
untouchedOutside(const Tensor &t, const std::function<bool(int64_t, int64_t)> &mustWrite) {
  if (!t.guardsIntact())
    return ::testing::AssertionFailure() << "a guard band next to the buffer was written";
  for (int64_t r = 0; r < t.rows(); ++r)
    for (int64_t c = 0; c < t.ld(); ++c) {
      if (mustWrite(r, c))
        continue;
      const bool poison = t.ty() == Ty::I32 ? t.geti(r, c) == 0x7fffffff : std::isnan(t.get(r, c));
      if (!poison)
        return ::testing::AssertionFailure()
               << "element (" << r << ", " << c << ") must not be written: " << t.get(r, c);
    }
  return ::testing::AssertionSuccess();
}

// ---- Launching ------------------------------------------------------------------------

/// One launch as OpsLaunch.h / MatmulLaunch.h describe it.
template <typename Kernel, typename Args>
void launch(const Kernel &kernel, const K::Launch &l, const Args &args) {
  emu::options().checkGlobal = true; // every buffer is a Tensor
  emu::launch(kernel, dim3(l.grid_x, l.grid_y, l.grid_z), dim3(l.block, 1, 1), l.shared_bytes,
              args);
}

// ---- Host reference helpers -----------------------------------------------------------

inline H::CMat cmat(const std::vector<float> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}
inline H::Mat mat(std::vector<float> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}
inline H::CIMat cimat(const std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}
inline H::IMat imat(std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}

/// DeepSeek-style YaRN RoPE of `dim` (factor 4 over 1024 positions, as the tiny models).
inline RopeSpec yarnRope(int dim) {
  RopeSpec s;
  s.theta = 10000;
  s.dim = dim;
  s.yarn.enabled = true;
  s.yarn.factor = 4;
  s.yarn.originalMaxPositionEmbeddings = 1024;
  s.yarn.betaFast = 32;
  s.yarn.betaSlow = 1;
  s.yarn.mscale = 1;
  s.yarn.mscaleAllDim = 0.707f;
  return s;
}

} // namespace moela::emutest

#endif // MOELA_TEST_EMU_EMUTESTUTIL_H
