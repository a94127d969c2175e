"""The README's curl examples ("Producers: quick start", step 2) run as written against the real
API and worker, with only the host names, the key and the image files swapped for local ones.

The images are large enough (a 400 KB PNG) that an example passing base64 on the command line
would fail with "Argument list too long", as the old one did.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from api.client import ImageJobsClient, verify_webhook
from imagejobs.store.producers import NewKey
from tests.api.conftest import LocalHTTP, wait_for
from tests.services import WorkerProcess

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "### 2. Submit (curl)"


def section(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\n### ", start + len(title))
    return text[start : end if end >= 0 else len(text)]


def curl_examples() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", section(README.read_text(), SECTION), re.DOTALL)
    return [block for block in blocks if "curl " in block]


def photo(size: int, fmt: str) -> bytes:
    """A noisy image (so it does not compress) with one red rectangle on grey."""
    rng = np.random.default_rng(size)
    pixels = rng.integers(110, 146, (size, size, 3), dtype=np.uint8)
    pixels[size // 4 : size // 2, size // 4 : size // 2] = (220, 30, 30)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def run(script: str, cwd: Path, api_key: str) -> dict[str, Any]:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "IMAGEJOBS_API_KEY": api_key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"{script}\nstderr: {done.stderr}\nstdout: {done.stdout}"
    answer = json.loads(done.stdout)
    assert isinstance(answer, dict)
    return answer


def test_readme_keys_are_not_shared_between_different_examples() -> None:
    text = README.read_text()
    keys = re.findall(
        r"""Idempotency-Key: ([\w.-]+)"""
        r"""|idempotency_key=["']([\w.-]+)"""
        r"""|"idempotency_key": "([\w.-]+)""",
        text,
    )
    used = ["".join(parts) for parts in keys]
    assert len(used) >= 3, used
    assert len(set(used)) == len(used), f"one Idempotency-Key in several examples: {used}"


def test_readme_curl_examples_work_as_written(
    api_url: str,
    make_producer: Callable[[str], NewKey],
    worker: WorkerProcess,
    local_http: Callable[..., LocalHTTP],
    tmp_path: Path,
) -> None:
    examples = curl_examples()
    assert len(examples) == 2, examples  # multipart, then JSON
    files = {"cat.jpg": photo(480, "JPEG"), "cat2.png": photo(512, "PNG")}
    assert len(files["cat2.png"]) > 400_000  # its base64 is past the 128 KiB argument limit
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    server = local_http()
    server.routes["/cat.jpg"] = (200, {"Content-Type": "image/jpeg"}, files["cat.jpg"])
    swaps = {
        "http://localhost:8000": api_url,
        "https://shop.example/hooks/imagejobs": server.url("/hooks/imagejobs"),
        "https://cdn.example/cat.jpg": server.url("/cat.jpg"),
    }
    shop = make_producer("readme")
    jobs = []
    for example in examples:
        script = example
        for old, new in swaps.items():
            script = script.replace(old, new)
        job = run(script, tmp_path, shop.api_key)
        assert job["status"] == "queued", job
        again = run(script, tmp_path, shop.api_key)  # a retry: the same job, not a new one
        assert again["id"] == job["id"]
        jobs.append(job)

    multipart, as_json = jobs
    assert multipart["task"] == "detect" and multipart["metadata"] == {"order": 41}
    assert as_json["task"] == "ask" and [i["filename"] for i in as_json["images"]][1] == "cat2.png"
    with ImageJobsClient(api_url, shop.api_key) as client:
        detected = client.wait(multipart["id"], timeout=90)
        assert detected["status"] == "succeeded", detected["error"]
        assert (detected["images"][0]["width"], detected["images"][0]["height"]) == (480, 480)
        answered = client.wait(as_json["id"], timeout=90)
        assert answered["status"] == "succeeded", answered["error"]
        assert answered["answer"]
        assert answered["images"][0]["source_url"] == server.url("/cat.jpg")
    hooks = wait_for(
        lambda: [r for r in server.posts() if r.path == "/hooks/imagejobs"], what="the webhook"
    )
    event = verify_webhook(hooks[0].headers, hooks[0].body, shop.producer.webhook_secrets[0])
    assert event["type"] == "job.succeeded" and event["data"]["id"] == multipart["id"]
