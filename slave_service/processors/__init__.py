"""One module per task type, each exposing a plain function from bytes to a result.

A processor module defines ``process(data: bytes, filename: str, **options)`` returning
``bytes`` (a finished file, such as a PNG) or a JSON-serialisable ``dict``. A task type
whose rows say ``whole_request`` instead defines ``process_batch(files, **options)``,
taking a list of ``(filename, data)`` pairs and returning one outcome per file in order:
a result or a ``ProcessingError``. Processors raise ``ProcessingError`` with a reason a
person can act on, and know nothing of Flask or HTTP.
"""

import importlib
from types import ModuleType

from task_types import TaskType


def load_processor(task_type: TaskType) -> ModuleType:
    return importlib.import_module(task_type.processor)
