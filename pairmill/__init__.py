"""pairmill: mine contrastive text and code pairs from public dumps and train embeddings on them."""

__version__ = "0.1.0"
