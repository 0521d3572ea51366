//===- Parser.h - Jinja tokens to a syntax tree ---------------------------===//
//
// Private to the runtime. Recursive descent with jinja2's precedence (lowest
// first): conditional `a if c else b`, or, and, not, comparisons and (not) in,
// + -, ~, * / // %, **, unary - +, then postfix: .attr, [index], [a:b:c],
// calls, | filters and `is` tests. Statements: if/elif/else, for (with an
// `if` filter, else, break, continue), set (names, ns.attr, blocks), macro,
// and generation blocks. Anything else (extends, include, import, raw, call,
// filter blocks, ...) is one error naming the line and the construct.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_PARSER_H
#define MOELA_RUNTIME_JINJA_PARSER_H

#include "Ast.h"
#include "Lexer.h"

#include <string>
#include <vector>

namespace moela::jinja {

/// The statements of a template, from lex()'s tokens. `name` prefixes errors:
/// "name:7: unknown tag 'include' (not supported by moela's Jinja subset)".
Body parse(const std::vector<Token> &tokens, const std::string &name);

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_PARSER_H
