//===- ConfigTestUtil.h - Configs to test the config rules with ---------===//
//
// The tiny model's config as text, mutations of it, and the bundled configs:
// shared by ConfigTest.cpp (the rules of docs/model.md §1) and
// ConfigAttrTest.cpp (the moela.model attribute).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_UNIT_CONFIGTESTUTIL_H
#define MOELA_TEST_UNIT_CONFIGTESTUTIL_H

#include "moela/Compiler/Config.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

namespace moela::configtest {

namespace json = llvm::json;

inline const std::string kModels = std::string(MOELA_SOURCE_DIR) + "/models";
inline constexpr const char *kOrigin = "test/config.json";

/// models/tiny/config.json: V3 features at toy size (q compression, noaux_tc
/// with groups, YaRN, dense + MoE layers, shared expert, MTP).
inline constexpr const char *kTinyConfig = R"json({
  "architectures": ["DeepseekV3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_deepseek.DeepseekV3Config",
    "AutoModel": "modeling_deepseek.DeepseekV3Model",
    "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM"
  },
  "bos_token_id": 0,
  "eos_token_id": 1,
  "ep_size": 1,
  "first_k_dense_replace": 1,
  "hidden_act": "silu",
  "hidden_size": 64,
  "initializer_range": 0.02,
  "intermediate_size": 128,
  "kv_lora_rank": 32,
  "max_position_embeddings": 4096,
  "model_type": "deepseek_v3",
  "moe_intermediate_size": 32,
  "moe_layer_freq": 1,
  "n_group": 4,
  "n_routed_experts": 8,
  "n_shared_experts": 1,
  "norm_topk_prob": true,
  "num_attention_heads": 4,
  "num_experts_per_tok": 2,
  "num_hidden_layers": 3,
  "num_key_value_heads": 4,
  "num_nextn_predict_layers": 1,
  "q_lora_rank": 48,
  "qk_nope_head_dim": 16,
  "qk_rope_head_dim": 8,
  "rms_norm_eps": 1e-06,
  "rope_scaling": {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 4,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 1024,
    "type": "yarn"
  },
  "rope_theta": 10000,
  "routed_scaling_factor": 2.5,
  "scoring_func": "sigmoid",
  "tie_word_embeddings": false,
  "topk_group": 2,
  "topk_method": "noaux_tc",
  "torch_dtype": "bfloat16",
  "transformers_version": "4.33.1",
  "use_cache": true,
  "v_head_dim": 16,
  "vocab_size": 129280
})json";

/// The FP8 quantization_config of the released V3 checkpoints.
inline json::Value fp8Quantization() {
  return json::Object{{"activation_scheme", "dynamic"},
                      {"fmt", "e4m3"},
                      {"quant_method", "fp8"},
                      {"weight_block_size", json::Array{128, 128}}};
}

using Mutation = std::function<void(json::Object &)>;

/// kTinyConfig with `mutate` applied, as JSON text.
inline std::string mutatedConfig(const Mutation &mutate) {
  llvm::Expected<json::Value> value = json::parse(kTinyConfig);
  if (!value) {
    ADD_FAILURE() << "the base config does not parse: "
                  << llvm::toString(value.takeError());
    return "";
  }
  if (mutate)
    mutate(*value->getAsObject());
  std::string text;
  llvm::raw_string_ostream os(text);
  os << *value;
  return text;
}

/// Sets `path` ("a" or "a.b") to `v`; the parent object must exist.
inline Mutation set(std::string path, json::Value v) {
  return [path, v](json::Object &o) {
    size_t dot = path.find('.');
    if (dot == std::string::npos) {
      o[path] = v;
      return;
    }
    json::Object *inner = o.getObject(path.substr(0, dot));
    ASSERT_NE(inner, nullptr) << path;
    (*inner)[path.substr(dot + 1)] = v;
  };
}

/// Removes `path` ("a" or "a.b").
inline Mutation drop(std::string path) {
  return [path](json::Object &o) {
    size_t dot = path.find('.');
    if (dot == std::string::npos) {
      o.erase(path);
      return;
    }
    json::Object *inner = o.getObject(path.substr(0, dot));
    ASSERT_NE(inner, nullptr) << path;
    inner->erase(path.substr(dot + 1));
  };
}

/// Applies several mutations in order.
inline Mutation all(std::vector<Mutation> mutations) {
  return [mutations](json::Object &o) {
    for (const Mutation &m : mutations)
      m(o);
  };
}

inline ModelConfig parseOk(const std::string &text) {
  llvm::Expected<ModelConfig> config = parseModelConfig(text, kOrigin);
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return ModelConfig();
  }
  return *config;
}

inline ModelConfig loadOk(const std::string &path) {
  llvm::Expected<ModelConfig> config = loadModelConfig(path);
  if (!config) {
    ADD_FAILURE() << llvm::toString(config.takeError());
    return ModelConfig();
  }
  return *config;
}

/// The folders of models/ that hold a config.json.
inline std::vector<std::string> bundledModels() {
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(kModels, ec), end; it != end && !ec;
       it.increment(ec)) {
    llvm::SmallString<256> config(it->path());
    llvm::sys::path::append(config, "config.json");
    if (llvm::sys::fs::exists(config))
      names.push_back(llvm::sys::path::filename(it->path()).str());
  }
  std::sort(names.begin(), names.end());
  return names;
}

} // namespace moela::configtest

#endif // MOELA_TEST_UNIT_CONFIGTESTUTIL_H
