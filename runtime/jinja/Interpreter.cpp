//===- Interpreter.cpp - Rendering a Jinja syntax tree --------------------===//
//
// A tree-walking interpreter. Scopes follow jinja2: each iteration of a for
// loop has its own scope (a `set` inside it is gone by the next item and
// after the loop, which is why templates carry state in a namespace),
// if-blocks have none,
// and a macro call sees the template's top level plus its parameters. An
// EvalError is tagged with the line of the innermost expression that raised
// it.
//
//===----------------------------------------------------------------------===//
#include "Builtins.h"
#include "Operators.h"
#include "Parser.h"
#include "Template.h"

#include "moela/Runtime/Error.h"

#include <map>

namespace moela::jinja {

namespace {

/// An EvalError with the line it came from.
struct Located {
  int line;
  std::string message;
};

constexpr int kMaxCallDepth = 256;

class Interpreter {
public:
  explicit Interpreter(const Json &context) {
    scopes.push_back(std::make_shared<Scope>());
    for (auto it = context.begin(); it != context.end(); ++it)
      (*scopes.front())[it.key()] = Value(it.value());
  }

  std::string run(const Body &body) {
    std::string out;
    execute(body, out);
    return out;
  }

private:
  using Scope = std::map<std::string, Value>;
  std::vector<std::shared_ptr<Scope>> scopes;
  int depth = 0;

  enum class Flow { Normal, Break, Continue };

  Value lookup(const std::string &name) const {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      auto found = (*it)->find(name);
      if (found != (*it)->end())
        return found->second;
    }
    return globalFunction(name);
  }

  void assign(const std::string &name, Value value) {
    (*scopes.back())[name] = std::move(value);
  }

  void assignTargets(const std::vector<std::string> &targets, Value value,
                     int line) {
    if (targets.size() == 1) {
      assign(targets[0], std::move(value));
      return;
    }
    const Json &items = value.data();
    if (!items.is_array() || items.size() != targets.size())
      throw Located{line, "cannot unpack a " + value.typeName() + " into " +
                              std::to_string(targets.size()) + " names"};
    for (size_t i = 0; i < targets.size(); ++i)
      assign(targets[i], Value(items[i]));
  }

  //===--------------------------------------------------------------------===//
  // Statements
  //===--------------------------------------------------------------------===//

  Flow execute(const Body &body, std::string &out) {
    for (const StmtPtr &s : body) {
      Flow flow = execute(*s, out);
      if (flow != Flow::Normal)
        return flow;
    }
    return Flow::Normal;
  }

  Flow execute(const Stmt &s, std::string &out) {
    switch (s.kind) {
    case Stmt::Text:
      out += s.text;
      return Flow::Normal;
    case Stmt::Output:
      out += eval(*s.expr).str();
      return Flow::Normal;
    case Stmt::If:
      for (const auto &[condition, body] : s.branches)
        if (!condition || eval(*condition).truthy())
          return execute(body, out);
      return Flow::Normal;
    case Stmt::For:
      return executeFor(s, out);
    case Stmt::Set:
      if (!s.attribute.empty()) {
        Value target = lookup(s.targets[0]);
        if (!target.isNamespace())
          throw Located{s.line, "cannot set ." + s.attribute + " of '" +
                                    s.targets[0] + "' (a " + target.typeName() +
                                    "): only a namespace() has attributes"};
        Value value = eval(*s.expr);
        target.attributes()[s.attribute] =
            value.isNamespace() ? value.attributes() : dataOf(value, s.line);
        return Flow::Normal;
      }
      assignTargets(s.targets, eval(*s.expr), s.line);
      return Flow::Normal;
    case Stmt::SetBlock: {
      std::string captured;
      execute(s.body, captured);
      assign(s.targets[0], Value(Json(captured)));
      return Flow::Normal;
    }
    case Stmt::Macro:
      defineMacro(s);
      return Flow::Normal;
    case Stmt::Break:
    case Stmt::Continue:
      if (loopDepth == 0)
        throw Located{
            s.line, std::string(s.kind == Stmt::Break ? "break" : "continue") +
                        " outside a for loop"};
      return s.kind == Stmt::Break ? Flow::Break : Flow::Continue;
    case Stmt::Scope:
      return execute(s.body, out);
    }
    return Flow::Normal;
  }

  int loopDepth = 0;

  static const Json &dataOf(const Value &v, int line) {
    try {
      return v.data();
    } catch (const EvalError &e) {
      throw Located{line, e.what()};
    }
  }

