"""The report's charts, drawn with matplotlib's Agg backend (no display needed) as PNG bytes."""

from __future__ import annotations

import io

import numpy as np


def _figure(width: float = 7.5, height: float = 3.2, ncols: int = 1):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width, height), dpi=110, squeeze=False)
    return fig, list(axes[0])


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def horizontal_bars(values: dict[str, float], title: str, xlabel: str, log: bool = False) -> bytes:
    """One bar per label, largest on top."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, (ax,) = _figure(height=max(1.6, 0.35 * len(items) + 1.0))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#3b75af")
    for i, (_, v) in enumerate(items):
        ax.annotate(f"{v:,.0f}", (v, i), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
    if log:
        ax.set_xscale("log")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.15)
    return _png(fig)


def length_histograms(lengths: dict[str, dict[str, np.ndarray]]) -> bytes:
    """Characters per query and per document, one step line per task, log-spaced bins."""
    fig, axes = _figure(width=9, height=3.4, ncols=2)
    for ax, side in zip(axes, ("query", "document"), strict=True):
        values = [v[side] for v in lengths.values() if len(v[side])]
        top = max((int(v.max()) for v in values), default=1)
        bins = np.unique(np.geomspace(1, max(top, 2) + 1, 40).astype(int))
        for task, v in lengths.items():
            if len(v[side]):
                ax.hist(np.maximum(v[side], 1), bins=bins, histtype="step", linewidth=1.4,
                        label=task)
        ax.set_xscale("log")
        ax.set_title(f"{side} length", fontsize=10)
        ax.set_xlabel("characters")
        ax.set_ylabel("pairs")
    axes[1].legend(fontsize=7, loc="upper right")
    return _png(fig)


def cluster_sizes(histogram: dict[str, int]) -> bytes:
    """How many survivors stood for 1, 2, 3, ... pairs (log scale: most stand for one)."""
    sizes = sorted((int(k), v) for k, v in histogram.items())
    fig, (ax,) = _figure()
    ax.bar([str(k) for k, _ in sizes], [v for _, v in sizes], color="#c0504d")
    ax.set_yscale("log")
    ax.set_title("dedup cluster sizes (pairs a kept pair stands for)", fontsize=10)
    ax.set_xlabel("cluster size")
    ax.set_ylabel("kept pairs")
    return _png(fig)


def mixture(probabilities: dict[float, dict[str, float]]) -> bytes:
    """Task probabilities p_i ∝ n_i^α, one group of bars per task, one bar per α."""
    alphas = sorted(probabilities)
    tasks = sorted(next(iter(probabilities.values())))
    fig, (ax,) = _figure(height=max(2.0, 0.5 * len(tasks) + 1.2))
    width = 0.8 / len(alphas)
    y = np.arange(len(tasks))
    for i, alpha in enumerate(alphas):
        ax.barh(y + i * width, [probabilities[alpha][t] for t in tasks], height=width,
                label=f"α = {alpha:g}")
    ax.set_yticks(y + width * (len(alphas) - 1) / 2, tasks)
    ax.set_xlabel("probability that a batch comes from the task")
    ax.set_title("mixture: p_i ∝ rows_i^α", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def training_curves(steps: list[dict]) -> tuple[bytes, bytes]:
    """(loss per step with a moving average, throughput per step)."""
    x = np.array([s["step"] for s in steps])
    fig, (ax,) = _figure()
    loss = np.array([s["loss"] for s in steps], dtype=np.float64)
    for task in sorted({s["task"] for s in steps}):
        mask = np.array([s["task"] == task for s in steps])
        ax.plot(x[mask], loss[mask], ".", markersize=4, alpha=0.6, label=task)
    window = max(3, len(steps) // 20)
    if len(steps) >= 3 * window:
        smooth = np.convolve(loss, np.ones(window) / window, mode="valid")
        ax.plot(x[window - 1:], smooth, color="black", linewidth=1.2, label=f"mean of {window}")
    ax.set_title("training loss", fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7)
    loss_png = _png(fig)

    fig, (left,) = _figure()
    left.plot(x, [s.get("pairs_per_s", 0) for s in steps], color="#3b75af", linewidth=1)
    left.set_ylabel("pairs / s", color="#3b75af")
    right = left.twinx()
    right.plot(x, [s.get("tokens_per_s", 0) for s in steps], color="#c0504d", linewidth=1)
    right.set_ylabel("tokens / s", color="#c0504d")
    left.set_xlabel("step")
    left.set_title("throughput", fontsize=10)
    return loss_png, _png(fig)
