//===- NNDialect.cpp - nn dialect, weight attribute, shape helpers --------===//
#include "NN/NNDialect.h"
#include "NN/NNOps.h"
#include "runtime/kernels/Abi.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace moela::nn;

#include "NN/NNDialect.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "NN/NNAttrs.cpp.inc"

void NNDialect::initialize() {
#include "NN/NNRegistration.inc"
}

//===----------------------------------------------------------------------===//
// #nn.weight<"name" : dtype[d0, d1] (, scale "name"[s0, s1])?
//             (, shard D of P)?>
//===----------------------------------------------------------------------===//

static ParseResult parseDims(AsmParser &parser,
                             SmallVectorImpl<int64_t> &dims) {
  return parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&]() {
    int64_t d = 0;
    if (parser.parseInteger(d))
      return failure();
    dims.push_back(d);
    return success();
  });
}

Attribute WeightAttr::parse(AsmParser &parser, Type) {
  std::string name, scaleName;
  Type dtype;
  SmallVector<int64_t> shape, scaleShape;
  int64_t shardDim = -1, shardParts = 1;
  if (parser.parseLess() || parser.parseString(&name) || parser.parseColon() ||
      parser.parseType(dtype) || parseDims(parser, shape))
    return {};
  while (succeeded(parser.parseOptionalComma())) {
    if (succeeded(parser.parseOptionalKeyword("shard"))) {
      if (parser.parseInteger(shardDim) || parser.parseKeyword("of") ||
          parser.parseInteger(shardParts))
        return {};
    } else if (parser.parseKeyword("scale") || parser.parseString(&scaleName) ||
               parseDims(parser, scaleShape)) {
      return {};
    }
  }
  if (parser.parseGreater())
    return {};
  return parser.getChecked<WeightAttr>(parser.getContext(), name, dtype, shape,
                                       scaleName, scaleShape, shardDim,
                                       shardParts);
}

void WeightAttr::print(AsmPrinter &printer) const {
  auto printDims = [&](ArrayRef<int64_t> dims) {
    printer << "[";
    llvm::interleaveComma(dims, printer);
    printer << "]";
  };
  printer << "<";
  printer.printString(getName());
  printer << " : " << getDtype();
  printDims(getShape());
  if (isBlockScaled()) {
    printer << ", scale ";
    printer.printString(getScaleName());
    printDims(getScaleShape());
  }
  if (isSharded())
    printer << ", shard " << getShardDim() << " of " << getShardParts();
  printer << ">";
}

SmallVector<int64_t, 2> WeightAttr::getFullShape() const {
  SmallVector<int64_t, 2> full(getShape());
  if (isSharded())
    full[getShardDim()] *= getShardParts();
  return full;
}

WeightAttr WeightAttr::sharded(int64_t dim, int64_t parts) const {
  SmallVector<int64_t, 2> shape(getShape());
  shape[dim] /= parts;
  SmallVector<int64_t, 2> scaleShape;
  if (isBlockScaled())
    scaleShape = fp8ScaleShape(shape);
  return WeightAttr::get(getContext(), getName(), getDtype(), shape,
                         getScaleName(), scaleShape, dim, parts);
}

LogicalResult WeightAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 StringRef name, Type dtype,
                                 ArrayRef<int64_t> shape, StringRef scaleName,
                                 ArrayRef<int64_t> scaleShape, int64_t shardDim,
                                 int64_t shardParts) {
  if (name.empty())
    return emitError() << "weight needs a checkpoint tensor name";
  if (shape.empty() || shape.size() > 2)
    return emitError() << "weight '" << name << "' must have rank 1 or 2, got "
                       << shape.size();
  for (int64_t d : shape)
    if (d <= 0)
      return emitError() << "weight '" << name << "' has a non-positive dim "
                         << d;
  if (!dtype.isF32() && !dtype.isBF16() && !dtype.isF16() &&
      !dtype.isFloat8E4M3FN())
    return emitError() << "weight '" << name
                       << "' must be f32, bf16, f16 or f8E4M3FN, got " << dtype;
  bool fp8 = dtype.isFloat8E4M3FN();
  if (fp8 != !scaleName.empty())
    return emitError() << "weight '" << name
                       << "': an f8E4M3FN weight needs a block scale and only "
                          "an f8E4M3FN weight may have one";
  if (fp8) {
    if (shape.size() != 2)
      return emitError() << "f8E4M3FN weight '" << name << "' must have rank 2";
    SmallVector<int64_t, 2> expected = fp8ScaleShape(shape);
    if (ArrayRef<int64_t>(expected) != scaleShape)
      return emitError() << "weight '" << name << "' has scale shape "
                         << shapeToString(scaleShape) << ", expected "
                         << shapeToString(expected) << " (ceil(shape / "
                         << moela::abi::kFp8Block << "), docs/model.md §2)";
  }
  if (shardParts < 1 ||
      (shardParts > 1 && (shardDim < 0 || shardDim >= int64_t(shape.size()))))
    return emitError() << "weight '" << name << "': shard " << shardDim
                       << " of " << shardParts
                       << " needs a dim of the tensor and at least one part";
  return success();
}

