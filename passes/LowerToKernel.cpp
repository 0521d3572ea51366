//===- LowerToKernel.cpp - model IR -> kernel IR, one concept at a time ---===//
//
// Each nn/mla/moe op is rebuilt as the kernel ops that compute it, in place,
// without fusion (the fusion passes run on the kernel IR afterwards). Values
// are remapped as the walk goes; per-head tensors [T, H, X] become [T, H*X].
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/TypeSwitch.h"

namespace moela {
#define GEN_PASS_DEF_LOWERTOKERNELPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;
using nn::WeightAttr;

namespace {

/// Rebuilds one function's body in kernel ops.
class FunctionLowering {
public:
  explicit FunctionLowering(func::FuncOp func)
      : func(func), b(func.getContext()) {}

  LogicalResult run() {
    SmallVector<Operation *> old;
    for (Operation &op : func.getBody().front())
      old.push_back(&op);
    for (Operation *op : old) {
      b.setInsertionPoint(op);
      if (failed(lower(op)))
        return failure();
    }
    for (Operation *op : llvm::reverse(old))
      if (!isa<func::ReturnOp>(op))
        op->erase();
    return success();
  }

private:
  /// The lowered value standing for a model-IR value.
  Value get(Value v) { return map.lookupOrDefault(v); }

  RankedTensorType rows(int64_t cols, Type element = {}) {
    return RankedTensorType::get({ShapedType::kDynamic, cols},
                                 element ? element : b.getF32Type());
  }

  /// Columns of the 2-D form of a model-IR tensor: [T, a, b] -> a*b.
  static int64_t flatCols(Value v) {
    auto type = cast<RankedTensorType>(v.getType());
    int64_t cols = 1;
    for (int64_t i = 1; i < type.getRank(); ++i)
      cols *= type.getDimSize(i);
    return cols;
  }

  Value gemm(Location loc, Value x, ArrayRef<WeightAttr> weights) {
    int64_t n = 0;
    SmallVector<Attribute> attrs;
    for (WeightAttr w : weights) {
      n += w.getDim(0);
      attrs.push_back(w);
    }
    return b.create<kernel::GemmOp>(loc, rows(n), x, b.getArrayAttr(attrs));
  }

  Value rmsNorm(Location loc, Value x, WeightAttr w, FloatAttr eps) {
    return b.create<kernel::RmsNormOp>(loc, x.getType(), x, w, eps, UnitAttr());
  }

  /// down(silu(gate(x)) * up(x)) as three GEMMs and an element-wise op.
  Value mlp(Location loc, Value x, WeightAttr gate, WeightAttr up,
            WeightAttr down) {
    Value g = gemm(loc, x, gate);
    Value u = gemm(loc, x, up);
    Value a = b.create<kernel::SiluMulOp>(loc, g, u);
    return gemm(loc, a, down);
  }

