"""The `sanke` command: serve, demo, token, bench."""

from __future__ import annotations

import argparse
import importlib
import sys

BENCHES = {
    "media": "loadtest.bench_media",
    "schedule": "scheduler.bench",
    "recorder": "recorder.bench",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        if len(argv) < 2 or argv[1] not in BENCHES:
            print(f"usage: sanke bench {{{','.join(BENCHES)}}} [options]", file=sys.stderr)
            return 2
        module = importlib.import_module(BENCHES[argv[1]])
        return int(module.main(argv[2:]) or 0)
    parser = argparse.ArgumentParser(prog="sanke")
    parser.add_subparsers(dest="command", required=True)
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
