//===- OpenAiRequest.cpp - Reading and checking OpenAI request bodies -----===//
//
// Every rejection is an ApiError that names the field (`param`) and says
// what was expected and what came. Unknown fields are ignored, as vLLM and
// SGLang do; a known field of the wrong type or range is a 400, and a field
// whose effect moela does not implement (echo, suffix, penalties, tools...)
// is a 400 saying so rather than silently ignored.
//
//===----------------------------------------------------------------------===//
#include "serve/OpenAiRequest.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"
#include "serve/ApiError.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace moela::serve {

using json = nlohmann::ordered_json;

namespace {

const char *typeName(const json &v) {
  switch (v.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "a boolean";
  case json::value_t::string:
    return "a string";
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  case json::value_t::number_float:
    return "a number";
  default:
    return "an integer";
  }
}

/// 2 and 0.5, not 2.0 and 0.500000.
std::string plain(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

[[noreturn]] void bad(const std::string &param, const std::string &message) {
  throw ApiError(400, message, param);
}

/// Typed, range-checked access to the request's fields (null = absent).
class Fields {
public:
  explicit Fields(const json &body) : body(body) {}

  bool has(const char *name) const {
    return body.contains(name) && !body[name].is_null();
  }
  const json &at(const char *name) const { return body[name]; }

  bool boolean(const char *name, bool fallback) const {
    if (!has(name))
      return fallback;
    if (!at(name).is_boolean())
      bad(name, std::string("'") + name + "' must be a boolean, got " +
                    typeName(at(name)));
    return at(name).get<bool>();
  }

  int64_t integer(const char *name, int64_t fallback, int64_t lo,
                  int64_t hi) const {
    if (!has(name))
      return fallback;
    const json &v = at(name);
    if (!v.is_number_integer() && !(v.is_number_float() && isWhole(v)))
      bad(name, std::string("'") + name + "' must be an integer, got " +
                    typeName(v) + " " + v.dump());
    const double d = v.get<double>();
    if (d < double(lo) || d > double(hi))
      bad(name, std::string("'") + name + "' must be in [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                    v.dump());
    return v.is_number_integer() ? v.get<int64_t>() : int64_t(d);
  }

  double number(const char *name, double fallback, double lo, double hi,
                bool openLow = false) const {
    if (!has(name))
      return fallback;
    const json &v = at(name);
    if (!v.is_number())
      bad(name, std::string("'") + name + "' must be a number, got " +
                    typeName(v) + " " + v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi || (openLow && d == lo))
      bad(name, std::string("'") + name + "' must be in " +
                    (openLow ? "(" : "[") + plain(lo) + ", " + plain(hi) +
                    "], got " + v.dump());
    return d;
  }

private:
  static bool isWhole(const json &v) {
    const double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  const json &body;
};

std::vector<int32_t> tokenIds(const json &array, const std::string &param,
                              const ServedModel &model) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < array.size(); ++i) {
    const json &id = array[i];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() >= model.tokenizer->vocabSize())
      bad(param, param + "[" + std::to_string(i) + "] = " + id.dump() +
                     " is not a token id in [0, " +
                     std::to_string(model.tokenizer->vocabSize()) + ")");
    ids.push_back(id.get<int32_t>());
  }
  return ids;
}

/// The text of a message's content: a string, or an array of
/// {"type": "text", "text": ...} parts (joined), or null.
json messageContent(const json &content, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  if (content.is_null() || content.is_string())
    return content;
  if (!content.is_array())
    bad(param, param + " must be a string or an array of text parts, got " +
                   typeName(content));
  std::string text;
  for (size_t k = 0; k < content.size(); ++k) {
    const json &part = content[k];
    if (!part.is_object() || part.value("type", "") != "text" ||
        !part.contains("text") || !part["text"].is_string())
      bad(param, param + "[" + std::to_string(k) +
                     "] must be {\"type\": \"text\", \"text\": ...}: only "
                     "text parts are supported");
    text += part["text"].get<std::string>();
  }
  return text;
}

/// The checked messages, as the chat template reads them.
json chatMessages(const Fields &f) {
  if (!f.has("messages"))
    bad("messages", "'messages' is required");
  const json &messages = f.at("messages");
  if (!messages.is_array() || messages.empty())
    bad("messages", "'messages' must be a non-empty array of messages");
  json out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string param = "messages[" + std::to_string(i) + "]";
    const json &m = messages[i];
    if (!m.is_object())
      bad(param, param + " must be an object, got " + typeName(m));
    if (!m.contains("role") || !m["role"].is_string())
      bad(param + ".role", param + ".role must be a string");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant" &&
        role != "tool" && role != "developer")
      bad(param + ".role", param +
                               ".role must be one of system, user, "
                               "assistant, tool, developer; got \"" +
                               role + "\"");
    json message = m;
    message["role"] = role == "developer" ? "system" : role;
    message["content"] = messageContent(m.value("content", json()), i);
    if (message["content"].is_null() && role != "assistant")
      bad(param + ".content",
          param + ".content is required for the " + role + " role");
    out.push_back(std::move(message));
  }
  return out;
}

