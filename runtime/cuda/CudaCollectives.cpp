//===- CudaCollectives.cpp - AllReduce / AllGather steps through NCCL -----===//
//
// A step's views are column ranges of wider buffers [T, cols], NCCL wants
// contiguous blocks. So:
//  - AllReduce: ncclAllReduce(sum) straight on the buffer (in place when x and
//    y are the same view) when the views span whole rows, else packed into
//    the workspace, reduced there in place and unpacked into y.
//  - AllGather: NCCL returns rank-major blocks [N][T, C]; x is packed into
//    this rank's block of a workspace staging area, gathered in place, and
//    each block copied into its columns r*C.. of y [T, N*C].
// The copies are cuMemcpy2DAsync and the collectives are enqueued on the
// backend's stream, so both are recorded when a decode step is captured in
// a CUDA graph. The element type is the buffers' storage dtype (bf16 or f32);
// NCCL sums bf16 in its own precision, which the plan's tolerance covers.
// A world of one copies x to y (or does nothing in place) without NCCL.
//
//===----------------------------------------------------------------------===//
#include "CudaBackendImpl.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/StepFamily.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace moela::cuda {

using plan::StepParams;

namespace {

size_t elementSize(plan::DType t) { return dtypeSize(static_cast<DType>(t)); }

std::string stepName(const plan::Step &step) {
  return step.name() ? step.name()->str() : "";
}

/// Whether `op` covers whole rows of its buffer (then its rows are one
/// contiguous block).
bool wholeRows(const plan::Operand &op, const plan::Buffer &b) {
  return op.col_offset() == 0 && op.cols() == b.cols();
}

double collectiveTimeoutSeconds() {
  const char *value = std::getenv("MOELA_COLLECTIVE_TIMEOUT");
  if (!value || !*value)
    return 300; // seconds: far above any step's time
  char *end = nullptr;
  const double seconds = std::strtod(value, &end);
  if (*end || !(seconds > 0))
    fail("MOELA_COLLECTIVE_TIMEOUT = '", value,
         "': expected a positive number of seconds");
  return seconds;
}

} // namespace

