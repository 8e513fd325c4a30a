"""Page furniture out of HTML before it is read: navigation, tables of contents, skip links.

Documentation sites repeat their whole menu and the page's table of contents at the top of
every page (Sphinx sidebars and "related" bars, DocBook ``navheader``/``toc`` blocks, the
Node.js docs' menu and picker). As chunks they name every function of the page, so they
outrank the passage that explains one, and the same menu comes back from every page. Removed:
``nav`` and ``aside`` elements, elements whose ARIA role is navigation, search, banner or
contentinfo, page-level ``header``/``footer`` (not those of an article), and elements whose
class or id names a table of contents, navigation, sidebar, menu, breadcrumbs or skip link.
So are a heading's permalink marks (Sphinx's "¶", the Node.js docs' "#"): read as part of the
heading they end up in every section path ("Child process# > Class: ChildProcess#").
"""

from __future__ import annotations

import re

_TAGS = frozenset({"nav", "aside"})
_ROLES = frozenset({"navigation", "search", "banner", "contentinfo"})
_NAMES = frozenset(
    {"toc", "gtoc", "nav", "navbar", "navheader", "navfooter", "navigation", "sidebar",
     "sphinxsidebar", "menu", "breadcrumb", "breadcrumbs", "skip", "related"}
)  # fmt: skip
_SPLIT = re.compile(r"[\s_\-]+")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PERMALINK = re.compile(r"[#¶§🔗]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _name(el) -> str:  # type: ignore[no-untyped-def]
    """The element's tag without an XHTML namespace (comments and the like: "")."""
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _furniture(el) -> bool:  # type: ignore[no-untyped-def]
    tag = _name(el)
    if tag == "a" and _PERMALINK.fullmatch((el.text_content() or "").strip()):
        return any(_name(a) in _HEADINGS for a in el.iterancestors())
    if tag in _TAGS or (el.get("role") or "").lower() in _ROLES:
        return True
    if tag in ("header", "footer"):
        return not any(_name(a) in ("article", "main") for a in el.iterancestors())
    names = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return any(part in _NAMES for part in _SPLIT.split(names) if part)


def strip_furniture(html: str) -> str:
    """``html`` without its navigation and tables of contents; unchanged if unparseable or
    if nothing would be left (a page that is all navigation is read as it is)."""
    try:
        import lxml.html

        # lxml refuses text that declares its own encoding (XHTML's <?xml ...?>)
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", html, count=1))
    except (ValueError, RecursionError, Exception):  # noqa: BLE001 - any parse failure: as is
        return html
    body = next((el for el in root.iter() if _name(el) == "body"), None)
    if body is None:
        return html
    removed = [el for el in body.iter() if el is not body and _furniture(el)]
    if not removed:
        return html
    for el in removed:
        if el.getparent() is not None:
            el.drop_tree()
    if not body.text_content().strip():
        return html
    return lxml.html.tostring(root, encoding="unicode")
