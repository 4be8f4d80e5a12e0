"""Every top-k kernel waits for the previous grid before it touches global memory.

The launcher starts the kernels with programmatic dependent launch (PDL, on by default): their
CTAs may run while the previous kernel in the stream (the indexer's logits kernel) is still
finishing, so every read of the logits, row bounds or workspace and every output write must
come after `wait_prior_grids()` (griddepcontrol.wait). A kernel added without it would read
stale logits, intermittently. This reads the kernel sources and checks the order.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[2] / "csrc" / "topk"
# The first global-memory touches a kernel body can make (directly or through the helpers).
GLOBAL_USES = ("row_bounds(", "row_segment<", "p.logits", "p.ends", "p.starts", "p.out",
               "p.workspace", "write_short_row(")


def kernel_bodies() -> dict[str, str]:
    bodies = {}
    for path in sorted(CSRC.glob("*.cuh")):
        text = path.read_text()
        for m in re.finditer(r"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(",
                             text):
            start = text.index("{", m.end())
            depth, i = 0, start
            while True:  # the body: braces balanced from its opening brace
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                if depth == 0:
                    break
                i += 1
            bodies[f"{path.name}:{m.group(1)}"] = text[start:i + 1]
    return bodies


BODIES = kernel_bodies()


def test_finds_every_kernel():
    names = {k.split(":")[1] for k in BODIES}
    assert {"topk_rows_kernel", "topk_radix_kernel", "topk_regs_kernel",
            "topk_slices_kernel"} <= names, names


@pytest.mark.parametrize("name", sorted(BODIES))
def test_waits_before_global_memory(name):
    body = re.sub(r"//[^\n]*", "", BODIES[name])  # comments may name anything
    wait = body.find("wait_prior_grids();")
    assert wait >= 0, f"{name} never calls wait_prior_grids()"
    first = min((body.find(u), u) for u in GLOBAL_USES if u in body)
    assert wait < first[0], (f"{name}: {first[1]!r} comes before wait_prior_grids(); with a PDL "
                             "launch it may read the previous kernel's unfinished output")
