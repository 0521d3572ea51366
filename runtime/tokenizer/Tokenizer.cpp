//===- Tokenizer.cpp - DeepSeek-V3 byte-level BPE tokenizer ---------------===//
//
// Loading checks every part of tokenizer.json that affects the result and
// rejects what it does not implement, so a file that loads is tokenized as
// Hugging Face does it (up to the Unicode version of the regex tables, see
// PreTokenizer.h). post_processor is ignored: it only adjusts offsets for
// DeepSeek-V3, and BOS is added by encode(addBos).
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Tokenizer.h"

#include "AddedTokens.h"
#include "Bpe.h"
#include "ByteLevel.h"
#include "ChatTemplate.h"
#include "PreTokenizer.h"
#include "Utf8.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

namespace moela {

using nlohmann::json;

namespace {

// Ids above this are surely a corrupt file, not a vocabulary.
constexpr int64_t kMaxTokenId = 1 << 24;

enum TokenFlags : uint8_t { kHasToken = 1, kSpecial = 2 };

/// `obj[key]`, which must exist and be of `kind` (for the message).
const json &member(const json &obj, const char *key, json::value_t kind,
                   const std::string &where) {
  auto it = obj.find(key);
  if (it == obj.end())
    fail(where, ": missing \"", key, "\"");
  bool ok = it->type() == kind ||
            (kind == json::value_t::number_integer && it->is_number_integer());
  if (!ok)
    failJsonType(where + "." + key, json(kind).type_name(), *it);
  return *it;
}

/// True when obj[key] is absent, null or equal to `allowed`.
bool absentOr(const json &obj, const char *key, const json &allowed) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() || *it == allowed;
}

/// The token id in `value`; `where()` names it in errors (built lazily: this
/// runs for every vocabulary entry).
template <typename Where> TokenId tokenIdOf(const json &value, Where where) {
  if (!value.is_number_integer())
    fail(where(), ": expected an integer token id, got ", value.type_name());
  int64_t id = value.get<int64_t>();
  if (id < 0 || id >= kMaxTokenId)
    fail(where(), ": token id ", id, " is out of range");
  return static_cast<TokenId>(id);
}

std::string jsonQuoted(std::string_view s) {
  return json(std::string(s)).dump();
}

} // namespace

struct Tokenizer::Impl {
  PreTokenizer preTokenizer;
  std::unique_ptr<Bpe> bpe;
  AddedTokenMatcher addedMatcher;
  std::unordered_map<std::string, TokenId> addedIds; // content -> id
  std::vector<std::string> bytes;                    // id -> raw bytes
  std::vector<uint8_t> flags;                        // id -> TokenFlags
  TokenId bos = -1, eos = -1;
  std::string bosText;
  ChatTemplate chat;
  jinja::Json specialTokens = jinja::Json::object(); // bos_token, ... texts

  void load(const std::string &dir, size_t wordCacheEntries);
  void loadTokenizerJson(const json &root, const std::string &file,
                         size_t wordCacheEntries);
  void loadModel(const json &model, const std::string &where,
                 size_t wordCacheEntries);
  void loadAddedTokens(const json &list, const std::string &where);
  void loadChatTemplate(const json &config, const std::string &file);
  TokenId specialToken(const json &config, const char *key,
                       const char *fallback, const std::string &file,
                       std::string &text) const;
  void define(TokenId id, std::string tokenBytes) {
    if (static_cast<size_t>(id) >= bytes.size()) {
      bytes.resize(id + 1);
      flags.resize(id + 1, 0);
    }
    bytes[id] = std::move(tokenBytes);
    flags[id] |= kHasToken;
  }
  void checkId(TokenId id) const {
    if (id < 0 || static_cast<size_t>(id) >= bytes.size())
      fail("token id ", id, " is out of range [0, ", bytes.size(), ")");
    if (!(flags[id] & kHasToken))
      fail("token id ", id, " has no token in the vocabulary");
  }
};

