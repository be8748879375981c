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
LOAD_PNG = PICTURES_DIR / "load-memory.png"
# Reference lines of the memory picture. The service is sized for a 1 GB container (README: the old
# system needed several gigabytes, this one is built to run inside about 1 GB; MEMORY_ALERT_MB and
# GUNICORN_MAX_WORKER_MEMORY_MB are sized for it). Issue 14's target 5 is a warmed tree at rest
# (bench/monitoring.py's PSS_TARGET_MB), not under this load: drawn so the idle lines can be read against it.
CONTAINER_MB = 1024
WARM_TREE_TARGET_MB = 95
SETUP_COLOURS = {"before": "tab:red", "today": "tab:gray", "after": "tab:blue"}


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


def _load_memory(path: Path) -> Path:
    """PSS of the whole gunicorn tree over time, one line per setup of the same load run (bench/load.py).

    Each line ends when that setup's last in-flight request did; the legend sits under the axes
    because the old setup's curve fills the top of the plot.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(path.read_text())
    settings = results["settings"]
    figure, axis = plt.subplots(figsize=(9, 6.2))
    for key, setup in results["setups"].items():
        figures = setup["figures"]
        errors = figures.get("errors", 0)
        (line,) = axis.plot(
            [sample[0] for sample in setup["samples"]],
            [sample[1] for sample in setup["samples"]],
            color=SETUP_COLOURS.get(key),
            linewidth=1.4,
            label=f"{figures['label']}: peak {figures['peak_pss_mb']:.0f} MB"
            + (f", {errors} failed requests" if errors else ""),
        )
        axis.axhline(
            figures["idle_pss_mb"],
            color=line.get_color(),
            linestyle=":",
            linewidth=1,
            label=f"{key}: idle, before the load: {figures['idle_pss_mb']:.0f} MB",
        )
    axis.axhline(
        CONTAINER_MB,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"{CONTAINER_MB} MB: the 1 GB container the service is sized for",
    )
    axis.axhline(
        WARM_TREE_TARGET_MB,
        color="tab:green",
        linestyle="--",
        linewidth=1,
        label=f"issue 14, target 5: warmed tree at rest ≤ {WARM_TREE_TARGET_MB} MB (make bench-monitoring)",
    )
    axis.axvline(settings["duration_s"], color="dimgray", linestyle="-.", linewidth=0.8)
    axis.annotate(
        "clients stop starting requests;\nin-flight ones finish",
        (settings["duration_s"], 1),
        xycoords=("data", "axes fraction"),
        xytext=(4, -4),
        textcoords="offset points",
        fontsize=7,
        va="top",
        color="dimgray",
    )
    axis.set_xlim(left=0)
    axis.set_ylim(bottom=0)
    axis.set_xlabel("seconds since the load started")
    axis.set_ylabel("PSS of master + workers (MB)")
    axis.set_title(
        f"Whole-tree memory under the load mix: {settings['clients']} clients, {settings['rows']:,} invoices,"
        f" sampled every {settings['interval_s']} s",
        fontsize=10,
    )
    axis.grid(axis="y", linewidth=0.3)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.11), frameon=False)
    figure.tight_layout()
    figure.savefig(LOAD_PNG, dpi=110)
    plt.close(figure)
    return LOAD_PNG


def draw() -> list[Path]:
    """Draw every picture whose results exist; return the files written."""
    drawn = []
    for name, painter in (("search.json", _search), ("exports.json", _exports), ("load.json", _load_memory)):
        source = RESULTS_DIR / name
        if source.exists():
            drawn.append(painter(source))
    return drawn


if __name__ == "__main__":
    for picture in draw():
        print(f"wrote {picture.relative_to(ROOT)}")