std::vector<std::string> stopStrings(const Fields &f) {
  if (!f.has("stop"))
    return {};
  const json &stop = f.at("stop");
  std::vector<std::string> out;
  if (stop.is_string()) {
    out.push_back(stop.get<std::string>());
  } else if (stop.is_array()) {
    for (const json &s : stop) {
      if (!s.is_string())
        bad("stop", "'stop' must be a string or an array of strings, got an "
                    "element " +
                        s.dump());
      out.push_back(s.get<std::string>());
    }
  } else {
    bad("stop", std::string("'stop' must be a string or an array of strings, "
                            "got ") +
                    typeName(stop));
  }
  if (out.size() > 16)
    bad("stop",
        "'stop' holds at most 16 strings, got " + std::to_string(out.size()));
  for (const std::string &s : out)
    if (s.empty())
      bad("stop", "'stop' strings must not be empty");
  return out;
}

/// Fields whose effect moela does not implement: a clear 400 rather than a
/// silently different answer.
void refuseUnsupported(const Fields &f) {
  if (f.boolean("echo", false))
    bad("echo", "'echo' is not supported");
  if (f.has("suffix"))
    bad("suffix", "'suffix' is not supported");
  if (f.integer("best_of", 1, 1, 1) != 1)
    bad("best_of", "'best_of' is not supported");
  for (const char *penalty : {"presence_penalty", "frequency_penalty"})
    if (f.number(penalty, 0, -2, 2) != 0)
      bad(penalty, std::string("'") + penalty + "' is not supported (only 0)");
  if (f.has("tools") && !(f.at("tools").is_array() && f.at("tools").empty()))
    bad("tools", "'tools' (function calling) is not supported yet");
  if (f.has("logit_bias") && !f.at("logit_bias").empty())
    bad("logit_bias", "'logit_bias' is not supported");
}

/// chat_template_kwargs: extra variables for the template (vLLM's field).
json templateVariables(const Fields &f) {
  if (!f.has("chat_template_kwargs"))
    return json::object();
  if (!f.at("chat_template_kwargs").is_object())
    bad("chat_template_kwargs", "'chat_template_kwargs' must be an object");
  return f.at("chat_template_kwargs");
}

/// The chat template's prompt text; its refusal is the request's fault.
std::string renderChat(const ServedModel &model, const json &messages,
                       const json &kwargs, bool addGenerationPrompt = true) {
  try {
    return model.renderChat(messages, kwargs, addGenerationPrompt);
  } catch (const std::exception &e) {
    bad("messages",
        std::string("the chat template refused the messages: ") + e.what());
  }
}

} // namespace

json parseBody(const std::string &body) {
  json doc;
  try {
    doc = parseOrderedJson(body, "the request body");
  } catch (const Error &e) {
    throw ApiError(400, e.what()); // "... not valid JSON at line 1, ..."
  }
  if (!doc.is_object())
    throw ApiError(400, std::string("the request body must be a JSON object, "
                                    "got ") +
                            typeName(doc));
  return doc;
}