void Tokenizer::Impl::load(const std::string &dir, size_t wordCacheEntries) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir))
    fail("tokenizer directory ", dir, " does not exist");
  const std::string file = (fs::path(dir) / "tokenizer.json").string();
  json root = readJsonFile(file);
  // The checks below name what they reject; this catches the rest (a string
  // where a flag belongs, ...) so that every failure is a moela::Error.
  try {
    loadTokenizerJson(root, file, wordCacheEntries);
  } catch (const json::exception &e) {
    fail(file, ": unexpected structure: ", e.what());
  }

  // BOS/EOS come from tokenizer_config.json, as in Hugging Face.
  const std::string configFile =
      (fs::path(dir) / "tokenizer_config.json").string();
  json config = json::object();
  if (fs::exists(configFile)) {
    config = readJsonFile(configFile);
    if (!config.is_object())
      fail(configFile, ": expected a JSON object");
  }
  std::string eosText;
  bos = specialToken(config, "bos_token", "<｜begin▁of▁sentence｜>", configFile,
                     bosText);
  eos = specialToken(config, "eos_token", "<｜end▁of▁sentence｜>", configFile,
                     eosText);
  if (bos >= 0)
    specialTokens["bos_token"] = bosText;
  if (eos >= 0)
    specialTokens["eos_token"] = eosText;
  for (const char *key : {"pad_token", "unk_token"}) {
    auto it = config.find(key);
    if (it != config.end() && it->is_string())
      specialTokens[key] = *it;
    else if (it != config.end() && it->is_object() &&
             it->value("content", json()).is_string())
      specialTokens[key] = (*it)["content"];
  }
  loadChatTemplate(config, configFile);
}

void Tokenizer::Impl::loadChatTemplate(const json &config,
                                       const std::string &file) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null())
    return; // the built-in DeepSeek-V3 template
  const std::string name = file + ": chat_template";
  // A template moela cannot render must not stop plain encoding: the error
  // comes when a chat is rendered.
  try {
    if (it->is_string()) {
      chat = ChatTemplate(it->get<std::string>(), name);
      return;
    }
    if (it->is_array()) {
      std::string names;
      for (const json &entry : *it) {
        if (!entry.is_object() || !entry.value("name", json()).is_string() ||
            !entry.value("template", json()).is_string())
          fail(name, ": expected a list of {\"name\", \"template\"} strings");
        if (entry["name"] == "default") {
          chat = ChatTemplate(entry["template"].get<std::string>(),
                              name + " \"default\"");
          return;
        }
        names += (names.empty() ? "" : ", ") + entry["name"].get<std::string>();
      }
      fail(name, ": the templates (", names,
           ") include none named \"default\"");
    }
    fail(name, ": expected a string or a list of named templates, got ",
         it->type_name());
  } catch (const Error &e) {
    chat = ChatTemplate::broken(name, e.what());
  }
}

void Tokenizer::Impl::loadTokenizerJson(const json &root,
                                        const std::string &file,
                                        size_t wordCacheEntries) {
  if (!root.is_object())
    fail(file, ": expected a JSON object");
  auto normalizer = root.find("normalizer");
  if (normalizer != root.end() && !normalizer->is_null()) {
    const std::string where = file + ": normalizer";
    if (!normalizer->is_object())
      failJsonType(where, "object", *normalizer);
    std::string type = stringOr(*normalizer, "type", "?", where + ".type");
    bool emptySequence =
        type == "Sequence" &&
        normalizer->value("normalizers", json::array()).empty();
    if (!emptySequence)
      fail(where, ": ", type,
           " is not supported (only none or an empty Sequence)");
  }
  auto decoder = root.find("decoder");
  if (decoder != root.end() && decoder->is_object())
    stringOr(*decoder, "type", "", file + ": decoder.type"); // kind checked
  if (decoder == root.end() || !decoder->is_object() ||
      decoder->value("type", "") != "ByteLevel")
    fail(file, ": decoder: only a ByteLevel decoder is supported");

  auto pre = root.find("pre_tokenizer");
  preTokenizer =
      PreTokenizer::fromJson(pre == root.end() ? json() : *pre, file);
  loadModel(member(root, "model", json::value_t::object, file),
            file + ": model", wordCacheEntries);
  auto added = root.find("added_tokens");
  if (added != root.end() && !added->is_null()) {
    if (!added->is_array())
      fail(file, ": added_tokens: expected an array");
    loadAddedTokens(*added, file + ": added_tokens");
  }
}

