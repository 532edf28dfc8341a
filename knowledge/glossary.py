"""A team's domain vocabulary (product names, acronyms) from prompts/glossary.yaml."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml


@cache
def load_hotwords(path: Path) -> tuple[str, ...]:
    """All terms of the glossary file, in file order; empty when the file is absent."""
    if not path.exists():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    terms: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, str):
            terms.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for key in ("terms", "hotwords"):
                if key in node:
                    walk(node[key])
            for key, value in node.items():
                if key not in ("terms", "hotwords", "description") and isinstance(value, dict):
                    walk(value)

    walk(data)
    return tuple(dict.fromkeys(t.strip() for t in terms if t.strip()))