CompletionParams parseCompletion(const std::string &text, bool chat,
                                 const ServedModel &model) {
  const json body = parseBody(text);
  Fields f(body);
  if (f.has("model")) {
    if (!f.at("model").is_string())
      bad("model", std::string("'model' must be a string, got ") +
                       typeName(f.at("model")));
    if (f.at("model").get<std::string>() != model.name)
      throw ApiError(404,
                     "The model '" + f.at("model").get<std::string>() +
                         "' does not exist; this server serves '" + model.name +
                         "'",
                     "model", "model_not_found");
  }
  refuseUnsupported(f);
  CompletionParams p;
  p.chat = chat;
  const Tokenizer &tokenizer = *model.tokenizer;
  const char *promptField = chat ? "messages" : "prompt";
  if (chat) {
    p.prompt = tokenizer.encode(
        renderChat(model, chatMessages(f), templateVariables(f)),
        /*addBos=*/false);
  } else {
    if (!f.has("prompt"))
      bad("prompt", "'prompt' is required");
    const json &prompt = f.at("prompt");
    if (prompt.is_string()) {
      p.prompt = tokenizer.encode(prompt.get<std::string>(), /*addBos=*/true);
    } else if (prompt.is_array() && prompt.size() == 1 &&
               prompt[0].is_string()) {
      p.prompt = tokenizer.encode(prompt[0].get<std::string>(), true);
    } else if (prompt.is_array() && !prompt.empty() && prompt[0].is_number()) {
      p.prompt = tokenIds(prompt, "prompt", model);
    } else {
      bad("prompt", "'prompt' must be a string, a one-string array or an "
                    "array of token ids");
    }
  }
  if (p.prompt.empty())
    bad(promptField,
        std::string("'") + promptField + "' gives no tokens to continue");
  const int promptTokens = static_cast<int>(p.prompt.size());
  if (promptTokens >= model.contextLength)
    bad(promptField,
        "this model's maximum context length is " +
            std::to_string(model.contextLength) + " tokens, but the " +
            (chat ? "messages have " : "prompt has ") +
            std::to_string(promptTokens) + " tokens (no room for one more)");

  const char *maxField = chat && f.has("max_completion_tokens")
                             ? "max_completion_tokens"
                             : "max_tokens";
  const int room = model.contextLength - promptTokens;
  p.maxTokens = static_cast<int>(f.integer(
      maxField, chat ? room : 16, 1, std::numeric_limits<int32_t>::max()));
  if (p.maxTokens > room)
    bad(maxField, "this model's maximum context length is " +
                      std::to_string(model.contextLength) +
                      " tokens; the prompt has " +
                      std::to_string(promptTokens) + " and '" + maxField +
                      "' asks for " + std::to_string(p.maxTokens) +
                      " more (at most " + std::to_string(room) + ")");

  p.sampling = model.defaults;
  p.sampling.temperature = static_cast<float>(
      f.number("temperature", model.defaults.temperature, 0, 2));
  p.sampling.topP =
      static_cast<float>(f.number("top_p", model.defaults.topP, 0, 1, true));
  const int64_t topK = f.integer("top_k", model.defaults.topK, -1,
                                 std::numeric_limits<int32_t>::max());
  p.sampling.topK = topK < 0 ? 0 : static_cast<int>(topK);
  p.seeded = f.has("seed");
  if (p.seeded)
    p.sampling.seed = static_cast<uint64_t>(
        f.integer("seed", 0, std::numeric_limits<int64_t>::min(),
                  std::numeric_limits<int64_t>::max()));
  p.stop = stopStrings(f);
  p.n = static_cast<int>(f.integer("n", 1, 1, 16));
  p.ignoreEos = f.boolean("ignore_eos", false);
  p.returnTokenIds = f.boolean("return_token_ids", false);
  p.stream = f.boolean("stream", false);
  if (f.has("stream_options")) {
    const json &options = f.at("stream_options");
    if (!p.stream)
      bad("stream_options", "'stream_options' needs \"stream\": true");
    if (!options.is_object())
      bad("stream_options", "'stream_options' must be an object");
    p.includeUsage = Fields(options).boolean("include_usage", false);
  }
  if (chat) {
    if (f.boolean("logprobs", false))
      p.logprobs = static_cast<int>(f.integer("top_logprobs", 0, 0, 20));
    else if (f.has("top_logprobs"))
      bad("top_logprobs", "'top_logprobs' needs \"logprobs\": true");
  } else {
    p.logprobs = static_cast<int>(f.integer("logprobs", -1, 0, 20));
  }
  return p;
}

std::vector<int32_t> parseTokenize(const std::string &text,
                                   const ServedModel &model) {
  const json body = parseBody(text);
  Fields f(body);
  const bool special = f.boolean("add_special_tokens", true);
  if (f.has("prompt")) {
    if (!f.at("prompt").is_string())
      bad("prompt", std::string("'prompt' must be a string, got ") +
                        typeName(f.at("prompt")));
    return model.tokenizer->encode(f.at("prompt").get<std::string>(), special);
  }
  if (f.has("messages"))
    return model.tokenizer->encode(
        renderChat(model, chatMessages(f), templateVariables(f),
                   f.boolean("add_generation_prompt", true)),
        false);
  bad("prompt", "give 'prompt' (text) or 'messages'");
}

std::vector<int32_t> parseDetokenize(const std::string &text,
                                     const ServedModel &model) {
  const json body = parseBody(text);
  Fields f(body);
  if (!f.has("tokens") || !f.at("tokens").is_array())
    bad("tokens", "'tokens' must be an array of token ids");
  return tokenIds(f.at("tokens"), "tokens", model);
}

} // namespace moela::serve