void Tokenizer::Impl::loadModel(const json &model, const std::string &where,
                                size_t wordCacheEntries) {
  if (!absentOr(model, "type", "BPE"))
    fail(where, ".type: ", model["type"].dump(),
         " is not supported (only BPE)");
  auto dropout = model.find("dropout");
  if (dropout != model.end() && !dropout->is_null() &&
      !(dropout->is_number() && dropout->get<double>() == 0.0))
    fail(where, ".dropout: BPE dropout is not supported");
  if (!absentOr(model, "continuing_subword_prefix", "") ||
      !absentOr(model, "end_of_word_suffix", ""))
    fail(where, ": subword prefixes/suffixes are not supported");
  if (!absentOr(model, "byte_fallback", false))
    fail(where, ".byte_fallback: not supported");
  bool ignoreMerges =
      boolOr(model, "ignore_merges", false, where + ".ignore_merges");

  // The vocabulary spells bytes in GPT-2's alphabet; BPE runs on raw bytes.
  const json &vocabJson = member(model, "vocab", json::value_t::object, where);
  std::unordered_map<std::string, TokenId> spellingIds, bytesIds;
  spellingIds.reserve(vocabJson.size());
  bytesIds.reserve(vocabJson.size());
  bytes.reserve(vocabJson.size() + 1024);
  flags.reserve(vocabJson.size() + 1024);
  std::string raw;
  for (auto it = vocabJson.begin(); it != vocabJson.end(); ++it) {
    TokenId id = tokenIdOf(it.value(), [&] {
      return where + ".vocab[" + jsonQuoted(it.key()) + "]";
    });
    spellingIds.emplace(it.key(), id);
    if (bytelevel::toBytes(it.key(), raw)) {
      bytesIds.emplace(raw, id);
      define(id, raw);
    } else {
      // Not byte-level (e.g. "<｜begin▁of▁sentence｜>"): unreachable by BPE,
      // and Hugging Face's ByteLevel decoder emits such a token verbatim.
      define(id, it.key());
    }
  }

  std::array<TokenId, 256> byteIds;
  for (unsigned b = 0; b < 256; ++b) {
    std::string spelling;
    utf8::appendCodePoint(spelling,
                          bytelevel::byteToChar(static_cast<uint8_t>(b)));
    auto it = spellingIds.find(spelling);
    if (it == spellingIds.end())
      fail(where, ".vocab: no token for byte ", b, " (", jsonQuoted(spelling),
           "); only byte-level vocabularies are supported");
    byteIds[b] = it->second;
  }

  // Merges are "left right" strings (older files) or [left, right] arrays.
  const json &mergesJson = member(model, "merges", json::value_t::array, where);
  std::vector<Bpe::Merge> merges;
  merges.reserve(mergesJson.size());
  auto lookup = [&](const std::string &spelling, auto at) {
    auto it = spellingIds.find(spelling);
    if (it == spellingIds.end())
      fail(at(), ": token ", jsonQuoted(spelling), " is not in the vocabulary");
    return it->second;
  };
  for (size_t i = 0; i < mergesJson.size(); ++i) {
    const json &m = mergesJson[i];
    std::string left, right;
    if (m.is_string()) {
      const std::string &s = m.get_ref<const std::string &>();
      size_t space = s.find(' ');
      if (space == std::string::npos ||
          s.find(' ', space + 1) != std::string::npos)
        fail(where, ".merges[", i, "]: expected \"left right\", got ",
             m.dump());
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() &&
               m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      fail(where, ".merges[", i,
           "]: expected \"left right\" or [left, right], got ", m.dump());
    }
    auto at = [&] { return where + ".merges[" + std::to_string(i) + "]"; };
    merges.push_back(
        {lookup(left, at), lookup(right, at), lookup(left + right, at)});
  }
  bpe = std::make_unique<Bpe>(byteIds, merges, std::move(bytesIds),
                              ignoreMerges, wordCacheEntries);
}

void Tokenizer::Impl::loadAddedTokens(const json &list,
                                      const std::string &where) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const json &token = list[i];
    if (!token.is_object())
      fail(at, ": expected an object");
    TokenId id =
        tokenIdOf(member(token, "id", json::value_t::number_integer, at),
                  [&] { return at + ".id"; });
    const std::string &content =
        member(token, "content", json::value_t::string, at)
            .get_ref<const std::string &>();
    if (content.empty())
      fail(at, ".content: empty");
    for (const char *flag : {"lstrip", "rstrip", "single_word"})
      if (!absentOr(token, flag, false))
        fail(at, ".", flag, ": true is not supported");
    define(id, content);
    if (boolOr(token, "special", false, at + ".special"))
      flags[id] |= kSpecial;
    else
      flags[id] &= ~kSpecial;
    addedMatcher.add(content, id);
    addedIds[content] = id;
  }
}

TokenId Tokenizer::Impl::specialToken(const json &config, const char *key,
                                      const char *fallback,
                                      const std::string &file,
                                      std::string &text) const {
  auto it = config.find(key);
  if (it == config.end()) {
    // No config entry: the DeepSeek-V3 token if this vocabulary has it.
    auto found = addedIds.find(fallback);
    if (found == addedIds.end())
      return -1;
    text = fallback;
    return found->second;
  }
  if (it->is_null())
    return -1;
  if (it->is_string())
    text = it->get<std::string>();
  else if (it->is_object() && it->contains("content") &&
           (*it)["content"].is_string())
    text = (*it)["content"].get<std::string>();
  else
    fail(file, ": ", key, ": expected a string or {\"content\": ...}");
  auto found = addedIds.find(text);
  if (found == addedIds.end())
    fail(file, ": ", key, ": ", jsonQuoted(text), " is not an added token");
  return found->second;
}

