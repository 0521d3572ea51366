//===- BufferLayout.h - Host memory for a program's buffers (internal) ----===//
#ifndef MOELA_RUNTIME_HOST_BUFFERLAYOUT_H
#define MOELA_RUNTIME_HOST_BUFFERLAYOUT_H

#include "plan_generated.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace moela::host {

/// Where each buffer of a program lives: an element offset into one of two
/// arenas, float for floating-point buffers (all computed in fp32 on the host,
/// whatever their plan dtype) and int32 for I32 buffers.
struct BufferLayout {
  std::vector<size_t> offset;   // [buffers]
  std::vector<size_t> elements; // [buffers] at max_tokens / max_logit_rows
  size_t floatElements = 0, intElements = 0;
};

/// Rows of buffer `b` at the program's largest step.
int64_t maxRows(const plan::Program &program, const plan::Buffer &b);

/// Lays out the buffers of `program`. With `reuse`, buffers whose lifetimes
/// (first to last step that touches them; inputs and outputs: the whole run)
/// do not overlap may share memory, as the compiler's arena does on a GPU;
/// without it every buffer has its own memory and keeps its contents.
BufferLayout layoutBuffers(const plan::Program &program, bool reuse);

} // namespace moela::host

#endif // MOELA_RUNTIME_HOST_BUFFERLAYOUT_H
