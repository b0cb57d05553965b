"""Settings tables for the services: name, type, default and help, read from the
environment and from a `.env` file in the working directory (real variables win)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from dotenv import dotenv_values


class SettingsError(ValueError):
    """A setting has a value of the wrong type or range."""


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False
    """Its value is never shown, not even in the message about a bad one."""


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


def port_number(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError("must be between 0 and 65535")
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError("must be more than 0")
    return number


def http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def load_settings(
    table: tuple[Setting, ...],
    overrides: Mapping[str, Any] | None = None,
    env_file: Path | None = Path(".env"),
) -> dict[str, Any]:
    """Defaults, then `.env`, then the environment, then `overrides` (already typed)."""
    overrides = dict(overrides or {})
    known = {setting.name for setting in table}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)}")

    from_file = dotenv_values(env_file) if env_file and env_file.is_file() else {}
    values = {}
    for setting in table:
        if setting.name in overrides:
            values[setting.name] = overrides[setting.name]
            continue
        raw = os.environ.get(setting.name, from_file.get(setting.name))
        if raw is None or raw == "":
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as error:
            shown = " (its value not shown)" if setting.secret else f"={raw!r}"
            raise SettingsError(
                f"{setting.name}{shown} is not valid ({setting.help}): {error}"
            ) from None
    return values


def describe_settings(table: tuple[Setting, ...]) -> str:
    """One line per setting, for --help output."""
    return "\n".join(
        f"  {s.name:<20} {s.help}{describe_default(s.default)}" for s in table
    )


def describe_default(default) -> str:
    if default is None:
        return ""
    if isinstance(default, tuple):
        default = ",".join(default)
    return f" (default: {default})"


def load_settings_or_exit(table: tuple[Setting, ...], program: str, summary: str):
    """Settings for a service's main(); answers --help and exits 2 on a bad value."""
    if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
        print(
            f"usage: python {program}\n\n{summary}\n\nSettings, from the "
            f"environment or .env:\n{describe_settings(table)}"
        )
        sys.exit(0)
    try:
        if len(sys.argv) > 1:
            raise SettingsError("takes no arguments; see --help for its settings")
        return load_settings(table)
    except SettingsError as error:
        print(f"{program}: {error}", file=sys.stderr)
        sys.exit(2)
