//===- Value.cpp - Values of the Jinja interpreter ------------------------===//
//
// Python's str(), repr() and json.dumps() of JSON data, since chat templates
// print them (`{{ flag }}` is "True", tojson spaces its separators).
//
//===----------------------------------------------------------------------===//
#include "Value.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace moela::jinja {

Value Value::undefined(std::string name) {
  Value v;
  v.name_ = std::move(name);
  return v;
}

Value Value::makeNamespace(Json attributes) {
  Value v;
  v.kind_ = Kind::Namespace;
  v.ns_ = std::make_shared<Json>(std::move(attributes));
  return v;
}

Value Value::makeFunction(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.fn_ = std::make_shared<Function>(std::move(fn));
  v.name_ = std::move(name);
  return v;
}

const Json &Value::data() const {
  if (kind_ == Kind::Data)
    return *data_;
  if (kind_ == Kind::Undefined)
    evalFail("'", name_.empty() ? "value" : name_, "' is undefined");
  evalFail("a ", typeName(), " is not a value here");
}

bool Value::truthy() const {
  switch (kind_) {
  case Kind::Undefined:
    return false;
  case Kind::Namespace:
  case Kind::Function:
    return true;
  case Kind::Data:
    break;
  }
  switch (data_->type()) {
  case Json::value_t::null:
    return false;
  case Json::value_t::boolean:
    return data_->get<bool>();
  case Json::value_t::number_integer:
  case Json::value_t::number_unsigned:
    return data_->get<int64_t>() != 0;
  case Json::value_t::number_float:
    return data_->get<double>() != 0.0;
  case Json::value_t::string: // json::empty() is false for any string
    return !data_->get_ref<const std::string &>().empty();
  case Json::value_t::array:
  case Json::value_t::object:
    return !data_->empty();
  default:
    return true;
  }
}

std::string Value::str() const {
  switch (kind_) {
  case Kind::Undefined:
    return "";
  case Kind::Namespace:
    return "<Namespace " + pyRepr(*ns_) + ">";
  case Kind::Function:
    return "<function " + name_ + ">";
  case Kind::Data:
    break;
  }
  return pyStr(*data_);
}

std::string Value::typeName() const {
  switch (kind_) {
  case Kind::Undefined:
    return "undefined";
  case Kind::Namespace:
    return "namespace";
  case Kind::Function:
    return "function";
  case Kind::Data:
    break;
  }
  switch (data_->type()) {
  case Json::value_t::null:
    return "none";
  case Json::value_t::boolean:
    return "boolean";
  case Json::value_t::number_integer:
  case Json::value_t::number_unsigned:
    return "integer";
  case Json::value_t::number_float:
    return "float";
  case Json::value_t::string:
    return "string";
  case Json::value_t::array:
    return "list";
  case Json::value_t::object:
    return "mapping";
  default:
    return "value";
  }
}

namespace {

/// Python's repr() of a float: the shortest digits that read back the same,
/// in scientific notation below 1e-4 and from 1e16 on.
std::string floatRepr(double d) {
  if (std::isnan(d))
    return "nan";
  if (std::isinf(d))
    return d < 0 ? "-inf" : "inf";
  char buf[64];
  int precision = 1;
  for (; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*e", precision - 1, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  // buf holds d.ddde[+-]XX; rebuild it the way Python prints it.
  std::string s(buf);
  size_t e = s.find('e');
  int exponent = std::atoi(s.c_str() + e + 1);
  std::string digits;
  bool negative = s[0] == '-';
  for (size_t i = negative ? 1 : 0; i < e; ++i)
    if (s[i] != '.')
      digits += s[i];
  while (digits.size() > 1 && digits.back() == '0')
    digits.pop_back();
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1)
      out += "." + digits.substr(1);
    std::snprintf(buf, sizeof buf, "e%c%02d", exponent < 0 ? '-' : '+',
                  std::abs(exponent));
    return out + buf;
  }
  if (exponent < 0)
    return out + "0." + std::string(-exponent - 1, '0') + digits;
  if (digits.size() <= static_cast<size_t>(exponent) + 1)
    return out + digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  return out + digits.substr(0, exponent + 1) + "." +
         digits.substr(exponent + 1);
}

