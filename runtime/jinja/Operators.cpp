//===- Operators.cpp - Python semantics of Jinja's operators --------------===//
//
// Undefined takes part only where jinja2's Undefined allows it: printing, ~,
// truthiness, ==, != and iteration; any other use names the undefined
// variable.
//
//===----------------------------------------------------------------------===//
#include "Operators.h"

#include "Strings.h"

#include <cmath>
#include <cstdint>

namespace moela::jinja {

namespace {

// The largest string (bytes) or list (items) `*`, `+` and `~` may make: a
// template that doubles a string in a loop stops here rather than at 2^40.
constexpr uint64_t kMaxRepetition = 1 << 24;

/// Refuses a result of `size` bytes or items made by `op`.
void checkSize(const std::string &op, uint64_t size, bool bytes) {
  if (size > kMaxRepetition)
    evalFail("'", op, "' would make more than ", kMaxRepetition,
             bytes ? " bytes" : " items");
}

bool isInt(const Json &v) { return v.is_number_integer() || v.is_boolean(); }
bool isNumber(const Json &v) { return v.is_number() || v.is_boolean(); }
int64_t asInt(const Json &v) {
  return v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<int64_t>();
}
double asDouble(const Json &v) {
  return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
}

[[noreturn]] void unsupported(const std::string &op, const Value &a,
                              const Value &b) {
  evalFail("unsupported operand types for ", op, ": ", a.typeName(), " and ",
           b.typeName());
}

Value arithmetic(const std::string &op, const Value &av, const Value &bv) {
  const Json &a = av.data(), &b = bv.data();
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      checkSize(op,
                a.get_ref<const std::string &>().size() +
                    b.get_ref<const std::string &>().size(),
                true);
      return Json(a.get<std::string>() + b.get<std::string>());
    }
    if (a.is_array() && b.is_array()) {
      checkSize(op, a.size() + b.size(), false);
      Json out = a;
      for (const Json &item : b)
        out.push_back(item);
      return out;
    }
  }
  if (op == "*") {
    const Json *seq = a.is_string() || a.is_array() ? &a : &b;
    const Json *count = seq == &a ? &b : &a;
    if ((seq->is_string() || seq->is_array()) && isInt(*count)) {
      size_t unit = seq->is_string()
                        ? seq->get_ref<const std::string &>().size()
                        : seq->size();
      const int64_t n = asInt(*count);
      if (n <= 0 || unit == 0)
        return seq->is_string() ? Json("") : Json::array();
      if (static_cast<uint64_t>(n) > kMaxRepetition / unit)
        checkSize(op, kMaxRepetition + 1, seq->is_string());
      if (seq->is_string()) {
        std::string text;
        for (int64_t i = 0; i < n; ++i)
          text += seq->get_ref<const std::string &>();
        return Json(text);
      }
      Json out = Json::array();
      for (int64_t i = 0; i < n; ++i)
        for (const Json &item : *seq)
          out.push_back(item);
      return out;
    }
  }
  if (!isNumber(a) || !isNumber(b))
    unsupported(op, av, bv);
  if (isInt(a) && isInt(b) && op != "/") {
    // Python's integers are unbounded; moela's stop at 64 bits.
    int64_t x = asInt(a), y = asInt(b), r = 0;
    auto checked = [&](bool overflowed) {
      if (overflowed)
        evalFail("integer overflow in '", op, "'");
      return Json(r);
    };
    if (op == "+")
      return checked(__builtin_add_overflow(x, y, &r));
    if (op == "-")
      return checked(__builtin_sub_overflow(x, y, &r));
    if (op == "*")
      return checked(__builtin_mul_overflow(x, y, &r));
    if (op == "**") {
      if (y < 0)
        return Json(std::pow(static_cast<double>(x), static_cast<double>(y)));
      r = 1;
      bool overflowed = false;
      for (int64_t base = x; y > 0 && !overflowed; y >>= 1) { // by squaring
        if (y & 1)
          overflowed = __builtin_mul_overflow(r, base, &r);
        if (y > 1 && !overflowed)
          overflowed = __builtin_mul_overflow(base, base, &base);
      }
      return checked(overflowed);
    }
    if (y == 0)
      evalFail("integer division or modulo by zero");
    if (y == -1 && x == INT64_MIN) // the one quotient that does not fit
      evalFail("integer overflow in '", op, "'");
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) { // Python floors
      --q;
      m += y;
    }
    return Json(op == "//" ? q : m);
  }
  double x = asDouble(a), y = asDouble(b);
  if (op == "+")
    return Json(x + y);
  if (op == "-")
    return Json(x - y);
  if (op == "*")
    return Json(x * y);
  if (op == "**")
    return Json(std::pow(x, y));
  if (y == 0)
    evalFail("division by zero");
  if (op == "/")
    return Json(x / y);
  if (op == "//")
    return Json(std::floor(x / y));
  double r = std::fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0)))
    r += y;
  return Json(r);
}

