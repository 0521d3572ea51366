//===- Nccl.h - NCCL, loaded with dlopen ----------------------------------===//
//
// Multi-device plans run their AllReduce / AllGather steps through NCCL. Like
// the driver, libnccl.so.2 is opened at run time (MOELA_NCCL_LIBRARY=PATH
// opens that library instead: the tests run an emulated NCCL, test/emu), so
// binaries without NCCL start and run single-device plans. The few types of
// nccl.h moela needs are declared here with NCCL's values, so the build never
// depends on NCCL's headers.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CUDA_NCCL_H
#define MOELA_RUNTIME_CUDA_NCCL_H

#include <cuda.h>

#include <cstddef>
#include <string>

extern "C" {
typedef struct ncclComm *ncclComm_t;
#define MOELA_NCCL_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[MOELA_NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;
typedef enum {
#define MOELA_NCCL_RESULT(name, value, text) name = value,
#include "NcclResults.def"
} ncclResult_t;
typedef enum { ncclFloat32 = 7, ncclBfloat16 = 9 } ncclDataType_t;
typedef enum { ncclSum = 0 } ncclRedOp_t;
}

namespace moela::cuda {

/// NCCL_VERSION(2, 18, 0): the oldest NCCL moela accepts (CUDA graph capture
/// of collectives and ncclCommAbort without hangs are older; 2.18 is what
/// CUDA 12.2+ ships and what the tests ran).
constexpr int kMinNcclVersion = 21800;

struct Nccl {
#define MOELA_NCCL_FN(name, ret, params) ret(*name) params = nullptr;
#include "NcclFunctions.def"
#undef MOELA_NCCL_FN
  int version = 0;  // NCCL_VERSION_CODE, e.g. 22809 for 2.28.9
  std::string path; // the library opened

  /// The process-wide NCCL: libnccl.so.2, or MOELA_NCCL_LIBRARY. Throws
  /// Error with one line naming the library when it is missing, lacks an
  /// entry point or is older than 2.18.
  static const Nccl &get();
  /// Opens `library` (a path or a soname) with the same checks; the library
  /// stays loaded.
  static Nccl open(const std::string &library);
};

/// "ncclRemoteError" for ncclRemoteError.
const char *ncclResultName(ncclResult_t result);

/// "2.28.9" for 22809.
std::string ncclVersionString(int code);

/// Throws Error "NCCL: <what>: <ncclResult name> (<ncclGetErrorString>)"
/// unless ok.
void check(ncclResult_t result, const std::string &what);

} // namespace moela::cuda

#endif // MOELA_RUNTIME_CUDA_NCCL_H
