"""Pictures of the benchmark results (matplotlib, a dev dependency), drawn from bench/results/*.json.

``make bench-report`` (and so ``make bench``) calls :func:`draw`; each picture is drawn only when its
results file exists, and RESULTS.md links the ones that were drawn. PNG files live in bench/.
"""

from __future__ import annotations

import json
from pathlib import Path

from common import RESULTS_DIR, ROOT

PICTURES_DIR = ROOT / "bench"
SEARCH_PNG = PICTURES_DIR / "search-latency.png"
EXPORTS_PNG = PICTURES_DIR / "exports-rows-per-second.png"


def _search(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = {int(size): timings for size, timings in json.loads(path.read_text()).items()}
    sizes = sorted(results)
    labels = [timing["label"] for timing in results[sizes[-1]]]
    figure, axis = plt.subplots(figsize=(9, 0.28 * len(labels) + 1.5))
    height = 0.8 / len(sizes)
    for offset, size in enumerate(sizes):
        positions = [index + offset * height for index in range(len(labels))]
        axis.barh(positions, [t["p50_ms"] for t in results[size]], height=height, label=f"p50, {size:,} invoices")
    axis.axvline(10, color="black", linestyle="--", linewidth=1, label="target p50 10 ms")
    axis.set_yticks([index + height * (len(sizes) - 1) / 2 for index in range(len(labels))], labels, fontsize=7)
    axis.invert_yaxis()
    axis.set_xlabel("ms per list call (one client, gunicorn)")
    axis.set_title("List filters and search: p50 latency")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(SEARCH_PNG, dpi=110)
    plt.close(figure)
    return SEARCH_PNG


def _exports(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(path.read_text())
    size = max(results, key=int)
    methods = results[size]
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(methods) + 1.5))
    axis.barh(list(methods), list(methods.values()), color="tab:blue")
    axis.invert_yaxis()
    axis.set_xlabel(f"rows/s at {int(size):,} invoices (same run)")
    axis.set_title("Export methods: rows per second")
    axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    figure.savefig(EXPORTS_PNG, dpi=110)
    plt.close(figure)
    return EXPORTS_PNG


def draw() -> list[Path]:
    """Draw every picture whose results exist; return the files written."""
    drawn = []
    for name, painter in (("search.json", _search), ("exports.json", _exports)):
        source = RESULTS_DIR / name
        if source.exists():
            drawn.append(painter(source))
    return drawn


if __name__ == "__main__":
    for picture in draw():
        print(f"wrote {picture.relative_to(ROOT)}")
