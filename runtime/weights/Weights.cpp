//===- Weights.cpp - Checkpoint and random weight sources -----------------===//
#include "moela/Runtime/Weights.h"

#include "Slices.h"

#include "moela/Runtime/CheckedInt.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Safetensors.h"
#include "moela/Runtime/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace moela {

//===----------------------------------------------------------------------===//
// Specs and conversions
//===----------------------------------------------------------------------===//

namespace {

/// The product of `name`'s dims; an error when it overflows int64.
int64_t product(const std::string &name, const std::vector<int64_t> &dims) {
  const CheckedInt n = checkedProduct(dims);
  if (n.overflowed())
    fail("tensor '", name, "': shape ", shapeString(dims),
         " has more than 2^63 elements");
  return *n.get();
}

/// Rejects specs no source can satisfy: negative dims, a block scale on a
/// non-FP8 or non-matrix tensor, a scale shape that is not 128x128 blocks.
void checkSpec(const TensorSpec &spec) {
  for (int64_t d : spec.shape)
    if (d < 0)
      fail("tensor '", spec.name, "': negative dimension in spec shape ",
           shapeString(spec.shape));
  checkSlice(spec);
  if (spec.scaleName.empty())
    return;
  if (spec.dtype != DType::F8E4M3 || spec.shape.size() != 2)
    fail("tensor '", spec.name, "': a block scale ('", spec.scaleName,
         "') needs an F8_E4M3 matrix, the spec says ", spec.typeString());
  // A slice's blocks are the whole tensor's (checked against the checkpoint's
  // scale tensor), whatever the slice's own scale shape says.
  if (!spec.sliced() && !spec.scaleShape.empty() &&
      spec.scaleShape != fp8ScaleShape(spec.shape))
    fail("tensor '", spec.name, "': spec scale shape ",
         shapeString(spec.scaleShape), " is not the 128x128 blocks of ",
         shapeString(spec.shape), " (expected ",
         shapeString(fp8ScaleShape(spec.shape)), ")");
}

/// The spec of the F32 block-scale tensor that goes with an FP8 spec: the
/// whole checkpoint tensor's grid, also for a slice.
TensorSpec scaleSpecOf(const TensorSpec &spec) {
  TensorSpec scale;
  scale.name = spec.scaleName;
  scale.dtype = DType::F32;
  scale.shape = fp8ScaleShape(spec.checkpointShape());
  return scale;
}

} // namespace

int64_t TensorSpec::numel() const { return product(name, shape); }

std::vector<int64_t> TensorSpec::checkpointShape() const {
  std::vector<int64_t> full = shape;
  if (sliced()) {
    const CheckedInt dim = CheckedInt(full[sliceDim]) * sliceParts;
    if (dim.overflowed())
      fail("tensor '", name, "': ", sliceParts, " slices of ",
           shapeString(shape), " along dim ", sliceDim, " overflow int64");
    full[sliceDim] = *dim.get();
  }
  return full;
}

std::string TensorSpec::typeString() const {
  return std::string(dtypeName(dtype)) + " " + shapeString(shape);
}

std::vector<int64_t> fp8ScaleShape(const std::vector<int64_t> &shape) {
  std::vector<int64_t> out;
  for (int64_t d : shape)
    out.push_back((d + kFp8Block - 1) / kFp8Block);
  return out;
}

void convertToF32(DType dtype, const uint8_t *data, int64_t count, float *out) {
  // Elements per parallel chunk: conversion is memory bound.
  constexpr int64_t grain = 1 << 16;
  switch (dtype) {
  case DType::F32:
    if (count > 0)
      std::memcpy(out, data, count * sizeof(float));
    return;
  case DType::BF16:
  case DType::F16: {
    const bool bf16 = dtype == DType::BF16;
    parallelFor(count, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        uint16_t bits;
        std::memcpy(&bits, data + 2 * i, 2);
        out[i] = bf16 ? bf16ToFloat(bits) : f16ToFloat(bits);
      }
    });
    return;
  }
  case DType::F8E4M3:
    parallelFor(count, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i)
        out[i] = e4m3ToFloat(data[i]);
    });
    return;
  case DType::I32:
  case DType::I64:
    break;
  }
  fail("cannot convert ", dtypeName(dtype), " data to F32");
}