  Flow executeFor(const Stmt &s, std::string &out) {
    Json items = iterationOf(*s.expr);
    if (s.condition) { // {% for x in xs if cond %} filters before `loop`
      Json kept = Json::array();
      scopes.push_back(std::make_shared<Scope>());
      for (const Json &item : items) {
        assignTargets(s.targets, Value(item), s.line);
        if (eval(*s.condition).truthy())
          kept.push_back(item);
      }
      scopes.pop_back();
      items = std::move(kept);
    }
    if (items.empty()) {
      execute(s.elseBody, out);
      return Flow::Normal;
    }
    ++loopDepth;
    const size_t n = items.size();
    for (size_t i = 0; i < n; ++i) {
      // A fresh scope per iteration: jinja2 forgets a `set` of the body
      // before the next item.
      scopes.push_back(std::make_shared<Scope>());
      Json loop = {{"index", i + 1},    {"index0", i},
                   {"revindex", n - i}, {"revindex0", n - i - 1},
                   {"first", i == 0},   {"last", i + 1 == n},
                   {"length", n},       {"depth", 1},
                   {"depth0", 0}};
      if (i > 0)
        loop["previtem"] = items[i - 1];
      if (i + 1 < n)
        loop["nextitem"] = items[i + 1];
      assign("loop", Value(std::move(loop)));
      assignTargets(s.targets, Value(items[i]), s.line);
      Flow flow = execute(s.body, out);
      scopes.pop_back();
      if (flow == Flow::Break)
        break;
    }
    --loopDepth;
    return Flow::Normal;
  }

  Json iterationOf(const Expr &e) {
    Value v = eval(e);
    try {
      return iterationItems(v);
    } catch (const EvalError &err) {
      throw Located{e.line, err.what()};
    }
  }

  void defineMacro(const Stmt &s) {
    const Stmt *macro = &s;
    assign(s.text, Value::makeFunction(s.text, [this, macro](CallArgs &args) {
             return callMacro(*macro, args);
           }));
  }