int localRank(const Communicator &comm) {
  // mpirun knows which ranks share a node; without it, ranks are assumed to
  // be numbered node by node.
  for (const char *name :
       {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"})
    if (const char *value = std::getenv(name); value && *value)
      return std::atoi(value);
  return comm.rank();
}

void CudaBackend::initNccl(int worldSize) {
  if (!comm_ || comm_->size() != worldSize)
    fail("CUDA backend: ", plan_->origin(), " was compiled for ", worldSize,
         " ranks, the communicator (",
         comm_ ? comm_->describe() : std::string("none: start it with mpirun"),
         ") has ", comm_ ? comm_->size() : 1);
  if (nccl_)
    return;
  const Nccl &n = Nccl::get();
  // Rank 0 makes the id; the Communicator (MPI) carries it to the others.
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (comm_->rank() == 0)
    check(n.ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm_->broadcast(&id, sizeof id, 0);
  check(n.ncclCommInitRank(&nccl_, worldSize, id, comm_->rank()),
        "ncclCommInitRank (rank " + std::to_string(comm_->rank()) + " of " +
            std::to_string(worldSize) + ", " + n.path + " " +
            ncclVersionString(n.version) + ")");
}

void CudaBackend::waitForStream(const char *what) {
  if (!nccl_) {
    check(driver.cuStreamSynchronize(stream), what);
    return;
  }
  const Nccl &n = Nccl::get();
  const auto start = std::chrono::steady_clock::now();
  const double limit = collectiveTimeoutSeconds();
  // The tools end every rank through the Communicator's abort, which names
  // this rank.
  auto abortWith = [&](const std::string &why) {
    n.ncclCommAbort(nccl_); // unblocks this rank's pending collectives
    nccl_ = nullptr;
    fail(why, " while ", what, "; NCCL communicator aborted");
  };
  // The async error is read once more after the stream finished: a failed
  // collective may complete with garbage rather than stall.
  for (bool done = false;;) {
    ncclResult_t asyncError = ncclSuccess;
    check(n.ncclCommGetAsyncError(nccl_, &asyncError), "ncclCommGetAsyncError");
    if (asyncError != ncclSuccess && asyncError != ncclInProgress)
      abortWith(std::string("NCCL reported ") + ncclResultName(asyncError) +
                " (" + n.ncclGetErrorString(asyncError) + ")");
    if (done)
      return;
    const CUresult r = driver.cuStreamQuery(stream);
    if (r == CUDA_SUCCESS) {
      done = true;
      continue;
    }
    if (r != CUDA_ERROR_NOT_READY)
      check(r, what);
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (waited > limit)
      abortWith("the step did not finish in " + std::to_string(int(limit)) +
                " s (MOELA_COLLECTIVE_TIMEOUT): a peer may have died or hung");
    // Spin briefly (decode steps take microseconds to milliseconds), then
    // poll more gently.
    if (waited < 1e-3)
      std::this_thread::yield();
    else
      std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

size_t
CudaBackend::collectiveWorkspaceBytes(const plan::Step &step,
                                      const plan::Program &program) const {
  const bool gather = step.params_type() == StepParams::AllGatherParams;
  if (!gather && step.params_type() != StepParams::AllReduceParams)
    return 0;
  const int ranks = plan_->worldSize();
  if (ranks <= 1)
    return 0;
  const StepOperands ops(step, "CUDA backend");
  const plan::Operand &x = ops.in(Role::X), &y = ops.out(Role::Y);
  const plan::Buffer &xb = *program.buffers()->Get(x.buffer());
  const plan::Buffer &yb = *program.buffers()->Get(y.buffer());
  const size_t block =
      size_t(bufferRows(xb, program.max_tokens(), program.max_logit_rows())) *
      size_t(x.cols()) * elementSize(xb.dtype());
  if (gather)
    return block * size_t(ranks);
  return wholeRows(x, xb) && wholeRows(y, yb) ? 0 : block;
}

void CudaBackend::copy2D(CUdeviceptr src, size_t srcPitch, CUdeviceptr dst,
                         size_t dstPitch, size_t widthBytes, size_t rows,
                         const std::string &what) {
  if (rows == 0 || widthBytes == 0)
    return;
  CUDA_MEMCPY2D copy{};
  copy.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = src;
  copy.srcPitch = srcPitch;
  copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.dstDevice = dst;
  copy.dstPitch = dstPitch;
  copy.WidthInBytes = widthBytes;
  copy.Height = rows;
  check(driver.cuMemcpy2DAsync(&copy, stream),
        ("cuMemcpy2DAsync (" + what + ")").c_str());
}

void CudaBackend::launchCollective(const plan::Step &step,
                                   const plan::Program &program, int tokens,
                                   int logitRows) {
  const bool gather = step.params_type() == StepParams::AllGatherParams;
  const int ranks = plan_->worldSize();
  const StepOperands ops(step, "CUDA backend");
  const plan::Operand &x = ops.in(Role::X), &y = ops.out(Role::Y);
  const plan::Buffer &xb = *program.buffers()->Get(x.buffer());
  const plan::Buffer &yb = *program.buffers()->Get(y.buffer());
  const std::string where = "step '" + stepName(step) + "' (" +
                            (gather ? "AllGather" : "AllReduce") + ")";
  const int64_t wantCols = gather ? int64_t(ranks) * x.cols() : x.cols();
  if (xb.dtype() != yb.dtype() || y.cols() != wantCols)
    fail(where, ": ", plan::EnumNameDType(xb.dtype()), " x of ", x.cols(),
         " columns into ", plan::EnumNameDType(yb.dtype()), " y of ", y.cols(),
         " columns on ", ranks, " ranks (needs the same type and ", wantCols,
         " columns)");
  const size_t element = elementSize(xb.dtype());
  const size_t rows = size_t(rowsOf(program, x, tokens, logitRows));
  const size_t width = size_t(x.cols()) * element; // bytes of one x row
  const CUdeviceptr xp = reinterpret_cast<CUdeviceptr>(view(program, x).ptr);
  const CUdeviceptr yp = reinterpret_cast<CUdeviceptr>(view(program, y).ptr);
  const size_t xPitch = size_t(xb.cols()) * element;
  const size_t yPitch = size_t(yb.cols()) * element;
  const bool inPlace =
      x.buffer() == y.buffer() && x.col_offset() == y.col_offset();
  if (rows == 0)
    return;

  if (ranks == 1) { // y = x
    if (!inPlace)
      copy2D(xp, xPitch, yp, yPitch, width, rows, where);
    return;
  }

  ncclDataType_t type;
  if (xb.dtype() == plan::DType::BF16)
    type = ncclBfloat16;
  else if (xb.dtype() == plan::DType::F32)
    type = ncclFloat32;
  else
    fail(where, ": NCCL collectives of ", plan::EnumNameDType(xb.dtype()),
         " are not supported (bf16 or f32)");
  const Nccl &n = Nccl::get();
  const size_t count = rows * size_t(x.cols()); // elements of one block
  const CUdeviceptr ws = workspace.get();

  if (!gather) {
    if (wholeRows(x, xb) && wholeRows(y, yb)) {
      check(n.ncclAllReduce(view(program, x).ptr, view(program, y).ptr, count,
                            type, ncclSum, nccl_, stream),
            "ncclAllReduce in " + where);
      return;
    }
    copy2D(xp, xPitch, ws, width, width, rows, where + ", packing x");
    void *block = workspace.pointer();
    check(n.ncclAllReduce(block, block, count, type, ncclSum, nccl_, stream),
          "ncclAllReduce in " + where);
    copy2D(ws, width, yp, yPitch, width, rows, where + ", unpacking y");
    return;
  }

  // This rank's block of the staging area is the send buffer: NCCL's in-place
  // all-gather (send = recv + rank * count).
  const size_t blockBytes = count * element;
  const CUdeviceptr mine = ws + comm_->rank() * blockBytes;
  copy2D(xp, xPitch, mine, width, width, rows, where + ", packing x");
  check(n.ncclAllGather(reinterpret_cast<void *>(mine), workspace.pointer(),
                        count, type, nccl_, stream),
        "ncclAllGather in " + where);
  for (int r = 0; r < ranks; ++r)
    copy2D(ws + r * blockBytes, width, yp + r * width, yPitch, width, rows,
           where + ", unpacking rank " + std::to_string(r) + "'s block");
}

} // namespace moela::cuda
