"""One night of learning: labelled examples → a job → the training process → an adapter.

The training runs in a separate, low-priority process (`python -m sync.learning.train`), so
the app's own process never loads torch for it, a memory blow-up can't take the app down, and
a kill (the machine wakes up, the user quits) only loses the steps since the last checkpoint:
`resume()` picks the unfinished job up where it stopped. The active adapter (active.json) is
changed only by `activate()`, after the adapter file has been checked; a night that is
killed, fails or is skipped leaves it untouched.

A night can start from an earlier night's adapter (`prepare(start_from=…)`; the app passes
the active one) instead of from nothing, so what the nights learn adds up; replay still mixes
earlier examples in, so tonight's batch does not pull the adapter away from them.

Layout under <data folder>/learning/: nights/<id>/ (job, log, checkpoint, result),
adapters/<id>.gguf (+ .json, + .lora.pt: the weights a later night starts from),
general/<model>.jsonl (the base model's general answers), seen.jsonl (examples of earlier nights, for replay), history.jsonl (one line per night),
active.json.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from memory import paths
from sync.learning import examples as ex
from sync.learning import gguf_lora, train
from sync.labels import ROLES
from sync.learning.hf_twin import TwinError

MIN_EXAMPLES = 4
ROOT = Path(__file__).resolve().parents[2]


class LearningError(RuntimeError):
    """A night could not run; the message says why and what is left as it was."""


@dataclass
class NightResult:
    night: str
    status: str  # done | skipped | failed | memory | killed | cancelled
    reason: str = ""
    model: str = ""  # the registry id of the base model
    n_examples: int = 0
    by_role: dict[str, int] = field(default_factory=dict)  # examples per agent role
    n_sequences: int = 0
    skipped_records: list[dict] = field(default_factory=list)
    adapter: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: float | None = None
    losses: list[float] = field(default_factory=list)
    resumed_from: int | None = None
    started_from: str | None = None  # the night whose adapter this one continued
    start_note: str | None = None  # why it started fresh although asked to continue
    role: str = ""  # the agent role whose adapter this night trained (planner, summarizer)
    kept: bool = False  # this night's adapter became the active one (for `roles`)
    roles: list[str] = field(default_factory=list)  # the agent roles that took it
    gate: dict[str, Any] | None = None  # sync.learning.gate: scores before/after, decision

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def learning_dir() -> Path:
    path = paths.user_dir() / "learning"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _now_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")


def prepare(records: Sequence[dict], model_path: Path | str, config: train.TrainConfig, *,
            night: str | None = None, min_examples: int = MIN_EXAMPLES,
            general: int | None = None, general_ratio: float = 0.25,
            replay_ratio: float = 0.25, start_from: Path | str | None = None,
            extra: dict | None = None,
            answers: Sequence[dict] = ()) -> tuple[Path | None, NightResult]:
    """Build tonight's job folder. Returns (job folder, result so far); the folder is None when
    the night is skipped (too few usable examples), with the reason in the result.
    `records`: planner records; `answers`: summarizer records (source.answer_records).
    `start_from`: an adapter (adapters/<night>.gguf) whose weights the training starts from."""
    from agent.llama_cpp_llm import LlamaCppLLM

    night = night or _now_id()
    t0 = time.perf_counter()
    plans = ex.planner_examples(ex.dedupe(records))
    replies = ex.answer_examples(answers)
    examples = plans.examples + list({e.key: e for e in replies.examples}.values())
    built = ex.Built(examples, plans.skipped + replies.skipped)
    result = NightResult(night, "prepared", n_examples=len(built.examples),
                         skipped_records=built.skipped,
                         by_role={"planner": len(plans.examples),
                                  "summarizer": len(built.examples) - len(plans.examples)})
    if len(built.examples) < min_examples:
        result.status = "skipped"
        result.reason = (f"{len(built.examples)} usable examples, fewer than the {min_examples} "
                         f"a night needs ({len(built.skipped)} of "
                         f"{len(records) + len(answers)} records left out); nothing was trained.")
        return None, result
    model_path = Path(model_path)
    questions = ex.general_questions()
    # answers are made only for the questions tonight uses (each costs a generation)
    wanted = general if general is not None else max(1, round(general_ratio * len(built.examples)))
    questions = random.Random(config.seed).sample(questions, min(wanted, len(questions)))
    llm = LlamaCppLLM(model_path, n_ctx=1024)
    try:
        general_examples = ex.general_examples(
            llm, questions, cache=learning_dir() / "general" / f"{model_path.stem}.jsonl")
    finally:
        llm.close()
    t1 = time.perf_counter()
    seen_path = learning_dir() / "seen.jsonl"
    kinds = {e.kind for e in built.examples}  # a role's adapter replays that role's examples
    replay = [e for e in ex.read_examples(seen_path) if e.kind in kinds]
    chosen = ex.mix(built.examples, general_examples, replay,
                    general_ratio=len(general_examples) / len(built.examples),
                    replay_ratio=replay_ratio, seed=config.seed)
    tokenizer = ex.ChatTokenizer(model_path)
    try:
        sequences = [tokenizer.encode(e) for e in chosen]
    finally:
        tokenizer.close()
    job_dir = learning_dir() / "nights" / night
    init = {}
    if start_from is not None:
        state = lora_state_of(Path(start_from))
        if state.is_file():
            init = {"init": str(state)}
        else:  # an adapter from before nights kept their weights, or its file was removed
            result.start_note = (f"{Path(start_from).stem}'s training weights are not on disk "
                                 f"(only its adapter), so tonight starts fresh.")
    train.write_job(job_dir, model_path, config, sequences,
                    extra={**(extra or {}), **init, "night": night,
                           "task_examples": [e.to_dict() for e in built.examples]})
    result.n_sequences = len(sequences)
    result.seconds = {"general_answers": round(t1 - t0, 2),
                      "prepare": round(time.perf_counter() - t0, 2)}
    return job_dir, result


def _training_env() -> dict[str, str]:
    return {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false",
            # oneDNN keeps kernels per matrix shape, and every batch brings new lengths: RSS
            # crept ~70 MiB a step with its default cache, ~30 with 16 (docs/learning.md)
            "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "16"}


def run_training(job_dir: Path, *, timeout: float | None = None,
                 on_step: Callable[[dict], None] | None = None,
                 poll_s: float = 1.0) -> subprocess.CompletedProcess:
    """The training process for a job (resumes from its checkpoint if it has one).
    `on_step` gets each new line of the job's step log ({"step", "of", "loss", ...})."""
    log_path = job_dir / train.LOG
    seen = len(log_path.read_text(encoding="utf-8").splitlines()) if log_path.is_file() else 0

    def new_steps() -> None:
        nonlocal seen
        if on_step is None or not log_path.is_file():
            return
        lines = log_path.read_text(encoding="utf-8").splitlines()
        for line in lines[seen:]:
            try:
                on_step(json.loads(line))
            except json.JSONDecodeError:  # a line being written: read it next time
                return
            seen += 1

    proc = subprocess.Popen([sys.executable, "-m", "sync.learning.train", str(job_dir)],
                            cwd=ROOT, env=_training_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=poll_s)
                break
            except subprocess.TimeoutExpired:
                new_steps()
                if deadline is not None and time.monotonic() > deadline:
                    proc.kill()  # the checkpoint stays for resume()
                    proc.communicate()
                    return subprocess.CompletedProcess(
                        proc.args, -9, "", f"The training ran past its time limit of "
                                           f"{timeout:.0f} s and was stopped.")
    except BaseException:  # the night itself is being stopped: don't leave the trainer behind
        proc.kill()
        proc.wait()
        raise
    new_steps()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def finish(job_dir: Path, result: NightResult, proc: subprocess.CompletedProcess, *,
           save: bool = True) -> NightResult:
    """Read the training result; keep a checked adapter under adapters/; record the night
    (unless `save` is False: the caller gates the adapter first and records it then)."""
    result_path = job_dir / train.RESULT
    trained = json.loads(result_path.read_text(encoding="utf-8")) if result_path.is_file() else {}
    if proc.returncode != 0 or trained.get("status") != "done":
        if proc.returncode == train.EXIT_MEMORY:
            result.status = "memory"
        elif proc.returncode < 0:
            result.status = "killed"
        else:
            result.status = "failed"
        result.reason = trained.get("error") or (proc.stderr or "").strip()[-500:] or \
            f"the training process ended with code {proc.returncode}"
        result.reason += " The active adapter is unchanged."
        result.peak_rss_mib = trained.get("peak_rss_mib")
        if save:
            record(result)
        return result
    job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
    adapter = adapter_of(result.night)
    adapter.parent.mkdir(parents=True, exist_ok=True)
    produced = job_dir / train.ADAPTER
    gguf_lora.check_adapter(produced, job["base"])
    os.replace(Path(str(produced) + gguf_lora.SIDECAR_SUFFIX),
               Path(str(adapter) + gguf_lora.SIDECAR_SUFFIX))
    os.replace(produced, adapter)
    if (job_dir / train.LORA_STATE).is_file():
        os.replace(job_dir / train.LORA_STATE, lora_state_of(adapter))
    # tonight's examples become replay material for later nights
    seen = learning_dir() / "seen.jsonl"
    old = {e.key: e for e in ex.read_examples(seen)}
    for e in job.get("task_examples", []):
        old[e["key"]] = ex.Example(**e)
    ex.write_examples(seen, list(old.values()))
    result.status = "done"
    result.adapter = str(adapter)
    result.losses = trained["losses"]
    result.resumed_from = trained.get("resumed_from")
    if trained.get("started_from"):
        result.started_from = Path(trained["started_from"]).name.removesuffix(LORA_SUFFIX)
    result.start_note = trained.get("start_note") or result.start_note
    result.peak_rss_mib = trained.get("peak_rss_mib")
    result.seconds.update({k: trained[k] for k in ("load_seconds", "train_seconds",
                                                    "convert_seconds", "cpu_seconds")
                           if k in trained})
    if save:
        record(result)
    return result


