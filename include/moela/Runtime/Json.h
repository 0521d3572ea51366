//===- Json.h - Reading JSON text into nlohmann::json, errors named -------===//
//
// Every runtime and tool JSON reader parses through here, so all get the same
// policy: nesting bounded by kJsonMaxDepth (JsonDepth.h), and every failure,
// syntax, a number that overflows a double or a value of the wrong kind, is
// one moela::Error naming the source, the place (line and column, or the
// field path) and what was wrong; never nlohmann's own exception text.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JSON_H
#define MOELA_RUNTIME_JSON_H

#include "moela/Runtime/JsonDepth.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace moela {

/// Parses `text`; fails with "SOURCE: line L, column C: what".
nlohmann::json parseJson(std::string_view text, const std::string &source);
/// The same, keeping the order of object keys (for chat templates).
nlohmann::ordered_json parseOrderedJson(std::string_view text,
                                        const std::string &source);

/// Reads the file at `path` and parses it; `path` is the source in errors.
nlohmann::json readJsonFile(const std::string &path);

/// Fails with "WHERE: expected EXPECTED, found KIND" (KIND as nlohmann names
/// it: "number", "string", "array", ...).
[[noreturn]] void failJsonType(const std::string &where, const char *expected,
                               const nlohmann::json &found);

/// obj[key] when it is present and not null, else nullptr; `obj` must be an
/// object.
const nlohmann::json *jsonField(const nlohmann::json &obj, const char *key);

/// Optional typed fields of `obj`: `fallback` when absent or null, else the
/// value, which must be of the kind; `where` names the field in the error
/// ("tokenizer.json: decoder.type").
std::string stringOr(const nlohmann::json &obj, const char *key,
                     const std::string &fallback, const std::string &where);
bool boolOr(const nlohmann::json &obj, const char *key, bool fallback,
            const std::string &where);
double numberOr(const nlohmann::json &obj, const char *key, double fallback,
                const std::string &where);

} // namespace moela

#endif // MOELA_RUNTIME_JSON_H
