"""The master's HTTP interface."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    request,
    send_file,
    send_from_directory,
)
from werkzeug.exceptions import NotFound

from master_service.access import (
    cluster_token,
    require_allowed_slave_address,
    require_api_client,
    require_slave_caller,
)
from master_service.dispatch import Dispatch, DispatchSettings, FileJob
from master_service.errors import (
    BadRequestError,
    NotFoundError,
    NoCapableSlaveError,
    TooManyFilesError,
    UnknownSlaveError,
)
from master_service.registry import SlaveRecord, SlaveRegistry
from master_service.slave_check import check_slave
from master_service.slave_calls import stream_size
from master_service.slave_fields import (
    read_json_body,
    read_slave_address,
    read_task_types,
    read_workers,
)
from task_types import (
    DEFAULT_TASK_TYPE,
    TASK_TYPES,
    OptionError,
    TaskType,
    UnknownTaskTypeError,
    get_task_type,
    text_in_file_field,
)

logger = logging.getLogger(__name__)
bp = Blueprint("master", __name__)
API_DOCUMENT = Path(__file__).resolve().parent.parent / "api" / "master.openapi.json"


def registry() -> SlaveRegistry:
    return current_app.extensions["slave_registry"]


@bp.get("/")
def index():
    return Response("Master is working", mimetype="text/plain")


@bp.get("/check_status")
def check_status():
    return jsonify(
        status="alive",
        slaves=registry().snapshot(),
        task_types=list(TASK_TYPES),
    )


@bp.get("/openapi.json")
def api_document():
    return send_file(API_DOCUMENT, mimetype="application/json")


@bp.post("/register")
def register():
    require_slave_caller()
    body = read_json_body()
    ip, port = read_slave_address(body)
    task_types = read_task_types(body.get("task_types"))
    workers = read_workers(body.get("workers"))
    require_allowed_slave_address(ip)
    check_slave(SlaveRecord(ip, port, task_types, workers), task_types, cluster_token())

    slave, is_new = registry().register(ip, port, task_types, workers)
    if is_new:
        logger.info(
            "Slave %s registered: %s, %d worker(s)",
            slave.address,
            ", ".join(task_types),
            workers,
        )
    return jsonify(
        status="success",
        message=f"slave {slave.address} registered",
        address=slave.address,
        task_types=list(task_types),
        workers=workers,
    )


@bp.post("/heartbeat")
def heartbeat():
    require_slave_caller()
    ip, port = read_slave_address(read_json_body())
    require_allowed_slave_address(ip)
    address = f"{ip}:{port}"
    if not registry().heartbeat(address):
        raise UnknownSlaveError(f"slave {address} is not registered; register first")
    return jsonify(status="success")


@bp.post("/assign_task")
def assign_task():
    require_api_client()
    started = time.monotonic()
    task_type = read_requested_task_type()
    jobs, misplaced = read_uploads(task_type)
    try:
        options = task_type.parse_options(request.form)
    except OptionError as error:
        raise BadRequestError(str(error)) from None

    slaves = registry().list_usable(task_type.name)
    if not slaves:
        raise NoCapableSlaveError(describe_missing_slave(task_type))

    config = current_app.config["MASTER"]
    settings = DispatchSettings(
        results_dir=Path(config["RESULTS_DIR"]),
        slave_timeout_s=config["SLAVE_TIMEOUT"],
        max_attempts=config["MAX_ATTEMPTS"],
        cluster_token=config["CLUSTER_TOKEN"],
    )
    form_options = {name: str(value) for name, value in options.items()}
    Dispatch(registry(), task_type, form_options, jobs, settings).run(slaves)

    answer = summarise(task_type, jobs, misplaced)
    for failure in answer["failed"]:
        logger.warning(
            "%s file %r failed: %s",
            task_type.name,
            failure["filename"],
            failure["error"],
        )
    logger.info(
        "assign_task %s: %d file(s), %d saved, %d failed in %.2f s",
        task_type.name,
        len(jobs) + len(misplaced),
        answer["total_files_processed"],
        len(answer["failed"]),
        time.monotonic() - started,
    )
    return jsonify(answer)


@bp.get("/results/<task_type_name>/<name>")
def download_result(task_type_name: str, name: str):
    require_api_client()
    missing = NotFoundError(
        f"no result {name!r} of task type {task_type_name!r}; the answer of "
        "/assign_task gives each result's result_url"
    )
    if task_type_name not in TASK_TYPES or name.startswith("."):
        raise missing
    folder = (
        Path(current_app.config["MASTER"]["RESULTS_DIR"]) / task_type_name
    ).resolve()
    path = folder / name
    # Only results the master wrote: regular files, not links placed in the folder.
    if path.parent != folder or path.is_symlink() or not path.is_file():
        raise missing
    try:
        return send_from_directory(folder, name)
    except NotFound:
        raise missing from None


def result_url(task_type: TaskType, saved_path: str) -> str:
    return f"/results/{task_type.name}/{quote(Path(saved_path).name)}"


def read_requested_task_type() -> TaskType:
    if is_unreadable_form():
        raise BadRequestError(
            "the multipart body could not be read: check its boundary, and that part "
            "headers (file names included) are UTF-8"
        )
    name = request.form.get("task_type") or DEFAULT_TASK_TYPE
    try:
        return get_task_type(name)
    except UnknownTaskTypeError as error:
        raise BadRequestError(str(error), valid_task_types=list(TASK_TYPES)) from None


def is_unreadable_form() -> bool:
    """A multipart body with bytes in it that Werkzeug read as no fields at all."""
    return (
        request.mimetype == "multipart/form-data"
        and bool(request.content_length)
        and not request.form
        and not request.files
    )


def read_uploads(task_type: TaskType) -> tuple[list[FileJob], list[dict]]:
    """The files of the task's field, and an error for each file sent in another."""
    misused_field = text_in_file_field(request.form)
    if misused_field:
        raise BadRequestError(
            f"the field {misused_field!r} holds text, not a file; send each file as a "
            f"file part (with curl: -F {misused_field}=@path)",
            field=misused_field,
        )
    uploads = request.files.getlist(task_type.upload_field)
    max_files = current_app.config["MASTER"]["MAX_FILES"]
    if sum(1 for _ in request.files.items(multi=True)) > max_files:
        raise TooManyFilesError(max_files)
    jobs = [
        FileJob(
            file_id=str(number),
            filename=upload_name(upload, number),
            stream=upload.stream,
        )
        for number, upload in enumerate(uploads)
        if not is_empty_form_slot(upload)
    ]
    if not jobs:
        raise BadRequestError(
            f"no files in the field {task_type.upload_field!r}; task type "
            f"{task_type.name!r} takes its files there",
            field=task_type.upload_field,
        )
    misplaced = [
        {
            "filename": upload_name(upload, number),
            "error": f"sent in the field {field_name!r}, but task type "
            f"{task_type.name!r} takes files in {task_type.upload_field!r}",
        }
        for number, (field_name, upload) in enumerate(request.files.items(multi=True))
        if field_name != task_type.upload_field and not is_empty_form_slot(upload)
    ]
    return jobs, misplaced


