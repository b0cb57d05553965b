"""Reading the OpenAPI documents in api/ and checking real answers against them."""

from __future__ import annotations

import json
import re
import socket
import urllib.parse
from pathlib import Path

import jsonschema_rs
import psutil
import requests
import schemathesis
from requests.adapters import HTTPAdapter
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

API_DIR = Path(__file__).resolve().parent.parent / "api"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Answers of any route, documented once under components/responses.
ROUTE_INDEPENDENT_RESPONSES = {"UnknownPath": 404, "MethodNotAllowed": 405}
DOCUMENT_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def load_document(service: str) -> dict:
    """The parsed api/<service>.openapi.json."""
    return json.loads((API_DIR / f"{service}.openapi.json").read_text())


def load_schema(document: dict, **settings) -> schemathesis.BaseSchema:
    """The document as a schemathesis schema; `settings` as in schemathesis.toml."""
    return schemathesis.openapi.from_dict(
        document, config=SchemathesisConfig.from_dict(settings)
    )


def documented_exchanges(document: dict) -> set[tuple[str, str, int]]:
    """(METHOD, path, status) for every answer the document lists.

    Route-independent answers appear with the method and path "*".
    """
    exchanges = {
        (method.upper(), path, int(status))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for status in operation["responses"]
    }
    listed = document["components"].get("responses", {})
    exchanges |= {
        ("*", "*", status)
        for name, status in ROUTE_INDEPENDENT_RESPONSES.items()
        if name in listed
    }
    return exchanges


def assert_conforms(
    schema: schemathesis.BaseSchema, path: str, response: requests.Response
) -> None:
    """The answer's status, media type, headers and body are the documented ones.

    `path` is the route as the document spells it, e.g. /results/{task_type}/{name}.
    """
    operation = schema[path][response.request.method]
    case = operation.Case(path_parameters=path_parameters(path, response.request.url))
    case.validate_response(response, checks=DOCUMENT_CHECKS)
    # schemathesis reads no text bodies; the text answers are checked here.
    media_type = response.headers["Content-Type"].split(";")[0]
    if media_type.startswith("text/"):
        definition = operation.definition.raw["responses"][str(response.status_code)]
        text_schema = definition["content"][media_type]["schema"]
        jsonschema_rs.validate(text_schema, response.text)


def path_parameters(path: str, url: str) -> dict[str, str]:
    """The values of the route's {parameters} in a URL that follows the route."""
    pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
    sent_path = urllib.parse.urlsplit(url).path
    match = re.fullmatch(pattern, sent_path)
    assert match, f"{sent_path} does not follow {path}"
    return {
        name: urllib.parse.unquote(value) for name, value in match.groupdict().items()
    }


def assert_route_independent_conforms(
    document: dict, name: str, response: requests.Response
) -> None:
    """An answer matches the response `name` of components/responses."""
    definition = document["components"]["responses"][name]
    assert response.status_code == ROUTE_INDEPENDENT_RESPONSES[name]
    assert response.headers["Content-Type"].split(";")[0] == "application/json"
    for header, header_definition in definition.get("headers", {}).items():
        if header_definition.get("required"):
            assert header in response.headers, f"no {header} header"
    pointer = f"#/components/responses/{name}/content/application~1json/schema"
    validator = jsonschema_rs.Draft202012Validator(
        {"allOf": [{"$ref": pointer}], "components": document["components"]},
        validate_formats=True,
    )
    validator.validate(response.json())


def local_non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine outside 127.0.0.0/8, if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not address.address.startswith(
                "127."
            ):
                return address.address
    return None


class SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen local address, so a loopback server sees that caller."""

    def __init__(self, source_ip: str):
        self.source_ip = source_ip
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source_ip: str) -> requests.Session:
    """A session whose requests come from `source_ip`, still to loopback servers."""
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(source_ip))
    return session
