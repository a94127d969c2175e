"""The job request body as HTTP, the CLI and Celery interop send it (its schema is in the
OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from imagejobs.core.jobspec import WEBHOOK_EVENTS, JobSpec

URL_PATTERN = r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/\S*)?$"


class ImageRef(BaseModel):
    """One image given in JSON: a URL the worker fetches, or base64 bytes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"oneOf": [{"required": ["url"]}, {"required": ["data"]}]},
    )

    url: str | None = Field(
        default=None,
        max_length=8192,
        description="http(s) URL, fetched by the worker through the address guard",
        json_schema_extra={"pattern": URL_PATTERN},
    )
    data: str | None = Field(
        default=None,
        description="Base64 of the image file (PNG, JPEG, WEBP, HEIC, HEIF)",
        json_schema_extra={"contentEncoding": "base64"},
    )
    filename: str | None = Field(default=None, max_length=300)


def _document_request(schema: dict[str, Any]) -> None:
    """Say in the OpenAPI document what validation enforces on fields inherited from JobSpec."""
    properties = schema.get("properties", {})
    webhook_url = properties.get("webhook_url", {})
    for option in webhook_url.get("anyOf", []):
        if option.get("type") == "string":
            option["pattern"] = URL_PATTERN
    if "images" in properties:
        properties["images"]["minItems"] = 1
    schema["allOf"] = [
        {
            "if": {"properties": {"task": {"const": "ask"}}},
            "then": {
                "required": ["question"],
                "properties": {"question": {"type": "string", "minLength": 1}},
            },
        },
        {
            "if": {"properties": {"task": {"const": "classify"}}},
            "then": {"required": ["labels"], "properties": {"labels": {"type": "array"}}},
        },
    ]
    schema["required"] = sorted({*schema.get("required", []), "images"})
    events = properties.get("webhook_events", {})
    events["items"] = {"type": "string", "enum": list(WEBHOOK_EVENTS)}
    for option in properties.get("labels", {}).get("anyOf", []):
        if option.get("type") == "array":
            option["items"] = {"type": "string", "minLength": 1, "pattern": r"\S"}
            option["uniqueItems"] = True
            option["minItems"] = 1


class JobRequest(JobSpec):
    """The body of ``POST /v1/jobs`` (or the ``job`` part of a multipart request)."""

    model_config = ConfigDict(json_schema_extra=_document_request)

    images: list[ImageRef] = Field(
        default_factory=list,
        description=(
            "Images by URL or base64; required in a JSON body. In the multipart `job` part it "
            "may be left out or add images after the uploaded files."
        ),
    )
