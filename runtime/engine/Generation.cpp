//===- Generation.cpp - Sampling loop and teacher forcing -----------------===//
#include "moela/Runtime/Generation.h"

#include "moela/Runtime/Error.h"

namespace moela {

GenerationResult generate(Engine &engine,
                          const std::vector<std::vector<int32_t>> &prompts,
                          const GenerationOptions &options,
                          const std::function<void(int, int32_t)> &onToken) {
  const size_t batch = prompts.size();
  GenerationResult result;
  result.ids.resize(batch);
  if (options.keepLogits)
    result.logits.resize(batch);
  Sampler sampler(options.sampling);
  std::vector<std::vector<float>> logits = engine.feed(prompts);
  std::vector<bool> done(batch, false);
  for (int step = 0; step < options.maxNewTokens; ++step) {
    std::vector<std::vector<int32_t>> next(batch);
    bool any = false;
    for (size_t b = 0; b < batch; ++b) {
      if (done[b])
        continue;
      int32_t id = sampler.sample(logits[b].data(), engine.vocab());
      if (options.keepLogits)
        result.logits[b].push_back(std::move(logits[b]));
      result.ids[b].push_back(id);
      if (onToken)
        onToken(static_cast<int>(b), id);
      bool last = step + 1 == options.maxNewTokens ||
                  engine.length(static_cast<int>(b)) >= engine.maxSeqLen() ||
                  (id == options.eosId && !options.ignoreEos);
      done[b] = last;
      if (!last) {
        next[b] = {id};
        any = true;
      }
    }
    if (!any)
      break;
    std::vector<std::vector<float>> fed = engine.feed(next);
    for (size_t b = 0; b < batch; ++b)
      if (!next[b].empty())
        logits[b] = std::move(fed[b]);
  }
  return result;
}

GenerationResult teacherForce(Engine &engine,
                              const std::vector<std::vector<int32_t>> &prompts,
                              const std::vector<std::vector<int32_t>> &forced) {
  const size_t batch = prompts.size();
  if (forced.size() != batch)
    fail("teacher forcing: ", forced.size(), " forced sequences for ", batch,
         " prompts");
  size_t steps = forced.empty() ? 0 : forced[0].size();
  for (size_t b = 0; b < batch; ++b)
    if (forced[b].size() != steps)
      fail("teacher forcing: sequence ", b, " has ", forced[b].size(),
           " forced tokens, sequence 0 has ", steps, " (all must be equal)");
  GenerationResult result;
  result.ids.resize(batch);
  result.logits.resize(batch);
  auto record = [&](std::vector<std::vector<float>> &&logits) {
    for (size_t b = 0; b < batch; ++b) {
      result.ids[b].push_back(argmax(logits[b].data(), engine.vocab()));
      result.logits[b].push_back(std::move(logits[b]));
    }
  };
  record(engine.feed(prompts));
  for (size_t k = 0; k < steps; ++k) {
    std::vector<std::vector<int32_t>> next(batch);
    for (size_t b = 0; b < batch; ++b)
      next[b] = {forced[b][k]};
    record(engine.feed(next));
  }
  return result;
}

} // namespace moela
