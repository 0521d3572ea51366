//===- Kernel.cpp - Names and CUDA text of an instantiation ---------------===//
#include "Kernel.h"

namespace moela::cases {

const char *cudaType(Ty t) {
  switch (t) {
  case Ty::F32:
    return "float";
  case Ty::BF16:
    return "__nv_bfloat16";
  case Ty::F8:
    return "__nv_fp8_e4m3";
  case Ty::I32:
    return "int";
  }
  return "?";
}

const char *tyName(Ty t) {
  return t == Ty::F32    ? "f32"
         : t == Ty::BF16 ? "bf16"
         : t == Ty::F8   ? "f8"
                         : "i32";
}

size_t sizeOf(Ty t) { return t == Ty::BF16 ? 2 : t == Ty::F8 ? 1 : 4; }

namespace {

/// A template argument in names and labels: types by their short name,
/// flags as 0 / 1.
std::string shortParam(const std::string &p) {
  for (Ty t : {Ty::F32, Ty::BF16, Ty::F8, Ty::I32})
    if (p == cudaType(t))
      return tyName(t);
  if (p == "true" || p == "false")
    return p == "true" ? "1" : "0";
  return p;
}

} // namespace

std::string Kernel::name() const {
  std::string s = function;
  for (const std::string &p : params)
    s += "_" + shortParam(p);
  return s;
}

std::string Kernel::label() const {
  std::string s = function + "<";
  for (size_t i = 0; i < params.size(); ++i)
    s += (i ? ", " : "") + shortParam(params[i]);
  return s + ">";
}

std::string Kernel::source() const {
  std::string call = function + "<";
  for (size_t i = 0; i < params.size(); ++i)
    call += (i ? ", " : "") + params[i];
  call += ">";
  return "#include \"" + family + ".cuh\"\n" +
         "extern \"C\" __global__ void __launch_bounds__(" +
         std::to_string(threads) + (minBlocks1 ? ", 1" : "") + ")\n" + name() +
         "(const moela::kernels::" + args +
         " args) {\n  moela::kernels::" + call + "(args);\n}\n";
}

} // namespace moela::cases
