//===- Weights.h - Where a plan's weights come from -----------------------===//
//
// A compiled plan names each weight by its checkpoint tensor (plan.fbs
// TensorRef); a backend asks a WeightSource for it, either as float32 (the host
// backend) or in its stored dtype plus FP8 block scales (device upload). The
// source checks the checkpoint's dtype and shape against what the plan
// expects. Two sources: a safetensors checkpoint, and deterministic random
// weights for running a configuration without a checkpoint.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_WEIGHTS_H
#define MOELA_RUNTIME_WEIGHTS_H

#include "kernels/Abi.h"
#include "moela/Runtime/DType.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moela {

/// FP8 checkpoints scale kFp8Block x kFp8Block blocks of a [rows, cols] weight
/// (docs/model.md §2); FP8 activations one scale per row and kFp8Block
/// columns (docs/model.md §3.4).
constexpr int64_t kFp8Block = abi::kFp8Block;

/// What a plan binds (mirrors plan.fbs TensorRef).
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::string scaleName;           // "<name>_scale_inv"; empty = no block scale
  std::vector<int64_t> scaleShape; // [ceil(rows/128), ceil(cols/128)]
  /// FP8 only: the checkpoint holds the tensor in BF16/F16/F32 without a
  /// scale tensor, and the source quantizes it (quantizeFp8).
  bool quantizeAtLoad = false;
  /// Multi-device plans (docs/parallel.md): `shape` is one of `sliceParts`
  /// equal slices of the checkpoint tensor along dim `sliceDim`, starting at
  /// `sliceOffset`; FP8 blocks keep the whole tensor's 128x128 grid. -1: the
  /// whole tensor.
  int sliceDim = -1;
  int64_t sliceParts = 1;
  int64_t sliceOffset = 0;

  bool sliced() const { return sliceDim >= 0; }
  /// The checkpoint tensor's shape (`shape` unless sliced).
  std::vector<int64_t> checkpointShape() const;
  int64_t numel() const;
  /// "BF16 [448, 192]" for error messages.
  std::string typeString() const;
};

/// A tensor in the spec's dtype, for device upload.
struct RawTensor {
  TensorSpec spec;
  std::vector<uint8_t> data; // [numel * dtypeSize(spec.dtype)], row-major
  // [scaleShape] F32 block scales; empty without scaleName.
  std::vector<float> scales;
};

/// A raw tensor that may be wider than its spec: the spec's [rows, cols] are
/// rows [rowOffset, + rows) and columns [colOffset, + cols) of `raw` (whose
/// spec has the stored shape and block grid).
struct RawWindow {
  RawTensor raw;
  int64_t rowOffset = 0, colOffset = 0;
};

/// [ceil(rows/128), ceil(cols/128)] for a [rows, cols] weight.
std::vector<int64_t> fp8ScaleShape(const std::vector<int64_t> &shape);

/// Raw data of `count` elements of `dtype` (F32, BF16, F16, F8E4M3) as float32.
/// `data` need not be aligned.
void convertToF32(DType dtype, const uint8_t *data, int64_t count, float *out);

/// W[m, n] = float(q[m, n]) * scaleInv[m/128, n/128] for q [rows, cols] and
/// scaleInv [ceil(rows/128), ceil(cols/128)]; the last block of a dim may be
/// partial. `q` and `scaleInv` need not be aligned.
void dequantizeFp8(const uint8_t *q, const uint8_t *scaleInv, int64_t rows,
                   int64_t cols, float *out);

/// Quantizes w [rows, cols] per 128x128 block as DeepSeek's FP8 checkpoints
/// are made: scale_inv = amax/448 in f32 (1 for an all-zero block), q =
/// e4m3fn(w / scale_inv) rounded to nearest even (zeros unsigned); q [rows,
/// cols], scaleInv [ceil(rows/128), ceil(cols/128)].
void quantizeFp8(const float *w, int64_t rows, int64_t cols, uint8_t *q,
                 float *scaleInv);

/// The float32 values of a raw tensor (FP8 dequantized with its scales).
std::vector<float> toF32(const RawTensor &raw);

class WeightSource {
public:
  virtual ~WeightSource();
  /// The tensor as row-major float32 (FP8 dequantized), after checking the
  /// checkpoint's dtype and shape (and the scale's) against the spec.
  virtual std::vector<float> loadF32(const TensorSpec &spec) = 0;
  /// The tensor in spec.dtype, plus F32 block scales when spec.scaleName is
  /// set; toF32(loadRaw(spec)) == loadF32(spec).
  virtual RawTensor loadRaw(const TensorSpec &spec) = 0;
  /// For readers that convert any window of the block grid themselves (the
  /// host backend): loadRaw, except that a slice of a block-scaled tensor
  /// that does not cover whole 128x128 blocks comes widened to them. The
  /// default, for sources without stored dtypes, is loadF32 as an F32 tensor.
  virtual RawWindow loadRawWindow(const TensorSpec &spec);
  /// e.g. "checkpoint /path (207 tensors)" or "random weights (seed 7)".
  virtual std::string describe() const = 0;
};

/// A safetensors checkpoint (directory, .safetensors file or index.json; see
/// Checkpoint). Safe to load from several threads at once.
std::unique_ptr<WeightSource> openCheckpoint(const std::string &path);

/// Random weights, deterministic per (seed, tensor name) whatever the load
/// order, scaled per tensor role so that a DeepSeek forward pass stays well
/// conditioned: embeddings N(0,1), norms U(0.75,1.25), e_score_correction_bias
/// N(0,0.05^2), router N(0,1.5^2/in), lm_head/shared_head.head N(0,9/in),
/// other linears N(0,1/in). BF16/F16 specs get rounded values, FP8 specs are
/// quantized per 128x128 block (scale_inv = amax/448). Safe to use from
/// several threads at once.
std::unique_ptr<WeightSource> makeRandomWeights(uint64_t seed);

} // namespace moela

#endif // MOELA_RUNTIME_WEIGHTS_H