/// Python's index `i` into a sequence of `size`, or -1 when out of range.
long normalizeIndex(long i, size_t size) {
  if (i < 0)
    i += static_cast<long>(size);
  return i < 0 || i >= static_cast<long>(size) ? -1 : i;
}

} // namespace

bool pyEquals(const Value &a, const Value &b) {
  if (a.isUndefined() || b.isUndefined())
    return a.isUndefined() && b.isUndefined();
  if (!a.isData() || !b.isData())
    return false;
  const Json &x = a.data(), &y = b.data();
  if (isNumber(x) && isNumber(y))
    return isInt(x) && isInt(y) ? asInt(x) == asInt(y)
                                : asDouble(x) == asDouble(y);
  return x == y;
}

bool pyLess(const Json &a, const Json &b) {
  if (isNumber(a) && isNumber(b))
    return isInt(a) && isInt(b) ? asInt(a) < asInt(b)
                                : asDouble(a) < asDouble(b);
  if (a.is_string() && b.is_string())
    return a.get_ref<const std::string &>() < b.get_ref<const std::string &>();
  if (a.is_array() && b.is_array()) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (pyLess(a[i], b[i]))
        return true;
      if (pyLess(b[i], a[i]))
        return false;
    }
    return a.size() < b.size();
  }
  evalFail("'<' is not supported between ", Value(a).typeName(), " and ",
           Value(b).typeName());
}

bool pyContains(const Value &container, const Value &item) {
  if (container.isUndefined())
    evalFail("'", container.name(), "' is undefined (right of 'in')");
  const Json &c = container.data();
  if (c.is_string()) {
    if (!item.isString())
      evalFail("'in <string>' requires a string on the left, got ",
               item.typeName());
    return c.get_ref<const std::string &>().find(
               item.data().get_ref<const std::string &>()) != std::string::npos;
  }
  if (c.is_array()) {
    for (const Json &element : c)
      if (pyEquals(Value(element), item))
        return true;
    return false;
  }
  if (c.is_object())
    return item.isString() && c.contains(item.data().get<std::string>());
  evalFail("'in' needs a string, list or mapping on the right, got ",
           container.typeName());
}

Value binaryOp(const std::string &op, const Value &a, const Value &b) {
  if (op == "~") {
    std::string left = a.str(), right = b.str();
    checkSize(op, left.size() + right.size(), true);
    return Json(left + right);
  }
  if (op == "==")
    return Json(pyEquals(a, b));
  if (op == "!=")
    return Json(!pyEquals(a, b));
  if (op == "in")
    return Json(pyContains(b, a));
  if (op == "not in")
    return Json(!pyContains(b, a));
  if (op == "<")
    return Json(pyLess(a.data(), b.data()));
  if (op == ">")
    return Json(pyLess(b.data(), a.data()));
  if (op == "<=")
    return Json(!pyLess(b.data(), a.data()));
  if (op == ">=")
    return Json(!pyLess(a.data(), b.data()));
  return arithmetic(op, a, b);
}

