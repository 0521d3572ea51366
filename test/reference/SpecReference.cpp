//===- SpecReference.cpp - Reference forward pass from docs/model.md -----===//
//
// Section numbers refer to docs/model.md. Shape letters:
// D hidden, H heads, Dn/Dr/Dv head dims, R kv_lora_rank, Rq q_lora_rank,
// E routed experts, K experts per token, G groups, V vocabulary.
//
//===----------------------------------------------------------------------===//
#include "SpecReference.h"

#include "moela/Runtime/Error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moela::spec {
namespace {

constexpr double kPi = 3.14159265358979323846;

std::string layerPrefix(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".";
}

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// y = W x for W [out, in], x [in]: y [out].
std::vector<double> matvec(const Matrix &w, const std::vector<double> &x) {
  if (static_cast<int64_t>(x.size()) != w.cols)
    fail("spec reference: matvec of [", w.rows, ", ", w.cols, "] with [",
         x.size(), "]");
  std::vector<double> y(w.rows, 0.0);
  for (int64_t r = 0; r < w.rows; ++r) {
    const double *wr = w.row(r);
    double acc = 0.0;
    for (int64_t c = 0; c < w.cols; ++c)
      acc += wr[c] * x[c];
    y[r] = acc;
  }
  return y;
}

double dot(const double *a, const double *b, int64_t n) {
  double acc = 0.0;
  for (int64_t i = 0; i < n; ++i)
    acc += a[i] * b[i];
  return acc;
}

double silu(double x) { return x / (1.0 + std::exp(-x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// Numerically safe softmax over all of `x`.
std::vector<double> softmax(const std::vector<double> &x) {
  double mx = *std::max_element(x.begin(), x.end());
  std::vector<double> p(x.size());
  double sum = 0.0;
  for (size_t i = 0; i < x.size(); ++i)
    sum += p[i] = std::exp(x[i] - mx);
  for (double &v : p)
    v /= sum;
  return p;
}

/// Indices of `x` ordered by descending value, ties by ascending index.
std::vector<int64_t> orderDescending(const std::vector<double> &x) {
  std::vector<int64_t> idx(x.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int64_t a, int64_t b) { return x[a] > x[b]; });
  return idx;
}

/// One entry of specTensors(): `dtype` for the weight; FP8 weights get their
/// scale_inv sibling.
TensorSpec tensor(const std::string &name, DType dtype,
                  std::vector<int64_t> shape, const SpecConfig &c) {
  TensorSpec t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  if (dtype == DType::F8E4M3) {
    t.scaleName = name + "_scale_inv";
    t.scaleShape = {ceilDiv(shape[0], c.fp8BlockRows),
                    ceilDiv(shape[1], c.fp8BlockCols)};
  }
  return t;
}

} // namespace

//===----------------------------------------------------------------------===//
// docs/model.md §2: the checkpoint's tensors
//===----------------------------------------------------------------------===//

std::vector<TensorSpec> specTensors(const SpecConfig &c) {
  const int64_t V = c.vocabSize, D = c.hiddenSize;
  const DType plain = c.plainDType; // embedding, norms, router, lm_head
  std::vector<TensorSpec> out;
  auto add = [&](const std::string &name, DType dtype,
                 std::vector<int64_t> shape) {
    out.push_back(tensor(name, dtype, std::move(shape), c));
  };

  add("model.embed_tokens.weight", plain, {V, D});
  for (int64_t i = 0; i < c.numLayers; ++i)
    for (TensorSpec &t : layerTensors(c, i, c.isMoeLayer(i)))
      out.push_back(std::move(t));
  add("model.norm.weight", plain, {D});
  if (!c.tieWordEmbeddings)
    add("lm_head.weight", plain, {V, D});
  return out;
}

std::vector<TensorSpec> layerTensors(const SpecConfig &c, int64_t i, bool moe) {
  const int64_t D = c.hiddenSize, H = c.numHeads;
  const int64_t Dn = c.qkNopeDim, Dr = c.qkRopeDim, Dv = c.vHeadDim;
  const int64_t R = c.kvLoraRank, Rq = c.qLoraRank, E = c.nRoutedExperts;
  const DType plain = c.plainDType, linear = c.linearDType();
  std::vector<TensorSpec> out;
  auto add = [&](const std::string &name, DType dtype,
                 std::vector<int64_t> shape) {
    out.push_back(tensor(name, dtype, std::move(shape), c));
  };
  auto addMlp = [&](const std::string &prefix, int64_t F) {
    add(prefix + "gate_proj.weight", linear, {F, D});
    add(prefix + "up_proj.weight", linear, {F, D});
    add(prefix + "down_proj.weight", linear, {D, F});
  };
  {
    const std::string p = layerPrefix(i);
    add(p + "input_layernorm.weight", plain, {D});
    add(p + "post_attention_layernorm.weight", plain, {D});
    if (Rq > 0) {
      add(p + "self_attn.q_a_proj.weight", linear, {Rq, D});
      add(p + "self_attn.q_a_layernorm.weight", plain, {Rq});
      add(p + "self_attn.q_b_proj.weight", linear, {H * (Dn + Dr), Rq});
    } else {
      add(p + "self_attn.q_proj.weight", linear, {H * (Dn + Dr), D});
    }
    add(p + "self_attn.kv_a_proj_with_mqa.weight", linear, {R + Dr, D});
    add(p + "self_attn.kv_a_layernorm.weight", plain, {R});
    add(p + "self_attn.kv_b_proj.weight", linear, {H * (Dn + Dv), R});
    add(p + "self_attn.o_proj.weight", linear, {D, H * Dv});
    if (!moe) {
      addMlp(p + "mlp.", c.intermediateSize);
      return out;
    }
    add(p + "mlp.gate.weight", plain, {E, D});
    if (c.hasRouterBias())
      add(p + "mlp.gate.e_score_correction_bias", DType::F32, {E});
    for (int64_t e = 0; e < E; ++e)
      addMlp(p + "mlp.experts." + std::to_string(e) + ".",
             c.moeIntermediateSize);
    if (c.nSharedExperts > 0)
      addMlp(p + "mlp.shared_experts.",
             c.nSharedExperts * c.moeIntermediateSize);
  }
  return out;
}

std::vector<TensorSpec> mtpTensors(const SpecConfig &c) {
  const int64_t V = c.vocabSize, D = c.hiddenSize;
  const std::string p = layerPrefix(c.numLayers);
  std::vector<TensorSpec> out = layerTensors(c, c.numLayers, /*moe=*/true);
  auto add = [&](const std::string &name, std::vector<int64_t> shape) {
    out.push_back(tensor(p + name, c.plainDType, std::move(shape), c));
  };
  add("embed_tokens.weight", {V, D});
  add("enorm.weight", {D});
  add("hnorm.weight", {D});
  add("eh_proj.weight", {D, 2 * D});
  add("shared_head.norm.weight", {D});
  add("shared_head.head.weight", {V, D});
  return out;
}

//===----------------------------------------------------------------------===//
// Construction: weights, RoPE frequencies, softmax scale
//===----------------------------------------------------------------------===//

void SpecReference::load(const std::vector<TensorSpec> &tensors,
                         WeightSource &weights) {
  for (const TensorSpec &t : tensors) {
    std::vector<float> values = weights.loadF32(t); // dequantized, row-major
    Matrix m;
    m.rows = t.shape.size() == 2 ? t.shape[0] : 1;
    m.cols = t.shape.back();
    m.data.assign(values.begin(), values.end());
    if (static_cast<int64_t>(m.data.size()) != m.rows * m.cols)
      fail("spec reference: ", t.name, " has ", m.data.size(),
           " values, expected ", shapeString(t.shape));
    weights_.emplace(t.name, std::move(m));
  }
}

SpecReference::SpecReference(SpecConfig config, WeightSource &weights,
                             bool withMtp)
    : config_(std::move(config)) {
  load(specTensors(config_), weights);
  if (withMtp)
    load(mtpTensors(config_), weights);

  // docs/model.md §3.1 RoPE: freq[i] = theta^(-2i/Dr), i = 0 .. Dr/2-1.
  const SpecConfig &c = config_;
  const int64_t Dr = c.qkRopeDim;
  invFreq_.resize(Dr / 2);
  for (int64_t i = 0; i < Dr / 2; ++i)
    invFreq_[i] = std::pow(c.ropeTheta, -2.0 * i / Dr);

  // g(x) = 0.1 x ln(factor) + 1 (1 when the factor does not stretch).
  auto g = [&](double x) {
    return c.yarnFactor <= 1.0 ? 1.0 : 0.1 * x * std::log(c.yarnFactor) + 1.0;
  };
  softmaxScale_ = 1.0 / std::sqrt(static_cast<double>(c.qkNopeDim + Dr));
  if (c.yarn) {
    // YaRN: blend interpolated (freq/factor) and original frequencies over the
    // ramp between the correction dims of beta_fast and beta_slow.
    auto corr = [&](double r) {
      return Dr * std::log(c.yarnOriginalMaxPos / (r * 2.0 * kPi)) /
             (2.0 * std::log(c.ropeTheta));
    };
    double low = std::max(std::floor(corr(c.yarnBetaFast)), 0.0);
    double high =
        std::min(std::ceil(corr(c.yarnBetaSlow)), static_cast<double>(Dr - 1));
    if (low == high)
      high += 0.001;
    for (int64_t i = 0; i < Dr / 2; ++i) {
      double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
      invFreq_[i] =
          invFreq_[i] / c.yarnFactor * ramp + invFreq_[i] * (1.0 - ramp);
    }
    ropeMagnitude_ = g(c.yarnMscale) / g(c.yarnMscaleAllDim);
    if (c.yarnMscaleAllDim != 0.0 && c.yarnFactor > 1.0) {
      double m = g(c.yarnMscaleAllDim);
      softmaxScale_ *= m * m;
    }
  }
}

const Matrix &SpecReference::weight(const std::string &name) const {
  auto it = weights_.find(name);
  if (it == weights_.end())
    fail("spec reference: no tensor '", name, "'");
  return it->second;
}

const std::vector<double> &
SpecReference::vectorWeight(const std::string &name) const {
  return weight(name).data;
}

int64_t SpecReference::length(int64_t b) const {
  return sequences_.at(b).length;
}

int64_t SpecReference::argmax(const std::vector<double> &v) {
  return std::max_element(v.begin(), v.end()) - v.begin(); // first maximum
}

//===----------------------------------------------------------------------===//
// Building blocks (docs/model.md §3)
//===----------------------------------------------------------------------===//

// RMSNorm(x, w) = w * x / sqrt(mean(x^2) + eps).
std::vector<double> SpecReference::rmsNorm(const std::vector<double> &x,
                                           const std::string &name) const {
  const std::vector<double> &w = vectorWeight(name); // [n]
  double meanSquare = dot(x.data(), x.data(), x.size()) / x.size();
  double inv = 1.0 / std::sqrt(meanSquare + config_.rmsNormEps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = w[i] * (x[i] * inv);
  return y;
}

// Interleaved RoPE: pair (x[2i], x[2i+1]) rotated by pos * freq[i].
void SpecReference::rope(double *x, int64_t pos) const {
  for (size_t i = 0; i < invFreq_.size(); ++i) {
    double angle = static_cast<double>(pos) * invFreq_[i];
    double cs = std::cos(angle) * ropeMagnitude_;
    double sn = std::sin(angle) * ropeMagnitude_;
    double a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cs - b * sn;
    x[2 * i + 1] = a * sn + b * cs;
  }
}

// MLP(x) = down(silu(gate(x)) * up(x)).
std::vector<double> SpecReference::mlp(const std::string &prefix,
                                       const std::vector<double> &x) const {
  std::vector<double> gate =
      matvec(weight(prefix + "gate_proj.weight"), x);                    // [F]
  std::vector<double> up = matvec(weight(prefix + "up_proj.weight"), x); // [F]
  for (size_t i = 0; i < gate.size(); ++i)
    gate[i] = silu(gate[i]) * up[i];
  return matvec(weight(prefix + "down_proj.weight"), gate); // [D]
}

// docs/model.md §3.1, expanded form: k_nope = Wuk c and v = Wuv c are cached
// per head.
std::vector<double> SpecReference::attention(int64_t layer,
                                             const std::vector<double> &x,
                                             int64_t pos,
                                             KvCache &cache) const {
  const SpecConfig &c = config_;
  const int64_t H = c.numHeads, Dn = c.qkNopeDim, Dr = c.qkRopeDim;
  const int64_t Dv = c.vHeadDim, R = c.kvLoraRank;
  const int64_t Dq = Dn + Dr; // per-head query/key width
  const std::string p = layerPrefix(layer) + "self_attn.";

  // Query, per head [q_nope(Dn) | q_pe(Dr)].
  std::vector<double> q; // [H*(Dn+Dr)]
  if (c.qLoraRank > 0) {
    std::vector<double> qa = matvec(weight(p + "q_a_proj.weight"), x); // [Rq]
    q = matvec(weight(p + "q_b_proj.weight"),
               rmsNorm(qa, p + "q_a_layernorm.weight"));
  } else {
    q = matvec(weight(p + "q_proj.weight"), x);
  }
  for (int64_t h = 0; h < H; ++h)
    rope(&q[h * Dq + Dn], pos);

  // Latent and the one shared rope key.
  std::vector<double> kv =
      matvec(weight(p + "kv_a_proj_with_mqa.weight"), x); // [R+Dr]
  std::vector<double> latent(kv.begin(), kv.begin() + R); // [R]
  latent = rmsNorm(latent, p + "kv_a_layernorm.weight");  // only c is normed
  std::vector<double> kPe(kv.begin() + R, kv.end());      // [Dr]
  rope(kPe.data(), pos);

  // Expand the latent: kv_b_proj rows per head are [k_nope(Dn) ; v(Dv)].
  std::vector<double> kvb =
      matvec(weight(p + "kv_b_proj.weight"), latent); // [H*(Dn+Dv)]
  std::vector<double> key(H * Dq), value(H * Dv);     // [H, Dn+Dr], [H, Dv]
  for (int64_t h = 0; h < H; ++h) {
    const double *row = &kvb[h * (Dn + Dv)];
    std::copy(row, row + Dn, &key[h * Dq]);
    std::copy(kPe.begin(), kPe.end(), &key[h * Dq + Dn]);
    std::copy(row + Dn, row + Dn + Dv, &value[h * Dv]);
  }
  if (static_cast<int64_t>(cache.keys.size()) != pos)
    fail("spec reference: cache holds ", cache.keys.size(),
         " positions, token at ", pos);
  cache.keys.push_back(std::move(key));
  cache.values.push_back(std::move(value));

  // Every cached position j <= pos is visible.
  const int64_t S = pos + 1;
  std::vector<double> out(H * Dv, 0.0); // [H*Dv], concatenated heads
  for (int64_t h = 0; h < H; ++h) {
    std::vector<double> scores(S); // [S]
    for (int64_t j = 0; j < S; ++j)
      scores[j] = softmaxScale_ * dot(&q[h * Dq], &cache.keys[j][h * Dq], Dq);
    std::vector<double> prob = softmax(scores);
    for (int64_t j = 0; j < S; ++j)
      for (int64_t d = 0; d < Dv; ++d)
        out[h * Dv + d] += prob[j] * cache.values[j][h * Dv + d];
  }
  return matvec(weight(p + "o_proj.weight"), out); // [D]
}

// docs/model.md §3.2: routing, routed experts and shared experts.
std::vector<double> SpecReference::moe(int64_t layer,
                                       const std::vector<double> &x,
                                       std::vector<int64_t> &topkIdx,
                                       std::vector<double> &topkWeight) const {
  const SpecConfig &c = config_;
  const int64_t E = c.nRoutedExperts, K = c.topK, G = c.nGroup;
  const std::string p = layerPrefix(layer) + "mlp.";

  std::vector<double> logits = matvec(weight(p + "gate.weight"), x); // [E]
  std::vector<double> s(E); // unbiased scores: the weights
  if (c.scoringFunc == "sigmoid") {
    for (int64_t e = 0; e < E; ++e)
      s[e] = sigmoid(logits[e]);
  } else {
    s = softmax(logits);
  }
  std::vector<double> sb = s; // biased scores: selection only
  if (c.hasRouterBias()) {
    const std::vector<double> &bias =
        vectorWeight(p + "gate.e_score_correction_bias"); // [E]
    for (int64_t e = 0; e < E; ++e)
      sb[e] += bias[e];
  }

  // Group limit: keep the topk_group best groups of E/G contiguous experts.
  std::vector<bool> allowed(E, true);
  if (G > 1 && c.topkMethod != "greedy") {
    const int64_t perGroup = E / G;
    std::vector<double> groupScore(G); // [G]
    for (int64_t g = 0; g < G; ++g) {
      std::vector<double> members(sb.begin() + g * perGroup,
                                  sb.begin() + (g + 1) * perGroup);
      std::sort(members.rbegin(), members.rend()); // descending
      groupScore[g] =
          c.topkMethod == "noaux_tc" ? members[0] + members[1] : members[0];
    }
    std::vector<int64_t> groupOrder = orderDescending(groupScore);
    std::vector<bool> keepGroup(G, false);
    for (int64_t i = 0; i < c.topkGroup; ++i)
      keepGroup[groupOrder[i]] = true;
    for (int64_t e = 0; e < E; ++e)
      allowed[e] = keepGroup[e / perGroup];
  }

  // Top-K by biased score among the allowed experts, ties to the lower index.
  topkIdx.clear();
  for (int64_t e : orderDescending(sb)) {
    if (static_cast<int64_t>(topkIdx.size()) == K)
      break;
    if (allowed[e])
      topkIdx.push_back(e);
  }

  // Weights from the unbiased scores.
  topkWeight.assign(K, 0.0);
  double sum = 0.0;
  for (int64_t k = 0; k < K; ++k)
    sum += topkWeight[k] = s[topkIdx[k]];
  for (int64_t k = 0; k < K; ++k) {
    if (c.normTopkProb && K > 1)
      topkWeight[k] /= sum;
    topkWeight[k] *= c.routedScalingFactor;
  }

  std::vector<double> y(c.hiddenSize, 0.0); // [D]
  for (int64_t k = 0; k < K; ++k) {
    std::vector<double> e =
        mlp(p + "experts." + std::to_string(topkIdx[k]) + ".", x);
    for (int64_t d = 0; d < c.hiddenSize; ++d)
      y[d] += topkWeight[k] * e[d];
  }
  if (c.nSharedExperts > 0) {
    std::vector<double> shared = mlp(p + "shared_experts.", x);
    for (int64_t d = 0; d < c.hiddenSize; ++d)
      y[d] += shared[d];
  }
  return y;
}

std::vector<double>
SpecReference::logits(const std::vector<double> &normed) const {
  return matvec(weight(config_.tieWordEmbeddings ? "model.embed_tokens.weight"
                                                 : "lm_head.weight"),
                normed); // [V]
}

//===----------------------------------------------------------------------===//
// docs/model.md §3: the decoder, one token at a time
//===----------------------------------------------------------------------===//

std::vector<double> SpecReference::decoderLayer(int64_t i,
                                                std::vector<double> h,
                                                int64_t pos, KvCache &cache,
                                                LayerTrace &lt) const {
  const SpecConfig &c = config_;
  const std::string p = layerPrefix(i);
  std::vector<double> a =
      attention(i, rmsNorm(h, p + "input_layernorm.weight"), pos, cache); // [D]
  for (int64_t d = 0; d < c.hiddenSize; ++d)
    h[d] += a[d];

  std::vector<double> x = rmsNorm(h, p + "post_attention_layernorm.weight");
  std::vector<double> f; // [D]
  if (c.isMoeLayer(i)) {
    std::vector<int64_t> idx;
    std::vector<double> w;
    f = moe(i, x, idx, w);
    lt.topkIdx.push_back(std::move(idx));
    lt.topkWeight.push_back(std::move(w));
  } else {
    f = mlp(p + "mlp.", x);
  }
  for (int64_t d = 0; d < c.hiddenSize; ++d)
    h[d] += f[d];

  lt.attnOut.push_back(std::move(a));
  lt.ffnOut.push_back(std::move(f));
  lt.out.push_back(h);
  return h;
}

std::vector<std::vector<double>>
SpecReference::mtpLogits(const std::vector<int64_t> &tokens) {
  const SpecConfig &c = config_;
  if (tokens.size() < 2)
    fail("spec reference: the MTP module needs at least 2 tokens");
  const int64_t n = static_cast<int64_t>(tokens.size()) - 1;
  // The main model's last hidden states h_t (before model.norm), t < n.
  std::vector<std::vector<int64_t>> main = {
      std::vector<int64_t>(tokens.begin(), tokens.end() - 1)};
  prefill(main);
  const std::vector<std::vector<double>> &hidden =
      trace_[0].layers.back().out; // [n][D]

  // docs/model.md §3.3, module 0 (weights of layer num_hidden_layers), position
  // by position with its own cache.
  const std::string p = layerPrefix(c.numLayers);
  const Matrix &embed = weight(p + "embed_tokens.weight"); // [V, D]
  const Matrix &ehProj = weight(p + "eh_proj.weight");     // [D, 2D]
  const Matrix &head = weight(p + "shared_head.head.weight");
  KvCache cache;
  LayerTrace lt;
  std::vector<std::vector<double>> out; // [n][V]
  for (int64_t t = 0; t < n; ++t) {
    const int64_t next = tokens[size_t(t + 1)];
    std::vector<double> e(embed.row(next), embed.row(next) + c.hiddenSize);
    std::vector<double> eh = rmsNorm(e, p + "enorm.weight");
    std::vector<double> hn = rmsNorm(hidden[size_t(t)], p + "hnorm.weight");
    eh.insert(eh.end(), hn.begin(), hn.end());  // [2D]
    std::vector<double> x = matvec(ehProj, eh); // [D]
    x = decoderLayer(c.numLayers, std::move(x), t, cache, lt);
    out.push_back(matvec(head, rmsNorm(x, p + "shared_head.norm.weight")));
  }
  return out;
}

std::vector<double> SpecReference::forwardToken(Sequence &seq, int64_t token,
                                                SequenceTrace &trace) {
  const SpecConfig &c = config_;
  if (token < 0 || token >= c.vocabSize)
    fail("spec reference: token ", token, " outside [0, ", c.vocabSize, ")");
  const int64_t pos = seq.length;

  const Matrix &embed = weight("model.embed_tokens.weight"); // [V, D]
  std::vector<double> h(embed.row(token),
                        embed.row(token) + c.hiddenSize); // [D]
  trace.embed.push_back(h);

  for (int64_t i = 0; i < c.numLayers; ++i)
    h = decoderLayer(i, std::move(h), pos, seq.layers[i], trace.layers[i]);
  std::vector<double> normed = rmsNorm(h, "model.norm.weight"); // [D]
  trace.finalNorm.push_back(normed);
  ++seq.length;
  return normed;
}

std::vector<std::vector<double>>
SpecReference::prefill(const std::vector<std::vector<int64_t>> &tokens) {
  if (tokens.empty())
    fail("spec reference: prefill needs at least one sequence");
  sequences_.assign(tokens.size(), Sequence{});
  trace_.assign(tokens.size(), SequenceTrace{});
  std::vector<std::vector<double>> out; // [B][V]
  for (size_t b = 0; b < tokens.size(); ++b) {
    if (tokens[b].empty())
      fail("spec reference: prompt ", b, " is empty");
    sequences_[b].layers.resize(config_.numLayers);
    trace_[b].layers.resize(config_.numLayers);
    std::vector<double> last; // [D]
    for (int64_t t : tokens[b])
      last = forwardToken(sequences_[b], t, trace_[b]);
    out.push_back(logits(last));
  }
  return out;
}

std::vector<std::vector<double>>
SpecReference::decode(const std::vector<int64_t> &tokens) {
  if (tokens.size() != sequences_.size())
    fail("spec reference: decode got ", tokens.size(), " tokens for ",
         sequences_.size(), " sequences");
  trace_.assign(tokens.size(), SequenceTrace{});
  std::vector<std::vector<double>> out; // [B][V]
  for (size_t b = 0; b < tokens.size(); ++b) {
    trace_[b].layers.resize(config_.numLayers);
    out.push_back(logits(forwardToken(sequences_[b], tokens[b], trace_[b])));
  }
  return out;
}

std::vector<std::vector<int64_t>>
SpecReference::generateGreedy(const std::vector<std::vector<int64_t>> &prompts,
                              int64_t numTokens) {
  std::vector<std::vector<int64_t>> generated(prompts.size()); // [B][numTokens]
  if (numTokens <= 0)
    return generated;
  std::vector<std::vector<double>> step = prefill(prompts); // [B][V]
  for (int64_t n = 0;; ++n) {
    std::vector<int64_t> next(prompts.size()); // [B]
    for (size_t b = 0; b < prompts.size(); ++b)
      generated[b].push_back(next[b] = argmax(step[b]));
    if (n + 1 == numTokens)
      return generated;
    step = decode(next);
  }
}

} // namespace moela::spec
