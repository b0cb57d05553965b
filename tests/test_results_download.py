"""Results can be fetched over HTTP by their result_url, and by nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from master_service.app import create_app

API_TOKEN = "api-token-for-downloads-0123456789"


def send_texts(master_url: str, names: list[str], headers=None) -> dict:
    files = [("texts", (name, f"Text called {name}.".encode())) for name in names]
    response = requests.post(
        f"{master_url}/assign_task",
        data={"task_type": "text"},
        files=files,
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_each_saved_file_downloads_by_its_result_url(shared_cluster):
    """The bytes behind result_url are the stored result's, non-ASCII names too."""
    answer = send_texts(shared_cluster.master_url, ["plain.txt", "отчёт.txt"])
    for entry in answer["files"]:
        response = requests.get(shared_cluster.master_url + entry["result_url"])
        assert response.status_code == 200
        assert response.content == Path(entry["saved_file"]).read_bytes()
        assert response.headers["Content-Type"] == "application/json"
    assert answer["files"][1]["result_url"].startswith(
        "/results/text/%D0%BE%D1%82%D1%87%D1%91%D1%82_analysis"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/results/text/..%2F..%2Fmaster.log",
        "/results/text/%2E%2E",
        "/results/../master.log",
        "/results/..%2Ftext/x.json",
        "/results/nope/x.json",
        "/results/text/missing_analysis.json",
        "/results/text/.partial-abc",
        "/results/text/",
    ],
)
def test_nothing_outside_a_type_folder_can_be_fetched(shared_cluster, path):
    """Traversal, unknown types, missing and temporary files all answer 404 JSON."""
    partial = Path(shared_cluster.results_dir) / "text" / ".partial-abc"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_text("half a result")
    response = requests.get(shared_cluster.master_url + path)
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == "error" and body["http_status"] == 404
    assert "half a result" not in response.text


def test_downloads_need_the_api_token_when_it_is_set(tmp_path):
    """With API_TOKEN a download without the bearer token is 401, with it 200."""
    folder = tmp_path / "text"
    folder.mkdir()
    (folder / "a_analysis.json").write_text('{"words": 1}')
    client = create_app(
        {"API_TOKEN": API_TOKEN, "CLUSTER_TOKEN": None, "RESULTS_DIR": str(tmp_path)}
    ).test_client()

    refused = client.get("/results/text/a_analysis.json")
    allowed = client.get(
        "/results/text/a_analysis.json",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )

    assert refused.status_code == 401
    assert refused.get_json()["error"].startswith("missing or wrong API token")
    assert allowed.status_code == 200
    assert allowed.get_json() == {"words": 1}


def test_links_placed_in_a_results_folder_are_not_followed(tmp_path):
    """A symbolic link in RESULTS_DIR/<type>/ is not served, wherever it points."""
    folder = tmp_path / "results" / "text"
    folder.mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("not a result")
    (folder / "real_analysis.json").write_text("{}")
    (folder / "up_analysis.json").symlink_to("../../secret.txt")
    (folder / "real_link.json").symlink_to("real_analysis.json")
    client = create_app(
        {"API_TOKEN": None, "CLUSTER_TOKEN": None, "RESULTS_DIR": str(folder.parent)}
    ).test_client()

    assert client.get("/results/text/real_analysis.json").status_code == 200
    for name in ("up_analysis.json", "real_link.json"):
        response = client.get(f"/results/text/{name}")
        assert response.status_code == 404
        assert "not a result" not in response.get_data(as_text=True)