def run_night(records: Sequence[dict], model_path: Path | str,
              config: train.TrainConfig | None = None, *, timeout: float | None = None,
              **prepare_kwargs) -> NightResult:
    config = config or train.TrainConfig()
    job_dir, result = prepare(records, model_path, config, **prepare_kwargs)
    if job_dir is None:
        record(result)
        return result
    return finish(job_dir, result, run_training(job_dir, timeout=timeout))


def unfinished() -> list[Path]:
    """Job folders whose training never finished (killed, or the machine went off)."""
    nights = learning_dir() / "nights"
    out = []
    for job in sorted(nights.glob("*/" + train.JOB)) if nights.is_dir() else []:
        res = job.parent / train.RESULT
        status = json.loads(res.read_text(encoding="utf-8")).get("status") if res.is_file() else None
        if status != "done":
            out.append(job.parent)
    return out


def resume(job_dir: Path, *, timeout: float | None = None) -> NightResult:
    job = json.loads((job_dir / train.JOB).read_text(encoding="utf-8"))
    result = NightResult(job.get("night", job_dir.name), "prepared",
                         n_examples=len(job.get("task_examples", [])))
    return finish(job_dir, result, run_training(job_dir, timeout=timeout))


def record(result: NightResult) -> None:
    """Append the night to history.jsonl (what the learning window shows)."""
    line = {**result.to_dict(), "recorded": datetime.now(timezone.utc).isoformat()}
    with open(learning_dir() / "history.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")


