//===- IntervalIndex.h - Which stored intervals overlap a query -----------===//
//
// The memory planner asks, for every buffer it places, which already placed
// buffers are alive at the same time. Scanning them all is quadratic in the
// number of buffers (so in the number of layers); this segment tree over op
// indices answers in O(log T + k) for k overlaps. Each interval is kept at its
// canonical nodes (`own`) and listed at their ancestors (`below`), so a node
// that lies inside the query reports all intervals stored beneath it at once.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_PASSES_INTERVALINDEX_H
#define MOELA_PASSES_INTERVALINDEX_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moela {

class IntervalIndex {
public:
  /// Points are integers in [lo, hi].
  IntervalIndex(int64_t lo, int64_t hi)
      : lo(lo), hi(hi), own(4 * (hi - lo + 1)), below(4 * (hi - lo + 1)) {}

  /// Stores `id` for the closed interval [first, last].
  void insert(int64_t first, int64_t last, int64_t id) {
    insert(1, lo, hi, first, last, id);
  }

  /// Appends the id of every stored interval that overlaps [first, last]
  /// to `out`, each once; `seen` (indexed by id) must be all different from
  /// `stamp`, which marks the ids reported.
  void overlapping(int64_t first, int64_t last, std::vector<int64_t> &seen,
                   int64_t stamp, std::vector<int64_t> &out) const {
    query(1, lo, hi, first, last, seen, stamp, out);
  }

private:
  void insert(size_t node, int64_t nodeLo, int64_t nodeHi, int64_t first,
              int64_t last, int64_t id) {
    if (last < nodeLo || nodeHi < first)
      return;
    if (first <= nodeLo && nodeHi <= last) {
      own[node].push_back(id);
      return;
    }
    below[node].push_back(id); // a descendant will own it
    int64_t mid = nodeLo + (nodeHi - nodeLo) / 2;
    insert(2 * node, nodeLo, mid, first, last, id);
    insert(2 * node + 1, mid + 1, nodeHi, first, last, id);
  }

  static void report(const std::vector<int64_t> &ids,
                     std::vector<int64_t> &seen, int64_t stamp,
                     std::vector<int64_t> &out) {
    for (int64_t id : ids)
      if (seen[id] != stamp) {
        seen[id] = stamp;
        out.push_back(id);
      }
  }

  void query(size_t node, int64_t nodeLo, int64_t nodeHi, int64_t first,
             int64_t last, std::vector<int64_t> &seen, int64_t stamp,
             std::vector<int64_t> &out) const {
    if (last < nodeLo || nodeHi < first)
      return;
    report(own[node], seen, stamp, out); // they cover this node
    if (first <= nodeLo && nodeHi <= last) {
      report(below[node], seen, stamp, out);
      return;
    }
    int64_t mid = nodeLo + (nodeHi - nodeLo) / 2;
    query(2 * node, nodeLo, mid, first, last, seen, stamp, out);
    query(2 * node + 1, mid + 1, nodeHi, first, last, seen, stamp, out);
  }

  int64_t lo, hi;
  std::vector<std::vector<int64_t>> own, below;
};

} // namespace moela

#endif // MOELA_PASSES_INTERVALINDEX_H
