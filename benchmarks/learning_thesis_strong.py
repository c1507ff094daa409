"""One stronger night on all the teacher's accepted labels (lr 1e-3, 2 epochs, no replay),
evaluated like the thesis nights: does more training move SmolLM2's test scores at all?

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/learning_thesis_strong.py
(needs docs/learning/thesis/labels.jsonl from `learning_thesis.py label`)."""
import json
import sys
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
_, trained["evaluation"] = T.timed_evaluate(Path(trained["adapter"]), records, d / "eval",
                                            label="smollm2-135m + strong night")
(d / "night.json").write_text(json.dumps(trained, indent=2) + "\n")
print(json.dumps(trained["evaluation"]), flush=True)
