#!/usr/bin/env python3
"""Quick bench mode: each hot path's median beside its floor, as a ratio.

    python3 scripts/bench-ratios.py [--seconds S]

Runs the criterion benches that have a floor (short warm-up and measurement, release build),
reads criterion's estimates and prints, for every pair, hot median / floor median. Absolute
times on a shared CI machine are noise; the ratio of two benches measured one after the other
on the same machine is what the issues set targets for. A ratio past its limit fails the run:
the limits sit at about twice the targets, so a real regression trips them and the noise of
a one-second measurement does not. Ratios over target but under the limit are marked.
Called by scripts/test.sh.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (crate, bench target, hot id, floor id, target ratio, limit that fails the run)
PAIRS = [
    ("jsm-sso-xmldsig", "xmldsig", "xmldsig/verify/small", "xmldsig/floor/small", 1.5, 3.0),
    ("jsm-sso-xmldsig", "xmldsig", "xmldsig/verify/medium", "xmldsig/floor/medium", 1.5, 3.0),
    ("jsm-sso-xmldsig", "xmldsig", "xmldsig/verify/large", "xmldsig/floor/large", 1.5, 3.5),
    ("jsm-sso-oidc", "oidc", "oidc/validate/rs256", "oidc/floor/rs256", 1.3, 2.6),
    ("jsm-sso-oidc", "oidc", "oidc/validate/es256", "oidc/floor/es256", 1.3, 2.6),
    ("jsm-sso-oidc", "oidc", "oidc/validate/eddsa", "oidc/floor/eddsa", 1.3, 2.6),
    ("jsm-sso-saml", "saml", "saml/validate/typical", "saml/floor/typical", 2.0, 4.0),
]


def target_dir() -> Path:
    env = os.environ.get("CARGO_TARGET_DIR")
    return Path(env) if env else ROOT / "target"


def medians_ns() -> dict[str, float]:
    """Criterion's median per bench id. Criterion turns ids into directory names its own way
    (`oidc/validate/rs256` -> `oidc_validate_rs256`), so read the id from each
    `new/benchmark.json` rather than guessing the directory."""
    medians = {}
    for meta in (target_dir() / "criterion").glob("**/new/benchmark.json"):
        try:
            full_id = json.loads(meta.read_text())["full_id"]
            estimates = json.loads((meta.parent / "estimates.json").read_text())
            medians[full_id] = estimates["median"]["point_estimate"]
        except (OSError, KeyError, ValueError):
            continue
    return medians


def run_benches(seconds: float) -> None:
    benches: dict[tuple[str, str], list[str]] = {}
    for crate, bench, hot, floor, _, _ in PAIRS:
        benches.setdefault((crate, bench), []).extend([hot, floor])
    for (crate, bench), ids in benches.items():
        if not (ROOT / "crates" / crate / "benches" / f"{bench}.rs").exists():
            print(f"{crate}: no bench target {bench}", file=sys.stderr)
            sys.exit(1)
        pattern = "^(" + "|".join(ids) + ")$"
        command = [
            "cargo", "bench", "--quiet", "-p", crate, "--bench", bench, "--",
            "--warm-up-time", str(seconds / 2), "--measurement-time", str(seconds),
            "--noplot", pattern,
        ]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="criterion measurement time per bench (default 1)")
    parser.add_argument("--report-only", action="store_true",
                        help="read the last run's estimates without running the benches")
    args = parser.parse_args()
    if not args.report_only:
        run_benches(args.seconds)
    medians = medians_ns()

    failed = []
    print(f"\n{'hot path':28} {'median':>11} {'floor':>11} {'ratio':>6} {'target':>7} {'limit':>6}")
    for _, _, hot, floor, target, limit in PAIRS:
        hot_ns, floor_ns = medians.get(hot), medians.get(floor)
        if hot_ns is None or floor_ns is None or floor_ns <= 0:
            print(f"{hot:28} no estimate (did the bench id change?)")
            failed.append(hot)
            continue
        ratio = hot_ns / floor_ns
        mark = "" if ratio <= target else ("  over target" if ratio <= limit else "  OVER LIMIT")
        print(f"{hot:28} {hot_ns / 1000:9.1f}µs {floor_ns / 1000:9.1f}µs {ratio:6.2f} "
              f"{target:6.1f}x {limit:5.1f}x{mark}")
        if ratio > limit:
            failed.append(hot)
    if failed:
        print(f"bench ratios past their limit: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
