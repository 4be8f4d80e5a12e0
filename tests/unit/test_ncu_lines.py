"""tools/ncu_lines.py: the SASS parsing that maps Nsight Compute's instruction rows to lines."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ncu_lines", ROOT / "tools" / "ncu_lines.py")
ncu_lines = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ncu_lines)

DISASM = """\t.section\t.text._Z1kv,"ax",@progbits
.text._Z1kv:
        //## File "/x/csrc/topk/topk_regs.cuh", line 12
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/              @!P0 BRA `(.L_x_1) ;
        //## File "/x/csrc/topk/topk_kernel.cuh", line 87 inlined at "/x/a.cuh", line 3
        /*0020*/              @P1 LOP3.LUT R2, R3, 0x80000000, RZ, 0x3c, !PT ;
.text._Z2kv:
        /*0000*/                   EXIT ;
"""


def test_opcode_drops_predicates():
    assert ncu_lines.opcode("@!P0 BRA `(.L_x_1)") == "BRA"
    assert ncu_lines.opcode("@UP2 LDS.U R1, [R2]") == "LDS.U"
    assert ncu_lines.opcode("  IADD3 R1, R2, R3, RZ") == "IADD3"


def test_sass_lines_takes_one_kernel_with_its_lines(monkeypatch):
    monkeypatch.setattr(ncu_lines, "nvdisasm", lambda: "nvdisasm")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout=DISASM, stderr=""))
    got = ncu_lines.sass_lines("k.cubin", "_Z1kv")
    assert [ncu_lines.opcode(t) for t, _ in got] == ["LDC", "BRA", "LOP3.LUT"]
    assert [loc for _, loc in got] == [("topk_regs.cuh", 12), ("topk_regs.cuh", 12),
                                       ("topk_kernel.cuh", 87)]
