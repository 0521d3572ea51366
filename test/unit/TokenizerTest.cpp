//===- TokenizerTest.cpp - The DeepSeek-V3 tokenizer against reference ids ===//
//
// tokenizer_dev.json holds the ids an independent implementation of Hugging
// Face tokenizers produces (without special tokens) and the decoded text;
// every case must match exactly in both directions. Small synthetic
// tokenizer.json files cover the format variants and the error paths.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Tokenizer.h"
#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <thread>
#include <unistd.h>

using moela::ChatMessage;
using moela::StreamDecoder;
using moela::TokenId;
using moela::Tokenizer;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kTokenizerDir =
    std::string(MOELA_SOURCE_DIR) + "/models/tokenizer/deepseek-v3";

const Tokenizer &deepseek() {
  static const Tokenizer tokenizer(kTokenizerDir);
  return tokenizer;
}

json readJson(const std::string &path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << path;
  return json::parse(in);
}

/// Strict UTF-8 check, independent of the implementation under test.
bool isValidUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      n = 1, cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      n = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k) {
      auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static const uint32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < minimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n;
  }
  return true;
}

/// Decodes `ids` one at a time; every chunk must be valid UTF-8.
std::string streamDecode(const Tokenizer &tok,
                         const std::vector<TokenId> &ids) {
  StreamDecoder stream(tok);
  std::string text;
  for (TokenId id : ids) {
    std::string chunk = stream.push(id);
    EXPECT_TRUE(isValidUtf8(chunk)) << "partial UTF-8 after id " << id;
    text += chunk;
  }
  std::string rest = stream.flush();
  EXPECT_TRUE(isValidUtf8(rest));
  return text + rest;
}

