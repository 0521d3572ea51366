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
      const int32_t *w = sampling.row(r);
      const float temperature = bitsToFloat(w[abi::kTemperatureBits]);
      const int topLogprobs = w[abi::kTopLogprobs];
      // log-softmax of the raw logits: logit - (max + log sum exp), only
      // when logprobs are asked for (a pass over V with an exp each).
      double lse = 0;
      if (topLogprobs >= 0) {
        float max = row[0];
        for (int c = 1; c < vocab; ++c)
          max = std::isnan(max) || row[c] > max ? row[c] : max;
        double sum = 0;
        for (int c = 0; c < vocab; ++c)
          sum += std::exp(double(row[c]) - double(max));
        lse = double(max) + std::log(sum);
      }
      auto logprob = [&](int32_t id) {
        return topLogprobs < 0 ? 0.0f
                               : static_cast<float>(double(row[id]) - lse);
      };

      // The candidates: the row's most likely tokens, in SampleCommon order.
      const int n =
          S::candidates(temperature, w[abi::kTopK], topLogprobs, vocab);
      if (n > 0) {
        order.resize(vocab);
        std::iota(order.begin(), order.end(), 0);
        std::partial_sort(order.begin(), order.begin() + n, order.end(),
                          [&](int32_t a, int32_t b) {
                            return S::before(key(row[a]), a, key(row[b]), b);
                          });
      }

      int32_t chosen;
      const int drawn = S::drawSet(temperature, w[abi::kTopK], vocab);
      if (drawn == 0) { // greedy: exactly argmax, the first index on ties
        int64_t best = 0;
        for (int c = 1; c < vocab; ++c)
          if (row[c] > row[best])
            best = c;
        chosen = static_cast<int32_t>(best);
      } else {
        p.resize(drawn);
        const float top = row[order[0]];
        for (int i = 0; i < drawn; ++i)
          p[i] = std::exp((row[order[i]] - top) / temperature);
        const float u =
            S::uniform(S::wide(w[abi::kSeedLo], w[abi::kSeedHi]),
                       S::wide(w[abi::kCounterLo], w[abi::kCounterHi]));
        chosen =
            order[S::draw(p.data(), drawn, bitsToFloat(w[abi::kTopPBits]), u)];
      }
      int32_t *outIds = ids.row(r);
      float *outLp = logprobs.row(r);
      outIds[0] = chosen;
      outLp[0] = logprob(chosen);
      for (int i = 1; i < abi::kSampleCols; ++i) {
        const bool top = i <= topLogprobs && i - 1 < vocab;
        outIds[i] = top ? order[i - 1] : -1;
        outLp[i] = top ? logprob(order[i - 1]) : 0.0f;
      }
    }
  });
}

} // namespace moela::host