def is_empty_form_slot(upload) -> bool:
    """A browser's file input left empty: no name and no bytes."""
    return not upload.filename and stream_size(upload.stream) == 0


def upload_name(upload, number: int) -> str:
    return upload.filename or f"unnamed_upload_{number}"


def summarise(task_type: TaskType, jobs: list[FileJob], misplaced: list[dict]) -> dict:
    files = [
        (
            {
                "filename": job.filename,
                "saved_file": job.saved_path,
                "result_url": result_url(task_type, job.saved_path),
            }
            if job.saved_path
            else {"filename": job.filename, "error": job.error}
        )
        for job in jobs
    ] + misplaced
    saved = [entry["saved_file"] for entry in files if "saved_file" in entry]
    failed = [entry for entry in files if "error" in entry]
    return {
        "message": f"{len(saved)} of {len(files)} file(s) processed",
        "task_type": task_type.name,
        "total_files_processed": len(saved),
        "saved_files": saved,
        "failed": failed,
        "files": files,
    }


def describe_missing_slave(task_type: TaskType) -> str:
    registered = registry().list_offering(task_type.name)
    if registered:
        return (
            f"no slave that runs {task_type.name!r} tasks is up right now "
            f"({len(registered)} registered, none heartbeating); try again shortly"
        )
    reason = f"no registered slave offers {task_type.name!r} tasks"
    if task_type.required_program:
        reason += (
            f" (a slave offers them only where {task_type.required_program} is "
            "installed)"
        )
    return reason + (
        "; start one with `python slave.py`, or check SLAVE_TASK_TYPES of the "
        "running slaves"
    )
