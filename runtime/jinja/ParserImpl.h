//===- ParserImpl.h - The parser's state, shared by its two files ---------===//
//
// Private to the Jinja parser: Parser.cpp parses statements, ParseExpr.cpp
// expressions; parse() in Parser.h is the entry.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_PARSERIMPL_H
#define MOELA_RUNTIME_JINJA_PARSERIMPL_H

#include "Ast.h"
#include "Lexer.h"

#include "moela/Runtime/Error.h"

#include <set>
#include <string>
#include <vector>

namespace moela::jinja {

class Parser {
public:
  Parser(const std::vector<Token> &tokens, const std::string &name)
      : tokens(tokens), name(name) {}

  Body parseTemplate();

private:
  const std::vector<Token> &tokens;
  const std::string &name;
  size_t pos = 0;
  int depth = 0; // of nested blocks and expressions

  /// Bounds the recursion, so that a template of 100,000 "(" is an error
  /// rather than a stack overflow, and the depth of the tree that loops build
  /// (a chain "a ~ b ~ c ..." is a tree as deep as it is long, which
  /// rendering and freeing walk recursively): each nested construct, and
  /// each link of a chain (levels 0, then deeper()), counts one.
  struct Nesting {
    Parser &p;
    int levels = 0;
    explicit Nesting(Parser &p, int levels = 1) : p(p) {
      for (int i = 0; i < levels; ++i)
        deeper();
    }
    void deeper() {
      ++levels;
      if (++p.depth > kMaxNesting)
        p.error("nested more than " + std::to_string(kMaxNesting) + " deep");
    }
    ~Nesting() { p.depth -= levels; }
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

  /// A token as an error message quotes it: 'name', or its kind.
  std::string describe(const Token &t) const;

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

  // Statements (Parser.cpp).
  /// Statements up to a {% tag %} whose name is in `stops` (left unread, after
  /// its "{%"), or the end of the template when `stops` is empty.
  Body parseBody(const std::set<std::string> &stops);
  StmtPtr parseStatement();
  StmtPtr parseIf(int line);
  StmtPtr parseFor(int line);
  StmtPtr parseSet(int line);
  StmtPtr parseMacro(int line);

  // Expressions (ParseExpr.cpp).
  ExprPtr make(Expr::Kind kind, int line);
  /// An expression, or a tuple "a, b" (a list) where jinja2 allows one.
  ExprPtr parseTuple(bool allowConditional = true);
  ExprPtr parseExpression();
  ExprPtr binary(Expr::Kind kind, std::string op, ExprPtr left, ExprPtr right,
                 int line);
  ExprPtr parseOr();
  ExprPtr parseAnd();
  ExprPtr parseNot();
  ExprPtr parseCompare();
  ExprPtr parseMath1();
  ExprPtr parseConcat();
  ExprPtr parseMath2();
  ExprPtr parsePow();
  ExprPtr parseUnary(bool withFilter);
  ExprPtr parsePrimary();
  ExprPtr parsePostfix(ExprPtr node);
  ExprPtr parseSubscript(ExprPtr target, int line);
  /// "(" args ")" into `call` (positional after args[0], keywords).
  void parseArgs(Expr &call);
  ExprPtr parseCall(ExprPtr callee);
  ExprPtr parseFilterExpr(ExprPtr node);
};

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_PARSERIMPL_H
