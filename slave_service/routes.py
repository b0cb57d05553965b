"""The slave's HTTP interface."""

from __future__ import annotations

import base64
import logging
import math
import time

from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from http_errors import error_response, log_refusal
from slave_service.access import (
    AccessError,
    check_presented_token,
    cluster_token,
    require_master_caller,
)
from slave_service.worker import Job
from task_types import (
    DEFAULT_TASK_TYPE,
    OptionError,
    TaskType,
    UnknownTaskTypeError,
    get_task_type,
    text_in_file_field,
)

logger = logging.getLogger(__name__)
bp = Blueprint("slave", __name__)
API_DOCUMENT = Path(__file__).resolve().parent.parent / "api" / "slave.openapi.json"


class BadTaskError(Exception):
    """A /get_task request this slave cannot take; answered with 400."""


@bp.errorhandler(BadTaskError)
def answer_bad_task(error: BadTaskError):
    return error_response(str(error), 400)


@bp.errorhandler(AccessError)
def answer_access_error(error: AccessError):
    log_refusal(error.http_status)
    return error_response(str(error), error.http_status)


@bp.get("/")
def index():
    return Response("Slave is working", mimetype="text/plain")


@bp.get("/check_status")
def check_status():
    check_presented_token()
    link = current_app.extensions["master_link"]
    return jsonify(
        status="alive",
        role="slave",
        task_types=list(current_app.config["OFFERED_TASK_TYPES"]),
        workers=current_app.config["SLAVE"]["SLAVE_WORKERS"],
        registered=bool(link and link.registered),
        advertised_ip=link.advertised_ip if link else None,
        cluster_token_required=cluster_token() is not None,
    )


@bp.get("/openapi.json")
def api_document():
    return send_file(API_DOCUMENT, mimetype="application/json")


@bp.post("/get_task")
def get_task():
    require_master_caller()
    started = time.monotonic()
    task_type = read_offered_task_type()
    uploads = request.files.getlist(task_type.upload_field)
    refuse_text_in_file_fields()
    if not uploads:
        raise BadTaskError(f"no files in the field {task_type.upload_field!r}")
    try:
        options = task_type.parse_options(request.form)
    except OptionError as error:
        raise BadTaskError(str(error)) from None
    file_ids = request.form.getlist("file_id") or [str(n) for n in range(len(uploads))]
    if len(file_ids) != len(uploads):
        raise BadTaskError(
            f"{len(file_ids)} file_id field(s) for {len(uploads)} file(s); a file part "
            "may be malformed"
        )
    declared_sizes = read_declared_sizes(len(uploads))
    time_limit_s = read_time_limit()

    files = [
        (upload.filename or f"unnamed_upload_{number}", upload.read())
        for number, upload in enumerate(uploads)
    ]
    files, file_ids = drop_incomplete(files, file_ids, declared_sizes)
    if not files:
        return jsonify(results=[], errors=[])
    if task_type.whole_request:
        jobs = [Job(task_type.name, files, options)]
    else:
        jobs = [Job(task_type.name, [file], options) for file in files]
    pool = current_app.extensions["pool"]
    outcomes = [
        o for job_outcomes in pool.run(jobs, time_limit_s) for o in job_outcomes
    ]

    answer = describe_outcomes(task_type, file_ids, files, outcomes)
    logger.info(
        "get_task %s: %d file(s), %d ok, %d failed in %.2f s",
        task_type.name,
        len(files),
        len(answer["results"]),
        len(answer["errors"]),
        time.monotonic() - started,
    )
    return jsonify(answer)


def describe_outcomes(task_type: TaskType, file_ids, files, outcomes) -> dict:
    """The answer's results (base64 data) and errors, each with its file id."""
    results, errors = [], []
    for file_id, (filename, _), outcome in zip(file_ids, files, outcomes):
        entry = {"filename": filename, "file_id": file_id}
        if outcome.unfinished:
            logger.warning(
                "%r waited too long for a worker; leaving it for the master to resend",
                filename,
            )
        elif outcome.error is None:
            encoded = base64.b64encode(outcome.data).decode("ascii")
            results.append({**entry, task_type.data_key: encoded})
        else:
            errors.append({**entry, "error": outcome.error})
    return {"results": results, "errors": errors}


def drop_incomplete(files, file_ids, declared_sizes):
    """Leave out files that arrived shorter or longer than the master sent them.

    They are left out of the answer, so the master sends them again.
    """
    if declared_sizes is None:
        return files, file_ids
    kept_files, kept_ids = [], []
    for file, file_id, size in zip(files, file_ids, declared_sizes):
        if len(file[1]) == size:
            kept_files.append(file)
            kept_ids.append(file_id)
        else:
            logger.warning(
                "File %r arrived with %d bytes, not %d; leaving it out",
                file[0],
                len(file[1]),
                size,
            )
    return kept_files, kept_ids


def refuse_text_in_file_fields() -> None:
    """A text part where files go is a mistake to report, not a part to skip."""
    misused_field = text_in_file_field(request.form)
    if misused_field:
        raise BadTaskError(
            f"the field {misused_field!r} holds text, not a file; send files as file "
            "parts"
        )


def read_declared_sizes(file_count: int) -> list[int] | None:
    """The size the master sent of each file, when it says."""
    sizes = request.form.getlist("file_size")
    if not sizes:
        return None
    if len(sizes) != file_count or not all(
        size.isascii() and size.isdigit() for size in sizes
    ):
        raise BadTaskError(
            f"form field 'file_size' must be one byte count per file ({file_count})"
        )
    return [int(size) for size in sizes]


def read_time_limit() -> float | None:
    """How long the master waits for this answer, when it says so."""
    raw = request.form.get("time_limit_s")
    if raw is None:
        return None
    try:
        limit_s = float(raw)
    except ValueError:
        raise BadTaskError("form field 'time_limit_s' must be a number") from None
    if not (limit_s > 0 and math.isfinite(limit_s)):
        raise BadTaskError("form field 'time_limit_s' must be a number more than 0")
    return limit_s


def read_offered_task_type() -> TaskType:
    name = request.form.get("task_type") or DEFAULT_TASK_TYPE
    try:
        task_type = get_task_type(name)
    except UnknownTaskTypeError as error:
        raise BadTaskError(str(error)) from None
    if task_type.name not in current_app.config["OFFERED_TASK_TYPES"]:
        offered = ", ".join(current_app.config["OFFERED_TASK_TYPES"])
        raise BadTaskError(f"this slave does not run {name!r} tasks; it runs {offered}")
    return task_type