void dequantizeFp8(const uint8_t *q, const uint8_t *scaleInv, int64_t rows,
                   int64_t cols, float *out) {
  const int64_t scaleCols = (cols + kFp8Block - 1) / kFp8Block;
  auto dequantizeRows = [&](int64_t begin, int64_t end) {
    std::vector<float> rowScales(scaleCols); // [scaleCols] of row block m/128
    for (int64_t m = begin; m < end; ++m) {
      if (m == begin || m % kFp8Block == 0)
        std::memcpy(rowScales.data(),
                    scaleInv + (m / kFp8Block) * scaleCols * sizeof(float),
                    scaleCols * sizeof(float));
      const uint8_t *qRow = q + m * cols;
      float *outRow = out + m * cols;
      for (int64_t n = 0; n < cols; ++n)
        outRow[n] = e4m3ToFloat(qRow[n]) * rowScales[n / kFp8Block];
    }
  };
  const int64_t rowsPerChunk =
      std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(cols, 1));
  parallelFor(rows, rowsPerChunk, dequantizeRows);
}

std::vector<float> toF32(const RawTensor &raw) {
  const TensorSpec &spec = raw.spec;
  checkSpec(spec);
  const size_t bytes = spec.numel() * dtypeSize(spec.dtype);
  if (raw.data.size() != bytes)
    fail("tensor '", spec.name, "': raw data holds ", raw.data.size(),
         " bytes, ", spec.typeString(), " needs ", bytes);
  if (!spec.scaleName.empty() &&
      raw.scales.size() != static_cast<size_t>(product(
                               spec.scaleName, fp8ScaleShape(spec.shape))))
    fail("tensor '", spec.name, "': raw data holds ", raw.scales.size(),
         " block scales, ", spec.typeString(), " needs ",
         shapeString(fp8ScaleShape(spec.shape)));
  std::vector<float> out(spec.numel()); // [shape]
  if (!spec.scaleName.empty()) {
    dequantizeFp8(raw.data.data(),
                  reinterpret_cast<const uint8_t *>(raw.scales.data()),
                  spec.shape[0], spec.shape[1], out.data());
    return out;
  }
  convertToF32(spec.dtype, raw.data.data(), spec.numel(), out.data());
  return out;
}

WeightSource::~WeightSource() = default;

RawWindow WeightSource::loadRawWindow(const TensorSpec &spec) {
  std::vector<float> values = loadF32(spec); // [shape]
  RawWindow out;
  out.raw.spec = spec;
  out.raw.spec.dtype = DType::F32;
  out.raw.spec.scaleName.clear();
  out.raw.spec.scaleShape.clear();
  out.raw.spec.quantizeAtLoad = false;
  out.raw.spec.sliceDim = -1;
  out.raw.spec.sliceParts = 1;
  out.raw.spec.sliceOffset = 0;
  out.raw.data.resize(values.size() * sizeof(float));
  if (!values.empty())
    std::memcpy(out.raw.data.data(), values.data(), out.raw.data.size());
  return out;
}

void quantizeFp8(const float *w, int64_t rows, int64_t cols, uint8_t *q,
                 float *scaleInv) {
  const int64_t blockRows = (rows + kFp8Block - 1) / kFp8Block;
  const int64_t blockCols = (cols + kFp8Block - 1) / kFp8Block;
  parallelFor(blockRows * blockCols, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t r0 = (b / blockCols) * kFp8Block,
                    c0 = (b % blockCols) * kFp8Block;
      const int64_t r1 = std::min(rows, r0 + kFp8Block);
      const int64_t c1 = std::min(cols, c0 + kFp8Block);
      float amax = 0.0f;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          amax = std::max(amax, std::fabs(w[r * cols + c]));
      const float scale = amax > 0.0f ? amax / 448.0f : 1.0f;
      scaleInv[b] = scale;
      // A value that rounds to zero is +0 (code 0x00), as in DeepSeek's FP8
      // checkpoints, whatever its sign.
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) {
          const uint8_t code = floatToE4m3(w[r * cols + c] / scale);
          q[r * cols + c] = code == 0x80 ? 0 : code;
        }
    }
  });
}