Tokenizer::Tokenizer(const std::string &dir, size_t wordCacheEntries)
    : impl(std::make_unique<Impl>()) {
  impl->load(dir, wordCacheEntries);
}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;

std::vector<TokenId> Tokenizer::encode(std::string_view text,
                                       bool addBos) const {
  size_t bad = utf8::firstInvalid(text);
  if (bad != text.size())
    fail("text to encode is not valid UTF-8 (byte offset ", bad, ")");
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 2);
  if (addBos) {
    if (impl->bos < 0)
      fail("this tokenizer has no BOS token");
    ids.push_back(impl->bos);
  }
  std::vector<std::string_view> pieces;
  auto encodePlain = [&](std::string_view plain) {
    pieces.clear();
    impl->preTokenizer.split(plain, pieces);
    for (std::string_view piece : pieces)
      impl->bpe->encode(piece, ids);
  };
  size_t pos = 0;
  AddedTokenMatcher::Match match;
  while (impl->addedMatcher.find(text, pos, match)) {
    encodePlain(text.substr(pos, match.start - pos));
    ids.push_back(match.id);
    pos = match.start + match.length;
  }
  encodePlain(text.substr(pos));
  return ids;
}

std::string Tokenizer::decode(const std::vector<TokenId> &ids,
                              bool skipSpecial) const {
  std::string raw;
  for (TokenId id : ids) {
    impl->checkId(id);
    if (!(skipSpecial && (impl->flags[id] & kSpecial)))
      raw += impl->bytes[id];
  }
  std::string text;
  text.reserve(raw.size());
  utf8::appendLossy(text, raw, /*final=*/true);
  return text;
}

const std::string &Tokenizer::tokenBytes(TokenId id) const {
  impl->checkId(id);
  return impl->bytes[id];
}

TokenId Tokenizer::bosId() const { return impl->bos; }
TokenId Tokenizer::eosId() const { return impl->eos; }
int64_t Tokenizer::vocabSize() const {
  return static_cast<int64_t>(impl->bytes.size());
}

std::optional<TokenId> Tokenizer::addedTokenId(std::string_view content) const {
  auto it = impl->addedIds.find(std::string(content));
  if (it == impl->addedIds.end())
    return std::nullopt;
  return it->second;
}

bool Tokenizer::isSpecial(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < impl->flags.size() &&
         (impl->flags[id] & kSpecial);
}

std::string
Tokenizer::applyChatTemplate(const std::vector<ChatMessage> &messages,
                             bool addGenerationPrompt) const {
  jinja::Json list = jinja::Json::array();
  for (const ChatMessage &m : messages)
    list.push_back({{"role", m.role}, {"content", m.content}});
  return impl->chat.render(list, addGenerationPrompt, impl->specialTokens,
                           jinja::Json::object());
}

std::string
Tokenizer::renderChatTemplate(std::string_view messagesJson,
                              bool addGenerationPrompt,
                              std::string_view variablesJson) const {
  jinja::Json messages = parseOrderedJson(messagesJson, "chat messages");
  jinja::Json variables =
      variablesJson.empty()
          ? jinja::Json::object()
          : parseOrderedJson(variablesJson, "chat template variables");
  return impl->chat.render(messages, addGenerationPrompt, impl->specialTokens,
                           variables);
}

void Tokenizer::setChatTemplate(const std::string &source,
                                const std::string &name) {
  impl->chat = ChatTemplate(source, name);
}

void Tokenizer::loadChatTemplateFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path))
    fail("cannot read chat template ", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (utf8::firstInvalid(buffer.str()) != buffer.str().size())
    fail(path, ": the chat template is not valid UTF-8");
  setChatTemplate(buffer.str(), path);
}

const std::string &Tokenizer::chatTemplateName() const {
  return impl->chat.name();
}

StreamDecoder::StreamDecoder(const Tokenizer &tokenizer, bool skipSpecial)
    : tokenizer(&tokenizer), skipSpecial(skipSpecial) {}

std::string StreamDecoder::push(TokenId id) {
  const std::string &tokenBytes = tokenizer->tokenBytes(id);
  std::string text;
  if (skipSpecial && tokenizer->isSpecial(id))
    return text;
  pending += tokenBytes;
  size_t used = utf8::appendLossy(text, pending, /*final=*/false);
  pending.erase(0, used);
  return text;
}

std::string StreamDecoder::flush() {
  std::string text;
  utf8::appendLossy(text, pending, /*final=*/true);
  pending.clear();
  return text;
}

} // namespace moela
