//===- NoMpiCommunicator.cpp - makeMpiCommunicator without MPI ------------===//
//
// Compiled instead of MpiCommunicator.cpp when CMake found no MPI (and in
// -DMOELA_RUNTIME_ONLY builds without it): the runtime still links, and a
// multi-rank run says why it cannot start.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

namespace moela {

bool mpiAvailable() { return false; }

std::unique_ptr<Communicator> makeMpiCommunicator() {
  fail("this moela was built without MPI (install libopenmpi-dev and "
       "rebuild) and cannot run a multi-rank plan");
}

} // namespace moela