long toInteger(const Value &v, const std::string &what) {
  if (!v.isData() || !isInt(v.data()))
    evalFail(what, " must be an integer, got ", v.typeName());
  return static_cast<long>(asInt(v.data()));
}

Value subscript(const Value &object, const Value &key,
                const std::string &what) {
  if (object.isNamespace() && key.isString())
    return attribute(object, key.data().get<std::string>(), what);
  if (object.isUndefined())
    evalFail("'", object.name(), "' is undefined (cannot take ", what, ")");
  const Json &o = object.data();
  if (o.is_object()) {
    if (!key.isString())
      return Value::undefined(what);
    auto it = o.find(key.data().get<std::string>());
    return it == o.end() ? Value::undefined(what) : Value(*it);
  }
  if (o.is_array() || o.is_string()) {
    if (!key.isData() || !isInt(key.data()))
      evalFail(what, ": indices must be integers, got ", key.typeName());
    long i = static_cast<long>(asInt(key.data()));
    if (o.is_array()) {
      long at = normalizeIndex(i, o.size());
      return at < 0 ? Value::undefined(what) : Value(o[at]);
    }
    std::vector<std::string> cps = codePoints(o.get<std::string>());
    long at = normalizeIndex(i, cps.size());
    return at < 0 ? Value::undefined(what) : Value(Json(cps[at]));
  }
  evalFail("cannot subscript a ", object.typeName(), " (", what, ")");
}

Value attribute(const Value &object, const std::string &name,
                const std::string &what) {
  if (object.isNamespace()) {
    const Json &attrs = object.attributes();
    auto it = attrs.find(name);
    return it == attrs.end() ? Value::undefined(what) : Value(*it);
  }
  if (object.isUndefined())
    evalFail("'", object.name(), "' is undefined (cannot read .", name, ")");
  const Json &o = object.data();
  if (o.is_object()) {
    auto it = o.find(name);
    return it == o.end() ? Value::undefined(what) : Value(*it);
  }
  return Value::undefined(what);
}

Value slice(const Value &object, const std::optional<long> &start,
            const std::optional<long> &stop, const std::optional<long> &step) {
  const Json &o = object.data();
  if (!o.is_array() && !o.is_string())
    evalFail("cannot slice a ", object.typeName());
  std::vector<std::string> cps;
  if (o.is_string())
    cps = codePoints(o.get<std::string>());
  const long n = static_cast<long>(o.is_string() ? cps.size() : o.size());
  const long s = step.value_or(1);
  if (s == 0)
    evalFail("slice step cannot be zero");
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<long> v, long fallback) {
    if (!v)
      return fallback;
    long i = *v;
    if (i < 0) {
      i += n;
      if (i < 0)
        i = s < 0 ? -1 : 0;
    } else if (i >= n) {
      i = s < 0 ? n - 1 : n;
    }
    return i;
  };
  long from = adjust(start, s < 0 ? n - 1 : 0);
  long to = adjust(stop, s < 0 ? -1 : n);
  Json out = o.is_string() ? Json("") : Json::array();
  std::string text;
  for (long i = from; s > 0 ? i < to : i > to; i += s) {
    if (o.is_string())
      text += cps[i];
    else
      out.push_back(o[i]);
  }
  if (o.is_string())
    out = text;
  return out;
}

Json iterationItems(const Value &v) {
  if (v.isUndefined())
    return Json::array();
  if (v.isNamespace())
    evalFail("a namespace is not iterable");
  const Json &d = v.data();
  if (d.is_array())
    return d;
  if (d.is_object()) {
    Json keys = Json::array();
    for (auto it = d.begin(); it != d.end(); ++it)
      keys.push_back(it.key());
    return keys;
  }
  if (d.is_string()) {
    Json chars = Json::array();
    for (std::string &c : codePoints(d.get<std::string>()))
      chars.push_back(std::move(c));
    return chars;
  }
  evalFail("a ", v.typeName(), " is not iterable");
}

} // namespace moela::jinja
