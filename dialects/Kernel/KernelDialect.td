//===- KernelDialect.td - The kernel dialect --------------------*- tablegen -*-===//
//
// kernel: the kernel IR. A program is a function whose body is a sequence of
// kernel launches; each op is one device-template family (the `StepParams`
// union of runtime/schema/plan.fbs) with its parameters, fused epilogues and
// tile shape. Both backends execute exactly these ops; the CUDA emitter
// prints one kernel per unique op configuration.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_KERNEL_DIALECT
#define MOELA_KERNEL_DIALECT

include "mlir/IR/OpBase.td"

def Kernel_Dialect : Dialect {
  let name = "kernel";
  let cppNamespace = "::moela::kernel";
  let summary = "Kernel launches of a moela program";
  let description = [{
    Tensors in the kernel IR are 2-D `[rows, cols]` activation buffers (per
    head data is `[rows, heads * dim]`) or 1-D index vectors. Rows follow the
    token count of a step: `T`, `K * T` (one row per routed slot), `R` (the
    rows whose logits are wanted) or a fixed number; the memory planner
    derives which from the producers. `kernel.slice` takes a column range of
    a tensor without copying. After `moela-plan-memory`, every op that
    defines a tensor carries `kernel.buffer_ids` (one buffer per result),
    and the function carries `kernel.buffer_table` with arena offsets
    (KernelDialect.h).
  }];
  let dependentDialects = ["::moela::nn::NNDialect", "::moela::mla::MLADialect",
                           "::moela::moe::MoEDialect"];
  let useDefaultAttributePrinterParser = 1;
}

class Kernel_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kernel_Dialect, mnemonic, traits>;

#endif // MOELA_KERNEL_DIALECT
