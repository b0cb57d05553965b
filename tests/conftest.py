"""Shared fixtures: the real corpus beside the repository."""

from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parent.parent
CORPUS_DIR = REPO_DIR.parent / "shared" / "corpus"
CORPUS_TEXT_NAMES = [
    "sample-chinese.txt",
    "sample-english.bom.txt",
    "sample-french-1.txt",
    "sample-french.txt",
    "sample-russian.txt",
    "sample-spanish.txt",
]


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The folder ../shared/corpus; tests that need it skip where it is absent."""
    if not CORPUS_DIR.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS_DIR}")
    return CORPUS_DIR


@pytest.fixture
def make_cluster(tmp_path):
    """Start LocalClusters in a temporary folder; all are stopped after the test."""
    from scripts.local_cluster import LocalCluster

    clusters = []

    def make(name: str = "cluster") -> LocalCluster:
        cluster = LocalCluster(tmp_path / name)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.stop()


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    """A master with two slaves of two workers each, shared by a module's tests."""
    from scripts.local_cluster import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("shared-cluster"))
    try:
        cluster.start_master()
        cluster.start_slave(SLAVE_WORKERS=2)
        cluster.start_slave(SLAVE_WORKERS=2)
        cluster.wait_for_slaves(2)
        yield cluster
    finally:
        cluster.stop()
