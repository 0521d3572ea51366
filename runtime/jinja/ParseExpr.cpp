//===- ParseExpr.cpp - Jinja expressions to a syntax tree -----------------===//
//
// jinja2's precedence, lowest first: `a if c else b`, or, and, not,
// comparisons and (not) in, + -, ~, * / // %, **, unary - +, then postfix
// .attr, [index], [a:b:c], calls, | filters and `is` tests.
//
//===----------------------------------------------------------------------===//
#include "ParserImpl.h"

namespace moela::jinja {

ExprPtr Parser::make(Expr::Kind kind, int line) {
  return std::make_unique<Expr>(kind, line);
}

ExprPtr Parser::parseTuple(bool allowConditional) {
  int line = peek().line;
  ExprPtr first = allowConditional ? parseExpression() : parseOr();
  if (!isOp(","))
    return first;
  auto list = make(Expr::List, line);
  list->args.push_back(std::move(first));
  while (acceptOp(",")) {
    if (peek().kind == Token::BlockEnd || peek().kind == Token::VarEnd)
      break;
    list->args.push_back(allowConditional ? parseExpression() : parseOr());
  }
  return list;
}

ExprPtr Parser::parseExpression() {
  Nesting chain(*this, 0);
  int line = peek().line;
  ExprPtr value = parseOr();
  while (acceptName("if")) {
    chain.deeper();
    auto e = make(Expr::Conditional, line);
    e->args.push_back(std::move(value));
    e->args.push_back(parseOr());
    e->args.push_back(acceptName("else") ? parseExpression() : nullptr);
    value = std::move(e);
  }
  return value;
}

ExprPtr Parser::binary(Expr::Kind kind, std::string op, ExprPtr left,
                       ExprPtr right, int line) {
  auto e = make(kind, line);
  e->name = std::move(op);
  e->args.push_back(std::move(left));
  e->args.push_back(std::move(right));
  return e;
}

ExprPtr Parser::parseOr() {
  Nesting chain(*this, 0);
  ExprPtr left = parseAnd();
  while (isName("or")) {
    chain.deeper();
    int line = next().line;
    left = binary(Expr::Or, "or", std::move(left), parseAnd(), line);
  }
  return left;
}

ExprPtr Parser::parseAnd() {
  Nesting chain(*this, 0);
  ExprPtr left = parseNot();
  while (isName("and")) {
    chain.deeper();
    int line = next().line;
    left = binary(Expr::And, "and", std::move(left), parseNot(), line);
  }
  return left;
}

ExprPtr Parser::parseNot() {
  if (isName("not")) {
    Nesting nesting(*this);
    auto e = make(Expr::Unary, next().line);
    e->name = "not";
    e->args.push_back(parseNot());
    return e;
  }
  return parseCompare();
}

ExprPtr Parser::parseCompare() {
  Nesting chain(*this, 0);
  ExprPtr left = parseMath1();
  while (true) {
    int line = peek().line;
    std::string op;
    if (peek().kind == Token::Operator &&
        (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
         peek().text == "<=" || peek().text == ">" || peek().text == ">="))
      op = next().text;
    else if (acceptName("in"))
      op = "in";
    else if (isName("not") && isName("in", 1)) {
      pos += 2;
      op = "not in";
    } else
      return left;
    left = binary(Expr::Binary, op, std::move(left), parseMath1(), line);
    chain.deeper(); // reached only when a link was added
  }
}

ExprPtr Parser::parseMath1() {
  Nesting chain(*this, 0);
  ExprPtr left = parseConcat();
  while (isOp("+") || isOp("-")) {
    chain.deeper();
    const Token &t = next();
    left = binary(Expr::Binary, t.text, std::move(left), parseConcat(), t.line);
  }
  return left;
}

ExprPtr Parser::parseConcat() {
  Nesting chain(*this, 0);
  ExprPtr left = parseMath2();
  while (isOp("~")) {
    chain.deeper();
    int line = next().line;
    left = binary(Expr::Binary, "~", std::move(left), parseMath2(), line);
  }
  return left;
}

ExprPtr Parser::parseMath2() {
  Nesting chain(*this, 0);
  ExprPtr left = parsePow();
  while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
    chain.deeper();
    const Token &t = next();
    left = binary(Expr::Binary, t.text, std::move(left), parsePow(), t.line);
  }
  return left;
}

ExprPtr Parser::parsePow() {
  Nesting chain(*this, 0);
  ExprPtr left = parseUnary(true);
  while (isOp("**")) {
    chain.deeper();
    int line = next().line;
    left = binary(Expr::Binary, "**", std::move(left), parseUnary(true), line);
  }
  return left;
}

ExprPtr Parser::parseUnary(bool withFilter) {
  Nesting nesting(*this);
  ExprPtr node;
  if (isOp("-") || isOp("+")) {
    const Token &t = next();
    node = make(Expr::Unary, t.line);
    node->name = t.text;
    node->args.push_back(parseUnary(false));
  } else {
    node = parsePostfix(parsePrimary());
  }
  return withFilter ? parseFilterExpr(std::move(node)) : std::move(node);
}

