"""A job on the terminal: a rich table for people, or JSON with ``--json``; a finished job that
did not succeed also sets the exit code."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_job(console: Console, view: dict[str, Any], as_json: bool) -> None:
    """A job (the API's JSON shape, local or remote) on stdout."""
    if as_json:
        sys.stdout.write(json.dumps(view, indent=2) + "\n")
        return
    console.print(job_table(view))


def print_final(console: Console, view: dict[str, Any], as_json: bool) -> None:
    """A job that is final, then exit 1 unless it succeeded (``--wait``, ``watch``)."""
    print_job(console, view, as_json)
    if view["status"] != "succeeded":
        raise typer.Exit(1)


def job_table(view: dict[str, Any]) -> Table:
    """A job for people; every value is escaped, since model text may look like rich markup.

    What is not known (the size of an image that never decoded, usage of a job that never ran)
    is left out, never printed as ``None``.
    """
    table = Table(title=f"job {view['id']}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")

    def row(field: str, value: str | None) -> None:
        if value:
            table.add_row(field, escape(value))

    row("status", view.get("status"))
    error = view.get("error")
    if error:
        row("error", _joined(": ", error.get("code"), error.get("message")))
    row("task", view.get("task"))
    row("model", view.get("model"))
    for image in view.get("images") or []:
        row("image", _image(image))
    for name in ("caption", "answer"):
        row(name, view.get(name))
    if view.get("labels") is not None:
        row("labels", ", ".join(view["labels"]) or "(none)")
    for det in view.get("detections") or []:
        row("detection", f"{det.get('label')} {det.get('box')}")
    for mask in view.get("masks") or []:
        detail = f"area {mask['area']}" if mask.get("area") is not None else mask.get("problem")
        row("mask", _joined(" ", mask.get("label"), str(mask.get("box")), detail))
    row("tokens", _tokens(view.get("usage") or {}))
    cost = (view.get("usage") or {}).get("cost_usd")
    if cost is not None:
        row("cost", f"${cost:.6f}")
    return table


def _joined(separator: str, *parts: object) -> str:
    return separator.join(str(p) for p in parts if p is not None and p != "")


def _image(image: dict[str, Any]) -> str:
    name = image.get("filename") or image.get("sha256") or image.get("source_url") or "image"
    width, height = image.get("width"), image.get("height")
    size = f"{width}x{height}" if width and height else None
    transport = image.get("transport")
    tokens = image.get("tokens_estimated")
    described = _joined(" ", name, size, image.get("mime"), transport and f"via {transport}")
    return described + (f", ~{tokens} tokens" if tokens is not None else "")


def _tokens(usage: dict[str, Any]) -> str:
    billed = [
        f"{name} {usage[key]}"
        for name, key in (
            ("prompt", "prompt_tokens"),
            ("output", "candidates_tokens"),
            ("thoughts", "thoughts_tokens"),
        )
        if usage.get(key) is not None
    ]
    parts = []
    if usage.get("estimated_tokens") is not None:
        parts.append(f"estimated {usage['estimated_tokens']}")
    if billed:
        total = usage.get("total_tokens")
        parts.append("billed " + " + ".join(billed) + (f" = {total}" if total is not None else ""))
    return ", ".join(parts)


def print_jobs(console: Console, items: list[dict[str, Any]], as_json: bool) -> None:
    """Job summaries (``id, status, task, model, created_at, error``), newest first."""
    if as_json:
        sys.stdout.write(json.dumps(items, indent=2) + "\n")
        return
    table = Table(box=None)
    table.add_column("id", no_wrap=True, min_width=32)  # ids are copied whole, never cut
    for name in ("status", "task", "model", "created", "error"):
        table.add_column(name, overflow="fold")
    for item in items:
        error = item.get("error") or {}
        created = str(item.get("created_at") or "")[:19].replace("T", " ")  # to the second
        table.add_row(
            *(
                escape(str(value or ""))
                for value in (
                    item["id"],
                    item["status"],
                    item["task"],
                    item.get("model"),
                    created,
                    error.get("code"),
                )
            )
        )
    console.print(table)
