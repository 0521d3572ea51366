//===- FakeOldNccl.cpp - A libnccl that says it is 2.16.2 -----------------===//
//
// Every entry point of runtime/cuda/NcclFunctions.def, none usable: the NCCL
// loader must refuse it by its version alone (NcclLoaderTest).
//
//===----------------------------------------------------------------------===//
#include <cstddef>

extern "C" {
int ncclGetVersion(int *version) {
  *version = 21602; // NCCL_VERSION(2, 16, 2)
  return 0;
}
const char *ncclGetErrorString(int) { return "fake"; }
int ncclGetUniqueId(void *) { return 3; }
int ncclCommInitRank(void *, int, ...) { return 3; }
int ncclCommDestroy(void *) { return 3; }
int ncclCommAbort(void *) { return 3; }
int ncclCommGetAsyncError(void *, int *) { return 3; }
int ncclAllReduce(const void *, void *, size_t, int, int, void *, void *) {
  return 3;
}
int ncclAllGather(const void *, void *, size_t, int, void *, void *) {
  return 3;
}
}