namespace {

void checkFloatDType(const TensorSpec &spec, const char *what) {
  if (spec.dtype == DType::I32 || spec.dtype == DType::I64)
    fail("tensor '", spec.name, "': ", what, " of an ", dtypeName(spec.dtype),
         " tensor (only F32, BF16, F16 and F8_E4M3 weights are supported)");
}

//===----------------------------------------------------------------------===//
// Checkpoint source
//===----------------------------------------------------------------------===//

class CheckpointWeights : public WeightSource {
public:
  explicit CheckpointWeights(Checkpoint ckpt) : ckpt_(std::move(ckpt)) {}

  std::vector<float> loadF32(const TensorSpec &spec) override {
    checkSpec(spec);
    checkFloatDType(spec, "loadF32");
    if (spec.sliced()) {
      // Only the slice leaves the mmap; block-scaled tensors through the
      // slice widened to whole blocks of the tensor's grid.
      const Window slice = sliceWindow(spec);
      const Window read = spec.scaleName.empty() ? slice : blockWindow(slice);
      return cropWindow(toF32(readWindow(spec, read)), read, slice);
    }
    if (spec.quantizeAtLoad) // the values the device gets
      return toF32(loadRaw(spec));
    TensorView view = lookup(spec, "tensor");
    std::vector<float> out(view.numel()); // [shape]
    if (spec.scaleName.empty()) {
      convertToF32(view.dtype, view.data, view.numel(), out.data());
      return out;
    }
    TensorView scale = lookup(scaleSpecOf(spec), "scale tensor", &spec);
    dequantizeFp8(view.data, scale.data, spec.shape[0], spec.shape[1],
                  out.data());
    return out;
  }

  RawTensor loadRaw(const TensorSpec &spec) override {
    checkSpec(spec);
    if (spec.sliced()) {
      if (!spec.scaleName.empty())
        checkBlockAligned(spec);
      RawTensor raw = readWindow(spec, sliceWindow(spec));
      const std::vector<int64_t> scaleShape = raw.spec.scaleShape;
      raw.spec = spec;
      raw.spec.scaleShape = scaleShape;
      return raw;
    }
    if (spec.quantizeAtLoad)
      return quantizeAtLoad(spec, sliceWindow(spec));
    TensorView view = lookup(spec, "tensor");
    RawTensor raw;
    raw.spec = spec;
    raw.data.assign(view.data, view.data + view.bytes);
    if (!spec.scaleName.empty()) {
      raw.spec.scaleShape = fp8ScaleShape(spec.shape);
      TensorView scale = lookup(scaleSpecOf(spec), "scale tensor", &spec);
      raw.scales.resize(scale.numel());
      std::memcpy(raw.scales.data(), scale.data, scale.bytes);
    }
    return raw;
  }

  RawWindow loadRawWindow(const TensorSpec &spec) override {
    checkSpec(spec);
    if (!spec.sliced() || spec.scaleName.empty())
      return {loadRaw(spec)};
    // The slice widened to whole blocks: the very window loadF32 dequantizes.
    const Window slice = sliceWindow(spec), read = blockWindow(slice);
    return {readWindow(spec, read), slice.r0 - read.r0, slice.c0 - read.c0};
  }

  std::string describe() const override {
    return "checkpoint " + ckpt_.path() + " (" + std::to_string(ckpt_.size()) +
           " tensors)";
  }

private:
  /// Window `w` of the checkpoint tensor of `spec` (block-aligned when it has
  /// scales) in spec.dtype, with its block scales.
  RawTensor readWindow(const TensorSpec &spec, const Window &w) const {
    if (spec.quantizeAtLoad)
      return quantizeAtLoad(spec, w);
    TensorView view = lookup(spec, "tensor");
    const uint8_t *scales = nullptr;
    if (!spec.scaleName.empty())
      scales = lookup(scaleSpecOf(spec), "scale tensor", &spec).data;
    return rawWindow(spec, view.data, scales, w);
  }

