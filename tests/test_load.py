"""Many clients at once: every file gets one outcome, no 5xx, master memory bounded."""

from __future__ import annotations

import io
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import psutil
import requests
import soundfile
from PIL import Image

from scripts.samples import pdf_with_text

CLIENTS = 32
FILES_PER_CLIENT = 25
MASTER_RSS_LIMIT_MB = 150


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


def wav(seed: int) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(8000) / 8000
    soundfile.write(
        buffer,
        0.3 * np.sin(2 * math.pi * (200 + seed) * t),
        8000,
        format="WAV",
        subtype="PCM_16",
    )
    return buffer.getvalue()


# Every fourth file of a client is broken, so errors are part of the load.
MAKERS = {
    "image": ("images", "png", png, b"not an image"),
    "text": (
        "texts",
        "txt",
        lambda n: f"Load test text number {n}. Good.".encode(),
        b"",
    ),
    "audio": ("audio_files", "wav", wav, b"RIFF....garbage"),
    "document": (
        "documents",
        "pdf",
        lambda n: pdf_with_text([f"page {n}"]),
        b"%PDF-1.4 broken",
    ),
}


def client_request(url: str, client: int) -> tuple[int, dict, str, list[str]]:
    task_type = list(MAKERS)[client % len(MAKERS)]
    field, suffix, make, broken = MAKERS[task_type]
    names = [f"c{client:02d}_f{n:02d}.{suffix}" for n in range(FILES_PER_CLIENT)]
    files = [
        (field, (name, broken if n % 4 == 3 else make(client * 100 + n)))
        for n, name in enumerate(names)
    ]
    response = requests.post(
        f"{url}/assign_task", data={"task_type": task_type}, files=files, timeout=300
    )
    return response.status_code, response.json(), task_type, names


def test_many_concurrent_clients_get_every_outcome(make_cluster):
    """32 clients x 25 files of mixed types: 800 outcomes, files on disk match."""
    cluster = make_cluster()
    cluster.start_master(LOG_LEVEL="WARNING")
    for _ in range(2):
        cluster.start_slave(
            SLAVE_WORKERS=2,
            LOG_LEVEL="WARNING",
            SLAVE_TASK_TYPES="image,text,audio,document",
        )
    cluster.wait_for_slaves(2)

    master = psutil.Process(cluster.master.process.pid)
    peak_rss = [master.memory_info().rss]
    done = threading.Event()

    def sample_memory():
        while not done.wait(0.05):
            peak_rss[0] = max(peak_rss[0], master.memory_info().rss)

    sampler = threading.Thread(target=sample_memory)
    sampler.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            answers = list(
                pool.map(
                    lambda c: client_request(cluster.master_url, c), range(CLIENTS)
                )
            )
    finally:
        done.set()
        sampler.join()

    outcomes, saved_paths = 0, []
    for status, answer, task_type, names in answers:
        assert status == 200
        assert sorted(e["filename"] for e in answer["files"]) == names
        failed = {e["filename"] for e in answer["failed"]}
        assert failed == {n for i, n in enumerate(names) if i % 4 == 3}
        outcomes += len(answer["files"])
        saved_paths += answer["saved_files"]
    assert outcomes == CLIENTS * FILES_PER_CLIENT
    assert len(set(saved_paths)) == len(saved_paths)

    on_disk = sorted(str(p) for p in cluster.results_dir.rglob("*") if p.is_file())
    assert on_disk == sorted(saved_paths)
    assert peak_rss[0] < MASTER_RSS_LIMIT_MB * 2**20
