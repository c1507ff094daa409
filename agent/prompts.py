"""Prompts are data: resources/prompts/NAME.yaml, read with importlib.resources."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml


@cache
def load_prompt(name: str) -> dict:
    text = (resources.files("resources") / "prompts" / f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)
