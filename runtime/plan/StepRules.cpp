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
  if (rope.offset() < 0 || rope.offset() + rope.dim() > rope.head_dim())
    s.error("rope slice [", rope.offset(), ", ", rope.offset() + rope.dim(),
            ") outside head_dim ", rope.head_dim());
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
  s.cols(op, int64_t(rope.heads()) * rope.head_dim(), "rope heads*head_dim");
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

/// The span of a per-head strided operand: (heads-1)*stride + width.
int64_t span(int heads, int stride, int width) {
  return int64_t(heads - 1) * (stride ? stride : width) + width;
}

} // namespace

void checkStepFamily(StepChecker &s, const plan::Plan &plan,
                     const ModelConfig &config) {
  using T = plan::StepParams;
  const plan::Step &step = s.step();
  if (!step.params())
    s.error("has no parameters");
  switch (step.params_type()) {
  case T::EmbeddingParams: {
    s.expect({"tokens"}, {"h"}, 1);
    const WeightShape &w = s.weight(0, "embed", false, 2);
    s.i32Vector(s.in("tokens"));
    s.floating(s.out("h"));
    s.cols(s.out("h"), w.cols, "embed columns");
    s.rowsOf(s.out("h"), s.in("tokens"));
    return;
  }
  case T::RmsNormParams: {
    const auto *p = step.params_as_RmsNormParams();
    checkFloat(s, p->eps(), "eps");
    if (p->residual())
      s.expect({"x", "r"}, {"y", "sum"}, 1);
    else
      s.expect({"x"}, {"y"}, 1);
    const WeightShape &w = s.weight(0, "w", false, 1);
    std::vector<std::string> ins = {"x"}, outs = {"y"};
    if (p->residual()) {
      ins.push_back("r");
      outs.push_back("sum");
    }
    for (const auto &r : ins) {
      s.floating(s.in(r));
      s.cols(s.in(r), w.rows, "norm weight length");
      s.rowsOf(s.in(r), s.in("x"));
    }
    for (const auto &r : outs) {
      s.floating(s.out(r));
      s.cols(s.out(r), w.rows, "norm weight length");
      s.rowsOf(s.out(r), s.in("x"));
    }
    s.allowInPlace({"x", "r"});
    return;
  }
  case T::AddParams:
  case T::SiluMulParams: {
    bool add = step.params_type() == T::AddParams;
    std::string a = add ? "a" : "g", b = add ? "b" : "u";
    s.expect({a, b}, {"y"}, 0);
    for (const Op *op : {&s.in(a), &s.in(b), &s.out("y")}) {
      s.floating(*op);
      s.cols(*op, s.in(a).operand.cols(), "same width as input 0");
      s.rowsOf(*op, s.in(a));
    }
    s.allowInPlace({a, b});
    return;
  }
  case T::RopeParams: {
    const auto *p = step.params_as_RopeParams();
    s.expect({"x", "positions"}, {"y"}, 0);
    if (!p->rope())
      s.error("has no rope");
    s.floating(s.in("x"));
    s.floating(s.out("y"));
    checkRopeOn(s, *p->rope(), s.in("x"));
    s.cols(s.out("y"), s.in("x").operand.cols(), "same width as x");
    s.i32Vector(s.in("positions"));
    s.rowsOf(s.in("positions"), s.in("x"));
    s.rowsOf(s.out("y"), s.in("x"));
    s.allowInPlace({"x"});
    return;
  }
  case T::GemmParams: {
    const auto *p = step.params_as_GemmParams();
    std::vector<std::string> ins = {"a"};
    if (p->rope())
      ins.push_back("positions");
    if (p->residual())
      ins.push_back("r");
    s.expect(ins, {"c"}, 1);
    const WeightShape &w = s.weight(0, "W", false, 2);
    if (p->silu_mul() && w.rows % 2 != 0)
      s.error("silu_mul needs an even number of weight rows, got ", w.rows);
    int64_t n = p->silu_mul() ? w.rows / 2 : w.rows;
    s.floating(s.in("a"));
    s.floating(s.out("c"));
    s.cols(s.in("a"), w.cols, "weight columns K");
    s.cols(s.out("c"), n,
           p->silu_mul() ? "weight rows N/2 (silu_mul)" : "weight rows N");
    s.rowsOf(s.out("c"), s.in("a"));
    if (p->rope()) {
      checkRopeOn(s, *p->rope(), s.out("c"));
      s.i32Vector(s.in("positions"));
      s.rowsOf(s.in("positions"), s.in("a"));
    }
    if (p->residual()) {
      s.floating(s.in("r"));
      s.cols(s.in("r"), n, "same width as c");
      s.rowsOf(s.in("r"), s.in("a"));
      s.allowInPlace({"r"});
    }
    return;
  }
  case T::KvAppendParams: {
    const auto *p = step.params_as_KvAppendParams();
    s.expect({"latent", "k_pe", "positions", "seq_ids"}, {},
             p->normalize() ? 1 : 0);
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (kv.rope_dim() <= 0)
      s.error("needs a kv_cache with rope_dim > 0");
    if (p->normalize()) {
      checkFloat(s, p->eps(), "eps");
      s.weight(0, "kv_a_layernorm", false, 1);
      s.weightRows(0, "kv_a_layernorm", kv.latent_dim(), "kv_cache latent_dim");
    }
    if (p->rope()) {
      checkRope(s, *p->rope());
      if (p->rope()->dim() != kv.rope_dim())
        s.error("rope dim ", p->rope()->dim(), " != kv_cache rope_dim ",
                kv.rope_dim());
    }
    s.floating(s.in("latent"));
    s.cols(s.in("latent"), kv.latent_dim(), "kv_cache latent_dim");
    s.floating(s.in("k_pe"));
    s.cols(s.in("k_pe"), kv.rope_dim(), "kv_cache rope_dim");
    for (const char *r : {"k_pe", "positions", "seq_ids"})
      s.rowsOf(s.in(r), s.in("latent"));
    s.i32Vector(s.in("positions"));
    s.i32Vector(s.in("seq_ids"));
    return;
  }
  case T::MlaAttentionParams: {
    const auto *p = step.params_as_MlaAttentionParams();
    s.expect({"q", "positions", "seq_ids"}, {"o"}, 1);
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
    s.weight(0, "kv_b", false, 2);
    s.weightRows(0, "kv_b", int64_t(p->heads()) * (p->nope_dim() + p->v_dim()),
                 "heads*(nope_dim+v_dim)");
    s.weightCols(0, "kv_b", p->latent_dim(), "latent_dim");
    s.floating(s.in("q"));
    s.floating(s.out("o"));
    s.cols(s.in("q"), int64_t(p->heads()) * (p->nope_dim() + p->rope_dim()),
           "heads*(nope_dim+rope_dim)");
    s.cols(s.out("o"), int64_t(p->heads()) * p->v_dim(), "heads*v_dim");
    s.rowsOf(s.out("o"), s.in("q"));
    for (const char *r : {"positions", "seq_ids"}) {
      s.i32Vector(s.in(r));
      s.rowsOf(s.in(r), s.in("q"));
    }
    return;
  }
  case T::MlaLatentAttentionParams: {
    const auto *p = step.params_as_MlaLatentAttentionParams();
    s.expect({"q_lat", "q_pe", "positions", "seq_ids"}, {"o_lat"}, 0);
    const plan::KvCache &kv = kvCacheFor(s, plan, p->layer());
    if (p->heads() <= 0)
      s.error("heads ", p->heads(), " must be > 0");
    if (p->latent_dim() != kv.latent_dim() || p->rope_dim() != kv.rope_dim())
      s.error("latent_dim ", p->latent_dim(), " and rope_dim ", p->rope_dim(),
              " must equal the kv_cache's ", kv.latent_dim(), " and ",
              kv.rope_dim());
    if ((p->q_lat_stride() && p->q_lat_stride() < p->latent_dim()) ||
        (p->q_pe_stride() && p->q_pe_stride() < p->rope_dim()) ||
        p->q_lat_stride() < 0 || p->q_pe_stride() < 0)
      s.error("q_lat_stride ", p->q_lat_stride(), " / q_pe_stride ",
              p->q_pe_stride(), " smaller than the head width");
    checkFloat(s, p->scale(), "scale");
    for (const char *r : {"q_lat", "q_pe"})
      s.floating(s.in(r));
    s.floating(s.out("o_lat"));
    s.cols(s.in("q_lat"), span(p->heads(), p->q_lat_stride(), p->latent_dim()),
           "(heads-1)*q_lat_stride + latent_dim");
    if (p->rope_dim() > 0)
      s.cols(s.in("q_pe"), span(p->heads(), p->q_pe_stride(), p->rope_dim()),
             "(heads-1)*q_pe_stride + rope_dim");
    s.cols(s.out("o_lat"), int64_t(p->heads()) * p->latent_dim(),
           "heads*latent_dim");
    for (const char *r : {"q_pe", "positions", "seq_ids"})
      s.rowsOf(s.in(r), s.in("q_lat"));
    s.rowsOf(s.out("o_lat"), s.in("q_lat"));
    s.i32Vector(s.in("positions"));
    s.i32Vector(s.in("seq_ids"));
    return;
  }
  case T::KvGatherParams: {
    s.expect({"positions", "seq_ids"}, {"rows"}, 0);
    const plan::KvCache &kv =
        kvCacheFor(s, plan, step.params_as_KvGatherParams()->layer());
    s.floating(s.out("rows"));
    s.cols(s.out("rows"), int64_t(kv.latent_dim()) + kv.rope_dim(),
           "kv_cache latent_dim + rope_dim");
    for (const char *r : {"positions", "seq_ids"}) {
      s.i32Vector(s.in(r));
      s.rowsOf(s.in(r), s.out("rows"));
    }
    return;
  }
  case T::MlaPrefillAttentionParams: {
    const auto *p = step.params_as_MlaPrefillAttentionParams();
    s.expect({"q", "kv", "k_pe", "positions"}, {"o"}, 0);
    // Its keys are the step's own rows: right only for fresh sequences.
    if (!s.program().fresh_sequences())
      s.error("attends over the step's own tokens only, so its program must "
              "have fresh_sequences");
    if (p->heads() <= 0 || p->nope_dim() <= 0 || p->rope_dim() < 0 ||
        p->v_dim() <= 0)
      s.error("heads ", p->heads(), ", nope_dim ", p->nope_dim(), ", v_dim ",
              p->v_dim(), " must be > 0 and rope_dim ", p->rope_dim(), " >= 0");
    checkFloat(s, p->scale(), "scale");
    const int64_t h = p->heads();
    s.cols(s.in("q"), h * (p->nope_dim() + p->rope_dim()),
           "heads*(nope_dim+rope_dim)");
    s.cols(s.in("kv"), h * (p->nope_dim() + p->v_dim()),
           "heads*(nope_dim+v_dim)");
    s.cols(s.in("k_pe"), p->rope_dim(), "rope_dim");
    s.cols(s.out("o"), h * p->v_dim(), "heads*v_dim");
    for (const char *r : {"q", "kv", "k_pe", "o"})
      s.floating(r[0] == 'o' ? s.out(r) : s.in(r));
    for (const char *r : {"kv", "k_pe", "positions"})
      s.rowsOf(s.in(r), s.in("q"));
    s.rowsOf(s.out("o"), s.in("q"));
    s.i32Vector(s.in("positions"));
    return;
  }
  case T::HeadGemmParams: {
    const auto *p = step.params_as_HeadGemmParams();
    s.expect({"x"}, {"y"}, 1);
    const WeightShape &w = s.weight(0, "W", false, 2);
    if (p->heads() <= 0 || p->rows() <= 0 || p->row_offset() < 0 ||
        p->row_offset() + p->rows() > p->head_rows())
      s.error("head rows [", p->row_offset(), ", ", p->row_offset() + p->rows(),
              ") must lie inside head_rows ", p->head_rows(), " (heads ",
              p->heads(), ")");
    s.weightRows(0, "W", int64_t(p->heads()) * p->head_rows(),
                 "heads*head_rows");
    int64_t inLen = p->transpose() ? p->rows() : w.cols;
    int64_t outLen = p->transpose() ? w.cols : p->rows();
    if (p->in_stride() < 0 || (p->in_stride() && p->in_stride() < inLen) ||
        p->out_stride() < 0 || (p->out_stride() && p->out_stride() < outLen))
      s.error("in_stride ", p->in_stride(), " / out_stride ", p->out_stride(),
              " smaller than the per-head width ", inLen, " / ", outLen);
    s.floating(s.in("x"));
    s.floating(s.out("y"));
    s.cols(s.in("x"), span(p->heads(), p->in_stride(), int(inLen)),
           "(heads-1)*in_stride + per-head input");
    s.cols(s.out("y"), span(p->heads(), p->out_stride(), int(outLen)),
           "(heads-1)*out_stride + per-head output");
    s.rowsOf(s.out("y"), s.in("x"));
    return;
  }
  case T::RouteParams: {
    const auto *p = step.params_as_RouteParams();
    s.expect({p->fused_gate() ? "x" : "logits"}, {"idx", "w"},
             size_t(p->fused_gate()) + size_t(p->has_bias()));
    const int e = p->experts(), k = p->top_k();
    if (e <= 0 || k <= 0 || k > e)
      s.error("needs 0 < top_k <= experts, got top_k ", k, ", experts ", e);
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
    const Op &x = s.in(p->fused_gate() ? "x" : "logits");
    s.floating(x);
    size_t wi = 0;
    if (p->fused_gate()) {
      s.weight(0, "gate", false, 2);
      s.weightRows(0, "gate", e, "experts");
      s.weightCols(0, "gate", x.operand.cols(), "x columns");
      ++wi;
    } else {
      s.cols(x, e, "experts");
    }
    if (p->has_bias()) {
      s.weight(wi, "bias", false, 1);
      s.weightRows(wi, "bias", e, "experts");
    }
    s.i32(s.out("idx"));
    s.floating(s.out("w"));
    for (const char *r : {"idx", "w"}) {
      s.cols(s.out(r), k, "top_k");
      s.rowsOf(s.out(r), x);
    }
    return;
  }
  case T::MoeExpertsParams: {
    const auto *p = step.params_as_MoeExpertsParams();
    s.expect({"x", "idx"}, {"y"}, 2);
    const int e = p->experts(), k = p->top_k();
    if (e <= 0 || k <= 0 || k > e || p->intermediate() <= 0)
      s.error("needs 0 < top_k <= experts and intermediate > 0, got top_k ", k,
              ", experts ", e, ", intermediate ", p->intermediate());
    const WeightShape &gu = s.weight(0, "gate_up", true, 2);
    const WeightShape &down = s.weight(1, "down", true, 2);
    if (gu.experts != e || down.experts != e)
      s.error("weight expert sets have ", gu.experts, " and ", down.experts,
              " experts, expected ", e);
    const Op &x = s.in("x");
    s.floating(x);
    s.weightRows(0, "gate_up", 2 * int64_t(p->intermediate()),
                 "2*intermediate");
    s.weightCols(0, "gate_up", x.operand.cols(), "x columns");
    s.weightRows(1, "down", x.operand.cols(), "x columns");
    s.weightCols(1, "down", p->intermediate(), "intermediate");
    s.i32(s.in("idx"));
    s.cols(s.in("idx"), k, "top_k");
    s.rowsOf(s.in("idx"), x);
    s.floating(s.out("y"));
    s.cols(s.out("y"), x.operand.cols(), "x columns");
    s.rowsOf(s.out("y"), x, k, "top_k");
    return;
  }
  case T::MoeDispatchParams: {
    const auto *p = step.params_as_MoeDispatchParams();
    s.expect({"x", "idx"}, {"x_sorted", "offsets", "perm"}, 0);
    const int e = p->experts(), k = p->top_k();
    if (e <= 0 || k <= 0 || k > e)
      s.error("needs 0 < top_k <= experts, got top_k ", k, ", experts ", e);
    const Op &x = s.in("x");
    s.floating(x);
    s.i32(s.in("idx"));
    s.cols(s.in("idx"), k, "top_k");
    s.rowsOf(s.in("idx"), x);
    s.floating(s.out("x_sorted"));
    s.cols(s.out("x_sorted"), x.operand.cols(), "x columns");
    s.rowsOf(s.out("x_sorted"), x, k, "top_k");
    s.i32Vector(s.out("offsets"));
    s.fixedRows(s.out("offsets"), int64_t(e) + 1, "experts + 1");
    s.i32Vector(s.out("perm"));
    s.rowsOf(s.out("perm"), x, k, "top_k");
    return;
  }
  case T::GroupedGemmParams: {
    const auto *p = step.params_as_GroupedGemmParams();
    s.expect({"x_sorted", "offsets"}, {"y"}, 1);
    const WeightShape &w = s.weight(0, "W", true, 2);
    if (p->experts() <= 0 || w.experts != p->experts())
      s.error("weight expert set has ", w.experts, " experts, expected ",
              p->experts());
    if (p->silu_mul() && w.rows % 2 != 0)
      s.error("silu_mul needs an even number of weight rows, got ", w.rows);
    const Op &x = s.in("x_sorted");
    s.floating(x);
    s.cols(x, w.cols, "weight columns K");
    s.i32Vector(s.in("offsets"));
    s.fixedRows(s.in("offsets"), int64_t(p->experts()) + 1, "experts + 1");
    s.floating(s.out("y"));
    s.cols(s.out("y"), p->silu_mul() ? w.rows / 2 : w.rows,
           p->silu_mul() ? "weight rows N/2 (silu_mul)" : "weight rows N");
    s.rowsOf(s.out("y"), x);
    return;
  }
  case T::MoeCombineParams: {
    const auto *p = step.params_as_MoeCombineParams();
    std::vector<std::string> ins = {"y", "w"};
    if (p->permuted())
      ins.push_back("perm");
    if (p->shared())
      ins.push_back("shared");
    if (p->residual())
      ins.push_back("r");
    s.expect(ins, {"out"}, 0);
    const int k = p->top_k();
    if (k <= 0)
      s.error("top_k ", k, " must be > 0");
    const Op &out = s.out("out");
    s.floating(out);
    s.floating(s.in("y"));
    s.cols(s.in("y"), out.operand.cols(), "out columns");
    s.rowsOf(s.in("y"), out, k, "top_k");
    s.floating(s.in("w"));
    s.cols(s.in("w"), k, "top_k");
    s.rowsOf(s.in("w"), out);
    if (p->permuted()) {
      s.i32Vector(s.in("perm"));
      s.rowsOf(s.in("perm"), out, k, "top_k");
    }
    for (const std::string &r : ins) {
      if (r != "shared" && r != "r")
        continue;
      s.floating(s.in(r));
      s.cols(s.in(r), out.operand.cols(), "out columns");
      s.rowsOf(s.in(r), out);
    }
    s.allowInPlace({"r"});
    return;
  }
  case T::GatherRowsParams: {
    s.expect({"x", "rows"}, {"y"}, 0);
    s.floating(s.in("x"));
    s.i32Vector(s.in("rows"));
    s.floating(s.out("y"));
    s.cols(s.out("y"), s.in("x").operand.cols(), "x columns");
    s.rowsOf(s.out("y"), s.in("rows"));
    return;
  }
  case T::ArgmaxParams: {
    s.expect({"logits"}, {"ids"}, 0);
    s.floating(s.in("logits"));
    s.i32Vector(s.out("ids"));
    s.rowsOf(s.out("ids"), s.in("logits"));
    return;
  }
  case T::NextTokensParams: {
    s.expect({"tokens", "positions", "seq_ids", "logit_rows", "ids"}, {"next"},
             0);
    for (const char *r :
         {"tokens", "positions", "seq_ids", "logit_rows", "ids"})
      s.i32Vector(s.in(r));
    s.i32Vector(s.out("next"));
    for (const char *r : {"positions", "seq_ids"})
      s.rowsOf(s.in(r), s.in("tokens"));
    s.rowsOf(s.in("ids"), s.in("logit_rows"));
    s.rowsOf(s.out("next"), s.in("tokens"));
    return;
  }
  case T::ConcatParams: {
    s.expect({"a", "b"}, {"ab"}, 0);
    for (const Op *op : {&s.in("a"), &s.in("b"), &s.out("ab")})
      s.floating(*op);
    s.cols(s.out("ab"),
           int64_t(s.in("a").operand.cols()) + s.in("b").operand.cols(),
           "a's columns + b's");
    s.rowsOf(s.in("b"), s.in("a"));
    s.rowsOf(s.out("ab"), s.in("a"));
    return;
  }
  case T::NONE:
    break;
  }
  (void)config;
  s.error("unknown step family ", int(step.params_type()));
}

} // namespace moela::planverify
