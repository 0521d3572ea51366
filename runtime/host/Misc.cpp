//===- Misc.cpp - Embedding, row gather, argmax, next tokens, concat -----===//
#include "Kernels.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>

namespace moela::host {

void embedding(CIMat tokens, const Weight &embed, Mat h) {
  for (int64_t t = 0; t < tokens.rows; ++t) {
    const int32_t id = *tokens.row(t);
    if (id < 0 || id >= embed.rows)
      fail("token id ", id, " at row ", t, " out of range [0, ", embed.rows,
           ") (vocab size)");
  }
  parallelFor(tokens.rows, std::max<int64_t>(1, 8192 / embed.cols),
              [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t) {
                  embed.toF32(*tokens.row(t), 1, 0, embed.cols, h.row(t),
                              embed.cols);
                }
              });
}

void embeddingShard(CIMat tokens, const Weight &embed, int64_t firstRow,
                    int64_t vocab, Mat h) {
  for (int64_t t = 0; t < tokens.rows; ++t) {
    const int32_t id = *tokens.row(t);
    if (id < 0 || id >= vocab)
      fail("token id ", id, " at row ", t, " out of range [0, ", vocab,
           ") (vocab size)");
  }
  parallelFor(tokens.rows, std::max<int64_t>(1, 8192 / embed.cols),
              [&](int64_t begin, int64_t end) {
                for (int64_t t = begin; t < end; ++t) {
                  const int64_t local = *tokens.row(t) - firstRow;
                  float *dst = h.row(t);
                  if (local < 0 || local >= embed.rows) { // another rank's
                    std::fill(dst, dst + embed.cols, 0.0f);
                    continue;
                  }
                  embed.toF32(local, 1, 0, embed.cols, dst, embed.cols);
                }
              });
}

void gatherRows(CMat x, CIMat rows, Mat y) {
  for (int64_t i = 0; i < rows.rows; ++i) {
    const int32_t r = *rows.row(i);
    if (r < 0 || r >= x.rows)
      fail("row index ", r, " at ", i, " out of range [0, ", x.rows, ")");
  }
  for (int64_t i = 0; i < rows.rows; ++i) {
    const float *src = x.row(*rows.row(i));
    std::copy(src, src + x.cols, y.row(i));
  }
}

void argmax(CMat logits, IMat ids) {
  for (int64_t r = 0; r < logits.rows; ++r) {
    const float *row = logits.row(r);
    int64_t best = 0;
    for (int64_t i = 1; i < logits.cols; ++i)
      if (row[i] > row[best]) // strict: the first index wins ties
        best = i;
    *ids.row(r) = int32_t(best);
  }
}

void nextTokens(CIMat tokens, CIMat positions, CIMat seqIds, CIMat logitRows,
                CIMat ids, IMat next) {
  const int64_t T = tokens.rows;
  for (int64_t t = 0; t < T; ++t) {
    int32_t v = *tokens.row(t);
    if (t + 1 < T && *seqIds.row(t + 1) == *seqIds.row(t) &&
        *positions.row(t + 1) == *positions.row(t) + 1) {
      v = *tokens.row(t + 1);
    } else {
      for (int64_t r = 0; r < logitRows.rows; ++r)
        if (*logitRows.row(r) == t)
          v = *ids.row(r);
    }
    *next.row(t) = v;
  }
}

void concat(CMat a, CMat b, Mat ab) {
  for (int64_t t = 0; t < a.rows; ++t) {
    std::copy(a.row(t), a.row(t) + a.cols, ab.row(t));
    std::copy(b.row(t), b.row(t) + b.cols, ab.row(t) + a.cols);
  }
}

} // namespace moela::host
