//===- Filters.cpp - Jinja's filters --------------------------------------===//
//
// jinja2's built-in filters as chat templates use them, and transformers'
// tojson (json.dumps with ensure_ascii=False: no HTML escaping, spaced
// separators unless indented).
//
//===----------------------------------------------------------------------===//
#include "Builtins.h"
#include "Operators.h"
#include "Strings.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace moela::jinja {

Value argument(CallArgs &args, size_t index, const char *keyword,
               Value fallback) {
  if (index < args.positional.size())
    return args.positional[index];
  if (keyword)
    for (auto &[key, value] : args.keyword)
      if (key == keyword)
        return value;
  return fallback;
}

void checkArgs(const std::string &what, const CallArgs &args, size_t count,
               const std::string &keywords) {
  if (args.positional.size() > count)
    evalFail(what, " takes at most ", count, " positional argument",
             count == 1 ? "" : "s", ", got ", args.positional.size());
  for (auto &[key, value] : args.keyword)
    if (("," + keywords + ",").find("," + key + ",") == std::string::npos)
      evalFail(what, " got an unexpected keyword argument '", key, "'");
}

namespace {

std::string stringArg(CallArgs &args, size_t index, const char *keyword,
                      const std::string &what) {
  Value v = argument(args, index, keyword);
  if (!v.isString())
    evalFail(what, ": expected a string argument, got ", v.typeName());
  return v.data().get<std::string>();
}

Value toJson(const Value &subject, CallArgs &args) {
  checkArgs("tojson", args, 4, "ensure_ascii,indent,separators,sort_keys");
  if (argument(args, 0, "ensure_ascii", Json(false)).truthy())
    evalFail("tojson: ensure_ascii=True is not supported");
  Value indent = argument(args, 1, "indent", Json(nullptr));
  int width = -1;
  if (!indent.isNone())
    width = static_cast<int>(toInteger(indent, "tojson indent"));
  std::string itemSep = width >= 0 ? "," : ", ", keySep = ": ";
  Value separators = argument(args, 2, "separators", Json(nullptr));
  if (!separators.isNone()) {
    const Json &s = separators.data();
    if (!s.is_array() || s.size() != 2 || !s[0].is_string() ||
        !s[1].is_string())
      evalFail("tojson: separators must be a pair of strings");
    itemSep = s[0].get<std::string>();
    keySep = s[1].get<std::string>();
  }
  bool sortKeys = argument(args, 3, "sort_keys", Json(false)).truthy();
  if (subject.isNamespace())
    return Json(
        pyJsonDumps(subject.attributes(), width, itemSep, keySep, sortKeys));
  return Json(pyJsonDumps(subject.data(), width, itemSep, keySep, sortKeys));
}

/// The attribute path "a.b" (or an index) of `item`, as jinja2's
/// make_attrgetter reads it.
Value attributePath(const Value &item, const Value &path) {
  if (!path.isString())
    return subscript(item, path, "attribute");
  Value v = item;
  std::string p = path.data().get<std::string>();
  size_t start = 0;
  while (true) {
    size_t dot = p.find('.', start);
    std::string part = p.substr(start, dot - start);
    bool numeric = !part.empty() && part.size() < 10 &&
                   std::all_of(part.begin(), part.end(), ::isdigit);
    if (v.isUndefined())
      return v;
    v = numeric ? subscript(v, Json(std::stol(part)), part)
                : subscript(v, Json(part), part);
    if (dot == std::string::npos)
      return v;
    start = dot + 1;
  }
}

/// select / reject / selectattr / rejectattr.
Value selectItems(const std::string &name, const Value &subject,
                  CallArgs &args) {
  const bool byAttribute = name == "selectattr" || name == "rejectattr";
  const bool keep = name == "select" || name == "selectattr";
  size_t first = byAttribute ? 1 : 0;
  Value attr = byAttribute ? argument(args, 0, nullptr) : Value();
  std::string test;
  CallArgs testArgs;
  if (args.positional.size() > first) {
    Value t = args.positional[first];
    if (!t.isString())
      evalFail(name, ": the test name must be a string");
    test = t.data().get<std::string>();
    testArgs.positional.assign(args.positional.begin() + first + 1,
                               args.positional.end());
  }
  Json out = Json::array();
  for (const Json &item : iterationItems(subject)) {
    Value v = byAttribute ? attributePath(Value(item), attr) : Value(item);
    bool passed = test.empty() ? v.truthy() : applyTest(test, v, testArgs);
    if (passed == keep)
      out.push_back(item);
  }
  return out;
}

Value mapItems(const Value &subject, CallArgs &args) {
  Json out = Json::array();
  Value attr = argument(args, 99, "attribute");
  if (!attr.isUndefined()) {
    Value fallback = argument(args, 99, "default");
    for (const Json &item : iterationItems(subject)) {
      Value v = attributePath(Value(item), attr);
      if (v.isUndefined() && !fallback.isUndefined())
        v = fallback;
      out.push_back(v.data());
    }
    return out;
  }
  Value filter = argument(args, 0, nullptr);
  if (!filter.isString())
    evalFail("map: expected a filter name or attribute=");
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const Json &item : iterationItems(subject)) {
    CallArgs copy = rest;
    out.push_back(
        applyFilter(filter.data().get<std::string>(), Value(item), copy)
            .data());
  }
  return out;
}

