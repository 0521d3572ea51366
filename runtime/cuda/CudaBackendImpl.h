//===- CudaBackendImpl.h - The CUDA backend's state (internal) ------------===//
//
// A device's primary context and one stream (device 0, or under mpirun the
// rank's local rank modulo the devices; NCCL for the collectives); the plan's
// cubins as modules; every weight uploaded once in its checkpoint dtype (FP8
// with its block scales; expert sets back to back); one activation arena shared
// by the programs (they never run at the same time) laid out by the plan's
// memory planner; the paged latent KV cache and its block tables; RoPE
// frequency tables; one workspace. A
// decode step is captured in a CUDA graph per token count and replayed.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CUDA_CUDABACKENDIMPL_H
#define MOELA_RUNTIME_CUDA_CUDABACKENDIMPL_H

#include "DeviceMemory.h"
#include "Nccl.h"

#include "kernels/Abi.h"
#include "kernels/Args.h"
#include "moela/Runtime/Backend.h"
#include "moela/Runtime/Plan.h"

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace moela {
class Communicator;
}

namespace moela::cuda {

/// The rank's index among the ranks of its node (mpirun's local rank).
int localRank(const Communicator &comm);

/// One part of a bound weight on the device (an expert set: all experts).
struct DeviceWeight {
  DeviceBuffer data, scales;
  plan::DType dtype = plan::DType::F32; // as stored on the device
  kernels::Weight view;                 // pointers and strides for kernel args
};

class CudaBackend : public Backend {
public:
  /// `comm` (may be null: a world of one) must outlive the backend; with
  /// more than one rank the device is the local rank modulo the devices.
  explicit CudaBackend(Communicator *comm = nullptr);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  void prepare(const Plan &plan, WeightSource &weights,
               const KvCacheShape &kv) override;
  StepOutputs run(const std::string &program,
                  const StepInputs &inputs) override;

  /// Whether decode steps are captured in CUDA graphs (default on).
  void setUseGraphs(bool use) { useGraphs = use; }

private:
  struct ProgramState {
    const plan::Program *program = nullptr;
    std::map<std::pair<int, int>, CUgraphExec> graphs; // (T, R) -> decode graph
  };

  void loadKernels();
  void uploadWeights(WeightSource &weights);
  void uploadWeight(uint32_t index, WeightSource &weights);
  void prepareRopeTables();
  /// NCCL's communicator over the plan's ranks (the unique id from rank 0
  /// through `comm_`); throws unless `comm_` has `worldSize` ranks.
  void initNccl(int worldSize);
  /// Waits for the stream's work. With NCCL it polls the communicator's
  /// asynchronous error meanwhile, so that a peer that died or a network
  /// error ends this rank with a line naming the error instead of a hang
  /// (and after MOELA_COLLECTIVE_TIMEOUT seconds, default 300, a step that
  /// never finishes); the communicator is aborted first.
  void waitForStream(const char *what);
  /// AllReduce / AllGather (CudaCollectives.cpp).
  void launchCollective(const plan::Step &step, const plan::Program &program,
                        int tokens, int logitRows);
  size_t collectiveWorkspaceBytes(const plan::Step &step,
                                  const plan::Program &program) const;
  void copy2D(CUdeviceptr src, size_t srcPitch, CUdeviceptr dst,
              size_t dstPitch, size_t widthBytes, size_t rows,
              const std::string &what);
  void launchSteps(const ProgramState &state, int tokens, int logitRows);
  void launchStep(const plan::Step &step, const plan::Program &program,
                  int tokens, int logitRows);
  /// Launches `function` with `args` as its only parameter.
  template <typename Args>
  void launch(CUfunction function, const Args &args, const kernels::Launch &l);

  // ---- helpers for building kernel arguments (CudaSteps.cpp) ----
  kernels::View view(const plan::Program &program,
                     const plan::Operand &op) const;
  /// The block scales of an FP8 operand (its buffer's `scales` buffer, from
  /// the operand's first 128-column block on); ptr = 0 for other operands.
  kernels::View scalesView(const plan::Program &program,
                           const plan::Operand &op) const;
  int rowsOf(const plan::Program &program, const plan::Operand &op, int tokens,
             int logitRows) const;
  const DeviceWeight &weightPart(const plan::Step &step, uint32_t weight,
                                 size_t part) const;
  kernels::Rope rope(const plan::Rope *rope) const;
  /// Layer `layer` of the paged cache with the device block tables.
  kernels::KvPages cacheLayer(int layer) const;
  /// Workspace bytes the steps of `program` need at its maximum sizes.
  size_t stepWorkspaceBytes(const plan::Program &program) const;

  const Driver &driver;
  Communicator *comm_ = nullptr;
  ncclComm_t nccl_ = nullptr;
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  bool useGraphs = true;

  const Plan *plan_ = nullptr;
  KvCacheShape kvShape_;
  std::vector<CUmodule> modules;
  std::vector<CUfunction> functions;               // per plan kernel
  std::vector<std::vector<DeviceWeight>> weights_; // per plan weight, per part
  DeviceBuffer arena, kvCache, workspace;
  /// Bytes of one layer's rows (pages * 64 * (R + Dr) elements) and of the
  /// whole layer (the rows, then an e4m3 cache's scales).
  long long kvRowsBytes = 0, kvLayerBytes = 0;
  /// [sequences, pagesPerSequence] int32, one fixed buffer uploaded before
  /// every step: captured decode graphs read it, so they stay valid as the
  /// tables change.
  DeviceBuffer blockTables;
  PinnedBuffer staging;                           // inputs in, logits out
  std::map<std::string, DeviceBuffer> ropeTables; // by rope parameters
  std::map<CUfunction, unsigned> sharedLimits; // dynamic shared memory opted in
  std::map<std::string, ProgramState> programs;
};

} // namespace moela::cuda

#endif // MOELA_RUNTIME_CUDA_CUDABACKENDIMPL_H
