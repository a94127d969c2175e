"""GeminiPort on the google-genai SDK: real Gemini, or any base URL such as the bundled emulator.

One :class:`GenaiGemini` per worker process; the SDK's sync client is thread-safe, and its
connections are pools of a few threads each, with room for the worker's concurrency
(:mod:`imagejobs.gemini.transport`). generateContent's body is built as JSON and sent by the
SDK's API client (:mod:`imagejobs.gemini.wire`); the typed interface is the fallback. The SDK's
own retries stay off (its default): the worker owns retries so they are counted, honour
``retryDelay`` and never stack.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import time
from datetime import datetime
from typing import Any

from google import genai
from google.genai import types

try:  # the SDK's schema rewrite, which the JSON body needs (see GenaiGemini)
    from google.genai._transformers import t_schema
except ImportError:  # pragma: no cover - an SDK that moved it: the typed interface is used
    t_schema = None  # type: ignore[assignment]

from imagejobs.core.media_resolution import normalise_media_resolution
from imagejobs.core.tokens import uses_media_resolution
from imagejobs.gemini.errors import GeminiCallError, classify_error
from imagejobs.gemini.port import (
    FileImage,
    GenerateReply,
    GenerateRequest,
    InlineImage,
    RemoteFile,
)
from imagejobs.gemini.transport import client_args
from imagejobs.gemini.wire import generate_path, reply_from_body, request_json
from imagejobs.observability.metrics import call_outcome, gemini_call

REAL_GEMINI_BASE = "https://generativelanguage.googleapis.com"


class GenaiGemini:
    """The google-genai implementation of :class:`imagejobs.gemini.port.GeminiPort`."""

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str | None = None,
        api_version: str = "v1beta",
        timeout_s: float = 300.0,
        max_connections: int = 256,
        typed: bool = False,
    ) -> None:
        if not api_key:
            raise ValueError("a Gemini API key is required (GEMINI_API_KEY)")
        self._base = (base_url or REAL_GEMINI_BASE).rstrip("/")
        options = types.HttpOptions(
            base_url=base_url,
            api_version=api_version,
            timeout=int(timeout_s * 1000),  # the SDK takes milliseconds
            client_args=client_args(max_connections),  # see imagejobs.gemini.transport
        )
        self._client = genai.Client(api_key=api_key, http_options=options)
        # The SDK's API client sends a body built as JSON (imagejobs.gemini.wire): the typed
        # interface's validation and conversion were most of a job's CPU. An SDK without that
        # client, or ``typed``, goes through the typed interface (same body, tested).
        api = getattr(self._client, "_api_client", None)
        sends = all(callable(getattr(api, name, None)) for name in ("_build_request", "_request"))
        usable = sends and t_schema is not None and not getattr(api, "vertexai", False)
        self._api: Any = api if usable and not typed else None

    @property
    def api_base(self) -> str:
        return self._base

    def close(self) -> None:
        self._client.close()

    # generateContent ----------------------------------------------------------------------

    def generate(self, request: GenerateRequest) -> GenerateReply:
        with gemini_call(request.model) as call:  # counted, timed and in flight meanwhile
            try:
                if self._api is not None:
                    return self._generate_from_json(request)
                return self._generate_through_types(request)
            except Exception as exc:
                error = classify_error(exc)
                call.outcome = call_outcome(error.code, error.status)
                raise error from exc

    def _generate_from_json(self, request: GenerateRequest) -> GenerateReply:
        """The body built as JSON bytes (:mod:`imagejobs.gemini.wire`), sent by the SDK's API
        client: its URL, headers, key and timeout (``_build_request``), its sending and error
        mapping (``_request``, which sends a bytes body as it is)."""
        assert self._api is not None
        http_request = self._api._build_request("post", generate_path(request.model), {})
        http_request.data = request_json(request, self._wire_schema)
        response = self._api._request(http_request, stream=False)
        body = response.response_stream[0] if response.response_stream else ""
        return reply_from_body(json.loads(body) if body else {})

    def _wire_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        """A response schema as the SDK sends it (types upper-cased, property order added, ...),
        worked out by the SDK once per schema."""
        return _sdk_schema(self._api, json.dumps(schema))

    def _generate_through_types(self, request: GenerateRequest) -> GenerateReply:
        """The same call through the SDK's typed interface (an SDK without the API client)."""
        parts = [self._part(image, request) for image in request.images]
        parts.append(types.Part.from_text(text=request.text))  # images first, as advised
        content = types.Content(role="user", parts=parts)
        response = self._client.models.generate_content(
            model=request.model, contents=content, config=self._config(request)
        )
        # Read back through its JSON form, by the one reader of an answer (imagejobs.gemini.wire).
        return reply_from_body(response.model_dump(mode="json", by_alias=True, exclude_none=True))

    def _part(self, image: InlineImage | FileImage, request: GenerateRequest) -> types.Part:
        if isinstance(image, InlineImage):
            part = types.Part.from_bytes(data=image.data, mime_type=image.mime)
        else:
            part = types.Part.from_uri(file_uri=image.uri, mime_type=image.mime)
        if request.media_resolution and uses_media_resolution(request.model):
            level = "MEDIA_RESOLUTION_" + normalise_media_resolution(request.media_resolution)
            part.media_resolution = types.PartMediaResolution(
                level=types.PartMediaResolutionLevel(level)
            )
        return part

    @staticmethod
    def _config(request: GenerateRequest) -> types.GenerateContentConfig:
        thinking = None
        if request.thinking_level is not None:
            thinking = types.ThinkingConfig(
                thinking_level=types.ThinkingLevel(request.thinking_level)
            )
        elif request.thinking_budget is not None:
            thinking = types.ThinkingConfig(thinking_budget=request.thinking_budget)
        return types.GenerateContentConfig(
            system_instruction=request.system_instruction,
            response_mime_type=request.response_mime_type,
            # The SDK rewrites a schema dict in place: a prompt's own stays as it was.
            response_schema=copy.deepcopy(request.response_schema),
            temperature=request.temperature,
            max_output_tokens=request.max_output_tokens,
            thinking_config=thinking,
            # No tools are passed, and with AFC on the SDK logs "AFC is enabled" on every call.
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
        )

    # Files API --------------------------------------------------------------------------------

    def upload(self, data: bytes, mime: str, display_name: str) -> RemoteFile:
        try:
            uploaded = self._client.files.upload(
                file=io.BytesIO(data),
                config=types.UploadFileConfig(mime_type=mime, display_name=display_name),
            )
        except Exception as exc:
            raise classify_error(exc) from exc
        return _remote_file(uploaded)

    def get_file(self, name: str) -> RemoteFile:
        try:
            return _remote_file(self._client.files.get(name=name))
        except Exception as exc:
            raise classify_error(exc) from exc

    def wait_active(self, name: str, *, timeout_s: float, poll_s: float = 0.5) -> RemoteFile:
        """Poll ``files.get`` until the file is ACTIVE; FAILED or a timeout raise."""
        deadline = time.monotonic() + timeout_s
        while True:
            remote = self.get_file(name)
            if remote.state == "ACTIVE":
                return remote
            if remote.state == "FAILED":
                raise GeminiCallError(
                    f"uploaded file {name} failed processing: {remote.error or 'no reason given'}",
                    retryable=False,
                    status="FILE_FAILED",
                )
            if time.monotonic() > deadline:
                raise GeminiCallError(
                    f"uploaded file {name} still {remote.state} after {timeout_s:.0f} s",
                    retryable=True,
                    status="FILE_NOT_ACTIVE",
                )
            time.sleep(poll_s)


@functools.lru_cache(maxsize=1024)
def _sdk_schema(api: Any, schema_json: str) -> dict[str, Any]:
    schema = t_schema(api, json.loads(schema_json))
    return schema.model_dump(mode="json", exclude_none=True) if schema is not None else {}


def _enum_name(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "name", value))


def _remote_file(file: types.File) -> RemoteFile:
    expires: datetime | None = file.expiration_time
    error = None
    if file.error is not None:
        error = file.error.message or str(file.error.code)
    return RemoteFile(
        name=file.name or "",
        uri=file.uri or "",
        mime=file.mime_type or "",
        size_bytes=int(file.size_bytes or 0),
        state=_enum_name(file.state) or "STATE_UNSPECIFIED",
        expires_at=expires,
        error=error,
    )