std::string utf8Of(char32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

std::string byteLevelSpelling(unsigned char b) {
  // GPT-2's bytes_to_unicode: printable Latin-1 stays, the rest -> U+0100+.
  auto printable = [](unsigned x) {
    return (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
  };
  if (printable(b))
    return utf8Of(b);
  char32_t next = 0x100;
  for (unsigned x = 0; x < b; ++x)
    next += printable(x) ? 0 : 1;
  return utf8Of(next);
}

/// A tiny byte-level tokenizer directory: bytes 0..255 are ids 0..255, then
/// the merges below in rank order, then added tokens "<a>" and "<ab>".
class SyntheticTokenizer : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("moela-tok-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    json vocab = json::object();
    for (unsigned b = 0; b < 256; ++b)
      vocab[byteLevelSpelling(static_cast<unsigned char>(b))] = b;
    int next = 256;
    for (const char *merged : {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor"})
      vocab[merged] = next++;
    root = {{"version", "1.0"},
            {"added_tokens",
             {{{"id", 300}, {"content", "<a>"}, {"special", true}},
              {{"id", 301}, {"content", "<ab>"}, {"special", false}}}},
            {"normalizer", nullptr},
            {"pre_tokenizer",
             {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"},
                 {"pattern", {{"Regex", " ?[A-Za-z]+|\\s+|."}}},
                 {"behavior", "Isolated"},
                 {"invert", false}},
                {{"type", "ByteLevel"},
                 {"add_prefix_space", false},
                 {"use_regex", false}}}}}},
            {"decoder", {{"type", "ByteLevel"}}},
            {"model",
             {{"type", "BPE"},
              {"vocab", vocab},
              {"merges",
               {"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"}}}}};
  }
  void TearDown() override { fs::remove_all(dir); }

  void write(const json &tokenizerJson) {
    std::ofstream(dir / "tokenizer.json") << tokenizerJson.dump();
  }
  std::string message(const json &tokenizerJson) {
    write(tokenizerJson);
    try {
      Tokenizer tok(dir.string());
    } catch (const moela::Error &e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir;
  json root;
};

} // namespace

// ---- DeepSeek-V3 against the reference ids ----------------------------------

TEST(TokenizerTest, DevCasesEncodeExactly) {
  json cases =
      readJson(std::string(MOELA_TEST_DATA) + "/tokenizer/tokenizer_dev.json");
  ASSERT_EQ(cases.size(), 38u);
  for (const json &c : cases) {
    SCOPED_TRACE(c["text"].dump());
    EXPECT_EQ(deepseek().encode(c["text"].get<std::string>()),
              c["ids"].get<std::vector<TokenId>>());
  }
}

TEST(TokenizerTest, DevCasesDecodeExactly) {
  json cases =
      readJson(std::string(MOELA_TEST_DATA) + "/tokenizer/tokenizer_dev.json");
  for (const json &c : cases) {
    SCOPED_TRACE(c["text"].dump());
    auto ids = c["ids"].get<std::vector<TokenId>>();
    const std::string expected = c["decoded"].get<std::string>();
    EXPECT_EQ(deepseek().decode(ids), expected);
    EXPECT_EQ(streamDecode(deepseek(), ids), expected);
  }
}

TEST(TokenizerTest, WhitespaceAsInOniguruma) {
  // Hugging Face's \s (Oniguruma) is Unicode White_Space: it includes U+0085
  // but not U+180E, which PCRE2's \s would match. Ids from Hugging Face
  // tokenizers 0.23.
  EXPECT_EQ(deepseek().encode("a \u180e"),
            (std::vector<TokenId>{67, 223, 115522, 239}));
  EXPECT_EQ(deepseek().encode("tab\u180e\u180e end"),
            (std::vector<TokenId>{14278, 115522, 239, 115522, 239, 1522}));
  EXPECT_EQ(deepseek().encode("x\u0085 y"),
            (std::vector<TokenId>{90, 129, 230, 383}));
  EXPECT_EQ(deepseek().encode("x \u0085y"),
            (std::vector<TokenId>{90, 223, 129, 230, 91}));
}

TEST(TokenizerTest, StreamingHoldsBackSplitCharacters) {
  // Emoji and Hangul come out as byte-level tokens that end inside a UTF-8
  // sequence; the stream must hold those bytes back.
  const std::string text = "emoji 😀🎉👍🏽 and ✨ sparkles 안녕하세요";
  auto ids = deepseek().encode(text);
  size_t partialTokens = 0;
  for (TokenId id : ids)
    partialTokens += isValidUtf8(deepseek().tokenBytes(id)) ? 0 : 1;
  ASSERT_GT(partialTokens, 0u) << "the case no longer splits a character";

  StreamDecoder stream(deepseek());
  std::string out;
  size_t heldBack = 0;
  for (TokenId id : ids) {
    std::string chunk = stream.push(id);
    ASSERT_TRUE(isValidUtf8(chunk));
    heldBack += chunk.empty() ? 1 : 0;
    out += chunk;
    // Everything emitted so far is a prefix of the text.
    ASSERT_EQ(text.compare(0, out.size(), out), 0);
  }
  EXPECT_GT(heldBack, 0u);
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(out, text);
}

TEST(TokenizerTest, StreamFlushReplacesIncompleteSequence) {
  auto ids = deepseek().encode("😀");
  ASSERT_GT(ids.size(), 1u);
  ids.pop_back();
  StreamDecoder stream(deepseek());
  std::string out;
  for (TokenId id : ids)
    out += stream.push(id);
  EXPECT_EQ(out, "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(deepseek().decode(ids), "\xEF\xBF\xBD");
}

TEST(TokenizerTest, AddedTokensInsideText) {
  const Tokenizer &tok = deepseek();
  auto user = tok.addedTokenId("<｜User｜>");
  auto assistant = tok.addedTokenId("<｜Assistant｜>");
  ASSERT_TRUE(user && assistant);
  EXPECT_EQ(*user, 128803);
  EXPECT_EQ(*assistant, 128804);
  EXPECT_FALSE(tok.addedTokenId("<｜Nobody｜>"));

  std::vector<TokenId> expected = tok.encode("Hi there");
  expected.push_back(*user);
  for (TokenId id : tok.encode(" and more"))
    expected.push_back(id);
  expected.push_back(tok.eosId());
  EXPECT_EQ(tok.encode("Hi there<｜User｜> and more<｜end▁of▁sentence｜>"),
            expected);
  // A near miss is ordinary text.
  auto ids = tok.encode("<｜User|>");
  EXPECT_EQ(std::count(ids.begin(), ids.end(), *user), 0);
  EXPECT_EQ(tok.decode(ids), "<｜User|>");
}

TEST(TokenizerTest, BosEosAndVocabulary) {
  const Tokenizer &tok = deepseek();
  EXPECT_EQ(tok.bosId(), 0);
  EXPECT_EQ(tok.eosId(), 1);
  EXPECT_EQ(tok.vocabSize(), 128815);
  auto plain = tok.encode("Hello, world!");
  auto withBos = tok.encode("Hello, world!", /*addBos=*/true);
  ASSERT_EQ(withBos.size(), plain.size() + 1);
  EXPECT_EQ(withBos[0], 0);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), withBos.begin() + 1));
  EXPECT_EQ(tok.encode("", true), std::vector<TokenId>{0});
  // Writing the BOS text gives the BOS id too.
  EXPECT_EQ(tok.encode("<｜begin▁of▁sentence｜>Hello, world!"), withBos);

  EXPECT_EQ(tok.decode(withBos), "<｜begin▁of▁sentence｜>Hello, world!");
  EXPECT_EQ(tok.decode(withBos, /*skipSpecial=*/true), "Hello, world!");
  EXPECT_TRUE(tok.isSpecial(0) && tok.isSpecial(1));
  EXPECT_FALSE(tok.isSpecial(128803)); // <｜User｜> is not "special"
  EXPECT_EQ(tok.decode({128803}, true), "<｜User｜>");
}

