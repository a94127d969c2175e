"""Every Python, JavaScript and REST sample of the Gemini image-understanding guide, run unmodified.

Only the base URL, the key, the file paths and the image URL change (see samples/README.md):
Python through the installed google-genai (``GOOGLE_GEMINI_BASE_URL``), JavaScript through
``@google/genai`` from npm with the machine's node (installed under ``.cache/npm-genai``),
REST through bash and curl.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagejobs.emulator import EmulatorServer
from imagejobs.emulator.scenes import Scene, ShapeSpec, make_scene

SAMPLES = Path(__file__).resolve().parent / "samples"
REPO = Path(__file__).resolve().parents[2]
NPM_PREFIX = REPO / ".cache" / "npm-genai"
API_HOST = "https://generativelanguage.googleapis.com"
IMAGE_URL = "https://goo.gle/instrument-img"
# Paths as the samples write them, longest first so none is a prefix of a later one.
PATHS = {
    "/path/to/your/image1.jpg": "your-image1.jpg",
    "path/to/small-sample.jpg": "small-sample.jpg",
    "path/to/sample.jpg": "sample.jpg",
    "path/to/image1.jpg": "image1.jpg",
    "path/to/image2.png": "image2.png",
    "/path/to/image.png": "image.png",
    "path/to/image.png": "image.png",
}
TIMEOUT_S = 180


def _names(language: str, suffix: str) -> list[str]:
    return sorted(p.name for p in (SAMPLES / language).glob(f"*{suffix}"))


@pytest.fixture(scope="module")
def scenes() -> tuple[Scene, Scene]:
    first = make_scene(
        640,
        480,
        [
            ShapeSpec("rectangle", (40, 30, 200, 130), "red"),
            ShapeSpec("ellipse", (300, 200, 500, 400), "blue"),
        ],
    )
    second = make_scene(640, 480, [ShapeSpec("rectangle", (40, 30, 200, 130), "red")])
    return first, second


@pytest.fixture
def workdir(tmp_path: Path, scenes: tuple[Scene, Scene]) -> Path:
    first, second = scenes
    for name in set(PATHS.values()):
        scene = second if name == "image2.png" else first
        (tmp_path / name).write_bytes(scene.encode("PNG" if name.endswith(".png") else "JPEG"))
    return tmp_path


@pytest.fixture(scope="module")
def image_url(scenes: tuple[Scene, Scene]) -> Iterator[str]:
    """A local stand-in for https://goo.gle/instrument-img (JPEG on GET and HEAD)."""
    data = scenes[0].encode("JPEG")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()

        def do_GET(self) -> None:
            self.do_HEAD()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/instrument-img"
    server.shutdown()
    server.server_close()


def _localise(text: str, workdir: Path, image_url: str, base_url: str) -> str:
    for original, local in PATHS.items():
        text = text.replace(original, str(workdir / local))
    return text.replace(IMAGE_URL, image_url).replace(API_HOST, base_url)


def _code(path: Path) -> str:
    """The sample's code without its source comment (Python blocks are indented on the page)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if lines and lines[0].lstrip("#/ ").startswith("Source:"):
        lines = lines[1:]
    return textwrap.dedent("".join(lines))


def _env(emu: EmulatorServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
    env.update(GEMINI_API_KEY="sample-key", GOOGLE_GEMINI_BASE_URL=emu.base_url)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    assert done.returncode == 0, f"{cmd[-1]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _check_output(name: str, out: str) -> None:
    stem = name.split(".")[0]
    if stem == "detection":
        assert "box_2d" in out or "Bounding boxes: [[" in out, out
    else:
        assert "[imagejobs emulator]" in out, out


@pytest.mark.parametrize("name", _names("python", ".py"))
def test_python_sample(name: str, emu: EmulatorServer, workdir: Path, image_url: str) -> None:
    script = workdir / name
    script.write_text(_localise(_code(SAMPLES / "python" / name), workdir, image_url, emu.base_url))
    out = _run([sys.executable, str(script)], workdir, _env(emu))
    _check_output(name, out)
    if name == "detection.py":
        assert "Image size:  640 480" in out


@pytest.mark.parametrize("name", _names("rest", ".sh"))
def test_rest_sample(name: str, emu: EmulatorServer, workdir: Path, image_url: str) -> None:
    for tool in ("bash", "curl", "jq", "file", "base64"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed; the REST samples need it")
    script = workdir / name
    script.write_text(_localise(_code(SAMPLES / "rest" / name), workdir, image_url, emu.base_url))
    out = _run(["bash", str(script)], workdir, _env(emu))
    _check_output(name, out)
    if name in ("inline.sh", "url.sh", "detection.sh"):
        response = json.loads(out)
        assert response["candidates"][0]["finishReason"] == "STOP", out
    else:  # upload, then generate, then jq prints the text
        assert "_uri=" in out and "/files/" in out, out


@pytest.fixture(scope="module")
def node_modules() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the JavaScript samples with @google/genai")
    modules = NPM_PREFIX / "node_modules"
    if not (modules / "@google" / "genai" / "package.json").exists():
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(NPM_PREFIX),
                "--no-audit",
                "--no-fund",
                "@google/genai",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"npm could not install @google/genai: {done.stderr.strip()[-300:]}")
    return modules


@pytest.mark.parametrize("name", _names("js", ".mjs"))
def test_javascript_sample(
    name: str, emu: EmulatorServer, workdir: Path, image_url: str, node_modules: Path
) -> None:
    (workdir / "node_modules").symlink_to(node_modules, target_is_directory=True)
    script = workdir / name
    script.write_text(_localise(_code(SAMPLES / "js" / name), workdir, image_url, emu.base_url))
    out = _run(["node", str(script)], workdir, _env(emu))
    _check_output(name, out)
