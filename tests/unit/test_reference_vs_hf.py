"""The pure-PyTorch fp32 reference (vllm_glm52.reference) agrees with transformers'
GlmMoeDsaForCausalLM on the same tiny BF16 checkpoint, both run in fp32.

Prompts longer than index_topk make the DSA selection actually drop keys, and the 8-layer
schedule (full 0,1,2,6; shared 3,4,5,7) exercises IndexShare reuse, incl. a full layer after
shared ones. HF hard-codes eps 1e-6 in q_a/kv_a_layernorm while the reference defaults to
rms_norm_eps (vLLM/SGLang semantics), so the reference is built with latent_norm_eps=1e-6 here.
Mutation checks at the end prove the comparison is sensitive to the features it claims to cover.
"""

from __future__ import annotations

import pytest
import torch

from vllm_glm52.reference import ReferenceGLM52

TOL = 1e-4  # max |logit diff| / max |logit|
HF_LATENT_EPS = 1e-6

transformers = pytest.importorskip("transformers")


def _hf(path):
    from transformers import GlmMoeDsaForCausalLM
    m = GlmMoeDsaForCausalLM.from_pretrained(path, dtype=torch.float32,
                                             attn_implementation="eager")
    return m.eval()


def _ids(n: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.randint(0, vocab, (n,), generator=torch.Generator().manual_seed(seed))


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.fixture(scope="module")
def small_pair(small_bf16):
    torch.manual_seed(0)
    return _hf(small_bf16), ReferenceGLM52.from_pretrained(small_bf16, latent_norm_eps=HF_LATENT_EPS)


def _compare(hf, ref, ids):
    with torch.no_grad():
        a = hf(ids[None], use_cache=False).logits[0]  # [T, V]
    b, aux = ref.forward(ids, return_aux=True)  # [T, V]
    return a, b, aux


@pytest.mark.parametrize("T", [40, 200])  # index_topk is 64 in this config
def test_small_config_matches_hf(small_pair, T):
    hf, ref = small_pair
    assert ref.topk == 64 and [i for i, f in enumerate(ref.sched.full) if f] == [0, 1, 2, 6]
    a, b, aux = _compare(hf, ref, _ids(T, ref.cfg["vocab_size"], T))
    assert torch.isfinite(b).all() and b.std() > 0.1  # LM_HEAD_STD 0.35
    if T > ref.topk:  # sparsity is real; ties at the top-k boundary would make this flaky
        gaps = [x.boundary_gap for x in aux if x.full]
        assert min(gaps) > 1e-6, f"near-tied index scores at the top-k boundary: {gaps}"
    err = _rel(a, b)
    print(f"T={T} max rel err {err:.2e}")
    assert err < TOL


def test_kernel_dims_long_prompt_matches_hf(kernel_dims_bf16):
    """§12 dims (hidden 1024, 32x128 indexer, top-k 512) with a 600-token prompt."""
    hf = _hf(kernel_dims_bf16)
    ref = ReferenceGLM52.from_pretrained(kernel_dims_bf16, latent_norm_eps=HF_LATENT_EPS)
    assert ref.topk == 512
    # Pick (deterministically) a prompt whose index scores have no near-tie at the top-k
    # boundary in any full layer: there fp32 summation order alone could flip a key.
    for seed in range(600, 605):
        ids = _ids(600, ref.cfg["vocab_size"], seed)
        b, aux = ref.forward(ids, return_aux=True)  # [T, V]
        gaps = [x.boundary_gap for x in aux if x.full]
        if min(gaps) > 2e-6:
            break
    else:
        pytest.fail(f"every candidate prompt has near-tied index scores (last: {gaps})")
    with torch.no_grad():
        a = hf(ids[None], use_cache=False).logits[0]  # [T, V]
    # rows past position 512 really drop keys; rows before keep every visible key
    assert aux[0].topk.shape == (600, 512)
    err = _rel(a, b)
    print(f"kernel dims T=600 max rel err {err:.2e}")
    assert err < TOL


def test_fp8_checkpoint_dequantizes_to_bf16_build(small_fp8, small_bf16):
    """The reference's FP8 dequant (128x128 scale_inv blocks, ragged 576 rows) reproduces the
    BF16 build, which the writer stores as bf16(fp8 * scale_inv)."""
    r8 = ReferenceGLM52.from_pretrained(small_fp8)
    rb = ReferenceGLM52.from_pretrained(small_bf16)
    assert set(r8.w) == set(rb.w)
    for n, t in r8.w.items():
        if n.endswith("e_score_correction_bias"):  # fp32 in both builds
            assert torch.equal(t, rb.w[n]), n
        else:
            assert torch.equal(t.to(torch.bfloat16).float(), rb.w[n]), n
    # Shorter than index_topk (64): near-tied index scores would flip under the bf16 weight
    # rounding and, in this 256-wide model, move outputs by more than the rounding itself.
    ids = _ids(50, 4096, 1)
    assert _rel(r8.forward(ids), rb.forward(ids)) < 0.05  # bf16 rounding of weights only


def test_mtp_and_greedy(small_pair):
    _, ref = small_pair
    ids = _ids(120, 4096, 7)  # longer than index_topk: the MTP layer's own indexer is sparse
    m = ref.mtp_logits(ids)
    assert m.shape == (119, 4096) and torch.isfinite(m).all() and m.std() > 0.1
    # the MTP prediction for position t depends on token t+1 (not only on the target hidden)
    ids2 = ids.clone()
    ids2[-1] = (ids[-1] + 1) % 4096
    m2 = ref.mtp_logits(ids2)
    assert torch.allclose(m[:-1], m2[:-1]) and not torch.allclose(m[-1], m2[-1])
    g = ref.greedy(ids[:20], 4, keep_logits=True)
    assert len(g.tokens) == 4 and len(g.margins) == 4 and all(x >= 0 for x in g.margins)
    full = ref.forward(torch.cat([ids[:20], torch.tensor(g.tokens[:-1])]))
    assert [int(x) for x in full[19:].argmax(-1)] == g.tokens
    assert torch.allclose(full[-1], g.logits[-1])


# ---- mutation checks: the comparison must fail when a covered feature is wrong ----------

def test_detects_dense_attention_instead_of_topk(small_pair):
    hf, ref = small_pair
    ref.topk, saved = 10**9, ref.topk
    try:
        a, b, _ = _compare(hf, ref, _ids(200, 4096, 200))
    finally:
        ref.topk = saved
    assert _rel(a, b) > 100 * TOL


def test_detects_biased_routing_weights(small_pair, monkeypatch):
    hf, ref = small_pair
    orig = ReferenceGLM52._moe

    def biased_weights_moe(self, p, x):  # wrong: weights from the biased scores
        bias = self.W(p + "gate.e_score_correction_bias")
        saved = self.w[p + "gate.weight"]
        sel = (torch.sigmoid(x @ saved.T) + bias).topk(self.cfg["num_experts_per_tok"], -1)
        wts = sel.values / sel.values.sum(-1, keepdim=True) * self.cfg["routed_scaling_factor"]
        y = torch.zeros_like(x)
        for k in range(sel.indices.shape[1]):
            for e in sel.indices[:, k].unique().tolist():
                rows = (sel.indices[:, k] == e).nonzero(as_tuple=True)[0]
                y[rows] += wts[rows, k, None] * self._swiglu(f"{p}experts.{e}.", x[rows])
        return y + self._swiglu(p + "shared_experts.", x)

    monkeypatch.setattr(ReferenceGLM52, "_moe", biased_weights_moe)
    a, b, _ = _compare(hf, ref, _ids(40, 4096, 40))
    monkeypatch.setattr(ReferenceGLM52, "_moe", orig)
    assert _rel(a, b) > 100 * TOL
