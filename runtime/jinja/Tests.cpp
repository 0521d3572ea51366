//===- Tests.cpp - Jinja's tests and the globals transformers provides ----===//
//
// Tests as jinja2 defines them (`x is mapping`, `x is none`, ...); `string`
// and `mapping` hold for JSON strings and objects, `iterable` for strings,
// lists and mappings. Globals: namespace, range, dict, raise_exception and
// strftime_now, which transformers adds for chat templates.
//
//===----------------------------------------------------------------------===//
#include "Builtins.h"
#include "Operators.h"

#include <ctime>
#include <set>

namespace moela::jinja {

bool isTest(const std::string &name) {
  static const std::set<std::string> names = {
      "defined",  "undefined", "none",        "boolean",  "true",    "false",
      "integer",  "float",     "number",      "string",   "mapping", "iterable",
      "sequence", "callable",  "eq",          "equalto",  "==",      "ne",
      "!=",       "lt",        "<",           "lessthan", "le",      "<=",
      "gt",       ">",         "greaterthan", "ge",       ">=",      "in",
      "odd",      "even",      "divisibleby", "lower",    "upper",   "sameas",
      "escaped",  "filter",    "test"};
  return names.count(name) != 0;
}

bool applyTest(const std::string &name, const Value &v, CallArgs &args) {
  if (name == "defined")
    return !v.isUndefined();
  if (name == "undefined")
    return v.isUndefined();
  if (name == "callable")
    return v.isFunction();
  if (name == "escaped")
    return false;
  if (name == "filter" || name == "test")
    evalFail("the '", name, "' test is not supported");
  if (!v.isData()) {
    if (name == "iterable" || name == "sequence" || name == "none" ||
        name == "string" || name == "mapping" || name == "number" ||
        name == "integer" || name == "float" || name == "boolean" ||
        name == "true" || name == "false" || name == "lower" || name == "upper")
      return false;
    if (name == "ne" || name == "!=")
      return !pyEquals(v, argument(args, 0, nullptr));
    if (name == "eq" || name == "equalto" || name == "==" || name == "sameas")
      return pyEquals(v, argument(args, 0, nullptr));
    if (v.isUndefined())
      evalFail("'", v.name(), "' is undefined (is ", name, ")");
  }
  const Json &d = v.data();
  if (name == "none")
    return d.is_null();
  if (name == "boolean")
    return d.is_boolean();
  if (name == "true")
    return d.is_boolean() && d.get<bool>();
  if (name == "false")
    return d.is_boolean() && !d.get<bool>();
  if (name == "integer")
    return d.is_number_integer();
  if (name == "float")
    return d.is_number_float();
  if (name == "number")
    return d.is_number();
  if (name == "string")
    return d.is_string();
  if (name == "mapping")
    return d.is_object();
  if (name == "iterable" || name == "sequence")
    return d.is_string() || d.is_array() || d.is_object();
  if (name == "lower" || name == "upper") {
    if (!d.is_string())
      return false;
    const std::string &s = d.get_ref<const std::string &>();
    bool cased = false;
    for (char c : s) {
      if (name == "lower" ? std::isupper(static_cast<unsigned char>(c))
                          : std::islower(static_cast<unsigned char>(c)))
        return false;
      cased = cased || std::isalpha(static_cast<unsigned char>(c));
    }
    return cased;
  }
  Value other = argument(args, 0, nullptr);
  if (name == "eq" || name == "equalto" || name == "==")
    return pyEquals(v, other);
  if (name == "sameas") // `is` identity: only None, True and False are safe
    return pyEquals(v, other) && (d.is_null() || d.is_boolean());
  if (name == "ne" || name == "!=")
    return !pyEquals(v, other);
  if (name == "lt" || name == "<" || name == "lessthan")
    return pyLess(d, other.data());
  if (name == "gt" || name == ">" || name == "greaterthan")
    return pyLess(other.data(), d);
  if (name == "le" || name == "<=")
    return !pyLess(other.data(), d);
  if (name == "ge" || name == ">=")
    return !pyLess(d, other.data());
  if (name == "in")
    return pyContains(other, v);
  if (name == "odd" || name == "even") {
    long n = toInteger(v, "is " + name);
    return (n % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    long by = toInteger(other, "divisibleby's argument");
    if (by == 0)
      evalFail("divisibleby 0");
    return toInteger(v, "is divisibleby") % by == 0;
  }
  evalFail("unknown test '", name, "'");
}

namespace {

Value range(CallArgs &args) {
  checkArgs("range", args, 3);
  if (args.positional.empty())
    evalFail("range expected at least 1 argument, got 0");
  long start = 0, stop, step = 1;
  if (args.positional.size() == 1) {
    stop = toInteger(args.positional[0], "range's argument");
  } else {
    start = toInteger(args.positional[0], "range's start");
    stop = toInteger(args.positional[1], "range's stop");
    if (args.positional.size() == 3)
      step = toInteger(args.positional[2], "range's step");
  }
  if (step == 0)
    evalFail("range() arg 3 must not be zero");
  Json out = Json::array();
  for (long i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (out.size() >= 100000) // the sandbox's MAX_RANGE
      evalFail("range too big (more than 100000 items)");
    out.push_back(i);
  }
  return out;
}

Value keywordsObject(const std::string &what, CallArgs &args) {
  Json attrs = Json::object();
  for (const Value &positional : args.positional) {
    if (!positional.isData() || !positional.data().is_object())
      evalFail(what, ": positional arguments must be mappings");
    for (auto it = positional.data().begin(); it != positional.data().end();
         ++it)
      attrs[it.key()] = it.value();
  }
  for (auto &[key, value] : args.keyword)
    attrs[key] = value.isNamespace() ? value.attributes() : value.data();
  return Json(attrs);
}

} // namespace

Value globalFunction(const std::string &name) {
  if (name == "range")
    return Value::makeFunction(name, range);
  if (name == "namespace")
    return Value::makeFunction(name, [](CallArgs &args) {
      return Value::makeNamespace(keywordsObject("namespace", args).data());
    });
  if (name == "dict")
    return Value::makeFunction(
        name, [](CallArgs &args) { return keywordsObject("dict", args); });
  if (name == "raise_exception")
    return Value::makeFunction(name, [](CallArgs &args) -> Value {
      throw RaisedError(argument(args, 0, nullptr).str());
    });
  if (name == "strftime_now")
    return Value::makeFunction(name, [](CallArgs &args) {
      checkArgs("strftime_now", args, 1);
      Value format = argument(args, 0, nullptr);
      if (!format.isString())
        evalFail("strftime_now: expected a format string");
      std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buf[256];
      size_t n = std::strftime(
          buf, sizeof buf, format.data().get<std::string>().c_str(), &local);
      return Value(Json(std::string(buf, n)));
    });
  return Value::undefined(name);
}

} // namespace moela::jinja
