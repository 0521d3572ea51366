//===- Value.h - Values of the Jinja interpreter --------------------------===//
//
// Private to the runtime. A Jinja value is JSON data (what chat templates
// receive: messages, tools, flags), jinja2's Undefined, a namespace(...) whose
// attributes `set ns.x = ...` may change, or a function (a macro or a global
// such as raise_exception). JSON is nlohmann's ordered_json so that mappings
// keep their insertion order, as Python's dicts do (items(), tojson).
// Printing and comparing follow Python: str(True) is "True", str(None) is
// "None", lists print as their repr.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_VALUE_H
#define MOELA_RUNTIME_JINJA_VALUE_H

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace moela::jinja {

using Json = nlohmann::ordered_json;

/// A failure while evaluating; the interpreter prefixes the template's name
/// and the line of the statement or expression that raised it.
class EvalError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Throws EvalError with the streamed concatenation of `parts`.
template <typename... Parts> [[noreturn]] void evalFail(Parts &&...parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw EvalError(os.str());
}

class Value;
/// Positional and keyword arguments of a call.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};
using Function = std::function<Value(CallArgs &)>;

class Value {
public:
  enum class Kind { Undefined, Data, Namespace, Function };

  /// Undefined; `name` says what was looked up, for error messages.
  Value() = default;
  static Value undefined(std::string name);
  Value(Json data)
      : kind_(Kind::Data),
        data_(std::make_shared<const Json>(std::move(data))) {}
  static Value makeNamespace(Json attributes);
  static Value makeFunction(std::string name, Function fn);

  Kind kind() const { return kind_; }
  bool isUndefined() const { return kind_ == Kind::Undefined; }
  bool isData() const { return kind_ == Kind::Data; }
  bool isNamespace() const { return kind_ == Kind::Namespace; }
  bool isFunction() const { return kind_ == Kind::Function; }
  bool isString() const { return isData() && data_->is_string(); }
  bool isNone() const { return isData() && data_->is_null(); }

  /// The JSON data (Data only; Error otherwise, naming the undefined name).
  const Json &data() const;
  /// The namespace's attributes (shared by every copy of it).
  Json &attributes() const { return *ns_; }
  const Function &function() const { return *fn_; }
  /// The variable or expression that made an Undefined, or a function name.
  const std::string &name() const { return name_; }

  /// Python's bool(): false for Undefined, None, False, 0, "", [] and {}.
  bool truthy() const;
  /// Python's str() (Undefined prints as "").
  std::string str() const;
  /// A short type name for messages ("string", "list", "undefined", ...).
  std::string typeName() const;

private:
  Kind kind_ = Kind::Undefined;
  // Shared: values are immutable, and a template reads `messages` many
  // times (messages[loop.index0 - 1] in a loop must not copy them all).
  std::shared_ptr<const Json> data_;
  std::shared_ptr<Json> ns_;
  std::shared_ptr<Function> fn_;
  std::string name_;
};

/// Python's repr() of JSON data: 'text', [1, 'a'], {'k': None}.
std::string pyRepr(const Json &value);
/// Python's str() of JSON data (strings unquoted, the rest as repr).
std::string pyStr(const Json &value);
/// Python's json.dumps(value, ensure_ascii=False, indent=..., separators=...,
/// sort_keys=...), which transformers' tojson filter calls. `indent` < 0
/// means None.
std::string pyJsonDumps(const Json &value, int indent,
                        const std::string &itemSeparator,
                        const std::string &keySeparator, bool sortKeys);

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_VALUE_H
