//===- Slices.h - One rank's slice of a checkpoint tensor (internal) ------===//
//
// A sliced TensorSpec (multi-device plans, docs/parallel.md) binds the
// columns or rows [offset, offset + shape[dim]) of the checkpoint tensor.
// Both weight sources cut it out through a Window: a rectangle of the
// checkpoint tensor seen as [rows, cols] (a 1-D tensor is rows of one
// column). FP8 block scales keep the whole tensor's 128x128 grid, so a slice
// that does not start on a block boundary is read through the window widened
// to whole blocks, dequantized (or quantized at load) there, and cropped.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_WEIGHTS_SLICES_H
#define MOELA_RUNTIME_WEIGHTS_SLICES_H

#include "moela/Runtime/Weights.h"

#include <cstdint>
#include <vector>

namespace moela {

/// Rows [r0, r0 + rows) and columns [c0, c0 + cols) of a [fullRows, fullCols]
/// tensor.
struct Window {
  int64_t r0 = 0, rows = 0, c0 = 0, cols = 0;
  int64_t fullRows = 0, fullCols = 0;

  bool whole() const { return rows == fullRows && cols == fullCols; }
  /// The window's shape in the tensor's rank (1-D: {rows}).
  std::vector<int64_t> shape(size_t rank) const;
};

/// The checkpoint-tensor window of `spec`: its slice, or the whole tensor.
Window sliceWindow(const TensorSpec &spec);

/// `w` widened to whole 128x128 blocks (clamped at the tensor's end).
Window blockWindow(const Window &w);

/// Checks a slice's fields against its shape: a dim of the tensor's rank,
/// parts >= 1, the slice inside the checkpoint tensor.
void checkSlice(const TensorSpec &spec);

/// For device upload the slice must be whole FP8 blocks: an offset that is a
/// multiple of 128 and a size that is too, unless it ends the tensor. Throws
/// moela::Error naming the tensor, the dim, the offset and the size.
void checkBlockAligned(const TensorSpec &spec);

/// Copies window `w` of a row-major [w.fullRows, w.fullCols] tensor of
/// `elementBytes`-byte elements into `out` [w.rows, w.cols].
void copyWindow(const uint8_t *full, size_t elementBytes, const Window &w,
                uint8_t *out);

/// The raw tensor of window `w` (block-aligned when there are scales) cut
/// from the whole tensor's data and block scales (`scales` may be null
/// without a scale name). The result's spec is `spec` with the window's shape
/// and no slice.
RawTensor rawWindow(const TensorSpec &spec, const uint8_t *data,
                    const uint8_t *scales, const Window &w);

/// Values of `inner` (a window of the tensor inside `outer`) out of `values`
/// [outer.rows, outer.cols].
std::vector<float> cropWindow(const std::vector<float> &values,
                              const Window &outer, const Window &inner);

/// `spec` without its slice: the checkpoint tensor's spec (scale shape too).
TensorSpec wholeSpec(const TensorSpec &spec);

} // namespace moela

#endif // MOELA_RUNTIME_WEIGHTS_SLICES_H
