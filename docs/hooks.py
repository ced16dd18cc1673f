"""mkdocs hook: every public module of src/vaekit must appear in a `::: vaekit...` directive.

A module added, or moved, without its place in docs/api/ is a warning, so the strict build fails.
Reads files only: nothing is imported.
"""

import logging
import re
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.api_coverage")  # under "mkdocs": counted by strict mode

DIRECTIVE = re.compile(r"^:::\s+([\w.]+)", re.MULTILINE)


def on_pre_build(config):
    root = Path(config["config_file_path"]).parent
    src = root / "src"
    modules = set()
    for path in (src / "vaekit").rglob("*.py"):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(part.startswith("_") for part in parts):
            modules.add(".".join(parts))
    documented = set()
    for page in Path(config["docs_dir"]).rglob("*.md"):
        documented.update(DIRECTIVE.findall(page.read_text(encoding="utf-8")))
    for name in sorted(modules - documented):
        log.warning(f"Module '{name}' is not in the API reference: add '::: {name}' to docs/api/.")
