//===- PreTokenizer.cpp - Regex splitting before BPE ----------------------===//
#include "PreTokenizer.h"

#include "Utf8.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace moela {

using nlohmann::json;

namespace {

/// GPT-2's split regex, which ByteLevel applies when its use_regex is true.
constexpr const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char *>(buffer);
}

/// Translates an Oniguruma (Ruby syntax) pattern into PCRE2 where the two
/// disagree on the escapes byte-level BPE files use. Onig's Unicode \s is
/// the White_Space property, while PCRE2's also matches U+180E; onig's \h is
/// a hex digit, PCRE2's horizontal space. Unicode properties say exactly the
/// same thing in both syntaxes, inside and outside brackets. \w (and \b,
/// which depends on it) include marks in onig but not in PCRE2 10.42, so
/// patterns using them are rejected rather than split differently.
std::string translateOniguruma(const std::string &pattern,
                               const std::string &where) {
  std::string out;
  out.reserve(pattern.size() + 32);
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '\\' || i + 1 == pattern.size()) {
      out += c;
      continue;
    }
    char e = pattern[++i];
    switch (e) {
    case 's':
      out += "\\p{White_Space}";
      break;
    case 'S':
      out += "\\P{White_Space}";
      break;
    case 'h':
      out += "\\p{ASCII_Hex_Digit}";
      break;
    case 'H':
      out += "\\P{ASCII_Hex_Digit}";
      break;
    case 'w':
    case 'W':
    case 'b':
    case 'B':
      fail(where, ": \\", e,
           " is not supported (its Oniguruma meaning differs from PCRE2's)");
    default:
      out += c;
      out += e;
    }
  }
  return out;
}

/// Reads a boolean field that must have `expected` (or be absent).
void requireFlag(const json &spec, const char *key, bool expected,
                 const std::string &where) {
  auto it = spec.find(key);
  if (it == spec.end() || it->is_null())
    return;
  if (!it->is_boolean() || it->get<bool>() != expected)
    fail(where, ".", key, ": only ", expected ? "true" : "false",
         " is supported, got ", it->dump());
}

} // namespace

/// One compiled split pattern.
class PreTokenizer::Regex {
public:
  Regex(const std::string &pattern, bool literal, const std::string &where)
      : where(where) {
    int code;
    PCRE2_SIZE offset;
    uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
    re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                       pattern.size(), options, &code, &offset, nullptr);
    if (!re)
      fail(where, ": cannot compile regex at offset ", offset, ": ",
           pcre2Message(code));
    // JIT is an optimisation only: without it pcre2_match interprets.
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  }
  ~Regex() { pcre2_code_free(re); }
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;

  /// Finds the first match in `text` at or after byte `from`; sets [start,
  /// end). The caller guarantees valid UTF-8 and a character boundary.
  bool find(std::string_view text, size_t from, pcre2_match_data *md,
            size_t &start, size_t &end) const {
    auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    int rc = pcre2_match(re, subject, text.size(), from, PCRE2_NO_UTF_CHECK, md,
                         nullptr);
    // The JIT's machine stack is small; the interpreter uses the heap.
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
      rc = pcre2_match(re, subject, text.size(), from,
                       PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
      return false;
    if (rc < 0)
      fail(where, ": regex match failed: ", pcre2Message(rc));
    const PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(md);
    start = ovector[0];
    end = ovector[1];
    return true;
  }

private:
  pcre2_code *re = nullptr;
  std::string where;
};

struct PreTokenizer::Scratch {
  pcre2_match_data *md = pcre2_match_data_create(1, nullptr);
  Scratch() {
    if (!md)
      throw std::bad_alloc();
  }
  ~Scratch() { pcre2_match_data_free(md); }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer &&) noexcept = default;
