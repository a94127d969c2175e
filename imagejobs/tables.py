"""Rich tables for the terminal."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def job_table(view: dict[str, Any]) -> Table:
    table = Table(title=f"job {view['id']}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("status", view["status"])
    if view.get("error"):
        table.add_row("error", f"{view['error']['code']}: {view['error']['message']}")
    table.add_row("task", view["task"])
    table.add_row("model", view["model"])
    for image in view["images"]:
        table.add_row(
            "image",
            f"{image.get('filename') or image['sha256'] or image['source_url']} "
            f"{image['width']}x{image['height']} {image['mime']} via {image['transport']}, "
            f"~{image['tokens_estimated']} tokens",
        )
    for name in ("caption", "answer"):
        if view.get(name):
            table.add_row(name, view[name])
    if view.get("labels") is not None:
        table.add_row("labels", ", ".join(view["labels"]))
    for det in view["detections"]:
        table.add_row("detection", f"{det['label']} {det['box']}")
    for mask in view["masks"]:
        detail = f"area {mask['area']}" if mask["area"] is not None else mask["problem"]
        table.add_row("mask", f"{mask['label']} {mask['box']} {detail}")
    usage = view["usage"]
    table.add_row(
        "tokens",
        f"estimated {usage['estimated_tokens']}, billed prompt {usage['prompt_tokens']} "
        f"+ output {usage['candidates_tokens']} + thoughts {usage['thoughts_tokens']} "
        f"= {usage['total_tokens']}",
    )
    if usage.get("cost_usd") is not None:
        table.add_row("cost", f"${usage['cost_usd']:.6f}")
    return table
