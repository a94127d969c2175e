"""Response bodies of the HTTP API (with the request body from :mod:`imagejobs.intake`, they make
the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagejobs.core.jobspec import JobStatus


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
    model: str = Field(
        description="The model that answers (a routed segment job: the segmentation model)"
    )
    requested_model: str | None = Field(
        default=None, description="The model asked for, when the job was routed to another"
    )
    answered_model: str | None = Field(
        default=None,
        description=(
            "The model that answered: `model`, or a fallback when `model` was overloaded "
            "(several, comma-separated, if the calls of one job ran on different models); "
            "null until a call answered, and for a job served from the result cache"
        ),
    )
    fallback_models: list[str] = Field(default_factory=list)
    cache: bool = Field(default=True, description="Whether the result cache may answer the job")
    cached_from: str | None = Field(
        default=None,
        description="Served from the result cache: the earlier job whose results these are",
    )
    on_budget: str = Field(default="fail", description="fail | wait, when the budget is spent")
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
    governance: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Quota governance: `status` (ok | off | unreachable), the circuit breakers that are "
            "not plainly closed (state, for how long, next probe) and each quota'd model's "
            "calls in flight, requests today, pace and 429 block"
        ),
    )


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
