//===- Parser.cpp - Jinja tokens to a syntax tree -------------------------===//
//
// Mirrors jinja2's parser (3.1) for the constructs chat templates use.
// This file parses statements, ParseExpr.cpp expressions.
//
//===----------------------------------------------------------------------===//
#include "Parser.h"
#include "ParserImpl.h"

namespace moela::jinja {

namespace {

const char *kindName(Token::Kind kind) {
  switch (kind) {
  case Token::Text:
    return "template text";
  case Token::VarBegin:
    return "'{{'";
  case Token::VarEnd:
    return "'}}'";
  case Token::BlockBegin:
    return "'{%'";
  case Token::BlockEnd:
    return "'%}'";
  case Token::Name:
    return "name";
  case Token::String:
    return "string";
  case Token::Integer:
    return "integer";
  case Token::Float:
    return "float";
  case Token::Operator:
    return "operator";
  case Token::End:
    return "end of template";
  }
  return "token";
}
} // namespace

std::string Parser::describe(const Token &t) const {
  if (t.kind == Token::Name || t.kind == Token::Operator)
    return "'" + t.text + "'";
  return kindName(t.kind);
}

Body Parser::parseTemplate() {
  Body body = parseBody({});
  if (peek().kind != Token::End)
    error("unexpected '" + peek().text + "'");
  return body;
}

Body Parser::parseBody(const std::set<std::string> &stops) {
  Body body;
  while (true) {
    const Token &t = peek();
    if (t.kind == Token::End) {
      for (const std::string &stop : stops)
        if (stop.rfind("end", 0) == 0)
          error("missing {% " + stop + " %}: the template ended");
      return body;
    }
    if (t.kind == Token::Text) {
      auto s = std::make_unique<Stmt>(Stmt::Text, t.line);
      s->text = t.text;
      body.push_back(std::move(s));
      ++pos;
    } else if (t.kind == Token::VarBegin) {
      ++pos;
      auto s = std::make_unique<Stmt>(Stmt::Output, t.line);
      s->expr = parseTuple();
      if (peek().kind != Token::VarEnd)
        error("expected '}}', got " + describe(peek()));
      ++pos;
      body.push_back(std::move(s));
    } else if (t.kind == Token::BlockBegin) {
      if (peek(1).kind == Token::Name && stops.count(peek(1).text)) {
        ++pos;
        return body;
      }
      ++pos;
      body.push_back(parseStatement());
    } else {
      error("unexpected " + describe(t));
    }
  }
}

StmtPtr Parser::parseStatement() {
  Nesting nesting(*this);
  const Token &t = peek();
  if (t.kind != Token::Name)
    error("expected a tag name after '{%', got " + describe(t));
  const std::string tag = next().text;
  if (tag == "if")
    return parseIf(t.line);
  if (tag == "for")
    return parseFor(t.line);
  if (tag == "set")
    return parseSet(t.line);
  if (tag == "macro")
    return parseMacro(t.line);
  if (tag == "break" || tag == "continue") {
    expectBlockEnd();
    return std::make_unique<Stmt>(tag == "break" ? Stmt::Break : Stmt::Continue,
                                  t.line);
  }
  if (tag == "generation") { // transformers' AssistantTracker extension
    expectBlockEnd();
    auto s = std::make_unique<Stmt>(Stmt::Scope, t.line);
    s->body = parseBody({"endgeneration"});
    next();
    expectBlockEnd();
    return s;
  }
  static const std::set<std::string> closing = {
      "elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration"};
  if (closing.count(tag))
    error("unexpected {% " + tag + " %}: no open block takes it", t.line);
  static const std::set<std::string> known = {
      "extends", "include", "import", "from", "block",      "call",
      "filter",  "raw",     "with",   "do",   "autoescape", "trans"};
  if (known.count(tag))
    error("{% " + tag + " %} is not supported here (moela's Jinja subset: " +
              "if, for, set, macro, break, continue, generation)",
          t.line);
  error("unknown tag '" + tag + "'", t.line);
}

StmtPtr Parser::parseIf(int line) {
  auto s = std::make_unique<Stmt>(Stmt::If, line);
  ExprPtr condition = parseTuple();
  expectBlockEnd();
  while (true) {
    Body body = parseBody({"elif", "else", "endif"});
    s->branches.emplace_back(std::move(condition), std::move(body));
    std::string tag = next().text;
    if (tag == "elif") {
      condition = parseTuple();
      expectBlockEnd();
    } else if (tag == "else") {
      expectBlockEnd();
      Body elseBody = parseBody({"endif"});
      next();
      expectBlockEnd();
      s->branches.emplace_back(nullptr, std::move(elseBody));
      return s;
    } else {
      expectBlockEnd();
      return s;
    }
  }
}

StmtPtr Parser::parseFor(int line) {
  auto s = std::make_unique<Stmt>(Stmt::For, line);
  do
    s->targets.push_back(expectName());
  while (acceptOp(","));
  if (!acceptName("in"))
    error("expected 'in' in {% for %}, got " + describe(peek()));
  s->expr = parseTuple(/*allowConditional=*/false);
  if (acceptName("if"))
    s->condition = parseExpression();
  if (isName("recursive"))
    error("recursive loops are not supported");
  expectBlockEnd();
  s->body = parseBody({"else", "endfor"});
  if (next().text == "else") {
    expectBlockEnd();
    s->elseBody = parseBody({"endfor"});
    next();
  }
  expectBlockEnd();
  return s;
}

StmtPtr Parser::parseSet(int line) {
  std::string first = expectName();
  if (acceptOp(".")) {
    auto s = std::make_unique<Stmt>(Stmt::Set, line);
    s->targets.push_back(first);
    s->attribute = expectName();
    expectOp("=");
    s->expr = parseTuple();
    expectBlockEnd();
    return s;
  }
  std::vector<std::string> targets{first};
  while (acceptOp(","))
    targets.push_back(expectName());
  if (peek().kind == Token::BlockEnd && targets.size() == 1) {
    ++pos;
    auto s = std::make_unique<Stmt>(Stmt::SetBlock, line);
    s->targets = targets;
    s->body = parseBody({"endset"});
    next();
    expectBlockEnd();
    return s;
  }
  auto s = std::make_unique<Stmt>(Stmt::Set, line);
  s->targets = targets;
  expectOp("=");
  s->expr = parseTuple();
  expectBlockEnd();
  return s;
}

StmtPtr Parser::parseMacro(int line) {
  auto s = std::make_unique<Stmt>(Stmt::Macro, line);
  s->text = expectName();
  expectOp("(");
  while (!acceptOp(")")) {
    if (!s->params.empty())
      expectOp(",");
    std::string param = expectName();
    ExprPtr fallback;
    if (acceptOp("="))
      fallback = parseExpression();
    s->params.emplace_back(param, std::move(fallback));
  }
  expectBlockEnd();
  s->body = parseBody({"endmacro"});
  next();
  if (peek().kind == Token::Name) // {% endmacro name %}
    ++pos;
  expectBlockEnd();
  return s;
}

Body parse(const std::vector<Token> &tokens, const std::string &name) {
  return Parser(tokens, name).parseTemplate();
}

} // namespace moela::jinja
