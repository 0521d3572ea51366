//===- Ast.h - The syntax tree of a Jinja template ------------------------===//
//
// Private to the runtime. Expressions and statements are two plain node
// types with a kind each, rather than a class per construct: the interpreter
// switches over the kind, and every node keeps its line for error messages.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_AST_H
#define MOELA_RUNTIME_JINJA_AST_H

#include "Value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace moela::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    Literal,     // value
    Name,        // name
    List,        // [args...] (tuples too)
    Dict,        // {args[0]: args[1], ...}
    Attribute,   // args[0].name
    Subscript,   // args[0][args[1]]
    Slice,       // args[0][args[1]:args[2]:args[3]] (null parts left out)
    Call,        // args[0](args[1..], keywords)
    Filter,      // args[0] | name(args[1..], keywords)
    Test,        // args[0] is [not] name(args[1..]); negated
    Unary,       // name ("-", "+", "not") args[0]
    Binary,      // args[0] name args[1]: arithmetic, comparison, "in", "~"
    And,         // args[0] and args[1]
    Or,          // args[0] or args[1]
    Conditional, // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind;
  int line;
  std::string name;
  Json value;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  bool negated = false;

  Expr(Kind kind, int line) : kind(kind), line(line) {}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum Kind {
    Text,     // text
    Output,   // {{ expr }}
    If,       // branches: (condition, body); a null condition is else
    For,      // targets in expr [if condition]: body, elseBody
    Set,      // targets = expr, or target.attribute = expr
    SetBlock, // {% set target %}body{% endset %}
    Macro,    // name(params = defaults): body
    Break,
    Continue,
    Scope, // a body that only renders (e.g. {% generation %})
  };
  Kind kind;
  int line;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::string> targets;
  std::string attribute;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body, elseBody;
  std::vector<std::pair<std::string, ExprPtr>> params;

  Stmt(Kind kind, int line) : kind(kind), line(line) {}
};

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_AST_H
