"""Typed settings: one dataclass per command, each field with its default and help in one place.

The CLI flags, the recipe keys and the command line recorded in a manifest are all derived from
these dataclasses, so a setting is defined once. A field made with `setting(...)` becomes a flag
named after it (`min_score` is `--min-score`, and the recipe key `min-score`); booleans that
default to True become `--no-NAME` switches. The generator is small and written here because the
configs must stay importable without argparse front-ends such as jsonargparse pulling in their
own dependency trees on workers.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


class SettingError(ValueError):
    """A setting with a bad value or an unknown name; the message names it."""


# --- value types: each rejects a bad value with a readable message --------------------------

def positive_int(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def non_negative_int(text: str) -> int:
    return 0 if str(text).strip() == "0" else positive_int(text)


def fraction(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 1")
    return value


def share(text: str) -> float:
    """A fraction that may be 0 or 1 (a rule's threshold, where one end turns it off)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be from 0 to 1")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def comma_list(text: str) -> tuple[str, ...]:
    """`a,b, c` -> ("a", "b", "c"): how list-valued settings that are one flag value are written."""
    if isinstance(text, (list, tuple)):
        return tuple(str(t).strip() for t in text if str(t).strip())
    return tuple(part.strip() for part in str(text).split(",") if part.strip())


def language_codes(text) -> tuple[str, ...]:
    """`en,de` -> ("en", "de"): ISO 639-1 codes, as a pair's `lang` holds them."""
    codes = tuple(code.lower() for code in comma_list(text))
    for code in codes:
        if len(code) != 2 or not code.isalpha():
            raise argparse.ArgumentTypeError(
                f"{code!r} is not an ISO 639-1 language code (two letters, such as en or de; "
                "`mine code` takes programming languages as --programming-languages)")
    return codes


# --- declaring settings ------------------------------------------------------------------------

def setting(default: Any = dataclasses.MISSING, help: str = "", *, type: Callable | None = None,  # noqa: A002
            choices: Iterable | None = None, many: bool = False, metavar: str | None = None,
            flag: str | None = None, aliases: Iterable[str] = (), positional: bool = False,
            cli: bool = True, default_factory: Callable | None = None) -> Any:
    """A dataclass field that is also a flag and a recipe key.

    `many`: the flag takes one value or more (a list); `flag`: the flag's name when it is not the
    field's; `aliases`: deprecated spellings still accepted (a warning names the new one);
    `cli=False`: a library-only field (no flag).
    """
    metadata = {"help": help, "type": type, "choices": tuple(choices) if choices else None,
                "many": many, "metavar": metavar, "flag": flag, "aliases": tuple(aliases),
                "positional": positional, "cli": cli}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=value.copy, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _fields(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("cli", False)]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def flag_name(f: dataclasses.Field) -> str:
    """The flag of a field without dashes: also its recipe key."""
    if f.metadata.get("flag"):
        return f.metadata["flag"]
    name = f.name.replace("_", "-")
    return f"no-{name}" if _default(f) is True else name


class _DeprecatedAlias(argparse.Action):
    """An old flag spelling: works for one release, says which flag replaces it."""

    def __init__(self, option_strings, dest, new_flag: str, inner: argparse.Action, **kwargs):
        self._new_flag = new_flag
        self._inner = inner
        super().__init__(option_strings, dest, nargs=inner.nargs, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"pairmill: warning: {option_string} is deprecated, use --{self._new_flag}",
              file=sys.stderr)
        self._inner(parser, namespace, values, option_string)


def add_flags(parser: argparse.ArgumentParser, cls, skip: Iterable[str] = ()) -> None:
    """One flag per setting of `cls` (in field order)."""
    skip = set(skip)
    for f in _fields(cls):
        if f.name in skip:
            continue
        meta = f.metadata
        default = _default(f)
        required = default is dataclasses.MISSING
        kwargs: dict[str, Any] = {"help": _help(meta["help"], default, f)}
        if isinstance(default, bool) and meta["type"] is None:
            kwargs.update(action="store_false" if default else "store_true")
        else:
            if meta["type"] is not None:
                kwargs["type"] = meta["type"]
            if meta["choices"]:
                kwargs["choices"] = meta["choices"]
            if meta["metavar"]:
                kwargs["metavar"] = meta["metavar"]
            if meta["many"]:
                kwargs["nargs"] = "+"
        if meta["positional"]:
            action = parser.add_argument(f.name, **kwargs)
            continue
        if not required:
            kwargs["default"] = default
        # a flag with old spellings is checked after parsing: argparse would not count the alias
        action = parser.add_argument(f"--{flag_name(f)}", dest=f.name,
                                     required=required and not meta["aliases"], **kwargs)
        for alias in meta["aliases"]:
            parser.add_argument(f"--{alias}", dest=f.name, help=argparse.SUPPRESS,
                                action=_DeprecatedAlias, new_flag=flag_name(f), inner=action,
                                default=argparse.SUPPRESS)


def _help(text: str, default: Any, f: dataclasses.Field) -> str:
    if default is dataclasses.MISSING or isinstance(default, bool) or default in (None, (), []):
        return text
    shown = _flag_value(default)
    return f"{text} (default {shown})" if text else f"default {shown}"


def config_from_args(cls, args: argparse.Namespace, **overrides):
    """An instance of `cls` from parsed flags (fields without a flag keep their defaults)."""
    values = {f.name: getattr(args, f.name) for f in _fields(cls)
              if hasattr(args, f.name) and (getattr(args, f.name) is not None
                                            or _default(f) is not dataclasses.MISSING)}
    values.update(overrides)
    missing = [f"--{flag_name(f)}" for f in _fields(cls)
               if _default(f) is dataclasses.MISSING and f.name not in values]
    if missing:
        raise SettingError(f"the following arguments are required: {', '.join(missing)}")
    return _build(cls, values)


def _build(cls, values: dict):
    for f in dataclasses.fields(cls):
        if f.name in values and isinstance(values[f.name], list) and _is_tuple_field(f):
            values[f.name] = tuple(values[f.name])
    return cls(**values)


def _is_tuple_field(f: dataclasses.Field) -> bool:
    default = _default(f)
    return isinstance(default, tuple) or "tuple" in str(f.type)


def known_keys(cls) -> dict[str, dataclasses.Field]:
    """Recipe key (and field name, and deprecated alias) -> field."""
    keys = {}
    for f in _fields(cls):
        keys[flag_name(f)] = f
        keys[f.name] = f
        keys[f.name.replace("_", "-")] = f
        for alias in f.metadata["aliases"]:
            keys[alias] = f
    return keys


def config_from_mapping(cls, settings: Mapping, section: str, owned: Iterable[str] = (),
                        **fixed):
    """An instance of `cls` from a recipe section: keys are flag names, values are checked with
    the same types the flags use; `owned` keys are set by the run and refused here."""
    keys = known_keys(cls)
    owned = set(owned)
    values: dict[str, Any] = {}
    for raw_key, value in settings.items():
        key = str(raw_key)
        f = keys.get(key)
        if f is None or f.name in owned:
            if f is not None:
                raise SettingError(f"{section}: `{key}` is set by the run, leave it out")
            choices = sorted({flag_name(g) for g in _fields(cls) if g.name not in owned})
            raise SettingError(f"{section}: unknown key `{key}` (known: {', '.join(choices)})")
        values[f.name] = _coerce(f, value, f"{section}.{key}", key)
    values.update(fixed)
    missing = [flag_name(f) for f in _fields(cls)
               if _default(f) is dataclasses.MISSING and f.name not in values]
    if missing:
        raise SettingError(f"{section}: missing `{'`, `'.join(missing)}`")
    return _build(cls, values)


def _coerce(f: dataclasses.Field, value: Any, where: str, key: str) -> Any:
    meta = f.metadata
    default = _default(f)
    if key.startswith("no-") and key == flag_name(f) and isinstance(default, bool):
        value = not value  # `no-dropout: true` means dropout False
    if isinstance(default, bool) and meta["type"] is None:
        if not isinstance(value, bool):
            raise SettingError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(value, dict):
        raise SettingError(f"{where}: must be a value or a list, not a mapping")
    if meta["many"]:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_check(meta, item, where) for item in items]
    if isinstance(value, list):
        raise SettingError(f"{where}: takes one value, not a list")
    return value if value is None else _check(meta, value, where)


