"""The main job: a master and two slaves on loopback, every input file sent to its task
type through client.py, a summary printed, and everything stopped again.

Inputs: the paths given on the command line; else ../shared/corpus when present; else a
small sample set made on the spot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.local_cluster import REPO_DIR, LocalCluster
from scripts.samples import make_samples
from task_types import TASK_TYPES

CORPUS_DIR = REPO_DIR.parent / "shared" / "corpus"
CORPUS_FOLDER_TASK_TYPES = {
    "images": ("image",),
    "ocr": ("ocr",),
    "text": ("text", "embedding"),
    "audio": ("audio",),
    "documents": ("document",),
}


def claims(task_type_name: str, path: Path) -> bool:
    return path.suffix.lower() in TASK_TYPES[task_type_name].suffixes


def plan_from_corpus(corpus: Path) -> dict[str, list[Path]]:
    plan: dict[str, list[Path]] = {}
    for folder, names in CORPUS_FOLDER_TASK_TYPES.items():
        files = sorted(p for p in (corpus / folder).glob("*") if p.is_file())
        for name in names:
            plan.setdefault(name, []).extend(f for f in files if claims(name, f))
    return plan


def plan_from_paths(paths: list[Path]) -> dict[str, list[Path]]:
    """Each file goes to the first task type in the table that takes its suffix."""
    files = []
    for path in paths:
        files.extend(
            sorted(p for p in path.rglob("*") if p.is_file())
            if path.is_dir()
            else [path]
        )
    plan: dict[str, list[Path]] = {}
    for file in dict.fromkeys(files):
        name = next((n for n in TASK_TYPES if claims(n, file)), None)
        if name is None:
            print(
                f"skipped {file}: no task type takes {file.suffix or 'files without a suffix'}"
            )
            continue
        plan.setdefault(name, []).append(file)
    return plan


def send_with_client(master_url: str, task_type: str, files: list[Path]) -> int:
    command = [
        sys.executable,
        str(REPO_DIR / "client.py"),
        master_url,
        task_type,
        *map(str, files),
    ]
    print(f"\n$ python client.py {master_url} {task_type} ({len(files)} file(s))")
    return subprocess.run(command, cwd=REPO_DIR).returncode


def count_outcomes(results_dir: Path) -> dict[str, int]:
    return (
        {
            folder.name: sum(1 for p in folder.iterdir() if not p.name.startswith("."))
            for folder in sorted(results_dir.iterdir())
            if folder.is_dir()
        }
        if results_dir.is_dir()
        else {}
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument(
        "--results-dir", type=Path, default=REPO_DIR / "processed_results"
    )
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"no such file or folder: {', '.join(missing)}")
    workdir = Path(tempfile.mkdtemp(prefix="demo-"))
    if args.paths:
        plan, source = plan_from_paths(args.paths), "the paths given"
    elif CORPUS_DIR.is_dir():
        plan, source = plan_from_corpus(CORPUS_DIR), str(CORPUS_DIR)
    else:
        plan, source = (
            make_samples(workdir / "samples"),
            "a sample set made for the demo",
        )
    print(f"Sending files from {source}")
    if not any(plan.values()):
        print("Nothing to send: no file has a suffix a task type takes")
        shutil.rmtree(workdir, ignore_errors=True)
        return 1

    if shutil.which("tesseract") is None and plan.pop("ocr", None):
        print("OCR is unavailable: tesseract is not installed; OCR files are skipped")

    exit_codes = {}
    with LocalCluster(workdir, results_dir=args.results_dir.resolve()) as cluster:
        cluster.start_master()
        cluster.start_slave()
        cluster.start_slave()
        slaves = cluster.wait_for_slaves(2)
        print(
            f"Master at {cluster.master_url}; slaves: "
            + ", ".join(s["address"] for s in slaves)
        )
        for task_type, files in plan.items():
            if files:
                exit_codes[task_type] = send_with_client(
                    cluster.master_url, task_type, files
                )

    print("\nSummary")
    for task_type, files in plan.items():
        verdict = {0: "all processed", 1: "some failed (see above)"}.get(
            exit_codes.get(task_type), "request refused (see above)"
        )
        print(f"  {task_type:<10} {len(files):>3} file(s) sent: {verdict}")
    print(
        f"Results are in {args.results_dir.resolve()}/<task type>/; "
        f"files there now: {json.dumps(count_outcomes(args.results_dir))}"
    )
    all_answered = all(code in (0, 1) for code in exit_codes.values())
    if all_answered:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"Service logs are in {workdir}")
    return 0 if all_answered else 1


if __name__ == "__main__":
    sys.exit(main())
