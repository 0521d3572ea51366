//===- OpenAiResponse.cpp - OpenAI response bodies and stream chunks ------===//
#include "serve/OpenAiResponse.h"

#include "serve/Metrics.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

namespace moela::serve {

using json = nlohmann::json;

namespace {

json nullable(const std::string &s) { return s.empty() ? json() : json(s); }

json tokenBytes(const Tokenizer &tokenizer, int32_t id) {
  json bytes = json::array();
  if (id < tokenizer.vocabSize())
    for (unsigned char c : tokenizer.tokenBytes(id))
      bytes.push_back(int(c));
  return bytes;
}

/// Completions: {"tokens", "token_logprobs", "top_logprobs", "text_offset"};
/// offsets count from `offset` (the text before these tokens).
json completionLogprobs(const Tokenizer &tokenizer,
                        const std::vector<GeneratedToken> &tokens,
                        size_t offset) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const GeneratedToken &t : tokens) {
    const std::string text = tokenText(tokenizer, t.id);
    out["tokens"].push_back(text);
    out["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const auto &[id, logprob] : t.top)
      top[tokenText(tokenizer, id)] = logprob;
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += text.size();
  }
  return out;
}

/// Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs"}]}.
json chatLogprobs(const Tokenizer &tokenizer,
                  const std::vector<GeneratedToken> &tokens) {
  json content = json::array();
  for (const GeneratedToken &t : tokens) {
    json top = json::array();
    for (const auto &[id, logprob] : t.top)
      top.push_back({{"token", tokenText(tokenizer, id)},
                     {"logprob", logprob},
                     {"bytes", tokenBytes(tokenizer, id)}});
    content.push_back({{"token", tokenText(tokenizer, t.id)},
                       {"logprob", t.logprob},
                       {"bytes", tokenBytes(tokenizer, t.id)},
                       {"top_logprobs", std::move(top)}});
  }
  return {{"content", std::move(content)}};
}

json logprobsJson(bool chat, const Tokenizer &tokenizer,
                  const std::vector<GeneratedToken> &tokens, size_t offset) {
  return chat ? chatLogprobs(tokenizer, tokens)
              : completionLogprobs(tokenizer, tokens, offset);
}

json finishJson(const std::optional<RequestOutcome> &end) {
  return end ? json(finishReason(end->end)) : json();
}

json base(const ResponseHeader &h, bool chunk) {
  const char *object =
      h.chat ? (chunk ? "chat.completion.chunk" : "chat.completion")
             : "text_completion";
  return {{"id", h.id},
          {"object", object},
          {"created", h.created},
          {"model", h.model}};
}

} // namespace

std::string tokenText(const Tokenizer &tokenizer, int32_t id) {
  return id < tokenizer.vocabSize() ? tokenizer.decode({id}, false)
                                    : std::string();
}

ResponseHeader newResponseHeader(bool chat, const std::string &model) {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  char id[48];
  std::snprintf(id, sizeof id, "%s-%016llx%08llx", chat ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(salt),
                static_cast<unsigned long long>(counter++));
  ResponseHeader h;
  h.id = id;
  h.created = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  h.model = model;
  h.chat = chat;
  return h;
}

json usageJson(const std::vector<RequestOutcome> &outcomes) {
  int prompt = outcomes.empty() ? 0 : outcomes[0].promptTokens;
  int completion = 0, cached = outcomes.empty() ? 0 : outcomes[0].cachedTokens;
  for (const RequestOutcome &o : outcomes)
    completion += o.completionTokens;
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion},
          {"total_tokens", prompt + completion},
          {"prompt_tokens_details", {{"cached_tokens", cached}}}};
}

json tokenIds(const std::vector<GeneratedToken> &tokens) {
  json ids = json::array();
  for (const GeneratedToken &t : tokens)
    ids.push_back(t.id);
  return ids;
}

json completionJson(const ResponseHeader &header, const Tokenizer &tokenizer,
                    const CompletionParams &params,
                    const std::vector<ChoiceResult> &choices) {
  const bool logprobs = params.logprobs >= 0;
  json out = base(header, false);
  json list = json::array();
  std::vector<RequestOutcome> outcomes;
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult &c = choices[i];
    json choice = {{"index", i}};
    if (header.chat)
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    else
      choice["text"] = c.text;
    choice["logprobs"] =
        logprobs ? logprobsJson(header.chat, tokenizer, c.tokens, 0) : json();
    choice["finish_reason"] = finishReason(c.outcome.end);
    if (params.returnTokenIds)
      choice["token_ids"] = tokenIds(c.tokens);
    list.push_back(std::move(choice));
    outcomes.push_back(c.outcome);
  }
  out["choices"] = std::move(list);
  out["usage"] = usageJson(outcomes);
  return out;
}

json chunkJson(const ResponseHeader &header, const Tokenizer &tokenizer,
               const CompletionParams &params, int index, const Delta &delta,
               bool first, size_t textOffset) {
  const bool logprobs = params.logprobs >= 0;
  json out = base(header, true);
  json choice = {{"index", index}};
  if (header.chat) {
    json d = json::object();
    if (first)
      d["role"] = "assistant";
    if (!delta.text.empty() || first)
      d["content"] = delta.text;
    choice["delta"] = std::move(d);
  } else {
    choice["text"] = delta.text;
  }
  choice["logprobs"] =
      logprobs && !delta.tokens.empty()
          ? logprobsJson(header.chat, tokenizer, delta.tokens, textOffset)
          : json();
  choice["finish_reason"] = finishJson(delta.end);
  if (params.returnTokenIds)
    choice["token_ids"] = tokenIds(delta.tokens);
  out["choices"] = json::array({std::move(choice)});
  return out;
}

json usageChunkJson(const ResponseHeader &header,
                    const std::vector<RequestOutcome> &outcomes) {
  json out = base(header, true);
  out["choices"] = json::array();
  out["usage"] = usageJson(outcomes);
  return out;
}

json errorJson(const std::string &message, const std::string &type,
               const std::string &param, const std::string &code) {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", nullable(param)},
            {"code", nullable(code)}}}};
}

std::string dump(const json &value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace moela::serve