  LogicalResult lower(Operation *op) {
    Location loc = op->getLoc();
    return TypeSwitch<Operation *, LogicalResult>(op)
        .Case([&](nn::EmbeddingOp o) {
          map.map(o, b.create<kernel::EmbeddingOp>(loc, rows(flatCols(o)),
                                                   get(o.getTokens()),
                                                   o.getTable())
                         .getResult());
          return success();
        })
        .Case([&](nn::RmsNormOp o) {
          map.map(o, rmsNorm(loc, get(o.getInput()), o.getWeight(),
                             o.getEpsAttr()));
          return success();
        })
        .Case([&](nn::LinearOp o) {
          map.map(o, gemm(loc, get(o.getInput()), o.getWeight()));
          return success();
        })
        .Case([&](nn::LmHeadOp o) {
          map.map(o, gemm(loc, get(o.getInput()), o.getWeight()));
          return success();
        })
        .Case([&](nn::AddOp o) {
          map.map(o,
                  b.create<kernel::AddOp>(loc, get(o.getLhs()), get(o.getRhs()))
                      .getResult());
          return success();
        })
        .Case([&](nn::SiluMulOp o) {
          map.map(o, b.create<kernel::SiluMulOp>(loc, get(o.getGate()),
                                                 get(o.getUp()))
                         .getResult());
          return success();
        })
        .Case<nn::MlpOp, moe::SharedExpertOp>([&](auto o) {
          map.map(o, mlp(loc, get(o.getInput()), o.getGate(), o.getUp(),
                         o.getDown()));
          return success();
        })
        .Case([&](nn::AllReduceOp o) {
          Value x = get(o.getInput());
          map.map(o, b.create<kernel::AllReduceOp>(loc, x.getType(), x,
                                                   o.getRanksAttr())
                         .getResult());
          return success();
        })
        .Case([&](nn::AllGatherOp o) {
          map.map(o, b.create<kernel::AllGatherOp>(loc, rows(flatCols(o)),
                                                   get(o.getInput()),
                                                   o.getRanksAttr())
                         .getResult());
          return success();
        })
        .Case([&](nn::ArgmaxOp o) {
          map.map(
              o, b.create<kernel::ArgmaxOp>(loc, o.getType(), get(o.getInput()))
                     .getResult());
          return success();
        })
        .Case([&](nn::NextTokensOp o) {
          map.map(o, b.create<kernel::NextTokensOp>(
                          loc, o.getType(), get(o.getTokens()),
                          get(o.getPositions()), get(o.getSeqIds()),
                          get(o.getLogitRows()), get(o.getIds()))
                         .getResult());
          return success();
        })
        .Case([&](nn::MtpProjOp o) {
          // eh_proj [D, 2D] of [e | h] [T, 2D].
          Value e = get(o.getEmbedded()), h = get(o.getHidden());
          Value eh =
              b.create<kernel::ConcatOp>(loc, rows(2 * flatCols(o)), e, h);
          map.map(o, gemm(loc, eh, o.getWeight()));
          return success();
        })
        .Case([&](nn::GatherRowsOp o) {
          Value x = get(o.getInput());
          map.map(o, b.create<kernel::GatherRowsOp>(loc, x.getType(), x,
                                                    get(o.getRows()))
                         .getResult());
          return success();
        })
        .Case([&](mla::QProjOp o) {
          Value x = get(o.getInput());
          Value q = o.hasLora() ? gemm(loc,
                                       rmsNorm(loc, gemm(loc, x, *o.getQA()),
                                               *o.getQNorm(), o.getEpsAttr()),
                                       *o.getQB())
                                : gemm(loc, x, *o.getQ());
          map.map(o, q);
          return success();
        })
        .Case([&](mla::KvProjOp o) {
          int64_t r = flatCols(o.getLatent()), dr = flatCols(o.getKPe());
          Value kv = gemm(loc, get(o.getInput()), o.getKvA()); // [T, R + Dr]
          Value c = b.create<kernel::SliceOp>(loc, rows(r), kv, 0, r);
          Value kpe = b.create<kernel::SliceOp>(loc, rows(dr), kv, r, dr);
          map.map(o.getLatent(),
                  rmsNorm(loc, c, o.getKvNorm(), o.getEpsAttr()));
          map.map(o.getKPe(), kpe);
          return success();
        })
        .Case([&](mla::RopeOp o) {
          auto type = o.getType();
          int64_t heads = type.getRank() == 3 ? type.getDimSize(1) : 1;
          int64_t headDim = type.getDimSize(type.getRank() - 1);
          auto rope = kernel::HeadRopeAttr::get(b.getContext(), heads, headDim,
                                                headDim - o.getRope().getDim(),
                                                o.getRope());
          Value x = get(o.getInput());
          map.map(o, b.create<kernel::RopeOp>(loc, x.getType(), x,
                                              get(o.getPositions()), rope)
                         .getResult());
          return success();
        })
        .Case([&](mla::AttentionOp o) {
          b.create<kernel::KvAppendOp>(
              loc, get(o.getLatent()), get(o.getKPe()), get(o.getPositions()),
              get(o.getSeqIds()), o.getLayerAttr(), WeightAttr(), FloatAttr(),
              kernel::HeadRopeAttr());
          auto form = o.getForm().value_or(mla::AttentionForm::absorbed);
          map.map(o,
                  b.create<kernel::MlaAttentionOp>(
                       loc, rows(flatCols(o)), get(o.getQuery()),
                       get(o.getPositions()), get(o.getSeqIds()), o.getKvB(),
                       o.getLayerAttr(), b.getI64IntegerAttr(o.getHeads()),
                       b.getI64IntegerAttr(o.getNopeDim()),
                       b.getI64IntegerAttr(o.getRopeDim()),
                       b.getI64IntegerAttr(o.getVDim()),
                       b.getI64IntegerAttr(o.getLatentDim()), o.getScaleAttr(),
                       mla::AttentionFormAttr::get(b.getContext(), form),
                       kernel::TileAttr())
                      .getResult());
          return success();
        })
        .Case([&](moe::RouteOp o) {
          int64_t k = o.getRouting().getTopK();
          auto route = b.create<kernel::RouteOp>(
              loc, rows(k, b.getI32Type()), rows(k), get(o.getLogits()),
              o.getRouting(), WeightAttr(), o.getBiasAttr());
          map.map(o.getIndices(), route.getIndices());
          map.map(o.getWeights(), route.getWeights());
          return success();
        })
        .Case([&](moe::ExpertsOp o) {
          // [T, K, D] becomes [K*T, D]: one row per routed slot.
          map.map(o,
                  b.create<kernel::MoeExpertsOp>(
                       loc, rows(o.getWeights().getHidden()), get(o.getInput()),
                       get(o.getIndices()), o.getWeights())
                      .getResult());
          return success();
        })
        .Case([&](moe::CombineOp o) {
          Value shared = o.getShared() ? get(o.getShared()) : Value();
          map.map(o, b.create<kernel::MoeCombineOp>(
                          loc, rows(flatCols(o)), get(o.getExpertOutputs()),
                          get(o.getWeights()), /*perm=*/Value(), shared,
                          /*residual=*/Value())
                         .getResult());
          return success();
        })
        .Case([&](func::ReturnOp o) {
          for (OpOperand &operand : o->getOpOperands())
            operand.set(get(operand.get()));
          return success();
        })
        .Default([&](Operation *other) {
          return other->emitOpError()
                 << "has no lowering to the kernel dialect";
        });
  }

  func::FuncOp func;
  OpBuilder b;
  IRMapping map;
};

struct LowerToKernelPass
    : public moela::impl::LowerToKernelPassBase<LowerToKernelPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    // MTP modules run inside the main programs (moela-mtp-draft) or not at
    // all; their standalone functions are not programs.
    for (func::FuncOp func :
         llvm::make_early_inc_range(module.getOps<func::FuncOp>()))
      if (func.getSymName().starts_with(abi::kMtpPrefix))
        func.erase();
    for (func::FuncOp func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && failed(FunctionLowering(func).run()))
        return signalPassFailure();
  }
};

} // namespace