  Value callMacro(const Stmt &m, CallArgs &args) {
    if (args.positional.size() > m.params.size())
      evalFail("macro '", m.text, "' takes ", m.params.size(),
               " arguments, got ", args.positional.size());
    if (++depth > kMaxCallDepth)
      evalFail("macro '", m.text, "' recursed more than ", kMaxCallDepth,
               " deep");
    auto local = std::make_shared<Scope>();
    std::vector<std::shared_ptr<Scope>> saved = {scopes.front(), local};
    std::swap(saved, scopes);
    int savedLoops = loopDepth;
    loopDepth = 0;
    std::string out;
    try {
      for (size_t i = 0; i < m.params.size(); ++i) {
        const auto &[param, fallback] = m.params[i];
        Value v = argument(args, i, param.c_str());
        if (v.isUndefined() && fallback)
          v = eval(*fallback);
        (*local)[param] = v;
      }
      for (auto &[key, value] : args.keyword) {
        bool known = false;
        for (auto &p : m.params)
          known = known || p.first == key;
        if (!known)
          evalFail("macro '", m.text, "' has no parameter '", key, "'");
      }
      execute(m.body, out);
    } catch (...) {
      std::swap(saved, scopes);
      loopDepth = savedLoops;
      --depth;
      throw;
    }
    std::swap(saved, scopes);
    loopDepth = savedLoops;
    --depth;
    return Json(out);
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  Value eval(const Expr &e) {
    try {
      return evalInner(e);
    } catch (const EvalError &err) {
      throw Located{e.line, err.what()};
    }
  }

  CallArgs evalArgs(const Expr &e, size_t first) {
    CallArgs args;
    for (size_t i = first; i < e.args.size(); ++i)
      args.positional.push_back(eval(*e.args[i]));
    for (const auto &[key, value] : e.keywords)
      args.keyword.emplace_back(key, eval(*value));
    return args;
  }

  static std::string describe(const Expr &e) {
    switch (e.kind) {
    case Expr::Name:
      return e.name;
    case Expr::Attribute:
      return describe(*e.args[0]) + "." + e.name;
    case Expr::Subscript:
      if (e.args[1]->kind == Expr::Literal)
        return describe(*e.args[0]) + "[" + pyRepr(e.args[1]->value) + "]";
      return describe(*e.args[0]) + "[...]";
    default:
      return "value";
    }
  }

  std::optional<long> sliceBound(const ExprPtr &e) {
    if (!e)
      return std::nullopt;
    Value v = eval(*e);
    if (v.isNone())
      return std::nullopt;
    return toInteger(v, "a slice index");
  }

  Value evalInner(const Expr &e) {
    switch (e.kind) {
    case Expr::Literal:
      return e.value;
    case Expr::Name: {
      Value v = lookup(e.name);
      return v.isUndefined() ? Value::undefined(e.name) : v;
    }
    case Expr::List: {
      Json list = Json::array();
      for (const ExprPtr &item : e.args)
        list.push_back(eval(*item).data());
      return list;
    }
    case Expr::Dict: {
      Json dict = Json::object();
      for (size_t i = 0; i < e.args.size(); i += 2) {
        Value key = eval(*e.args[i]);
        if (!key.isString())
          evalFail("mapping keys must be strings here, got ", key.typeName());
        dict[key.data().get<std::string>()] = eval(*e.args[i + 1]).data();
      }
      return dict;
    }
    case Expr::Attribute:
      return attribute(eval(*e.args[0]), e.name, describe(e));
    case Expr::Subscript:
      return subscript(eval(*e.args[0]), eval(*e.args[1]), describe(e));
    case Expr::Slice: {
      Value target = eval(*e.args[0]);
      return slice(target, sliceBound(e.args[1]), sliceBound(e.args[2]),
                   sliceBound(e.args[3]));
    }
    case Expr::Call:
      return evalCall(e);
    case Expr::Filter: {
      Value subject = eval(*e.args[0]);
      CallArgs args = evalArgs(e, 1);
      return applyFilter(e.name, subject, args);
    }
    case Expr::Test: {
      if (!isTest(e.name))
        evalFail("unknown test '", e.name, "'");
      Value subject = eval(*e.args[0]);
      CallArgs args = evalArgs(e, 1);
      return Json(applyTest(e.name, subject, args) != e.negated);
    }
    case Expr::Unary: {
      Value v = eval(*e.args[0]);
      if (e.name == "not")
        return Json(!v.truthy());
      const Json &d = v.data();
      if (!d.is_number())
        evalFail("bad operand type for unary ", e.name, ": ", v.typeName());
      if (e.name == "+")
        return v;
      return d.is_number_float() ? Json(-d.get<double>())
                                 : Json(-d.get<int64_t>());
    }
    case Expr::Binary:
      return binaryOp(e.name, eval(*e.args[0]), eval(*e.args[1]));
    case Expr::And: {
      Value left = eval(*e.args[0]);
      return left.truthy() ? eval(*e.args[1]) : left;
    }
    case Expr::Or: {
      Value left = eval(*e.args[0]);
      return left.truthy() ? left : eval(*e.args[1]);
    }
    case Expr::Conditional:
      if (eval(*e.args[1]).truthy())
        return eval(*e.args[0]);
      return e.args[2] ? eval(*e.args[2]) : Value::undefined("conditional");
    }
    evalFail("unknown expression");
  }

  Value evalCall(const Expr &e) {
    const Expr &callee = *e.args[0];
    Value fn;
    if (callee.kind == Expr::Attribute) {
      Value object = eval(*callee.args[0]);
      CallArgs args = evalArgs(e, 1);
      if (std::optional<Value> result = callMethod(object, callee.name, args))
        return *result;
      fn = attribute(object, callee.name, describe(callee));
      if (!fn.isFunction())
        evalFail("'", describe(callee), "' is ",
                 fn.isUndefined() ? "undefined"
                                  : "not callable (a " + fn.typeName() + ")");
      return fn.function()(args);
    }
    fn = eval(callee);
    if (!fn.isFunction())
      evalFail("'", describe(callee), "' is ",
               fn.isUndefined() ? "undefined (no such function)"
                                : "not callable (a " + fn.typeName() + ")");
    CallArgs args = evalArgs(e, 1);
    return fn.function()(args);
  }
};

} // namespace

Template::Template(const std::string &source, std::string name,
                   const LexOptions &options)
    : name_(std::move(name)) {
  body_ = std::make_shared<Body>(parse(lex(source, name_, options), name_));
}

std::string Template::render(const Json &context) const {
  if (!context.is_object())
    fail(name_, ": the context must be a JSON object");
  try {
    return Interpreter(context).run(*body_);
  } catch (const Located &e) {
    fail(name_, ":", e.line, ": ", e.message);
  } catch (const RaisedError &e) {
    throw Error(e.what());
  } catch (const EvalError &e) {
    fail(name_, ": ", e.what());
  } catch (const Json::exception &e) {
    fail(name_, ": ", e.what());
  } catch (const std::bad_alloc &) {
    fail(name_, ": out of memory while rendering");
  }
}

} // namespace moela::jinja
