//===- BufferLayout.cpp - Host memory for a program's buffers -------------===//
//
// A whole-model plan has a buffer per intermediate value. Sized for a long
// prefill, giving each its own memory would take many times what is alive at
// any step, so buffers share memory by lifetime: first fit, largest first
// (the same packing moela-plan-memory does for the GPU arena, but in fp32
// elements, since the plan's arena offsets assume the device dtypes).
//
//===----------------------------------------------------------------------===//
#include "BufferLayout.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace moela::host {
namespace {

/// Offsets are multiples of 16 elements (64 bytes: a cache line).
constexpr size_t kAlign = 16;

/// First fit by decreasing size of the buffers in `ids`, avoiding those whose
/// lifetime overlaps; returns the arena size.
size_t pack(const std::vector<size_t> &ids, const std::vector<int64_t> &first,
            const std::vector<int64_t> &last, BufferLayout &layout) {
  std::vector<size_t> order = ids;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return layout.elements[a] > layout.elements[b];
  });
  std::vector<size_t> placed;
  size_t total = 0;
  for (size_t i : order) {
    const size_t size = (layout.elements[i] + kAlign - 1) / kAlign * kAlign;
    std::vector<std::pair<size_t, size_t>> busy; // [begin, end) of live ones
    for (size_t j : placed)
      if (first[j] <= last[i] && first[i] <= last[j])
        busy.push_back({layout.offset[j],
                        layout.offset[j] + (layout.elements[j] + kAlign - 1) /
                                               kAlign * kAlign});
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (auto [begin, end] : busy) {
      if (offset + size <= begin)
        break;
      offset = std::max(offset, end);
    }
    layout.offset[i] = offset;
    total = std::max(total, offset + size);
    placed.push_back(i);
  }
  return total;
}

} // namespace

int64_t maxRows(const plan::Program &program, const plan::Buffer &b) {
  switch (b.row_kind()) {
  case plan::RowKind::PerToken:
    return b.row_factor() * program.max_tokens();
  case plan::RowKind::PerLogitRow:
    return b.row_factor() * program.max_logit_rows();
  case plan::RowKind::Fixed:
    return b.row_factor();
  }
  return 0;
}

BufferLayout layoutBuffers(const plan::Program &program, bool reuse) {
  const size_t n = program.buffers()->size();
  const int64_t steps = program.steps() ? program.steps()->size() : 0;
  BufferLayout layout;
  layout.offset.assign(n, 0);
  layout.elements.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const plan::Buffer &b = *program.buffers()->Get(flatbuffers::uoffset_t(i));
    layout.elements[i] = size_t(maxRows(program, b)) * size_t(b.cols());
  }

  // Lifetimes in steps; -1 and `steps` stand for before and after the run.
  std::vector<int64_t> first(n, std::numeric_limits<int64_t>::max()),
      last(n, -1);
  auto touch = [&](size_t b, int64_t s) {
    first[b] = std::min(first[b], s);
    last[b] = std::max(last[b], s);
  };
  for (uint32_t b : *program.inputs())
    touch(b, -1), touch(b, steps);
  for (uint32_t b : *program.outputs())
    touch(b, steps);
  for (int64_t s = 0; s < steps; ++s) {
    const plan::Step &step = *program.steps()->Get(flatbuffers::uoffset_t(s));
    for (auto *ops : {step.inputs(), step.outputs()})
      if (ops)
        for (const plan::Operand *op : *ops)
          touch(op->buffer(), s);
  }
  for (size_t i = 0; i < n; ++i)
    if (!reuse || last[i] < 0) // unused buffers keep memory of their own too
      first[i] = -1, last[i] = steps;

  std::vector<size_t> floats, ints;
  for (size_t i = 0; i < n; ++i)
    (program.buffers()->Get(flatbuffers::uoffset_t(i))->dtype() ==
             plan::DType::I32
         ? ints
         : floats)
        .push_back(i);
  layout.floatElements = pack(floats, first, last, layout);
  layout.intElements = pack(ints, first, last, layout);
  return layout;
}

} // namespace moela::host
