"""GPU tests of the CUDA indexer top-k (torch.ops._C_glm52) against the exact fallback.

Run on the GPU host:  python -m pytest -q tests/gpu/test_topk_cuda.py
Every case draws fresh random inputs (the seed is in the failure message) and poisons the
output buffer first. The selected set is unique (ties go to the lower column), so the kernel
must equal the PyTorch fallback exactly; it is also checked against torch.topk by values.
"""

from __future__ import annotations

import random

import pytest
import torch

from vllm_glm52.ops import topk as T

pytestmark = pytest.mark.gpu

if not torch.cuda.is_available():
    pytest.skip("needs a CUDA GPU", allow_module_level=True)
if not T.EXTENSION_LOADED:
    pytest.skip(f"CUDA extension not built: {T.EXTENSION_REASON}", allow_module_level=True)
if not T.uses_cuda_kernel(torch.empty(1, device="cuda")):
    pytest.skip(f"extension has no code for {torch.cuda.get_device_name()} "
                f"(built for {torch.ops._C_glm52.built_archs()})", allow_module_level=True)

DEV = "cuda"
POISON = -123456
WS = T.topk_workspace(DEV)  # the grid kernel's scratch, as the indexer passes it


def _gen() -> tuple[torch.Generator, int]:
    seed = random.SystemRandom().randrange(2**31)
    return torch.Generator(device=DEV).manual_seed(seed), seed


def _logits(rows: int, n: int, kind: str, g: torch.Generator) -> torch.Tensor:
    x = torch.randn(rows, n, generator=g, device=DEV)
    if kind == "ties":  # 8 levels: the k-th value is shared by thousands of columns
        x = torch.round(x * 2) / 2
    elif kind == "ties10":  # low 10 mantissa bits cleared: dense near-ties
        x = (x.view(torch.int32) & ~0x3FF).view(torch.float32)
    elif kind == "neginf":
        x = x.masked_fill(torch.rand(rows, n, generator=g, device=DEV) < 0.9, float("-inf"))
    elif kind == "equal":
        x = torch.full_like(x, 1.5)
    elif kind == "ascending":  # every element beats the running threshold
        x = torch.sort(x, dim=1).values
    elif kind == "descending":
        x = torch.sort(x, dim=1, descending=True).values
    elif kind == "recent":  # indexer-like: a recency ramp plus noise
        x = x + torch.linspace(0, 4, n, device=DEV)[None, :]
    elif kind == "tiny":  # the regs kernel's clamped end digits (|x| < 2^-15, > 2^16)
        x = x * 1e-6
    elif kind == "huge":
        x = x * 1e7
    elif kind == "edges":  # both sides of 2^-15 and 2^16, both signs
        sign = torch.where(torch.rand(rows, n, generator=g, device=DEV) < 0.5, -1.0, 1.0)
        mag = torch.where(torch.rand(rows, n, generator=g, device=DEV) < 0.5, 2.0**-15, 2.0**16)
        x = sign * mag * (1 + 1e-3 * torch.rand(rows, n, generator=g, device=DEV).sub(0.5))
    elif kind == "kthtie":  # the 2000th largest value of a row repeated ~n/400 times: a tie
        # quota that runs out inside a CTA on the slices kernel's gather path
        kth = torch.sort(x, dim=1, descending=True).values[:, min(1999, n - 1)]
        hit = torch.rand(rows, n, generator=g, device=DEV) < 1 / 400
        x = torch.where(hit, kth[:, None], x)
    elif kind == "narrow":  # uniform in [2, 2.5): one pass-0 bin holds every key
        x = 2 + 0.5 * torch.rand(rows, n, generator=g, device=DEV)
    elif kind == "negnan":  # 1% ordinary values in NaNs 0xffffffff (key 0, the regs kernel's
        # value for its invalid keys): the k-th key is 0
        nan = torch.full((rows, n), -1, dtype=torch.int32, device=DEV).view(torch.float32)
        x = torch.where(torch.rand(rows, n, generator=g, device=DEV) < 0.01, x, nan)
    return x.contiguous()


def _check(logits, starts, ends, got, k, seed, what, ws=WS, prefill=False, max_len=0):
    """Exact equality with the fallback as sets; values equal to torch.topk's; rows sorted
    (ascending, -1 last) when the launcher picked a kernel that sorts (radix, regs, grid,
    slices).
    ws / prefill / max_len: the workspace the call got, whether it was a prefill call and its
    row-length bound (the plan depends on all three)."""
    ws_bytes = 0 if ws is None else ws.numel()
    algo, c, res, nsl = torch.ops._C_glm52.topk_plan(*logits.shape, ws_bytes,
                                                     T.rows_aligned(logits, prefill), max_len)
    what = f"{what} [{ALGO_NAMES[algo]} C={c} res={res} S={nsl}]"
    assert T.writes_sorted(logits, ws, prefill, max_len) == (algo in T.SORTED_ALGOS)
    if algo in T.SORTED_ALGOS:
        big = torch.iinfo(torch.int32).max
        want = torch.where(got < 0, big, got).sort(dim=1).values
        want = want.masked_fill(want == big, -1)
        bad = (want != got).any(dim=1).nonzero().flatten().tolist()
        assert not bad, f"{what} seed={seed}: rows {bad[:8]} not sorted: {got[bad[0], :12].tolist()}"
    ref = torch.empty_like(got)
    T.topk_rows_torch(logits, starts, ends, ref, k)
    got_s, ref_s = torch.sort(got, dim=1).values, torch.sort(ref, dim=1).values
    bad = (got_s != ref_s).any(dim=1).nonzero().flatten().tolist()
    assert not bad, (f"{what} seed={seed}: rows {bad[:8]} differ; row {bad[0]}: len="
                     f"{int(ends[bad[0]] - starts[bad[0]])} got {got_s[bad[0], :12].tolist()} "
                     f"ref {ref_s[bad[0], :12].tolist()}")
    assert (got != POISON).all(), f"{what} seed={seed}: unwritten output slots"
    # independent check of the values against torch.topk on a few long rows (not rows with
    # NaNs: torch.topk ranks every NaN first, the contract ranks a NaN by its key)
    length = (ends - starts).clamp(min=0)
    for r in (length > k).nonzero().flatten()[:4].tolist():
        s, e = int(starts[r]), int(ends[r])
        vis = logits[r, s:e]
        if torch.isnan(vis).any():
            continue
        want = torch.sort(torch.topk(vis, k).values).values
        have = torch.sort(vis[got[r].long()]).values
        assert torch.equal(want, have), f"{what} seed={seed}: row {r} values differ"


