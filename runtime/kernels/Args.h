//===- Args.h - Kernel arguments shared by the CUDA backend and devices ---===//
//
// One struct per kernel family: the CUDA backend (runtime/cuda, plain C++)
// fills it from a plan step and passes it by value as the only kernel
// parameter; the device templates (runtime/kernels/*.cuh, compiled by NVRTC)
// read it. Both compilers see this same file, so the layouts agree. Only
// builtin types: NVRTC has no standard headers.
//
// Conventions. A View is a row-major column view of a buffer: element
// (r, c) is at ptr + r * ld + c, in the element type the kernel was
// instantiated for. `rows` is the run-time row count of the step (T, R or
// K*T). Weights are [rows, cols] row-major in their checkpoint dtype; FP8
// weights come with F32 block scales [ceil(rows/128), ceil(cols/128)]
// (`scale_ld` columns). Semantics are those of runtime/schema/plan.fbs.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNELS_ARGS_H
#define MOELA_KERNELS_ARGS_H

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#define MOELA_HOST_DEVICE
#else
#define MOELA_HOST_DEVICE __host__ __device__
#endif

namespace moela {
namespace kernels {

/// Storage types, as in plan.fbs DType.
enum DType : int { kF32 = 0, kBF16 = 1, kF16 = 2, kF8E4M3 = 3, kI32 = 4 };

struct View {
  void *ptr;
  long long ld;
};

/// One weight matrix, or a set of experts laid out back to back.
struct Weight {
  const void *data;    // [experts][rows, cols]
  const float *scales; // FP8 only: [experts][ceil(rows/128), scale_ld]
  int rows, cols;
  int scale_ld;
  long long expert_stride;       // elements between experts' data
  long long scale_expert_stride; // floats between experts' scales
};

/// RoPE of a column slice of each head (plan.fbs Rope): columns
/// [h * head_dim + offset, + dim) rotated in interleaved pairs.
struct Rope {
  const float *inv_freq; // [dim / 2], YaRN applied (computed by the backend)
  float magnitude;       // g(mscale) / g(mscale_all_dim)
  int heads, head_dim, offset, dim;
};

/// A step's tile (plan.fbs Tile), chosen by moela-tile; 0s when absent.
struct Tile {
  int block_m, block_n, block_k, stages, threads;
};

/// Launch geometry of a step: MatmulLaunch.h and OpsLaunch.h give one
/// MOELA_HOST_DEVICE `Launch launch<Family>(const <Family>Args &, const Tile
/// &)` per family, which the CUDA backend calls with the step's run-time row
/// count in the args (they compile as plain C++ too).
struct Launch {
  unsigned grid_x, grid_y, grid_z, block, shared_bytes;
};

inline MOELA_HOST_DEVICE unsigned ceilDiv(long long a, long long b) {
  return static_cast<unsigned>((a + b - 1) / b);
}

// ---- Element-wise and row families ------------------------------------------

struct EmbeddingArgs { // out[r] = table[tokens[r] - first_row]
  const int *tokens;
  Weight table;
  View out;
  int rows;
  // A vocab-parallel table (docs/parallel.md) holds rows [first_row,
  // first_row + table.rows) of `vocab`; tokens of other ranks' rows give 0.
  // vocab 0: the table is the whole vocabulary.
  int first_row;
  int vocab;
};

/// y = w * x / sqrt(mean(x^2) + eps); with `residual.ptr` the input is x +
/// residual and it is also written to `sum`. With `y_scales`, y is FP8 with one
/// scale per 128 columns (docs/model.md §3.4; `ue8m0` rounds scales up to a
/// power of two).
struct RmsNormArgs {
  View x, residual, y, sum;
  Weight weight;
  float *y_scales;
  long long y_scale_ld;
  int ue8m0;
  int rows, cols;
  float eps;
};

struct AddArgs {
  View a, b, c;
  int rows, cols;
}; // c = a + b
struct SiluMulArgs {
  View gate, up, out;
  int rows, cols;
}; // out = silu(gate) * up

struct RopeArgs { // y = x with the rope slice of each head rotated by
                  // positions[r]
  View x, y;
  const int *positions;
  Rope rope;
  int rows;
};

/// c = epilogue(a @ W^T); W = the rows of parts[0..num_parts) concatenated.
/// a may be FP8 with `a_scales` (one per 128 columns of a row).
struct GemmArgs {
  View a;
  const float *a_scales;
  long long a_scale_ld;
  Weight parts[4];
  int num_parts;
  View c;
  View residual;        // ptr = 0: none
  const int *positions; // rope epilogue only
  Rope rope;            // rope.dim = 0: none
  int silu_mul;         // c = silu(acc[:, :N/2]) * acc[:, N/2:]
  int m, n, k;          // n = weight rows (before silu_mul halves it)
};

// ---- MLA --------------------------------------------------------------------

/// One layer of the paged latent cache (Abi.h kKvPageTokens = 64): `data` is
/// [pages, 64, latent_dim + rope_dim] __nv_bfloat16, or __nv_fp8_e4m3 codes
/// when `scales` is set: [pages, 64, kvFp8Scales(width)] f32, one per 128
/// columns of a row (Abi.h). Position p of sequence s is row p % 64 of page
/// block_tables[s * pages_per_seq + p / 64] (Common.cuh kvRow).
struct KvPages {
  void *data;
  float *scales;           // null: a bf16 cache
  const int *block_tables; // [sequences, pages_per_seq]; -1 = none
  int pages_per_seq;
};

/// cache[layer][seq][pos] = [normalize ? RMSNorm(latent) : latent | rope ?
/// rope(k_pe) : k_pe]
struct KvAppendArgs {
  View latent, k_pe;
  const int *positions, *seq_ids;
  Weight norm; // data = 0: no norm
  float eps;
  Rope rope;     // dim = 0: k_pe is already rotated
  KvPages cache; // this layer
  int rows, latent_dim, rope_dim;
};

/// Full MLA attention (plan.fbs MlaAttentionParams), absorbed or expanded.
struct MlaAttentionArgs {
  View q; // [T, H*(Dn+Dr)], rope part rotated
  const int *positions, *seq_ids;
  Weight kv_b;      // [H*(Dn+Dv), R]
  KvPages cache;    // this layer
  View out;         // [T, H*Dv]
  float *workspace; // expanded form: scratch, see kernels/MlaAttention.cuh
  int rows, heads, nope_dim, rope_dim, v_dim, latent_dim;
  int absorbed;
  float scale;
};

/// rows[t] = the cache row [c (latent_dim) | k_pe (rope_dim)] of token t
/// (slot seq_ids[t], position positions[t]), as written by KvAppend.
struct KvGatherArgs {
  KvPages cache; // this layer
  const int *positions, *seq_ids;
  View out; // [T, latent_dim + rope_dim]
  int rows, latent_dim, rope_dim;
};

/// Expanded MLA attention of a prefill step over its own tokens (plan.fbs
/// MlaPrefillAttentionParams). Fresh sequences: token t is at position
/// positions[t] and its sequence's tokens 0..positions[t] are the step's rows
/// t - positions[t] .. t. out[t,h] = sum_j softmax_j(scale (q_nope[t,h] .
/// k_nope[j,h] + q_pe[t,h] . k_pe[j])) v[j,h] over those rows j.
struct MlaPrefillAttentionArgs {
  View q;    // [T, H*(Dn+Dr)]: per head [q_nope | q_pe], q_pe rotated
  View kv;   // [T, H*(Dn+Dv)]: per head [k_nope | v]
  View k_pe; // [T, Dr] rotated, shared by all heads
  const int *positions;
  View out; // [T, H*Dv]
  int rows, heads, nope_dim, rope_dim, v_dim;
  float scale;
};

/// o_lat[t,h] = sum_j softmax_j(scale (q_lat[t,h].c_j + q_pe[t,h].k_pe_j)) c_j.
struct LatentAttentionArgs {
  View q_lat; // head h at column h * q_lat_stride
  long long q_lat_stride;
  View q_pe; // head h at column h * q_pe_stride
  long long q_pe_stride;
  const int *positions, *seq_ids;
  KvPages cache; // this layer
  View out;      // [T, H*R] packed
  int rows, heads, latent_dim, rope_dim;
  float scale;
  float *
      workspace; // split-KV partials: OpsLaunch.h latentAttentionWorkspaceBytes
  int phase;     // 0, then 1 when OpsLaunch.h latentAttentionLaunches says 2
};

/// y[t,h] = transpose ? W_h^T x[t,h] : W_h x[t,h], W_h = rows
/// [h*head_rows + row_offset, + w_rows) of w.
struct HeadGemmArgs {
  View x;
  long long in_stride;
  Weight w;
  View y;
  long long out_stride;
  int rows, heads, head_rows, row_offset, w_rows, transpose;
};

// ---- MoE --------------------------------------------------------------------

struct RouteArgs { // docs/model.md §3.2; with fused_gate, input is x [T, D] and
                   // gate [E, D]
  View input;
  Weight gate;
  const float *bias; // 0: none
  int *idx;
  long long idx_ld;
  View w;
  int rows, dim, experts, top_k, groups, topk_groups;
  int sigmoid; // else softmax
  int method;  // plan TopkMethod: 0 greedy, 1 group_limited_greedy, 2 noaux_tc
  int norm_topk_prob, fused_gate;
  float scaling;
};

/// Slot t*K+k goes to expert idx[t,k]; sorted rows are grouped by expert in
/// slot order. `counters` is a device workspace of experts + 1 ints.
struct DispatchArgs {
  View x;
  const int *idx;
  long long idx_ld;
  View sorted;
  int *offsets; // [experts + 1]
  int *perm;    // [rows * top_k]
  int *counters;
  int rows, cols, experts, top_k;
  int phase; // 0 (offsets, perm), then 1 (rows): OpsLaunch.h dispatchLaunches
};

/// Rows offsets[e]..offsets[e+1] of `a` times expert e's weight.
struct GroupedGemmArgs {
  View a;
  const int *offsets;
  Weight w;  // gate_up: [experts][2F, D] as two parts gate_e; up_e (see up)
  Weight up; // data = 0 unless silu_mul: expert e's up_proj
  View c;
  int m_max; // rows * top_k, an upper bound for the grid
  int n, k, experts, silu_mul;
};

struct MoeExpertsArgs { // reference form: y[t*K+k] = Expert_idx[t,k](x[t])
  View x;
  const int *idx;
  long long idx_ld;
  Weight gate, up, down;
  View y;
  float *workspace; // [rows*top_k, intermediate]
  int rows, top_k, hidden, intermediate;
  // The weights hold experts [first_expert, first_expert + experts) of the
  // model's global_experts (expert parallelism: another rank holds the rest).
  int first_expert, experts, global_experts;
};

struct CombineArgs { // out[t] = sum_k w[t,k] y[slot] (+ shared[t]) (+
                     // residual[t])
  View y, w, shared, residual, out;
  const int *perm; // 0: y is in slot order
  int *inverse;    // workspace [rows*top_k]: slot -> sorted row
  int rows, cols, top_k;
  int phase; // OpsLaunch.h combineLaunches: with perm 0 = inverse, 1 = sums
};

struct GatherRowsArgs {
  View x;
  const int *index;
  View out;
  int rows, cols;
};
struct ArgmaxArgs {
  View logits;
  int *out;
  int rows, cols;
};
/// The token of each logit row and its logprobs (plan.fbs SampleParams).
struct SampleArgs {
  View logits;         // [R, V], or [R, parts * W] candidate blocks
  const int *sampling; // [R, abi::kSamplingWords]
  int *ids;            // [R, abi::kSampleCols]
  float *logprobs;     // [R, abi::kSampleCols]
  int rows, cols;
  int candidate_parts; // 0, or the ranks whose SampleCandidates blocks
                       // `logits` holds side by side
};
/// One rank's share of a vocab-parallel Sample (plan.fbs
/// SampleCandidatesParams).
struct SampleCandidatesArgs {
  View logits;         // [R, Vr]: the rank's columns
  const int *sampling; // [R, abi::kSamplingWords]
  View candidates;     // [R, abi::sampleCandidateCols(count)]
  int rows, cols, count;
  int first_id; // the vocabulary id of column 0
};
/// out = [a | b] (plan.fbs ConcatParams); `cols` = a's + b's.
struct ConcatArgs {
  View a, b, out;
  int rows, a_cols, cols;
};
/// The token after each row (plan.fbs NextTokensParams).
struct NextTokensArgs {
  const int *tokens, *positions, *seq_ids; // [T]
  const int *logit_rows, *ids;             // [R]
  int *next;                               // [T]
  int rows, logit_rows_count;
};

} // namespace kernels
} // namespace moela

#endif // MOELA_KERNELS_ARGS_H
