"""``acumbamail-smtp templates ...``: import Acumbamail exports, preview and list templates."""

from __future__ import annotations

import argparse
import html
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..templates.renderer import STARTER_DIR, SUFFIXES, Renderer, import_acumbamail

#: The two widths a preview shows the HTML at: a phone and a desktop mail client.
PREVIEW_WIDTHS = (375, 800)


def register(subparsers: Any) -> None:
    """Add the ``templates`` command and its sub-commands."""
    parser = subparsers.add_parser("templates", help="import, preview and list mail templates")
    commands = parser.add_subparsers(dest="templates_command", metavar="SUBCOMMAND")
    parser.set_defaults(func=lambda args: _usage(parser))

    imp = commands.add_parser("import", help="turn HTML exported from Acumbamail into a template")
    imp.add_argument("file", metavar="FILE.html", help="the exported HTML (with *|TAG|* merge tags)")
    imp.add_argument("--name", required=True, help="template name: writes NAME.html")
    imp.add_argument("--out", default=".", metavar="DIR", help="folder to write to (default: .)")
    imp.add_argument("--subject", help="subject (default: the HTML's <title>, else the 'subject' "
                     "context variable)")
    imp.add_argument("--force", action="store_true", help="overwrite an existing NAME.html")
    imp.set_defaults(func=run_import)

    preview = commands.add_parser("preview", help="render a template into files to look at")
    preview.add_argument("name", metavar="NAME")
    preview.add_argument("--context", metavar="CTX.json", help="JSON object of template variables")
    preview.add_argument("--out", required=True, metavar="DIR", help="folder to write to")
    preview.add_argument("--template-dir", action="append", default=[], metavar="DIR",
                         help="folder of templates (repeatable; the starter templates come last)")
    preview.add_argument("--no-inline-css", action="store_true", help="keep CSS in <style> only")
    preview.set_defaults(func=run_preview)

    listing = commands.add_parser("list", help="list the templates found, starters included")
    listing.add_argument("--template-dir", action="append", default=[], metavar="DIR")
    listing.set_defaults(func=run_list)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _safe_name(name: str) -> str:
    if not name or name.startswith((".", "_")) or any(sep in name for sep in "/\\"):
        raise ConfigError("--name", f"{name!r} is not a plain file name (no folders, no leading "
                          "'.' or '_')")
    return name


def run_import(args: argparse.Namespace) -> int:
    """Convert an Acumbamail export into ``OUT/NAME.html``."""
    name = _safe_name(args.name)
    source = Path(args.file)
    try:
        exported = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("FILE.html", f"{source} cannot be read: {exc}") from exc
    template = import_acumbamail(exported, args.subject, source=source.name)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.html"
    if target.exists() and not args.force:
        raise ConfigError("--out", f"{target} exists (use --force to overwrite it)")
    target.write_text(template, encoding="utf-8")
    print(f"wrote {target}")
    if "{{ subject }}" in template.split("{% endblock %}", 1)[0]:
        print("note: no --subject and no <title>: give 'subject' in the context when rendering")
    return 0


def run_preview(args: argparse.Namespace) -> int:
    """Render a template into NAME.html, NAME.txt and NAME.preview.html under ``--out``."""
    name = _safe_name(args.name.split(".", 1)[0])
    context: dict[str, Any] = {}
    if args.context:
        try:
            loaded = json.loads(Path(args.context).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError("--context", f"{args.context} is not a readable JSON file: {exc}") \
                from exc
        if not isinstance(loaded, dict):
            raise ConfigError("--context", f"{args.context} must hold a JSON object")
        context = loaded
    renderer = Renderer(args.template_dir, inline_css=not args.no_inline_css)
    rendered = renderer.render(args.name, context)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.html").write_text(rendered.html, encoding="utf-8")
    (out / f"{name}.txt").write_text(rendered.text + "\n", encoding="utf-8")
    page = preview_page(rendered.subject, rendered.html, rendered.text, title=name)
    (out / f"{name}.preview.html").write_text(page, encoding="utf-8")
    print(f"wrote {out / name}.html, .txt and .preview.html")
    return 0


def preview_page(subject: str, body_html: str, text: str, *, title: str) -> str:
    """A page showing the subject, the HTML at phone and desktop widths, and the text part."""
    frames = "\n".join(
        f'<figure><figcaption>{width} px</figcaption>'
        f'<iframe title="{html.escape(title)} at {width} px" width="{width}" height="900" '
        f'sandbox srcdoc="{html.escape(body_html, quote=True)}"></iframe></figure>'
        for width in PREVIEW_WIDTHS
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Preview: {html.escape(title)}</title>
<style>
body {{ margin: 24px; font-family: system-ui, sans-serif; color: #1f2933; background: #ffffff; }}
.subject {{ font-size: 20px; margin: 0 0 16px 0; }}
.label {{ color: #52606d; font-size: 13px; text-transform: uppercase; letter-spacing: .05em; }}
.frames {{ display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }}
figure {{ margin: 0; }}
figcaption {{ color: #52606d; font-size: 13px; margin: 0 0 4px 0; }}
iframe {{ border: 1px solid #cbd2d9; background: #ffffff; }}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; max-width: 80ch; padding: 16px;
       background: #f4f5f7; border: 1px solid #cbd2d9; }}
</style>
</head>
<body>
<p class="label">Subject</p>
<h1 class="subject">{html.escape(subject)}</h1>
<p class="label">HTML</p>
<div class="frames">
{frames}
</div>
<p class="label">Text</p>
<pre>{html.escape(text)}</pre>
</body>
</html>
"""


def run_list(args: argparse.Namespace) -> int:
    """Print each template name found and where it comes from (starters last)."""
    folders = [Path(d) for d in args.template_dir]
    for folder in folders:
        if not folder.is_dir():
            raise ConfigError("--template-dir", f"{folder} is not a folder")
    seen: set[str] = set()
    for folder in [*folders, STARTER_DIR]:
        origin = "starter" if folder == STARTER_DIR else str(folder)
        for path in sorted(folder.iterdir()):
            name = next((path.name[: -len(s)] for s in reversed(SUFFIXES)
                         if path.name.endswith(s)), None)
            if name is None or name.startswith(("_", ".")) or not path.is_file():
                continue
            shadowed = " (hidden by an earlier folder)" if name in seen else ""
            seen.add(name)
            print(f"{name}\t{origin}{shadowed}")
    return 0

