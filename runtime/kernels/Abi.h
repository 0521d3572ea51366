//===- Abi.h - Facts shared by the compiler, the runtime and the kernels --===//
//
// Every number or name that both sides of the plan must agree on is declared
// here once: the compiler (passes, emitter, plan writer), the runtime (plan
// verifier, engine, backends, launch code) and the device templates (static
// checks, __launch_bounds__) all include this file. NVRTC compiles it too, so
// it uses builtin types only (docs/architecture.md, "The compiler-runtime
// contract").
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ABI_H
#define MOELA_KERNELS_ABI_H

namespace moela {
namespace abi {

// ---- Programs ---------------------------------------------------------------
// A plan's programs and the order of their arguments (docs/plan-format.md).

/// Prompt chunks whose sequences all start in the step (fresh_sequences with
/// the expanded MLA form), else any chunk.
constexpr const char *kPrefill = "prefill";
/// Chunks that continue a sequence, where @prefill takes fresh ones only.
constexpr const char *kExtend = "extend";
/// One (or, verifying an MTP draft, two) tokens per sequence.
constexpr const char *kDecode = "decode";
/// The import's MTP module k is the function "mtp_<k>".
constexpr const char *kMtpPrefix = "mtp_";

/// A program's inputs, in order: I32 vectors.
enum ProgramInput : int {
  kTokens = 0,    // [T]
  kPositions = 1, // [T]
  kSeqIds = 2,    // [T]
  kLogitRows = 3, // [R]: rows of the step whose logits are wanted
  kNumProgramInputs = 4,
  /// Plans with a sampling step (moela-sample) take a fifth input:
  kSampling = 4, // [R, kSamplingWords]: each logit row's SamplingWord
};

/// A program's outputs, in order.
enum ProgramOutput : int {
  kLogits = 0, // F32 [R, V]
  kDrafts = 1, // I32 [R]: greedy MTP drafts (plans compiled --mtp)
};
// A program with the kSampling input also returns, as its last two outputs,
// the Sample step's ids I32 [R, kSampleCols] and logprobs F32 [R,
// kSampleCols] (docs/model.md §4).

/// The sampling parameters of one logit row, as I32 words of the kSampling
/// input (floats by their bits, 64-bit values as low and high words).
enum SamplingWord : int {
  kTemperatureBits = 0, // f32; 0 = greedy (the argmax, lowest id on ties)
  kTopK = 1,            // 0 = no top-k filter (kMaxSampleCandidates)
  kTopPBits = 2,        // f32 in (0, 1]; 1 = no nucleus filter
  kSeedLo = 3,          // the request's seed
  kSeedHi = 4,
  kCounterLo = 5, // how many tokens the request has drawn before this one
  kCounterHi = 6,
  kTopLogprobs = 7, // -1: no logprobs; else the token's and N top ones, N <= 20
  kSamplingWords = 8,
};
/// A Sample step's outputs: column 0 the chosen token, columns 1..N the N
/// most likely tokens (N = the row's kTopLogprobs; the rest -1 and 0; every
/// logprob 0 when it is -1).
constexpr int kMaxTopLogprobs = 20;
constexpr int kSampleCols = 1 + kMaxTopLogprobs;
/// Sampling draws from at most this many of a row's most likely tokens
/// (top_k 0 or above it means this many).
constexpr int kMaxSampleCandidates = 1024;
/// Vocab-parallel sampling (plan.fbs SampleCandidatesParams): a rank's block
/// of C candidates is [values C | ids C | max | sum exp]; ids are exact as
/// f32 below 2^24, the most a vocab-parallel plan may have.
constexpr int sampleCandidateCols(int candidates) { return 2 * candidates + 2; }
constexpr int kMaxCandidateVocab = 1 << 24;

// ---- Numerics ---------------------------------------------------------------

/// FP8 weights and activations carry one scale per 128x128 (weights) or
/// 1x128 (activations) block (docs/model.md §2, §3.4).
constexpr int kFp8Block = 128;

// ---- Activation arena -------------------------------------------------------

/// A plan buffer's bytes and arena offset are multiples of this (keeps every
/// buffer 16-byte vector aligned); moela-plan-memory lays them out, the plan
/// verifier checks it.
constexpr int kBufferAlign = 256;

// ---- KV cache ---------------------------------------------------------------

/// The latent KV cache is paged (docs/architecture.md, "The paged KV cache"):
/// every layer holds a pool of pages of this many token rows, and a block
/// table per sequence maps its positions [64i, 64i + 64) to page i of its
/// row. The plan records it (KvCache.page_tokens); latent attention reads one
/// page per 64-key tile.
constexpr int kKvPageTokens = 64;

/// An FP8 (e4m3) cache row carries one f32 scale per 128 columns (the last
/// block may be partial), quantized as FP8 activations are (docs/model.md
/// §3.4): per row, so that every append is self-contained and a written row,
/// possibly shared by other sequences, never changes.
constexpr int kvFp8Scales(int width) {
  return (width + kFp8Block - 1) / kFp8Block;
}

// ---- Targets ----------------------------------------------------------------

/// The tensor-core instruction family a GEMM is built on.
enum class GemmEngine : int {
  kMma = 0,   // mma.sync (sm_80+), Gemm.cuh
  kWgmma = 1, // warpgroup MMA (sm_90a), GemmWgmma.cuh
};

/// What tile shapes, launch geometry and static checks depend on.
struct Target {
  const char *arch;                // NVRTC --gpu-architecture
  int sm_count;                    // streaming multiprocessors
  unsigned shared_bytes_per_block; // dynamic shared memory after the opt-in
  int tensor_core_generation;      // 8 = mma.sync only, 9 = also wgmma
};

/// H100 / H200 SXM: 132 SMs, 227 KiB of shared memory per block.
constexpr Target kSm90a{"sm_90a", 132, 232448u, 9};

/// The targets moela compiles for, the default first.
constexpr Target kTargets[] = {kSm90a};

/// The opt-in shared memory every kernel's static check is held to.
constexpr unsigned kMaxSharedBytesPerBlock = kSm90a.shared_bytes_per_block;

// ---- Block sizes of the kernel families -------------------------------------
// The emitter records them in the plan's Kernel.threads, the launch code
// launches with them and the templates declare them as __launch_bounds__.

constexpr int kRowThreads = 256; // embedding, norms, element-wise, rope, KV,
                                 // combine, the reference MoE experts
constexpr int kArgmaxThreads = 1024;      // Argmax.cuh
constexpr int kSampleThreads = 1024;      // Sample.cuh
constexpr int kRouteThreads = 256;        // Route.cuh: 8 warps
constexpr int kDispatchThreads = 1024;    // Dispatch.cuh
constexpr int kMlaAttentionThreads = 256; // MlaAttention.cuh (the unfused form)
constexpr int kMmaGemmThreads = 256; // Gemm.cuh, GroupedGemm.cuh, HeadGemm.cuh
constexpr int kWgmmaGemmThreads =
    384; // GemmWgmma.cuh: 1 producer + 2 consumer warpgroups
constexpr int kElementwiseChunk = 1024; // Elementwise.cuh: columns per block

} // namespace abi
} // namespace moela

#endif // MOELA_KERNELS_ABI_H
