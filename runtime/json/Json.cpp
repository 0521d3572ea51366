//===- Json.cpp - Reading JSON text into nlohmann::json, errors named -----===//
#include "moela/Runtime/Json.h"

#include "moela/Runtime/Error.h"

#include <fstream>
#include <sstream>

namespace moela {

using nlohmann::json;

namespace {

/// nlohmann's DOM builder, but a failure keeps its byte offset: a number
/// that overflows a double is thrown as out_of_range, which carries none.
template <class Json>
class DomParser : public nlohmann::detail::json_sax_dom_parser<Json> {
public:
  explicit DomParser(Json &result)
      : nlohmann::detail::json_sax_dom_parser<Json>(
            result, /*allow_exceptions=*/false) {}

  /// `read` counts the bytes read, up to the culprit's last one.
  template <class Exception>
  bool parse_error(size_t read, const std::string &token, const Exception &ex) {
    // A number that overflows is pointed at from its start.
    constexpr int kNumberOverflow = 406;
    errorOffset = ex.id == kNumberOverflow && read >= token.size()
                      ? read - token.size()
                      : (read > 0 ? read - 1 : 0);
    errorText = ex.what();
    return false;
  }

  size_t errorOffset = 0; // of the byte to name
  std::string errorText;
};

/// "[json.exception.parse_error.101] parse error at line 1, column 2: x"
/// -> "x": the place is said once, in moela's words.
std::string withoutNlohmannPrefix(std::string text) {
  if (text.rfind("[json.exception.", 0) == 0) {
    size_t close = text.find("] ");
    if (close != std::string::npos)
      text.erase(0, close + 2);
  }
  if (text.rfind("parse error", 0) == 0) {
    size_t colon = text.find(": ");
    if (colon != std::string::npos)
      text.erase(0, colon + 2);
  }
  return text;
}

template <class Json>
Json parseAs(std::string_view text, const std::string &source) {
  if (std::string deep = jsonDepthError(text); !deep.empty())
    fail(source, ": ", deep);
  Json result;
  DomParser<Json> dom(result);
  if (!Json::sax_parse(text.begin(), text.end(), &dom)) {
    TextPlace at = textPlace(text, dom.errorOffset);
    fail(source, ": not valid JSON at line ", at.line, ", column ", at.column,
         ": ", withoutNlohmannPrefix(dom.errorText));
  }
  return result;
}

} // namespace

json parseJson(std::string_view text, const std::string &source) {
  return parseAs<json>(text, source);
}

nlohmann::ordered_json parseOrderedJson(std::string_view text,
                                        const std::string &source) {
  return parseAs<nlohmann::ordered_json>(text, source);
}

json readJsonFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot open ", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad())
    fail("cannot read ", path);
  return parseJson(buffer.str(), path);
}

void failJsonType(const std::string &where, const char *expected,
                  const json &found) {
  fail(where, ": expected ", expected, ", found ", found.type_name());
}

const json *jsonField(const json &obj, const char *key) {
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

std::string stringOr(const json &obj, const char *key,
                     const std::string &fallback, const std::string &where) {
  const json *v = jsonField(obj, key);
  if (!v)
    return fallback;
  if (!v->is_string())
    failJsonType(where, "string", *v);
  return v->get<std::string>();
}

bool boolOr(const json &obj, const char *key, bool fallback,
            const std::string &where) {
  const json *v = jsonField(obj, key);
  if (!v)
    return fallback;
  if (!v->is_boolean())
    failJsonType(where, "boolean", *v);
  return v->get<bool>();
}

double numberOr(const json &obj, const char *key, double fallback,
                const std::string &where) {
  const json *v = jsonField(obj, key);
  if (!v)
    return fallback;
  if (!v->is_number())
    failJsonType(where, "number", *v);
  return v->get<double>();
}

} // namespace moela
