//===- StepRules.cpp - The plan's rules for each step family --------------===//
//
// One case per plan.fbs StepParams: the operands the family documents (counts,
// I32 or float buffers, widths that agree with its parameters and weights,
// rows that agree with each other) and the ranges of its parameters.
//
//===----------------------------------------------------------------------===//
#include "StepChecker.h"

#include <algorithm>
#include <cmath>

namespace moela::planverify {
namespace {

/// Rope parameters: even dim inside each head.
void checkRope(const StepChecker &s, const plan::Rope &rope) {
  if (rope.dim() <= 0 || rope.dim() % 2 != 0)
    s.error("rope dim ", rope.dim(), " must be even and > 0");
  if (rope.heads() <= 0 || rope.head_dim() <= 0)
    s.error("rope heads ", rope.heads(), " and head_dim ", rope.head_dim(),
            " must be > 0");
  const CheckedInt end = CheckedInt(rope.offset()) + rope.dim();
  if (rope.offset() < 0 || !end.fitsIn(rope.head_dim()))
    s.error("rope slice [", rope.offset(), ", ", end, ") outside head_dim ",
            rope.head_dim());
  if (!(rope.theta() > 0))
    s.error("rope theta ", rope.theta(), " must be > 0");
  if (const plan::Yarn *y = rope.yarn())
    if (!(y->factor() > 0) || y->original_max_position_embeddings() <= 0 ||
        !(y->beta_fast() > 0) || !(y->beta_slow() > 0))
      s.error("yarn factor, original_max_position_embeddings, beta_fast and "
              "beta_slow must be > 0");
}

/// A Rope that applies to a [T, heads*head_dim] operand.
void checkRopeOn(const StepChecker &s, const plan::Rope &rope, const Op &op) {
  checkRope(s, rope);
  s.cols(op, CheckedInt(rope.heads()) * rope.head_dim(), "rope heads*head_dim");
}

void checkFloat(const StepChecker &s, double v, const char *what) {
  if (!std::isfinite(v) || v < 0)
    s.error(what, " ", v, " must be finite and >= 0");
}

/// Checks the layer index against the plan's KV cache; returns the cache.
const plan::KvCache &kvCacheFor(const StepChecker &s, const plan::Plan &plan,
                                int layer) {
  const plan::KvCache *kv = plan.kv_cache();
  if (!kv)
    s.error("the plan has no kv_cache");
  if (layer < 0 || layer >= kv->layers())
    s.error("layer ", layer, " out of range (kv_cache has ", kv->layers(),
            " layers)");
  return *kv;
}

/// A GEMM tile: positive sizes, and an engine the CUDA backend has.
static_assert(int(plan::GemmEngine::Mma) == int(abi::GemmEngine::kMma) &&
                  int(plan::GemmEngine::Wgmma) == int(abi::GemmEngine::kWgmma),
              "plan.fbs GemmEngine follows abi::GemmEngine");

void checkTile(const StepChecker &s, const plan::Tile &tile) {
  if (tile.engine() != plan::GemmEngine::Mma &&
      tile.engine() != plan::GemmEngine::Wgmma)
    s.error("unknown GEMM engine ", int(tile.engine()));
  if (tile.block_m() < 0 || tile.block_n() < 0 || tile.block_k() < 0 ||
      tile.stages() < 0 || tile.threads() < 0)
    s.error("tile sizes must be >= 0");
}

/// The span of a per-head strided operand: (heads-1)*stride + width.
CheckedInt span(int heads, int stride, int64_t width) {
  return (CheckedInt(heads) - 1) * (stride ? stride : width) + width;
}

} // namespace

void checkStepFamily(StepChecker &s, const plan::Plan &plan,
                     const ModelConfig &config) {
  using T = plan::StepParams;
  using R = Role;
  const plan::Step &step = s.step();
  if (!step.params())
    s.error("has no parameters");
  s.checkDeclaration();
  switch (step.params_type()) {
  case T::EmbeddingParams: {
    s.cols(s.out(R::Hidden), s.weight(R::EmbedTable).cols, "embed columns");
    s.rowsOf(s.out(R::Hidden), s.in(R::Tokens));
    return;
  }
  case T::RmsNormParams: {
    const auto *p = step.params_as_RmsNormParams();
    checkFloat(s, p->eps(), "eps");
    const int64_t n = s.weight(R::NormWeight).rows;
    const Op &x = s.in(R::X);
    if (s.isF8(s.out(R::Y)) && !p->quantize())
      s.error(s.out(R::Y).label, " is FP8 but the step does not quantize");
    std::vector<const Op *> ops = {&x, &s.out(R::Y)};
    if (p->residual())
      ops.insert(ops.end(), {&s.in(R::Residual), &s.out(R::Sum)});
    for (const Op *op : ops) {
      s.cols(*op, n, "norm weight length");
      s.rowsOf(*op, x);
    }
    return;
  }
  case T::AddParams:
  case T::SiluMulParams: {
    const bool add = step.params_type() == T::AddParams;
    const Op &a = s.in(add ? R::A : R::GateAct);
    for (const Op *op : {&a, &s.in(add ? R::B : R::UpAct), &s.out(R::Y)}) {
      s.cols(*op, a.operand.cols(), "same width as input 0");
      s.rowsOf(*op, a);
    }
    return;
  }
  case T::RopeParams: {
    const auto *p = step.params_as_RopeParams();
    if (!p->rope())
      s.error("has no rope");
    const Op &x = s.in(R::X);
    checkRopeOn(s, *p->rope(), x);
    s.cols(s.out(R::Y), x.operand.cols(), "same width as x");
    s.rowsOf(s.in(R::Positions), x);
    s.rowsOf(s.out(R::Y), x);
    return;
  }
  case T::GemmParams: {
    const auto *p = step.params_as_GemmParams();
    const WeightShape &w = s.weight(R::Matrix);
    if (p->silu_mul() && w.rows % 2 != 0)
      s.error("silu_mul needs an even number of weight rows, got ", w.rows);
    const int64_t n = p->silu_mul() ? w.rows / 2 : w.rows;
    const Op &a = s.in(R::A);
    s.cols(a, w.cols, "weight columns K");
    s.cols(s.out(R::C), n,
           p->silu_mul() ? "weight rows N/2 (silu_mul)" : "weight rows N");
    s.rowsOf(s.out(R::C), a);
    if (p->rope()) {
      checkRopeOn(s, *p->rope(), s.out(R::C));
      s.rowsOf(s.in(R::Positions), a);
    }
    if (p->residual()) {
      s.cols(s.in(R::Residual), n, "same width as c");
      s.rowsOf(s.in(R::Residual), a);
    }
    if (const plan::Tile *tile = p->tile())
      checkTile(s, *tile);
    return;
  }
  case T::KvAppendParams: {
    const auto *p = step.params_as_KvAppendParams();
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (kv.rope_dim() <= 0)
      s.error("needs a kv_cache with rope_dim > 0");
    if (p->normalize()) {
      checkFloat(s, p->eps(), "eps");
      s.weightRows(R::KvNorm, kv.latent_dim(), "kv_cache latent_dim");
    }
    if (p->rope()) {
      checkRope(s, *p->rope());
      if (p->rope()->dim() != kv.rope_dim())
        s.error("rope dim ", p->rope()->dim(), " != kv_cache rope_dim ",
                kv.rope_dim());
    }
    const Op &latent = s.in(R::Latent);
    s.cols(latent, kv.latent_dim(), "kv_cache latent_dim");
    s.cols(s.in(R::KPe), kv.rope_dim(), "kv_cache rope_dim");
    for (Role r : {R::KPe, R::Positions, R::SeqIds})
      s.rowsOf(s.in(r), latent);
    return;
  }
  case T::MlaAttentionParams: {
    const auto *p = step.params_as_MlaAttentionParams();
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (p->heads() <= 0 || p->nope_dim() < 0 || p->v_dim() <= 0)
      s.error("heads ", p->heads(), ", nope_dim ", p->nope_dim(), ", v_dim ",
              p->v_dim(), " must be > 0");
    if (p->latent_dim() != kv.latent_dim() || p->rope_dim() != kv.rope_dim())
      s.error("latent_dim ", p->latent_dim(), " and rope_dim ", p->rope_dim(),
              " must equal the kv_cache's ", kv.latent_dim(), " and ",
              kv.rope_dim());
    if (p->form() != plan::AttentionForm::Absorbed &&
        p->form() != plan::AttentionForm::Expanded)
      s.error("unknown attention form ", int(p->form()));
    checkFloat(s, p->scale(), "scale");
    s.weightRows(R::KvB,
                 CheckedInt(p->heads()) *
                     (CheckedInt(p->nope_dim()) + p->v_dim()),
                 "heads*(nope_dim+v_dim)");
    s.weightCols(R::KvB, p->latent_dim(), "latent_dim");
    const Op &q = s.in(R::Q);
    s.cols(q,
           CheckedInt(p->heads()) * (CheckedInt(p->nope_dim()) + p->rope_dim()),
           "heads*(nope_dim+rope_dim)");
    s.cols(s.out(R::O), CheckedInt(p->heads()) * p->v_dim(), "heads*v_dim");
    for (const Op *op : {&s.out(R::O), &s.in(R::Positions), &s.in(R::SeqIds)})
      s.rowsOf(*op, q);
    return;
  }
  case T::MlaLatentAttentionParams: {
    const auto *p = step.params_as_MlaLatentAttentionParams();
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (p->heads() <= 0)
      s.error("heads ", p->heads(), " must be > 0");
    if (p->latent_dim() != kv.latent_dim() || p->rope_dim() != kv.rope_dim())
      s.error("latent_dim ", p->latent_dim(), " and rope_dim ", p->rope_dim(),
              " must equal the kv_cache's ", kv.latent_dim(), " and ",
              kv.rope_dim());
    if ((p->q_pe_stride() && p->q_pe_stride() < p->rope_dim()) ||
        p->q_pe_stride() < 0)
      s.error("q_pe_stride ", p->q_pe_stride(), " smaller than rope_dim ",
              p->rope_dim());
    checkFloat(s, p->scale(), "scale");
    const Op &qLat = s.in(R::QLat);
    s.cols(qLat, CheckedInt(p->heads()) * p->latent_dim(), "heads*latent_dim");
    if (p->rope_dim() > 0)
      s.cols(s.in(R::QPe), span(p->heads(), p->q_pe_stride(), p->rope_dim()),
             "(heads-1)*q_pe_stride + rope_dim");
    s.cols(s.out(R::OLat), CheckedInt(p->heads()) * p->latent_dim(),
           "heads*latent_dim");
    for (const Op *op : {&s.in(R::QPe), &s.in(R::Positions), &s.in(R::SeqIds),
                         &s.out(R::OLat)})
      s.rowsOf(*op, qLat);
    return;
  }
  case T::KvGatherParams: {
    const plan::KvCache &kv =
        kvCacheFor(s, plan, step.params_as_KvGatherParams()->layer());
    const Op &rows = s.out(R::CacheRows);
    s.cols(rows, CheckedInt(kv.latent_dim()) + kv.rope_dim(),
           "kv_cache latent_dim + rope_dim");
    for (Role r : {R::Positions, R::SeqIds})
      s.rowsOf(s.in(r), rows);
    return;
  }
  case T::MlaPrefillAttentionParams: {
    const auto *p = step.params_as_MlaPrefillAttentionParams();
    // Its keys are the step's own rows: right only for fresh sequences.
    if (!s.program().fresh_sequences())
      s.error("attends over the step's own tokens only, so its program must "
              "have fresh_sequences");
    if (p->heads() <= 0 || p->nope_dim() <= 0 || p->rope_dim() < 0 ||
        p->v_dim() <= 0)
      s.error("heads ", p->heads(), ", nope_dim ", p->nope_dim(), ", v_dim ",
              p->v_dim(), " must be > 0 and rope_dim ", p->rope_dim(), " >= 0");
    checkFloat(s, p->scale(), "scale");
    const CheckedInt h = p->heads();
    const Op &q = s.in(R::Q);
    s.cols(q, h * (CheckedInt(p->nope_dim()) + p->rope_dim()),
           "heads*(nope_dim+rope_dim)");
    s.cols(s.in(R::Kv), h * (CheckedInt(p->nope_dim()) + p->v_dim()),
           "heads*(nope_dim+v_dim)");
    s.cols(s.in(R::KPe), p->rope_dim(), "rope_dim");
    s.cols(s.out(R::O), h * p->v_dim(), "heads*v_dim");
    for (const Op *op :
         {&s.in(R::Kv), &s.in(R::KPe), &s.in(R::Positions), &s.out(R::O)})
      s.rowsOf(*op, q);
    return;
  }
  case T::HeadGemmParams: {
    const auto *p = step.params_as_HeadGemmParams();
    const WeightShape &w = s.weight(R::Matrix);
    // Checked: row_offset + rows must not wrap past the test.
    const CheckedInt end = CheckedInt(p->row_offset()) + p->rows();
    if (p->heads() <= 0 || p->rows() <= 0 || p->row_offset() < 0 ||
        !end.fitsIn(p->head_rows()))
      s.error("head rows [", p->row_offset(), ", ", end,
              ") must lie inside head_rows ", p->head_rows(), " (heads ",
              p->heads(), ")");
    s.weightRows(R::Matrix, CheckedInt(p->heads()) * p->head_rows(),
                 "heads*head_rows");
    const int64_t inLen = p->transpose() ? p->rows() : w.cols;
    const int64_t outLen = p->transpose() ? w.cols : p->rows();
    if (p->in_stride() < 0 || (p->in_stride() && p->in_stride() < inLen))
      s.error("in_stride ", p->in_stride(), " smaller than the per-head width ",
              inLen);
    const Op &x = s.in(R::X);
    s.cols(x, span(p->heads(), p->in_stride(), inLen),
           "(heads-1)*in_stride + per-head input");
    s.cols(s.out(R::Y), CheckedInt(p->heads()) * outLen,
           "heads*per-head output");
    s.rowsOf(s.out(R::Y), x);
    return;
  }
  case T::RouteParams: {
    const auto *p = step.params_as_RouteParams();
    const int e = p->experts(), k = p->top_k();
    s.topK(e, k);
    if (p->scoring() != plan::ScoringFunc::Softmax &&
        p->scoring() != plan::ScoringFunc::Sigmoid)
      s.error("unknown scoring function ", int(p->scoring()));
    if (p->method() != plan::TopkMethod::Greedy &&
        p->method() != plan::TopkMethod::GroupLimitedGreedy &&
        p->method() != plan::TopkMethod::NoauxTc)
      s.error("unknown topk method ", int(p->method()));
    if (p->method() != plan::TopkMethod::Greedy) {
      const int g = p->groups(), kg = p->topk_groups();
      if (g <= 0 || e % g != 0)
        s.error("needs experts % groups == 0, got experts ", e, ", groups ", g);
      if (kg <= 0 || kg > g)
        s.error("needs 0 < topk_groups <= groups, got topk_groups ", kg,
                ", groups ", g);
      if (k > kg * (e / g))
        s.error("top_k ", k, " exceeds the experts of the kept groups ",
                kg * (e / g));
    }
    if (!std::isfinite(p->scaling()))
      s.error("scaling ", p->scaling(), " must be finite");
    const Op &x = s.in(p->fused_gate() ? R::X : R::Logits);
    if (p->fused_gate()) {
      s.weightRows(R::GateMatrix, e, "experts");
      s.weightCols(R::GateMatrix, x.operand.cols(), "x columns");
    } else {
      s.cols(x, e, "experts");
    }
    if (p->has_bias())
      s.weightRows(R::GateBias, e, "experts");
    for (Role r : {R::ExpertIds, R::ExpertWeights}) {
      s.cols(s.out(r), k, "top_k");
      s.rowsOf(s.out(r), x);
    }
    return;
  }
  case T::MoeExpertsParams: {
    const auto *p = step.params_as_MoeExpertsParams();
    const int e = p->experts(), k = p->top_k();
    s.topK(e, k);
    if (p->intermediate() <= 0)
      s.error("needs intermediate > 0, got ", p->intermediate());
    // Under expert parallelism each rank binds experts / expert_parts of
    // the step's (global) experts.
    const WeightShape &gu = s.weight(R::GateUp), &down = s.weight(R::Down);
    if (gu.totalExperts() != e || down.totalExperts() != e)
      s.error("weight expert sets have ", gu.totalExperts(), " and ",
              down.totalExperts(), " experts, expected ", e);
    const Op &x = s.in(R::X);
    s.weightRows(R::GateUp, CheckedInt(2) * p->intermediate(),
                 "2*intermediate");
    s.weightCols(R::GateUp, x.operand.cols(), "x columns");
    s.weightRows(R::Down, x.operand.cols(), "x columns");
    s.weightCols(R::Down, p->intermediate(), "intermediate");
    s.cols(s.in(R::ExpertIds), k, "top_k");
    s.rowsOf(s.in(R::ExpertIds), x);
    s.cols(s.out(R::Y), x.operand.cols(), "x columns");
    s.rowsOf(s.out(R::Y), x, k, "top_k");
    return;
  }
  case T::MoeDispatchParams: {
    const auto *p = step.params_as_MoeDispatchParams();
    const int e = p->experts(), k = p->top_k();
    s.topK(e, k);
    const Op &x = s.in(R::X);
    s.cols(s.in(R::ExpertIds), k, "top_k");
    s.rowsOf(s.in(R::ExpertIds), x);
    s.cols(s.out(R::XSorted), x.operand.cols(), "x columns");
    s.rowsOf(s.out(R::XSorted), x, k, "top_k");
    s.fixedRows(s.out(R::Offsets), int64_t(e) + 1, "experts + 1");
    s.rowsOf(s.out(R::Perm), x, k, "top_k");
    return;
  }
  case T::GroupedGemmParams: {
    const auto *p = step.params_as_GroupedGemmParams();
    const WeightShape &w = s.weight(R::Matrix);
    if (p->experts() <= 0 || w.totalExperts() != p->experts())
      s.error("weight expert set has ", w.totalExperts(), " experts, expected ",
              p->experts());
    if (p->silu_mul() && w.rows % 2 != 0)
      s.error("silu_mul needs an even number of weight rows, got ", w.rows);
    const Op &x = s.in(R::XSorted);
    s.cols(x, w.cols, "weight columns K");
    s.fixedRows(s.in(R::Offsets), int64_t(p->experts()) + 1, "experts + 1");
    s.cols(s.out(R::Y), p->silu_mul() ? w.rows / 2 : w.rows,
           p->silu_mul() ? "weight rows N/2 (silu_mul)" : "weight rows N");
    s.rowsOf(s.out(R::Y), x);
    return;
  }
  case T::MoeCombineParams: {
    const auto *p = step.params_as_MoeCombineParams();
    const int k = p->top_k();
    if (k <= 0)
      s.error("top_k ", k, " must be > 0");
    const Op &out = s.out(R::Out);
    s.cols(s.in(R::Y), out.operand.cols(), "out columns");
    s.rowsOf(s.in(R::Y), out, k, "top_k");
    s.cols(s.in(R::ExpertWeights), k, "top_k");
    s.rowsOf(s.in(R::ExpertWeights), out);
    if (p->permuted())
      s.rowsOf(s.in(R::Perm), out, k, "top_k");
    for (Role r : {R::SharedOut, R::Residual}) {
      if (!s.hasIn(r))
        continue;
      s.cols(s.in(r), out.operand.cols(), "out columns");
      s.rowsOf(s.in(r), out);
    }
    return;
  }
  case T::GatherRowsParams: {
    s.cols(s.out(R::Y), s.in(R::X).operand.cols(), "x columns");
    s.rowsOf(s.out(R::Y), s.in(R::RowIds));
    return;
  }
  case T::ArgmaxParams: {
    s.rowsOf(s.out(R::Ids), s.in(R::Logits));
    return;
  }
  case T::SampleParams: {
    const Op &logits = s.in(R::Logits);
    s.cols(s.in(R::Sampling), abi::kSamplingWords, "abi::kSamplingWords");
    s.cols(s.out(R::Ids), abi::kSampleCols, "abi::kSampleCols");
    s.cols(s.out(R::Logprobs), abi::kSampleCols, "abi::kSampleCols");
    for (const Op *op :
         {&s.in(R::Sampling), &s.out(R::Ids), &s.out(R::Logprobs)})
      s.rowsOf(*op, logits);
    // Vocab-parallel: the world's candidate blocks of 2 C + 2 side by side.
    const int64_t parts = step.params_as_SampleParams()->candidate_parts();
    if (parts < 0 || parts > plan.world_size())
      s.error("candidate_parts = ", parts, " must be 0 or in [1, world size ",
              plan.world_size(), "]");
    if (parts > 0) {
      const int64_t width = int64_t(logits.operand.cols()) / parts;
      const int64_t c = (width - 2) / 2;
      s.cols(logits, parts * abi::sampleCandidateCols(int(c < 1 ? 1 : c)),
             "candidate_parts blocks of 2 C + 2");
    }
    return;
  }
  case T::SampleCandidatesParams: {
    const Op &logits = s.in(R::Logits);
    const int64_t c = step.params_as_SampleCandidatesParams()->candidates();
    if (c < 1 || c > abi::kMaxSampleCandidates ||
        c > int64_t(logits.operand.cols()))
      s.error("candidates = ", c, " must be in [1, min(",
              abi::kMaxSampleCandidates, ", ", logits.operand.cols(), ")]");
    s.cols(s.in(R::Sampling), abi::kSamplingWords, "abi::kSamplingWords");
    s.cols(s.out(R::Candidates), abi::sampleCandidateCols(int(c)),
           "2 * candidates + 2");
    s.rowsOf(s.in(R::Sampling), logits);
    s.rowsOf(s.out(R::Candidates), logits);
    return;
  }
  case T::NextTokensParams: {
    const Op &tokens = s.in(R::Tokens);
    for (const Op *op :
         {&s.in(R::Positions), &s.in(R::SeqIds), &s.out(R::Next)})
      s.rowsOf(*op, tokens);
    s.rowsOf(s.in(R::Ids), s.in(R::LogitRows));
    return;
  }
  case T::ConcatParams: {
    const Op &a = s.in(R::A);
    s.cols(s.out(R::AB),
           CheckedInt(a.operand.cols()) + s.in(R::B).operand.cols(),
           "a's columns + b's");
    s.rowsOf(s.in(R::B), a);
    s.rowsOf(s.out(R::AB), a);
    return;
  }
  case T::AllReduceParams: {
    const Op &x = s.in(R::X);
    s.cols(s.out(R::Y), x.operand.cols(), "x's columns");
    s.rowsOf(s.out(R::Y), x);
    return;
  }
  case T::AllGatherParams: {
    const Op &x = s.in(R::X);
    s.cols(s.out(R::Y), CheckedInt(plan.world_size()) * x.operand.cols(),
           "world_size x x's columns");
    s.rowsOf(s.out(R::Y), x);
    return;
  }
  case T::NONE:
    break;
  }
  (void)config;
  s.error("unknown step family ", int(step.params_type()));
}

} // namespace moela::planverify
