"""Nsight Compute stall samples of one top-k kernel, summed per CUDA source line.

`tools/gpu_run.sh topk-prof` saves, per profiled launch, the SASS source page as CSV
(`ncu_<shape>_<algo>.sass.csv`: one row per instruction with its stall samples and executed
count) but no source lines. This maps each instruction to its source line through a cubin of
the same sources built here with -lineinfo (the same flags and nvcc as the GPU host's build give
the same SASS; the script checks the opcodes match one to one):

    nvcc -O3 -std=c++17 -lineinfo -DNDEBUG -gencode=arch=compute_90a,code=sm_90a -cubin \\
        -o /tmp/k.cubin csrc/topk/topk_kernels.cu
    python tools/ncu_lines.py /tmp/k.cubin ncu_256x32768_slices2560.sass.csv \\
        _ZN5glm524topk18topk_slices_kernelILi512ELi4ELb1ELi2EEEvNS0_6ParamsE --top 30

It prints the lines with the most samples (share of samples, executed warp instructions, top
stall reasons) and the overall stall-reason split. nvdisasm comes with the CUDA toolkit (or
Triton's wheel: triton/backends/nvidia/bin).
"""

from __future__ import annotations

import argparse
import collections
import csv
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def nvdisasm() -> str:
    exe = shutil.which("nvdisasm")
    if exe:
        return exe
    try:
        import triton  # noqa: F401  (its wheel ships nvdisasm)
        cand = Path(triton.__file__).parent / "backends/nvidia/bin/nvdisasm"
        if cand.exists():
            return str(cand)
    except ImportError:
        pass
    sys.exit("ncu_lines: nvdisasm not found (install the CUDA toolkit or put it on PATH)")


def sass_lines(cubin: str, kernel: str) -> list[tuple[str, tuple[str, int]]]:
    """(instruction text, (source file name, line)) for each instruction of `kernel`."""
    text = subprocess.run([nvdisasm(), "--print-line-info", cubin], capture_output=True,
                          text=True, check=True).stdout.split("\n")
    try:
        start = text.index(f".text.{kernel}:")
    except ValueError:
        sys.exit(f"ncu_lines: kernel {kernel} not in {cubin}")
    out, loc = [], ("?", 0)
    for line in text[start + 1:]:
        if line.startswith(".text."):
            break
        m = re.search(r'//## File "([^"]+)", line (\d+)', line)
        if m:
            loc = (Path(m.group(1)).name, int(m.group(2)))
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?);", line)
        if m:
            out.append((m.group(2).strip(), loc))
    return out


def opcode(ins: str) -> str:
    ins = re.sub(r"^@!?U?P\w+\s+", "", ins.strip())
    return ins.split()[0] if ins else ""


def source_text(name: str, line: int, cache: dict) -> str:
    if name not in cache:
        hits = list((ROOT / "csrc").rglob(name))
        cache[name] = hits[0].read_text().split("\n") if hits else []
    lines = cache[name]
    return lines[line - 1].strip()[:80] if 0 < line <= len(lines) else ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cubin")
    ap.add_argument("sass_csv")
    ap.add_argument("kernel", help="mangled kernel name, as in the cubin")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    ins = sass_lines(args.cubin, args.kernel)
    rows = list(csv.reader(open(args.sass_csv)))
    hi = next(i for i, r in enumerate(rows) if r and r[0] == "Address")
    hdr = {h: j for j, h in enumerate(rows[hi])}
    data = [r for r in rows[hi + 1:] if r and r[0].startswith("0x")]
    bad = sum(opcode(a) != opcode(r[hdr["Source"]]) for (a, _), r in zip(ins, data))
    if len(ins) != len(data) or bad:
        sys.exit(f"ncu_lines: the cubin's SASS does not match the profile ({len(ins)} vs "
                 f"{len(data)} instructions, {bad} opcodes differ): rebuild with the host's "
                 "nvcc and flags")
    reasons = [h for h in hdr if h.startswith("stall_") and "Not Issued" not in h]
    samples, executed = collections.Counter(), collections.Counter()
    why = collections.defaultdict(collections.Counter)
    overall = collections.Counter()
    for (_, loc), r in zip(ins, data):
        samples[loc] += int(r[hdr["Warp Stall Sampling (All Samples)"]] or 0)
        executed[loc] += int(r[hdr["Instructions Executed"]] or 0)
        for c in reasons:
            v = int(r[hdr[c]] or 0)
            why[loc][c] += v
            overall[c] += v
    total = sum(samples.values()) or 1
    cache: dict = {}
    print(f"{total} samples, {sum(executed.values())} warp instructions executed")
    print("stall reasons: " + ", ".join(f"{c[6:]} {100 * v / max(sum(overall.values()), 1):.1f}%"
                                        for c, v in overall.most_common(6)))
    for loc, s in samples.most_common(args.top):
        top = ", ".join(f"{c[6:]} {v}" for c, v in why[loc].most_common(2) if v)
        print(f"{100 * s / total:5.1f}% exe {executed[loc]:9d}  {loc[0]}:{loc[1]:<4d} "
              f"{source_text(*loc, cache)}  [{top}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
