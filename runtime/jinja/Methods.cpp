//===- Methods.cpp - Python methods templates call on values -------------===//
//
// transformers renders in an ImmutableSandboxedEnvironment: a template may
// call the methods of str, list and dict, but none that modifies a list or a
// mapping. The same holds here.
//
//===----------------------------------------------------------------------===//
#include "Builtins.h"
#include "Operators.h"
#include "Strings.h"

#include <set>

namespace moela::jinja {

namespace {

std::string stringArgument(CallArgs &args, size_t index, const char *keyword,
                           const std::string &what) {
  Value v = argument(args, index, keyword);
  if (!v.isString())
    evalFail(what, ": expected a string, got ", v.typeName());
  return v.data().get<std::string>();
}

/// The optional `chars`/`sep` argument: null for None or absent.
std::optional<std::string> optionalString(CallArgs &args, size_t index,
                                          const char *keyword,
                                          const std::string &what) {
  Value v = argument(args, index, keyword, Json(nullptr));
  if (v.isNone())
    return std::nullopt;
  if (!v.isString())
    evalFail(what, ": expected a string or None, got ", v.typeName());
  return v.data().get<std::string>();
}

/// startswith/endswith: a string or a list (tuple) of strings.
bool affix(const std::string &s, const Value &arg, bool start,
           const std::string &what) {
  auto test = [&](const Json &p) {
    if (!p.is_string())
      evalFail(what, ": expected a string, got ", Value(p).typeName());
    const std::string &x = p.get_ref<const std::string &>();
    return x.size() <= s.size() &&
           (start ? s.compare(0, x.size(), x) == 0
                  : s.compare(s.size() - x.size(), x.size(), x) == 0);
  };
  const Json &a = arg.data();
  if (a.is_array()) {
    for (const Json &p : a)
      if (test(p))
        return true;
    return false;
  }
  return test(a);
}

Value stringMethod(const std::string &s, const std::string &name,
                   CallArgs &args) {
  const std::string what = "str." + name + "()";
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    checkArgs(what, args, 1);
    auto chars = optionalString(args, 0, nullptr, what);
    return Json(pyStrip(s, chars ? &*chars : nullptr, name != "rstrip",
                        name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    checkArgs(what, args, 2, "sep,maxsplit");
    auto sep = optionalString(args, 0, "sep", what);
    long maxsplit =
        toInteger(argument(args, 1, "maxsplit", Json(-1)), what + " maxsplit");
    return Json(pySplit(s, sep ? &*sep : nullptr, maxsplit, name == "rsplit"));
  }
  if (name == "splitlines") {
    checkArgs(what, args, 1, "keepends");
    bool keep = argument(args, 0, "keepends", Json(false)).truthy();
    Json out = Json::array();
    size_t start = 0;
    while (start < s.size()) {
      size_t nl = s.find_first_of("\r\n", start);
      if (nl == std::string::npos) {
        out.push_back(s.substr(start));
        break;
      }
      size_t end = nl + (s.compare(nl, 2, "\r\n") == 0 ? 2 : 1);
      out.push_back(s.substr(start, (keep ? end : nl) - start));
      start = end;
    }
    return out;
  }
  if (name == "startswith" || name == "endswith") {
    checkArgs(what, args, 1);
    return Json(
        affix(s, argument(args, 0, nullptr), name == "startswith", what));
  }
  if (name == "upper" || name == "lower") {
    checkArgs(what, args, 0);
    return Json(name == "upper" ? asciiUpper(s) : asciiLower(s));
  }
  if (name == "replace") {
    checkArgs(what, args, 3, "count");
    return Json(pyReplace(
        s, stringArgument(args, 0, nullptr, what),
        stringArgument(args, 1, nullptr, what),
        toInteger(argument(args, 2, "count", Json(-1)), what + " count")));
  }
  if (name == "find" || name == "rfind" || name == "count") {
    checkArgs(what, args, 1);
    std::string sub = stringArgument(args, 0, nullptr, what);
    if (name == "count") {
      long n = 0;
      if (sub.empty())
        return Json(codePointCount(s) + 1);
      for (size_t at = s.find(sub); at != std::string::npos;
           at = s.find(sub, at + sub.size()))
        ++n;
      return Json(n);
    }
    size_t at = name == "find" ? s.find(sub) : s.rfind(sub);
    return Json(at == std::string::npos
                    ? -1L
                    : static_cast<long>(codePointCount(s.substr(0, at))));
  }
  if (name == "join") {
    checkArgs(what, args, 1);
    std::string out;
    bool first = true;
    for (const Json &item : iterationItems(argument(args, 0, nullptr))) {
      if (!item.is_string())
        evalFail(what, ": expected strings, got ", Value(item).typeName());
      out += (first ? "" : s) + item.get<std::string>();
      first = false;
    }
    return Json(out);
  }
  if (name == "title" || name == "capitalize") {
    CallArgs none;
    return applyFilter(name, Value(Json(s)), none);
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace" ||
      name == "isalnum") {
    checkArgs(what, args, 0);
    if (s.empty())
      return Json(false);
    for (const std::string &c : codePoints(s)) {
      unsigned char b = c[0];
      bool ok = name == "isspace"   ? isPySpace(c)
                : c.size() > 1      ? name != "isdigit" // letters, roughly
                : name == "isdigit" ? std::isdigit(b) != 0
                : name == "isalpha" ? std::isalpha(b) != 0
                                    : std::isalnum(b) != 0;
      if (!ok)
        return Json(false);
    }
    return Json(true);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    checkArgs(what, args, 1);
    std::string affixText = stringArgument(args, 0, nullptr, what);
    if (name == "removeprefix" &&
        s.compare(0, affixText.size(), affixText) == 0)
      return Json(s.substr(affixText.size()));
    if (name == "removesuffix" && affixText.size() <= s.size() &&
        s.compare(s.size() - affixText.size(), affixText.size(), affixText) ==
            0)
      return Json(s.substr(0, s.size() - affixText.size()));
    return Json(s);
  }
  evalFail("unknown string method '", name, "'");
}

Value mappingMethod(const Json &d, const std::string &name, CallArgs &args) {
  const std::string what = "dict." + name + "()";
  if (name == "items" || name == "keys" || name == "values") {
    checkArgs(what, args, 0);
    Json out = Json::array();
    for (auto it = d.begin(); it != d.end(); ++it)
      out.push_back(name == "items"  ? Json::array({it.key(), it.value()})
                    : name == "keys" ? Json(it.key())
                                     : it.value());
    return out;
  }
  if (name == "get") {
    checkArgs(what, args, 2);
    Value key = argument(args, 0, nullptr);
    Value fallback = argument(args, 1, nullptr, Json(nullptr));
    if (!key.isString())
      return fallback;
    auto it = d.find(key.data().get<std::string>());
    return it == d.end() ? fallback : Value(*it);
  }
  evalFail("unknown mapping method '", name, "'");
}

Value listMethod(const Json &d, const std::string &name, CallArgs &args) {
  const std::string what = "list." + name + "()";
  if (name == "index" || name == "count") {
    checkArgs(what, args, 1);
    Value item = argument(args, 0, nullptr);
    long n = 0;
    for (size_t i = 0; i < d.size(); ++i) {
      if (!pyEquals(Value(d[i]), item))
        continue;
      if (name == "index")
        return Json(static_cast<long>(i));
      ++n;
    }
    if (name == "index")
      evalFail(what, ": ", item.str(), " is not in the list");
    return Json(n);
  }
  evalFail("unknown list method '", name, "'");
}

} // namespace

std::optional<Value> callMethod(const Value &object, const std::string &name,
                                CallArgs &args) {
  if (!object.isData())
    return std::nullopt;
  static const std::set<std::string> mutating = {
      "append", "extend", "insert",     "pop",     "remove", "clear",
      "update", "sort",   "setdefault", "popitem", "reverse"};
  const Json &d = object.data();
  if ((d.is_array() || d.is_object()) && mutating.count(name))
    evalFail("cannot call .", name, "() on a ", object.typeName(),
             ": templates may not modify values (transformers renders in an "
             "immutable sandbox)");
  if (d.is_string())
    return stringMethod(d.get_ref<const std::string &>(), name, args);
  if (d.is_object()) {
    if (d.contains(name))
      return std::nullopt; // a key holding a value, called below
    return mappingMethod(d, name, args);
  }
  if (d.is_array())
    return listMethod(d, name, args);
  return std::nullopt;
}

} // namespace moela::jinja
