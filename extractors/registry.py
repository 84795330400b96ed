"""Every source pairmill knows: the modules of `extractors.text` and `extractors.code` that export
a `SPEC`, and those of installed packages registered under the `pairmill.sources` entry-point
group (an entry point names a module or a SourceSpec object)."""

from __future__ import annotations

import functools
import importlib
import pkgutil
import sys
from importlib.metadata import entry_points

from .spec import SourceSpec

ENTRY_POINT_GROUP = "pairmill.sources"
_BUILTIN_PACKAGES = ("code", "text")


@functools.cache
def sources() -> dict[str, SourceSpec]:
    """name -> spec, built-ins first, then plug-ins in entry-point order."""
    found: dict[str, SourceSpec] = {}
    for package in _BUILTIN_PACKAGES:
        module = importlib.import_module(f"{__package__}.{package}")
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
            spec = getattr(importlib.import_module(f"{module.__name__}.{info.name}"), "SPEC", None)
            if isinstance(spec, SourceSpec):
                found[spec.name] = spec
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = entry.load()
        except Exception as exc:  # a broken plug-in must not take the built-in sources down
            print(f"pairmill: warning: source plug-in {entry.name} failed to load: {exc}",
                  file=sys.stderr)
            continue
        spec = getattr(loaded, "SPEC", loaded)
        if not isinstance(spec, SourceSpec):
            print(f"pairmill: warning: entry point {entry.name} is not a SourceSpec", file=sys.stderr)
        elif spec.name in found:
            print(f"pairmill: warning: source plug-in {entry.name} reuses the name {spec.name}; "
                  f"ignored", file=sys.stderr)
        else:
            found[spec.name] = spec
    return found


def source(name: str) -> SourceSpec:
    """The spec called `name` (or by a deprecated alias); ValueError naming the known ones."""
    known = sources()
    if name in known:
        return known[name]
    for spec in known.values():
        if name in spec.aliases:
            return spec
    raise ValueError(f"unknown source {name!r} (one of {', '.join(known)})")


def task_families() -> dict[str, str]:
    """task -> source name, for every task of every known source."""
    return {task.name: spec.name for spec in sources().values() for task in spec.tasks}
