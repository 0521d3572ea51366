//===- KernelOps.cpp - kernel operation verifiers -------------------------===//
#include "Kernel/KernelOps.h"

#include "mlir/IR/OpImplementation.h"
#include "runtime/kernels/Abi.h"

using namespace mlir;
using namespace moela::kernel;
using moela::nn::dimOf;
using moela::nn::WeightAttr;

#define GET_OP_CLASSES
#include "Kernel/KernelOps.cpp.inc"

/// Columns of a 2-D kernel tensor.
static int64_t cols(Value v) {
  return dimOf(v.getType(), cast<RankedTensorType>(v.getType()).getRank() - 1);
}

LogicalResult RopeOp::verify() {
  HeadRopeAttr rope = getRope();
  if (rope.getHeads() * rope.getHeadDim() != cols(getInput()))
    return emitOpError() << "rotates " << rope.getHeads() << " heads of "
                         << rope.getHeadDim() << " columns but the input has "
                         << cols(getInput()) << " columns (heads * head_dim)";
  return success();
}

int64_t GemmOp::getWeightRows() {
  int64_t rows = 0;
  for (Attribute w : getWeights())
    rows += cast<WeightAttr>(w).getDim(0);
  return rows;
}

int64_t GemmOp::getWeightCols() {
  return cast<WeightAttr>(getWeights()[0]).getDim(1);
}

LogicalResult GemmOp::verify() {
  if (getWeights().empty())
    return emitOpError() << "needs at least one weight";
  for (Attribute a : getWeights()) {
    auto w = cast<WeightAttr>(a);
    if (w.getRank() != 2 || w.getDim(1) != cols(getInput()))
      return emitOpError() << "weight '" << w.getName() << "' must be [N, "
                           << cols(getInput()) << "] for an input of "
                           << cols(getInput()) << " columns";
  }
  int64_t n = getWeightRows();
  if (getSiluMul()) {
    if (n % 2 != 0)
      return emitOpError() << "silu_mul needs an even number of weight rows";
    n /= 2;
  }
  if (cols(getResult()) != n)
    return emitOpError() << "result has " << cols(getResult())
                         << " columns, expected " << n
                         << " (weight rows, halved by silu_mul)";
  if (getPositions() && !getRope())
    return emitOpError()
           << "positions is the operand of a rope epilogue, which is missing";
  if (getRope()) {
    if (!getPositions())
      return emitOpError() << "a rope epilogue needs the positions operand";
    if (getRope()->getHeads() * getRope()->getHeadDim() != n)
      return emitOpError() << "rope epilogue covers "
                           << getRope()->getHeads() * getRope()->getHeadDim()
                           << " columns, the result has " << n;
  }
  if (TileAttr tile = getTileAttr();
      tile && tile.getThreads() != gemmThreads(tile.getEngine()))
    return emitOpError() << "a " << stringifyGemmEngine(tile.getEngine())
                         << " tile has " << gemmThreads(tile.getEngine())
                         << " threads, not " << tile.getThreads();
  if (getResidual() && getResidual().getType() != getType())
    return emitOpError() << "residual must have the result type";
  if (getPrecise() && llvm::any_of(getWeights(), [](Attribute a) {
        return cast<WeightAttr>(a).getDtype().isFloat8E4M3FN();
      }))
    return emitOpError()
           << "precise needs bf16 or f32 weights (its two bf16 input halves "
              "multiply the weights as they are)";
  return success();
}

LogicalResult HeadGemmOp::verify() {
  // I64Attr getters return uint64_t: take signed copies so that negative
  // offsets are caught and printed as such.
  WeightAttr w = getWeight();
  const int64_t heads = getHeads(), headRows = getHeadRows();
  const int64_t rowOffset = getRowOffset(), rows = getRows();
  const int64_t inOffset = getInOffset(), inStride = getInStride();
  if (w.getRank() != 2 || w.getDim(0) != heads * headRows)
    return emitOpError() << "weight '" << w.getName()
                         << "' must have heads * "
                            "head_rows = "
                         << heads * headRows << " rows";
  if (rowOffset < 0 || rowOffset + rows > headRows)
    return emitOpError() << "row block [" << rowOffset << ", "
                         << rowOffset + rows
                         << ") must lie within head_rows = " << headRows;
  int64_t in = getTranspose() ? rows : w.getDim(1);
  int64_t out = getTranspose() ? w.getDim(1) : rows;
  if (inOffset < 0 || inOffset + (heads - 1) * inStride + in > cols(getInput()))
    return emitOpError() << "head " << heads - 1 << " reads past the input's "
                         << cols(getInput()) << " columns";
  if (cols(getResult()) != heads * out)
    return emitOpError() << "result must have heads * " << out << " = "
                         << heads * out << " columns";
  return success();
}