ALGO_NAMES = ["stream", "radix", "regs", "grid", "slices", "cluster"]
REGS_MAX_COLS = 20480  # the regs kernel's widest rows (1024 threads x 5 float4)
REGS_VECS = {512: (2, 3, 4, 5), 1024: (1, 2, 3, 5)}  # its float4 per thread at each CTA size


@pytest.fixture(params=[(1,), (0,), (2,), (3,), (4,), (4, 0, 0, 0, 0), (4, 0, 256), (5,),
                        (-1, 0, 0, 0, 1, 0)],
                ids=["radix", "stream", "regs", "grid", "slices", "slices-exact", "slices256",
                     "cluster", "auto-no-pdl"])
def algo(request):
    """Runs the test with each kernel forced (the launcher's choice is size-dependent; the
    slices kernel runs one CTA per row where several do not fit, slices256 always;
    slices-exact: without the sampled bound; auto-no-pdl: the launcher's choice, launched
    without programmatic dependent launch, which the others use). The regs kernel's kOptScan
    (the automatic choice where a launch keeps one CTA per SM, so "regs" runs it on the
    shorter launches here) has its own tests, on and off (test_regs_opts*)."""
    torch.ops._C_glm52.topk_force(*request.param)
    T.clear_plan_cache()
    yield request.param[0]
    torch.ops._C_glm52.topk_force(-1)
    T.clear_plan_cache()


def _regs_fits(algo: int, n: int) -> None:
    """A forced regs kernel runs the radix kernel on rows wider than it holds: the radix case
    covers those already."""
    if algo == 2 and n > REGS_MAX_COLS:
        pytest.skip(f"regs kernel holds rows up to {REGS_MAX_COLS} columns (radix runs)")


def _grid_fits(algo: int, rows: int, n: int, aligned: bool = False) -> None:
    """A forced grid, slices or cluster kernel runs the automatic plan where it does not fit
    (too many CTAs for one resident wave, more rows than the workspace holds, a row of one CTA
    or of more than a cluster's 8)."""
    if algo in (3, 4, 5) and int(torch.ops._C_glm52.topk_plan(rows, n, WS.numel(),
                                                           aligned)[0]) != algo:
        pytest.skip(f"{ALGO_NAMES[algo]} kernel does not fit {rows}x{n} on this device "
                    "(automatic plan runs)")


