"""A DeepSeek-V3-architecture model in PyTorch, for training models/tiny-kjv.

It computes what docs/model.md §3 specifies (and moela's backends compute), on
whole sequences that start at position 0, in the expanded MLA form:
RMSNorm in fp32, MLA with q and kv compression and interleaved-pair RoPE with
YaRN frequencies, a dense first layer, MoE layers with sigmoid scores, the
selection-only correction bias, group-limited (noaux_tc) routing and a shared
expert, and one MTP module (§3.3). Parameter names are the Hugging Face
checkpoint names, so `checkpoint_tensors` is a plain rename for the MTP copies.
The dtype follows the parameters: float32 to train, float64 for the reference
logits the CI test compares moela against.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def rms_norm(x, weight, eps):
    # docs/model.md §3: w * x / sqrt(mean(x^2) + eps), per row.
    return weight * (x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps))


class Rope:
    """Interleaved-pair RoPE with the YaRN rule of docs/model.md §3.1."""

    def __init__(self, cfg, dtype):
        dr = cfg["qk_rope_head_dim"]
        theta = float(cfg["rope_theta"])
        i = torch.arange(0, dr // 2, dtype=torch.float32)
        inv = theta ** (-2.0 * i / dr)
        self.magnitude = 1.0
        self.scale = (cfg["qk_nope_head_dim"] + dr) ** -0.5
        ys = cfg.get("rope_scaling")
        if ys and ys.get("type") == "yarn":
            factor = float(ys["factor"])
            orig = float(ys.get("original_max_position_embeddings", 4096))
            fast, slow = float(ys.get("beta_fast", 32)), float(ys.get("beta_slow", 1))
            mscale, mscale_all = float(ys.get("mscale", 1)), float(ys.get("mscale_all_dim", 0))

            def corr(r):
                return dr * math.log(orig / (2 * math.pi * r)) / (2 * math.log(theta))

            low = max(math.floor(corr(fast)), 0)
            high = min(math.ceil(corr(slow)), dr - 1)
            if low == high:
                high += 0.001
            ramp = ((i - low) / (high - low)).clamp(0, 1)
            inv = inv / factor * ramp + inv * (1 - ramp)

            def g(x):
                return 0.1 * x * math.log(factor) + 1

            if factor > 1:
                self.magnitude = g(mscale) / g(mscale_all)
                if mscale_all != 0:
                    self.scale *= g(mscale_all) ** 2
        self.inv_freq = inv  # [Dr/2], fp32 as the runtime's table
        self.dtype = dtype

    def __call__(self, x, positions):
        # x [..., T, Dr] with pairs (x[2i], x[2i+1]); positions [T].
        angle = positions.to(torch.float32)[:, None] * self.inv_freq[None, :]  # [T, Dr/2]
        cos = (torch.cos(angle) * self.magnitude).to(self.dtype)
        sin = (torch.sin(angle) * self.magnitude).to(self.dtype)
        a, b = x[..., 0::2], x[..., 1::2]
        out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
        return out.flatten(-2)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h = cfg["hidden_size"], cfg["num_attention_heads"]
        self.h, self.r = h, cfg["kv_lora_rank"]
        self.dn, self.dr, self.dv = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
        self.eps = cfg["rms_norm_eps"]
        rq = cfg["q_lora_rank"]
        self.q_a_proj = nn.Linear(d, rq, bias=False)
        self.q_a_layernorm = nn.Parameter(torch.ones(rq))
        self.q_b_proj = nn.Linear(rq, h * (self.dn + self.dr), bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(d, self.r + self.dr, bias=False)
        self.kv_a_layernorm = nn.Parameter(torch.ones(self.r))
        self.kv_b_proj = nn.Linear(self.r, h * (self.dn + self.dv), bias=False)
        self.o_proj = nn.Linear(h * self.dv, d, bias=False)

    def forward(self, x, rope, positions):
        # x [B, T, D] -> [B, T, D]; causal within each sequence.
        b, t, _ = x.shape
        q = self.q_b_proj(rms_norm(self.q_a_proj(x), self.q_a_layernorm, self.eps))
        q = q.view(b, t, self.h, self.dn + self.dr).transpose(1, 2)  # [B, H, T, Dn+Dr]
        q_nope, q_pe = q[..., : self.dn], rope(q[..., self.dn :], positions)
        kv = self.kv_a_proj_with_mqa(x)  # [B, T, R+Dr]
        c = rms_norm(kv[..., : self.r], self.kv_a_layernorm, self.eps)
        k_pe = rope(kv[..., self.r :], positions)[:, None]  # [B, 1, T, Dr]
        kvb = self.kv_b_proj(c).view(b, t, self.h, self.dn + self.dv).transpose(1, 2)
        k_nope, v = kvb[..., : self.dn], kvb[..., self.dn :]
        k = torch.cat((k_nope, k_pe.expand(b, self.h, t, self.dr)), dim=-1)
        qf = torch.cat((q_nope, q_pe), dim=-1)
        out = F.scaled_dot_product_attention(qf, k, v, is_causal=True, scale=rope.scale)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.h * self.dv))


class Mlp(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.gate_proj = nn.Linear(d, f, bias=False)
        self.up_proj = nn.Linear(d, f, bias=False)
        self.down_proj = nn.Linear(f, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Gate(nn.Module):
    """The router: sigmoid scores, noaux_tc group-limited top-k (§3.2)."""

    def __init__(self, cfg):
        super().__init__()
        self.e, self.k = cfg["n_routed_experts"], cfg["num_experts_per_tok"]
        self.groups, self.topk_groups = cfg["n_group"], cfg["topk_group"]
        self.scaling = cfg["routed_scaling_factor"]
        self.weight = nn.Parameter(torch.empty(self.e, cfg["hidden_size"]))
        # Selection only: updated by the load-balancing rule, never by gradients.
        self.register_buffer("e_score_correction_bias", torch.zeros(self.e, dtype=torch.float32))

    def forward(self, x):
        # x [N, D] -> expert ids [N, K], weights [N, K]
        s = torch.sigmoid(x @ self.weight.t())  # [N, E]
        sb = s.detach() + self.e_score_correction_bias.to(s.dtype)
        n = x.shape[0]
        grouped = sb.view(n, self.groups, -1)
        gscore = grouped.topk(2, dim=-1).values.sum(-1)  # [N, G]
        keep = gscore.topk(self.topk_groups, dim=-1).indices
        mask = torch.zeros_like(gscore, dtype=torch.bool).scatter_(1, keep, True)
        sb = sb.masked_fill(~mask[:, :, None].expand_as(grouped).reshape(n, -1), float("-inf"))
        idx = sb.topk(self.k, dim=-1).indices  # [N, K], descending
        w = s.gather(1, idx)
        w = w / w.sum(-1, keepdim=True) * self.scaling
        return idx, w


class Moe(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, fm = cfg["hidden_size"], cfg["moe_intermediate_size"]
        self.gate = Gate(cfg)
        self.experts = nn.ModuleList(Mlp(d, fm) for _ in range(cfg["n_routed_experts"]))
        self.shared_experts = Mlp(d, cfg["n_shared_experts"] * fm)
        self.load = None  # tokens per expert of the last forward (for the bias update)

    def forward(self, x):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        idx, w = self.gate(x)
        y = torch.zeros_like(x)
        counts = torch.bincount(idx.flatten(), minlength=len(self.experts))
        self.load = counts
        for e, expert in enumerate(self.experts):
            if counts[e] == 0:
                continue
            rows, slot = torch.where(idx == e)
            y.index_add_(0, rows, expert(x[rows]) * w[rows, slot, None])
        y = y + self.shared_experts(x)
        return y.view(shape)


class Layer(nn.Module):
    def __init__(self, cfg, moe):
        super().__init__()
        d = cfg["hidden_size"]
        self.eps = cfg["rms_norm_eps"]
        self.input_layernorm = nn.Parameter(torch.ones(d))
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = nn.Parameter(torch.ones(d))
        self.mlp = Moe(cfg) if moe else Mlp(d, cfg["intermediate_size"])

    def forward(self, h, rope, positions):
        h = h + self.self_attn(rms_norm(h, self.input_layernorm, self.eps), rope, positions)
        return h + self.mlp(rms_norm(h, self.post_attention_layernorm, self.eps))


class Mtp(nn.Module):
    """MTP module 0 (§3.3). Its embedding and head are the main model's, as in
    DeepSeek-V3's training; the checkpoint stores copies under its own names."""

    def __init__(self, cfg):
        super().__init__()
        d = cfg["hidden_size"]
        self.eps = cfg["rms_norm_eps"]
        self.enorm = nn.Parameter(torch.ones(d))
        self.hnorm = nn.Parameter(torch.ones(d))
        self.eh_proj = nn.Linear(2 * d, d, bias=False)
        self.layer = Layer(cfg, moe=True)
        self.shared_head_norm = nn.Parameter(torch.ones(d))

    def forward(self, h, next_embed, rope, positions, head):
        x = self.eh_proj(torch.cat((rms_norm(next_embed, self.enorm, self.eps),
                                    rms_norm(h, self.hnorm, self.eps)), dim=-1))
        x = self.layer(x, rope, positions)
        return head(rms_norm(x, self.shared_head_norm, self.eps))


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d, v = cfg["hidden_size"], cfg["vocab_size"]
        self.eps = cfg["rms_norm_eps"]
        self.embed_tokens = nn.Embedding(v, d)
        self.layers = nn.ModuleList(
            Layer(cfg, moe=i >= cfg["first_k_dense_replace"])
            for i in range(cfg["num_hidden_layers"]))
        self.norm = nn.Parameter(torch.ones(d))
        self.lm_head = nn.Linear(d, v, bias=False)
        self.mtp = Mtp(cfg) if cfg.get("num_nextn_predict_layers", 0) else None

    def rope(self):
        return Rope(self.cfg, self.lm_head.weight.dtype)

    def forward(self, tokens, with_mtp=False):
        # tokens [B, T] -> logits [B, T, V] (and the MTP logits [B, T-1, V]:
        # row t drafts the token after tokens[t+1]).
        rope = self.rope()
        positions = torch.arange(tokens.shape[1])
        h = self.embed_tokens(tokens)
        for layer in self.layers:
            h = layer(h, rope, positions)
        logits = self.lm_head(rms_norm(h, self.norm, self.eps))
        if not with_mtp:
            return logits
        mtp = self.mtp(h[:, :-1], self.embed_tokens(tokens[:, 1:]), rope, positions[:-1],
                       self.lm_head)
        return logits, mtp

    def moe_layers(self):
        mods = [l.mlp for l in self.layers if isinstance(l.mlp, Moe)]
        if self.mtp is not None:
            mods.append(self.mtp.layer.mlp)
        return mods