def history() -> list[dict]:
    path = learning_dir() / "history.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _active() -> dict:
    """active.json's content ({} when nothing was ever activated)."""
    path = learning_dir() / "active.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _roles_of(data: dict) -> dict[str, Path | None]:
    # a file from before per-role activation: its one adapter served every role
    roles = data.get("roles") or {role: data.get("adapter") for role in ROLES}
    return {role: Path(roles[role]) if roles.get(role) else None for role in ROLES}


def active_adapter() -> Path | None:
    """The planner's adapter (active.json's one adapter from before adapters per role)."""
    adapter = _active().get("adapter")
    return Path(adapter) if adapter else None


def active_roles() -> dict[str, Path | None]:
    """Each agent role's adapter (None: the base model)."""
    return _roles_of(_active())


def _for_model(data: dict, model_path: Path | str) -> bool:
    return Path(data.get("base_model", "")).resolve() == Path(model_path).resolve()


def active_roles_for(model_path: Path | str) -> dict[str, Path | None]:
    """Each role's adapter for this model file; a role whose adapter is for another model or
    no longer on disk gets the base model."""
    try:
        data = _active()
    except ValueError:
        data = {}
    if not _for_model(data, model_path):
        return dict.fromkeys(ROLES)
    return {role: a if a is not None and a.is_file() else None
            for role, a in _roles_of(data).items()}


