"""`pairmill negatives` wiring: the trainer's miner with the dedup step's MinHash signatures, so
"near copy of the positive" means what it means in `pairmill dedup` (the trainer package does not
import the pipelines)."""

from __future__ import annotations

from functools import partial


def negatives_command(config) -> int:
    from .pipelines.configs import DedupConfig
    from .pipelines.minhash import signatures
    from .trainer.negatives import mine_negatives

    dedup = DedupConfig.__dataclass_fields__
    signer = partial(signatures, num_perm=dedup["num_perm"].default,
                     ngram=dedup["ngram"].default)
    return mine_negatives(config, signer if config.near_duplicate > 0 else None)
