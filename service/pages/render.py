"""HTML out: Jinja2 templates (autoescaped), one stylesheet inlined and pinned by its hash
in the Content-Security-Policy, and headers that keep the page private: not cached, not
indexed, not framed, and no Referer that would carry the link's token elsewhere."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Response
from litestar.enums import MediaType
from markupsafe import Markup

from service.pages.i18n import Translator

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
CSS = (TEMPLATES / "page.css").read_text(encoding="utf-8")
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "X-Robots-Tag": "noindex, nofollow",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


def page(template: str, language: str, status: int = 200, **context: Any) -> Response[str]:
    """Render `template` for a patient reading `language`; `t` translates in templates."""
    t = Translator(language)
    context.setdefault("clinic", None)
    html = _env.get_template(template).render(
        t=t, lang=t.language, css=Markup(CSS), **context  # noqa: S704 - our own stylesheet
    )
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=HEADERS)
