//===- Sample.cpp - Greedy, top-k, top-p draws and logprobs per logit row -===//
//
// The host's Sample step (plan.fbs SampleParams, docs/model.md §4). Its
// candidates, random number and draw are kernels/SampleCommon.h, the code
// Sample.cuh runs too, so a seeded draw picks the same token on both
// backends; the logprobs are computed in double here.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "kernels/Abi.h"
#include "kernels/SampleCommon.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace moela::host {

namespace {

namespace S = kernels::sample;

float bitsToFloat(int32_t w) {
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

unsigned key(float v) {
  unsigned bits;
  std::memcpy(&bits, &v, sizeof bits);
  return S::orderKey(bits);
}

/// Checks row r's parameters; throws naming the row and the word.
void checkRow(const int32_t *w, int64_t r) {
  const float t = bitsToFloat(w[abi::kTemperatureBits]),
              p = bitsToFloat(w[abi::kTopPBits]);
  if (!(t >= 0.0f) || !std::isfinite(t))
    fail("sampling row ", r, ": temperature must be finite and >= 0, got ", t);
  if (w[abi::kTopK] < 0)
    fail("sampling row ", r, ": top_k must be >= 0, got ", w[abi::kTopK]);
  if (!(p > 0.0f && p <= 1.0f))
    fail("sampling row ", r, ": top_p must be in (0, 1], got ", p);
  if (w[abi::kTopLogprobs] < -1 || w[abi::kTopLogprobs] > abi::kMaxTopLogprobs)
    fail("sampling row ", r, ": top logprobs must be in [-1, ",
         abi::kMaxTopLogprobs, "], got ", w[abi::kTopLogprobs]);
}

/// log(sum exp(row)) of a row's `count` values, NaN-aware as the device's.
void maxAndSumExp(const float *row, int count, float *max, double *sum) {
  float m = row[0];
  for (int c = 1; c < count; ++c)
    m = std::isnan(m) || row[c] > m ? row[c] : m;
  double s = 0;
  for (int c = 0; c < count; ++c)
    s += std::exp(double(row[c]) - double(m));
  *max = m;
  *sum = s;
}

/// The `n` most likely of a row's values in SampleCommon order (by key, then
/// position: a vocab-parallel row's positions are in id order among ties).
void orderCandidates(const float *row, int count, int n,
                     std::vector<int32_t> &order) {
  order.resize(size_t(count));
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + n, order.end(),
                    [&](int32_t a, int32_t b) {
                      return S::before(key(row[a]), a, key(row[b]), b);
                    });
}

/// One row of Sample over `count` values whose ids are idOf(position) and
/// whose log-sum-exp is lse() (asked only when logprobs are).
template <typename IdOf, typename Lse>
void sampleRow(const float *row, int count, const int32_t *w, IdOf idOf,
               Lse lse, int32_t *outIds, float *outLp,
               std::vector<int32_t> &order, std::vector<float> &p) {
  const float temperature = bitsToFloat(w[abi::kTemperatureBits]);
  const int topLogprobs = w[abi::kTopLogprobs];
  const double logSum = topLogprobs >= 0 ? lse() : 0.0;
  auto logprob = [&](int32_t at) {
    return topLogprobs < 0 ? 0.0f
                           : static_cast<float>(double(row[at]) - logSum);
  };
  // The candidates: the row's most likely tokens, in SampleCommon order.
  const int n = S::candidates(temperature, w[abi::kTopK], topLogprobs, count);
  if (n > 0)
    orderCandidates(row, count, n, order);

  int32_t chosen;
  const int drawn = S::drawSet(temperature, w[abi::kTopK], count);
  if (drawn == 0) { // greedy: exactly argmax, the first index on ties
    int best = 0;
    for (int c = 1; c < count; ++c)
      if (row[c] > row[best])
        best = c;
    chosen = best;
  } else {
    p.resize(size_t(drawn));
    const float top = row[order[0]];
    for (int i = 0; i < drawn; ++i)
      p[size_t(i)] = std::exp((row[order[size_t(i)]] - top) / temperature);
    const float u = S::uniform(S::wide(w[abi::kSeedLo], w[abi::kSeedHi]),
                               S::wide(w[abi::kCounterLo], w[abi::kCounterHi]));
    chosen = order[size_t(
        S::draw(p.data(), drawn, bitsToFloat(w[abi::kTopPBits]), u))];
  }
  outIds[0] = idOf(chosen);
  outLp[0] = logprob(chosen);
  for (int i = 1; i < abi::kSampleCols; ++i) {
    const bool top = i <= topLogprobs && i - 1 < count;
    outIds[i] = top ? idOf(order[size_t(i - 1)]) : -1;
    outLp[i] = top ? logprob(order[size_t(i - 1)]) : 0.0f;
  }
}

} // namespace