TEST(TokenizerTest, ChatTemplateTwoTurnsWithSystemPrompt) {
  const Tokenizer &tok = deepseek();
  std::vector<ChatMessage> messages = {
      {"system", "You are a helpful assistant."},
      {"user", "What is 2+2?"},
      {"assistant", "4"},
      {"system", "Answer briefly."},
      {"user", "And 3+3?"}};
  // Derived by hand from tokenizer_config.json's chat_template: all system
  // prompts first, joined by "\n\n", right after bos_token.
  const std::string expected =
      "<｜begin▁of▁sentence｜>You are a helpful assistant.\n\nAnswer briefly."
      "<｜User｜>What is 2+2?<｜Assistant｜>4<｜end▁of▁sentence｜>"
      "<｜User｜>And 3+3?<｜Assistant｜>";
  EXPECT_EQ(tok.applyChatTemplate(messages, /*addGenerationPrompt=*/true),
            expected);
  EXPECT_EQ(tok.applyChatTemplate(messages, false),
            expected.substr(0, expected.size() -
                                   std::string("<｜Assistant｜>").size()));

  auto ids = tok.encode(expected);
  EXPECT_EQ(ids.front(), tok.bosId());
  EXPECT_EQ(ids.back(), *tok.addedTokenId("<｜Assistant｜>"));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok.eosId()), 1);
  EXPECT_EQ(tok.decode(ids), expected);

  EXPECT_EQ(tok.applyChatTemplate({}, false), "<｜begin▁of▁sentence｜>");
  // The template renders tool outputs and skips roles it does not know,
  // as transformers does.
  EXPECT_EQ(tok.applyChatTemplate({{"tool", "42"}}, false),
            "<｜begin▁of▁sentence｜><｜tool▁outputs▁begin｜><｜tool▁output▁"
            "begin｜>42<｜tool▁output▁end｜><｜tool▁outputs▁end｜>");
  EXPECT_EQ(tok.applyChatTemplate({{"narrator", "x"}}, false),
            "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(tok.chatTemplateName(),
            std::string(MOELA_SOURCE_DIR) +
                "/models/tokenizer/deepseek-v3/tokenizer_config.json: "
                "chat_template");
}

