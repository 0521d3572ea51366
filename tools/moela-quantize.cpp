//===- moela-quantize.cpp - A BF16 checkpoint's FP8 twin, written to disk -===//
//
// moela-quantize IN_DIR OUT_DIR
//
// Writes the FP8 checkpoint that `moela-compile --weight-dtype=fp8` makes of a
// BF16 (or F16/F32) one at load time, so that it can be shipped and loaded
// like DeepSeek's own FP8 releases: the tensors the fp8 plan quantizes at load
// (every linear weight of a decoder layer, the MTP module's included) become
// F8_E4M3 with a `<name>_scale_inv` F32 grid of 128x128 blocks, quantized by
// the runtime's own quantizeFp8 (docs/model.md §2); every other tensor is
// copied byte for byte. config.json gains DeepSeek's quantization_config;
// the other files of IN_DIR (tokenizer, generation config, ...) are copied.
//
//===----------------------------------------------------------------------===//
#include "cli/Version.h"
#include "moela/Compiler/Driver.h"
#include "moela/InitAll.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"
#include "moela/Runtime/Output.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Safetensors.h"
#include "moela/Runtime/Weights.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/raw_ostream.h"

#include <filesystem>
#include <fstream>
#include <map>

using namespace llvm;
namespace fs = std::filesystem;

namespace {

cl::OptionCategory category("moela-quantize");
cl::opt<std::string> inputDir(cl::Positional, cl::Required,
                              cl::desc("<checkpoint dir>"), cl::cat(category));
cl::opt<std::string> outputDir(cl::Positional, cl::Required,
                               cl::desc("<output dir>"), cl::cat(category));
cl::opt<bool> quiet("q", cl::desc("Nothing but errors"), cl::cat(category));
cl::alias quietLong("quiet", cl::desc("Alias for -q"), cl::aliasopt(quiet),
                    cl::cat(category));
cl::opt<bool> verbose("v",
                      cl::desc("Name each tensor quantized, with its shape"),
                      cl::cat(category));
cl::alias verboseLong("verbose", cl::desc("Alias for -v"),
                      cl::aliasopt(verbose), cl::cat(category));

/// The compiler has printed why; nothing more to say.
struct CompileFailed {};

/// The tensors an fp8 plan of `config` quantizes at load, by checkpoint name.
std::map<std::string, moela::TensorSpec>
quantizedTensors(const std::string &config, bool mtp) {
  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  moela::CompileOptions options;
  options.input = config;
  options.target = "host";
  options.weightDtype = "fp8";
  options.mtp = mtp;
  std::vector<uint8_t> bytes;
  if (moela::compilePlanBytes(options, context, bytes) != 0)
    throw CompileFailed{};
  moela::Plan plan = moela::Plan::fromBytes(std::move(bytes), config);
  std::map<std::string, moela::TensorSpec> out;
  for (uint32_t i = 0; i < plan.root().weights()->size(); ++i) {
    const int experts = plan.weightShape(i).experts;
    for (int e = 0; e < std::max(1, experts); ++e)
      for (moela::TensorSpec &spec : plan.tensorSpecs(i, experts ? e : -1))
        if (spec.quantizeAtLoad)
          out.emplace(spec.name, spec);
  }
  return out;
}

int quantize() {
  const fs::path in(inputDir.getValue()), out(outputDir.getValue());
  const std::string configPath = (in / "config.json").string();
  nlohmann::json config = moela::readJsonFile(configPath);
  if (!config.is_object())
    moela::fail(configPath, ": expected a JSON object");
  if (config.contains("quantization_config"))
    moela::fail(configPath,
                ": the checkpoint is already quantized (quantization_config)");
  const bool mtp = config.value("num_nextn_predict_layers", 0) > 0;
  const std::map<std::string, moela::TensorSpec> toQuantize =
      quantizedTensors(configPath, mtp);

  std::unique_ptr<moela::WeightSource> source =
      moela::openCheckpoint(in.string());
  moela::Checkpoint ckpt = moela::Checkpoint::open(in.string());
  std::vector<moela::RawTensor> quantized; // keeps the written bytes alive
  quantized.reserve(toQuantize.size());
  std::vector<moela::TensorToWrite> tensors;
  for (const std::string &name : ckpt.names()) {
    auto q = toQuantize.find(name);
    if (q == toQuantize.end()) {
      moela::TensorView view = ckpt.tensor(name);
      tensors.push_back({name, view.dtype, view.shape, view.data});
      continue;
    }
    moela::RawTensor &raw = quantized.emplace_back(source->loadRaw(q->second));
    if (verbose && !quiet)
      errs() << "moela-quantize: " << name << " " << q->second.typeString()
             << "\n";
    tensors.push_back(
        {name, moela::DType::F8E4M3, raw.spec.shape, raw.data.data()});
    tensors.push_back({raw.spec.scaleName, moela::DType::F32,
                       raw.spec.scaleShape, raw.scales.data()});
  }
  if (quantized.size() != toQuantize.size())
    moela::fail(in.string(), ": ", toQuantize.size() - quantized.size(),
                " of the tensors to quantize are missing");

  fs::create_directories(out);
  if (fs::equivalent(in, out))
    moela::fail(out.string(), ": the output folder must differ from the input");
  moela::writeSafetensors((out / "model.safetensors").string(), tensors);
  config["quantization_config"] = {{"activation_scheme", "dynamic"},
                                   {"fmt", "e4m3"},
                                   {"quant_method", "fp8"},
                                   {"weight_block_size", {128, 128}}};
  const std::string configOut = (out / "config.json").string();
  std::ofstream configFile(configOut);
  configFile << config.dump(2) << "\n";
  moela::closeOutput(configFile, configOut, "the config");
  for (const fs::directory_entry &file : fs::directory_iterator(in)) {
    const std::string name = file.path().filename().string();
    const bool weights = name.rfind("model", 0) == 0 &&
                         name.find(".safetensors") != std::string::npos;
    if (!file.is_regular_file() || name == "config.json" || weights)
      continue;
    fs::copy_file(file.path(), out / name,
                  fs::copy_options::overwrite_existing);
  }
  if (!quiet)
    outs() << "moela-quantize: " << quantized.size() << " of " << ckpt.size()
           << " tensors quantized to FP8 in " << out.string() << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  moela::registerAllPasses();
  cl::HideUnrelatedOptions(category);
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << moela::cli::versionText("moela-quantize",
                                  {"MLIR/LLVM: " LLVM_VERSION_STRING});
  });
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "moela-quantize: write the FP8 twin (128x128 block scales) of a "
          "BF16 checkpoint, as moela-compile --weight-dtype=fp8 quantizes it "
          "at load\n",
          &errs()))
    return 1;
  try {
    return quantize();
  } catch (const CompileFailed &) {
    return 1;
  } catch (const std::exception &e) {
    errs() << "moela-quantize: " << e.what() << "\n";
    return 1;
  }
}
