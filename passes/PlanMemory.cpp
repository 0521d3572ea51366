//===- PlanMemory.cpp - buffers, liveness and arena offsets ---------------===//
//
// Analyse first, then annotate: every kernel tensor gets a buffer (slices
// alias their input's), each buffer a row kind, a storage dtype, a lifetime
// [first def, last use] over the op sequence, and an offset in the program's
// arena such that buffers alive at the same time never overlap.
//
//===----------------------------------------------------------------------===//
#include "passes/IntervalIndex.h"
#include "passes/Passes.h"
#include "runtime/kernels/Abi.h"

#include "llvm/ADT/TypeSwitch.h"

namespace moela {
#define GEN_PASS_DEF_PLANMEMORYPASS
#include "passes/Passes.h.inc"
} // namespace moela

using namespace mlir;
using namespace moela;
using kernel::RowKind;

namespace {

constexpr int64_t kAlignment = abi::kBufferAlign;

struct BufferInfo {
  std::string name;
  Type dtype;
  RowKind rows = RowKind::token;
  int64_t rowFactor = 1;
  int64_t cols = 0;
  int64_t firstUse = 0, lastUse = 0; // op indices; -1 = before the first op
  int64_t bytes = 0, offset = 0;
  int64_t scales = -1; // FP8 buffers: the buffer of their block scales
};

class MemoryPlanner {
public:
  MemoryPlanner(func::FuncOp func, bool host, int64_t maxTokens,
                int64_t maxLogitRows)
      : func(func), host(host), maxTokens(maxTokens),
        maxLogitRows(maxLogitRows) {}

  void run() {
    assignBuffers();
    computeLifetimes();
    packArena();
    annotate();
  }

private:
  /// The buffer a value lives in (creating it for a new root value).
  int64_t bufferOf(Value v) {
    if (auto slice = v.getDefiningOp<kernel::SliceOp>())
      return bufferOf(slice.getInput());
    auto it = bufferIds.find(v);
    return it == bufferIds.end() ? -1 : it->second;
  }

  void addBuffer(Value v, StringRef name, RowKind rows, int64_t factor) {
    BufferInfo info;
    info.name = name.str();
    info.rows = rows;
    info.rowFactor = factor;
    auto type = cast<RankedTensorType>(v.getType());
    info.cols = type.getRank() == 1 ? 1 : type.getDimSize(1);
    if (!type.isDynamicDim(0)) { // a fixed-size tensor, e.g. expert offsets
      info.rows = RowKind::fixed;
      info.rowFactor = type.getDimSize(0);
    }
    info.dtype = storageType(v);
    bufferIds[v] = buffers.size();
    buffers.push_back(info);
    if (info.dtype.isFloat8E4M3FN())
      addScales(buffers.size() - 1);
  }

  /// The f32 block scales of an FP8 buffer (docs/model.md §3.4): one per row
  /// and 128 columns, alive exactly as long as the buffer they scale.
  void addScales(size_t data) {
    BufferInfo info = buffers[data];
    info.name += ".scales";
    info.dtype = Float32Type::get(func.getContext());
    info.cols = (info.cols + abi::kFp8Block - 1) / abi::kFp8Block;
    buffers[data].scales = static_cast<int64_t>(buffers.size());
    buffers.push_back(info);
  }

  /// Row kind and factor of a result from its producer (module comment of
  /// the kernel dialect): most ops keep their first operand's rows.
  std::pair<RowKind, int64_t> rowsOf(Operation *op) {
    auto of = [&](Value v) {
      const BufferInfo &b = buffers[bufferOf(v)];
      return std::make_pair(b.rows, b.rowFactor);
    };
    return TypeSwitch<Operation *, std::pair<RowKind, int64_t>>(op)
        .Case([&](kernel::MoeExpertsOp o) {
          return std::make_pair(RowKind::token,
                                nn::dimOf(o.getIndices().getType(), 1));
        })
        .Case([&](kernel::MoeDispatchOp o) {
          return std::make_pair(RowKind::token,
                                nn::dimOf(o.getIndices().getType(), 1));
        })
        .Case([&](kernel::MoeCombineOp o) { return of(o.getWeights()); })
        .Case([&](kernel::GatherRowsOp o) { return of(o.getRows()); })
        .Default([&](Operation *o) { return of(o->getOperand(0)); });
  }

