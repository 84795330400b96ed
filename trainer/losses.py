"""Contrastive losses over unit-length embeddings, computed and back-propagated in row chunks.

Each loss is a registered class with one interface (`chunk_loss`, its temperature and whether it
is trained, `card()` for the model card, `reference` for tests); GradCache and the training loop
see only that interface, so a new loss is one class here plus its tests.

`backward_loss` never builds the whole similarity matrix: each chunk of rows computes its logits
against all columns, adds its share of the loss, and back-propagates at once, so its memory is
freed before the next chunk. The embeddings are GradCache's leaves; their `.grad` fills up.

Losses (B pairs; Q queries, P positive documents, N = P plus hard negatives; s = cosine):
- `gte` (GteLoss, GTE eq. 3) and `cpt` (CptLoss, cpt-text); see their docstrings.

With several ranks, `queries`/`documents` are the gathered global tensors (leaves) and `rows` the
range this rank owns; summing every rank's loss, and every rank's leaf gradients, gives the
full-batch loss and gradients.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

LOSSES: dict[str, type[ContrastiveLoss]] = {}


def register_loss(cls: type[ContrastiveLoss]) -> type[ContrastiveLoss]:
    LOSSES[cls.name] = cls
    return cls


def make_loss(name: str, temperature: float | None = None, min_temperature: float = 0.01
              ) -> ContrastiveLoss:
    """The registered loss `name`; its own default temperature when `temperature` is None."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; one of {', '.join(LOSSES)}")
    return LOSSES[name](temperature, min_temperature)


class ContrastiveLoss(nn.Module):
    """Holds the temperature: a fixed buffer, or a trainable log-scale (`trainable_temperature`).

    Subclasses set `name`, `default_temperature`, `trainable_temperature` and implement
    `chunk_loss` and `reference`.
    """

    name: ClassVar[str] = ""
    default_temperature: ClassVar[float] = 0.05
    trainable_temperature: ClassVar[bool] = False

    def __init__(self, temperature: float | None = None, min_temperature: float = 0.01):
        super().__init__()
        temperature = self.default_temperature if temperature is None else temperature
        if temperature <= 0:
            raise ValueError("temperature must be positive")
        self.max_log_scale = math.log(1.0 / min_temperature)
        log_scale = torch.tensor(math.log(1.0 / temperature), dtype=torch.float32)
        if self.trainable_temperature:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)

    def scale(self) -> torch.Tensor:
        return self.log_scale.clamp(max=self.max_log_scale).exp()

    @property
    def temperature(self) -> float:
        return float(1.0 / self.scale().detach())

    def parameter_groups(self) -> list[dict]:
        """Optimiser groups of the loss's own parameters (none when the temperature is fixed)."""
        return [{"params": [self.log_scale], "weight_decay": 0.0}] if self.trainable_temperature else []

    def sync_gradients(self, world_size: int) -> None:
        """Average the loss's own gradients over ranks (each rank computed its rows' share)."""
        if self.trainable_temperature and self.log_scale.grad is not None and world_size > 1:
            import torch.distributed as dist

            dist.all_reduce(self.log_scale.grad)
            self.log_scale.grad /= world_size

    def card(self) -> dict:
        """What a model card says of the loss."""
        return {"loss": self.name, "temperature": self.temperature,
                "trainable_temperature": self.trainable_temperature}

    def chunk_loss(self, queries: torch.Tensor, documents: torch.Tensor, rows: slice) -> torch.Tensor:
        """Sum of the loss terms of the rows in `rows` (not yet divided by the batch size)."""
        raise NotImplementedError

    @staticmethod
    def reference(queries: torch.Tensor, documents: torch.Tensor, temperature: float) -> torch.Tensor:
        """The loss written as its formula, one term at a time (tests compare against it)."""
        raise NotImplementedError

    def backward_loss(self, queries: torch.Tensor, documents: torch.Tensor, rows: slice | None = None,
                      batch_size: int | None = None, chunk_rows: int = 1024,
                      grad_scale: float = 1.0) -> float:
        """Mean loss over the global batch for `rows`, back-propagated chunk by chunk.

        `grad_scale` multiplies the gradients only (DDP averages over ranks; pass the world size).
        """
        rows = rows or slice(0, queries.shape[0])
        batch_size = batch_size or queries.shape[0]
        total = 0.0
        for start in range(rows.start, rows.stop, chunk_rows):
            part = slice(start, min(rows.stop, start + chunk_rows))
            loss = self.chunk_loss(queries, documents, part) / batch_size
            (loss * grad_scale).backward()
            total += float(loss.detach())
        return total


def _mean_of_terms(queries: torch.Tensor, temperature: float, term) -> torch.Tensor:
    """Mean over rows i of term(i, e, batch), e(a, b) = exp(a·b / τ): the formula, spelled out."""
    def e(a, b):
        return torch.exp(torch.dot(a, b) / temperature)

    batch = queries.shape[0]
    return torch.stack([term(i, e, batch) for i in range(batch)]).mean()