PreTokenizer &PreTokenizer::operator=(PreTokenizer &&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

size_t PreTokenizer::numSteps() const { return steps.size(); }

PreTokenizer PreTokenizer::fromJson(const json &spec, const std::string &file) {
  PreTokenizer result;
  std::vector<std::pair<const json *, std::string>> items;
  const std::string root = file + ": pre_tokenizer";
  if (spec.is_object() &&
      stringOr(spec, "type", "", root + ".type") == "Sequence") {
    auto list = spec.find("pretokenizers");
    if (list == spec.end() || !list->is_array())
      fail(root, ".pretokenizers: expected an array");
    for (size_t i = 0; i < list->size(); ++i)
      items.emplace_back(&(*list)[i],
                         root + ".pretokenizers[" + std::to_string(i) + "]");
  } else if (!spec.is_null()) {
    items.emplace_back(&spec, root);
  }

  // Byte-level BPE needs the ByteLevel step, and last: a Split after it
  // would see the byte alphabet rather than the text.
  bool sawByteLevel = false;
  for (const auto &[item, where] : items) {
    if (!item->is_object() || !item->contains("type") ||
        !(*item)["type"].is_string())
      fail(where, ": expected an object with a string \"type\"");
    std::string type = (*item)["type"].get<std::string>();
    if (sawByteLevel)
      fail(where, ": \"", type,
           "\" after ByteLevel is not supported (ByteLevel must be last)");
    if (type == "Split") {
      std::string behavior =
          stringOr(*item, "behavior", "", where + ".behavior");
      if (behavior != "Isolated")
        fail(where, ".behavior: \"", behavior,
             "\" is not supported (only \"Isolated\")");
      requireFlag(*item, "invert", false, where);
      auto pattern = item->find("pattern");
      if (pattern == item->end() || !pattern->is_object())
        fail(where, ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
      if (pattern->contains("Regex") && (*pattern)["Regex"].is_string())
        result.steps.push_back(std::make_unique<Regex>(
            translateOniguruma((*pattern)["Regex"].get<std::string>(),
                               where + ".pattern.Regex"),
            false, where + ".pattern.Regex"));
      else if (pattern->contains("String") && (*pattern)["String"].is_string())
        result.steps.push_back(
            std::make_unique<Regex>((*pattern)["String"].get<std::string>(),
                                    true, where + ".pattern.String"));
      else
        fail(where, ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    } else if (type == "ByteLevel") {
      // A prefix space would have to be added to every piece; no DeepSeek
      // file uses it.
      requireFlag(*item, "add_prefix_space", false, where);
      if (boolOr(*item, "use_regex", true, where + ".use_regex"))
        result.steps.push_back(
            std::make_unique<Regex>(translateOniguruma(kGpt2Pattern, where),
                                    false, where + ".use_regex"));
      sawByteLevel = true;
    } else {
      fail(where, ".type: \"", type,
           "\" is not supported (only Split, ByteLevel and Sequence)");
    }
  }
  if (!sawByteLevel)
    fail(root, ": no ByteLevel pre-tokenizer (only byte-level BPE is "
               "supported)");
  return result;
}

void PreTokenizer::split(std::string_view text,
                         std::vector<std::string_view> &pieces) const {
  Scratch scratch;
  splitFrom(0, text, scratch, pieces);
}

void PreTokenizer::splitFrom(size_t step, std::string_view text,
                             Scratch &scratch,
                             std::vector<std::string_view> &pieces) const {
  if (text.empty())
    return;
  if (step == steps.size()) {
    pieces.push_back(text);
    return;
  }
  // "Isolated": matches and the gaps between them both become pieces.
  const Regex &re = *steps[step];
  size_t prev = 0, from = 0, start, end;
  while (from < text.size() && re.find(text, from, scratch.md, start, end)) {
    if (start > prev)
      splitFrom(step + 1, text.substr(prev, start - prev), scratch, pieces);
    if (end > start) {
      splitFrom(step + 1, text.substr(start, end - start), scratch, pieces);
      from = end;
    } else {
      // An empty match splits here; step over one character to go on.
      if (start == text.size())
        break;
      from =
          start + utf8::sequenceLength(static_cast<unsigned char>(text[start]));
    }
    prev = end;
  }
  if (prev < text.size())
    splitFrom(step + 1, text.substr(prev), scratch, pieces);
}

} // namespace moela