LogicalResult MlaPrefillAttentionOp::verify() {
  const int64_t heads = getHeads(), dn = getNopeDim(), dr = getRopeDim(),
                dv = getVDim(); // signed: see above
  if (heads < 1 || dn < 1 || dr < 0 || dv < 1)
    return emitOpError() << "heads, nope and v must be >= 1 and rope >= 0";
  auto expect = [&](Value v, int64_t want, StringRef what) -> LogicalResult {
    if (cols(v) != want)
      return emitOpError() << what << " must have " << want << " columns, has "
                           << cols(v);
    return success();
  };
  if (failed(expect(getQuery(), heads * (dn + dr),
                    "query (heads * (nope + rope))")) ||
      failed(expect(getKv(), heads * (dn + dv), "kv (heads * (nope + v))")) ||
      failed(expect(getKPe(), dr, "k_pe (rope)")) ||
      failed(expect(getResult(), heads * dv, "the result (heads * v)")))
    return failure();
  return success();
}

LogicalResult ConcatOp::verify() {
  if (cols(getResult()) != cols(getLhs()) + cols(getRhs()))
    return emitOpError() << "result must have " << cols(getLhs()) << " + "
                         << cols(getRhs()) << " columns";
  return success();
}

LogicalResult SampleOp::verify() {
  if (cols(getSampling()) != moela::abi::kSamplingWords)
    return emitOpError() << "sampling must have " << moela::abi::kSamplingWords
                         << " columns (abi::SamplingWord), got "
                         << cols(getSampling());
  for (Value v : {getIds(), getLogprobs()})
    if (cols(v) != moela::abi::kSampleCols)
      return emitOpError() << "ids and logprobs must have "
                           << moela::abi::kSampleCols
                           << " columns (abi::kSampleCols), got " << cols(v);
  const int64_t parts = getCandidateParts(); // signed: see above
  if (parts < 0)
    return emitOpError() << "candidate_parts must be >= 0, got " << parts;
  if (parts > 0) {
    const int64_t width = cols(getLogits()) / parts, c = (width - 2) / 2;
    if (c < 1 || width * parts != cols(getLogits()) ||
        moela::abi::sampleCandidateCols(int(c)) != width)
      return emitOpError() << "logits must be " << parts
                           << " candidate blocks of 2 C + 2 columns, got "
                           << cols(getLogits()) << " columns";
  }
  return success();
}

LogicalResult SampleCandidatesOp::verify() {
  const int64_t c = getCandidates(); // signed: see above
  if (c < 1 || c > moela::abi::kMaxSampleCandidates || c > cols(getLogits()))
    return emitOpError() << "candidates must be in [1, min("
                         << moela::abi::kMaxSampleCandidates << ", "
                         << cols(getLogits()) << ")], got " << c;
  if (cols(getSampling()) != moela::abi::kSamplingWords)
    return emitOpError() << "sampling must have " << moela::abi::kSamplingWords
                         << " columns (abi::SamplingWord), got "
                         << cols(getSampling());
  if (cols(getResult()) != moela::abi::sampleCandidateCols(int(c)))
    return emitOpError() << "result must have 2 * " << c << " + 2 columns";
  return success();
}

LogicalResult AllReduceOp::verify() {
  if (getRanks() < 2)
    return emitOpError() << "needs at least 2 ranks, got " << getRanks();
  return success();
}

LogicalResult AllGatherOp::verify() {
  if (getRanks() < 2)
    return emitOpError() << "needs at least 2 ranks, got " << getRanks();
  if (cols(getResult()) != getRanks() * cols(getInput()))
    return emitOpError() << "result must have " << getRanks() << " x "
                         << cols(getInput()) << " columns";
  return success();
}

LogicalResult SliceOp::verify() {
  const int64_t offset = getOffset(), size = getSize(); // signed: see above
  if (offset < 0 || size < 1 || offset + size > cols(getInput()))
    return emitOpError() << "columns [" << offset << ", " << offset + size
                         << ") exceed the input's " << cols(getInput());
  if (cols(getResult()) != size)
    return emitOpError() << "result must have " << size << " columns";
  return success();
}
