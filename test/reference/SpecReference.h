//===- SpecReference.h - Reference forward pass from docs/model.md -------===//
//
// Test-only oracle. A DeepSeek-V2/V3 forward pass written line by line from
// docs/model.md, sharing no code with moela's compiler
// or backends (only the weights layer, to read checkpoints). It is meant to be
// obviously correct, not fast: plain loops, double precision everywhere, one
// token at a time through the whole model (a causal prefill processed token
// by token is the same computation), expanded (non-absorbed) attention with a
// per-sequence cache of per-head K and V.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_REFERENCE_SPECREFERENCE_H
#define MOELA_TEST_REFERENCE_SPECREFERENCE_H

#include "SpecConfig.h"

#include "moela/Runtime/Weights.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moela::spec {

/// Every checkpoint tensor of docs/model.md §2 for the main model (no MTP
/// layers), with the dtype rule: decoder-layer linear weights are F8_E4M3 with
/// an F32 `<name>_scale_inv` [ceil(out/br), ceil(in/bc)] when the config has
/// quantization_config, else torch_dtype (BF16); embedding, norms, router and
/// lm_head are torch_dtype; e_score_correction_bias is F32 (noaux_tc only).
/// lm_head is omitted when tie_word_embeddings is set.
std::vector<TensorSpec> specTensors(const SpecConfig &config);

/// The tensors of decoder layer `layer` (a dense MLP, or MoE when `moe`).
std::vector<TensorSpec> layerTensors(const SpecConfig &config, int64_t layer,
                                     bool moe);

/// MTP module 0 (docs/model.md §2): a MoE decoder layer with index
/// num_hidden_layers plus its embed_tokens, enorm, hnorm, eh_proj [D, 2D] and
/// shared_head.{norm, head}, all in torch_dtype but the layer's linear weights.
std::vector<TensorSpec> mtpTensors(const SpecConfig &config);

/// Row-major matrix of doubles; a linear weight is [out, in], y = W x.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data; // [rows, cols]
  const double *row(int64_t r) const { return data.data() + r * cols; }
};

/// Intermediates of one layer for one sequence, one entry per position of the
/// call.
struct LayerTrace {
  std::vector<std::vector<double>> attnOut; // [T][D], after o_proj
  std::vector<std::vector<double>> ffnOut;  // [T][D], MLP or MoE output
  std::vector<std::vector<double>> out;     // [T][D], the residual stream
  // [T][K], MoE layers only: chosen experts by descending biased score, and
  // their final weights (renormalised if asked, times routed_scaling_factor).
  std::vector<std::vector<int64_t>> topkIdx;
  std::vector<std::vector<double>> topkWeight;
};

/// Intermediates of one forward call (prefill or decode) for one sequence.
struct SequenceTrace {
  std::vector<std::vector<double>> embed;     // [T][D]
  std::vector<LayerTrace> layers;             // [num_hidden_layers]
  std::vector<std::vector<double>> finalNorm; // [T][D], model.norm output
};

class SpecReference {
public:
  /// Loads every tensor of specTensors(config) through `weights` (dequantized
  /// to float, held here as double), and of mtpTensors(config) `withMtp`.
  /// `weights` is not used afterwards.
  SpecReference(SpecConfig config, WeightSource &weights, bool withMtp = false);

  const SpecConfig &config() const { return config_; }

  /// Starts B new sequences at position 0 (dropping any previous ones) and
  /// runs their prompts. Prompts may differ in length; none may be empty.
  /// Returns the logits of each sequence's last prompt position: [B][V].
  std::vector<std::vector<double>>
  prefill(const std::vector<std::vector<int64_t>> &tokens); // [B][P]

  /// Feeds one token per sequence at its next position (its length so far).
  /// Returns the logits at that position: [B][V].
  std::vector<std::vector<double>>
  decode(const std::vector<int64_t> &tokens); // [B]

