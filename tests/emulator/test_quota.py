# mypy: disable-error-code="arg-type"
"""Quotas per project (API key) and model, overload windows and call stats, through the real
google-genai SDK and raw HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from imagejobs.core.quota_limits import pacific_day
from imagejobs.emulator import EmulatorControl, EmulatorServer
from imagejobs.emulator.scenes import Scene

FLASH = "gemini-2.5-flash"
FREE_REQUESTS = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
FREE_TOKENS = "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count"


def details_of(exc: errors.APIError) -> dict[str, Any]:
    return {d["@type"].rsplit(".", 1)[-1]: d for d in exc.details["error"]["details"]}


def delay_s(exc: errors.APIError) -> int:
    delay = details_of(exc)["RetryInfo"]["retryDelay"]
    assert delay.endswith("s") and delay[:-1].isdigit(), delay
    return int(delay[:-1])


def other_client(emu: EmulatorServer, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=emu.base_url))


def call(client: genai.Client, model: str = FLASH, contents: Any = ("hello",)) -> int:
    response = client.models.generate_content(model=model, contents=list(contents))
    assert response.usage_metadata and response.usage_metadata.prompt_token_count
    return response.usage_metadata.prompt_token_count


def test_rpm_refuses_the_next_call_with_quota_failure_until_the_window_frees(
    client: genai.Client, control: EmulatorControl, emu: EmulatorServer
) -> None:
    control.set_quota(rpm={FLASH: 3})
    for _ in range(3):
        call(client)
    with pytest.raises(errors.ClientError) as info:
        call(client)
    exc = info.value
    assert (exc.code, exc.status) == (429, "RESOURCE_EXHAUSTED")
    details = details_of(exc)
    assert list(details) == ["QuotaFailure", "Help", "RetryInfo"]
    assert details["QuotaFailure"]["violations"] == [
        {
            "quotaMetric": FREE_REQUESTS,
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            "quotaDimensions": {"location": "global", "model": FLASH},
            "quotaValue": "3",
        }
    ]
    assert details["Help"]["links"][0]["url"] == "https://ai.google.dev/gemini-api/docs/rate-limits"
    assert f"limit: 3, model: {FLASH}" in (exc.message or "")
    first_delay = delay_s(exc)
    assert 1 <= first_delay <= 60
    # other models and other projects (keys) have their own windows
    call(client, model="gemini-2.0-flash")
    call(other_client(emu, "another-project-key"))
    # half a minute later the same call waits about half as long; after the delay it passes
    control.advance_clock(30)
    with pytest.raises(errors.ClientError) as later:
        call(client)
    assert delay_s(later.value) <= first_delay - 29
    control.advance_clock(delay_s(later.value))
    call(client)


def test_rpm_window_slides_one_call_at_a_time(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_quota(rpm=2)
    call(client)
    control.advance_clock(40)
    call(client)
    control.advance_clock(21)  # the first call is now 61 s old, the second 21 s
    call(client)
    with pytest.raises(errors.ClientError) as info:
        call(client)
    assert 39 - 2 <= delay_s(info.value) <= 40  # until the second call leaves the window


def test_tpm_counts_prompt_tokens_by_the_usage_rule(
    client: genai.Client, control: EmulatorControl, scene: Scene
) -> None:
    contents = [scene.image, "Describe the picture"]
    tokens = client.models.count_tokens(model=FLASH, contents=contents).total_tokens
    assert tokens and tokens > 1000  # the image's tiles, not just the text
    control.set_quota(tpm={FLASH: 2 * tokens + tokens // 2})
    assert call(client, contents=contents) == tokens
    assert call(client, contents=contents) == tokens
    with pytest.raises(errors.ClientError) as info:
        call(client, contents=contents)
    violations = details_of(info.value)["QuotaFailure"]["violations"]
    assert violations == [
        {
            "quotaMetric": FREE_TOKENS,
            "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
            "quotaDimensions": {"location": "global", "model": FLASH},
            "quotaValue": str(2 * tokens + tokens // 2),
        }
    ]
    call(client, contents=["hi"])  # a small prompt still fits what is left
    usage = control.get_quota()["usage"]
    assert [(u["model"], u["input_tokens_last_60s"], u["requests_last_60s"]) for u in usage] == [
        (FLASH, 2 * tokens + 1, 3)
    ]


def test_a_prompt_larger_than_tpm_is_refused_with_the_whole_window(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_quota(tpm=10)
    with pytest.raises(errors.ClientError) as info:
        call(client, contents=["x" * 400])  # 100 tokens
    assert delay_s(info.value) == 60
    assert control.get_quota()["usage"][0]["requests_today"] == 0  # refused: not counted


def test_rpd_resets_at_pacific_midnight(client: genai.Client, control: EmulatorControl) -> None:
    control.set_quota(rpd={FLASH: 2}, rpm=1000)
    call(client)
    call(client)
    with pytest.raises(errors.ClientError) as info:
        call(client)
    (violation,) = details_of(info.value)["QuotaFailure"]["violations"]
    assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    assert violation["quotaMetric"] == FREE_REQUESTS
    now = time.time() + control.advance_clock(0)["offset_s"]
    _, until_midnight = pacific_day(now)
    assert abs(delay_s(info.value) - until_midnight) <= 2
    control.advance_clock(delay_s(info.value))
    call(client)


def test_every_metric_over_is_listed_and_the_delay_frees_them_all(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_quota(rpm=1, rpd=1, tier="paid")
    call(client)
    with pytest.raises(errors.ClientError) as info:
        call(client)
    violations = details_of(info.value)["QuotaFailure"]["violations"]
    assert [(v["quotaMetric"].rsplit("/", 1)[1], v["quotaId"]) for v in violations] == [
        ("generate_content_paid_tier_requests", "GenerateRequestsPerMinutePerProjectPerModel"),
        ("generate_content_paid_tier_requests", "GenerateRequestsPerDayPerProjectPerModel"),
    ]
    assert delay_s(info.value) > 60  # the day's reset, not the minute's
    assert (info.value.message or "").count("* Quota exceeded for metric") == 2


def test_stream_calls_count_and_are_refused_too(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_quota(rpm=1)
    assert "".join(
        c.text or "" for c in client.models.generate_content_stream(model=FLASH, contents=["hi"])
    )
    with pytest.raises(errors.ClientError) as info:
        list(client.models.generate_content_stream(model=FLASH, contents=["hi"]))
    assert info.value.code == 429 and "RetryInfo" in details_of(info.value)


def test_overload_window_answers_503_without_retry_info_then_ends(
    client: genai.Client, control: EmulatorControl
) -> None:
    faults = control.overload(FLASH, for_s=60)
    assert faults["overload"][FLASH]["rate"] == 1.0
    assert 59 <= faults["overload"][FLASH]["for_s"] <= 60
    for _ in range(3):
        with pytest.raises(errors.ServerError) as info:
            call(client)
        assert (info.value.code, info.value.status) == (503, "UNAVAILABLE")
        assert info.value.message == "The model is overloaded. Please try again later."
        assert "details" not in info.value.details["error"]
    call(client, model="gemini-2.0-flash")  # only the named model
    control.advance_clock(61)
    call(client)
    assert control.get_faults()["overload"] == {}


def test_overload_for_every_model_at_a_rate_and_ended_early(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_faults(overload={"*": {"for_s": 600, "rate": 0.5}}, seed=3)
    outcomes = []
    for _ in range(30):
        try:
            call(client, model="gemini-2.0-flash")
            outcomes.append("ok")
        except errors.ServerError:
            outcomes.append("503")
    assert 0 < outcomes.count("503") < 30
    control.set_faults(overload={"*": None})
    call(client, model="gemini-2.0-flash")


def test_overloaded_calls_spend_quota(client: genai.Client, control: EmulatorControl) -> None:
    control.set_quota(rpm=2)
    control.overload(FLASH, for_s=60)
    for _ in range(2):
        with pytest.raises(errors.ServerError):
            call(client)
    with pytest.raises(errors.ClientError) as info:
        call(client)
    assert info.value.code == 429


def test_stats_count_calls_by_model_and_outcome_and_tokens_per_minute(
    client: genai.Client, control: EmulatorControl
) -> None:
    control.set_quota(rpm={FLASH: 2})
    spent = call(client, contents=["a" * 40]) + call(client, contents=["b" * 80])
    with pytest.raises(errors.ClientError):
        call(client)
    control.overload("gemini-2.0-flash", for_s=30)
    with pytest.raises(errors.ServerError):
        call(client, model="gemini-2.0-flash", contents=["abcd"])  # 1 token
    with pytest.raises(errors.ClientError):  # 400: 2.5 Pro cannot turn thinking off
        client.models.generate_content(
            model="gemini-2.5-pro",
            contents=["x"],
            config=types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_budget=0)
            ),
        )
    stats = control.stats()
    by_model = stats["by_model"]
    assert by_model[FLASH] == {
        "ok": 2,
        "429": 1,
        "503": 0,
        "other": 0,
        "calls_last_60s": 3,
        "input_tokens_last_60s": spent,
    }
    assert by_model["gemini-2.0-flash"]["503"] == 1
    assert by_model["gemini-2.5-pro"]["other"] == 1
    assert stats["calls_per_minute"] == 5
    assert stats["input_tokens_per_minute"] == spent + 1  # the overloaded call counted its token
    control.advance_clock(60)
    after = control.stats()
    assert after["input_tokens_per_minute"] == 0 and after["by_model"][FLASH]["ok"] == 2
    control.reset()
    assert control.stats()["by_model"] == {} and control.get_quota()["rpm"] == {}


def test_quota_route_over_raw_http(emu: EmulatorServer, control: EmulatorControl) -> None:
    with httpx.Client(base_url=emu.base_url, timeout=10) as http:
        assert http.get("/_emulator/quota").json() == {
            "rpm": {},
            "tpm": {},
            "rpd": {},
            "tier": "free",
            "usage": [],
        }
        put = http.put("/_emulator/quota", json={"rpm": {"*": 5, FLASH: 1}, "tpm": 1000})
        assert put.status_code == 200
        assert put.json()["rpm"] == {"*": 5, FLASH: 1} and put.json()["tpm"] == {"*": 1000}
        for bad, named in [
            ({"rpm": {"gemini-2.5-flsh": 5}}, "gemini-2.5-flsh"),
            ({"rpm": 0}, "rpm must be >= 1"),
            ({"tpm": "lots"}, "tpm must be a whole number"),
            ({"rqm": 5}, "unknown quota field"),
            ({"tier": "gold"}, "quota tier"),
        ]:
            refused = http.put("/_emulator/quota", json=bad)
            assert refused.status_code == 400 and named in refused.json()["error"]["message"]
        assert http.get("/_emulator/quota").json()["rpm"] == {"*": 5, FLASH: 1}  # unchanged
        body = {"contents": [{"parts": [{"text": "hi"}]}]}
        url = f"/v1beta/models/{FLASH}:generateContent?key=curl-key"
        assert http.post(url, json=body).status_code == 200
        refused = http.post(url, json=body)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        assert error["details"][2] == {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": error["details"][2]["retryDelay"],
        }
        (usage,) = http.get("/_emulator/quota").json()["usage"]
        assert usage["project"].startswith("project-") and "curl-key" not in usage["project"]
        null = http.put("/_emulator/quota", json={"rpm": None})
        assert null.json()["rpm"] == {}
        assert http.post(url, json=body).status_code == 200
        bad_overload = http.post("/_emulator/faults", json={"overload": {FLASH: {"for": 3}}})
        assert bad_overload.status_code == 400 and "for_s" in bad_overload.text


def test_quota_set_in_process_and_kept_over_reset() -> None:
    with EmulatorServer(rpm={FLASH: 1}, quota_tier="paid") as emu:
        client = other_client(emu, "k")
        call(client)
        with pytest.raises(errors.ClientError):
            call(client)
        emu.control.reset()  # usage forgotten, start-up limits kept
        assert emu.control.get_quota()["rpm"] == {FLASH: 1}
        call(client)
