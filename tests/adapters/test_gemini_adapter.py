"""The Gemini adapter (google-genai underneath) against the emulator over real HTTP."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from imagejobs.core.prompts import build_prompt
from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import ShapeSpec, make_scene
from imagejobs.gemini import FileImage, GeminiCallError, GenerateRequest, InlineImage
from imagejobs.gemini.client import GenaiGemini
from imagejobs.gemini.transport import ThreadPooledTransport

PNG = make_scene(320, 200, [ShapeSpec("rectangle", (20, 30, 120, 130), "red")]).encode("PNG")


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def gemini(emu: EmulatorServer) -> GenaiGemini:
    emu.control.reset()
    return GenaiGemini(api_key="test", base_url=emu.base_url, timeout_s=5)


def request(**overrides: object) -> GenerateRequest:
    fields: dict[str, object] = {
        "model": "gemini-2.5-flash",
        "images": [InlineImage(PNG, "image/png")],
        "text": "Detect all objects. The box_2d should be [ymin, xmin, ymax, xmax] normalized "
        "to 0-1000.",
        "response_mime_type": "application/json",
        "thinking_budget": 0,
    }
    fields.update(overrides)
    return GenerateRequest(**fields)  # type: ignore[arg-type]


def test_generate_inline_reads_text_finish_reason_and_usage(gemini: GenaiGemini) -> None:
    reply = gemini.generate(request())
    assert reply.finish_reason == "STOP"
    assert reply.text is not None and '"box_2d"' in reply.text
    assert reply.usage.image == 258 and reply.usage.thoughts == 0
    assert reply.usage.total == (reply.usage.prompt or 0) + (reply.usage.candidates or 0)
    assert reply.model_version == "gemini-2.5-flash"


def test_the_typed_interface_answers_the_same(emu: EmulatorServer, gemini: GenaiGemini) -> None:
    """The SDK's typed interface (the fallback) and the JSON body reach the same answer."""
    typed = GenaiGemini(api_key="test", base_url=emu.base_url, timeout_s=5, typed=True)
    spec = build_prompt("detect")  # a schema the SDK rewrites (property order added)
    for model, extra in (
        ("gemini-2.5-flash", {}),
        (
            "gemini-3-flash-preview",
            {"media_resolution": "HIGH", "thinking_budget": None, "thinking_level": "LOW"},
        ),
    ):
        one = request(
            model=model,
            text=spec.text,
            response_schema=spec.response_schema,
            system_instruction=spec.system_instruction,
            **extra,
        )
        assert typed.generate(one) == gemini.generate(one)
    assert emu.control.stats()["calls"]["generateContent"] == 4


def test_upload_wait_active_then_file_reference(emu: EmulatorServer, gemini: GenaiGemini) -> None:
    emu.control.set_faults(processing_delay_s=0.5)
    remote = gemini.upload(PNG, "image/png", "scene")
    assert remote.state == "PROCESSING" and remote.name.startswith("files/")
    active = gemini.wait_active(remote.name, timeout_s=10)
    assert active.state == "ACTIVE" and active.expires_at is not None
    reply = gemini.generate(request(images=[FileImage(active.uri, "image/png")]))
    assert reply.text and "red rectangle" in reply.text
    assert emu.control.stats()["bytes_inline"] == 0


def test_gemini_3_media_resolution_is_sent_per_part(gemini: GenaiGemini) -> None:
    reply = gemini.generate(request(model="gemini-3-flash-preview", media_resolution="MEDIUM"))
    assert reply.usage.image == 560


def test_429_is_retryable_with_retry_delay(emu: EmulatorServer, gemini: GenaiGemini) -> None:
    emu.control.script(
        [
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "quota",
                    "retryDelay": "7s",
                }
            }
        ]
    )
    with pytest.raises(GeminiCallError) as caught:
        gemini.generate(request())
    assert caught.value.retryable and caught.value.code == 429
    assert caught.value.retry_after_s == 7.0
    assert caught.value.error_code == "gemini_429"


@pytest.mark.parametrize(
    ("code", "retryable"),
    [(400, False), (403, False), (404, False), (500, True), (503, True), (504, True)],
)
def test_http_errors_are_classified(
    emu: EmulatorServer, gemini: GenaiGemini, code: int, retryable: bool
) -> None:
    emu.control.script([{"error": {"code": code, "message": f"boom {code}"}}])
    with pytest.raises(GeminiCallError) as caught:
        gemini.generate(request())
    assert caught.value.retryable is retryable
    assert f"boom {code}" in caught.value.message


def test_timeout_is_retryable(emu: EmulatorServer) -> None:
    emu.control.reset()
    emu.control.set_faults(latency_s=3)
    slow = GenaiGemini(api_key="test", base_url=emu.base_url, timeout_s=0.5)
    with pytest.raises(GeminiCallError) as caught:
        slow.generate(request())
    assert caught.value.retryable and caught.value.status == "TIMEOUT"
    emu.control.reset()


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens
    dead = GenaiGemini(api_key="test", base_url=f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(GeminiCallError) as caught:
        dead.generate(request())
    assert caught.value.retryable and caught.value.status == "CONNECTION"


def test_missing_file_is_a_permanent_404(gemini: GenaiGemini) -> None:
    with pytest.raises(GeminiCallError) as caught:
        gemini.get_file("files/doesnotexist")
    assert caught.value.code == 404 and not caught.value.retryable


def test_threads_share_a_few_pools_and_never_wait_for_a_connection() -> None:
    """40 threads: 3 connection pools of up to 16 threads, a thread keeping its pool; all 40
    calls are in flight at once (no thread waits for a socket)."""
    with EmulatorServer(latency_s=0.5) as server:
        gemini = GenaiGemini(api_key="test", base_url=server.base_url, max_connections=40)
        transport = gemini._client._api_client._httpx_client._transport
        assert isinstance(transport, ThreadPooledTransport) and len(transport.pools) == 3
        seen: dict[int, set[int]] = {}
        start = threading.Barrier(40)

        def call(_: int) -> None:
            start.wait()
            for _ in range(2):
                assert gemini.generate(request()).finish_reason == "STOP"
                seen.setdefault(threading.get_ident(), set()).add(id(transport.pool()))

        try:
            with ThreadPoolExecutor(40) as pool:
                list(pool.map(call, range(40)))
            stats = server.control.stats()
        finally:
            gemini.close()
    assert all(len(pools) == 1 for pools in seen.values())
    per_pool = Counter(next(iter(pools)) for pools in seen.values())
    assert sorted(per_pool.values()) == [13, 13, 14]
    assert stats["max_in_flight"] == 40 and stats["calls"]["generateContent"] == 80


def test_a_proxy_from_the_environment_keeps_httpx_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client given its own transport ignores HTTPS_PROXY: behind a proxy, httpx's own
    transport (which honours it) with one pool of the same size."""
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    gemini = GenaiGemini(api_key="test", base_url="https://example.invalid", max_connections=40)
    try:
        client = gemini._client._api_client._httpx_client
        assert not isinstance(client._transport, ThreadPooledTransport)
        assert client._transport._pool._max_connections == 40
        assert [str(pattern.pattern) for pattern in client._mounts] == ["https://"]
    finally:
        gemini.close()
