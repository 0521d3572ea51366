//===- Launcher.cpp - Whether an MPI launcher started this process --------===//
//
// Decided from the environment alone (no MPI call), so that a binary built
// without MPI can still say "this plan needs mpirun" or "this moela was built
// without MPI" when it is started by one.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"

#include <cstdlib>

namespace moela {

bool launchedByMpi() {
  // OpenMPI's mpirun, then PMI/PMIx launchers (MPICH's hydra, Slurm's srun).
  for (const char *name :
       {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"})
    if (const char *value = std::getenv(name); value && *value)
      return true;
  return false;
}

std::unique_ptr<Communicator> makeLaunchedCommunicator() {
  return launchedByMpi() ? makeMpiCommunicator()
                         : makeSingleProcessCommunicator();
}

} // namespace moela
