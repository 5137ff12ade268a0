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


def layered(folder: Path, pattern: str, overlay: Path | None = None) -> list[Path]:
    """The files matching `pattern` in the shipped `folder`, then in the operator's `overlay`
    folder (BOT_DATA_DIR: what the bureau owns, kept apart from the code)."""
    found = sorted(folder.glob(pattern))
    if overlay is not None and overlay.is_dir() and overlay.resolve() != folder.resolve():
        found += sorted(overlay.glob(pattern))
    return found


def registries(data_dir: Path | None) -> dict[str, dict[str, str]]:
    """The operator's registry office details (data_dir/registries.yaml): district id ->
    address, phone, hours, appointment. Empty when there is no such file."""
    path = data_dir / "registries.yaml" if data_dir is not None else None
    if path is None or not path.exists():
        return {}
    data = read_yaml(path) or {}
    return {str(k): {str(f): str(v) for f, v in (fields or {}).items() if v}
            for k, fields in (data.get("registries") or {}).items()}