std::string capitalize(const std::string &s) {
  std::string lower = asciiLower(s);
  if (!lower.empty())
    lower[0] =
        static_cast<char>(std::toupper(static_cast<unsigned char>(lower[0])));
  return lower;
}

std::string title(const std::string &s) {
  std::string out = s;
  bool start = true;
  for (char &c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
      start = false;
    } else {
      start = !std::isalnum(u) && u < 0x80;
    }
  }
  return out;
}

Value sortItems(const Value &subject, CallArgs &args) {
  checkArgs("sort", args, 3, "reverse,case_sensitive,attribute");
  bool reverse = argument(args, 0, "reverse", Json(false)).truthy();
  bool caseSensitive =
      argument(args, 1, "case_sensitive", Json(false)).truthy();
  Value attr = argument(args, 2, "attribute");
  Json items = iterationItems(subject);
  auto key = [&](const Json &item) {
    Json k =
        attr.isUndefined() ? item : attributePath(Value(item), attr).data();
    if (k.is_string() && !caseSensitive)
      k = asciiLower(k.get<std::string>());
    return k;
  };
  std::vector<Json> sorted(items.begin(), items.end());
  std::stable_sort(
      sorted.begin(), sorted.end(), [&](const Json &a, const Json &b) {
        return reverse ? pyLess(key(b), key(a)) : pyLess(key(a), key(b));
      });
  return Json(sorted);
}

std::string htmlEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&#34;";
      break;
    case '\'':
      out += "&#39;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

} // namespace

