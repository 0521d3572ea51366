//===- Parser.cpp - Jinja tokens to a syntax tree -------------------------===//
//
// Mirrors jinja2's parser (3.1) for the constructs chat templates use.
//
//===----------------------------------------------------------------------===//
#include "Parser.h"

#include "moela/Runtime/Error.h"

#include <set>

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

class Parser {
public:
  Parser(const std::vector<Token> &tokens, const std::string &name)
      : tokens(tokens), name(name) {}

  Body parseTemplate() {
    Body body = parseBody({});
    if (peek().kind != Token::End)
      error("unexpected '" + peek().text + "'");
    return body;
  }

private:
  const std::vector<Token> &tokens;
  const std::string &name;
  size_t pos = 0;
  int depth = 0; // of nested blocks and expressions

  /// Bounds the recursion, so that a template of 100,000 "(" is an error
  /// rather than a stack overflow.
  struct Nesting {
    Parser &p;
    explicit Nesting(Parser &p) : p(p) {
      if (++p.depth > kMaxNesting)
        p.error("nested more than " + std::to_string(kMaxNesting) + " deep");
    }
    ~Nesting() { --p.depth; }
  };
  static constexpr int kMaxNesting = 200;

  const Token &peek(size_t ahead = 0) const {
    size_t i = pos + ahead;
    return tokens[i < tokens.size() ? i : tokens.size() - 1];
  }
  const Token &next() {
    const Token &t = peek();
    if (t.kind != Token::End)
      ++pos;
    return t;
  }
  bool isOp(const char *op, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Operator && peek(ahead).text == op;
  }
  bool isName(const char *word, size_t ahead = 0) const {
    return peek(ahead).kind == Token::Name && peek(ahead).text == word;
  }
  bool acceptOp(const char *op) {
    if (!isOp(op))
      return false;
    ++pos;
    return true;
  }
  bool acceptName(const char *word) {
    if (!isName(word))
      return false;
    ++pos;
    return true;
  }

  [[noreturn]] void error(const std::string &message, int line = 0) const {
    fail(name, ":", line ? line : peek().line, ": ", message);
  }

  std::string describe(const Token &t) const {
    if (t.kind == Token::Name || t.kind == Token::Operator)
      return "'" + t.text + "'";
    return kindName(t.kind);
  }

  void expectOp(const char *op) {
    if (!acceptOp(op))
      error(std::string("expected '") + op + "', got " + describe(peek()));
  }
  std::string expectName() {
    if (peek().kind != Token::Name)
      error("expected a name, got " + describe(peek()));
    return next().text;
  }
  void expectBlockEnd() {
    if (peek().kind != Token::BlockEnd)
      error("expected '%}', got " + describe(peek()));
    ++pos;
  }

  //===--------------------------------------------------------------------===//
  // Statements
  //===--------------------------------------------------------------------===//

  /// Statements up to a {% tag %} whose name is in `stops` (left unread, after
  /// its "{%"), or the end of the template when `stops` is empty.
  Body parseBody(const std::set<std::string> &stops) {
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

  StmtPtr parseStatement() {
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
      return std::make_unique<Stmt>(
          tag == "break" ? Stmt::Break : Stmt::Continue, t.line);
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
        "elif",   "else",     "endif",        "endfor",
        "endset", "endmacro", "endgeneration"};
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

  StmtPtr parseIf(int line) {
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

  StmtPtr parseFor(int line) {
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

  StmtPtr parseSet(int line) {
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

  StmtPtr parseMacro(int line) {
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

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  ExprPtr make(Expr::Kind kind, int line) {
    return std::make_unique<Expr>(kind, line);
  }

  /// An expression, or a tuple "a, b" (a list) where jinja2 allows one.
  ExprPtr parseTuple(bool allowConditional = true) {
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

  ExprPtr parseExpression() {
    int line = peek().line;
    ExprPtr value = parseOr();
    while (acceptName("if")) {
      auto e = make(Expr::Conditional, line);
      e->args.push_back(std::move(value));
      e->args.push_back(parseOr());
      e->args.push_back(acceptName("else") ? parseExpression() : nullptr);
      value = std::move(e);
    }
    return value;
  }

  ExprPtr binary(Expr::Kind kind, std::string op, ExprPtr left, ExprPtr right,
                 int line) {
    auto e = make(kind, line);
    e->name = std::move(op);
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parseOr() {
    ExprPtr left = parseAnd();
    while (isName("or")) {
      int line = next().line;
      left = binary(Expr::Or, "or", std::move(left), parseAnd(), line);
    }
    return left;
  }

  ExprPtr parseAnd() {
    ExprPtr left = parseNot();
    while (isName("and")) {
      int line = next().line;
      left = binary(Expr::And, "and", std::move(left), parseNot(), line);
    }
    return left;
  }

  ExprPtr parseNot() {
    if (isName("not")) {
      auto e = make(Expr::Unary, next().line);
      e->name = "not";
      e->args.push_back(parseNot());
      return e;
    }
    return parseCompare();
  }

  ExprPtr parseCompare() {
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
    }
  }

  ExprPtr parseMath1() {
    ExprPtr left = parseConcat();
    while (isOp("+") || isOp("-")) {
      const Token &t = next();
      left =
          binary(Expr::Binary, t.text, std::move(left), parseConcat(), t.line);
    }
    return left;
  }

  ExprPtr parseConcat() {
    ExprPtr left = parseMath2();
    while (isOp("~")) {
      int line = next().line;
      left = binary(Expr::Binary, "~", std::move(left), parseMath2(), line);
    }
    return left;
  }

  ExprPtr parseMath2() {
    ExprPtr left = parsePow();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      const Token &t = next();
      left = binary(Expr::Binary, t.text, std::move(left), parsePow(), t.line);
    }
    return left;
  }

  ExprPtr parsePow() {
    ExprPtr left = parseUnary(true);
    while (isOp("**")) {
      int line = next().line;
      left =
          binary(Expr::Binary, "**", std::move(left), parseUnary(true), line);
    }
    return left;
  }

  ExprPtr parseUnary(bool withFilter) {
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

  ExprPtr parsePrimary() {
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

  ExprPtr parsePostfix(ExprPtr node) {
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
    }
  }

  ExprPtr parseSubscript(ExprPtr target, int line) {
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

  /// "(" args ")" into `call` (positional after args[0], keywords).
  void parseArgs(Expr &call) {
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

  ExprPtr parseCall(ExprPtr callee) {
    auto e = make(Expr::Call, peek().line);
    e->args.push_back(std::move(callee));
    parseArgs(*e);
    return e;
  }

  ExprPtr parseFilterExpr(ExprPtr node) {
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
    }
  }
};

} // namespace

Body parse(const std::vector<Token> &tokens, const std::string &name) {
  return Parser(tokens, name).parseTemplate();
}

} // namespace moela::jinja
