//===- moela-tokenize.cpp - Encode / decode with the DeepSeek-V3 tokenizer ===//
//
//   moela-tokenize [--bos] < text                 prints [ids]
//   moela-tokenize --decode < [ids]               prints the text
//   moela-tokenize --jsonl [--bos]                "text" lines -> [ids] lines
//   moela-tokenize --jsonl --decode               [ids] lines -> "text" lines
//
// plus --tokenizer DIR, which defaults to $MOELA_TOKENIZER. Errors print
// "moela-tokenize: <message>" on stderr and exit with status 1.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Tokenizer.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

std::vector<moela::TokenId> parseIds(const std::string &text,
                                     const std::string &where) {
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error &e) {
    moela::fail(where, "invalid JSON: ", e.what());
  }
  if (!value.is_array())
    moela::fail(where, "expected a JSON array of token ids");
  std::vector<moela::TokenId> ids;
  ids.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const json &v = value[i];
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN ||
        v.get<int64_t>() > INT32_MAX)
      moela::fail(where, "element ", i, " is not a token id: ", v.dump());
    ids.push_back(static_cast<moela::TokenId>(v.get<int64_t>()));
  }
  return ids;
}

std::string parseText(const std::string &line, const std::string &where) {
  json value;
  try {
    value = json::parse(line);
  } catch (const json::parse_error &e) {
    moela::fail(where, "invalid JSON: ", e.what());
  }
  if (!value.is_string())
    moela::fail(where, "expected a JSON string");
  return value.get<std::string>();
}

std::string dumpIds(const std::vector<moela::TokenId> &ids) {
  return json(ids).dump();
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{
      "Encode text to DeepSeek-V3 token ids or decode ids to text.\n"
      "Reads stdin, writes stdout. Without --jsonl all of stdin is one "
      "text\n(or, with --decode, one JSON array of ids). With --jsonl "
      "each line is a\nJSON string (with --decode a JSON array of ids) "
      "and gives one output line."};
  std::string dir;
  if (const char *env = std::getenv("MOELA_TOKENIZER"))
    dir = env;
  bool jsonl = false, decode = false, bos = false;
  app.add_option("--tokenizer", dir,
                 "Directory with tokenizer.json (+ tokenizer_config.json), "
                 "e.g. models/tokenizer/deepseek-v3; default: $MOELA_TOKENIZER")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--jsonl", jsonl, "One JSON value per input and output line");
  auto *decodeFlag =
      app.add_flag("--decode", decode, "Decode token ids to text");
  app.add_flag("--bos", bos, "Prepend the BOS token id when encoding")
      ->excludes(decodeFlag);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    std::cerr << "moela-tokenize: " << e.what() << "\n";
    return 1;
  }

  try {
    if (dir.empty())
      moela::fail("no tokenizer: pass --tokenizer DIR or set MOELA_TOKENIZER");
    std::ios::sync_with_stdio(false);
    moela::Tokenizer tokenizer(dir);

    if (!jsonl) {
      std::string input{std::istreambuf_iterator<char>(std::cin),
                        std::istreambuf_iterator<char>()};
      if (decode)
        std::cout << tokenizer.decode(parseIds(input, "stdin: "));
      else
        std::cout << dumpIds(tokenizer.encode(input, bos)) << "\n";
      return std::cout.flush() ? 0 : 1;
    }

    std::string line;
    for (size_t number = 1; std::getline(std::cin, line); ++number) {
      std::string where = "line " + std::to_string(number) + ": ";
      try {
        if (decode)
          std::cout << json(tokenizer.decode(parseIds(line, where))).dump()
                    << "\n";
        else
          std::cout << dumpIds(tokenizer.encode(parseText(line, where), bos))
                    << "\n";
      } catch (const moela::Error &e) {
        // Name the line for tokenizer errors too (bad ids, invalid UTF-8).
        std::string message = e.what();
        if (message.compare(0, where.size(), where) != 0)
          message = where + message;
        throw moela::Error(message);
      }
    }
    return std::cout.flush() ? 0 : 1;
  } catch (const std::exception &e) {
    std::cerr << "moela-tokenize: " << e.what() << "\n";
    return 1;
  }
}
