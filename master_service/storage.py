"""Result files: safe names derived from uploads, written atomically, never replaced."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

UNSAFE_CHARACTERS = re.compile(r"[^\w.\-]+")
MAX_STEM_BYTES = 150
"""Room for the result's prefix, suffix and a number within a 255-byte file name."""
WINDOWS_DEVICE_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789¹²³"]
)
"""Names Windows keeps for devices, in any case and with any suffix (aux.txt)."""


def read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp makes files readable by their owner only; results follow the umask instead.
RESULT_FILE_MODE = 0o666 & ~read_umask()


def safe_stem(upload_name: str) -> str:
    """The upload's name without folders, suffix or characters unsafe in a file name."""
    name = last_path_part(upload_name)
    name = unicodedata.normalize("NFC", name)
    name = UNSAFE_CHARACTERS.sub("_", name).rstrip("._")
    head, _, _ = name.rpartition(".")
    # Only a name with something before its last dot has a suffix: ".bashrc" is a
    # stem, while "$$$.txt" has a stem of symbols only. A leading "-" would make the
    # result look like an option to a shell command given its name.
    stem = (head or name).lstrip("._-").rstrip("._")
    stem = stem.encode()[:MAX_STEM_BYTES].decode(errors="ignore").rstrip("._")
    return avoid_device_name(stem) or "file"


def safe_name(upload_name: str) -> str:
    """The upload's safe stem and its suffix, if that is plain letters and digits."""
    head, _, suffix = last_path_part(upload_name).rpartition(".")
    if not (head and suffix.isascii() and suffix.isalnum() and len(suffix) <= 10):
        return safe_stem(upload_name)
    return f"{safe_stem(upload_name)}.{suffix}"


def last_path_part(upload_name: str) -> str:
    """What follows the last "/" or "\\" of a Unix or Windows path."""
    return upload_name.replace("\\", "/").rsplit("/", 1)[-1]


def avoid_device_name(stem: str) -> str:
    """The stem with "_" after a leading Windows device name ("CON" -> "CON_")."""
    first, dot, rest = stem.partition(".")
    if first.upper() in WINDOWS_DEVICE_NAMES:
        return f"{first}_{dot}{rest}"
    return stem


# Where the search for a free numbered name resumes, so the thousandth upload of one
# name does not try the first 999 again. Only a hint: the link still decides.
first_free_numbers: dict[tuple[str, str], int] = {}


def write_new_file(folder: Path, name: str, data: bytes) -> Path:
    """Write data under name, or name_1, name_2... if taken; atomic and never replacing.

    The bytes go to a temporary file first; a hard link then claims the final name,
    which fails rather than replaces when another writer got there first.
    """
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError(f"{name!r} is not a plain file name")
    folder.mkdir(parents=True, exist_ok=True)
    base, dot, suffix = name.rpartition(".")
    if not dot:
        base, suffix = name, ""
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, RESULT_FILE_MODE)
        key = (str(folder), name)
        number = first_free_numbers.get(key, 0)
        while True:
            candidate = name if number == 0 else f"{base}_{number}{dot}{suffix}"
            target = folder / candidate
            try:
                os.link(temporary, target)
            except FileExistsError:
                number += 1
                continue
            if number:  # only names that collided, so the table stays small
                first_free_numbers[key] = number + 1
            return target
    finally:
        os.unlink(temporary)
