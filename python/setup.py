"""Build of the mef3pool Python package.

The C library is not duplicated here: the extension mef3pool._core links
the static library libmef3pool.a, which this script builds with the
project's own CMake (from the repository around this folder, in a folder
under build/), together with the worker program mef3pool-worker that the
reader pool spawns; the worker is copied into the package, so a plain
`pip install ./python --no-build-isolation` gives a working pool with no
other file on the system.  Needs cmake, a C compiler, libssl-dev and the
gRPC/protobuf-c development packages of scripts/deps.sh (the project's
CMake configuration looks for them), and Python's headers (python3-dev).

MEF3POOL_CMAKE_BUILD=DIR uses an existing CMake build folder instead
(the tests use the one CMake made).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# Static libraries the extension links, in link order, and targets to build.
LIBS = ["libmef3pool-rpc.a", "libmef3pool.a"]
TARGETS = ["mef3pool_static", "mef3pool_rpc_static", "mef3pool_worker"]
SYSLIBS = ["grpc", "protobuf-c", "crypto", "pthread", "m"]


class BuildWithCMake(build_ext):
    def run(self):
        given = os.environ.get("MEF3POOL_CMAKE_BUILD")
        cdir = Path(given) if given else Path(self.build_temp).resolve() / "cmake"
        if not given:
            subprocess.check_call(
                ["cmake", "-S", str(ROOT), "-B", str(cdir),
                 "-DCMAKE_BUILD_TYPE=Release", "-DMEF3_BUILD_TESTS=OFF",
                 "-DMEF3_BUILD_PYTHON=OFF"])
            jobs = os.environ.get("MEF3POOL_JOBS", "2")
            subprocess.check_call(["cmake", "--build", str(cdir), "-j", jobs,
                                   "--target", *TARGETS])
        for ext in self.extensions:
            ext.extra_objects = [str(cdir / lib) for lib in LIBS]
        super().run()
        # The worker program, inside the package next to _core.
        dests = [Path(self.build_lib) / "mef3pool"]
        if self.inplace:
            dests = [HERE / "mef3pool"]
        for d in dests:
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy2(cdir / "mef3pool-worker", d / "mef3pool-worker")
            os.chmod(d / "mef3pool-worker", 0o755)


core = Extension(
    "mef3pool._core",
    sources=sorted(str(p.relative_to(HERE)) for p in (HERE / "src").glob("*.c")),
    include_dirs=[str(ROOT / "include")],
    libraries=SYSLIBS,
    extra_compile_args=["-std=c17", "-D_GNU_SOURCE", "-Wall", "-Wextra",
                        "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
)

setup(ext_modules=[core], cmdclass={"build_ext": BuildWithCMake})