def adapter_of(night: str) -> Path:
    return learning_dir() / "adapters" / f"{night}.gguf"


LORA_SUFFIX = ".lora.pt"


def lora_state_of(adapter: Path) -> Path:
    """The trainable weights kept beside an adapter, for a later night to start from."""
    return adapter.with_name(adapter.name.removesuffix(".gguf") + LORA_SUFFIX)


def roles_of_night(night: str) -> list[str]:
    """The roles a night's adapter is for: the one it trained (every role for a night from
    before adapters per role)."""
    record = next((r for r in reversed(history()) if r.get("night") == night), {})
    return [record["role"]] if record.get("role") in ROLES else list(ROLES)


def rollback(night: str | None, base_model: Path | str) -> Path | None:
    """Make an earlier night's adapter the one its role uses (None: the base model for every
    role). Raises LearningError when that adapter is gone or damaged; the active one is kept
    then."""
    if night is None:
        activate(None, base_model)
        return None
    adapter = adapter_of(night)
    if not adapter.is_file():
        raise LearningError(f"Night {night} has no adapter on disk (it was not trained, or the "
                            f"file was removed); the active adapter is unchanged.")
    try:
        activate(adapter, base_model, roles=roles_of_night(night))
    except (gguf_lora.AdapterError, TwinError, OSError) as exc:
        raise LearningError(f"Night {night}'s adapter can't be used: {exc} The active adapter "
                            f"is unchanged.") from exc
    return adapter


def activate(adapter: Path | str | None, base_model: Path | str,
             roles: Sequence[str] = ROLES) -> None:
    """Make `adapter` the one `roles` use (None: the base model alone), after checking it fits
    `base_model`; the other roles keep theirs. The switch is one atomic file replace."""
    if adapter is not None:
        gguf_lora.check_adapter(adapter, base_model)
    try:
        old = _active()
    except ValueError:
        old = {}
    current = _roles_of(old) if _for_model(old, base_model) else dict.fromkeys(ROLES)
    current.update({role: Path(adapter) if adapter else None for role in roles})
    planner = current["planner"]  # "adapter": what a Hearth from before roles would load
    path = learning_dir() / "active.json"
    tmp = path.with_name("active.json.tmp")
    tmp.write_text(json.dumps({"adapter": str(planner) if planner else None,
                               "roles": {r: str(a) if a else None for r, a in current.items()},
                               "base_model": str(base_model),
                               "since": datetime.now(timezone.utc).isoformat()}) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """`python -m sync.learning.nightly [--model ID] [--data FILE] [--limit N] [--set K=JSON]`:
    one night now, on labelled records (default: the Q2A train split, standing in for the
    cloud's labels), printing the night's record. Nothing is gated or activated: the app's
    night (sync.learning.app_night) does that."""
    import argparse

    from app import offline

    offline.apply()
    parser = argparse.ArgumentParser(prog="python -m sync.learning.nightly")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--data", help="JSONL of {instruction, attachments, plan}")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    args = parser.parse_args(argv)
    from agent.model_registry import get_model
    from agent.planbench.runner import load_records

    records, _ = load_records("train" if args.data is None else None, args.data)
    if args.limit:
        records = records[:args.limit]
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = json.loads(value)
    result = run_night(records, get_model(args.model).resolve(),
                       train.TrainConfig.from_dict(overrides))
    print(json.dumps(result.to_dict(), indent=2))
    return 0 if result.status in ("done", "skipped") else 1


if __name__ == "__main__":
    raise SystemExit(main())