  /// Greedy generation: prefill, then `numTokens - 1` decode steps feeding
  /// each argmax (first index on ties). Returns [B][numTokens]; the last
  /// token is generated but never fed.
  std::vector<std::vector<int64_t>>
  generateGreedy(const std::vector<std::vector<int64_t>> &prompts,
                 int64_t numTokens);

  /// docs/model.md §3.3: MTP module 0 over one new sequence `tokens` (replacing
  /// any others): at every position t < n = tokens.size() - 1 it reads the main
  /// model's last hidden state h_t and token t+1. Returns its logits [n][V]
  /// (row t predicts token t+2). Needs `withMtp`.
  std::vector<std::vector<double>>
  mtpLogits(const std::vector<int64_t> &tokens);

  /// Intermediates of the most recent prefill or decode call, [B].
  const std::vector<SequenceTrace> &trace() const { return trace_; }
  /// Number of tokens sequence `b` has seen.
  int64_t length(int64_t b) const;

  /// RoPE inverse frequencies [Dr/2] after YaRN (docs/model.md §3.1).
  const std::vector<double> &ropeInvFreq() const { return invFreq_; }
  /// Factor on cos and sin: g(mscale) / g(mscale_all_dim).
  double ropeMagnitude() const { return ropeMagnitude_; }
  /// Attention softmax scale, including YaRN's mscale^2.
  double softmaxScale() const { return softmaxScale_; }

  /// First index of the maximum.
  static int64_t argmax(const std::vector<double> &v);

private:
  /// Expanded attention cache of one layer of one sequence.
  struct KvCache {
    // [S][H*(Dn+Dr)], per head [k_nope | k_pe]
    std::vector<std::vector<double>> keys;
    std::vector<std::vector<double>> values; // [S][H*Dv]
  };
  /// One sequence: its caches, one per layer.
  struct Sequence {
    std::vector<KvCache> layers; // [num_hidden_layers]
    int64_t length = 0;
  };

  void load(const std::vector<TensorSpec> &tensors, WeightSource &weights);
  const Matrix &weight(const std::string &name) const;
  /// A 1-D tensor (norm weight, router bias) as a vector.
  const std::vector<double> &vectorWeight(const std::string &name) const;

  /// Runs token `token` of sequence `seq` at position seq.length through all
  /// layers and appends its intermediates to `trace`. Returns the final-norm
  /// hidden state [D].
  std::vector<double> forwardToken(Sequence &seq, int64_t token,
                                   SequenceTrace &trace);
  /// h + Attn(norm(h)), then + FFN(norm(.)) of layer i at position `pos`.
  std::vector<double> decoderLayer(int64_t i, std::vector<double> h,
                                   int64_t pos, KvCache &cache,
                                   LayerTrace &trace) const;
  std::vector<double> attention(int64_t layer, const std::vector<double> &x,
                                int64_t pos, KvCache &cache) const;
  std::vector<double> mlp(const std::string &prefix,
                          const std::vector<double> &x) const;
  std::vector<double> moe(int64_t layer, const std::vector<double> &x,
                          std::vector<int64_t> &topkIdx,
                          std::vector<double> &topkWeight) const;
  std::vector<double> rmsNorm(const std::vector<double> &x,
                              const std::string &weightName) const;
  void rope(double *x, int64_t pos) const; // x [Dr], in place
  std::vector<double> logits(const std::vector<double> &normed) const; // [V]

  SpecConfig config_;
  std::map<std::string, Matrix> weights_; // by HF tensor name
  std::vector<double> invFreq_;           // [Dr/2]
  double ropeMagnitude_ = 1.0;
  double softmaxScale_ = 1.0;
  std::vector<Sequence> sequences_;  // [B]
  std::vector<SequenceTrace> trace_; // [B]
};

} // namespace moela::spec

#endif // MOELA_TEST_REFERENCE_SPECREFERENCE_H
