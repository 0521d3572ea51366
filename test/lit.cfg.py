# lit configuration for moela: FileCheck tests of the dialects, passes, codegen and tools.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "moela"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".json"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "data", "gpu", "Inputs", "fuzz"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moela_binary_dir, "test")

config.substitutions.append(("%models", os.path.join(config.moela_source_dir, "models")))
config.substitutions.append(("%testdata", config.moela_test_data))
config.substitutions.append(("%srcroot", config.moela_source_dir))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.moela_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
# No GPU is assumed: tools must behave the same with or without one unless asked.
config.environment["MOELA_NUM_THREADS"] = "2"

# Multi-rank runs (docs/parallel.md): OpenMPI's mpirun, as root too, with more
# ranks than the CI machine's 2 cores; one thread per rank; killed if a run
# hangs, so a fault test fails instead of waiting.
config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
import shutil
if shutil.which("mpirun"):
    config.available_features.add("mpi")
# moela-run built with libedit (line editing in --interactive on a terminal).
import subprocess
_moela_run = os.path.join(config.moela_tools_dir, "moela-run")
if os.path.exists(_moela_run) and "libedit" in subprocess.run(
        ["ldd", _moela_run], capture_output=True, text=True).stdout:
    config.available_features.add("libedit")
config.substitutions.append(
    ("%mpirun", "timeout -s KILL 120 mpirun --oversubscribe -x MOELA_NUM_THREADS=1 -n"))
# The CPU emulation of the CUDA driver (test/emu), for tools run with
# MOELA_CUDA_DRIVER=%emu_driver.
config.substitutions.append(
    ("%emu_driver", os.path.join(config.moela_binary_dir, "lib", "libmoela-cuda-emu.so")))
# The sm_90a plans the emulated driver has the kernels of (test/emu: tiny.plan,
# ...), for moela-run --backend cuda on it; feature cuda-emu where built.
_emu_plans = os.path.join(config.moela_binary_dir, "test", "emu", "plans")
config.substitutions.append(("%emu_plans", _emu_plans))
if os.path.exists(os.path.join(config.moela_binary_dir, "lib", "libmoela-cuda-emu.so")) \
        and os.path.exists(os.path.join(_emu_plans, "tiny.plan")):
    config.available_features.add("cuda-emu")
