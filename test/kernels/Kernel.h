//===- Kernel.h - One instantiation of a kernel template ------------------===//
//
// A kernel as the plan emitter writes it for a step: the family's header
// (runtime/kernels/<Family>.cuh), the template and its arguments (the
// instantiation the header comment gives), the args struct and the
// __launch_bounds__. The three runners build the same CUDA text from it:
// KernelCompileTest and the GPU compile it with NVRTC, and the emulator
// compiles it with g++ (gen-emu-kernels.py reads `moela-kernel-cases`).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_KERNEL_H
#define MOELA_TEST_KERNELS_KERNEL_H

#include <cstddef>
#include <string>
#include <vector>

namespace moela::cases {

/// Storage types as the kernels spell them.
enum class Ty { F32, BF16, F8, I32 };

const char *cudaType(Ty t); // "float", "__nv_bfloat16", ...
const char *tyName(Ty t);   // "f32", "bf16", "f8", "i32"
size_t sizeOf(Ty t);

struct Kernel {
  std::string family;              // header stem: "Gemm" for Gemm.cuh
  std::string args;                // args struct: "GemmArgs"
  std::string function;            // template: "gemm"
  std::vector<std::string> params; // template arguments, as CUDA spells them
  int threads = 256;               // __launch_bounds__(threads)
  bool minBlocks1 = false;         // __launch_bounds__(threads, 1)
  /// Dynamic shared memory of its largest launch (the compile check adds it
  /// to the static shared memory).
  long long dynamicShared = 0;

  /// A C identifier unique to the instantiation:
  /// "gemm_bf16_f8_f32_f32_64_64_128_0_0_1".
  std::string name() const;
  /// "gemm<bf16, f8, f32, f32, 64, 64, 128, 0, 0, 1>".
  std::string label() const;
  /// The entry point, as `moela-compile --emit=cuda` writes it.
  std::string source() const;
  bool operator<(const Kernel &o) const { return name() < o.name(); }
};

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_KERNEL_H