def _rows(queries: torch.Tensor, documents: torch.Tensor, rows: slice, scale: torch.Tensor):
    batch = queries.shape[0]
    q, d = queries[rows], documents[:batch][rows]
    return q, d, (q * d).sum(-1) * scale, q @ documents.T * scale


@register_loss
class GteLoss(ContrastiveLoss):
    """GTE eq. 3: one partition over q_i→N, q_i→q_j, d_i→q_j and d_i→d_j (j ≠ i in the last
    three, so the positive appears once), fixed temperature."""

    name = "gte"
    default_temperature = 0.01

    def chunk_loss(self, queries, documents, rows):
        batch = queries.shape[0]
        positives = documents[:batch]
        scale = self.scale()
        q, d, positive, q_to_docs = _rows(queries, documents, rows, scale)
        index = torch.arange(rows.start, rows.stop, device=queries.device)
        local = torch.arange(q.shape[0], device=queries.device)
        self_mask = torch.full((q.shape[0], batch), 0.0, device=queries.device)
        self_mask[local, index] = float("-inf")
        q_to_q = q @ queries.T * scale + self_mask
        d_to_q = d @ queries.T * scale + self_mask
        d_to_d = d @ positives.T * scale + self_mask
        partition = torch.logsumexp(torch.cat([q_to_docs, q_to_q, d_to_q, d_to_d], dim=1), dim=1)
        return (partition - positive).sum()

    @staticmethod
    def reference(queries, documents, temperature):
        def term(i, e, batch):
            q, d = queries[i], documents[i]
            z = sum(e(q, documents[j]) for j in range(documents.shape[0]))
            z = z + sum(e(q, queries[j]) + e(queries[j], d) + e(documents[j], d)
                        for j in range(batch) if j != i)
            return -torch.log(e(q, d) / z)

        return _mean_of_terms(queries, temperature, term)


@register_loss
class CptLoss(ContrastiveLoss):
    """cpt-text: symmetric cross-entropy, rows q_i→N and columns d_i→Q, with a trainable
    temperature; the logit scale is clamped to at most 1/min_temperature."""

    name = "cpt"
    default_temperature = 0.05
    trainable_temperature = True

    def chunk_loss(self, queries, documents, rows):
        scale = self.scale()
        q, d, positive, q_to_docs = _rows(queries, documents, rows, scale)
        d_to_q = d @ queries.T * scale
        rows_ce = torch.logsumexp(q_to_docs, dim=1) - positive
        cols_ce = torch.logsumexp(d_to_q, dim=1) - positive
        return 0.5 * (rows_ce + cols_ce).sum()

    @staticmethod
    def reference(queries, documents, temperature):
        def term(i, e, batch):
            q, d = queries[i], documents[i]
            rows = sum(e(q, documents[j]) for j in range(documents.shape[0]))
            cols = sum(e(queries[j], d) for j in range(batch))
            return -0.5 * (torch.log(e(q, d) / rows) + torch.log(e(q, d) / cols))

        return _mean_of_terms(queries, temperature, term)


def reference_loss(name: str, queries: torch.Tensor, documents: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """The registered loss `name` written as its formula."""
    return LOSSES[name].reference(queries, documents, temperature)


class MatryoshkaLoss(ContrastiveLoss):
    """Matryoshka representation learning over another loss: the sum, over the leading `dims`
    of the embeddings (each prefix renormalised to unit length), of that loss.

    It works on GradCache's leaves like any loss: each chunk truncates and renormalises the full
    tensors inside its own graph, so the cached gradients are those of the summed loss.
    """

    name = "matryoshka"

    def __init__(self, inner: ContrastiveLoss, dims: tuple[int, ...]):
        nn.Module.__init__(self)
        if not dims:
            raise ValueError("Matryoshka needs at least one dimension")
        self.inner = inner
        self.dims = tuple(sorted(set(dims), reverse=True))

    def scale(self) -> torch.Tensor:
        return self.inner.scale()

    @property
    def temperature(self) -> float:
        return self.inner.temperature

    @property
    def log_scale(self):
        return self.inner.log_scale

    def parameter_groups(self) -> list[dict]:
        return self.inner.parameter_groups()

    def sync_gradients(self, world_size: int) -> None:
        self.inner.sync_gradients(world_size)

    def card(self) -> dict:
        return {**self.inner.card(), "matryoshka_dims": list(self.dims)}

    def chunk_loss(self, queries, documents, rows):
        total = 0.0
        for dim in self.dims:
            total = total + self.inner.chunk_loss(_prefix(queries, dim), _prefix(documents, dim),
                                                  rows)
        return total

    def reference_of(self, queries, documents, temperature):
        """The formula: the inner loss's formula at each prefix, summed."""
        return sum(self.inner.reference(_prefix(queries, d), _prefix(documents, d), temperature)
                   for d in self.dims)


def _prefix(embeddings: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.nn.functional.normalize(embeddings[:, :dim], dim=-1)


def with_matryoshka(loss: ContrastiveLoss, dims: tuple[int, ...]) -> ContrastiveLoss:
    """`loss` itself, or the Matryoshka sum of it over `dims` when any are given."""
    return MatryoshkaLoss(loss, dims) if dims else loss
