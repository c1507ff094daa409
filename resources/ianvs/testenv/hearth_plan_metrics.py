"""Hearth's planning metrics as KubeEdge-Ianvs metric functions.

Ianvs loads this file (testenv.yaml gives its path for each metric), then asks Sedna's
ClassFactory for the function registered under the metric's name and calls it as
`metric(y_true, y_pred)`: y_true are the test set's "answer" fields (the reference plans, as
JSON text), y_pred the paradigm's inference results (the planner's raw outputs). The numbers
are those of agent/planbench/metrics.py, where each decision is explained.

Without Sedna installed (Hearth's own tests), registration falls back to a decorator that only
records the name, so the module imports and the functions can be called directly.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from sedna.common.class_factory import ClassFactory, ClassType
except ImportError:  # not inside Ianvs
    class ClassType:  # type: ignore[no-redef]
        GENERAL = "general"

    class ClassFactory:  # type: ignore[no-redef]
        """Stand-in for Sedna's: records what would have been registered, changes nothing."""

        __registry__: dict[str, dict[str, object]] = {}

        @classmethod
        def register(cls, type_name=ClassType.GENERAL, alias=None):
            def wrapper(obj):
                cls.__registry__.setdefault(type_name, {})[alias or obj.__name__] = obj
                return obj

            return wrapper

# This file lives in <hearth>/resources/ianvs/testenv/; Ianvs reaches it through a link
# (examples/hearth_plan), so resolve() to find the Hearth checkout and import its metrics.
_HEARTH = Path(__file__).resolve().parents[3]
if (_HEARTH / "agent" / "planbench" / "metrics.py").is_file() and str(_HEARTH) not in sys.path:
    sys.path.insert(0, str(_HEARTH))

from agent.planbench import metrics as _m  # noqa: E402

__all__ = ["rouge1", "rouge2", "bertscore_f1", "node_f1", "edge_f1", "arg_name_f1",
           "arg_value_f1", "validity"]


@ClassFactory.register(ClassType.GENERAL, alias="rouge1")
def rouge1(y_true, y_pred):
    """ROUGE-1 F of the plans' steps (joined with newlines, stemmed), averaged over samples."""
    return _m.ianvs_rouge1(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="rouge2")
def rouge2(y_true, y_pred):
    """ROUGE-2 F of the plans' steps, averaged over samples."""
    return _m.ianvs_rouge2(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="bertscore_f1")
def bertscore_f1(y_true, y_pred):
    """BERTScore F1 of the steps with the offline all-MiniLM-L6-v2 encoder (layer 6)."""
    return _m.ianvs_bertscore_f1(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="node_f1")
def node_f1(y_true, y_pred):
    """F1 of the task names (multisets), averaged over samples."""
    return _m.ianvs_node_f1(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="edge_f1")
def edge_f1(y_true, y_pred):
    """F1 of the (dependency's task, task) links (multisets), averaged over samples."""
    return _m.ianvs_edge_f1(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="arg_name_f1")
def arg_name_f1(y_true, y_pred):
    """F1 of (task, argument name) pairs, averaged over samples."""
    return _m.ianvs_arg_name_f1(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="arg_value_f1")
def arg_value_f1(y_true, y_pred):
    """F1 of (task, argument name, value); <GENERATED>-N compared as the producing task's name."""
    return _m.ianvs_arg_value_f1(y_true, y_pred)


@ClassFactory.register(ClassType.GENERAL, alias="validity")
def validity(y_true, y_pred):
    """Share of outputs that parse, use only Hearth's experts and keep the graph rules."""
    return _m.ianvs_validity(y_true, y_pred)
