"""Reading the knowledge base's YAML files (the C loader when PyYAML has it)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> Any:
    """The file's data: YAML has no schema, so `bot.py kb check` is what checks it."""
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)