TEST(TokenizerTest, RoundTripsRandomText) {
  // Random mixes of ASCII, Latin, CJK, emoji and whitespace, including
  // added-token text, round-trip through encode and (stream) decode.
  const std::vector<std::string> atoms = {
      "a",  "Z",          " ",   "  ",  "\n",     "\r\n",  "\t",     "7",
      "42", "1234",       ".",   ",",   "'s",     "é",     "ß",      "中",
      "文", "か",         "カ",  "한",  "😀",     "👍🏽",  "\u3000", "—",
      "∑",  "<｜User｜>", "<｜", "｜>", "\u00a0", "\u0085"};
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string text;
    for (int n = rng() % 40; n > 0; --n)
      text += atoms[rng() % atoms.size()];
    SCOPED_TRACE(json(text).dump());
    auto ids = deepseek().encode(text);
    ASSERT_EQ(deepseek().decode(ids), text);
    ASSERT_EQ(streamDecode(deepseek(), ids), text);
  }
}

TEST(TokenizerTest, LongRunsDoNotBreakRegexOrBpe) {
  for (const std::string &unit :
       {std::string(" "), std::string("a"), std::string("\n"), std::string("9"),
        std::string("中")}) {
    std::string text;
    for (int i = 0; i < 200000; ++i)
      text += unit;
    auto ids = deepseek().encode(text);
    EXPECT_LT(ids.size(), text.size());
    EXPECT_EQ(deepseek().decode(ids), text);
  }
}

TEST(TokenizerTest, CacheDoesNotChangeResults) {
  Tokenizer uncached(kTokenizerDir, /*wordCacheEntries=*/0);
  const std::string text =
      "The quick brown fox jumps over the lazy dog. The quick brown fox!";
  EXPECT_EQ(uncached.encode(text), deepseek().encode(text));
  EXPECT_EQ(uncached.encode(text), deepseek().encode(text));
}

TEST(TokenizerTest, ConcurrentEncodeMatchesSerial) {
  Tokenizer tok(kTokenizerDir, /*wordCacheEntries=*/64); // fills up quickly
  std::vector<std::string> texts;
  for (int t = 0; t < 4; ++t) {
    std::string text;
    for (int i = 0; i < 400; ++i)
      text += "word" + std::to_string(i * 7 + t) + " 中文 ok, ";
    texts.push_back(text);
  }
  std::vector<std::vector<TokenId>> serial, parallel(texts.size());
  for (const std::string &text : texts)
    serial.push_back(deepseek().encode(text));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < texts.size(); ++t)
    threads.emplace_back([&, t] { parallel[t] = tok.encode(texts[t]); });
  for (std::thread &th : threads)
    th.join();
  EXPECT_EQ(parallel, serial);
}

// ---- Errors ----------------------------------------------------------------

