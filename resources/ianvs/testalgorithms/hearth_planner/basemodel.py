"""Hearth's planner as an Ianvs base model for the single-task-learning paradigm.

Ianvs calls train() (nothing to train here), save(), load() and then predict() with the test
set's questions: JSON text {"id", "scenario", "instruction", "attachments"} made by
../../prepare_data.py. predict() returns the planner's raw output for each, which the metric
functions score against the reference plans.

Two ways to get the outputs (hyperparameters in hearth_planner_algorithm.yaml, or environment
variables of the same meaning):
- predictions / HEARTH_IANVS_PREDICTIONS: a JSON Lines file of {"id": ..., "output": "..."}
  from a Hearth planning run, replayed by id. A sample missing from it gets "" (scored invalid).
- planner / HEARTH_IANVS_PLANNER: "package.module:function", imported and called as
  function(instruction, attachments) -> raw plan text, to plan live inside Ianvs.
"""

from __future__ import annotations

import importlib
import json
import os

try:
    from sedna.common.class_factory import ClassFactory, ClassType
except ImportError:  # not inside Ianvs
    class ClassType:  # type: ignore[no-redef]
        GENERAL = "general"

    class ClassFactory:  # type: ignore[no-redef]
        @classmethod
        def register(cls, type_name=ClassType.GENERAL, alias=None):
            return lambda obj: obj

__all__ = ["BaseModel"]


@ClassFactory.register(ClassType.GENERAL, alias="hearth_planner")
class BaseModel:
    def __init__(self, **kwargs):
        self.predictions = kwargs.get("predictions") or os.environ.get("HEARTH_IANVS_PREDICTIONS", "")
        self.planner = kwargs.get("planner") or os.environ.get("HEARTH_IANVS_PLANNER", "")
        if not self.predictions and not self.planner:
            raise ValueError("Give the hearth_planner base model `predictions` (a JSON Lines "
                             "file of planner outputs) or `planner` (module:function).")
        self._outputs: dict[str, str] | None = None
        self._plan = None

    def train(self, train_data, valid_data=None, **kwargs):
        return None  # the planner is a prompted language model; nothing is trained here

    def save(self, model_path=None):
        return None

    def load(self, model_url=None):
        if self.predictions:
            outputs = {}
            with open(self.predictions, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        row = json.loads(line)
                        out = row.get("output", "")
                        outputs[str(row["id"])] = out if isinstance(out, str) else json.dumps(out)
            self._outputs = outputs
        else:
            module, _, name = self.planner.partition(":")
            self._plan = getattr(importlib.import_module(module), name)

    def predict(self, data, input_shape=None, **kwargs):
        if self._outputs is None and self._plan is None:
            self.load()
        results, missing = [], 0
        for question in data:
            sample = json.loads(str(question))
            if self._outputs is not None:
                output = self._outputs.get(str(sample["id"]))
                if output is None:
                    missing += 1
                    output = ""
            else:
                output = self._plan(sample["instruction"], list(sample.get("attachments", [])))
            results.append(output)
        if missing:
            print(f"hearth_planner: {missing} of {len(results)} samples have no output in "
                  f"{self.predictions}; they score as invalid, empty plans.")
        return results
