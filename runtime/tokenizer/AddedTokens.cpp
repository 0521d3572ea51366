//===- AddedTokens.cpp - Finding added tokens in raw text -----------------===//
#include "AddedTokens.h"

namespace moela {

static uint64_t edgeKey(uint32_t node, unsigned char byte) {
  return (static_cast<uint64_t>(node) << 8) | byte;
}

void AddedTokenMatcher::add(std::string_view content, int32_t id) {
  if (content.empty())
    return;
  uint32_t node = 0;
  for (char c : content) {
    auto byte = static_cast<unsigned char>(c);
    auto [it, inserted] = edges.emplace(edgeKey(node, byte),
                                        static_cast<uint32_t>(terminal.size()));
    if (inserted)
      terminal.push_back(-1);
    node = it->second;
  }
  terminal[node] = id;
  startsToken[static_cast<unsigned char>(content[0])] = true;
}

bool AddedTokenMatcher::find(std::string_view text, size_t from,
                             Match &match) const {
  if (empty())
    return false;
  for (size_t start = from; start < text.size(); ++start) {
    if (!startsToken[static_cast<unsigned char>(text[start])])
      continue;
    uint32_t node = 0;
    int32_t bestId = -1;
    size_t bestLength = 0;
    for (size_t i = start; i < text.size(); ++i) {
      auto it = edges.find(edgeKey(node, static_cast<unsigned char>(text[i])));
      if (it == edges.end())
        break;
      node = it->second;
      if (terminal[node] >= 0) {
        bestId = terminal[node];
        bestLength = i + 1 - start;
      }
    }
    if (bestId >= 0) {
      match = {start, bestLength, bestId};
      return true;
    }
  }
  return false;
}

} // namespace moela
