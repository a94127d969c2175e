# mypy: disable-error-code="arg-type"
# (google-genai types `contents` as invariant list unions; plain list literals trip mypy.)
"""google-genai 2.x (pins v1beta by default) against the emulator, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imagejobs.emulator import EmulatorControl, EmulatorServer

OLD_VERSION = "2.34.0"
REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import io, sys
    from google import genai
    from google.genai import errors
    from PIL import Image
    assert genai.__version__ == sys.argv[2], genai.__version__
    client = genai.Client(api_key="k", http_options={"base_url": sys.argv[1]})
    image = Image.new("RGB", (960, 540), (240, 240, 240))
    image.paste((230, 25, 25), (100, 100, 300, 200))
    text = client.models.generate_content(
        model="gemini-2.5-flash", contents=[image, "Detect objects as box_2d"]).text
    assert '"label": "red rectangle"' in text, text
    buffer = io.BytesIO(); image.save(buffer, format="PNG"); buffer.seek(0)
    uploaded = client.files.upload(file=buffer, config={"mime_type": "image/png"})
    assert "/v1beta/files/" in uploaded.uri, uploaded.uri
    count = client.models.count_tokens(model="gemini-2.5-flash", contents=[uploaded, "abcd"])
    assert count.total_tokens == 1548 + 1, count
    try:
        client.files.get(name="files/missing")
        raise SystemExit("expected a 404")
    except errors.ClientError as exc:
        assert exc.code == 404
    print("OK")
    """
)


@pytest.fixture(scope="session")
def old_sdk_path() -> Path:
    target = REPO / ".cache" / f"genai-{OLD_VERSION}"
    if not (target / "google" / "genai").exists():
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target)]
        result = subprocess.run(
            [*command, f"google-genai=={OLD_VERSION}"], capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            pytest.skip(f"cannot install google-genai=={OLD_VERSION}: {result.stderr[-500:]}")
    return target


def test_sdk_2x_hits_v1beta_and_works(
    emu: EmulatorServer, control: EmulatorControl, old_sdk_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": str(old_sdk_path)}
    for name in ("GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_API_VERSION", "GOOGLE_API_KEY"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, emu.base_url, OLD_VERSION],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr[-2000:]
    calls = control.stats()["calls"]
    assert calls["generateContent"] == 1 and calls["upload"] == 1 and calls["countTokens"] == 1
