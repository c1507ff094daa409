"""Writes a plan through a guided session: the JSON skeleton is forced, the model only chooses.

The same plans agent/plan_grammar.py admits, minus its freedom over whitespace, plus one rule
the grammar can't express: as many tasks as steps (one expert call per step, as the spec
says). The model chooses each step's words, how many steps, each task's expert among the
usable ones, its dependencies among earlier tasks, a file of the right kind, and for a text
argument either free text or the output of an earlier task. Everything else is forced.
Options run on to the next choice so they are tokenized as the model writes them (`"],` is
one token; offering `"]` alone made the model never end the list of steps).
"""

from __future__ import annotations

import json

from agent.plan import FILE_KINDS

TASKS_START = '"], "tasks": [{"task": "'


def dep_options(k: int) -> list[str]:
    """`dep` lists for task k: none, one earlier task, or two."""
    out = ["-1"] + [str(j) for j in range(k)]
    out += [f"{i}, {j}" for i in range(k) for j in range(i + 1, k)]
    return out


def write_plan(session, tools: dict[str, dict[str, str]], files: dict[str, str],
               max_tasks: int) -> None:
    usable = {name: args for name, args in tools.items()
              if all(kind not in FILE_KINDS or kind in files.values() for kind in args.values())}
    session.force('{"steps":')
    if not usable or session.select([' [], "tasks": []}', ' ["']) == 0:
        return
    steps = 1
    session.free()
    while steps < max_tasks and session.select([TASKS_START, '", "']) == 1:
        session.free()
        steps += 1
    if steps == max_tasks:
        session.force(TASKS_START)
    names = list(usable)
    for k in range(steps):
        name = names[session.select([f'{n}", "id": {k}, "dep": [' for n in names])]
        args = list(usable[name].items())
        session.select([f'{d}], "args": {{"{args[0][0]}":' for d in dep_options(k)])
        end = '}}, {"task": "' if k < steps - 1 else "}}]}"
        for i, (arg, kind) in enumerate(args):
            # values start with ` "`: the token the model writes after `":`
            after = end if i == len(args) - 1 else f', "{args[i + 1][0]}":'
            if kind in FILE_KINDS:
                choices = [n for n, fk in files.items() if fk == kind]
                session.select([" " + json.dumps(n, ensure_ascii=False) + after for n in choices])
                continue
            refs = [f' "<GENERATED>-{j}"{after}' for j in range(k)]
            if refs and session.select(refs, free_if=session.opens) >= 0:
                continue
            if not refs:
                session.force(' "')
            session.free(banned=session.angle)
            session.force('"' + after)
