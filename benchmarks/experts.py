"""Per-expert latency, real-time factor and peak memory, on real weights and real inputs.

Each expert runs in its own child process so its peak RSS is its own (weights + one run).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/experts.py [--runs 10]

Inputs: ultralytics' bundled bus.jpg (4 people, a bus) and zidane.jpg (2 people, 2 faces),
and ~10 s of English speech made with espeak-ng.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEECH = ("Hearth keeps your notes on this computer. Tomorrow at nine I will call the plumber "
          "about the kitchen sink, then buy bread, milk and apples on the way home.")


def child(name: str, path: str, runs: int, variant: str | None) -> None:
    """Runs inside the child process: load, warm up, time `runs` calls, report as JSON."""
    import resource

    sys.path.insert(0, str(ROOT))
    from app import offline

    offline.apply()
    from experts.registry import ExpertRegistry, expert_class
    from memory.db import Database

    db = Database()
    if variant:
        expert = expert_class(name)(variant=variant)
    else:
        expert = ExpertRegistry(db).get(name)
    (arg,) = expert.inputs
    t0 = time.perf_counter()
    _ = expert.model
    load_s = time.perf_counter() - t0
    first = expert(**{arg: path})  # warm-up (first call pays one-time costs)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = expert(**{arg: path})
        times.append(time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"load_s": load_s, "first_s": first.seconds, "times": times, "peak_mb": peak_mb,
                      "found": summary(name, result.data)}))
    expert.close()
    db.close()


def summary(name: str, data: dict) -> str:
    from agent.expert_context import summarize

    return summarize(name, data)


def speech_file(folder: Path) -> tuple[Path, float]:
    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), SPEECH], check=True)
    import wave

    with wave.open(str(wav)) as w:
        return wav, w.getnframes() / w.getframerate()


def asset(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("ultralytics")
    return Path(list(spec.submodule_search_locations)[0]) / "assets" / name


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--child", nargs=4, metavar=("NAME", "FILE", "RUNS", "VARIANT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, path, runs, variant = args.child
        child(name, path, int(runs), None if variant == "-" else variant)
        return 0

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    work = Path(tempfile.mkdtemp(prefix="hearth-bench-"))
    env = dict(os.environ, HEARTH_HOME=str(work / "home"))
    wav, audio_s = speech_file(work)
    cases = [
        ("speech-to-text", wav, "english-fast", audio_s),
        ("speech-to-text", wav, "multilingual", audio_s),
        ("object-detection", asset("bus.jpg"), None, None),
        ("object-detection", asset("zidane.jpg"), None, None),
        ("pose-estimation", asset("bus.jpg"), None, None),
        ("pose-estimation", asset("zidane.jpg"), None, None),
        ("face-recognition", asset("zidane.jpg"), None, None),
        ("face-recognition", asset("bus.jpg"), None, None),
    ]
    rows = []
    for name, path, variant, seconds in cases:
        cmd = [sys.executable, __file__, "--child", name, str(path), str(args.runs), variant or "-"]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if out.returncode != 0:
            rows.append((name, variant, path.name, "FAILED: " + out.stderr.strip().splitlines()[-1]))
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        med = statistics.median(r["times"])
        rtf = f"{med / seconds:.3f}" if seconds else "–"
        rows.append((name, variant, path.name, f"{r['load_s']:.2f}", f"{r['first_s'] * 1000:.0f}",
                     f"{med * 1000:.0f}", f"{min(r['times']) * 1000:.0f}–{max(r['times']) * 1000:.0f}",
                     rtf, f"{r['peak_mb']:.0f}", r["found"]))

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"Machine: {cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
          f"runs per case: {args.runs} after one warm-up; speech: {audio_s:.1f} s of espeak-ng audio\n")
    print("| expert | variant | input | load s | first call ms | median ms | min–max ms | RTF | peak RSS MB | found |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        if len(row) == 4:
            print(f"| {row[0]} | {row[1] or ''} | {row[2]} | {row[3]} | | | | | | |")
        else:
            print("| " + " | ".join(str(c) if c is not None else "" for c in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
