//===- Random.cpp - The inputs' random numbers ----------------------------===//
#include "Random.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace moela::cases {
namespace {

bool haveSeed = false;
uint64_t seedValue = 0;

} // namespace

void setRunSeed(uint64_t seed) {
  seedValue = seed;
  haveSeed = true;
}

uint64_t runSeed() {
  static const uint64_t seed = [] {
    uint64_t s = seedValue;
    if (const char *e = std::getenv("MOELA_TEST_SEED"); e && !haveSeed)
      s = std::strtoull(e, nullptr, 0);
    else if (!haveSeed)
      s = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
    std::printf("seed %llu (MOELA_TEST_SEED=%llu replays this run)\n",
                (unsigned long long)s, (unsigned long long)s);
    return s;
  }();
  return seed;
}

float counterUniform(uint64_t s, uint64_t i, float lo, float hi) {
  for (uint64_t k = 0;; ++k) {
    const uint64_t h = mix(s ^ mix(i + (k << 48)));
    const float u = float(h >> 40) * (1.0f / float(1ULL << 24)); // [0, 1)
    const float v = lo + (hi - lo) * u;
    if (std::fabs(v) >= 1e-6f && v < hi)
      return v;
  }
}

void parallelRange(int64_t n, const std::function<void(int64_t, int64_t)> &fn,
                   int64_t serialBelow) {
  const int64_t workers = std::max(1u, std::thread::hardware_concurrency());
  if (n < serialBelow || workers == 1) {
    fn(0, n);
    return;
  }
  const int64_t chunk = (n + workers - 1) / workers;
  std::vector<std::thread> pool;
  for (int64_t b = 0; b < n; b += chunk)
    pool.emplace_back(fn, b, std::min(n, b + chunk));
  for (std::thread &t : pool)
    t.join();
}

Rng::Rng(const std::string &stream) {
  uint64_t h = runSeed();
  for (char c : stream)
    h = mix(h ^ uint64_t(uint8_t(c)));
  engine_.seed(h);
}

float Rng::nonZero(float lo, float hi) {
  float v;
  do
    v = uniform(lo, hi);
  while (std::fabs(v) < 1e-6f);
  return v;
}

uint8_t Rng::fp8Code(int maxExp) {
  const int e = uniformInt(0, maxExp), m = uniformInt(e == 0 ? 1 : 0, 7);
  return uint8_t((uniformInt(0, 1) << 7) | (e << 3) | m);
}

} // namespace moela::cases