  /// Window `w` (whole blocks) of an FP8 spec over a BF16/F16/F32 checkpoint
  /// tensor (--weight-dtype=fp8), quantized per 128x128 block of the whole
  /// tensor's grid here: every rank gets the bits a single rank would.
  RawTensor quantizeAtLoad(const TensorSpec &spec, const Window &w) const {
    if (spec.dtype != DType::F8E4M3 || spec.scaleName.empty())
      fail("tensor '", spec.name,
           "': only FP8 block-scaled tensors are quantized at load, not ",
           spec.typeString());
    const SafetensorsFile *file = nullptr;
    const SafetensorsEntry *entry = ckpt_.find(spec.name, &file);
    if (!entry)
      fail("tensor '", spec.name, "' not found in checkpoint ", ckpt_.path());
    TensorView view = file->tensor(spec.name);
    const bool wide = view.dtype == DType::BF16 || view.dtype == DType::F16 ||
                      view.dtype == DType::F32;
    if (!wide || entry->shape != spec.checkpointShape())
      fail("tensor '", spec.name, "' in ", file->path(),
           ": expected BF16, F16 or F32 ", shapeString(spec.checkpointShape()),
           " to quantize to FP8 at load, found ", entry->dtypeName, " ",
           shapeString(entry->shape));
    // [w.rows, w.cols]: the window in f32, then quantized; it starts on a
    // block boundary and ends on one or at the tensor's end, so its blocks
    // are the whole tensor's.
    std::vector<uint8_t> bytes(size_t(w.rows * w.cols) * dtypeSize(view.dtype));
    copyWindow(view.data, dtypeSize(view.dtype), w, bytes.data());
    std::vector<float> values(size_t(w.rows * w.cols));
    convertToF32(view.dtype, bytes.data(), int64_t(values.size()),
                 values.data());
    bytes = {};
    RawTensor raw;
    raw.spec = spec;
    raw.spec.shape = w.shape(2);
    raw.spec.sliceDim = -1;
    raw.spec.sliceParts = 1;
    raw.spec.sliceOffset = 0;
    raw.spec.scaleShape = fp8ScaleShape(raw.spec.shape);
    raw.data.resize(values.size());
    raw.scales.resize(product(raw.spec.scaleName, raw.spec.scaleShape));
    quantizeFp8(values.data(), w.rows, w.cols, raw.data.data(),
                raw.scales.data());
    return raw;
  }

  /// The checkpoint tensor of `spec`, after checking its dtype and shape.
  /// `owner` is the weight a scale tensor belongs to.
  TensorView lookup(const TensorSpec &spec, const char *what,
                    const TensorSpec *owner = nullptr) const {
    const SafetensorsFile *file = nullptr;
    const SafetensorsEntry *entry = ckpt_.find(spec.name, &file);
    if (!entry) {
      if (owner)
        fail(what, " '", spec.name, "' of '", owner->name,
             "' not found in checkpoint ", ckpt_.path());
      fail(what, " '", spec.name, "' not found in checkpoint ", ckpt_.path());
    }
    const std::vector<int64_t> expected = spec.checkpointShape();
    if (entry->dtypeName != dtypeName(spec.dtype) || entry->shape != expected)
      fail(what, " '", spec.name, "' in ", file->path(), ": expected ",
           dtypeName(spec.dtype), " ", shapeString(expected),
           spec.sliced() ? " (rank slice " + shapeString(spec.shape) + ")"
                         : std::string(),
           ", found ", entry->dtypeName, " ", shapeString(entry->shape));
    return file->tensor(spec.name);
  }

  Checkpoint ckpt_;
};

//===----------------------------------------------------------------------===//
// Random source
//===----------------------------------------------------------------------===//

/// splitmix64's output function: a bijective mixer of 64-bit words.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hashName(const std::string &name) { // FNV-1a
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : name)
    h = (h ^ c) * 0x100000001B3ull;
  return h;
}

/// Counter-based stream: word i of stream `key` is the i-th splitmix64 output,
/// so any element can be generated on its own (any order, any thread).
uint64_t randomWord(uint64_t key, uint64_t i) {
  return mix64(key + (i + 1) * 0x9E3779B97F4A7C15ull);
}

