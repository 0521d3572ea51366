//===- Builtins.h - Jinja's filters, tests, methods and globals -----------===//
//
// Private to the runtime. The filters and tests of jinja2 that chat templates
// use (with transformers' tojson), the Python methods templates call on
// strings, lists and mappings (.strip(), .split(), .items(), .get(), ...),
// and the globals transformers provides: namespace, range, dict,
// raise_exception, strftime_now. A name outside these sets is an EvalError
// naming it; methods that would change a value (append, update, ...) are
// refused as transformers' ImmutableSandboxedEnvironment refuses them.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_BUILTINS_H
#define MOELA_RUNTIME_JINJA_BUILTINS_H

#include "Value.h"

#include <optional>
#include <string>

namespace moela::jinja {

/// raise_exception(message) in a template: rethrown as moela::Error with the
/// message alone, as transformers raises TemplateError(message).
class RaisedError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// `subject | name(args)`. Filters that call tests (select, selectattr, ...)
/// use applyTest.
Value applyFilter(const std::string &name, const Value &subject,
                  CallArgs &args);
/// `subject is name(args)`.
bool applyTest(const std::string &name, const Value &subject, CallArgs &args);
/// Whether `name` is a test (for error messages before evaluation).
bool isTest(const std::string &name);
/// `object.name(args)` for a string, list or mapping; nullopt when `object`
/// is no such value (the caller then calls the attribute).
std::optional<Value> callMethod(const Value &object, const std::string &name,
                                CallArgs &args);
/// The global functions; Undefined for other names.
Value globalFunction(const std::string &name);

/// Argument `index` or keyword `keyword` of a call, or `fallback`.
Value argument(CallArgs &args, size_t index, const char *keyword,
               Value fallback = Value());
/// EvalError unless the call has at most `count` positional arguments and
/// only the keywords in `keywords` (comma-separated).
void checkArgs(const std::string &what, const CallArgs &args, size_t count,
               const std::string &keywords = "");

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_BUILTINS_H
