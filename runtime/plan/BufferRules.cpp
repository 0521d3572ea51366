//===- BufferRules.cpp - Every buffer's size proven before allocation -----===//
//
// The backends size their memory from a program's buffer table: the host
// from rows * cols of each buffer, the CUDA backend from arena_bytes and each
// buffer's offset. These rules make the two agree and keep them bounded, so
// that nothing a plan declares is allocated before it is proven:
//
// - rows = row_factor * (max_tokens | max_logit_rows | 1), and
//   bytes = rows * cols * dtype size rounded up to abi::kBufferAlign;
// - offset is aligned and [offset, offset + bytes) lies in the arena, whose
//   arena_bytes is exactly the end of its last buffer;
// - buffers alive at the same time do not share arena bytes;
// - the arenas of all programs together are at most kMaxActivationBytes.
//
// Every product is a CheckedInt: a value that overflowed never passes.
//
//===----------------------------------------------------------------------===//
#include "StepChecker.h"

#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/DType.h"

#include <map>

namespace moela::planverify {
namespace {

std::string bufferLabel(const plan::Buffer &b, size_t i) {
  return "buffer " + std::to_string(i) + " '" +
         (b.name() ? b.name()->str() : std::string()) + "'";
}

/// "max_tokens 2048" for the count a row kind multiplies.
std::string rowsBasis(const plan::Program &program, plan::RowKind kind) {
  if (kind == plan::RowKind::PerToken)
    return " (row_factor x max_tokens " + std::to_string(program.max_tokens()) +
           ")";
  if (kind == plan::RowKind::PerLogitRow)
    return " (row_factor x max_logit_rows " +
           std::to_string(program.max_logit_rows()) + ")";
  return "";
}

/// An F8 buffer (W8A8 activations, docs/model.md §3.4) has an F32 scales
/// buffer with its rows and one column per 128 of its columns; no other
/// buffer has one.
void checkScales(const std::string &where, const plan::Program &program,
                 size_t i) {
  const auto *buffers = program.buffers();
  const plan::Buffer &b = *buffers->Get(i);
  const std::string name = bufferLabel(b, i);
  if (b.dtype() != plan::DType::F8E4M3) {
    if (b.scales() != -1)
      fail(where, ": ", name, " is not F8 but names scales buffer ",
           b.scales());
    return;
  }
  if (b.scales() < 0 || size_t(b.scales()) >= buffers->size() ||
      size_t(b.scales()) == i)
    fail(where, ": F8 ", name, " needs a scales buffer, got index ", b.scales(),
         " (program has ", buffers->size(), " buffers)");
  const plan::Buffer &s = *buffers->Get(b.scales());
  const int64_t blocks = (b.cols() + abi::kFp8Block - 1) / abi::kFp8Block;
  if (s.dtype() != plan::DType::F32 || s.row_kind() != b.row_kind() ||
      s.row_factor() != b.row_factor() || s.cols() != blocks)
    fail(where, ": scales ", bufferLabel(s, size_t(b.scales())), " of F8 ",
         name, " must be F32 with its rows and ", blocks,
         " columns (one per 128), got ", plan::EnumNameDType(s.dtype()), ", ",
         Rows{s.row_kind(), s.row_factor()}.str(), " rows and ", s.cols(),
         " columns");
}

/// Buffers alive at the same time do not share arena bytes (the CUDA
/// backend reads them at their offsets). A buffer lives from the first to
/// the last step that names it; inputs, outputs and buffers no step names
/// for the whole run; scales as long as their data. A sweep over the steps
/// with the live buffers' byte ranges in an ordered map: O(n log n).
void checkArenaOverlaps(const plan::Program &program,
                        const std::string &where) {
  const auto &buffers = *program.buffers();
  const size_t n = buffers.size();
  const int64_t steps = program.steps() ? program.steps()->size() : 0;
  std::vector<int64_t> first(n, steps + 1), last(n, -2);
  auto touch = [&](size_t b, int64_t t) {
    first[b] = std::min(first[b], t);
    last[b] = std::max(last[b], t);
  };
  for (uint32_t b : *program.inputs())
    touch(b, -1), touch(b, steps);
  for (uint32_t b : *program.outputs())
    touch(b, steps);
  for (int64_t t = 0; t < steps; ++t)
    for (auto *ops :
         {program.steps()->Get(flatbuffers::uoffset_t(t))->inputs(),
          program.steps()->Get(flatbuffers::uoffset_t(t))->outputs()})
      if (ops)
        for (const plan::Operand *op : *ops)
          touch(op->buffer(), t);
  for (size_t i = 0; i < n; ++i) {
    if (last[i] < -1)
      first[i] = -1, last[i] = steps;
    const int scales = buffers.Get(flatbuffers::uoffset_t(i))->scales();
    if (scales >= 0 && last[i] >= -1)
      touch(size_t(scales), first[i]), touch(size_t(scales), last[i]);
  }
  // Start and end events by time; at one time, starts before ends.
  std::vector<std::pair<int64_t, size_t>> starts, ends;
  for (size_t i = 0; i < n; ++i)
    starts.push_back({first[i], i}), ends.push_back({last[i], i});
  std::sort(starts.begin(), starts.end());
  std::sort(ends.begin(), ends.end());
  std::map<uint64_t, size_t> live; // offset -> buffer, disjoint ranges
  auto range = [&](size_t i) {
    const plan::Buffer &b = *buffers.Get(flatbuffers::uoffset_t(i));
    return std::make_pair(b.offset(), b.offset() + b.bytes());
  };
  auto clash = [&](size_t i, size_t j) {
    const auto [b0, b1] = range(i);
    const auto [c0, c1] = range(j);
    fail(where, ": ", bufferLabel(*buffers.Get(flatbuffers::uoffset_t(i)), i),
         " at arena bytes [", b0, ", ", b1, ") overlaps ",
         bufferLabel(*buffers.Get(flatbuffers::uoffset_t(j)), j), " at [", c0,
         ", ", c1, ") while both are live (steps ",
         std::max(first[i], first[j]), " to ", std::min(last[i], last[j]), ")");
  };
  size_t e = 0;
  for (size_t s = 0; s < starts.size();) {
    const int64_t t = starts[s].first;
    for (; e < ends.size() && ends[e].first < t; ++e)
      live.erase(range(ends[e].second).first);
    for (; s < starts.size() && starts[s].first == t; ++s) {
      const size_t i = starts[s].second;
      const auto [begin, end] = range(i);
      auto next = live.lower_bound(begin);
      if (next != live.end() && next->first < end)
        clash(i, next->second);
      if (next != live.begin() && range(std::prev(next)->second).second > begin)
        clash(i, std::prev(next)->second);
      live.emplace(begin, i);
    }
  }
}

} // namespace

void checkBuffers(const plan::Program &program, const std::string &where) {
  if (program.max_tokens() < 1)
    fail(where, ": max_tokens ", program.max_tokens(), " must be >= 1");
  if (program.max_logit_rows() < 1 ||
      program.max_logit_rows() > program.max_tokens())
    fail(where, ": max_logit_rows ", program.max_logit_rows(),
         " must be in [1, max_tokens ", program.max_tokens(), "]");
  const auto *buffers = program.buffers();
  if (!buffers || buffers->size() == 0)
    fail(where, ": has no buffers");
  const uint64_t arena = program.arena_bytes();
  uint64_t end = 0; // of the last buffer in the arena
  for (size_t i = 0; i < buffers->size(); ++i) {
    const plan::Buffer &b = *buffers->Get(i);
    const std::string name = bufferLabel(b, i);
    if (!b.name())
      fail(where, ": buffer ", i, " has no name");
    if (!isValidDType(b.dtype()))
      fail(where, ": ", name, " has unknown dtype ", int(b.dtype()));
    if (b.row_kind() < plan::RowKind::PerToken ||
        b.row_kind() > plan::RowKind::Fixed)
      fail(where, ": ", name, " has unknown row kind ", int(b.row_kind()));
    if (b.row_factor() < 1 || b.cols() < 1)
      fail(where, ": ", name, " needs row_factor >= 1 and cols >= 1, got ",
           b.row_factor(), " and ", b.cols());

    const CheckedInt rows =
        CheckedInt(b.row_factor()) *
        (b.row_kind() == plan::RowKind::PerToken      ? program.max_tokens()
         : b.row_kind() == plan::RowKind::PerLogitRow ? program.max_logit_rows()
                                                      : 1);
    const int64_t elementBytes =
        int64_t(dtypeSize(static_cast<DType>(b.dtype())));
    const CheckedInt bytes =
        (rows * b.cols() * elementBytes).roundUp(abi::kBufferAlign);
    if (!bytes.fitsIn(kMaxActivationBytes))
      fail(where, ": ", name, " of ", rows, " rows",
           rowsBasis(program, b.row_kind()), " x ", b.cols(), " columns of ",
           plan::EnumNameDType(b.dtype()), " needs ", bytes,
           " bytes, more than the limit of ", kMaxActivationBytes,
           " bytes of activations");
    if (!bytes.equals(int64_t(std::min<uint64_t>(b.bytes(), INT64_MAX))))
      fail(where, ": ", name, " declares ", b.bytes(), " bytes, but ", rows,
           " rows", rowsBasis(program, b.row_kind()), " x ", b.cols(),
           " columns of ", plan::EnumNameDType(b.dtype()), " take ", bytes,
           " (rounded up to ", abi::kBufferAlign, ")");
    if (b.offset() % abi::kBufferAlign != 0)
      fail(where, ": ", name, " at arena offset ", b.offset(),
           " is not a multiple of ", abi::kBufferAlign);
    if (b.offset() > arena || b.bytes() > arena - b.offset())
      fail(where, ": ", name, " at arena bytes [", b.offset(), ", +", b.bytes(),
           ") lies outside the arena of ", arena, " bytes");
    end = std::max(end, b.offset() + b.bytes());
    checkScales(where, program, i);
  }
  if (arena != end)
    fail(where, ": arena_bytes ", arena,
         " must be the end of its last buffer, ", end);
}

void checkArena(const plan::Program &program, const std::string &where) {
  checkArenaOverlaps(program, where);
}

} // namespace moela::planverify
