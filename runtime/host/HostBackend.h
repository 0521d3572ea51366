//===- HostBackend.h - The CPU backend: every step in fp32 (internal) -----===//
//
// prepare() binds every weight of the plan once (parts concatenated by rows,
// expert sets as one matrix per expert): matrices in their checkpoint dtype,
// which the kernels convert a tile at a time, vectors as float32. It
// allocates every activation buffer of every program at its largest size and
// the latent KV cache (a pool of pages, read through each run's block tables).
// run() checks the inputs, sizes the buffers for T tokens and R logit rows,
// and executes the steps in order. One run at a time: runs share the buffers,
// the scratch memory and the KV cache.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_HOST_HOSTBACKEND_H
#define MOELA_RUNTIME_HOST_HOSTBACKEND_H

#include "Kernels.h"

#include "moela/Runtime/Backend.h"
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Weights.h"

#include <map>
#include <string>
#include <vector>

namespace moela {

class HostBackend final : public Backend {
public:
  /// A world of one (a single-process communicator of its own).
  HostBackend();
  /// Rank comm.rank() of comm.size(); `comm` outlives the backend.
  explicit HostBackend(Communicator &comm);

  std::string name() const override { return "host"; }
  void prepare(const Plan &plan, WeightSource &weights,
               const KvCacheShape &kv) override;
  StepOutputs run(const std::string &program,
                  const StepInputs &inputs) override;

  /// Whether buffers whose lifetimes do not overlap share memory (default
  /// true). Set before prepare(); false keeps every intermediate readable.
  void setBufferReuse(bool reuse) { reuseBuffers_ = reuse; }

  /// Buffer `buffer` of `program` as the last run left it, [rows, cols]
  /// row-major (I32 values converted to float): for tests, and for comparing
  /// intermediates with reference dumps (with buffer reuse off; with it on
  /// only the program's inputs and output are sure to be intact).
  std::vector<float> bufferContents(const std::string &program,
                                    const std::string &buffer) const;

private:
  /// One matrix of a plan Weight (an expert's in a set): 2-D parts as the
  /// checkpoint stores them, or float32 values (1-D weights, sources without
  /// stored dtypes).
  struct Matrix {
    std::vector<float> f32;             // [rows * cols]
    std::vector<RawTensor> stored;      // the parts, concatenated by rows
    std::vector<host::StoredRows> rows; // views of `stored`
  };

  /// One plan Weight: a matrix, or one per expert of this rank.
  struct BoundWeight {
    WeightShape shape;
    std::vector<Matrix> data; // [max(experts, 1)]
    /// Expert parallelism: the set's global index of data[0] and the
    /// global expert count (shape.experts and 0 without it).
    int firstExpert = 0, globalExperts = 0;
    /// A vocab-parallel table (shard_dim 0): its first row in the whole
    /// table and the whole table's rows; 0 and shape.rows otherwise.
    int64_t firstRow = 0, globalRows = 0;

    host::Weight matrix(size_t expert = 0) const;
    /// Every expert of the set by global index; another rank's have no data.
    std::vector<host::Weight> experts() const;
  };

  /// An activation buffer, allocated at its largest row count.
  /// An activation buffer: its place in the program's arenas.
  struct Buffer {
    const plan::Buffer *spec = nullptr;
    float *floats = nullptr; // [maxRows, cols] for float buffers
    int32_t *ints = nullptr; // [maxRows, cols] for I32 buffers
    int64_t rows = 0;        // in the current run
  };

  /// What a step needs beyond its plan entry: its RoPE frequencies.
  struct StepState {
    std::vector<float> invFreq; // [Dr/2]; empty without rope
    float magnitude = 1.0f;
  };

  struct ProgramState {
    const plan::Program *program = nullptr;
    std::vector<float> floatArena; // every float buffer (BufferLayout.h)
    std::vector<int32_t> intArena; // every I32 buffer
    std::vector<Buffer> buffers;
    std::vector<StepState> steps;
  };

  void bindWeights(WeightSource &weights);
  /// Loads matrix `expert` (-1: the weight's only one) of weight `index`.
  void bindMatrix(WeightSource &source, uint32_t index, int expert);
  void execute(ProgramState &p, const plan::Step &step, const StepState &state);

  host::Mat mat(ProgramState &p, const plan::Operand &op) const;
  host::IMat imat(ProgramState &p, const plan::Operand &op) const;
  host::KvLayer kvLayer(int layer);
  /// Throws unless every position is in [0, maxSeqLen) and slot in [0, slots).
  void checkCacheIndices(host::CIMat positions, host::CIMat seqIds) const;

  std::unique_ptr<Communicator> ownComm_; // the world of one, if no comm given
  Communicator *comm_ = nullptr;
  const Plan *plan_ = nullptr;
  bool reuseBuffers_ = true;
  KvCacheShape kvShape_;
  std::vector<BoundWeight> weights_;
  std::vector<std::vector<float>> kvCache_; // per layer [pages, 64, R_l + Dr]
  std::vector<int32_t> blockTables_; // the run's [sequences, pagesPerSeq]
  std::map<std::string, ProgramState> programs_;
  std::vector<float>
      scratch_; // GEMM epilogues, router logits, experts, expanded KV
};

} // namespace moela

#endif // MOELA_RUNTIME_HOST_HOSTBACKEND_H
