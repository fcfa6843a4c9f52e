"""Templates: one cached Jinja2 renderer, text derived from HTML, CSS inlined, starter templates."""

from typing import TYPE_CHECKING

from ..lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .acumbamail import (
        import_acumbamail as import_acumbamail,
    )
    from .html_text import (
        html_to_text as html_to_text,
    )
    from .renderer import (
        STARTER_DIR as STARTER_DIR,
    )
    from .renderer import (
        SUFFIXES as SUFFIXES,
    )
    from .renderer import (
        Rendered as Rendered,
    )
    from .renderer import (
        Renderer as Renderer,
    )
    from .renderer import (
        SearchPath as SearchPath,
    )
    from .renderer import (
        render as render,
    )
    from .renderer import (
        render_message as render_message,
    )

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    **homes(".acumbamail", "import_acumbamail"),
    **homes(".html_text", "html_to_text"),
    **homes(".renderer", "Rendered", "Renderer", "STARTER_DIR", "SUFFIXES", "SearchPath", "render",
            "render_message"),
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