Value applyFilter(const std::string &name, const Value &subject,
                  CallArgs &args) {
  if (name == "length" || name == "count") {
    checkArgs(name, args, 0);
    if (subject.isUndefined())
      return Json(0);
    if (subject.isNamespace())
      evalFail(name, ": a namespace has no length");
    const Json &d = subject.data();
    if (d.is_string())
      return Json(codePointCount(d.get_ref<const std::string &>()));
    if (d.is_array() || d.is_object())
      return Json(d.size());
    evalFail(name, ": a ", subject.typeName(), " has no length");
  }
  if (name == "tojson")
    return toJson(subject, args);
  if (name == "string") {
    checkArgs(name, args, 0);
    return Json(subject.str());
  }
  if (name == "safe") {
    checkArgs(name, args, 0);
    return subject;
  }
  if (name == "escape" || name == "e") {
    checkArgs(name, args, 0);
    return Json(htmlEscape(subject.str()));
  }
  if (name == "default" || name == "d") {
    checkArgs(name, args, 2, "default_value,boolean");
    Value fallback = argument(args, 0, "default_value", Json(""));
    bool boolean = argument(args, 1, "boolean", Json(false)).truthy();
    if (subject.isUndefined() || (boolean && !subject.truthy()))
      return fallback;
    return subject;
  }
  if (name == "items") {
    checkArgs(name, args, 0);
    Json out = Json::array();
    if (subject.isUndefined())
      return out;
    const Json &d =
        subject.isNamespace() ? subject.attributes() : subject.data();
    if (!d.is_object())
      evalFail("items: expected a mapping, got ", subject.typeName());
    for (auto it = d.begin(); it != d.end(); ++it)
      out.push_back(Json::array({it.key(), it.value()}));
    return out;
  }
  if (name == "list") {
    checkArgs(name, args, 0);
    return iterationItems(subject);
  }
  if (name == "first" || name == "last") {
    checkArgs(name, args, 0);
    Json items = iterationItems(subject);
    if (items.empty())
      return Value::undefined(name + " of an empty sequence");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    checkArgs(name, args, 0);
    Json items = iterationItems(subject);
    std::reverse(items.begin(), items.end());
    if (subject.isString()) {
      std::string s;
      for (const Json &c : items)
        s += c.get<std::string>();
      return Json(s);
    }
    return items;
  }
  if (name == "join") {
    checkArgs(name, args, 2, "d,attribute");
    Value sep = argument(args, 0, "d", Json(""));
    Value attr = argument(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Json &item : iterationItems(subject)) {
      if (!first)
        out += sep.str();
      first = false;
      out += attr.isUndefined() ? pyStr(item)
                                : attributePath(Value(item), attr).str();
    }
    return Json(out);
  }
  if (name == "select" || name == "reject" || name == "selectattr" ||
      name == "rejectattr")
    return selectItems(name, subject, args);
  if (name == "map")
    return mapItems(subject, args);
  if (name == "sort")
    return sortItems(subject, args);
  if (name == "unique") {
    Json out = Json::array();
    for (const Json &item : iterationItems(subject)) {
      bool seen = false;
      for (const Json &o : out)
        seen = seen || pyEquals(Value(o), Value(item));
      if (!seen)
        out.push_back(item);
    }
    return out;
  }
  if (name == "sum" || name == "min" || name == "max") {
    checkArgs(name, args, 2, "attribute,start");
    Json items = iterationItems(subject);
    if (name == "sum") {
      Value total = argument(args, 99, "start", Json(0));
      for (const Json &item : items)
        total = binaryOp("+", total, Value(item));
      return total;
    }
    if (items.empty())
      return Value::undefined(name + " of an empty sequence");
    Json best = items[0];
    for (const Json &item : items)
      if (name == "min" ? pyLess(item, best) : pyLess(best, item))
        best = item;
    return best;
  }
  if (name == "abs") {
    const Json &d = subject.data();
    if (d.is_number_float())
      return Json(std::fabs(d.get<double>()));
    return Json(std::llabs(toInteger(subject, "abs")));
  }
  if (name == "int" || name == "float") {
    checkArgs(name, args, 1, "default");
    Value fallback =
        argument(args, 0, "default", name == "int" ? Json(0) : Json(0.0));
    if (!subject.isData())
      return fallback;
    const Json &d = subject.data();
    try {
      if (d.is_number() || d.is_boolean()) {
        double x = d.is_boolean() ? d.get<bool>() : d.get<double>();
        return name == "int" ? Json(static_cast<int64_t>(x)) : Json(x);
      }
      if (d.is_string()) {
        std::string s = pyStrip(d.get<std::string>(), nullptr, true, true);
        size_t used = 0;
        Json out = name == "int" ? Json(std::stoll(s, &used))
                                 : Json(std::stod(s, &used));
        if (used == s.size())
          return out;
      }
    } catch (const std::exception &) {
    }
    return fallback;
  }
  if (name == "attr") {
    return attribute(subject, stringArg(args, 0, "name", "attr"), "attr");
  }
  if (subject.isUndefined() &&
      (name == "trim" || name == "upper" || name == "lower" ||
       name == "capitalize" || name == "title" || name == "replace" ||
       name == "indent"))
    return Json(""); // jinja2 stringifies Undefined
  if (name == "trim") {
    checkArgs(name, args, 1, "chars");
    Value chars = argument(args, 0, "chars");
    std::string set = chars.isString() ? chars.data().get<std::string>() : "";
    return Json(
        pyStrip(subject.str(), chars.isString() ? &set : nullptr, true, true));
  }
  if (name == "upper" || name == "lower") {
    checkArgs(name, args, 0);
    return Json(name == "upper" ? asciiUpper(subject.str())
                                : asciiLower(subject.str()));
  }
  if (name == "capitalize")
    return Json(capitalize(subject.str()));
  if (name == "title")
    return Json(title(subject.str()));
  if (name == "replace") {
    checkArgs(name, args, 3, "old,new,count");
    Value count = argument(args, 2, "count", Json(nullptr));
    return Json(pyReplace(subject.str(), stringArg(args, 0, "old", name),
                          stringArg(args, 1, "new", name),
                          count.isNone() ? -1 : toInteger(count, "count")));
  }
  if (name == "indent") {
    checkArgs(name, args, 3, "width,first,blank");
    Value width = argument(args, 0, "width", Json(4));
    std::string pad = width.isString()
                          ? width.data().get<std::string>()
                          : std::string(toInteger(width, "width"), ' ');
    bool first = argument(args, 1, "first", Json(false)).truthy();
    bool blank = argument(args, 2, "blank", Json(false)).truthy();
    std::string text = subject.str(), out;
    size_t start = 0;
    bool firstLine = true;
    while (true) {
      size_t nl = text.find('\n', start);
      std::string line = text.substr(start, nl - start);
      if ((firstLine ? first : true) && (blank || !line.empty()))
        out += pad;
      out += line;
      if (nl == std::string::npos)
        break;
      out += "\n";
      start = nl + 1;
      firstLine = false;
    }
    return Json(out);
  }
  evalFail("unknown filter '", name, "'");
}

} // namespace moela::jinja
