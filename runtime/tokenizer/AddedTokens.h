//===- AddedTokens.h - Finding added tokens in raw text -------------------===//
//
// Private to the runtime. Added tokens (<｜User｜>, <｜end▁of▁sentence｜>, ...)
// are cut out of the raw text before pre-tokenization: leftmost match first,
// the longest token among those starting there, like Hugging Face's
// LeftmostLongest Aho-Corasick. A byte trie is enough: there are few tokens
// and candidate start bytes are rare in ordinary text.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_ADDEDTOKENS_H
#define MOELA_RUNTIME_ADDEDTOKENS_H

#include <array>
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moela {

class AddedTokenMatcher {
public:
  struct Match {
    size_t start = 0;
    size_t length = 0;
    int32_t id = -1;
  };

  /// Registers `content` (non-empty) as token `id`; a later duplicate wins.
  void add(std::string_view content, int32_t id);

  /// Finds the leftmost, then longest, token occurrence in `text` at or
  /// after byte `from`.
  bool find(std::string_view text, size_t from, Match &match) const;

  bool empty() const { return terminal.size() <= 1; }

private:
  // Node 0 is the root; edges are keyed by (node << 8 | byte).
  std::unordered_map<uint64_t, uint32_t> edges;
  std::vector<int32_t> terminal{-1}; // token id ending at each node, or -1
  std::array<bool, 256> startsToken{};
};

} // namespace moela

#endif // MOELA_RUNTIME_ADDEDTOKENS_H
