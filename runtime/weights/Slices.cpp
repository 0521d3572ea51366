//===- Slices.cpp - One rank's slice of a checkpoint tensor ---------------===//
#include "Slices.h"

#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/Error.h"

#include <algorithm>
#include <cstring>

namespace moela {

std::vector<int64_t> Window::shape(size_t rank) const {
  if (rank == 1)
    return {rows};
  return {rows, cols};
}

Window sliceWindow(const TensorSpec &spec) {
  const std::vector<int64_t> full = spec.checkpointShape();
  Window w;
  w.fullRows = w.rows = full.empty() ? 1 : full[0];
  w.fullCols = w.cols = full.size() >= 2 ? full[1] : 1;
  if (spec.sliceDim == 0) {
    w.r0 = spec.sliceOffset;
    w.rows = spec.shape[0];
  } else if (spec.sliceDim == 1) {
    w.c0 = spec.sliceOffset;
    w.cols = spec.shape[1];
  }
  return w;
}

Window blockWindow(const Window &w) {
  auto widen = [](int64_t &begin, int64_t &size, int64_t full) {
    const int64_t b = begin / kFp8Block * kFp8Block;
    const int64_t e =
        std::min(full, (begin + size + kFp8Block - 1) / kFp8Block * kFp8Block);
    begin = b;
    size = e - b;
  };
  Window out = w;
  widen(out.r0, out.rows, out.fullRows);
  widen(out.c0, out.cols, out.fullCols);
  return out;
}

void checkSlice(const TensorSpec &spec) {
  if (!spec.sliced())
    return;
  if (spec.sliceDim >= int(spec.shape.size()))
    fail("tensor '", spec.name, "': slice dim ", spec.sliceDim,
         " of a tensor of rank ", spec.shape.size());
  if (spec.sliceParts < 1)
    fail("tensor '", spec.name, "': ", spec.sliceParts, " slice parts");
  const int64_t full = spec.checkpointShape()[size_t(spec.sliceDim)];
  const int64_t size = spec.shape[size_t(spec.sliceDim)];
  const CheckedInt end = CheckedInt(spec.sliceOffset) + size;
  if (spec.sliceOffset < 0 || !end.fitsIn(full))
    fail("tensor '", spec.name, "': slice [", spec.sliceOffset, ", ", end,
         ") along dim ", spec.sliceDim, " is outside the checkpoint's ", full);
}

void checkBlockAligned(const TensorSpec &spec) {
  if (!spec.sliced())
    return;
  const int64_t full = spec.checkpointShape()[size_t(spec.sliceDim)];
  const int64_t offset = spec.sliceOffset,
                size = spec.shape[size_t(spec.sliceDim)];
  if (offset % kFp8Block == 0 &&
      (size % kFp8Block == 0 || offset + size == full))
    return;
  fail("tensor '", spec.name, "': the slice along dim ", spec.sliceDim,
       " at offset ", offset, " of size ", size, " (of ", full,
       ") does not cover whole ", kFp8Block, "x", kFp8Block,
       " FP8 blocks; a device upload needs offset and size multiples of ",
       kFp8Block, " (the host backend reads any slice)");
}

void copyWindow(const uint8_t *full, size_t elementBytes, const Window &w,
                uint8_t *out) {
  const size_t rowBytes = size_t(w.cols) * elementBytes;
  for (int64_t r = 0; r < w.rows; ++r)
    std::memcpy(out + size_t(r) * rowBytes,
                full + (size_t(w.r0 + r) * size_t(w.fullCols) + size_t(w.c0)) *
                           elementBytes,
                rowBytes);
}

RawTensor rawWindow(const TensorSpec &spec, const uint8_t *data,
                    const uint8_t *scales, const Window &w) {
  RawTensor raw;
  raw.spec = spec;
  raw.spec.shape = w.shape(spec.shape.size());
  raw.spec.sliceDim = -1;
  raw.spec.sliceParts = 1;
  raw.spec.sliceOffset = 0;
  const size_t bytes = dtypeSize(spec.dtype);
  raw.data.resize(size_t(w.rows * w.cols) * bytes);
  copyWindow(data, bytes, w, raw.data.data());
  if (spec.scaleName.empty())
    return raw;
  // The blocks of the window: it starts on a block boundary.
  Window blocks;
  blocks.fullRows = (w.fullRows + kFp8Block - 1) / kFp8Block;
  blocks.fullCols = (w.fullCols + kFp8Block - 1) / kFp8Block;
  blocks.r0 = w.r0 / kFp8Block;
  blocks.c0 = w.c0 / kFp8Block;
  blocks.rows = (w.r0 + w.rows + kFp8Block - 1) / kFp8Block - blocks.r0;
  blocks.cols = (w.c0 + w.cols + kFp8Block - 1) / kFp8Block - blocks.c0;
  raw.spec.scaleShape = {blocks.rows, blocks.cols};
  raw.scales.resize(size_t(blocks.rows * blocks.cols));
  copyWindow(scales, sizeof(float), blocks,
             reinterpret_cast<uint8_t *>(raw.scales.data()));
  return raw;
}

std::vector<float> cropWindow(const std::vector<float> &values,
                              const Window &outer, const Window &inner) {
  std::vector<float> out(size_t(inner.rows * inner.cols)); // [rows, cols]
  for (int64_t r = 0; r < inner.rows; ++r) {
    const float *src = values.data() +
                       size_t(inner.r0 - outer.r0 + r) * size_t(outer.cols) +
                       size_t(inner.c0 - outer.c0);
    std::copy(src, src + inner.cols, out.begin() + r * inner.cols);
  }
  return out;
}

TensorSpec wholeSpec(const TensorSpec &spec) {
  TensorSpec whole = spec;
  whole.shape = spec.checkpointShape();
  whole.sliceDim = -1;
  whole.sliceParts = 1;
  whole.sliceOffset = 0;
  if (!spec.scaleName.empty())
    whole.scaleShape = fp8ScaleShape(whole.shape);
  return whole;
}

} // namespace moela
