"""Turning a job request (JSON, multipart, or a Celery interop payload) into a JobSpec and images.

Everything is checked here so a producer hears about a bad field at once, by name: the JobSpec
fields, each image (base64, size, type sniffed from its bytes, URL form), the image count, and the
webhook URL with the address guard the sender uses (resolved now, with the allowlist, so a callback
that every delivery would refuse is a 422 instead of hours of failed attempts). Image URL
*addresses* are checked by the worker (with its own allowlist) right before it fetches them; the
sender checks the callback address again before each delivery.

Resolving a name blocks: call :func:`parse_job` from a worker thread, not the event loop.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from imagejobs.core.imageinfo import ImageRejected, check_upload
from imagejobs.core.jobspec import TOO_LARGE, ImageCountRefused, JobSpec
from imagejobs.core.model_options import ModelDefaults, ModelRefused, apply_model_choice
from imagejobs.intake.errors import bad, from_pydantic
from imagejobs.intake.jsonbody import check_value_depth
from imagejobs.intake.request import ImageRef, JobRequest
from imagejobs.net.guard import (
    Allowlist,
    BlockedAddress,
    InvalidURL,
    UnresolvableHost,
    check_url,
    parse_and_check_url,
)
from imagejobs.settings import DEFAULT_MODEL, DEFAULT_SEGMENT_MODEL, Settings
from imagejobs.submission import ImageInput

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
IDEMPOTENCY_KEY_MAX = 200


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int
    max_images: int
    url_allowlist: Allowlist = field(default_factory=lambda: Allowlist.parse(()))
    models: ModelDefaults = field(
        default_factory=lambda: ModelDefaults(DEFAULT_MODEL, DEFAULT_SEGMENT_MODEL)
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_image_bytes=settings.max_image_bytes,
            max_images=settings.max_images_per_job,
            url_allowlist=Allowlist.parse(settings.url_allowlist),
            models=ModelDefaults.of(settings),
        )


@dataclass(frozen=True)
class ParsedJob:
    spec: JobSpec
    images: list[ImageInput]


def check_text(value: Any, path: str = "body") -> None:
    """Refuse strings Postgres cannot store (NUL) or UTF-8 cannot encode (lone surrogates)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise bad(path, "must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise bad(path, "is not valid Unicode text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            check_text(item, f"{path}.{key}" if path != "body" else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{path}[{index}]")


def check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise bad("Idempotency-Key", f"must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
    if any(not (32 < ord(ch) < 127) for ch in key):
        raise bad("Idempotency-Key", "must be printable ASCII without spaces")
    return key


def check_image_bytes(data: bytes, field: str, label: str, limits: Limits) -> None:
    """The image check the local CLI makes too (``check_upload``), as a problem naming ``field``."""
    try:
        check_upload(data, max_bytes=limits.max_image_bytes)
    except ImageRejected as exc:
        raise bad(field, f"{label}: {exc}", 413 if exc.code == "too_large" else 422) from None


def check_callback_url(url: str, allowlist: Allowlist) -> None:
    """Refuse (422 naming ``webhook_url``) a callback URL the webhook sender would refuse: the
    same guard (:func:`imagejobs.net.guard.check_url`), so a name must resolve, to addresses the
    guard admits."""
    try:
        check_url(url, allowlist=allowlist)
    except BlockedAddress as exc:
        raise bad(
            "webhook_url",
            f"{exc}; deliveries would be refused (an operator can admit the host with "
            "IMAGEJOBS_URL_ALLOWLIST)",
        ) from None
    except (InvalidURL, UnresolvableHost) as exc:
        raise bad("webhook_url", str(exc)) from None


def _decode_base64(text: str, field: str) -> bytes:
    cleaned = "".join(text.split())
    if cleaned.startswith("data:") and "," in cleaned:  # a data: URL
        cleaned = cleaned.split(",", 1)[1]
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise bad(field, "is not valid base64") from None


def parse_job(
    body: Any,
    limits: Limits,
    *,
    uploads: list[ImageInput] | None = None,
    allow_sha256: bool = False,
    skip_fields: tuple[str, ...] = (),
) -> ParsedJob:
    """Validate a job body; ``uploads`` (already checked files) come first among the images.

    ``allow_sha256`` admits ``{"sha256": ...}`` images (blob references, Celery interop only);
    ``skip_fields`` are keys removed before validation (interop's ``producer`` and friends).
    Raises :class:`InvalidRequest` naming the first bad field.
    """
    if not isinstance(body, dict):
        raise bad("body", "must be a JSON object")
    check_value_depth(body)  # before anything recurses into it
    check_text(body)
    body = {k: v for k, v in body.items() if k not in skip_fields}
    raw_images = body.get("images", [])
    if not isinstance(raw_images, list):
        raise bad("images", "must be a list")
    blob_refs: dict[int, str] = {}
    if allow_sha256:
        body["images"], blob_refs = _take_blob_refs(raw_images)
    try:
        request = JobRequest.model_validate(body)
    except ValidationError as exc:
        errors = list(exc.errors())
        status = 413 if errors[0].get("type") == TOO_LARGE else 422
        raise from_pydantic(errors, default_field="job", status=status) from None
    if request.webhook_url is not None:
        check_callback_url(request.webhook_url, limits.url_allowlist)
    images = list(uploads or [])
    offset = len(images)
    for index, ref in enumerate(request.images):
        if index in blob_refs:
            images.append(ImageInput(sha256=blob_refs[index], filename=ref.filename))
        else:
            images.append(_image_from_ref(ref, index + offset, limits))
    if len(images) > limits.max_images:
        raise bad("images", f"at most {limits.max_images} images per job, got {len(images)}", 413)
    spec = JobSpec.model_validate(request.model_dump(exclude={"images"}))
    try:
        spec.check_image_count(len(images))
    except ImageCountRefused as exc:
        raise bad("images", str(exc).removeprefix("images: ")) from None
    try:
        spec = apply_model_choice(spec, limits.models)  # the stored model is the one answering
    except ModelRefused as exc:
        raise bad(exc.field, exc.message) from None
    return ParsedJob(spec, images)


def _take_blob_refs(raw_images: list[Any]) -> tuple[list[Any], dict[int, str]]:
    """``{"sha256": ...}`` images (checked) by position, and the list with them blanked out."""
    cleaned: list[Any] = []
    refs: dict[int, str] = {}
    for index, item in enumerate(raw_images):
        if isinstance(item, dict) and "sha256" in item:
            sha = item.get("sha256")
            if not isinstance(sha, str) or not SHA256_RE.match(sha):
                raise bad(f"images[{index}].sha256", "must be 64 lowercase hex digits")
            if set(item) - {"sha256", "filename"}:
                raise bad(f"images[{index}]", "give exactly one of url, data or sha256")
            refs[index] = sha
            cleaned.append({"filename": item.get("filename")})
        else:
            cleaned.append(item)
    return cleaned, refs


def _image_from_ref(ref: ImageRef, position: int, limits: Limits) -> ImageInput:
    """One JSON image (URL or base64) checked, as the ``position``-th image of the job."""
    field = f"images[{position}]"
    label = f"image {position + 1}" + (f" ({ref.filename})" if ref.filename else "")
    if (ref.url is None) == (ref.data is None):
        raise bad(field, "give exactly one of url or data")
    if ref.url is not None:
        try:
            parse_and_check_url(ref.url)
        except InvalidURL as exc:
            raise bad(f"{field}.url", str(exc)) from None
        return ImageInput(url=ref.url, filename=ref.filename)
    assert ref.data is not None
    data = _decode_base64(ref.data, f"{field}.data")
    check_image_bytes(data, f"{field}.data", label, limits)
    return ImageInput(data=data, filename=ref.filename)
