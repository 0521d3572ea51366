//===- IdArrays.cpp - Token-id files: --prompt-ids and --teacher-force ----===//
#include "run/IdArrays.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"

#include <nlohmann/json.hpp>

#include <climits>
#include <fstream>
#include <sstream>

using json = nlohmann::json;

namespace moela::runtool {

std::vector<std::vector<int32_t>> parseIdArrays(std::string_view text,
                                                const std::string &path,
                                                const char *what) {
  json doc = parseJson(text, path); // bounded depth, moela's errors
  if (!doc.is_array() || doc.empty())
    fail(path, ": ", what, " must be a JSON array of arrays of token ids");
  std::vector<std::vector<int32_t>> rows;
  for (size_t b = 0; b < doc.size(); ++b) {
    if (!doc[b].is_array())
      fail(path, ": element ", b, " is not an array of token ids");
    std::vector<int32_t> row;
    for (const json &id : doc[b]) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > INT32_MAX)
        fail(path, ": element ", b, " holds ", id.dump(), ", not a token id");
      row.push_back(id.get<int32_t>());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::vector<int32_t>> readIdArrays(const std::string &path,
                                               const char *what) {
  std::ifstream in(path);
  if (!in)
    fail(path, ": cannot open ", what);
  std::ostringstream text;
  text << in.rdbuf();
  return parseIdArrays(text.str(), path, what);
}

} // namespace moela::runtool
