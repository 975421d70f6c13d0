"""Put the latest figures (bench/results/*.json) into bench/README.md between its markers.

    python -m bench.report
"""
from __future__ import annotations

import json
import re

from .common import RESULTS, ROOT

README = ROOT / "bench" / "README.md"
ORDER = ["steady", "steady-tick0.25", "steady-50per_s", "burst", "tick_scaling", "api"]
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def figures() -> str:
    parts = []
    found = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
    for name in ORDER:
        for setup in ("scaled", "embedded"):
            data = found.get(f"{name}-{setup}")
            if not data:
                continue
            m = data["machine"]
            title, *lines = data["table"].strip().splitlines()
            parts.append(f"**{title}** — {m['date']}\n\n" + "\n".join(lines))
    return "\n\n".join(parts)


def main():
    text = README.read_text()
    new = re.sub(re.escape(START) + ".*?" + re.escape(END),
                 lambda _: f"{START}\n\n{figures()}\n\n{END}", text, flags=re.S)
    README.write_text(new)
    print(f"updated {README.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