void sample(CMat logits, CIMat sampling, IMat ids, Mat logprobs) {
  for (int64_t r = 0; r < logits.rows; ++r)
    checkRow(sampling.row(r), r);
  const int vocab = static_cast<int>(logits.cols);
  parallelFor(logits.rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> order;
    std::vector<float> p;
    for (int64_t r = begin; r < end; ++r) {
      const float *row = logits.row(r);
      // log-softmax of the raw logits: logit - (max + log sum exp).
      auto lse = [&] {
        float max;
        double sum;
        maxAndSumExp(row, vocab, &max, &sum);
        return double(max) + std::log(sum);
      };
      sampleRow(
          row, vocab, sampling.row(r), [](int32_t at) { return at; }, lse,
          ids.row(r), logprobs.row(r), order, p);
    }
  });
}

void sampleCandidates(CMat logits, CIMat sampling, int64_t firstId,
                      Mat candidates) {
  const int vocab = static_cast<int>(logits.cols);
  const int C = static_cast<int>((candidates.cols - 2) / 2);
  if (candidates.cols != abi::sampleCandidateCols(C) || C < 1 ||
      C > abi::kMaxSampleCandidates || C > vocab)
    fail("SampleCandidates: ", candidates.cols,
         " columns are not 2 C + 2 for 1 <= C <= min(",
         abi::kMaxSampleCandidates, ", ", vocab, ")");
  for (int64_t r = 0; r < logits.rows; ++r)
    checkRow(sampling.row(r), r);
  parallelFor(logits.rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> order;
    for (int64_t r = begin; r < end; ++r) {
      const float *row = logits.row(r);
      const int32_t *w = sampling.row(r);
      float *out = candidates.row(r);
      // What the merged row needs of every rank: its candidates, at least
      // the first (the argmax of a greedy row).
      const int n =
          std::max(1, S::candidates(bitsToFloat(w[abi::kTemperatureBits]),
                                    w[abi::kTopK], w[abi::kTopLogprobs], C));
      orderCandidates(row, vocab, n, order);
      for (int i = 0; i < C; ++i) {
        out[i] = i < n ? row[order[size_t(i)]] : NAN;
        out[C + i] = i < n ? float(firstId + order[size_t(i)]) : -1.0f;
      }
      float max = 0;
      double sum = 0;
      if (w[abi::kTopLogprobs] >= 0)
        maxAndSumExp(row, vocab, &max, &sum);
      out[2 * C] = max;
      out[2 * C + 1] = static_cast<float>(sum);
    }
  });
}

void sampleFromCandidates(CMat blocks, int parts, CIMat sampling, IMat ids,
                          Mat logprobs) {
  const int64_t W = parts > 0 ? blocks.cols / parts : 0;
  const int C = static_cast<int>((W - 2) / 2);
  if (parts < 1 || blocks.cols != parts * W || C < 1 ||
      W != abi::sampleCandidateCols(C))
    fail("Sample: ", blocks.cols, " columns are not ", parts,
         " candidate blocks of 2 C + 2");
  for (int64_t r = 0; r < blocks.rows; ++r)
    checkRow(sampling.row(r), r);
  parallelFor(blocks.rows, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> order;
    std::vector<float> p, values(size_t(parts) * C), idsOf(values.size());
    for (int64_t r = begin; r < end; ++r) {
      const float *row = blocks.row(r);
      // The union of the ranks' candidates, rank by rank: among equal
      // values, positions are in id order as in the whole row.
      for (int b = 0; b < parts; ++b) {
        std::copy_n(row + b * W, C, values.begin() + b * C);
        std::copy_n(row + b * W + C, C, idsOf.begin() + b * C);
      }
      auto lse = [&] { // the ranks' partial sums, rescaled to one max
        float max = row[2 * C];
        for (int b = 1; b < parts; ++b)
          max = std::max(max, row[b * W + 2 * C]);
        double sum = 0;
        for (int b = 0; b < parts; ++b)
          sum += double(row[b * W + 2 * C + 1]) *
                 std::exp(double(row[b * W + 2 * C]) - double(max));
        return double(max) + std::log(sum);
      };
      sampleRow(
          values.data(), parts * C, sampling.row(r),
          [&](int32_t at) { return int32_t(idsOf[size_t(at)]); }, lse,
          ids.row(r), logprobs.row(r), order, p);
    }
  });
}

} // namespace moela::host
