"""A llama.cpp grammar (GBNF) that only admits valid plans for this request.

Written by hand instead of llama-cpp-python's JSON-schema converter because that converter's
whitespace rule is `" "?`: no newlines, which the Qwen coder models want between tasks (a
schema grammar made the 1.5B model stop after one step). Here whitespace is free (bounded),
task ids count up from 0, a task can only depend on earlier tasks (so the graph is acyclic by
construction), and a file argument can only name an attached file of the right kind. What the
grammar cannot say (every `<GENERATED>-N` inside a text argument is listed in `dep`) is checked
by `agent.plan.validate`.
"""

from __future__ import annotations

import json

from agent.plan import FILE_KINDS

WS = "ws ::= [ \\t\\n]{0,8}"
STRING = 'string ::= "\\"" ( [^"\\\\\\x00-\\x1f] | "\\\\" ["\\\\/bfnrt] ){0,200} "\\""'
# Free text for a text argument: no "<", so the only way to name another task's output is a
# whole `"<GENERATED>-N"` with N an earlier task.
PLAIN = 'plain ::= "\\"" ( [^"<\\\\\\x00-\\x1f] | "\\\\" ["\\\\/bfnrt] ){1,200} "\\""'


def _lit(text: str) -> str:
    """A GBNF literal matching exactly the JSON encoding of `text`."""
    encoded = json.dumps(text, ensure_ascii=False)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(name: str) -> str:
    return f'{_lit(name)} ws ":" ws'


def plan_grammar(tools: dict[str, dict[str, str]], files: dict[str, str], max_tasks: int = 6) -> str:
    """GBNF for a plan over `tools` (task -> {arg: kind}) and attached `files` (name -> kind).

    Tools whose file arguments have no attached file of their kind are left out.
    """
    usable = {name: args for name, args in tools.items()
              if all(kind not in FILE_KINDS or kind in files.values() for kind in args.values())}
    rules = [WS, STRING, PLAIN]
    for kind in FILE_KINDS:
        names = [n for n, k in files.items() if k == kind]
        if names:
            rules.append(f"file-{kind} ::= " + " | ".join(_lit(n) for n in names))

    def call(name: str, args: dict[str, str], k: int) -> str:
        """One tool call as task k: literal id k, dependencies below k."""
        if k == 0:
            dep = '"[" ws "-1" ws "]"'
        else:
            dep = (f'( "[" ws "-1" ws "]" | "[" ws below{k} ( ws "," ws below{k} ){{0,{k - 1}}} '
                   f'ws "]" )')
        values = ' ws "," ws '.join(
            f'{_key(arg)} {"file-" + kind if kind in FILE_KINDS else f"text{k}"}'
            for arg, kind in args.items())
        return (f'{_key("task")} {_lit(name)} ws "," ws {_key("id")} "{k}" ws "," ws '
                f'{_key("dep")} {dep} ws "," ws {_key("args")} "{{" ws {values} ws "}}"')

    # Tasks are unrolled so task k has the literal id k and depends only on ids below k:
    # ids always resolve and the graph is acyclic by construction.
    for k in range(max_tasks if usable else 0):
        if k == 0:
            rules.append("text0 ::= plain")
        else:
            rules.append(f"below{k} ::= " + " | ".join(f'"{j}"' for j in range(k)))
            rules.append(f'text{k} ::= plain | "\\"<GENERATED>-" below{k} "\\""')
        variants = " | ".join(call(name, args, k) for name, args in usable.items())
        rules.append(f'task{k} ::= "{{" ws ( {variants} ) ws "}}"')
    if usable:
        chain = ""
        for k in range(max_tasks - 1, 0, -1):
            chain = f'( ws "," ws task{k} {chain} )?'
        rules.append(f'tasks ::= "[" ws "]" | "[" ws task0 {chain} ws "]"')
    else:
        rules.append('tasks ::= "[" ws "]"')
    if usable:
        rules.append('steps ::= "[" ws "]" | "[" ws string ( ws "," ws string ){0,%d} ws "]"'
                     % (max_tasks - 1))
    else:
        rules.append('steps ::= "[" ws "]"')
    root = f'root ::= ws "{{" ws {_key("steps")} steps ws "," ws {_key("tasks")} tasks ws "}}"'
    return "\n".join([root, *rules]) + "\n"