  /// Storage precision on the target: the host computes everything in f32.
  /// On a GPU a tensor is bf16 when it is only ever read by tensor cores (the
  /// A operand of a matrix multiply, the queries of latent attention and
  /// the queries, keys and values of prefill attention), and
  /// f32 otherwise: the residual stream, norms' inputs, routing and logits
  /// keep full precision.
  Type storageType(Value v) {
    Builder b(func.getContext());
    auto type = cast<RankedTensorType>(v.getType());
    if (type.getElementType().isInteger(32))
      return b.getI32Type();
    if (host)
      return b.getF32Type();
    if (isQuantizedNorm(v))
      return b.getType<Float8E4M3FNType>();
    return onlyMatmulInput(v) ? Type(b.getBF16Type()) : Type(b.getF32Type());
  }

  /// Whether `v` is the normed output of a norm that moela-fuse-add-norm
  /// marked `quantize` (all its users are FP8 GEMMs, which take it as A).
  static bool isQuantizedNorm(Value v) {
    if (auto norm = v.getDefiningOp<kernel::RmsNormOp>())
      return norm.getQuantize();
    if (auto norm = v.getDefiningOp<kernel::AddRmsNormOp>())
      return norm.getQuantize() && v == norm.getResult();
    return false;
  }

  /// Whether every use of `v` (through slices) is a tensor-core input: the A
  /// operand of a GEMM, grouped GEMM or per-head GEMM, a query of latent
  /// attention or an operand of prefill attention (both multiply in bf16 on
  /// tensor cores).
  static bool onlyMatmulInput(Value v) {
    if (v.use_empty())
      return false;
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto slice = dyn_cast<kernel::SliceOp>(user)) {
        if (!onlyMatmulInput(slice.getResult()))
          return false;
        continue;
      }
      bool a =
          (isa<kernel::GemmOp>(user) &&
           use.get() == cast<kernel::GemmOp>(user).getInput() &&
           !cast<kernel::GemmOp>(user).getPrecise()) || // its input stays f32
          (isa<kernel::GroupedGemmOp>(user) &&
           use.get() == cast<kernel::GroupedGemmOp>(user).getInput()) ||
          (isa<kernel::HeadGemmOp>(user) &&
           use.get() == cast<kernel::HeadGemmOp>(user).getInput()) ||
          (isa<kernel::MlaLatentAttentionOp>(user) &&
           use.getOperandNumber() < 2) ||
          (isa<kernel::MlaPrefillAttentionOp>(user) &&
           use.getOperandNumber() < 3);
      if (!a)
        return false;
    }
    return true;
  }

  void assignBuffers() {
    Block &body = func.getBody().front();
    // abi::ProgramInput order; moela-sample adds `sampling`.
    static const char *kArgNames[] = {"tokens", "positions", "seq_ids",
                                      "logit_rows", "sampling"};
    for (BlockArgument arg : body.getArguments()) {
      const unsigned i = std::min<unsigned>(arg.getArgNumber(), 4);
      addBuffer(arg, kArgNames[i],
                i >= abi::kLogitRows ? RowKind::logit_row : RowKind::token, 1);
    }
    for (Operation &op : body) {
      if (isa<kernel::SliceOp>(op))
        continue;
      std::string name = kernel::locationName(op.getLoc());
      for (OpResult result : op.getResults()) {
        auto [rows, factor] = rowsOf(&op);
        std::string suffix =
            op.getNumResults() > 1
                ? "#" + std::to_string(result.getResultNumber())
                : "";
        addBuffer(result, name + suffix, rows, factor);
      }
    }
  }

  void computeLifetimes() {
    Block &body = func.getBody().front();
    for (BufferInfo &b : buffers)
      b.firstUse = b.lastUse = -1;
    const int64_t end = static_cast<int64_t>(body.getOperations().size()) - 1;
    int64_t index = 0;
    for (Operation &op : body) {
      for (OpResult r : op.getResults())
        if (!isa<kernel::SliceOp>(op)) {
          BufferInfo &b = buffers[bufferOf(r)];
          b.firstUse = b.lastUse = index;
        }
      for (Value operand : op.getOperands()) {
        int64_t id = bufferOf(operand);
        if (id >= 0)
          buffers[id].lastUse = std::max(buffers[id].lastUse, index);
      }
      // What the program returns must survive to the end.
      if (isa<func::ReturnOp>(op))
        for (Value v : op.getOperands())
          buffers[bufferOf(v)].lastUse = end + 1;
      ++index;
    }
    // Inputs are written before the first step and live throughout.
    for (BlockArgument arg : body.getArguments()) {
      BufferInfo &b = buffers[bufferOf(arg)];
      b.firstUse = -1;
      b.lastUse = end + 1;
    }
    for (BufferInfo &b : buffers)
      if (b.scales >= 0) {
        buffers[b.scales].firstUse = b.firstUse;
        buffers[b.scales].lastUse = b.lastUse;
      }
  }

  int64_t rowsAtMax(const BufferInfo &b) const {
    switch (b.rows) {
    case RowKind::token:
      return b.rowFactor * maxTokens;
    case RowKind::logit_row:
      return b.rowFactor * maxLogitRows;
    case RowKind::fixed:
      return b.rowFactor;
    }
    return 0;
  }

  /// First fit by decreasing size among the buffers whose lifetimes overlap.
  void packArena() {
    for (BufferInfo &b : buffers) {
      int64_t raw =
          rowsAtMax(b) * b.cols * (b.dtype.getIntOrFloatBitWidth() / 8);
      b.bytes = (raw + kAlignment - 1) / kAlignment * kAlignment;
    }
    SmallVector<size_t> order(buffers.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    llvm::stable_sort(order, [&](size_t a, size_t b) {
      return buffers[a].bytes > buffers[b].bytes;
    });
    // Lifetimes lie in [-1, number of ops].
    int64_t lastPoint = 0;
    for (const BufferInfo &b : buffers)
      lastPoint = std::max(lastPoint, b.lastUse);
    IntervalIndex placed(-1, lastPoint);
    std::vector<int64_t> seen(buffers.size(), -1), neighbours;
    for (size_t i : order) {
      BufferInfo &b = buffers[i];
      neighbours.clear();
      placed.overlapping(b.firstUse, b.lastUse, seen, i, neighbours);
      SmallVector<std::pair<int64_t, int64_t>>
          busy; // [offset, end) of live neighbours
      for (int64_t j : neighbours)
        busy.push_back(
            {buffers[j].offset, buffers[j].offset + buffers[j].bytes});
      llvm::sort(busy);
      int64_t offset = 0;
      for (auto [start, stop] : busy) {
        if (offset + b.bytes <= start)
          break;
        offset = std::max(offset, stop);
      }
      b.offset = offset;
      arenaBytes = std::max(arenaBytes, offset + b.bytes);
      placed.insert(b.firstUse, b.lastUse, i);
    }
  }

  void annotate() {
    MLIRContext *context = func.getContext();
    Builder b(context);
    SmallVector<Attribute> table;
    for (const BufferInfo &info : buffers)
      table.push_back(kernel::BufferAttr::get(
          context, info.name, info.dtype, info.rows, info.rowFactor, info.cols,
          info.offset, info.bytes, info.scales));
    func->setAttr(kernel::kBufferTableAttr, b.getArrayAttr(table));
    func->setAttr(kernel::kArenaBytesAttr, b.getI64IntegerAttr(arenaBytes));
    func->setAttr(kernel::kMaxTokensAttr, b.getI64IntegerAttr(maxTokens));
    func->setAttr(kernel::kMaxLogitRowsAttr, b.getI64IntegerAttr(maxLogitRows));
    Block &body = func.getBody().front();
    for (BlockArgument arg : body.getArguments())
      func.setArgAttr(arg.getArgNumber(), kernel::kBufferIdsAttr,
                      b.getI64IntegerAttr(bufferOf(arg)));
    for (Operation &op : body) {
      if (op.getNumResults() == 0)
        continue;
      SmallVector<int64_t> ids;
      for (OpResult r : op.getResults())
        ids.push_back(bufferOf(r));
      op.setAttr(kernel::kBufferIdsAttr, b.getDenseI64ArrayAttr(ids));
    }
  }

  func::FuncOp func;
  bool host;
  int64_t maxTokens, maxLogitRows;
  DenseMap<Value, int64_t> bufferIds;
  std::vector<BufferInfo> buffers;
  int64_t arenaBytes = 0;
};

struct PlanMemoryPass : public moela::impl::PlanMemoryPassBase<PlanMemoryPass> {
  using PlanMemoryPassBase::PlanMemoryPassBase;

  void runOnOperation() override {
    if (maxPrefillTokens < 1 || maxBatch < 1) {
      getOperation().emitError()
          << "moela-plan-memory: max-prefill-tokens and max-batch must be >= 1";
      return signalPassFailure();
    }
    bool host = target == CompileTarget::host;
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>()) {
      int64_t tokens =
          kernel::isPrefillProgram(func) ? maxPrefillTokens : maxBatch;
      MemoryPlanner(func, host, tokens, std::min(tokens, int64_t(maxBatch)))
          .run();
    }
  }
};

} // namespace