std::string stringRepr(const std::string &s) {
  bool single =
      s.find('\'') == std::string::npos || s.find('"') != std::string::npos;
  char quote = single ? '\'' : '"';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\' || c == quote) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + quote;
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out + "\"";
}

void dumpJson(const Json &v, int indent, int depth, const std::string &itemSep,
              const std::string &keySep, bool sortKeys, std::string &out) {
  auto newline = [&](int level) {
    if (indent >= 0)
      out += "\n" + std::string(static_cast<size_t>(indent) * level, ' ');
  };
  switch (v.type()) {
  case Json::value_t::null:
    out += "null";
    return;
  case Json::value_t::boolean:
    out += v.get<bool>() ? "true" : "false";
    return;
  case Json::value_t::number_float: {
    double d = v.get<double>();
    out += std::isnan(d)   ? "NaN"
           : std::isinf(d) ? (d < 0 ? "-Infinity" : "Infinity")
                           : floatRepr(d);
    return;
  }
  case Json::value_t::string:
    out += jsonString(v.get_ref<const std::string &>());
    return;
  case Json::value_t::array: {
    if (v.empty()) {
      out += "[]";
      return;
    }
    out += "[";
    bool first = true;
    for (const Json &item : v) {
      if (!first)
        out += itemSep;
      first = false;
      newline(depth + 1);
      dumpJson(item, indent, depth + 1, itemSep, keySep, sortKeys, out);
    }
    newline(depth);
    out += "]";
    return;
  }
  case Json::value_t::object: {
    if (v.empty()) {
      out += "{}";
      return;
    }
    std::vector<std::pair<std::string, const Json *>> entries;
    for (auto it = v.begin(); it != v.end(); ++it)
      entries.emplace_back(it.key(), &it.value());
    if (sortKeys)
      std::stable_sort(entries.begin(), entries.end(),
                       [](auto &a, auto &b) { return a.first < b.first; });
    out += "{";
    bool first = true;
    for (auto &[key, item] : entries) {
      if (!first)
        out += itemSep;
      first = false;
      newline(depth + 1);
      out += jsonString(key) + keySep;
      dumpJson(*item, indent, depth + 1, itemSep, keySep, sortKeys, out);
    }
    newline(depth);
    out += "}";
    return;
  }
  default:
    out += v.dump(); // integers
  }
}

} // namespace

std::string pyRepr(const Json &value) {
  switch (value.type()) {
  case Json::value_t::null:
    return "None";
  case Json::value_t::boolean:
    return value.get<bool>() ? "True" : "False";
  case Json::value_t::number_float:
    return floatRepr(value.get<double>());
  case Json::value_t::string:
    return stringRepr(value.get_ref<const std::string &>());
  case Json::value_t::array: {
    std::string out = "[";
    for (size_t i = 0; i < value.size(); ++i)
      out += (i ? ", " : "") + pyRepr(value[i]);
    return out + "]";
  }
  case Json::value_t::object: {
    std::string out = "{";
    bool first = true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      out += (first ? "" : ", ") + stringRepr(it.key()) + ": " +
             pyRepr(it.value());
      first = false;
    }
    return out + "}";
  }
  default:
    return value.dump();
  }
}

std::string pyStr(const Json &value) {
  if (value.is_string())
    return value.get<std::string>();
  return pyRepr(value);
}

std::string pyJsonDumps(const Json &value, int indent,
                        const std::string &itemSeparator,
                        const std::string &keySeparator, bool sortKeys) {
  std::string out;
  dumpJson(value, indent, 0, itemSeparator, keySeparator, sortKeys, out);
  return out;
}

} // namespace moela::jinja
