# mypy: disable-error-code="arg-type"
# (google-genai types `contents` as invariant list unions; plain list literals trip mypy.)
"""/_emulator/ control: faults, script queue (recorded real outputs), stats, reset."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import errors, types

from imagejobs.emulator import EmulatorControl, EmulatorControlError
from imagejobs.emulator.config import EmulatorConfig, Faults
from imagejobs.emulator.scenes import Scene
from tests.recorded import load_records


def recorded(kind: str) -> list[dict[str, object]]:
    return load_records(kind)


def test_script_feeds_recorded_real_outputs_verbatim(
    client: genai.Client, control: EmulatorControl, scene: Scene
) -> None:
    records = recorded("detection") + recorded("segmentation")
    texts = [str(r["raw_text"]) for r in records]
    control.script([{"text": t} for t in texts])
    for text in texts:
        response = client.models.generate_content(
            model="gemini-2.5-flash", contents=[scene.image, "Detect box_2d"]
        )
        assert response.text == text
    assert control.stats()["script_pending"] == 0
    after = client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image])
    assert (after.text or "").startswith("[imagejobs emulator]")


def test_script_truncation_usage_override_error_and_body(
    client: genai.Client, control: EmulatorControl, scene: Scene
) -> None:
    usage = {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12}
    control.script(
        [
            {
                "text": '```\n[{"box_2d": [10, 20, 30, 40], "label": "a",}\n',
                "finishReason": "MAX_TOKENS",
            },
            {"text": "<seg_1><seg_2>", "usageMetadata": usage},
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "slow down",
                    "retryDelay": "3s",
                }
            },
            {"body": {"promptFeedback": {"blockReason": "SAFETY"}}},
        ]
    )
    first = client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image])
    assert first.candidates and first.candidates[0].finish_reason == "MAX_TOKENS"
    assert first.usage_metadata and first.usage_metadata.prompt_token_count == 1032
    second = client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image])
    assert second.text == "<seg_1><seg_2>"
    assert second.usage_metadata and second.usage_metadata.total_token_count == 12
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image])
    assert info.value.message == "slow down"
    details = {d["@type"].rsplit(".", 1)[-1]: d for d in info.value.details["error"]["details"]}
    assert details["RetryInfo"]["retryDelay"] == "3s"
    assert set(details) == {"QuotaFailure", "Help", "RetryInfo"}
    blocked = client.models.generate_content(model="gemini-2.5-flash", contents=[scene.image])
    assert blocked.text is None
    assert blocked.prompt_feedback and blocked.prompt_feedback.block_reason == "SAFETY"


def test_scripted_stream(client: genai.Client, control: EmulatorControl) -> None:
    control.script([{"text": "abcdefghij", "finishReason": "STOP"}])
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents=["q"]))
    assert "".join(c.text or "" for c in chunks) == "abcdefghij"


def test_bad_control_input_is_named(control: EmulatorControl) -> None:
    with pytest.raises(EmulatorControlError, match="rate_429"):
        control.set_faults(rate_429=2)
    with pytest.raises(EmulatorControlError, match="unknown fault"):
        control.set_faults(rate_4299=0.5)
    with pytest.raises(EmulatorControlError, match="latency_s must be a float"):
        control.set_faults(latency_s="soon")
    with pytest.raises(EmulatorControlError, match="entry 1"):
        control.script([{"text": "ok"}, {"txt": "typo"}])
    assert control.stats()["script_pending"] == 0


def test_faults_are_seeded_and_reset_restores_start_values(
    client: genai.Client, control: EmulatorControl
) -> None:
    def outcomes() -> list[bool]:
        result = []
        for _ in range(20):
            try:
                client.models.generate_content(model="gemini-2.0-flash", contents=["hi"])
                result.append(True)
            except errors.APIError:
                result.append(False)
        return result

    control.set_faults(rate_503=0.5, seed=7)
    first = outcomes()
    control.set_faults(seed=7)
    assert outcomes() == first
    assert 0 < first.count(False) < 20
    control.reset()
    assert control.get_faults() == {**Faults().as_dict(), "overload": {}}
    assert all(outcomes())
    stats = control.stats()
    assert stats["calls"] == {"generateContent": 20} and stats["files_stored"] == 0


def test_faults_do_not_touch_control_routes_or_count_tokens(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_faults(rate_500=1.0, latency_s=0.0)
    assert control.stats()["calls"] == {}
    assert client.models.count_tokens(model="gemini-2.5-flash", contents=["abcd"]).total_tokens == 1


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="inline_limit_bytes"):
        EmulatorConfig(inline_limit_bytes=0)
    with pytest.raises(ValueError, match="jitter_s"):
        EmulatorConfig.from_kwargs(jitter_s=-1)
    assert EmulatorConfig(processing_delay_s=2).faults.processing_delay_s == 2


def test_thinking_model_without_budget_counts_thoughts(
    client: genai.Client, control: EmulatorControl
) -> None:
    response = client.models.generate_content(
        model="gemini-2.5-pro",
        contents=["hello"],
        config=types.GenerateContentConfig(max_output_tokens=17),
    )
    usage = response.usage_metadata
    assert usage and usage.thoughts_token_count == 16
    assert response.candidates and response.candidates[0].finish_reason == "MAX_TOKENS"
