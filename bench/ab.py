"""Side-by-side A/B of the SFU: a git revision against the working tree, runs alternating.

On these shared 2-core VMs the same code gives figures that drift by half within minutes, so
two versions are compared only by alternating runs of one scenario (old, new, old, new, ...)
and reading the pairs. The old revision is checked out in a temporary git worktree with its
own C fan-out built; each run is one `bench.sfu.run_scenario` in a fresh process. Prints
each run and the medians; writes nothing.

    flock /tmp/telessaude-bench.lock .venv/bin/python -m bench.ab HEAD~3 fanout 48 --pairs 4
    flock /tmp/telessaude-bench.lock .venv/bin/python -m bench.ab main rooms 10 --muted
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# One scenario in a fresh interpreter, importing `bench.sfu` from the given tree.
RUNNER = """
import json, sys
root, kind, n, window = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
sys.path.insert(0, root)
from bench import sfu
from tests.media.synthetic import make_clips
make_clips(sfu.CLIPS, seconds=10.0, gop_s=1.0)
specs = {"fanout": sfu.fanout, "rooms": sfu.rooms_1to1, "party": sfu.party}[kind](n)
print(json.dumps(sfu.run_scenario(f"{kind}_{n}", "forward", *specs, 3.0, window)))
"""

SHOWN = ("sfu_cpu_per_s", "us_per_forwarded_packet", "sfu_wakeups_per_s", "loadavg")


def run(tree: Path, kind: str, n: int, window: float, muted: bool) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "SFU_BENCH_MUTE"}
    if muted:
        env["SFU_BENCH_MUTE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tree), kind, str(n), str(window)],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("revision", help="the old side: any git revision")
    parser.add_argument("scenario", choices=["fanout", "rooms", "party"])
    parser.add_argument("n", type=int, help="subscribers (fanout), rooms or participants")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--muted", action="store_true", help="drop every packet at publication")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="telessaude-ab-") as scratch:
        old = Path(scratch) / "old"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(old), args.revision],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            subprocess.run(
                [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
                cwd=old,
                check=True,
                capture_output=True,
            )
            runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
            for _ in range(args.pairs):
                for side, tree in (("old", old), ("new", ROOT)):
                    result = run(tree, args.scenario, args.n, args.window, args.muted)
                    runs[side].append(result)
                    shown = {key: result.get(key) for key in SHOWN}
                    print(json.dumps({"side": side, **shown}), flush=True)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(old)], cwd=ROOT, check=False
            )
    key = "sfu_cpu_per_s" if args.muted else "us_per_forwarded_packet"
    for side, results in runs.items():
        values = [r[key] for r in results if r.get(key) is not None]
        median = statistics.median(values) if values else None
        print(f"{side}: {key} {values} median {median}")


if __name__ == "__main__":
    main()