//===----------------------------------------------------------------------===//
// Shape helpers shared by the verifiers of nn, mla and moe
//===----------------------------------------------------------------------===//

SmallVector<int64_t, 2> moela::nn::fp8ScaleShape(ArrayRef<int64_t> shape) {
  auto blocks = [](int64_t dim) {
    return (dim + moela::abi::kFp8Block - 1) / moela::abi::kFp8Block;
  };
  return {blocks(shape[0]), blocks(shape[1])};
}

RankedTensorType moela::nn::getIndexVectorType(MLIRContext *context) {
  return RankedTensorType::get({ShapedType::kDynamic},
                               IntegerType::get(context, 32));
}

bool moela::nn::isIndexVector(Type type) {
  return type == getIndexVectorType(type.getContext());
}

std::string moela::nn::shapeToString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  llvm::raw_string_ostream os(s);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << "?";
        else
          os << d;
      },
      ", ");
  os << "]";
  return s;
}

int64_t moela::nn::dimOf(Type type, unsigned dim) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || dim >= tensor.getRank())
    return ShapedType::kDynamic;
  return tensor.getDimSize(dim);
}

LogicalResult moela::nn::verifyWeightShape(Operation *op, StringRef role,
                                           WeightAttr weight,
                                           ArrayRef<int64_t> expected,
                                           StringRef rule) {
  ArrayRef<int64_t> shape = weight.getShape();
  bool ok = shape.size() == expected.size();
  for (size_t i = 0; ok && i < shape.size(); ++i)
    ok = expected[i] < 0 || expected[i] == shape[i];
  if (ok)
    return success();
  SmallVector<int64_t> shown;
  for (int64_t e : expected)
    shown.push_back(e < 0 ? ShapedType::kDynamic : e);
  return op->emitOpError() << role << " weight '" << weight.getName()
                           << "' has shape " << shapeToString(shape)
                           << ", expected " << shapeToString(shown) << " ("
                           << rule << ")";
}

LogicalResult moela::nn::verifyTensorShape(Operation *op, StringRef what,
                                           Type type, ArrayRef<int64_t> dims,
                                           StringRef rule) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  bool ok = tensor && tensor.getRank() == static_cast<int64_t>(dims.size());
  for (size_t i = 0; ok && i < dims.size(); ++i)
    ok = dims[i] < 0 || tensor.isDynamicDim(i) ||
         tensor.getDimSize(i) == dims[i];
  if (ok)
    return success();
  SmallVector<int64_t> shown;
  for (int64_t e : dims)
    shown.push_back(e < 0 ? ShapedType::kDynamic : e);
  return op->emitOpError() << what << " has type " << type
                           << ", expected shape " << shapeToString(shown)
                           << " (" << rule << ")";
}

LogicalResult moela::nn::verifyMlpShape(Operation *op, Type type,
                                        WeightAttr gate, WeightAttr up,
                                        WeightAttr down,
                                        const MlpShapeRules &rules) {
  constexpr int64_t kAny = -1;
  if (failed(verifyTensorShape(op, "input", type, {kAny, kAny},
                               "input is [T, D]")))
    return failure();
  int64_t d = dimOf(type, 1);
  int64_t f = gate.getRank() == 2 ? gate.getDim(0) : kAny;
  if (failed(verifyWeightShape(op, "gate", gate, {f, d}, rules.gate)) ||
      failed(verifyWeightShape(op, "up", up, {f, d}, rules.up)) ||
      failed(verifyWeightShape(op, "down", down, {d, f}, rules.down)))
    return failure();
  return success();
}
