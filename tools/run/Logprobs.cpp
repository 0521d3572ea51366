//===- Logprobs.cpp - --logprobs: one JSON line per generated token -------===//
#include "run/Logprobs.h"

#include "moela/Runtime/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moela::runtool {

LogprobsWriter::LogprobsWriter(const std::string &path, int top,
                               const Tokenizer &tokenizer)
    : path(path), top(top), tokenizer(tokenizer), out(path) {
  if (!out)
    fail(path, ": cannot write --logprobs-out");
}

void LogprobsWriter::write(int seq, int32_t id,
                           const std::vector<float> &logits) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  double maxLogit = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (float l : logits)
    sum += std::exp(double(l) - maxLogit);
  const double logSum = maxLogit + std::log(sum);
  auto text = [&](int32_t t) {
    return t < tokenizer.vocabSize() ? tokenizer.decode({t}, false)
                                     : std::string();
  };
  auto entry = [&](int32_t t) {
    return nlohmann::json{{"token", t},
                          {"text", text(t)},
                          {"logprob", double(logits[t]) - logSum}};
  };
  std::vector<int32_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  const int64_t n = std::min<int64_t>(top, vocab);
  // Descending logit; ties by lower id, as the greedy sampler chooses.
  std::partial_sort(
      order.begin(), order.begin() + n, order.end(), [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
      });
  nlohmann::json line = {{"seq", seq}, {"step", steps[seq]++}};
  line.update(entry(id));
  line["top"] = nlohmann::json::array();
  for (int64_t i = 0; i < n; ++i)
    line["top"].push_back(entry(order[i]));
  // A token can be part of a UTF-8 sequence: replace, do not throw.
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
  if (!out)
    fail(path, ": cannot write --logprobs-out");
}

void LogprobsWriter::write(int seq, const SampledToken &token) {
  auto entry = [&](int32_t t, float logprob) {
    return nlohmann::json{{"token", t},
                          {"text", t < tokenizer.vocabSize()
                                       ? tokenizer.decode({t}, false)
                                       : std::string()},
                          {"logprob", double(logprob)}};
  };
  nlohmann::json line = {{"seq", seq}, {"step", steps[seq]++}};
  line.update(entry(token.id, token.logprob));
  line["top"] = nlohmann::json::array();
  for (const auto &[t, logprob] : token.top)
    line["top"].push_back(entry(t, logprob));
  out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
      << "\n";
  if (!out)
    fail(path, ": cannot write --logprobs-out");
}

} // namespace moela::runtool
