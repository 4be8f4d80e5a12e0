"""Build script of vllm-glm52: the pure-Python package plus the optional CUDA top-k extension.

Metadata lives in pyproject.toml; this file only adds ``vllm_glm52._C_glm52`` (csrc/), the
indexer top-k for Hopper (sm_90a, plus sm_100a where nvcc supports it).

Environment:
  VLLM_GLM52_BUILD_EXT   auto (default): build when torch has CUDA and nvcc is found; any
                         failure prints one line and installs the PyTorch fallback only.
                         1: build or fail the install.  0: never build.
  VLLM_GLM52_CUDA_ARCHS  semicolon list of arch codes, default "90a;100a" (100a is dropped
                         when nvcc cannot target it).
  MAX_JOBS, NVCC_THREADS parallel compile jobs (ninja) and nvcc's per-file threads.
Install with ``pip install --no-build-isolation .`` so the build sees the torch vLLM pins.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from setuptools import setup

BUILD_ENV = "VLLM_GLM52_BUILD_EXT"
ARCHS_ENV = "VLLM_GLM52_CUDA_ARCHS"
EXT_NAME = "vllm_glm52._C_glm52"
SOURCES = [
    # schema (no CUDA code; g++)
    "csrc/torch_bindings.cpp",
    # torch launcher: argument checks, stream, launch (host code only)
    "csrc/topk/topk_launcher.cpp",
    # kernels and launch shape (torch-free; the expensive translation unit)
    "csrc/topk/topk_kernels.cu",
]


def _say(msg: str) -> None:
    print(f"vllm-glm52: {msg}", file=sys.stderr, flush=True)


def _mode() -> str:
    raw = os.environ.get(BUILD_ENV, "auto").strip().lower()
    if raw in ("0", "false", "no", "off"):
        return "off"
    if raw in ("1", "true", "yes", "on"):
        return "on"
    return "auto"


def _skip(reason: str, mode: str):
    if mode == "on":
        raise RuntimeError(f"{BUILD_ENV}=1 but the CUDA top-k extension cannot be built: {reason}")
    _say(f"CUDA top-k extension not built ({reason}); the PyTorch fallback will be used.")
    return [], {}


def _nvcc_archs(nvcc: str) -> set[str]:
    try:
        out = subprocess.run([nvcc, "--list-gpu-arch"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {"90"}  # nvcc predating --list-gpu-arch: assume Hopper only
    return {tok.split("_", 1)[1] for tok in out.split() if tok.startswith("compute_")}


def _find_cudart_dir(nvcc: str, cuda_home: str | None) -> str | None:
    roots = [cuda_home, os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"),
             "/usr/local/cuda", os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))]
    for root in filter(None, roots):
        for sub in ("lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"):
            d = os.path.join(root, sub)
            if os.path.exists(os.path.join(d, "libcudart.so")):
                return d
    return None


def _nvcc_include_dirs(nvcc: str) -> list[str]:
    """The toolkit include dirs nvcc itself uses (follows wrapper scripts such as a
    /usr/local/bin/nvcc that execs /usr/local/cuda-13.0/bin/nvcc, where torch's CUDA_HOME guess
    is /usr/local). The host-compiled launcher includes c10/cuda headers -> cuda_runtime.h."""
    try:
        out = subprocess.run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull],
                             capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.SubprocessError):
        return []
    dirs = []
    for d in re.findall(r'-I"?([^"\s]+)', out):
        d = os.path.normpath(d)
        if d not in dirs and os.path.exists(os.path.join(d, "cuda_runtime.h")):
            dirs.append(d)
    return dirs


def _extension():
    mode = _mode()
    if mode == "off":
        return _skip(f"{BUILD_ENV}=0", mode)
    try:
        import torch
        from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CUDAExtension
    except Exception as exc:  # torch absent or broken: the package still installs
        return _skip(f"torch not importable: {type(exc).__name__}", mode)
    if torch.version.cuda is None:
        return _skip(f"torch {torch.__version__} has no CUDA", mode)
    nvcc = os.path.join(CUDA_HOME, "bin", "nvcc") if CUDA_HOME else None
    if not nvcc or not os.path.exists(nvcc):
        nvcc = shutil.which("nvcc")
    if not nvcc:
        return _skip("nvcc not found (set CUDA_HOME)", mode)

    supported = _nvcc_archs(nvcc)
    wanted = [a.strip() for a in os.environ.get(ARCHS_ENV, "90a;100a").split(";") if a.strip()]
    archs = [a for a in wanted if a.rstrip("af") in supported]
    if "90a" not in archs:
        return _skip(f"need sm_90a; {ARCHS_ENV}={';'.join(wanted)}, nvcc targets "
                     f"{sorted(supported)}", mode)
    gencode = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
    defines = ["-DGLM52_WITH_SM100"] if "100a" in archs else []
    nvcc_flags = [
        "-O3", "-std=c++17", "-lineinfo", "-DNDEBUG",
        # ptxas prints a warning for any spill (the hot loop must have none)
        "-Xptxas=--warn-on-spills",
        f"--threads={os.environ.get('NVCC_THREADS', '2')}",
        *gencode, *defines,
    ]
    ext = CUDAExtension(
        name=EXT_NAME,
        sources=SOURCES,
        extra_compile_args={"cxx": ["-O3", "-std=c++17", *defines], "nvcc": nvcc_flags},
    )
    # torch guesses CUDA_HOME from `which nvcc` and may miss the toolkit's lib dir (pip-style
    # toolkits keep libcudart.so in <root>/lib). Link the runtime from where it is; if no
    # unversioned libcudart.so exists, do not link it: libc10_cuda.so, which the extension
    # links, already depends on torch's libcudart.so.13 and provides the symbols at load time.
    ext.include_dirs.extend(d for d in _nvcc_include_dirs(nvcc) if d not in ext.include_dirs)
    cudart_dir = _find_cudart_dir(nvcc, CUDA_HOME)
    if cudart_dir:
        ext.library_dirs.append(cudart_dir)
    else:
        ext.libraries = [lib for lib in ext.libraries if lib != "cudart"]

    class BuildExt(BuildExtension):
        """torch's BuildExtension that, in auto mode, turns a failed build into a warning."""

        def build_extensions(self):
            try:
                super().build_extensions()
            except Exception as exc:  # compiler or toolchain failure
                if mode == "on":
                    raise
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                _say(f"CUDA top-k extension failed to build ({type(exc).__name__}: {first[:200]}); "
                     "the PyTorch fallback will be used.")
                # Later steps (in-place copy, editable/wheel output mapping) must not look for
                # the library that was not built.
                self.extensions = []
                self.distribution.ext_modules = []

    _say(f"building the CUDA top-k extension for {', '.join('sm_' + a for a in archs)} "
         f"with {nvcc}")
    return [ext], {"build_ext": BuildExt.with_options(use_ninja=shutil.which("ninja") is not None)}


ext_modules, cmdclass = _extension()
setup(ext_modules=ext_modules, cmdclass=cmdclass)
