"""The anchor of a job's CPU: the client CPU of one direct ``generate_content`` call through
google-genai, the request a job of that task makes (image first, the task's prompt, system
instruction, JSON mode and schema), from a thread pool, in a process of its own.

Run by bench/perf.py; prints one JSON object (process CPU of the measured calls only: the
imports, the client and the warm-up calls come before the clock starts).

    .venv/bin/python bench/perf_direct.py --base-url URL --image photo.jpg --task caption
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from google import genai
from google.genai import types

from imagejobs.core.model_options import prompt_thinking_budget
from imagejobs.core.prompts import PromptSpec, build_prompt


def request(
    spec: PromptSpec, budget: int | None, image: bytes
) -> tuple[types.Content, types.GenerateContentConfig]:
    """What the SDK is given for one call, built for each call as a client of the SDK does."""
    content = types.Content(
        role="user",
        parts=[
            types.Part.from_bytes(data=image, mime_type="image/jpeg"),
            types.Part.from_text(text=spec.text),
        ],
    )
    config = types.GenerateContentConfig(
        system_instruction=spec.system_instruction,
        response_mime_type=spec.response_mime_type,
        response_schema=spec.response_schema,
        thinking_config=types.ThinkingConfig(thinking_budget=budget)
        if budget is not None
        else None,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    return content, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--task", default="caption")
    parser.add_argument("--model", default="gemini-2.5-flash")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    client = genai.Client(
        api_key="imagejobs-bench", http_options=types.HttpOptions(base_url=args.base_url)
    )
    image = args.image.read_bytes()
    spec = build_prompt(args.task)  # the job's prompt: imagejobs' work, not the SDK's
    budget = prompt_thinking_budget(args.model, spec.thinking_budget)

    def call(_: int) -> None:
        content, config = request(spec, budget, image)
        client.models.generate_content(model=args.model, contents=content, config=config)

    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(call, range(args.threads * 2)))  # warm: connections, lazy imports
        cpu, wall = time.process_time(), time.monotonic()
        list(pool.map(call, range(args.calls)))
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    print(json.dumps({"calls": args.calls, "cpu_s": cpu, "wall_s": wall}))


if __name__ == "__main__":
    main()