/// [0, 1) with 24 random bits (exact in float).
float unit(uint64_t word) {
  return static_cast<float>(word >> 40) * 0x1.0p-24f;
}

/// RNE float -> IEEE half (DType.h has no encoder; only random F16 specs need
/// one).
uint16_t floatToF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
  const uint32_t magnitude = bits & 0x7FFFFFFF;
  if (magnitude > 0x7F800000)
    return sign | 0x7E00;
  if (magnitude >= 0x477FF000) // >= 65520 rounds to inf
    return sign | 0x7C00;
  if (magnitude < 0x38800000) { // below 2^-14: subnormal multiples of 2^-24
    float a;
    std::memcpy(&a, &magnitude, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  const uint32_t rebiased = magnitude - ((127u - 15u) << 23);
  return sign | static_cast<uint16_t>(
                    (rebiased + 0xFFF + ((rebiased >> 13) & 1)) >> 13);
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The distribution of a tensor, from its role (its name) and fan-in.
struct Distribution {
  bool uniform = false;
  double a = 0, b = 1; // uniform: [a, b); normal: mean a, stddev b
};

Distribution distributionOf(const TensorSpec &spec) {
  const std::string &name = spec.name;
  const int64_t rows = spec.shape.empty() ? 1 : spec.shape[0];
  const double fanIn = static_cast<double>(
      spec.shape.size() >= 2
          ? std::max<int64_t>(1, spec.numel() / std::max<int64_t>(rows, 1))
          : 1);
  if (endsWith(name, "embed_tokens.weight"))
    return {false, 0.0, 1.0};
  // Also layernorm, enorm, hnorm, shared_head.norm and model.norm.
  if (endsWith(name, "norm.weight"))
    return {true, 0.75, 1.25};
  if (endsWith(name, "e_score_correction_bias"))
    return {false, 0.0, 0.05};
  if (endsWith(name, "mlp.gate.weight"))
    return {false, 0.0, 1.5 / std::sqrt(fanIn)};
  if (name == "lm_head.weight" || endsWith(name, ".lm_head.weight") ||
      endsWith(name, "shared_head.head.weight"))
    return {false, 0.0, 3.0 / std::sqrt(fanIn)};
  if (spec.shape.size() >= 2)
    return {false, 0.0, 1.0 / std::sqrt(fanIn)};
  return {false, 0.0, 0.05}; // other vectors (biases): small
}

/// Fills out[0, n) with the stream of `key` under `dist`. Normals come in
/// Box-Muller pairs (words 2j, 2j+1 -> elements 2j, 2j+1), in float for speed:
/// u1 >= 2^-24 bounds them at 5.8 sigma, which weights never miss.
void generate(uint64_t key, const Distribution &dist, int64_t n, float *out) {
  constexpr float twoPi = 6.28318530717958647692f;
  const float a = static_cast<float>(dist.a), b = static_cast<float>(dist.b);
  const int64_t pairs = (n + 1) / 2;
  parallelFor(pairs, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t j = begin; j < end; ++j) {
      const uint64_t w0 = randomWord(key, 2 * j),
                     w1 = randomWord(key, 2 * j + 1);
      float v0, v1;
      if (dist.uniform) {
        v0 = a + (b - a) * unit(w0);
        v1 = a + (b - a) * unit(w1);
      } else {
        const float u1 = 1.0f - unit(w0); // (0, 1]: log is finite
        const float radius = b * std::sqrt(-2.0f * std::log(u1));
        const float angle = twoPi * unit(w1);
        v0 = a + radius * std::cos(angle);
        v1 = a + radius * std::sin(angle);
      }
      out[2 * j] = v0;
      if (2 * j + 1 < n)
        out[2 * j + 1] = v1;
    }
  });
}

class RandomWeights : public WeightSource {
public:
  explicit RandomWeights(uint64_t seed) : seed_(seed) {}

