"""Rich tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table


def job_table(view: dict[str, Any]) -> Table:
    """A job for people; every value is escaped, since model text may look like rich markup."""
    table = Table(title=f"job {view['id']}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")

    def row(field: str, value: str) -> None:
        table.add_row(field, escape(value))

    row("status", view["status"])
    if view.get("error"):
        row("error", f"{view['error']['code']}: {view['error']['message']}")
    row("task", view["task"])
    row("model", view["model"])
    for image in view["images"]:
        row(
            "image",
            f"{image.get('filename') or image['sha256'] or image['source_url']} "
            f"{image['width']}x{image['height']} {image['mime']} via {image['transport']}, "
            f"~{image['tokens_estimated']} tokens",
        )
    for name in ("caption", "answer"):
        if view.get(name):
            row(name, view[name])
    if view.get("labels") is not None:
        row("labels", ", ".join(view["labels"]))
    for det in view["detections"]:
        row("detection", f"{det['label']} {det['box']}")
    for mask in view["masks"]:
        detail = f"area {mask['area']}" if mask["area"] is not None else mask["problem"]
        row("mask", f"{mask['label']} {mask['box']} {detail}")
    usage = view["usage"]
    row(
        "tokens",
        f"estimated {usage['estimated_tokens']}, billed prompt {usage['prompt_tokens']} "
        f"+ output {usage['candidates_tokens']} + thoughts {usage['thoughts_tokens']} "
        f"= {usage['total_tokens']}",
    )
    if usage.get("cost_usd") is not None:
        row("cost", f"${usage['cost_usd']:.6f}")
    return table
