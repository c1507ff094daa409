"""One stronger night on all the teacher's accepted labels (lr 1e-3, 2 epochs, no replay),
evaluated like the thesis nights: does more training move SmolLM2's test scores at all?

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_thesis_strong.py
(needs docs/learning/thesis/labels.jsonl from `learning_thesis.py label`)."""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks")); sys.path.insert(0, str(ROOT))
import learning_thesis as T
from agent.planbench.runner import load_records
T.use_scratch_home(Path("/tmp/hearth-thesis-strong"))
labels = T.read_labels()
accepted = [{"id": r["id"], "scenario": r["scenario"], "instruction": r["instruction"],
             "attachments": r["attachments"], "plan": r["plan"]} for r in labels if r["plan"] is not None]
d = T.OUT / "night-strong"; d.mkdir(parents=True, exist_ok=True)
trained = T.train_night(accepted, "night-strong", replay_ratio=0.0,
                        overrides={"lr": 1e-3, "epochs": 2.0, "nice": 0})
trained.update(n_labels=len(accepted))
(d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
print(json.dumps({k: trained[k] for k in ("n_examples", "n_sequences", "wall_seconds", "losses")}), flush=True)
records, _ = load_records("test")
t0 = time.perf_counter(); before = T.load_average()
summary = T.evaluate(Path(trained["adapter"]), records, d / "eval", label="smollm2-135m + strong night")
trained["evaluation"] = {"wall_seconds": round(time.perf_counter() - t0, 1),
                         "load_average": {"before": before, "after": T.load_average()}, "scores": T.scores(summary)}
(d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
print(json.dumps(trained["evaluation"]), flush=True)