KINDS = ["randn", "ties", "ties10", "neginf", "equal", "ascending", "descending", "recent"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("rows, n", [(1, 131072), (4, 300000), (8, 65536), (64, 32768),
                                     (300, 9000), (16, 1000000), (64, 4096), (33, 20000)])
def test_decode_rows(kind, rows, n, algo):
    _regs_fits(algo, n)
    _grid_fits(algo, rows, n, aligned=True)
    g, seed = _gen()
    k = 2048
    logits = _logits(rows, n, kind, g)
    lens = torch.randint(n // 2, n + 1, (rows,), generator=g, device=DEV, dtype=torch.int32)
    lens[0] = n
    out = torch.full((rows, k), POISON, dtype=torch.int32, device=DEV)
    T.topk_decode(logits, lens, out, k, workspace=WS)
    zeros = torch.zeros_like(lens)
    _check(logits, zeros, lens, out, k, seed,
           f"decode {rows}x{n} {kind}")


@pytest.mark.parametrize("k", [512, 1024, 2048])
@pytest.mark.parametrize("kind", ["randn", "ties", "recent"])
def test_decode_edge_lengths(k, kind, algo):
    """Lengths 0, 1, k-1, k, k+1, around tile/segment boundaries, full stride; odd stride."""
    g, seed = _gen()
    # odd: rows are not 16-byte aligned, exercises head/tail scalars
    stride = 20001 if algo == 2 else 70001
    lens = [0, 1, k - 1, k, k + 1, 3071, 3072, 3073, 3 * 3072 + 1, 6145, min(40000, stride - 2),
            stride]
    rows = len(lens)
    logits = _logits(rows, stride, kind, g)
    lens_t = torch.tensor(lens, dtype=torch.int32, device=DEV)
    out = torch.full((rows, k), POISON, dtype=torch.int32, device=DEV)
    T.topk_decode(logits, lens_t, out, k, workspace=WS)
    _check(logits, torch.zeros_like(lens_t), lens_t, out, k, seed, f"edge k={k} {kind}")
    # a single long odd row takes the cluster (or grid) path
    one = torch.full((1, k), POISON, dtype=torch.int32, device=DEV)
    T.topk_decode(logits[-1:], lens_t[-1:], one, k, workspace=WS)
    _check(logits[-1:], torch.zeros_like(lens_t[-1:]), lens_t[-1:], one, k, seed,
           f"edge single row k={k} {kind}")


@pytest.mark.parametrize("next_n", [2, 4])
def test_decode_mtp(next_n, algo):
    """vLLM's next_n forms: 1-D [B] lengths (len = L - next_n + j + 1) and 2-D [B, next_n]."""
    g, seed = _gen()
    B, stride, k = 6, 20000 if algo == 2 else 100000, 2048
    rows = B * next_n
    logits = _logits(rows, stride, "ties10", g)
    L = torch.tensor([next_n, 2049, 2048 + next_n, stride // 2, stride - 1, stride],
                     dtype=torch.int32, device=DEV)
    per_row = (L[:, None] - next_n + torch.arange(next_n, device=DEV)[None, :] + 1).int()
    out1 = torch.full((rows, k), POISON, dtype=torch.int32, device=DEV)
    out2 = out1.clone()
    # vLLM's drop-ins (they pass topk_workspace, i.e. WS)
    T.top_k_per_row_decode(logits, next_n, L, out1, rows, logits.stride(0), 1, k)
    T.top_k_per_row_decode(logits, next_n, per_row.contiguous(), out2, rows,
                           logits.stride(0), 1, k)
    zeros = torch.zeros(rows, dtype=torch.int32, device=DEV)
    _check(logits, zeros, per_row.reshape(-1), out1, k, seed, f"mtp 1-D next_n={next_n}")
    _check(logits, zeros, per_row.reshape(-1), out2, k, seed, f"mtp 2-D next_n={next_n}")


@pytest.mark.parametrize("kind", ["randn", "ties", "neginf", "recent"])
@pytest.mark.parametrize("rows, n", [(2048, 8192), (512, 65536), (7, 200000)])
def test_prefill_causal(kind, rows, n, algo):
    """A chunk of the last `rows` queries of several requests packed in [rows, n] logits:
    row r sees [ks, ke) with ks the request's key offset and ke = ks + ctx + r_local + 1."""
    _regs_fits(algo, n)
    _grid_fits(algo, rows, n)
    g, seed = _gen()
    k = 2048
    logits = _logits(rows, n, kind, g)
    # two requests: keys [0, n/3) and [n/3, n); queries split between them
    split, mid = rows // 2, n // 3
    ks = torch.zeros(rows, dtype=torch.int32, device=DEV)
    ks[split:] = mid
    r = torch.arange(rows, device=DEV, dtype=torch.int32)
    ke = torch.where(r < split, mid - split + r + 1, n - (rows - split) + (r - split) + 1)
    ke = torch.maximum(ke, ks).int()
    out = torch.full((rows, k), POISON, dtype=torch.int32, device=DEV)
    T.top_k_per_row_prefill(logits, ks, ke, out, rows, logits.stride(0), 1, k)  # passes WS
    _check(logits, ks, ke, out, k, seed, f"prefill {rows}x{n} {kind}", prefill=True)


def _packed(req: int, plen: int, shift: int = 0):
    """A prefill chunk of `req` whole prompts of `plen` tokens whose keys start `shift`
    columns into the logits (unaligned rows for shift % 4 != 0): row r of prompt i = r // plen
    sees [shift + i plen, shift + i plen + r % plen + 1)."""
    r = torch.arange(req * plen, device=DEV, dtype=torch.int32)
    starts = shift + r // plen * plen
    return starts.int(), (starts + r % plen + 1).int()


@pytest.mark.parametrize("kind", ["randn", "ties", "recent"])
@pytest.mark.parametrize("req, plen, shift", [(4, 4096, 0), (3, 5000, 1), (2, 8192, 3),
                                              (12, 2048, 2), (1, 20480, 1)])
def test_prefill_packed_max_len(kind, req, plen, shift):
    """A chunk of several prompts: with max_len = the longest prompt (or a looser bound) the
    launch is planned for rows that long (the regs kernel at that width, not at the logits'
    width) and every row equals the fallback, as without the bound."""
    g, seed = _gen()
    n = req * plen + shift
    logits = _logits(req * plen, n, kind, g)
    starts, ends = _packed(req, plen, shift)
    threads, vecs = next((t, v) for t in (512, 1024) for v in REGS_VECS[t] if plen <= 4 * t * v)
    for bound in (plen, plen + 37, 0):
        plan = [int(x) for x in torch.ops._C_glm52.topk_plan(*logits.shape, WS.numel(), False,
                                                             bound)]
        if bound == plen:
            assert plan == [2, 1, threads, vecs], (bound, plan)
        elif bound:
            assert plan[0] == 2 or bound > REGS_MAX_COLS, (bound, plan)
        got = torch.full((req * plen, 2048), POISON, dtype=torch.int32, device=DEV)
        T.topk_prefill(logits, starts, ends, got, 2048, WS, max_len=bound)
        _check(logits, starts, ends, got, 2048, seed, f"packed {req}x{plen}+{shift} {kind} "
               f"max_len={bound}", prefill=True, max_len=bound)


def test_prefill_max_len_plans_only_the_regs_kernel():
    """A bound whose rows the regs kernel cannot hold plans by the logits' width, as does 0."""
    for rows, n, bound in [(64, 65536, 30000), (8, 300000, 20481), (2048, 65536, 65536)]:
        assert list(torch.ops._C_glm52.topk_plan(rows, n, WS.numel(), False, bound)) == \
            list(torch.ops._C_glm52.topk_plan(rows, n, WS.numel(), False)), (rows, n, bound)
    assert [int(x) for x in torch.ops._C_glm52.topk_plan(100, 65536, 0, False, 3000)] == \
        [2, 1, 512, 2]


def test_strided_logits_and_output_view(algo):
    g, seed = _gen()
    width = 20001 if algo == 2 else 50001  # odd
    big = _logits(16, width, "randn", g)
    logits = big[:, 3:width - 998]  # misaligned rows, stride(0) = width
    buf = torch.full((20, 2048), POISON, dtype=torch.int32, device=DEV)
    out = buf[2:18]
    lens = torch.randint(1, logits.shape[1] + 1, (16,), generator=g, device=DEV,
                         dtype=torch.int32)
    T.topk_decode(logits, lens, out, 2048, workspace=WS)
    _check(logits, torch.zeros_like(lens), lens, out, 2048, seed, "strided")
    assert (buf[:2] == POISON).all() and (buf[18:] == POISON).all(), "wrote outside the view"


@pytest.mark.parametrize("rows, n", [(1, 262144), (32, 65536), (256, 8192)])
def test_cuda_graph_replay(rows, n, algo):
    """Capture once, replay on fresh inputs copied into the captured buffers; dirty outputs."""
    _regs_fits(algo, n)
    _grid_fits(algo, rows, n, aligned=True)
    g, seed = _gen()
    k = 2048
    logits = torch.empty(rows, n, device=DEV)
    lens = torch.empty(rows, dtype=torch.int32, device=DEV)
    out = torch.empty(rows, k, dtype=torch.int32, device=DEV)
    logits.copy_(_logits(rows, n, "randn", g))
    lens.fill_(n)
    T.topk_decode(logits, lens, out, k, workspace=WS)  # eager warm-up (per-device set-up)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        T.topk_decode(logits, lens, out, k, workspace=WS)
    for it, kind in enumerate(["randn", "ties", "recent", "neginf"]):
        logits.copy_(_logits(rows, n, kind, g))
        lens.copy_(torch.randint(1, n + 1, (rows,), generator=g, device=DEV, dtype=torch.int32))
        out.fill_(POISON)
        graph.replay()
        torch.cuda.synchronize()
        _check(logits, torch.zeros_like(lens), lens, out, k, seed, f"graph replay {it} {kind}")
    assert int(torch.count_nonzero(WS)) == 0, "workspace not left zero-filled"


@pytest.mark.parametrize("rows, n", [(8, 4096), (256, 4096), (64, 32768), (256, 32768),
                                     (8, 131072)])
@pytest.mark.parametrize("pdl", [1, 0])
def test_pdl_chain(rows, n, pdl):
    """Producer -> top-k -> consumer kernels back to back in one captured graph, the top-k
    launched with / without programmatic dependent launch: each top-k must see the logits and
    lengths its producer copied just before it and leave its row for the consumer's copy."""
    g, seed = _gen()
    k, steps = 2048, 4
    srcs = [_logits(rows, n, kind, g) for kind in ("randn", "ties", "recent", "neginf")]
    lsrc = [torch.randint(1, n + 1, (rows,), generator=g, device=DEV, dtype=torch.int32)
            for _ in range(steps)]
    logits = torch.empty(rows, n, device=DEV)
    lens = torch.full((rows,), n, dtype=torch.int32, device=DEV)
    out = torch.empty(rows, k, dtype=torch.int32, device=DEV)
    outs = [torch.full_like(out, POISON) for _ in range(steps)]
    torch.ops._C_glm52.topk_force(-1, 0, 0, 0, 1, pdl)
    try:
        logits.copy_(srcs[0])
        T.topk_decode(logits, lens, out, k, workspace=WS)  # eager warm-up (per-device set-up)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for i in range(steps):
                logits.copy_(srcs[i])
                lens.copy_(lsrc[i])
                out.fill_(POISON)
                T.topk_decode(logits, lens, out, k, workspace=WS)
                outs[i].copy_(out)
        for rep in range(2):
            for o in outs:
                o.fill_(POISON)
            graph.replay()
            torch.cuda.synchronize()
            for i in range(steps):
                _check(srcs[i], torch.zeros_like(lsrc[i]), lsrc[i], outs[i], k, seed,
                       f"pdl={pdl} replay {rep} step {i}")
    finally:
        torch.ops._C_glm52.topk_force(-1)
    assert int(torch.count_nonzero(WS)) == 0, "workspace not left zero-filled"


def test_writes_sorted_follows_the_plan():
    """The indexer skips its row sort exactly when the radix, regs or grid kernel runs (they
    write sorted); short rows plan the regs kernel, and forcing it on wider rows runs radix;
    few long rows with the workspace plan the grid kernel."""
    g, seed = _gen()
    for rows, n in [(1, 4096), (64, 131072), (256, 1 << 20)]:
        logits = _logits(rows, n, "randn", g)
        for force in (-1, 0, 1, 2):
            torch.ops._C_glm52.topk_force(force)
            T.clear_plan_cache()
            try:
                algo = int(torch.ops._C_glm52.topk_plan(rows, n)[0])
                assert T.writes_sorted(logits) == (algo in T.SORTED_ALGOS), (rows, n, force)
                algo_ws = int(torch.ops._C_glm52.topk_plan(rows, n, WS.numel())[0])
                assert T.writes_sorted(logits, WS) == (algo_ws in (1, 2, 3, 4, 5)), (rows, n, force)
                if force in (0, 1):
                    assert algo == force
                if force == 2:
                    assert algo == (2 if n <= REGS_MAX_COLS else 1), (rows, n, force)
            finally:
                torch.ops._C_glm52.topk_force(-1)
                T.clear_plan_cache()
    # automatic: the regs kernel for short rows at any row count
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    for rows, n, want in [(1, 4096, 2), (4 * sms + 1, 8192, 2), (8192, REGS_MAX_COLS, 2),
                          (8, REGS_MAX_COLS + 1, 5), (8, 8 * 16384 + 1, 1), (8192, 65536, 4)]:
        assert int(torch.ops._C_glm52.topk_plan(rows, n)[0]) == want, (rows, n)
    assert int(torch.ops._C_glm52.topk_plan(1, 1 << 20, WS.numel())[0]) == 3


@pytest.mark.parametrize("threads", [512, 1024])
@pytest.mark.parametrize("kind", ["randn", "ties", "equal", "descending", "tiny", "huge",
                                  "edges", "neginf", "negnan"])
def test_regs_kernel_sizes(threads, kind):
    """The regs kernel at each CTA size on rows at and just below each of its capacities (4 x
    threads x float4 per thread), aligned and misaligned (a full-width row that starts inside
    its first vector reaches the tail), with lengths that end inside a vector; wider rows run
    the radix kernel."""
    g, seed = _gen()
    k = 2048
    caps = [4 * threads * v for v in REGS_VECS[threads]]
    for n in sorted({2051, *caps, *(c - 1 for c in caps), caps[-1] + 1}):
        if n < k + 3:  # a capacity below k: its rows are written whole before the kernel body
            continue
        for shift in (0, 1, 3):
            big = _logits(3, n + shift, kind, g)
            logits = big[:, shift:]
            torch.ops._C_glm52.topk_force(2, 0, threads)
            try:
                algo, _, planned, vecs = torch.ops._C_glm52.topk_plan(3, n)
            finally:
                torch.ops._C_glm52.topk_force(-1)
            if n <= caps[-1]:
                want = min(v for v, c in zip(REGS_VECS[threads], caps) if c >= n)
                assert (algo, planned, vecs) == (2, threads, want), n
            else:
                assert algo == 1, n
            # decode rows, then prefill rows starting inside a vector (loaded after the bounds)
            _forced_rows((2, 0, threads), logits, [n, max(k + 1, n - 5), min(n, k + 2)], k,
                         seed, f"regs threads={threads} n={n} shift={shift} {kind}", ws=None)


@pytest.mark.parametrize("kind", ["randn", "ties", "ascending", "recent"])
def test_regs_forced_width(kind):
    """Every regs configuration (CTA size x float4 per thread, forced) on the same rows:
    decode rows misaligned by 0 or 2 columns and prefill rows starting at columns 0-3, up to
    the narrowest configuration's width, so the wider ones hold the row in fewer threads."""
    g, seed = _gen()
    k = 2048
    for threads, vecs in [(t, v) for t, vs in REGS_VECS.items() for v in vs]:
        n = 4 * threads * min(REGS_VECS[threads])
        for shift in (0, 2):
            logits = _logits(4, n + shift, kind, g)[:, shift:]
            torch.ops._C_glm52.topk_force(2, 0, threads, vecs)
            try:
                assert list(torch.ops._C_glm52.topk_plan(4, n)) == [2, 1, threads, vecs]
            finally:
                torch.ops._C_glm52.topk_force(-1)
            _forced_rows((2, 0, threads, vecs), logits, [n, n - 1, k + 1, n - 7], k, seed,
                         f"regs T={threads} V={vecs} shift={shift} {kind}", ws=None)


def _small_bin_logits(rows: int, n: int, k: int, g: torch.Generator) -> torch.Tensor:
    """randn rows shifted so the k-th largest value is ~0.02 (a 4096-column row's median sits
    there: pass 0's bin holds a few keys and pass 1 decides); odd rows also get copies of the
    k-th value straddling its place (ties inside the bin, across threads)."""
    x = torch.randn(rows, n, generator=g, device=DEV)
    vals, order = torch.sort(x, dim=1, descending=True)
    x = x - vals[:, k - 1:k] + 0.02
    kth = x.gather(1, order[:, k - 1:k])
    odd = order[1::2, k - 3:k + 3]
    x[1::2].scatter_(1, odd, kth[1::2].expand(-1, odd.shape[1]))
    return x.contiguous()


@pytest.mark.parametrize("n", [4096, 4095, 6144, 5000])
def test_regs_opts(n):
    """The regs kernel with kOptScan (topk_force opt 1; 512 threads x 2-3 float4) on rows whose
    pass-0 bin is small and on tie-heavy / equal / -inf rows: right, and the same sorted rows
    as without it (opt 0), decode (aligned and misaligned) and prefill."""
    opt = 1
    g, seed = _gen()
    k = 2048
    for kind in ("smallbin", "randn", "ties", "equal", "neginf", "negnan"):
        for shift in (0, 3):
            big = (_small_bin_logits(6, n + shift, k, g) if kind == "smallbin"
                   else _logits(6, n + shift, kind, g))
            logits = big[:, shift:]
            lens = [n, n - 1, k + 1, n - 2, max(k + 1, n - 100), n]
            what = f"regs opt={opt} n={n} shift={shift} {kind}"
            _forced_rows((2, 0, 512, 0, 1, -1, opt), logits, lens, k, seed, what, ws=None)
            # bit-identical to the kernel without options (both write sorted rows)
            lens_t = torch.tensor(lens, dtype=torch.int32, device=DEV)
            outs = []
            for o in (0, opt):
                out = torch.full((len(lens), k), POISON, dtype=torch.int32, device=DEV)
                torch.ops._C_glm52.topk_force(2, 0, 512, 0, 1, -1, o)
                try:
                    T.topk_decode(logits, lens_t, out, k)
                finally:
                    torch.ops._C_glm52.topk_force(-1)
                outs.append(out)
            assert torch.equal(outs[0], outs[1]), f"{what} seed={seed}: differs from opt 0"


@pytest.mark.parametrize("opt", [0, 1])
def test_regs_opts_edges_and_graphs(opt):
    """The regs kernel without and with kOptScan (topk_force opt 0 / 1) on odd-width (misaligned) rows of lengths 0, 1, k-1, k, k+1
    and around vector / thread boundaries, k 512-2048, MTP rows (next_n 2), and under
    CUDA-graph capture and replay on fresh inputs into dirty outputs."""
    g, seed = _gen()
    force = (2, 0, 512, 0, 1, -1, opt)
    width = 4099  # 512 x 2 float4 with the tail; rows start 4 bytes past a 16-byte boundary
    for k in (512, 1024, 2048):
        lens = [0, 1, k - 1, k, k + 1, 3071, 3072, 3073, 4095, width]
        logits = _small_bin_logits(len(lens), width + 1, min(k, 2048), g)[:, 1:]
        lens_t = torch.tensor(lens, dtype=torch.int32, device=DEV)
        out = torch.full((len(lens), k), POISON, dtype=torch.int32, device=DEV)
        torch.ops._C_glm52.topk_force(*force)
        try:
            T.topk_decode(logits, lens_t, out, k)
            mtp = torch.full((len(lens), k), POISON, dtype=torch.int32, device=DEV)
            L = torch.tensor([2, k + 1, 3000, 4000, width], dtype=torch.int32, device=DEV)
            T.topk_decode(logits, L, mtp, k, 2)  # rows 2b + j see L[b] - 2 + j + 1 columns
        finally:
            torch.ops._C_glm52.topk_force(-1)
        _check(logits, torch.zeros_like(lens_t), lens_t, out, k, seed, f"opt={opt} edges k={k}",
               ws=None)
        per_row = (L[:, None] - 2 + torch.arange(2, device=DEV)[None, :] + 1).reshape(-1).int()
        _check(logits, torch.zeros_like(per_row), per_row, mtp, k, seed, f"opt={opt} mtp k={k}",
               ws=None)
    # graph: captured with the option forced (the launch is chosen at capture), replayed
    rows, k = 64, 2048
    logits = torch.empty(rows, 4096, device=DEV)
    lens = torch.full((rows,), 4096, dtype=torch.int32, device=DEV)
    out = torch.empty(rows, k, dtype=torch.int32, device=DEV)
    torch.ops._C_glm52.topk_force(*force)
    try:
        logits.copy_(_small_bin_logits(rows, 4096, k, g))
        T.topk_decode(logits, lens, out, k)  # eager first (per-device set-up)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            T.topk_decode(logits, lens, out, k)
    finally:
        torch.ops._C_glm52.topk_force(-1)
    for rep in range(3):
        src = _small_bin_logits(rows, 4096, k, g) if rep != 1 else _logits(rows, 4096, "ties", g)
        logits.copy_(src)
        lens.copy_(torch.randint(k + 1, 4097, (rows,), generator=g, device=DEV,
                                 dtype=torch.int32))
        out.fill_(POISON)
        graph.replay()
        torch.cuda.synchronize()
        _check(logits, torch.zeros_like(lens), lens, out, k, seed, f"opt={opt} graph {rep}",
               ws=None)


def _forced_rows(force: tuple, logits, lens: list[int], k: int, seed: int, what: str,
                 ws=WS) -> None:
    """With the kernel forced (topk_force(*force)) and workspace `ws`: decode rows of lengths
    `lens`, then prefill rows of the same lengths starting at columns 0-5 (inside a vector);
    both checked, and the workspace left zero-filled for the next launch."""
    n = logits.shape[1]
    lens_t = torch.tensor(lens, dtype=torch.int32, device=DEV)
    out = torch.full((len(lens), k), POISON, dtype=torch.int32, device=DEV)
    torch.ops._C_glm52.topk_force(*force)
    try:
        T.topk_decode(logits, lens_t, out, k, workspace=ws)
        _check(logits, torch.zeros_like(lens_t), lens_t, out, k, seed, what, ws=ws)
        ks = torch.tensor(([0, 1, 3, 2, 0, 5, 1, 0] * len(lens))[:len(lens)], dtype=torch.int32,
                          device=DEV)
        ke = torch.minimum(lens_t + ks, torch.full_like(lens_t, n))
        out.fill_(POISON)
        T.topk_prefill(logits, ks, ke, out, k, workspace=ws)
        _check(logits, ks, ke, out, k, seed, f"{what} prefill", ws=ws, prefill=True)
    finally:
        torch.ops._C_glm52.topk_force(-1)
    torch.cuda.synchronize()
    assert int(torch.count_nonzero(WS)) == 0, "workspace not left zero-filled"


@pytest.mark.parametrize("vecs", [2, 4])
@pytest.mark.parametrize("kind", ["randn", "ties", "equal", "descending", "recent", "neginf",
                                  "negnan"])
def test_grid_kernel_sizes(vecs, kind):
    """The grid kernel at each CTA width on rows that end around CTA slice boundaries (a last
    CTA with 1 key, CTAs past a row's end), mixed with rows no longer than k; aligned and
    misaligned decode rows, prefill rows starting inside a vector; the workspace stays
    zero-filled for the next launch."""
    g, seed = _gen()
    k = 2048
    slice_ = 4 * 512 * vecs
    n = 9 * slice_ + 5
    lens = [n, 3 * slice_ + 1, 2 * slice_, k + 1, k, 5, slice_ - 1, 7 * slice_ - 3]
    rows = len(lens)
    for shift in (0, 1):
        logits = _logits(rows, n + 3, kind, g)[:, shift:shift + n]
        torch.ops._C_glm52.topk_force(3, 0, 0, vecs)
        try:
            algo, ctas, v, _ = torch.ops._C_glm52.topk_plan(rows, n, WS.numel(),
                                                            T.rows_aligned(logits, False))
        finally:
            torch.ops._C_glm52.topk_force(-1)
        assert (algo, v) == (3, vecs), (algo, ctas, v)
        _forced_rows((3, 0, 0, vecs), logits, lens, k, seed,
                     f"grid vecs={vecs} shift={shift} {kind}")


@pytest.mark.parametrize("threads, vecs", [(512, 2), (512, 4), (1024, 4)])
@pytest.mark.parametrize("kind", ["randn", "ties", "equal", "descending", "recent", "neginf",
                                  "negnan"])
def test_cluster_kernel_sizes(threads, vecs, kind):
    """The cluster kernel at each CTA width, 8 CTAs per row (the largest cluster), on rows that
    end around CTA slice boundaries (a last CTA with 1 key, CTAs past a row's end that hold no
    valid key but meet at every cluster barrier), mixed with rows no longer than k; aligned and
    misaligned decode rows, prefill rows starting inside a vector; no workspace needed."""
    g, seed = _gen()
    k = 2048
    slice_ = 4 * threads * vecs
    n = 8 * slice_ - 3  # + up to 3 for the alignment shift: 8 CTAs
    lens = [n, 3 * slice_ + 1, 2 * slice_, k + 1, k, 5, slice_ - 1, 7 * slice_ - 3, 7 * slice_ + 1]
    rows = len(lens)
    for shift in (0, 1):
        logits = _logits(rows, n + 3, kind, g)[:, shift:shift + n]
        torch.ops._C_glm52.topk_force(5, 0, threads, vecs)
        try:
            plan = [int(x) for x in torch.ops._C_glm52.topk_plan(
                rows, n, 0, T.rows_aligned(logits, False))]
        finally:
            torch.ops._C_glm52.topk_force(-1)
        assert plan == [5, 8, vecs, threads], plan
        _forced_rows((5, 0, threads, vecs), logits, lens, k, seed,
                     f"cluster {threads}x{vecs} shift={shift} {kind}", ws=None)


def test_cluster_plan():
    """Rows too long for the regs kernel that fit a cluster of at most 4 CTAs take the cluster
    kernel automatically, with or without a workspace, while the launch is one wave of
    resident clusters: 512 x 4 CTAs (1 x 32k: 4 of them), else 1024 x 4 (64 x 32k on a GPU of
    >= 128 SMs: 2; more than 2 only for one row); longer rows, which would need clusters of 8,
    never (the grid kernel is faster there)."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    for ws in (0, WS.numel()):
        assert [int(x) for x in torch.ops._C_glm52.topk_plan(1, 32768, ws)] == [5, 4, 4, 512]
        assert [int(x) for x in torch.ops._C_glm52.topk_plan(1, 24000, ws)] == [5, 3, 4, 512]
        if sms >= 128:
            assert [int(x) for x in torch.ops._C_glm52.topk_plan(64, 32768, ws)] == \
                [5, 2, 4, 1024]
        # 4 CTAs of 1024 x 4 for one row only; 8 such rows take the grid kernel
        assert [int(x) for x in torch.ops._C_glm52.topk_plan(1, 65536, ws)] == [5, 4, 4, 1024]
        if ws and sms >= 128:
            assert int(torch.ops._C_glm52.topk_plan(8, 65536, ws)[0]) == 3
        assert int(torch.ops._C_glm52.topk_plan(1, 4 * 16384 + 1, ws)[0]) != 5
        # misaligned rows need up to 3 more columns: 4 x 8192 columns no longer fit 4 CTAs
        # of 512 x 4
        assert [int(x) for x in torch.ops._C_glm52.topk_plan(1, 32768, ws, False)] == \
            [5, 3, 4, 1024]


@pytest.mark.parametrize("kind", ["randn", "narrow", "kthtie", "ties", "ties10", "equal",
                                  "descending", "recent", "neginf", "negnan"])
def test_slices_kernel_sizes(kind):
    """The slices kernel (8192-column slices) on rows of several slices per CTA that end around
    slice and CTA boundaries (a last CTA with 1 key, rows one CTA holds, CTAs past a row's
    end), mixed with rows no longer than k; aligned and misaligned decode rows, prefill rows
    starting inside a vector; the workspace stays zero-filled for the next launch. randn rows
    take the gather at level 0, narrow rows (every key in one pass-0 bin) at level 1 after an
    exact pass 1, tie-heavy rows the exact passes and the count exchange; with the sampled
    bound (the default) randn rows take the bounded path, the others its fallbacks."""
    g, seed = _gen()
    k = 2048
    vecs = 4
    slice_ = 4 * 512 * vecs
    rows, n = 8, 40 * slice_ + 5  # 40 slices
    torch.ops._C_glm52.topk_force(4)
    try:
        algo, ctas, v, per = torch.ops._C_glm52.topk_plan(rows, n, WS.numel(), False)
    finally:
        torch.ops._C_glm52.topk_force(-1)
    assert (algo, v) == (4, vecs) and per >= 2, (algo, ctas, v, per)
    cta = per * slice_  # columns per CTA
    lens = [n, 3 * cta + 1, 2 * slice_, k + 1, k, 5, slice_ - 1, cta - 3]
    for shift in (0, 1):
        logits = _logits(rows, n + 3, kind, g)[:, shift:shift + n]
        _forced_rows((4,), logits, lens, k, seed, f"slices shift={shift} {kind}")
        _forced_rows((4, 0, 0, 0, 0), logits, lens, k, seed, f"slices exact shift={shift} {kind}")
        # one CTA per row (no workspace): 512 threads / 256 threads (4096-column slices); 40
        # slices: a bitmap of 10240 words (the tie bitmap in two rounds)
        for m in (n, 24 * slice_ + 5):
            sub = logits[:, :m]
            ls = [min(x, m) for x in lens]
            _forced_rows((4,), sub, ls, k, seed, f"slices solo {m} shift={shift} {kind}",
                         ws=None)
            _forced_rows((4, 0, 256), sub, ls, k, seed, f"slices solo256 {m} shift={shift} {kind}")


def _lift_sampled(x: torch.Tensor, per_cta: int, slice_: int = 8192) -> torch.Tensor:
    """x with 3.0 added to the slices the slices kernel samples (every 8th of each CTA of
    `per_cta` slices): the sample then puts its bound where the unsampled slices hold almost no
    key, the sweep lists fewer than k, and the kernel falls back to the exact pass 0."""
    sl = torch.arange(x.shape[1], device=x.device) // slice_
    return x + 3.0 * ((sl % per_cta) % 8 == 0).to(x.dtype)[None, :]


@pytest.mark.parametrize("kind", ["randn", "kthtie", "ties", "recent", "samplehi"])
def test_slices_wide_bitmap(kind):
    """Rows of more than 32 slices per CTA: several CTAs per row (66 rows, two CTAs each, 41
    slices per CTA: a 10496-word bitmap, the tie bitmap in two rounds), one CTA per row past
    the bitmap (137 slices: the output sweep), with and without the sampled bound; samplehi
    rows take the fallback after the candidate sweep (the workspace list then reset from
    ncand)."""
    g, seed = _gen()
    k = 2048
    slice_ = 8192
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    rows, n = sms // 2, 82 * slice_ - 7
    logits = _logits(rows, n, "randn" if kind == "samplehi" else kind, g)
    if kind == "samplehi":
        logits = _lift_sampled(logits, 41)
    lens = ([n, n - 1, 41 * slice_ + 1, 41 * slice_, k + 1, 5] * rows)[:rows]
    torch.ops._C_glm52.topk_force(4)
    try:
        algo, ctas, _, per = torch.ops._C_glm52.topk_plan(rows, n, WS.numel(), True)
    finally:
        torch.ops._C_glm52.topk_force(-1)
    assert (algo, ctas, per) == (4, 2, 41), (algo, ctas, per)
    _forced_rows((4,), logits, lens, k, seed, f"slices wide {kind}")
    _forced_rows((4, 0, 0, 0, 0), logits, lens, k, seed, f"slices wide exact {kind}")
    del logits
    m = 137 * slice_ - 2
    wide = _logits(4, m, "randn" if kind == "samplehi" else kind, g)
    if kind == "samplehi":
        wide = _lift_sampled(wide, 137)
    _forced_rows((4,), wide, [m, m - 5, 70 * slice_, k + 3], k, seed, f"slices solo wide {kind}",
                 ws=None)


@pytest.mark.parametrize("k", [1, 2])
def test_slices_bound_splits_bin(k):
    """A sampled bound (12 key bits) in the upper half of its pass-0 bin (11 bits) whose keys
    the list holds all of: the bin is taken whole, and keys below the bound in its lower half
    (2.0 here) are not selected. Rows of one CTA past the bitmap (the output sweep tests every
    key) and of several CTAs (the bitmap output); with k = 1 an extra key would also have been
    written past the row's slots."""
    g, seed = _gen()
    m = 137 * 8192 - 2
    x = torch.rand(16, m, generator=g, device=DEV) * 1.9  # below 2.0
    x[:, 10] = 2.25  # sign, exponent and 3 mantissa bits: an odd 12-bit bin
    x[:, 11] = 2.0   # the same 11-bit bin, the even half
    if k == 2:
        x[:, 12] = 2.3  # the 12-bit bin of 2.25
    lens = [m, m - 5, 70 * 8192, 8192 * 4] * 4  # with the workspace: 8 CTAs of 18 slices
    _forced_rows((4,), x, lens, k, seed, f"slices bound splits its bin k={k}", ws=None)
    _forced_rows((4,), x, lens, k, seed, f"slices bound splits its bin k={k} (workspace)")


def test_slices_solo_plan():
    """Forced, the slices kernel takes rows too many for several CTAs each (or without a
    workspace) on one CTA per row: no workspace needed, 8192- or (256 threads) 4096-column
    slices covering the whole row. Automatically it takes such rows of up to 64 slices."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    for rows, n, ws, threads, slice_ in ((sms, 65536, WS.numel(), 0, 8192),
                                         (3, 100000, 0, 0, 8192),
                                         (2048, 65536, 0, 256, 4096)):
        torch.ops._C_glm52.topk_force(4, 0, threads)
        try:
            plan = [int(x) for x in torch.ops._C_glm52.topk_plan(rows, n, ws, True)]
        finally:
            torch.ops._C_glm52.topk_force(-1)
        assert plan == [4, 1, 4, -(-n // slice_)], (rows, n, plan)
    # automatic: rows too many for two CTAs each, of up to 32 x 34816 columns (the bitmap
    # output), on 512 threads (8192-column slices); longer rows or fewer rows do not take it
    assert [int(x) for x in torch.ops._C_glm52.topk_plan(2048, 65536, 0, False)] == [4, 1, 4, 9]
    assert [int(x) for x in torch.ops._C_glm52.topk_plan(sms, 262144, 0, True)] == [4, 1, 4, 32]
    assert [int(x) for x in torch.ops._C_glm52.topk_plan(sms, 262145, 0, True)] == [4, 1, 4, 33]
    assert [int(x) for x in torch.ops._C_glm52.topk_plan(2 * sms, 1 << 20, 0, True)] == \
        [4, 1, 4, 128]
    assert int(torch.ops._C_glm52.topk_plan(sms, 32 * 34816 + 1, 0, True)[0]) != 4
    assert int(torch.ops._C_glm52.topk_plan(sms // 2, 65536, 0, True)[0]) != 4


def test_workspace_slot_per_microbatch(monkeypatch):
    """Each DBO micro-batch gets its own zero-filled workspace slot on the device."""
    first = T.topk_workspace(DEV)
    monkeypatch.setattr(T, "_ubatch_id", lambda: 1)
    second = T.topk_workspace(DEV)
    assert second.data_ptr() != first.data_ptr() and second.numel() == first.numel()
    assert second.device == first.device and second.data_ptr() % 16 == 0
    assert int(torch.count_nonzero(second)) == 0
    monkeypatch.setattr(T, "_ubatch_id", lambda: T.UBATCH_SLOTS)
    with pytest.raises(RuntimeError, match="has no workspace slot"):
        T.topk_workspace(DEV)


def test_grid_needs_the_workspace():
    """Without a workspace (or with one too small for the rows) the grid and slices kernels
    are never planned; with one, few long rows take the grid kernel, and few rows too long
    for it that fit in L2 the slices kernel."""
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    assert int(torch.ops._C_glm52.topk_plan(1, 1 << 20, WS.numel())[0]) == 3
    assert int(torch.ops._C_glm52.topk_plan(1, 1 << 20, 0)[0]) != 3
    rows_fit = WS.numel() // T.GRID_ROW_BYTES
    assert int(torch.ops._C_glm52.topk_plan(rows_fit + 1, 65536, WS.numel())[0]) != 3
    # more CTAs than one resident wave: not the grid kernel
    assert int(torch.ops._C_glm52.topk_plan(2, 4096 * 4 * sms, WS.numel())[0]) != 3
    # rows too long for it, >= 2 CTAs of >= 4 slices each: the slices kernel, only with the
    # workspace; more rows than half the SMs get one CTA per row (no workspace needed)
    cols = 8192 * 4 * 2 * sms // 8
    assert int(torch.ops._C_glm52.topk_plan(8, cols, WS.numel())[0]) == 4
    assert int(torch.ops._C_glm52.topk_plan(8, cols, 0)[0]) != 4
    assert [int(x) for x in torch.ops._C_glm52.topk_plan(sms // 2 + 1, 1 << 20, WS.numel())] \
        == [4, 1, 4, 128]


def test_opcheck():
    """torch.library.opcheck with vLLM's default utils plus dynamic AOT dispatch."""
    g, _ = _gen()
    utils = ("test_schema", "test_autograd_registration", "test_faketensor",
             "test_aot_dispatch_dynamic")
    x = _logits(4, 5000, "randn", g)
    ks = torch.tensor([0, 10, 100, 0], dtype=torch.int32, device=DEV)
    ke = torch.tensor([5000, 4000, 2100, 20], dtype=torch.int32, device=DEV)
    out = torch.empty(4, 512, dtype=torch.int32, device=DEV)
    torch.library.opcheck(torch.ops._C_glm52.topk_prefill.default, (x, ks, ke, out, 512),
                          test_utils=utils)
    torch.library.opcheck(torch.ops._C_glm52.topk_prefill.default,
                          (x, ks, ke, out, 512, None, 5000), test_utils=utils)
    lens = torch.tensor([5000, 3000, 513, 1], dtype=torch.int32, device=DEV)
    torch.library.opcheck(torch.ops._C_glm52.topk_decode.default, (x, lens, out, 512, 1),
                          test_utils=utils)
    # a row the cluster kernel takes (no workspace)
    z = _logits(2, 32768, "randn", g)
    out2 = torch.empty(2, 2048, dtype=torch.int32, device=DEV)
    lz = torch.tensor([32768, 20000], dtype=torch.int32, device=DEV)
    assert int(torch.ops._C_glm52.topk_plan(2, 32768)[0]) == 5
    torch.library.opcheck(torch.ops._C_glm52.topk_decode.default, (z, lz, out2, 2048, 1),
                          test_utils=utils)
    # with the workspace, on a row the grid kernel takes
    y = _logits(1, 300000, "randn", g)
    out1 = torch.empty(1, 2048, dtype=torch.int32, device=DEV)
    ln = torch.tensor([300000], dtype=torch.int32, device=DEV)
    assert int(torch.ops._C_glm52.topk_plan(1, 300000, WS.numel())[0]) == 3
    torch.library.opcheck(torch.ops._C_glm52.topk_decode.default, (y, ln, out1, 2048, 1, WS),
                          test_utils=utils)


def test_torch_compile_fullgraph():
    """The op traces under torch.compile (fake impl) and matches eager."""
    g, seed = _gen()
    x = _logits(8, 40000, "randn", g)
    lens = torch.randint(100, 40001, (8,), generator=g, device=DEV, dtype=torch.int32)

    def f(x, lens, out):
        torch.ops._C_glm52.topk_decode(x, lens, out, 2048, 1, WS)
        return out

    out_c = torch.full((8, 2048), POISON, dtype=torch.int32, device=DEV)
    torch.compile(f, fullgraph=True)(x, lens, out_c)
    _check(x, torch.zeros_like(lens), lens, out_c, 2048, seed, "torch.compile")


# Each bad call, the message it must raise, run in a child process: a crash (the launcher once
# segfaulted on a failing check) then fails one named case instead of killing the session.
_ERROR_SETUP = """
import torch, vllm_glm52.ops.topk
DEV = "cuda"
x = torch.randn(4, 100, device=DEV)
out = torch.empty(4, 16, dtype=torch.int32, device=DEV)
lens = torch.full((4,), 100, dtype=torch.int32, device=DEV)
op = torch.ops._C_glm52.topk_decode
"""
ERROR_CASES = {
    "dtype": ("op(x.half(), lens, out, 16, 1)", "logits must be float32"),
    "out_shape": ("op(x, lens, out[:, :8], 16, 1)", r"indices must be \[rows, k\] = \[4, 16\]"),
    "lens_dtype": ("op(x, lens.long(), out, 16, 1)", "seq_lens must be int32"),
    "lens_numel": ("op(x, lens, out, 16, 2)", "seq_lens must have 2 elements"),
    "k_range": ("op(x, lens, torch.empty(4, 4096, dtype=torch.int32, device=DEV), 4096, 1)",
                r"k must be in \[1, 2048\]"),
    "col_stride": ("op(x.t().contiguous().t(), lens, out, 16, 1)", r"stride\(1\) == 1"),
    "ends_contiguous": ("torch.ops._C_glm52.topk_prefill(x, lens, torch.zeros(8, "
                        "dtype=torch.int32, device=DEV)[::2], out, 16)",
                        "row_ends must be contiguous"),
    "device": ("op(x, lens.cpu(), out, 16, 1)", "seq_lens must be on cuda"),
    "ws_small": ("op(x, lens, out, 16, 1, torch.zeros(1024, dtype=torch.uint8, device=DEV))",
                 "workspace must hold at least 88192 bytes"),
    "ws_device": ("op(x, lens, out, 16, 1, torch.zeros(1 << 20, dtype=torch.uint8))",
                  "workspace must be on cuda"),
    "ws_strided": ("op(x, lens, out, 16, 1, torch.zeros(1 << 20, dtype=torch.uint8, "
                   "device=DEV)[::2])", "workspace must be contiguous"),
    "max_len_negative": ("torch.ops._C_glm52.topk_prefill(x, lens * 0, lens, out, 16, None, -1)",
                         "max_len must be 0 \\(no bound\\)"),
    # a row longer than its bound on the regs kernel: a trap, never a row from part of its
    # columns (the error surfaces at the next synchronisation)
    "max_len_exceeded": ("torch.ops._C_glm52.topk_prefill(torch.randn(4, 30000, device=DEV), "
                         "lens * 0, lens * 300, out, 16, None, 20000); torch.cuda.synchronize()",
                         "launch failure|illegal instruction"),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_argument_errors(name):
    import re
    import subprocess
    import sys

    call, pattern = ERROR_CASES[name]
    code = (_ERROR_SETUP + "try:\n    " + call + "\nexcept RuntimeError as e:\n"
            "    print('RAISED', e)\nelse:\n    print('NO ERROR')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"{name}: child exited {r.returncode}\n{r.stderr[-2000:]}"
    assert "RAISED" in r.stdout, f"{name}: no error raised: {r.stdout[-500:]}"
    assert re.search(pattern, r.stdout), f"{name}: {r.stdout[-500:]}"
