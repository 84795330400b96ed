"""Losses equal their formulas; GradCache gradients equal full-batch gradients, on one rank or two."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.nn.functional as F

from pairmill.trainer.gradcache import GradCacheStep, token_chunks
from pairmill.trainer.losses import make_loss, reference_loss
from pairmill.trainer.model import Encoder, load_tokenizer, make_encode, pad_chunk

QUERIES = [f"return the {w} of a list of numbers" + " quickly" * (i % 4) for i, w in
           enumerate(["sum", "mean", "median", "maximum", "minimum", "product", "length", "mode",
                      "range", "variance"])]
DOCUMENTS = [f"def {w}(xs):\n    return compute_{w}(xs)" + "\n    # note" * (i % 3) for i, w in
             enumerate(["total", "average", "middle", "largest", "smallest", "multiply", "count",
                        "common", "spread", "var"])]
NEGATIVES = ["def unrelated(a, b): pass", "class Thing: x = 1", "print('hello')", "import os"]


def unit(rows: int, dim: int = 16, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(rows, dim, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize("kind", ["gte", "cpt"])
@pytest.mark.parametrize("extra_docs", [0, 5])
def test_chunked_loss_and_gradients_equal_the_formula(kind, extra_docs):
    q = unit(9, seed=1).requires_grad_(True)
    d = unit(9 + extra_docs, seed=2).requires_grad_(True)
    loss = make_loss(kind, temperature=0.07)
    value = loss.backward_loss(q, d, chunk_rows=4)
    grads = (q.grad.clone(), d.grad.clone())
    q2, d2 = q.detach().clone().requires_grad_(True), d.detach().clone().requires_grad_(True)
    expected = reference_loss(kind, q2, d2, 0.07)
    expected.backward()
    assert value == pytest.approx(float(expected.detach()), rel=1e-5)
    assert torch.allclose(grads[0], q2.grad, atol=1e-5)
    assert torch.allclose(grads[1], d2.grad, atol=1e-5)


def test_gte_partition_has_four_directions():
    # a batch of one has no in-batch terms: the loss is -log(e^s / e^s) = 0 for gte
    q, d = unit(1, seed=3), unit(1, seed=4)
    assert float(make_loss("gte").chunk_loss(q, d, slice(0, 1))) == pytest.approx(0.0, abs=1e-4)
    # with two rows the q→q, d→q and d→d terms all count: adding them changes the loss
    q, d = unit(2, seed=5), unit(2, seed=6)
    gte = float(make_loss("gte", 0.1).chunk_loss(q, d, slice(0, 2))) / 2
    only_q_to_d = float(F.cross_entropy(q @ d.T / 0.1, torch.arange(2)))
    assert gte > only_q_to_d


def test_cpt_temperature_is_trainable_and_clamped():
    loss = make_loss("cpt", temperature=0.05, min_temperature=0.02)
    q, d = unit(6, seed=7), unit(6, seed=8)
    loss.backward_loss(q.requires_grad_(True), d.requires_grad_(True))
    assert loss.log_scale.grad is not None and float(loss.log_scale.grad) != 0.0
    with torch.no_grad():
        loss.log_scale.fill_(10.0)
    assert loss.temperature == pytest.approx(0.02)
    assert not make_loss("gte").log_scale.requires_grad


def test_token_chunks_cover_every_sequence_within_the_budget():
    lengths = [5, 40, 12, 12, 3, 64, 7, 30]
    chunks = token_chunks(lengths, 80)
    assert sorted(i for c in chunks for i in c) == list(range(len(lengths)))
    for chunk in chunks:
        assert len(chunk) == 1 or len(chunk) * max(lengths[i] for i in chunk) <= 80


def _full_batch_grads(encoder, kind, q_ids, d_ids, pad_id, temperature):
    encoder.zero_grad()
    qi, qm = pad_chunk(q_ids, pad_id, "cpu")
    di, dm = pad_chunk(d_ids, pad_id, "cpu")
    reference_loss(kind, encoder(qi, qm), encoder(di, dm), temperature).backward()
    return {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}


def _tiny(tiny_model, dropout: bool) -> Encoder:
    torch.manual_seed(0)
    return Encoder.from_pretrained(str(tiny_model), "mean", dropout=dropout).train()


@pytest.mark.parametrize("kind", ["gte", "cpt"])
def test_gradcache_gradients_equal_full_batch_gradients(tiny_model, kind):
    encoder = _tiny(tiny_model, dropout=False)
    tokenizer = load_tokenizer(str(tiny_model))
    encode = make_encode(tokenizer, 48, "mean")
    q_ids, d_ids = encode(QUERIES, "query"), encode(DOCUMENTS, "document")
    n_ids = encode(NEGATIVES, "document")
    expected = _full_batch_grads(encoder, kind, q_ids, d_ids + n_ids, tokenizer.pad_token_id, 0.05)
    for budget in (40, 200, 10_000):  # one sequence per chunk, a few chunks, everything at once
        encoder.zero_grad()
        step = GradCacheStep(encoder, make_loss(kind, 0.05), tokenizer.pad_token_id, "cpu",
                             token_budget=budget, chunk_rows=3)
        step(q_ids, d_ids, n_ids)
        for name, grad in expected.items():
            got = dict(encoder.named_parameters())[name].grad
            assert torch.allclose(got, grad, atol=2e-5, rtol=1e-3), (budget, name)


def test_gradcache_replays_dropout_masks(tiny_model):
    """With dropout on, the grad pass must see the masks of the cached pass."""
    encoder = _tiny(tiny_model, dropout=True)
    assert encoder.has_dropout
    tokenizer = load_tokenizer(str(tiny_model))
    encode = make_encode(tokenizer, 48, "mean")
    q_ids, d_ids = encode(QUERIES, "query"), encode(DOCUMENTS, "document")
    sequences = q_ids + d_ids
    chunks = token_chunks([len(s) for s in sequences], 120)
    assert len(chunks) > 2
    torch.manual_seed(123)
    step = GradCacheStep(encoder, make_loss("gte", 0.05), tokenizer.pad_token_id, "cpu",
                         token_budget=120)
    step(q_ids, d_ids)
    got = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    # the same chunks in the same order from the same RNG state, with one autograd graph
    encoder.zero_grad()
    torch.manual_seed(123)
    embeddings = torch.empty(len(sequences), 32)
    for chunk in chunks:
        ids, mask = pad_chunk([sequences[i] for i in chunk], tokenizer.pad_token_id, "cpu")
        embeddings = embeddings.index_put((torch.tensor(chunk),), encoder(ids, mask))
    reference_loss("gte", embeddings[:10], embeddings[10:], 0.05).backward()
    for name, param in encoder.named_parameters():
        if param.grad is not None:
            assert torch.allclose(got[name], param.grad, atol=2e-5, rtol=1e-3), name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, model_path, kind, result_path):
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    encoder = _tiny(model_path, dropout=False)
    tokenizer = load_tokenizer(str(model_path))
    encode = make_encode(tokenizer, 48, "mean")
    ddp = torch.nn.parallel.DistributedDataParallel(encoder)
    share = slice(rank * 5, rank * 5 + 5)
    loss = make_loss(kind, 0.05)
    step = GradCacheStep(encoder, loss, tokenizer.pad_token_id, "cpu", token_budget=60, chunk_rows=2,
                         ddp_model=ddp)
    stats = step(encode(QUERIES[share], "query"), encode(DOCUMENTS[share], "document"),
                 encode(NEGATIVES[rank * 2: rank * 2 + 2], "document"))
    grads = {n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None}
    if rank == 0:
        scale_grad = None if loss.log_scale.grad is None else float(loss.log_scale.grad)
        torch.save((stats.loss, grads, scale_grad), result_path)
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.parametrize("kind", ["gte", "cpt"])
def test_two_ranks_give_the_full_batch_gradients(tiny_model, kind, tmp_path):
    """Gathered embeddings, own rows only, leaf gradients summed back, DDP averaging undone."""
    import torch.multiprocessing as mp

    result = tmp_path / "rank0.pt"
    mp.start_processes(_ddp_worker, args=(2, _free_port(), tiny_model, kind, result), nprocs=2,
                       start_method="spawn")
    loss_value, grads, scale_grad = torch.load(result)
    encoder = _tiny(tiny_model, dropout=False)
    tokenizer = load_tokenizer(str(tiny_model))
    encode = make_encode(tokenizer, 48, "mean")
    # rank r's negatives follow all ranks' positives, in rank order
    docs = encode(DOCUMENTS, "document") + encode(NEGATIVES, "document")
    expected = _full_batch_grads(encoder, kind, encode(QUERIES, "query"), docs, tokenizer.pad_token_id, 0.05)
    qi, qm = pad_chunk(encode(QUERIES, "query"), tokenizer.pad_token_id, "cpu")
    di, dm = pad_chunk(docs, tokenizer.pad_token_id, "cpu")
    with torch.no_grad():
        direct = reference_loss(kind, encoder(qi, qm), encoder(di, dm), 0.05)
    assert loss_value == pytest.approx(float(direct), rel=1e-4)
    for name, grad in expected.items():
        assert torch.allclose(grads[name], grad, atol=2e-5, rtol=1e-3), name
    if kind == "cpt":
        loss = make_loss("cpt", 0.05)
        with torch.no_grad():
            q, d = encoder(qi, qm), encoder(di, dm)
        loss.backward_loss(q.requires_grad_(True), d.requires_grad_(True))
        assert scale_grad == pytest.approx(float(loss.log_scale.grad), rel=1e-4)


def test_gradient_checkpointing_keeps_the_gradients(tiny_model):
    tokenizer = load_tokenizer(str(tiny_model))
    encode = make_encode(tokenizer, 48, "mean")
    q_ids, d_ids = encode(QUERIES, "query"), encode(DOCUMENTS, "document")
    grads = []
    for checkpointing in (False, True):
        encoder = _tiny(tiny_model, dropout=False)
        if checkpointing:
            encoder.enable_checkpointing()
        GradCacheStep(encoder, make_loss("gte", 0.05), tokenizer.pad_token_id, "cpu",
                      token_budget=100)(q_ids, d_ids)
        grads.append({n: p.grad.clone() for n, p in encoder.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        assert torch.allclose(grads[0][name], grads[1][name], atol=1e-6), name
