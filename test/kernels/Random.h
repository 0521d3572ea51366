//===- Random.h - The inputs' random numbers ------------------------------===//
//
// Inputs are fresh random numbers every run: the run's seed is printed once
// (MOELA_TEST_SEED=<n> replays it) and each case draws from its own stream
// of it, named after the case, so that one case replays alone. Large fills
// are counter based (element i of a stream is a hash of the stream and i),
// so they can be filled on all cores and still replay.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_RANDOM_H
#define MOELA_TEST_KERNELS_RANDOM_H

#include <cstdint>
#include <functional>
#include <random>
#include <string>

namespace moela::cases {

/// MOELA_TEST_SEED (or the seed setRunSeed chose), else a fresh seed;
/// printed at first use.
uint64_t runSeed();
void setRunSeed(uint64_t seed);

/// A 64-bit mix (splitmix64's finalizer).
inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Element i of counter stream s: uniform in [lo, hi), never exactly 0
/// when 0 is inside.
float counterUniform(uint64_t s, uint64_t i, float lo, float hi);

/// fn(begin, end) over [0, n) on all cores when n is at least `serialBelow`.
void parallelRange(int64_t n, const std::function<void(int64_t, int64_t)> &fn,
                   int64_t serialBelow = 1 << 16);

/// A random stream of the run's seed, named after what draws from it.
class Rng {
public:
  explicit Rng(const std::string &stream);
  float uniform(float lo, float hi) {
    return std::uniform_real_distribution<float>(lo, hi)(engine_);
  }
  int uniformInt(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(engine_);
  }
  /// Uniform in [lo, hi) with |x| >= 1e-6: never exactly 0.
  float nonZero(float lo, float hi);
  /// A random e4m3 code: exponent field in [0, maxExp], never zero or NaN.
  uint8_t fp8Code(int maxExp = 10);
  /// A fresh counter stream (see counterUniform).
  uint64_t stream() { return engine_(); }
  std::mt19937_64 &engine() { return engine_; }

private:
  std::mt19937_64 engine_;
};

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_RANDOM_H
