"""A run report: one self-contained HTML page (pictures embedded) that a user can open or send on.

`render_report` takes text and PNG bytes, never models: the CLI's `vaekit report` gathers them
(generation -> plots) and this module lays them out.
"""

import base64
import html
import json
from dataclasses import dataclass, field

from vaekit import atomic


@dataclass
class Section:
    """One part of the report: a title, optional preformatted text or table, optional pictures."""

    title: str
    text: str | None = None  # shown preformatted (a config, a log)
    table: dict | None = None  # flat {name: value}, shown as a two-column table
    rows: dict | None = None  # {column: values}, shown as a data table (a table's rows)
    images: list = field(default_factory=list)  # [(caption, png bytes)]
    note: str | None = None  # one line under the title


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
table { border-collapse: collapse; } td, th { padding: 0.2em 0.8em; border-bottom: 1px solid #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; }
figure img { max-width: 100%; image-rendering: pixelated; } figcaption { color: #555; }
.note { color: #555; }
"""


def render_report(title, sections, subtitle=None):
    """The report as one HTML string; every picture is embedded as a data URI."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if subtitle:
        parts.append(f'<p class="note">{html.escape(subtitle)}</p>')
    for section in sections:
        slug = section.title.lower().replace(" ", "-")
        parts.append(f'<section id="{html.escape(slug)}"><h2>{html.escape(section.title)}</h2>')
        if section.note:
            parts.append(f'<p class="note">{html.escape(section.note)}</p>')
        if section.table:
            rows = "".join(
                f"<tr><th>{html.escape(str(k))}</th><td class=num>{html.escape(_fmt(v))}</td></tr>"
                for k, v in section.table.items()
            )
            parts.append(f"<table>{rows}</table>")
        if section.rows:
            header = "".join(f"<th>{html.escape(str(name))}</th>" for name in section.rows)
            body = "".join(
                "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                for row in zip(*section.rows.values(), strict=True)
            )
            parts.append(f"<table><tr>{header}</tr>{body}</table>")
        if section.text:
            parts.append(f"<pre>{html.escape(section.text)}</pre>")
        for caption, png in section.images:
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path, title, sections, subtitle=None):
    """Write the report atomically. Returns the path."""
    atomic.write_text(path, render_report(title, sections, subtitle))
    return path


def flatten(metrics, prefix=""):
    """{"val": {"loss": 1}} -> {"val loss": 1}: nested JSON as one table."""
    out = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, prefix=f"{name} "))
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = value
    return out


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.6g}"
    return "" if value is None else str(value)