def init_weights(model, seed):
    gen = torch.Generator().manual_seed(seed)
    depth = 2 * (len(model.layers) + 1)
    for name, p in model.named_parameters():
        if p.dim() == 1:
            continue  # norms stay 1
        std = 0.02
        if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
            std = 0.02 / math.sqrt(depth)
        with torch.no_grad():
            p.copy_(torch.randn(p.shape, generator=gen) * std)


def checkpoint_tensors(model):
    """The Hugging Face names of every tensor (docs/model.md §2)."""
    cfg = model.cfg
    out = {}
    layers = list(enumerate(model.layers))
    if model.mtp is not None:
        layers.append((cfg["num_hidden_layers"], model.mtp.layer))
    for i, layer in layers:
        for name, t in layer.state_dict().items():
            if name.endswith("layernorm"):  # a bare Parameter: HF names it .weight
                name += ".weight"
            out[f"model.layers.{i}.{name}"] = t
    out["model.embed_tokens.weight"] = model.embed_tokens.weight
    out["model.norm.weight"] = model.norm
    out["lm_head.weight"] = model.lm_head.weight
    if model.mtp is not None:
        p = f"model.layers.{cfg['num_hidden_layers']}."
        out[p + "embed_tokens.weight"] = model.embed_tokens.weight
        out[p + "enorm.weight"] = model.mtp.enorm
        out[p + "hnorm.weight"] = model.mtp.hnorm
        out[p + "eh_proj.weight"] = model.mtp.eh_proj.weight
        out[p + "shared_head.norm.weight"] = model.mtp.shared_head_norm
        out[p + "shared_head.head.weight"] = model.lm_head.weight
    return {k: v.detach() for k, v in out.items()}


def load_checkpoint_tensors(model, tensors):
    """Inverse of checkpoint_tensors: sets every parameter from HF names."""
    mine = checkpoint_tensors(model)
    missing = set(mine) - set(tensors)
    if missing:
        raise SystemExit(f"checkpoint lacks {sorted(missing)[:3]}")
    with torch.no_grad():
        for name, t in mine.items():
            t.copy_(tensors[name].to(t.dtype))
