//===- MLADialect.td - The mla dialect --------------------------*- tablegen -*-===//
//
// mla: Multi-head Latent Attention (docs/model.md §3.1) in the model IR: the query and
// latent projections, RoPE with YaRN, and attention over the latent KV cache.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_MLA_DIALECT
#define MOELA_MLA_DIALECT

include "mlir/IR/OpBase.td"

def MLA_Dialect : Dialect {
  let name = "mla";
  let cppNamespace = "::moela::mla";
  let summary = "Multi-head Latent Attention ops of the moela model IR";
  let description = [{
    MLA compresses keys and values into one latent vector `c` [R] per token
    plus one shared rotary key `k_pe` [Dr]; the KV cache holds only those.
    Queries are `[T, H, Dn + Dr]` (per head: nope part, then rope part).
    `mla.attention` can be computed in an expanded form (ordinary MHA after
    `kv_b_proj`, cheap for prefill) or an absorbed form (W_UK folded into the
    query, W_UV applied after attending over the latent, cheap for decode);
    passes choose per program.
  }];
  let dependentDialects = ["::moela::nn::NNDialect"];
  let useDefaultAttributePrinterParser = 1;
}

class MLA_Op<string mnemonic, list<Trait> traits = []>
    : Op<MLA_Dialect, mnemonic, traits>;

#endif // MOELA_MLA_DIALECT