def _check(meta: Mapping, value: Any, where: str) -> Any:
    convert = meta["type"]
    try:
        result = convert(str(value)) if convert is not None else value
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise SettingError(f"{where}: {exc}") from None
    if convert is None and not isinstance(value, (int, float)):
        result = str(value)
    if meta["choices"] and result not in meta["choices"]:
        raise SettingError(f"{where}: {value!r} is not one of {', '.join(map(str, meta['choices']))}")
    return result


def render_argv(config, skip: Iterable[str] = ()) -> list[str]:
    """The flags that give `config` (settings at their default are left out), as a user would
    type them: what manifests record as the command."""
    skip = set(skip)
    argv: list[str] = []
    positional: list[str] = []
    for f in _fields(config.__class__):
        if f.name in skip:
            continue
        value = getattr(config, f.name)
        default = _default(f)
        if f.metadata["positional"]:
            positional.append(str(value))
            continue
        if default is not dataclasses.MISSING and _same(value, default):
            continue
        if value is None:
            continue
        if isinstance(default, bool) and f.metadata["type"] is None:
            argv.append(f"--{flag_name(f)}")
            continue
        argv.append(f"--{flag_name(f)}")
        if f.metadata["many"]:
            argv += [str(v) for v in value]
        else:
            argv.append(_flag_value(value))
    return positional + argv


def _flag_value(value) -> str:
    """A value as one flag argument: lists and sets comma-separated (sets sorted: stable)."""
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(map(str, value)))
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def _same(value, default) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default


# Flag names and values that carry credentials: never recorded, printed or published.
_SECRET_NAME = re.compile(r"(secret|token|password|passwd|credential|api[_-]?key|access[_-]?key"
                          r"|private[_-]?key|auth)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^(hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}"
                           r"|sk-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|ya29\.[\w-]{20,})$")
REDACTED = "<REDACTED>"


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_argv(argv: list[str]) -> list[str]:
    """A command line safe to record: values of credential-looking flags (`--s3_secret_access_key
    X`, `--hf-token=X`) and values shaped like known tokens are replaced by <REDACTED>."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        arg = str(arg)
        if hide_next and not arg.startswith("--"):
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = False
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if is_secret_name(name):
                if eq:
                    out.append(f"--{name}={REDACTED}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
            if eq and _SECRET_VALUE.match(value):
                out.append(f"--{name}={REDACTED}")
                continue
        out.append(REDACTED if _SECRET_VALUE.match(arg) else arg)
    return out
