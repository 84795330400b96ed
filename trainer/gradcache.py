"""One GradCache training step: batches far larger than activation memory allows.

1. Embed every sequence without gradients, in length-sorted chunks sized by a token budget
   (larger chunks when dropout is off, since nothing is kept).
2. Compute the loss on those embeddings as leaves and back-propagate it to them (chunked rows).
   With several ranks the embeddings are gathered first and the leaf gradients summed back, so
   each rank only computes its own rows' loss terms.
3. Re-embed chunk by chunk with gradients and push the cached embedding gradients through.
   When dropout is on, the RNG state of each chunk is replayed so both passes see the same masks.
   Under DDP all chunks but the last run under `no_sync`, so gradients are reduced once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .losses import ContrastiveLoss
from .model import Encoder, pad_chunk


def token_chunks(lengths: list[int], budget: int) -> list[list[int]]:
    """Indices grouped longest first so that chunk size × longest length stays within `budget`."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    chunks: list[list[int]] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]
        if current and (len(current) + 1) * width > budget:
            chunks.append(current)
            current = []
        current.append(i)
    if current:
        chunks.append(current)
    return chunks


@dataclass
class StepStats:
    loss: float
    pairs: int
    tokens: int


class GradCacheStep:
    """Callable doing steps 1–3 for one rank's share of a global batch."""

    def __init__(self, encoder: Encoder, loss: ContrastiveLoss, pad_id: int, device: torch.device,
                 token_budget: int = 16384, nograd_factor: int = 4, chunk_rows: int = 1024,
                 bf16: bool = False, ddp_model: torch.nn.Module | None = None):
        self.encoder = encoder
        self.loss = loss
        self.pad_id = pad_id
        self.device = torch.device(device)
        self.token_budget = token_budget
        self.nograd_factor = max(1, nograd_factor)
        self.chunk_rows = chunk_rows
        self.bf16 = bf16
        self.ddp_model = ddp_model
        self.world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        self.rank = dist.get_rank() if self.world_size > 1 else 0

    def _autocast(self):
        if self.bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _rng_state(self):
        state = [torch.get_rng_state()]
        if self.device.type == "cuda":
            state.append(torch.cuda.get_rng_state(self.device))
        return state

    def _set_rng_state(self, state) -> None:
        torch.set_rng_state(state[0])
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(state[1], self.device)

    def embed_no_grad(self, sequences: list[list[int]], chunks: list[list[int]],
                      rng_states: list | None = None) -> torch.Tensor:
        out = None
        with torch.no_grad(), self._autocast():
            for chunk in chunks:
                if rng_states is not None:
                    rng_states.append(self._rng_state())
                ids, mask = pad_chunk([sequences[i] for i in chunk], self.pad_id, self.device)
                emb = self.encoder(ids, mask)
                if out is None:
                    out = torch.empty((len(sequences), emb.shape[1]), dtype=torch.float32, device=self.device)
                out[torch.tensor(chunk, device=self.device)] = emb.float()
        return out

    def _gather(self, local: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """All ranks' rows (no autograd; gradients are summed back explicitly) and their counts."""
        if self.world_size == 1:
            return local, [local.shape[0]]
        count = torch.tensor([local.shape[0]], device=local.device)
        counts = [torch.zeros_like(count) for _ in range(self.world_size)]
        dist.all_gather(counts, count)
        counts = [int(c) for c in counts]
        padded = torch.zeros((max(counts), local.shape[1]), dtype=local.dtype, device=local.device)
        padded[:local.shape[0]] = local
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return torch.cat([p[:c] for p, c in zip(parts, counts, strict=True)]), counts

    def __call__(self, queries: list[list[int]], documents: list[list[int]],
                 negatives: list[list[int]] = ()) -> StepStats:
        negatives = list(negatives)
        sequences = list(queries) + list(documents) + negatives
        lengths = [len(s) for s in sequences]
        local_batch = len(queries)
        grad_chunks = token_chunks(lengths, self.token_budget)
        dropout = self.encoder.has_dropout
        rng_states: list | None = [] if dropout else None
        nograd_chunks = (grad_chunks if dropout
                         else token_chunks(lengths, self.token_budget * self.nograd_factor))
        cached = self.embed_no_grad(sequences, nograd_chunks, rng_states)

        q_local, p_local, n_local = (cached[:local_batch], cached[local_batch:2 * local_batch],
                                     cached[2 * local_batch:])
        q_all, q_counts = self._gather(q_local)
        p_all, _ = self._gather(p_local)
        n_all, n_counts = self._gather(n_local)
        q_leaf = q_all.detach().requires_grad_(True)
        d_leaf = torch.cat([p_all, n_all]).detach().requires_grad_(True)
        offset = sum(q_counts[:self.rank])
        global_batch = q_leaf.shape[0]
        loss = self.loss.backward_loss(q_leaf, d_leaf, slice(offset, offset + local_batch), global_batch,
                                       self.chunk_rows, grad_scale=float(self.world_size))
        q_grad, d_grad = q_leaf.grad, d_leaf.grad
        if self.world_size > 1:
            dist.all_reduce(q_grad)
            dist.all_reduce(d_grad)
            self.loss.sync_gradients(self.world_size)
            total = torch.tensor([loss], device=self.device)
            dist.all_reduce(total)
            loss = float(total)
        n_offset = sum(n_counts[:self.rank])
        p_grad = d_grad[:global_batch][offset:offset + local_batch]
        n_grad = d_grad[global_batch:][n_offset:n_offset + len(negatives)]
        grads = torch.cat([q_grad[offset:offset + local_batch], p_grad, n_grad])

        model = self.ddp_model or self.encoder
        for k, chunk in enumerate(grad_chunks):
            last = k == len(grad_chunks) - 1
            sync = contextlib.nullcontext() if last or self.ddp_model is None else self.ddp_model.no_sync()
            if rng_states is not None:
                self._set_rng_state(rng_states[k])
            with sync:
                ids, mask = pad_chunk([sequences[i] for i in chunk], self.pad_id, self.device)
                with self._autocast():
                    emb = model(ids, mask)
                index = torch.tensor(chunk, device=self.device)
                torch.autograd.backward(emb.float(), grads[index])
        return StepStats(loss=loss, pairs=global_batch, tokens=sum(lengths))
