"""`dlr config`: every setting with its environment variable, effective value,
default and help. Secret values are masked when set, and so is a password
inside a URL (scheme://user:password@host); nothing here reads more than the
environment."""

from __future__ import annotations

import json
import os
from typing import IO, Any

from streams.settings import SETTINGS, Setting, masked


def source(setting: Setting) -> str:
    return "env" if setting.env in os.environ else "default"


def rows() -> list[dict[str, Any]]:
    return [
        {"name": s.name, "env": s.env, "value": masked(s, s.value()), "source": source(s),
         "default": masked(s, s.default), "secret": s.secret, "help": s.help}
        for s in SETTINGS.values()
    ]


def show(out: IO[str], as_json: bool = False) -> int:
    table = rows()
    if as_json:
        json.dump(table, out, indent=2)
        out.write("\n")
        return 0
    width_name = max(len(r["name"]) for r in table)
    width_env = max(len(r["env"]) for r in table)
    width_value = max(len(_shown(r["value"])) for r in table)
    for r in table:
        origin = f"from env; default {_shown(r['default'])}" if r["source"] == "env" else "default"
        out.write(f"{r['name']:<{width_name}}  {r['env']:<{width_env}}  {_shown(r['value']):<{width_value}}"
                  f"  ({origin})\n")
        out.write(f"{'':<{width_name}}  {r['help']}\n")
    return 0


def _shown(value: str) -> str:
    return value if value else '""'