TEST(TokenizerTest, DecodeRejectsOutOfRangeIds) {
  const Tokenizer &tok = deepseek();
  try {
    tok.decode({19923, 128815});
    FAIL() << "no error";
  } catch (const moela::Error &e) {
    EXPECT_NE(std::string(e.what()).find("128815"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(tok.decode({-1}), moela::Error);
  EXPECT_THROW(tok.tokenBytes(129279), moela::Error);
  StreamDecoder stream(tok);
  EXPECT_THROW(stream.push(200000), moela::Error);
}

TEST(TokenizerTest, EncodeRejectsInvalidUtf8) {
  EXPECT_THROW(deepseek().encode("abc\xff"), moela::Error);
  EXPECT_THROW(deepseek().encode("\xe4\xbd"), moela::Error);
}

TEST(TokenizerTest, MissingDirectory) {
  try {
    Tokenizer tok("/nonexistent/moela-tokenizer");
    FAIL() << "no error";
  } catch (const moela::Error &e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/moela-tokenizer"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(SyntheticTokenizer, MissingTokenizerJson) {
  EXPECT_THROW(Tokenizer(dir.string()), moela::Error);
}

TEST_F(SyntheticTokenizer, MalformedJson) {
  std::ofstream(dir / "tokenizer.json") << "{\"model\": {\"vocab\": ";
  try {
    Tokenizer tok(dir.string());
    FAIL() << "no error";
  } catch (const moela::Error &e) {
    std::string m = e.what();
    EXPECT_NE(m.find("tokenizer.json"), std::string::npos) << m;
    EXPECT_NE(m.find("not valid JSON"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST_F(SyntheticTokenizer, MergesAsStringsOrPairs) {
  write(root);
  Tokenizer fromStrings(dir.string());
  json pairs = json::array();
  for (const json &m : root["model"]["merges"]) {
    std::string s = m.get<std::string>();
    size_t space = s.find(' ');
    pairs.push_back({s.substr(0, space), s.substr(space + 1)});
  }
  root["model"]["merges"] = pairs;
  write(root);
  Tokenizer fromPairs(dir.string());

  // "hello" -> h e l l o -> he ll -> hell -> hello; " world" -> Ġwor l d.
  std::vector<TokenId> expected = {259, 262, 'l', 'd'};
  EXPECT_EQ(fromStrings.encode("hello world"), expected);
  EXPECT_EQ(fromPairs.encode("hello world"), expected);
  EXPECT_EQ(fromPairs.decode(expected), "hello world");
  EXPECT_EQ(fromPairs.vocabSize(), 302);
  // No tokenizer_config.json and no DeepSeek BOS: none.
  EXPECT_EQ(fromPairs.bosId(), -1);
  EXPECT_THROW(fromPairs.encode("x", true), moela::Error);
}

TEST_F(SyntheticTokenizer, AddedTokensLongestMatchFirst) {
  write(root);
  Tokenizer tok(dir.string());
  EXPECT_EQ(tok.encode("<ab><a>b<a"),
            (std::vector<TokenId>{301, 300, 'b', '<', 'a'}));
  EXPECT_EQ(tok.decode({301, 300}, /*skipSpecial=*/true), "<ab>");
}

TEST_F(SyntheticTokenizer, ConfigBosEos) {
  write(root);
  std::ofstream(dir / "tokenizer_config.json")
      << R"({"bos_token": {"content": "<a>"}, "eos_token": "<ab>"})";
  Tokenizer tok(dir.string());
  EXPECT_EQ(tok.bosId(), 300);
  EXPECT_EQ(tok.eosId(), 301);
  EXPECT_EQ(tok.encode("he", true), (std::vector<TokenId>{300, 256}));

  std::ofstream(dir / "tokenizer_config.json") << R"({"bos_token": "<zz>"})";
  EXPECT_THROW(Tokenizer(dir.string()), moela::Error);
}

TEST_F(SyntheticTokenizer, UnsupportedStructuresAreNamed) {
  // Each change to the valid tokenizer.json, and what its error must name.
  struct Case {
    std::function<void(json &)> change;
    std::string error;
  };
  const Case cases[] = {
      {[](json &j) {
         j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
       },
       "pretokenizers[0].behavior"},
      {[](json &j) {
         j["pre_tokenizer"]["pretokenizers"][0]["type"] = "Whitespace";
       },
       "\"Whitespace\" is not supported"},
      {[](json &j) { j["pre_tokenizer"]["pretokenizers"].erase(1); },
       "ByteLevel"},
      {[](json &j) {
         j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(";
       },
       "pattern.Regex"},
      {[](json &j) { j["model"]["type"] = "WordPiece"; }, "model.type"},
      {[](json &j) { j["model"]["merges"][2] = "he zz"; }, "model.merges[2]"},
      {[](json &j) { j["normalizer"] = {{"type", "NFC"}}; }, "normalizer"},
      {[](json &j) { j["model"].erase("vocab"); }, "\"vocab\""},
      {[](json &j) {
         j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
       },
       "\\w is not supported"},
      {[](json &j) {
         j["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = "yes";
       },
       "tokenizer.json: pre_tokenizer.pretokenizers[1].use_regex: expected "
       "boolean, found string"},
      {[](json &j) { j["added_tokens"][0]["lstrip"] = true; },
       "added_tokens[0].lstrip"},
  };
  for (const Case &c : cases) {
    json changed = root;
    c.change(changed);
    const std::string msg = message(changed);
    EXPECT_NE(msg.find(c.error), std::string::npos)
        << "'" << c.error << "' not in: " << msg;
  }
}

// ---- Hostile files: one moela line naming the file and the place
// -------------

/// The error of loading `text` as tokenizer.json.
std::string rawMessage(const fs::path &dir, const std::string &file,
                       const std::string &text) {
  std::ofstream(dir / file) << text;
  try {
    Tokenizer tok(dir.string());
  } catch (const moela::Error &e) {
    return e.what();
  } catch (const std::exception &e) {
    return std::string("not a moela::Error: ") + e.what();
  }
  return "(no error)";
}

TEST_F(SyntheticTokenizer, WrongKindsNameTheFieldPath) {
  json bad = root;
  bad["decoder"]["type"] = 1;
  EXPECT_EQ(message(bad), (dir / "tokenizer.json").string() +
                              ": decoder.type: expected string, found number");
  bad = root;
  bad["added_tokens"][0]["special"] = "yes";
  EXPECT_EQ(message(bad),
            (dir / "tokenizer.json").string() +
                ": added_tokens[0].special: expected boolean, found string");
  bad = root;
  bad["pre_tokenizer"]["pretokenizers"][0]["behavior"] = 5;
  EXPECT_EQ(message(bad), (dir / "tokenizer.json").string() +
                              ": pre_tokenizer.pretokenizers[0].behavior: "
                              "expected string, found number");
  bad = root;
  bad["model"]["ignore_merges"] = json::array();
  EXPECT_EQ(message(bad),
            (dir / "tokenizer.json").string() +
                ": model.ignore_merges: expected boolean, found array");
  bad = root;
  bad["normalizer"] = {{"type", false}};
  EXPECT_EQ(message(bad), (dir / "tokenizer.json").string() +
                              ": normalizer.type: expected string, found "
                              "boolean");
}

TEST_F(SyntheticTokenizer, NumberBeyondADoubleIsMoelasError) {
  std::string text = root.dump();
  text.insert(text.size() - 1, ", \"x\": 1e400");
  EXPECT_EQ(rawMessage(dir, "tokenizer.json", text),
            (dir / "tokenizer.json").string() +
                ": not valid JSON at line 1, "
                "column " +
                std::to_string(text.size() - 5) +
                ": number overflow parsing '1e400'");
  write(root);
  EXPECT_EQ(rawMessage(dir, "tokenizer_config.json",
                       "{\n  \"model_max_length\": -1e999\n}"),
            (dir / "tokenizer_config.json").string() +
                ": not valid JSON at line 2, column 23: number overflow "
                "parsing '-1e999'");
}

TEST_F(SyntheticTokenizer, DeepNestingIsRefusedNotACrash) {
  // Tens of thousands of '[' overflowed the stack of printing the value.
  std::string deep = "{\"model\": {\"type\": " + std::string(100000, '[');
  EXPECT_EQ(rawMessage(dir, "tokenizer.json", deep),
            (dir / "tokenizer.json").string() +
                ": line 1, column 274: arrays and objects nest deeper than "
                "moela's limit of 256 levels");
  write(root);
  EXPECT_NE(rawMessage(dir, "tokenizer_config.json",
                       "{\"bos_token\": " + std::string(50000, '{'))
                .find("nest deeper than moela's limit of 256 levels"),
            std::string::npos);
}

TEST_F(SyntheticTokenizer, ChatMessagesTooDeep) {
  write(root);
  Tokenizer tok(dir.string());
  std::string deep = "[" + std::string(1000, '[');
  try {
    tok.renderChatTemplate(deep, true, "");
    FAIL() << "no error";
  } catch (const moela::Error &e) {
    EXPECT_EQ(std::string(e.what()),
              "chat messages: line 1, column 257: arrays and objects nest "
              "deeper than moela's limit of 256 levels");
  }
}
