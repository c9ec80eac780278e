"""Where the benchmarks write: ``bench/results/<name>.md`` (printed too) and ``<name>.json``."""
from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def write_results(name: str, payload: dict, text: str, out: Path = RESULTS) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (out / f"{name}.md").write_text(text if text.endswith("\n") else text + "\n")
    print(text)