ExprPtr Parser::parsePrimary() {
  const Token &t = next();
  switch (t.kind) {
  case Token::Name: {
    if (t.text == "true" || t.text == "True" || t.text == "false" ||
        t.text == "False") {
      auto e = make(Expr::Literal, t.line);
      e->value = t.text == "true" || t.text == "True";
      return e;
    }
    if (t.text == "none" || t.text == "None") {
      auto e = make(Expr::Literal, t.line);
      e->value = nullptr;
      return e;
    }
    auto e = make(Expr::Name, t.line);
    e->name = t.text;
    return e;
  }
  case Token::String: {
    auto e = make(Expr::Literal, t.line);
    std::string s = t.text;
    while (peek().kind == Token::String) // "a" "b" concatenates
      s += next().text;
    e->value = s;
    return e;
  }
  case Token::Integer: {
    auto e = make(Expr::Literal, t.line);
    try {
      e->value = std::stoll(t.text);
    } catch (const std::exception &) {
      error("integer literal " + t.text + " is out of range", t.line);
    }
    return e;
  }
  case Token::Float: {
    auto e = make(Expr::Literal, t.line);
    try {
      e->value = std::stod(t.text);
    } catch (const std::exception &) {
      error("float literal " + t.text + " is out of range", t.line);
    }
    return e;
  }
  case Token::Operator:
    if (t.text == "(") {
      if (acceptOp(")")) // ()
        return make(Expr::List, t.line);
      ExprPtr inner = parseTuple();
      expectOp(")");
      return inner;
    }
    if (t.text == "[") {
      auto e = make(Expr::List, t.line);
      while (!acceptOp("]")) {
        if (!e->args.empty()) {
          expectOp(",");
          if (acceptOp("]"))
            break;
        }
        e->args.push_back(parseExpression());
      }
      return e;
    }
    if (t.text == "{") {
      auto e = make(Expr::Dict, t.line);
      while (!acceptOp("}")) {
        if (!e->args.empty()) {
          expectOp(",");
          if (acceptOp("}"))
            break;
        }
        e->args.push_back(parseExpression());
        expectOp(":");
        e->args.push_back(parseExpression());
      }
      return e;
    }
    break;
  default:
    break;
  }
  error("unexpected " + describe(t) + " in an expression", t.line);
}

ExprPtr Parser::parsePostfix(ExprPtr node) {
  Nesting chain(*this, 0);
  while (true) {
    int line = peek().line;
    if (acceptOp(".")) {
      auto e = make(Expr::Attribute, line);
      if (peek().kind == Token::Integer) // foo.0 is foo[0]
        e->kind = Expr::Subscript, e->args.push_back(std::move(node)),
        e->args.push_back(parsePrimary());
      else
        e->name = expectName(), e->args.push_back(std::move(node));
      node = std::move(e);
    } else if (acceptOp("[")) {
      node = parseSubscript(std::move(node), line);
    } else if (isOp("(")) {
      node = parseCall(std::move(node));
    } else {
      return node;
    }
    chain.deeper(); // reached only when a link was added
  }
}

ExprPtr Parser::parseSubscript(ExprPtr target, int line) {
  // [a], [a:b], [a:b:c], [:], [::c]
  ExprPtr parts[3];
  int part = 0;
  bool slice = false;
  while (true) {
    if (isOp("]"))
      break;
    if (acceptOp(":")) {
      slice = true;
      if (++part > 2)
        error("too many ':' in a slice");
      continue;
    }
    if (parts[part])
      error("expected ']' or ':', got " + describe(peek()));
    parts[part] = parseExpression();
  }
  expectOp("]");
  if (!slice) {
    if (!parts[0])
      error("empty subscript []", line);
    auto e = make(Expr::Subscript, line);
    e->args.push_back(std::move(target));
    e->args.push_back(std::move(parts[0]));
    return e;
  }
  auto e = make(Expr::Slice, line);
  e->args.push_back(std::move(target));
  for (ExprPtr &p : parts)
    e->args.push_back(std::move(p));
  return e;
}

void Parser::parseArgs(Expr &call) {
  expectOp("(");
  bool first = true;
  while (!acceptOp(")")) {
    if (!first) {
      expectOp(",");
      if (acceptOp(")"))
        break;
    }
    first = false;
    if (isOp("*") || isOp("**"))
      error("*args and **kwargs are not supported");
    if (peek().kind == Token::Name && isOp("=", 1)) {
      std::string key = next().text;
      ++pos;
      call.keywords.emplace_back(key, parseExpression());
    } else {
      if (!call.keywords.empty())
        error("a positional argument follows a keyword argument");
      call.args.push_back(parseExpression());
    }
  }
}

ExprPtr Parser::parseCall(ExprPtr callee) {
  auto e = make(Expr::Call, peek().line);
  e->args.push_back(std::move(callee));
  parseArgs(*e);
  return e;
}

ExprPtr Parser::parseFilterExpr(ExprPtr node) {
  Nesting chain(*this, 0);
  while (true) {
    int line = peek().line;
    if (acceptOp("|")) {
      auto e = make(Expr::Filter, line);
      e->name = expectName();
      while (acceptOp(".")) // dotted filter names
        e->name += "." + expectName();
      e->args.push_back(std::move(node));
      if (isOp("("))
        parseArgs(*e);
      node = std::move(e);
    } else if (acceptName("is")) {
      auto e = make(Expr::Test, line);
      e->negated = acceptName("not");
      e->name = expectName();
      e->args.push_back(std::move(node));
      const Token &t = peek();
      if (isOp("(")) {
        parseArgs(*e);
      } else if ((t.kind == Token::Name || t.kind == Token::String ||
                  t.kind == Token::Integer || t.kind == Token::Float ||
                  isOp("[") || isOp("{")) &&
                 !isName("else") && !isName("or") && !isName("and") &&
                 !isName("if") && !isName("in") && !isName("not")) {
        if (isName("is"))
          error("you cannot chain tests with 'is'");
        e->args.push_back(parsePostfix(parsePrimary()));
      }
      node = std::move(e);
    } else if (isOp("(")) {
      node = parseCall(std::move(node));
    } else {
      return node;
    }
    chain.deeper(); // reached only when a link was added
  }
}

} // namespace moela::jinja
