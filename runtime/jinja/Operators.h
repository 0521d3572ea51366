//===- Operators.h - Python semantics of Jinja's operators ----------------===//
//
// Private to the runtime. What `a + b`, `a == b`, `a in b`, `a[i]`, `a[i:j]`
// and `a ~ b` compute for JSON data, following Python: integer and float
// arithmetic, string and list concatenation and repetition, equality across
// int and float, negative indices counting from the end, code-point indexing
// of strings. Type mismatches raise EvalError naming the operator and types.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_OPERATORS_H
#define MOELA_RUNTIME_JINJA_OPERATORS_H

#include "Value.h"

#include <optional>
#include <string>

namespace moela::jinja {

/// `a op b` for op in + - * / // % ** ~ == != < <= > >= in, "not in".
Value binaryOp(const std::string &op, const Value &a, const Value &b);
/// Python's ==.
bool pyEquals(const Value &a, const Value &b);
/// Python's <; EvalError for unorderable types.
bool pyLess(const Json &a, const Json &b);
/// `item in container`.
bool pyContains(const Value &container, const Value &item);
/// `object[key]`: Undefined when a mapping lacks the key or an index is out
/// of range, as jinja2's getitem does.
Value subscript(const Value &object, const Value &key, const std::string &what);
/// `object.name`: a mapping's key or a namespace's attribute, else Undefined.
Value attribute(const Value &object, const std::string &name,
                const std::string &what);
/// `object[start:stop:step]` of a string or list (null parts are absent).
Value slice(const Value &object, const std::optional<long> &start,
            const std::optional<long> &stop, const std::optional<long> &step);
/// An integer (bool counts, as in Python); EvalError naming `what` otherwise.
long toInteger(const Value &v, const std::string &what);
/// Items to iterate: a list's items, a mapping's keys, a string's characters;
/// Undefined iterates as empty.
Json iterationItems(const Value &v);

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_OPERATORS_H
