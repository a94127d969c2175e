"""Deciding what a prompt asks for, with simple documented heuristics.

* Several images in one request -> ``compare``.
* The prompt (user text + system instruction) mentions "segmentation mask" or "mask(s)", or the
  response schema has a ``mask`` property -> ``segment``. Negated mentions such as "never return
  masks" or "no masks" do not count.
* It mentions "box_2d" or "bounding box(es)", or the schema has a ``box_2d`` property ->
  ``detect``.
* The response schema has an ``enum``, or the prompt lists labels after "Choose/Pick/Select/
  Classify ...:" or "labels/categories/classes/options:" (comma, "|", ";" or "or" separated, or
  a bullet list on the next lines) -> ``classify``.
* Otherwise -> ``caption`` (a description or an answer to a free question).

Detection and segmentation keep only the objects whose colour / shape match the colour and shape
words of the user's text ("red", "circles", "square"...), when it names any.
"""

from __future__ import annotations

import re
from typing import Any

from imagejobs.emulator.palette import COLOUR_NAMES
from imagejobs.emulator.request import GenerateRequest

_NEGATED_MASK = re.compile(r"\b(?:never|not|no|without|don't|do not)\b[^.\n]{0,40}?\bmasks?\b")
_MASK = re.compile(r"\bsegmentation masks?\b|\bmasks?\b")
_BOX = re.compile(r"\bbox_2d\b|\bbounding[ -]box(?:es)?\b")
_CHOOSE = re.compile(
    r"(?:\b(?:choose|pick|select|classify)\b[^:\n]*|\b(?:labels|categories|classes|options)\s*):"
    r"[ \t]*(.*)",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*(.+?)\s*$")
_SPLIT = re.compile(r"\s*(?:,|\||;|\bor\b)\s*")
SHAPE_WORDS = {
    "rectangle": "rectangle",
    "square": "rectangle",
    "ellipse": "ellipse",
    "circle": "ellipse",
    "oval": "ellipse",
    "disc": "ellipse",
    "triangle": "triangle",
}


def decide_task(request: GenerateRequest) -> str:
    if len(request.images) > 1:
        return "compare"
    prompt = _NEGATED_MASK.sub(" ", request.prompt.lower())
    props = schema_property_names(request.response_schema)
    if _MASK.search(prompt) or "mask" in props:
        return "segment"
    if _BOX.search(prompt) or "box_2d" in props:
        return "detect"
    if classification_labels(request):
        return "classify"
    return "caption"


def classification_labels(request: GenerateRequest) -> list[str]:
    """Candidate labels from the schema's enum, else from a label list in the prompt."""
    enum = find_enum(request.response_schema)
    if enum:
        return enum
    text = "\n".join([*request.texts, request.system_text])
    match = _CHOOSE.search(text)
    if not match:
        return []
    inline = match.group(1).strip()
    if inline:
        items = _SPLIT.split(inline.rstrip("."))
    else:
        items = []
        for line in text[match.end() :].splitlines():
            bullet = _BULLET.match(line)
            if bullet:
                items.append(bullet.group(1))
            elif items or line.strip():
                break
    labels = [item.strip().strip("\"'`[]().").strip() for item in items]
    return [label for label in labels if label]


def find_enum(schema: Any) -> list[str]:
    """The first ``enum`` list anywhere in a (normalised) schema."""
    if isinstance(schema, dict):
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return [str(value) for value in enum]
        for value in schema.values():
            found = find_enum(value)
            if found:
                return found
    elif isinstance(schema, list):
        for value in schema:
            found = find_enum(value)
            if found:
                return found
    return []


def schema_property_names(schema: Any) -> set[str]:
    """Property names at any depth of a schema."""
    names: set[str] = set()
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            names.update(props)
        for value in schema.values():
            names |= schema_property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= schema_property_names(value)
    return names


def requested_filter(request: GenerateRequest) -> tuple[set[str], set[str]]:
    """(colour names, shape names) the user's text asks for; empty sets mean "all"."""
    words = {_singular(w) for w in re.findall(r"[a-z]+", " ".join(request.texts).lower())}
    colours = {w for w in words if w in COLOUR_NAMES}
    if "grey" in words:
        colours.add("gray")
    shapes = {SHAPE_WORDS[w] for w in words if w in SHAPE_WORDS}
    return colours, shapes


def _singular(word: str) -> str:
    if word.endswith("es") and word[:-2] in ("box",):
        return word[:-2]
    return word[:-1] if word.endswith("s") and len(word) > 3 else word
