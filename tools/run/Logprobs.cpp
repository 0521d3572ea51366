//===- Logprobs.cpp - --logprobs: one JSON line per generated token -------===//
#include "run/Logprobs.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Output.h"
#include "moela/Runtime/Sampler.h"

#include <nlohmann/json.hpp>

namespace moela::runtool {

LogprobsWriter::LogprobsWriter(const std::string &path, int top,
                               const Tokenizer &tokenizer)
    : path(path), top(top), tokenizer(tokenizer), out(path) {
  if (!out)
    fail(path, ": cannot write --logprobs-out");
}

void LogprobsWriter::write(int seq, int32_t id,
                           const std::vector<float> &logits) {
  const TokenLogprobs lp = tokenLogprobs(
      logits.data(), static_cast<int64_t>(logits.size()), id, top);
  auto text = [&](int32_t t) {
    return t < tokenizer.vocabSize() ? tokenizer.decode({t}, false)
                                     : std::string();
  };
  auto entry = [&](int32_t t, double logprob) {
    return nlohmann::json{
        {"token", t}, {"text", text(t)}, {"logprob", logprob}};
  };
  nlohmann::json line = {{"seq", seq}, {"step", steps[seq]++}};
  line.update(entry(id, lp.chosen));
  line["top"] = nlohmann::json::array();
  for (const auto &[t, logprob] : lp.top)
    line["top"].push_back(entry(t, logprob));
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

void LogprobsWriter::close() { closeOutput(out, path, "--logprobs-out"); }

} // namespace moela::runtool
