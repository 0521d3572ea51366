//===- Tokenizer.h - DeepSeek-V3 byte-level BPE tokenizer -----------------===//
//
// Loads a Hugging Face tokenizer.json (byte-level BPE, as released with
// DeepSeek-V3) and reproduces its encoding and decoding exactly (docs/model.md
// §5):
//   1. added tokens (<｜begin▁of▁sentence｜>, <｜User｜>, ...) are cut out of
//      the raw text first, leftmost-longest;
//   2. the rest goes through the file's pre-tokenizer Sequence (regex Splits,
//      then ByteLevel);
//   3. each piece is BPE-merged over its bytes by merge rank.
// Decoding maps ids back to bytes (added tokens to their content) and turns
// invalid UTF-8 into U+FFFD like Hugging Face; StreamDecoder does the same
// incrementally for generation. Everything malformed or unsupported throws
// moela::Error naming the file, field or id.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_TOKENIZER_H
#define MOELA_RUNTIME_TOKENIZER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moela {

using TokenId = int32_t;

/// One chat turn: role ("system", "user", "assistant", "tool") and content.
struct ChatMessage {
  std::string role;
  std::string content;
};

class Tokenizer {
public:
  /// Default capacity of the per-word BPE cache (entries).
  static constexpr size_t kDefaultWordCache = 1 << 16;

  /// Loads `dir`/tokenizer.json and, if present, `dir`/tokenizer_config.json
  /// (bos_token, eos_token, chat_template; without them the DeepSeek-V3
  /// defaults <｜begin▁of▁sentence｜> / <｜end▁of▁sentence｜> are used when
  /// they exist, and the built-in DeepSeek-V3 chat template). A chat_template
  /// moela cannot parse does not fail loading: rendering a chat reports it.
  /// `wordCacheEntries` bounds the BPE cache (0 disables it).
  explicit Tokenizer(const std::string &dir,
                     size_t wordCacheEntries = kDefaultWordCache);
  ~Tokenizer();
  Tokenizer(Tokenizer &&) noexcept;
  Tokenizer &operator=(Tokenizer &&) noexcept;

  /// Tokenizes `text` (valid UTF-8, else Error). Added tokens written in the
  /// text are recognised (as Hugging Face does with add_special_tokens=False);
  /// `addBos` prepends bosId(). Thread-safe.
  std::vector<TokenId> encode(std::string_view text, bool addBos = false) const;

  /// The text of `ids`; special added tokens are dropped with `skipSpecial`.
  /// Byte sequences that are not valid UTF-8 become U+FFFD. Throws Error for
  /// an id outside [0, vocabSize()).
  std::string decode(const std::vector<TokenId> &ids,
                     bool skipSpecial = false) const;

  /// The raw bytes of one token (possibly a partial UTF-8 sequence).
  const std::string &tokenBytes(TokenId id) const;

  /// BOS / EOS ids (from tokenizer_config.json), or -1 if there is none.
  TokenId bosId() const;
  TokenId eosId() const;
  /// One past the largest token id (128,815 for DeepSeek-V3; the model's
  /// embedding has padding rows beyond it, which decode rejects).
  int64_t vocabSize() const;
  /// The id of the added token whose content is `content`, if any.
  std::optional<TokenId> addedTokenId(std::string_view content) const;
  /// Whether `id` is an added token marked "special" (BOS, EOS, pad, ...).
  bool isSpecial(TokenId id) const;

  /// Renders the chat template for `messages` (role, content) as
  /// transformers' apply_chat_template(messages, add_generation_prompt=...)
  /// does; see renderChatTemplate. Encode the result with addBos = false: the
  /// templates put the BOS text in it.
  std::string applyChatTemplate(const std::vector<ChatMessage> &messages,
                                bool addGenerationPrompt) const;

  /// Renders the chat template (docs/chat-templates.md) the way transformers'
  /// apply_chat_template(messages, add_generation_prompt=...,
  /// **variables) does, for an OpenAI-style request:
  ///   - `messagesJson`: a JSON array of message objects, passed through as
  ///     they are (role, content, and whatever else a template reads:
  ///     tool_calls, reasoning_content, prefix, ...);
  ///   - `variablesJson`: a JSON object of extra template variables (e.g.
  ///     chat_template_kwargs such as {"thinking": true}, or "tools"); empty
  ///     means none. They override the defaults: tools and documents None,
  ///     bos_token / eos_token (/ pad_token / unk_token) from
  ///     tokenizer_config.json.
  /// Pass the JSON text as received: mappings keep their key order (tojson).
  /// Throws Error for malformed JSON, a template error ("NAME:LINE:
  /// message") or a template's raise_exception (its message). Thread-safe.
  std::string renderChatTemplate(std::string_view messagesJson,
                                 bool addGenerationPrompt,
                                 std::string_view variablesJson = {}) const;

  /// Replaces the chat template the tokenizer loaded (tokenizer_config.json's
  /// `chat_template`, a string or the "default" of a list of named
  /// templates, else the built-in DeepSeek-V3 template) with the Jinja text
  /// `source`; `name` (e.g. the file) names it in errors. Throws Error for
  /// syntax moela's Jinja subset does not accept, naming the line, and then
  /// keeps the template it had. Not thread-safe against rendering.
  void setChatTemplate(const std::string &source, const std::string &name);
  /// setChatTemplate with the text of `path` (Error if unreadable).
  void loadChatTemplateFile(const std::string &path);
  /// Where the chat template came from: "DIR/tokenizer_config.json:
  /// chat_template", a file, or "built-in DeepSeek-V3 chat template".
  const std::string &chatTemplateName() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Decodes ids one at a time, emitting only complete UTF-8: bytes of a
/// character split across tokens are held back until it is complete. The
/// concatenation of every push() and the final flush() equals
/// Tokenizer::decode of the same ids. The tokenizer must outlive it.
class StreamDecoder {
public:
  explicit StreamDecoder(const Tokenizer &tokenizer, bool skipSpecial = false);

  /// Adds `id` (Error if out of range) and returns the text completed by it.
  std::string push(TokenId id);
  /// Returns what is held back (an incomplete sequence becomes U+FFFD) and
  /// resets the decoder.
  std::string flush();

private:
  const Tokenizer *tokenizer;
  bool skipSpecial;
  std::string pending; // bytes of an incomplete UTF-8 sequence
};

} // namespace moela

#endif // MOELA_RUNTIME_TOKENIZER_H
