//===- moela-tokenize.cpp - Encode / decode with the DeepSeek-V3 tokenizer ===//
//
//   moela-tokenize [--bos] < text                 prints [ids]
//   moela-tokenize --text "Hello" [--bos]         prints [ids]
//   moela-tokenize --decode < [ids]               prints the text
//   moela-tokenize --jsonl [--bos]                "text" lines -> [ids] lines
//   moela-tokenize --jsonl --decode               [ids] lines -> "text" lines
//
// plus --tokenizer DIR, which defaults to $MOELA_TOKENIZER, else the
// DeepSeek-V3 tokenizer bundled with moela (as moela-run finds it). Errors
// print "moela-tokenize: <message>" on stderr and exit with status 1.
//
//===----------------------------------------------------------------------===//
#include "cli/Cli11.h"
#include "cli/Version.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Tokenizer.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

/// `text` as JSON; a parse error names `where`.
json parseJson(const std::string &text, const std::string &where) {
  try {
    return json::parse(text);
  } catch (const json::parse_error &e) {
    moela::fail(where, "invalid JSON: ", e.what());
  }
}

std::vector<moela::TokenId> parseIds(const std::string &text,
                                     const std::string &where) {
  const json value = parseJson(text, where);
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
  const json value = parseJson(line, where);
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
      "Reads stdin (or --text), writes stdout. Without --jsonl the whole "
      "input is one\ntext (or, with --decode, one JSON array of ids). With "
      "--jsonl each line is a\nJSON string (with --decode a JSON array of "
      "ids) and gives one output line."};
  app.option_defaults()->always_capture_default();
  // --tokenizer, else $MOELA_TOKENIZER, else the bundled tokenizer.
  std::string dir;
  if (const char *env = std::getenv("MOELA_TOKENIZER"))
    dir = env;
  else if (std::filesystem::exists(
               std::filesystem::path(MOELA_DEFAULT_TOKENIZER) /
               "tokenizer.json"))
    dir = MOELA_DEFAULT_TOKENIZER;
  std::optional<std::string> text;
  bool jsonl = false, decode = false, bos = false;
  app.add_option("--tokenizer", dir,
                 "Directory with tokenizer.json (+ tokenizer_config.json); "
                 "default $MOELA_TOKENIZER, else the bundled DeepSeek-V3 "
                 "tokenizer")
      ->check(CLI::ExistingDirectory)
      ->group("Tokenizer");
  auto *textOption =
      app.add_option("--text", text,
                     "The input itself instead of stdin (with --decode, a "
                     "JSON array of ids)")
          ->group("Input and output");
  app.add_flag("--jsonl", jsonl, "One JSON value per input and output line")
      ->excludes(textOption)
      ->group("Input and output");
  auto *decodeFlag =
      app.add_flag("--decode", decode, "Decode token ids to text")
          ->group("Input and output");
  app.add_flag("--bos", bos, "Prepend the BOS token id when encoding")
      ->excludes(decodeFlag)
      ->group("Tokenizer");
  if (std::optional<int> exit =
          moela::cli::parseCommandLine(app, argc, argv, "moela-tokenize", [] {
            return moela::cli::versionText("moela-tokenize");
          }))
    return *exit;

  try {
    if (dir.empty())
      moela::fail("no tokenizer: pass --tokenizer DIR or set MOELA_TOKENIZER "
                  "(the bundled one, " MOELA_DEFAULT_TOKENIZER ", is missing)");
    std::ios::sync_with_stdio(false);
    moela::Tokenizer tokenizer(dir);

    if (!jsonl) {
      std::string input =
          text ? *text
               : std::string{std::istreambuf_iterator<char>(std::cin),
                             std::istreambuf_iterator<char>()};
      if (decode)
        std::cout << tokenizer.decode(
            parseIds(input, text ? "--text: " : "stdin: "));
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
