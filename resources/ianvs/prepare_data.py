"""Turn Hearth's Q2A test set into the JSON Lines an Ianvs test environment reads.

Ianvs' loaders take a "question" and an "answer" field from each line. Here the question is the
sample as the planner sees it (JSON text: id, scenario, instruction, attachments) and the answer
is the reference plan (JSON text: steps and tasks), which the metric functions receive as y_true.

    python prepare_data.py [--input Q2A.jsonl] [--output data/q2a_test_ianvs.jsonl]

The input defaults to resources/benchmark/q2a_test.jsonl of this Hearth checkout; its format is
the Q2A record of shared/spec/plan-format.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_INPUT = HERE.parent / "benchmark" / "q2a_test.jsonl"
DEFAULT_OUTPUT = HERE / "data" / "q2a_test_ianvs.jsonl"


def convert_record(record: dict) -> dict:
    for key in ("id", "instruction", "plan"):
        if key not in record:
            raise ValueError(f"a Q2A record has no {key!r}: {json.dumps(record)[:120]}")
    plan = record["plan"]
    if not isinstance(plan, dict) or not isinstance(plan.get("tasks"), list):
        raise ValueError(f"record {record['id']}: 'plan' must be an object with a 'tasks' list")
    question = {"id": record["id"], "scenario": record.get("scenario", ""),
                "instruction": record["instruction"],
                "attachments": list(record.get("attachments", []))}
    answer = {"steps": list(plan.get("steps", [])), "tasks": plan["tasks"]}
    return {"id": record["id"], "scenario": question["scenario"],
            "question": json.dumps(question, ensure_ascii=False),
            "answer": json.dumps(answer, ensure_ascii=False)}


def convert(src: Path, dst: Path) -> int:
    lines = [line for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [convert_record(json.loads(line)) for line in lines]
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(dst, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not args.input.is_file():
        print(f"No Q2A test set at {args.input}", file=sys.stderr)
        return 1
    n = convert(args.input, args.output)
    print(f"{n} samples -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
