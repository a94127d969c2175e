"""Request and response bodies of the HTTP API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagejobs.core.jobspec import WEBHOOK_EVENTS, JobSpec

URL_PATTERN = r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?(/\S*)?$"
JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]


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


class JobError(BaseModel):
    code: str | None
    message: str | None


class JobImageView(BaseModel):
    sha256: str | None
    source_url: str | None
    filename: str | None
    width: int | None
    height: int | None
    mime: str | None
    transport: str | None = Field(description="inline | file, once sent")
    sent_width: int | None
    sent_height: int | None
    tokens_estimated: int | None


class DetectionView(BaseModel):
    label: str
    box: list[int] = Field(description="[x0, y0, x1, y1] in upright image pixels")
    box_2d: list[Any] = Field(description="Gemini's [ymin, xmin, ymax, xmax] on 0..1000")
    image: int


class MaskView(DetectionView):
    area: int | None
    mask_png: str | None = Field(default=None, description="Base64 PNG, box-sized, 1 = object")
    problem: str | None


class UsageView(BaseModel):
    estimated_tokens: int | None
    estimated_image_tokens: int | None
    prompt_tokens: int | None
    candidates_tokens: int | None
    thoughts_tokens: int | None
    total_tokens: int | None
    image_tokens: int | None
    cost_usd: float | None
    calls: int


class WebhookView(BaseModel):
    url: str | None
    events: list[str]


class Links(BaseModel):
    model_config = ConfigDict(extra="allow")

    self: str
    overlay: str
    deliveries: str
    cancel: str


class JobResource(BaseModel):
    """A job: status, inputs, results and usage."""

    id: str
    status: JobStatus
    error: JobError | None
    task: str
    model: str
    params: dict[str, Any]
    options: dict[str, Any]
    metadata: dict[str, Any]
    priority: int
    deadline: str | None
    webhook: WebhookView
    attempts: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    next_attempt_at: str | None
    images: list[JobImageView]
    caption: str | None
    answer: str | None
    labels: list[Any] | None
    detections: list[DetectionView]
    masks: list[MaskView]
    dropped_boxes: int
    notes: list[Any]
    usage: UsageView
    links: Links


class JobSummary(BaseModel):
    id: str
    status: JobStatus
    task: str
    model: str
    error: JobError | None
    metadata: dict[str, Any]
    created_at: str
    finished_at: str | None
    links: Links


class JobPage(BaseModel):
    items: list[JobSummary]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null: done")


class AttemptView(BaseModel):
    attempted_at: str
    status_code: int | None
    error: str | None
    duration_ms: int | None


class DeliveryView(BaseModel):
    id: str
    job_id: str
    event: str
    url: str
    webhook_id: str = Field(description="The webhook-id header, the same on every attempt")
    status: str = Field(description="pending | succeeded | failed | disabled")
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    attempt_log: list[AttemptView]


class DeliveryList(BaseModel):
    items: list[DeliveryView]


class SecretRotation(BaseModel):
    finish: bool = Field(default=False, description="End a rotation: keep only the newest secret")


class WebhookSecrets(BaseModel):
    secrets: list[str] = Field(description="Newest first; every one signs each delivery")


class Health(BaseModel):
    status: Literal["ok"]
    database: str
    broker: str


class KeyView(BaseModel):
    """An API key as listed: its id and prefix, never the key."""

    id: str = Field(description="Use it to revoke the key")
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: str
    revoked_at: str | None
    active: bool


class KeyList(BaseModel):
    items: list[KeyView] = Field(description="Newest first, revoked ones included")


class CreatedKey(KeyView):
    api_key: str = Field(description="The new key: shown this once, only its hash is stored")
