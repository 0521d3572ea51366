//===- HostSampleTest.cpp - The host Sample step against a plain reference ===//
//
// host::sample (runtime/host/Sample.cpp) against a reference written from
// docs/model.md §4 in double precision: greedy ties, top-k and top-p
// boundaries, the distribution of seeded draws, logprobs and the order of
// the top logprobs, and that a row's draw depends only on its own words.
//
//===----------------------------------------------------------------------===//
#include "host/Kernels.h"
#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

namespace moela::test {
namespace {

struct Params {
  float temperature = 0, topP = 1;
  int topK = 0, top = 0;
  uint64_t seed = 0, counter = 0;
};

std::vector<int32_t> words(const Params &p) {
  std::vector<int32_t> w(abi::kSamplingWords, 0);
  std::memcpy(&w[abi::kTemperatureBits], &p.temperature, 4);
  std::memcpy(&w[abi::kTopPBits], &p.topP, 4);
  w[abi::kTopK] = p.topK;
  w[abi::kSeedLo] = int32_t(uint32_t(p.seed));
  w[abi::kSeedHi] = int32_t(uint32_t(p.seed >> 32));
  w[abi::kCounterLo] = int32_t(uint32_t(p.counter));
  w[abi::kCounterHi] = int32_t(uint32_t(p.counter >> 32));
  w[abi::kTopLogprobs] = p.top;
  return w;
}

struct Out {
  std::vector<int32_t> ids;
  std::vector<float> logprobs;
};

/// host::sample over rows of `logits` [rows][V], one Params each.
Out run(const std::vector<std::vector<float>> &logits,
        const std::vector<Params> &params) {
  const int64_t rows = int64_t(logits.size()), V = int64_t(logits[0].size());
  std::vector<float> flat;
  std::vector<int32_t> w;
  for (int64_t r = 0; r < rows; ++r) {
    flat.insert(flat.end(), logits[r].begin(), logits[r].end());
    std::vector<int32_t> row = words(params[r]);
    w.insert(w.end(), row.begin(), row.end());
  }
  Out out{std::vector<int32_t>(rows * abi::kSampleCols),
          std::vector<float>(rows * abi::kSampleCols)};
  host::sample({flat.data(), rows, V, V},
               {w.data(), rows, abi::kSamplingWords, abi::kSamplingWords},
               {out.ids.data(), rows, abi::kSampleCols, abi::kSampleCols},
               {out.logprobs.data(), rows, abi::kSampleCols, abi::kSampleCols});
  return out;
}

int32_t draw(const std::vector<float> &logits, const Params &p) {
  return run({logits}, {p}).ids[0];
}

/// The reference: candidates by logit (lower id first on ties), top_k (0:
/// 1024), softmax(logit / T) over them in double, the shortest prefix whose
/// share reaches top_p; its probabilities, renormalized, by candidate id.
std::vector<std::pair<int32_t, double>> nucleus(const std::vector<float> &l,
                                                const Params &p) {
  std::vector<int32_t> ids(l.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  const size_t k =
      std::min<size_t>(p.topK > 0 && p.topK < 1024 ? p.topK : 1024, ids.size());
  ids.resize(k);
  std::vector<double> pr(k);
  double sum = 0;
  for (size_t i = 0; i < k; ++i)
    sum += pr[i] = std::exp((double(l[ids[i]]) - l[ids[0]]) / p.temperature);
  size_t keep = k;
  double mass = 0;
  for (size_t i = 0; i < k; ++i)
    if ((mass += pr[i] / sum) >= p.topP - 1e-12) {
      keep = i + 1;
      break;
    }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i)
    kept += pr[i];
  std::vector<std::pair<int32_t, double>> out;
  for (size_t i = 0; i < keep; ++i)
    out.emplace_back(ids[i], pr[i] / kept);
  return out;
}

double logSoftmax(const std::vector<float> &l, int32_t id) {
  double m = *std::max_element(l.begin(), l.end()), s = 0;
  for (float v : l)
    s += std::exp(double(v) - m);
  return double(l[id]) - m - std::log(s);
}

TEST(HostSampleTest, GreedyIsTheArgmaxWithTheLowestIdOnTies) {
  std::vector<float> l = {1, 7, 3, 7, -2, 7};
  EXPECT_EQ(draw(l, {}), 1);
  l[1] = -INFINITY;
  EXPECT_EQ(draw(l, {}), 3);
  Out o = run({l}, {Params{0, 1, 0, 3}});
  EXPECT_EQ(o.ids[0], 3);
  EXPECT_NEAR(o.logprobs[0], logSoftmax(l, 3), 1e-5);
  // The top logprobs: most likely first, ties by lower id, then -1 and 0.
  EXPECT_EQ(std::vector<int32_t>(o.ids.begin() + 1, o.ids.begin() + 5),
            (std::vector<int32_t>{3, 5, 2, -1}));
  for (int i = 1; i <= 3; ++i)
    EXPECT_NEAR(o.logprobs[i], logSoftmax(l, o.ids[i]), 1e-5);
  EXPECT_EQ(o.logprobs[4], 0.0f);
}

TEST(HostSampleTest, TwentyTopLogprobsInOrder) {
  std::vector<float> l(300);
  for (size_t i = 0; i < l.size(); ++i)
    l[i] = std::sin(float(i) * 0.37f) * 5;
  Out o = run({l}, {Params{0.9f, 1, 0, 20, 4, 2}});
  std::vector<int32_t> ids(l.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::stable_sort(ids.begin(), ids.end(),
                   [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  for (int i = 1; i <= 20; ++i) {
    EXPECT_EQ(o.ids[i], ids[i - 1]) << i;
    EXPECT_NEAR(o.logprobs[i], logSoftmax(l, ids[i - 1]), 1e-5);
  }
  EXPECT_NEAR(o.logprobs[0], logSoftmax(l, o.ids[0]), 1e-5);
}

TEST(HostSampleTest, TopKKeepsTheLowestIdsOfATie) {
  const std::vector<float> l = {5, 1, 5, 5, 0};
  std::set<int32_t> seen;
  for (uint64_t c = 0; c < 400; ++c)
    seen.insert(draw(l, Params{1, 1, 2, 0, 11, c}));
  EXPECT_EQ(seen, (std::set<int32_t>{0, 2}));
  for (uint64_t c = 0; c < 50; ++c) // top_k 1 is greedy
    EXPECT_EQ(draw(l, Params{3, 1, 1, 0, 5, c}), 0);
}

TEST(HostSampleTest, TopPStopsWhereTheMassIsReached) {
  // Probabilities 1/2, 1/4, 1/4 at temperature 1.
  const float h = std::log(0.5f);
  const std::vector<float> l = {0, h, h};
  std::set<int32_t> half, threeQuarters;
  for (uint64_t c = 0; c < 400; ++c) {
    half.insert(draw(l, Params{1, 0.5f, 0, 0, 1, c}));
    threeQuarters.insert(draw(l, Params{1, 0.75f, 0, 0, 1, c}));
  }
  EXPECT_EQ(half, (std::set<int32_t>{0}));
  EXPECT_EQ(threeQuarters, (std::set<int32_t>{0, 1}));
}

TEST(HostSampleTest, DrawsFollowTheReferenceDistribution) {
  const std::vector<float> l = {2.0f, 1.5f, 0.3f, -1, 1.9f, 0};
  for (Params p : {Params{0.8f, 1, 0}, Params{1.3f, 0.9f, 0}, Params{1, 1, 3},
                   Params{0.6f, 0.7f, 4}}) {
    const auto want = nucleus(l, p);
    std::vector<int> counts(l.size(), 0);
    const int n = 20000;
    for (int c = 0; c < n; ++c) {
      p.seed = 99;
      p.counter = uint64_t(c);
      ++counts[draw(l, p)];
    }
    std::vector<double> expected(l.size(), 0);
    for (auto [id, prob] : want)
      expected[id] = prob;
    for (size_t id = 0; id < l.size(); ++id)
      EXPECT_NEAR(counts[id] / double(n), expected[id], 0.015)
          << "id " << id << " T " << p.temperature << " top_p " << p.topP
          << " top_k " << p.topK;
  }
}

TEST(HostSampleTest, ARowsDrawDependsOnlyOnItsOwnSeedAndCounter) {
  std::vector<float> a(50), b(50);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = std::cos(float(i)) * 3;
    b[i] = std::sin(float(i)) * 3;
  }
  const Params pa{1.1f, 0.95f, 0, 2, 1234, 17}, pb{0.7f, 1, 5, 0, 9, 3};
  const Out alone = run({a}, {pa});
  const Out batched = run({b, a, b}, {pb, pa, pb});
  for (int c = 0; c < abi::kSampleCols; ++c) {
    EXPECT_EQ(alone.ids[c], batched.ids[abi::kSampleCols + c]);
    EXPECT_EQ(alone.logprobs[c], batched.logprobs[abi::kSampleCols + c]);
  }
  // Another counter or seed: another draw, sometimes.
  int differ = 0;
  for (uint64_t c = 0; c < 64; ++c) {
    Params q = pa;
    q.counter = c;
    differ += draw(a, q) != draw(a, pa);
  }
  EXPECT_GT(differ, 0);
}

TEST(HostSampleTest, BadParametersNameTheRow) {
  const std::vector<float> l = {0, 1};
  Params p;
  p.topP = 0;
  EXPECT_THROW(run({l, l}, {Params{}, p}), Error);
  try {
    run({l, l}, {Params{}, p});
  } catch (const Error &e) {
    EXPECT_NE(std::string(e.what()).find("row 1"), std::string::npos)
        << e.what();
  }
}

/// host::sampleCandidates on each of `parts` column slices of the rows,
/// the blocks side by side, then host::sampleFromCandidates.
Out runVocabParallel(const std::vector<std::vector<float>> &logits,
                     const std::vector<Params> &params, int parts) {
  const int64_t rows = int64_t(logits.size()), V = int64_t(logits[0].size());
  const int64_t Vr = V / parts;
  const int C = int(std::min<int64_t>(abi::kMaxSampleCandidates, Vr));
  const int64_t W = abi::sampleCandidateCols(C);
  std::vector<int32_t> w;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int32_t> row = words(params[size_t(r)]);
    w.insert(w.end(), row.begin(), row.end());
  }
  const host::CIMat sampling{w.data(), rows, abi::kSamplingWords,
                             abi::kSamplingWords};
  std::vector<float> blocks(size_t(rows * parts * W));
  for (int b = 0; b < parts; ++b) {
    std::vector<float> slice;
    for (int64_t r = 0; r < rows; ++r)
      slice.insert(slice.end(), logits[size_t(r)].begin() + b * Vr,
                   logits[size_t(r)].begin() + (b + 1) * Vr);
    host::sampleCandidates({slice.data(), rows, Vr, Vr}, sampling, b * Vr,
                           {blocks.data() + b * W, rows, W, parts * W});
  }
  Out out{std::vector<int32_t>(rows * abi::kSampleCols),
          std::vector<float>(rows * abi::kSampleCols)};
  host::sampleFromCandidates(
      {blocks.data(), rows, parts * W, parts * W}, parts, sampling,
      {out.ids.data(), rows, abi::kSampleCols, abi::kSampleCols},
      {out.logprobs.data(), rows, abi::kSampleCols, abi::kSampleCols});
  return out;
}

// Vocab-parallel sampling (docs/parallel.md): each rank's candidates, then
// the draw over their union, give the ids of the whole rows exactly and their
// logprobs to rounding, for greedy, top-k, top-p and full draws, with and
// without logprobs, ties across ranks included, on 2, 3 and 4 ranks.
TEST(HostSampleTest, VocabParallelCandidatesPickWhatTheWholeRowPicks) {
  for (int parts : {2, 3, 4}) {
    for (int64_t V : {int64_t(96) * parts, int64_t(1500) * parts}) {
      std::vector<std::vector<float>> logits;
      std::vector<Params> params;
      uint64_t state = 0x1234u + uint64_t(V);
      for (int r = 0; r < 40; ++r) {
        std::vector<float> row(static_cast<size_t>(V));
        for (float &v : row) { // few distinct values: ties across ranks
          state = state * 6364136223846793005ull + 1442695040888963407ull;
          v = float((state >> 33) % 64) / 8.0f - 4.0f;
        }
        logits.push_back(row);
        Params p;
        p.temperature = r % 5 == 0 ? 0.0f : 0.5f + float(r % 3);
        p.topK = r % 4 == 1 ? 7 : r % 4 == 2 ? 2000 : 0;
        p.topP = r % 3 == 1 ? 0.6f : 1.0f;
        p.top = r % 2 ? abi::kMaxTopLogprobs : (r % 4 == 2 ? 3 : -1);
        p.seed = uint64_t(r) * 977;
        p.counter = uint64_t(r);
        params.push_back(p);
      }
      const Out whole = run(logits, params);
      const Out split = runVocabParallel(logits, params, parts);
      ASSERT_EQ(split.ids, whole.ids) << parts << " ranks, V = " << V;
      for (size_t i = 0; i < whole.logprobs.size(); ++i)
        ASSERT_NEAR(split.logprobs[i], whole.logprobs[i], 1e-5)
            << parts << " ranks, V = " << V << ", entry " << i;
    }
  }
}

} // namespace
} // namespace moela::test