  std::vector<float> loadF32(const TensorSpec &spec) override {
    checkSpec(spec);
    checkFloatDType(spec, "random weights");
    // A slice of the whole tensor: the same numbers a single rank binds.
    if (spec.sliced())
      return cropWindow(loadF32(wholeSpec(spec)), sliceWindow(wholeSpec(spec)),
                        sliceWindow(spec));
    std::vector<float> w = values(spec); // [shape]
    if (spec.dtype == DType::F8E4M3)
      return toF32(encode(spec, w));
    // Round in place: the same values as toF32(loadRaw(spec)), one pass less.
    if (spec.dtype != DType::F32)
      parallelFor(spec.numel(), kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i)
          w[i] = spec.dtype == DType::BF16 ? bf16ToFloat(floatToBf16(w[i]))
                                           : f16ToFloat(floatToF16(w[i]));
      });
    return w;
  }

  RawTensor loadRaw(const TensorSpec &spec) override {
    checkSpec(spec);
    checkFloatDType(spec, "random weights");
    if (spec.sliced()) {
      if (!spec.scaleName.empty())
        checkBlockAligned(spec);
      const RawTensor whole = loadRaw(wholeSpec(spec));
      RawTensor raw =
          rawWindow(spec, whole.data.data(),
                    reinterpret_cast<const uint8_t *>(whole.scales.data()),
                    sliceWindow(spec));
      const std::vector<int64_t> scaleShape = raw.spec.scaleShape;
      raw.spec = spec;
      raw.spec.scaleShape = scaleShape;
      return raw;
    }
    return encode(spec, values(spec));
  }

  RawWindow loadRawWindow(const TensorSpec &spec) override {
    checkSpec(spec);
    checkFloatDType(spec, "random weights");
    if (!spec.sliced() || spec.scaleName.empty())
      return {loadRaw(spec)};
    // Cut from the whole tensor, widened to whole blocks of its grid.
    const RawTensor whole = loadRaw(wholeSpec(spec));
    const Window slice = sliceWindow(spec), read = blockWindow(slice);
    return {rawWindow(spec, whole.data.data(),
                      reinterpret_cast<const uint8_t *>(whole.scales.data()),
                      read),
            slice.r0 - read.r0, slice.c0 - read.c0};
  }

  std::string describe() const override {
    return "random weights (seed " + std::to_string(seed_) + ")";
  }

private:
  static constexpr int64_t kGrain = 1 << 16;

  /// The float values of `spec` before rounding to its dtype.
  std::vector<float> values(const TensorSpec &spec) const {
    std::vector<float> out(spec.numel());
    const uint64_t key = mix64(mix64(seed_) ^ hashName(spec.name));
    generate(key, distributionOf(spec), spec.numel(), out.data());
    return out;
  }

  /// `w` stored as spec.dtype (FP8: quantized per block with its scales).
  static RawTensor encode(const TensorSpec &spec, const std::vector<float> &w) {
    const int64_t n = spec.numel();
    RawTensor raw;
    raw.spec = spec;
    raw.data.resize(n * dtypeSize(spec.dtype));
    uint8_t *out = raw.data.data();
    switch (spec.dtype) {
    case DType::F32:
      std::memcpy(out, w.data(), n * sizeof(float));
      break;
    case DType::BF16:
    case DType::F16:
      parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          uint16_t bits =
              spec.dtype == DType::BF16 ? floatToBf16(w[i]) : floatToF16(w[i]);
          std::memcpy(out + 2 * i, &bits, 2);
        }
      });
      break;
    case DType::F8E4M3:
      if (spec.scaleName.empty()) {
        parallelFor(n, kGrain, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i)
            out[i] = floatToE4m3(w[i]);
        });
        break;
      }
      raw.spec.scaleShape = fp8ScaleShape(spec.shape);
      raw.scales.resize(product(raw.spec.scaleName, raw.spec.scaleShape));
      quantizeFp8(w.data(), spec.shape[0], spec.shape[1], out,
                  raw.scales.data());
      break;
    case DType::I32:
    case DType::I64:
      break; // rejected by checkFloatDType
    }
    return raw;
  }

  uint64_t seed_;
};

} // namespace

std::unique_ptr<WeightSource> openCheckpoint(const std::string &path) {
  return std::make_unique<CheckpointWeights>(Checkpoint::open(path));
}

std::unique_ptr<WeightSource> makeRandomWeights(uint64_t seed) {
  return std::make_unique<RandomWeights>(seed);
}

} // namespace moela
