//===- JinjaTest.cpp - moela's Jinja interpreter --------------------------===//
//
// The interpreter's features one by one, with the outputs jinja2 3.1 gives
// for the same template in transformers' environment (trim_blocks,
// lstrip_blocks, loopcontrols, its tojson), and its error messages: bad
// syntax and unsupported constructs name the template's line.
//
//===----------------------------------------------------------------------===//
#include "jinja/Template.h"

#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>

using moela::jinja::Json;
using moela::jinja::Template;

namespace {

std::string render(const std::string &source, const Json &context = {}) {
  return Template(source, "t.jinja")
      .render(context.is_null() ? Json::object() : context);
}

/// The message of the moela::Error `fn` throws ("" if none).
template <typename Fn> std::string errorOf(Fn fn) {
  try {
    fn();
  } catch (const moela::Error &e) {
    return e.what();
  }
  return "";
}

std::string renderError(const std::string &source,
                        const Json &context = Json::object()) {
  return errorOf([&] { render(source, context); });
}

const Json kMessages = {{"messages",
                         {{{"role", "user"}, {"content", "hi"}},
                          {{"role", "assistant"}, {"content", "yo"}},
                          {{"role", "user"}, {"content", "é"}}}}};

// Expected outputs come from jinja2 3.1.6 (ImmutableSandboxedEnvironment,
// trim_blocks and lstrip_blocks, transformers' tojson), context kMessages.
const std::pair<const char *, const char *> kCases[] = {
    {"{{ 1 + 2 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 / 2 }}|{{ 7 % 3 }}|{{ -7 % 3 "
     "}}|{{ 2 ** 10 }}|{{ 1.5 * 2 }}|{{ 0.1 + 0.2 }}|{{ 1e20 }}|{{ 1e-5 }}|{{ "
     "10 / 4 }}",
     "3|3|-4|3.5|1|2|1024|3.0|0.30000000000000004|1e+20|1e-05|2.5"},
    {"{{ 'a' ~ 1 ~ none ~ true }}|{{ [1, 'a', none, true, 1.0] }}|{{ {'a': 1, "
     "'b': [2]} }}|{{ none }}|{{ undefined_thing }}|{{ \"it's\" }}|{{ "
     "['it\\'s'] }}",
     "a1NoneTrue|[1, 'a', None, True, 1.0]|{'a': 1, 'b': "
     "[2]}|None||it's|[\"it's\"]"},
    {"{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{% endfor %}|{{ "
     "x }}",
     "00|0"},
    {"{% for i in [] %}x{% else %}empty{% endfor %}|{% for i in range(3) %}{{ "
     "loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ "
     "loop.length }}{{ loop.revindex }},{% endfor %}",
     "empty|10TrueFalse33,21FalseFalse32,32FalseTrue31,"},
    {"{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i "
     "> 4 %}{% break %}{% endif %}{{ i }}{% endfor %}",
     "0134"},
    {"{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor "
     "%}|{% for k, v in {'b': 1, 'a': 2}|items %}{{ k }}={{ v }};{% endfor "
     "%}|{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}",
     "b=1;a=2;|b=1;a=2;|ba"},
    {"{{ '  ab  '|trim }}|{{ 'ab'|upper }}{{ 'AB'|lower }}|{{ [1,2,3]|length "
     "}}{{ 'héllo'|length }}|{{ [1,2]|join(',') }}|{{ x|default('d') }}|{{ "
     "''|default('d', true) }}|{{ [3,1]|first }}{{ [3,1]|last }}|{{ "
     "'aXbX'|replace('X', '-') }}",
     "ab|ABab|35|1,2|d|d|31|a-b-"},
    {"{{ {'a': 'é', 'b': [1, 2.5, none, true], 'c': {'d': 'x\"y\\n'}}|tojson "
     "}}|{{ [1,2]|tojson(indent=2) }}|{{ {'b':1,'a':2}|tojson(sort_keys=true) "
     "}}|{{ {}|tojson }}|{{ []|tojson(indent=2) }}",
     "{\"a\": \"é\", \"b\": [1, 2.5, null, true], \"c\": {\"d\": "
     "\"x\\\"y\\n\"}}|[\n  1,\n  2\n]|{\"a\": 2, \"b\": 1}|{}|[]"},
    {"{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', "
     "1) }}|{{ 'a b c'.rsplit(' ', 1) }}|{{ '  x '.strip() }}|{{ "
     "'xxaxx'.strip('x') }}|{{ 'abc'.startswith('a') }}{{ "
     "'abc'.endswith(('c','d')) }}|{{ 'Abc'.upper() }}{{ 'Abc'.lower() }}",
     "['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']|['a b', "
     "'c']|x|a|TrueTrue|ABCabc"},
    {"{{ 'hello'[1:3] }}|{{ 'hello'[::-1] }}|{{ [1,2,3,4][-2:] }}|{{ "
     "[1,2,3][-1] }}|{{ 'héllo'[1] }}|{{ [1,2,3][5] }}|{{ 'abc'[:-1] }}|{{ "
     "[1,2,3,4,5][::2] }}",
     "el|olleh|[3, 4]|3|é||ab|[1, 3, 5]"},
    {"{% if x is defined %}d{% else %}u{% endif %}|{{ none is none }}{{ 'a' is "
     "string }}{{ {} is mapping }}{{ [] is iterable }}{{ 1 is number }}{{ 'a' "
     "is not mapping }}{{ 3 is odd }}{{ 4 is divisibleby 2 }}{{ x is undefined "
     "}}",
     "u|TrueTrueTrueTrueTrueTrueTrueTrueTrue"},
    {"{% set ns = namespace(a=1, b='x') %}{% set ns.a = ns.a + 1 %}{% for i in "
     "[1,2] %}{% set ns.b = ns.b ~ i %}{% endfor %}{{ ns.a }}{{ ns.b }}",
     "2x12"},
    {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro "
     "%}{{ greet('A') }}|{{ greet('B', punct='?') }}",
     "Hi A!|Hi B?"},
    {"{{ 1 if true else 2 }}|{{ 1 if false else 2 }}|{{ 'x' if false }}|{{ 1 "
     "and 2 }}|{{ 0 or 'b' }}|{{ not 0 }}|{{ 1 < 2 < 3 }}|{{ 'a' in 'abc' }}{{ "
     "1 not in [1] }}{{ 'k' in {'k': 1} }}",
     "1|2||2|b|True|True|TrueFalseTrue"},
    {"a\n  {% if true %}\n    b\n  {% endif %}\n  c\n{# comment #}\n  d {{- ' "
     "e ' -}} f\n{%+ if true %}g{% endif +%}\nh",
     "a\n    b\n  c\n  d e f\ng\nh"},
    {"{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b') }}{{ {'a': 1}.get('b', 5) "
     "}}|{{ {'a': 1}.keys()|list }}{{ {'a': 1}.values()|list }}",
     "1None5|['a'][1]"},
    {"{% set t %}inner {{ 1 }}{% endset %}[{{ t }}]|{{ ['b','a','C']|sort "
     "}}|{{ [{'r':'u'},{'r':'s'}]|selectattr('r','equalto','s')|list }}|{{ "
     "[{'r':'u'},{'r':'s'}]|map(attribute='r')|join }}|{{ [1,0,2]|select|list "
     "}}",
     "[inner 1]|['a', 'b', 'C']|[{'r': 's'}]|us|[1, 2]"},
    {"{{ '%d'|length }}|{{ 3|string ~ 'x' }}|{{ '12'|int + 1 }}|{{ 'x'|int "
     "}}|{{ 2.7|int }}|{{ '1.5'|float }}|{{ -3|abs }}|{{ [1,2,3]|sum }}|{{ "
     "[3,1,2]|max }}{{ [3,1,2]|min }}|{{ [1,1,2]|unique|list }}",
     "2|3x|13|0|2|1.5|3|6|31|[1, 2]"},
    {"{%- for m in messages -%}\n  {{- m.role }}: {{ m['content'] -}}\n{% "
     "endfor %}",
     "user: hiassistant: youser: é"},
    {"{{ 'abc'.find('c') }}{{ 'abc'.count('b') }}{{ ', '.join(['a','b']) }}|{{ "
     "'a\\nb'.splitlines() }}|{{ 'hello world'.title() }}{{ "
     "'hello'.capitalize() }}|{{ '  x'.lstrip() }}{{ 'x  '.rstrip() }}|",
     "21a, b|['a', 'b']|Hello WorldHello|xx|"},
    {"{{ messages[0].content }}|{{ messages|length }}|{{ messages[-1]['role'] "
     "}}|{{ messages|selectattr('role', 'eq', 'user')|list|length }}",
     "hi|3|user|2"},
    {"{% for m in messages if m.role == 'user' %}{{ loop.index }}{{ m.content "
     "}}{% endfor %}",
     "1hi2é"},
    {"{{ 1 }}\n{% if true %}\nyes\n{% endif %}\n", "1\nyes\n"},
    {"x{# c #}\ny  {# c2 #}\nz", "xy  z"},
    {"{% for a in [1,2] %}{% for b in [3,4] %}{{ loop.index }}{{ a }}{{ b }} "
     "{% endfor %}{{ loop.index }}|{% endfor %}",
     "113 214 1|123 224 2|"},
    {"{{ (1, 2)|list|length }}|{{ [1,2][0:1] }}|{{ 'a' * 3 }}|{{ [1] + [2] "
     "}}|{{ 'x' + 'y' }}|{{ 3 - 5 }}|{{ -(3) }}|{{ 1 == 1.0 }}",
     "2|[1]|aaa|[1, 2]|xy|-2|-3|True"},
    {"{{ \"a\" \"b\" }}|{{ '\\u00e9\\t' }}|{{ [1, [2, 3]]|tojson }}|{{ {'x': "
     "1.0, 'y': 1e100, 'z': -0.0}|tojson }}|{{ {'a': [1, {'b': "
     "none}]}|tojson(indent=2) }}|{{ [1, 2]|tojson(separators=(',', ':')) }}",
     "ab|é\t|[1, [2, 3]]|{\"x\": 1.0, \"y\": 1e+100, \"z\": -0.0}|{\n  \"a\": "
     "[\n    1,\n    {\n      \"b\": null\n    }\n  ]\n}|[1,2]"},
    {"{%- if messages[0]['role'] == 'system' -%}{%- set sys = "
     "messages[0]['content'] -%}{%- set rest = messages[1:] -%}{%- else -%}{%- "
     "set sys = 'default' -%}{%- set rest = messages -%}{%- endif -%}[{{ sys "
     "}}]{% for m in rest %}<{{ m.role }}>{% endfor %}",
     "[default]<user><assistant><user>"},
    {"{% for m in messages %}{{ m.role|capitalize }}{{ ',' if not loop.last "
     "}}{% endfor %}|{{ messages|map(attribute='content')|join('/') }}",
     "User,Assistant,User|hi/yo/é"},
};

TEST(JinjaTest, MatchesJinja2) {
  for (const auto &[source, expected] : kCases) {
    try {
      EXPECT_EQ(render(source, kMessages), expected) << source;
    } catch (const moela::Error &e) {
      ADD_FAILURE() << source << ": " << e.what();
    }
  }
}

TEST(JinjaTest, WhitespaceControl) {
  // trim_blocks: the newline after a block tag goes, not after {{ }}.
  EXPECT_EQ(render("{% if true %}\nA\n{% endif %}\nB"), "A\nB");
  EXPECT_EQ(render("{{ 'x' }}\nB"), "x\nB");
  // lstrip_blocks: indentation before a block tag goes, not before {{ }}.
  EXPECT_EQ(render("  {% if true %}x{% endif %}\n  {{ 'y' }}"), "x  y");
  // "-" strips every whitespace character on its side; "+" keeps them.
  EXPECT_EQ(render("a  \n {{- 'b' -}} \n c"), "abc");
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
  // One trailing newline of the template is dropped; CRLF reads as LF.
  EXPECT_EQ(render("a\r\nb\n"), "a\nb");
}

TEST(JinjaTest, UndefinedBehavesLikeJinja2) {
  EXPECT_EQ(render("[{{ nothing }}]{% if nothing %}x{% endif %}"
                   "{% for i in nothing %}y{% endfor %}{{ nothing|length }}"),
            "[]0");
  EXPECT_EQ(render("{{ m['missing'] is defined }}{{ m.missing is none }}",
                   {{"m", Json::object()}}),
            "FalseFalse");
  EXPECT_EQ(renderError("{{ nothing.attr }}"),
            "t.jinja:1: 'nothing' is undefined (cannot read .attr)");
  EXPECT_EQ(renderError("\n{{ nothing + 1 }}"),
            "t.jinja:2: 'nothing' is undefined");
}

TEST(JinjaTest, SyntaxErrorsNameTheLine) {
  auto parseError = [](const std::string &source) {
    return errorOf([&] { Template(source, "chat.jinja"); });
  };
  EXPECT_EQ(parseError("ok\n{% if x %}\nno end"),
            "chat.jinja:3: missing {% endif %}: the template ended");
  EXPECT_EQ(parseError("a\n\n{% include 'other.jinja' %}"),
            "chat.jinja:3: {% include %} is not supported here (moela's Jinja "
            "subset: if, for, set, macro, break, continue, generation)");
  EXPECT_EQ(parseError("{% frobnicate %}"),
            "chat.jinja:1: unknown tag 'frobnicate'");
  EXPECT_EQ(parseError("{% endfor %}"),
            "chat.jinja:1: unexpected {% endfor %}: no open block takes it");
  EXPECT_EQ(parseError("x\n{{ 'unterminated }}"),
            "chat.jinja:2: unterminated string literal");
  EXPECT_EQ(parseError("{{ a +  }}"),
            "chat.jinja:1: unexpected '}}' in an expression");
  EXPECT_EQ(parseError("{{ a b }}"), "chat.jinja:1: expected '}}', got 'b'");
  EXPECT_EQ(parseError("\n\n{{ x "),
            "chat.jinja:3: unclosed {{ (no }} follows)");
  EXPECT_EQ(parseError("{# never closed"),
            "chat.jinja:1: unclosed comment {# (no #} follows)");
  EXPECT_EQ(parseError("{{ x | }}"), "chat.jinja:1: expected a name, got '}}'");
  EXPECT_EQ(parseError("{% for x in xs recursive %}{% endfor %}"),
            "chat.jinja:1: recursive loops are not supported");
  EXPECT_EQ(parseError("{{ f(*args) }}"),
            "chat.jinja:1: *args and **kwargs are not supported");
  EXPECT_EQ(parseError("{{ 'a' @ 'b' }}"),
            "chat.jinja:1: unexpected character '@' in a tag");
  EXPECT_EQ(parseError("{{ " + std::string(1000, '(') + "1" +
                       std::string(1000, ')') + " }}"),
            "chat.jinja:1: nested more than 200 deep");
  // A chain is a tree as deep as it is long: 100,000 links were a stack
  // overflow when rendered or freed (found by test/fuzz/chat_template).
  auto chain = [](const std::string &head, const std::string &link) {
    std::string text = "{{ " + head;
    for (int i = 0; i < 100000; ++i)
      text += link;
    return text + " }}";
  };
  for (const auto &[head, link] :
       std::vector<std::pair<std::string, std::string>>{{"x", "[0]"},
                                                        {"x", ".a"},
                                                        {"x", "|upper"},
                                                        {"1", " + 1"},
                                                        {"1", " ~ 1"},
                                                        {"1", " and 1"},
                                                        {"1", " == 1"},
                                                        {"2", " ** 1"},
                                                        {"1", " if 1 else 1"}})
    EXPECT_EQ(parseError(chain(head, link)),
              "chat.jinja:1: nested more than 200 deep")
        << head << link;
  std::string nots = "{{ ";
  for (int i = 0; i < 100000; ++i)
    nots += "not ";
  EXPECT_EQ(parseError(nots + "1 }}"),
            "chat.jinja:1: nested more than 200 deep");
  EXPECT_EQ(parseError("{{ 1e999 }}"),
            "chat.jinja:1: float literal 1e999 is out of range");
  EXPECT_EQ(parseError("{{ '\\uzzzz' }}"),
            "chat.jinja:1: bad \\u escape in a string");
}

TEST(JinjaTest, RuntimeErrorsNameTheLine) {
  EXPECT_EQ(renderError("line 1\n{{ 'a' + 1 }}"),
            "t.jinja:2: unsupported operand types for +: string and integer");
  EXPECT_EQ(renderError("{{ x|frobnicate }}"),
            "t.jinja:1: unknown filter 'frobnicate'");
  EXPECT_EQ(renderError("{{ x is frobnicated }}"),
            "t.jinja:1: unknown test 'frobnicated'");
  EXPECT_EQ(renderError("{{ 'abc'.frobnicate() }}"),
            "t.jinja:1: unknown string method 'frobnicate'");
  EXPECT_EQ(renderError("{{ undefined_function(1) }}"),
            "t.jinja:1: 'undefined_function' is undefined (no such function)");
  EXPECT_EQ(renderError("{% set x = 1 %}\n{% set x.y = 2 %}"),
            "t.jinja:2: cannot set .y of 'x' (a integer): only a namespace() "
            "has attributes");
  EXPECT_EQ(renderError("{{ messages.append(1) }}", kMessages),
            "t.jinja:1: cannot call .append() on a list: templates may not "
            "modify values (transformers renders in an immutable sandbox)");
  EXPECT_EQ(renderError("{% for a, b in [1] %}{% endfor %}"),
            "t.jinja:1: cannot unpack a integer into 2 names");
  EXPECT_EQ(renderError("{{ 1 // 0 }}"),
            "t.jinja:1: integer division or modulo by zero");
  EXPECT_EQ(renderError("{{ [1]|tojson(ensure_ascii=true) }}"),
            "t.jinja:1: tojson: ensure_ascii=True is not supported");
  EXPECT_EQ(renderError("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"),
            "t.jinja:1: macro 'f' recursed more than 256 deep");
  EXPECT_EQ(renderError("{% break %}"), "t.jinja:1: break outside a for loop");
  // Limits where Python would grow without bound.
  EXPECT_EQ(renderError("{{ 2 ** 62 * 4 }}"),
            "t.jinja:1: integer overflow in '*'");
  EXPECT_EQ(renderError("{{ 3 ** 100 }}"),
            "t.jinja:1: integer overflow in '**'");
  EXPECT_EQ(render("{{ 2 ** 62 }}|{{ '' * 1000000000000 }}|{{ 'ab' * 2 }}"),
            "4611686018427387904||abab");
  EXPECT_EQ(renderError("{{ 'ab' * 100000000 }}"),
            "t.jinja:1: '*' would make more than 16777216 bytes");
  // Doubling a string in a loop stops at the same bound (was 2^40 bytes).
  EXPECT_EQ(renderError("{% set ns = namespace(s='x') %}{% for i in range(40) "
                        "%}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"),
            "t.jinja:1: '~' would make more than 16777216 bytes");
  EXPECT_EQ(renderError("{% set ns = namespace(s='x') %}{% for i in range(40) "
                        "%}{% set ns.s = ns.s + ns.s %}{% endfor %}"),
            "t.jinja:1: '+' would make more than 16777216 bytes");
  EXPECT_EQ(renderError("{% set ns = namespace(s=[1]) %}{% for i in range(40) "
                        "%}{% set ns.s = ns.s + ns.s %}{% endfor %}"),
            "t.jinja:1: '+' would make more than 16777216 items");
  EXPECT_EQ(renderError("{{ range(200000)|length }}"),
            "t.jinja:1: range too big (more than 100000 items)");
  // raise_exception is the template's own message, alone.
  EXPECT_EQ(renderError("{{ raise_exception('Only user and assistant roles "
                        "are supported!') }}"),
            "Only user and assistant roles are supported!");
}

TEST(JinjaTest, Globals) {
  EXPECT_EQ(render("{{ range(3)|list }}{{ range(1, 7, 2)|join(',') }}"),
            "[0, 1, 2]1,3,5");
  EXPECT_EQ(render("{{ dict(a=1, b='x') }}"), "{'a': 1, 'b': 'x'}");
  EXPECT_EQ(render("{{ strftime_now('%Y')|length }}"), "4");
  EXPECT_EQ(render("{% generation %}kept{% endgeneration %}"), "kept");
}

} // namespace
