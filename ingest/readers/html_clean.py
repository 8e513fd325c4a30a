"""HTML made ready to read: page furniture out, named definitions in as headings.

Documentation sites repeat their whole menu and the page's table of contents at the top of
every page (Sphinx sidebars and "related" bars, DocBook ``navheader``/``toc`` blocks, the
Node.js docs' menu and picker). As chunks they name every function of the page, so they
outrank the passage that explains one, and the same menu comes back from every page. Removed:
``nav`` and ``aside`` elements, elements whose ARIA role is navigation, search, banner or
contentinfo, page-level ``header``/``footer`` (not those of an article), and elements whose
class or id names a table of contents, navigation, sidebar, menu, breadcrumbs or skip link.
So are a heading's permalink marks (Sphinx's "¶", the Node.js docs' "#"): read as part of the
heading they end up in every section path ("Child process# > Class: ChildProcess#"), and
Sphinx's "[source]" links beside every signature.

API references put each function, class or option in a definition list rather than under a
heading: Sphinx writes ``<dt id="json.dumps">json.dumps(obj, ...)</dt>``, DocBook
``<dt><a name="opt.trace-children"/>--trace-children=...</dt>``. Read as plain text, a
section such as "Files and Directories" then packs dozens of functions into chunks whose
section path names none of them, and a chunk from the middle of one function's description
does not say which function it describes. A definition term that is a link target (it has an
id, or starts with an anchor) becomes a heading one level below the section it is in (nested
definitions, a class's methods, one level further), named by its signature's name (Sphinx's
``json.dumps``) or its text, and the full term stays as the first line of its body.
"""

from __future__ import annotations

import re

_TAGS = frozenset({"nav", "aside"})
_ROLES = frozenset({"navigation", "search", "banner", "contentinfo"})
_NAMES = frozenset(
    {"toc", "gtoc", "nav", "navbar", "navheader", "navfooter", "navigation", "sidebar",
     "sphinxsidebar", "menu", "breadcrumb", "breadcrumbs", "skip", "related", "viewcode"}
)  # fmt: skip
_SPLIT = re.compile(r"[\s_\-]+")
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_PERMALINK = re.compile(r"[#¶§🔗]")
_TITLED = _HEADINGS | {"dt"}  # where a permalink mark is furniture
_NAME_CLASSES = frozenset({"sig-prename", "sig-name", "descclassname", "descname"})  # Sphinx
_MAX_NAME = 80
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _name(el) -> str:  # type: ignore[no-untyped-def]
    """The element's tag without an XHTML namespace (comments and the like: "")."""
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def _furniture(el) -> bool:  # type: ignore[no-untyped-def]
    tag = _name(el)
    if tag == "a" and _PERMALINK.fullmatch((el.text_content() or "").strip()):
        return any(_name(a) in _TITLED for a in el.iterancestors())
    if tag in _TAGS or (el.get("role") or "").lower() in _ROLES:
        return True
    if tag in ("header", "footer"):
        return not any(_name(a) in ("article", "main") for a in el.iterancestors())
    names = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return any(part in _NAMES for part in _SPLIT.split(names) if part)


def clean_html(html: str) -> str:
    """``html`` without its navigation and tables of contents and with its named definitions
    as headings; unchanged if unparseable, furniture kept if nothing else would be left (a
    page that is all navigation is read as it is)."""
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
    for el in removed:
        if el.getparent() is not None:
            el.drop_tree()
    if removed and not body.text_content().strip():
        return html
    named = _definitions_as_headings(body)
    return lxml.html.tostring(root, encoding="unicode") if removed or named else html


def _definitions_as_headings(body) -> bool:  # type: ignore[no-untyped-def]
    """Turn each named definition term into a heading; whether there was any."""
    from lxml.html import Element

    level, named = 1, []
    for el in body.iter():
        tag = _name(el)
        if tag in _HEADINGS:
            level = int(tag[1])
        elif tag == "dt" and _is_named(el):
            # one below the section it is in, and one more per enclosing definition
            depth = sum(_name(a) == "dd" for a in el.iterancestors())
            named.append((el, min(6, level + 1 + depth)))
    for dt, n in named:
        text = " ".join(dt.text_content().split())
        name = _signature_name(dt) or text
        if len(name) > _MAX_NAME:
            name = name[:_MAX_NAME].rsplit(" ", 1)[0] + "…"
        heading = Element(f"h{n}")
        heading.text = name
        dt.addprevious(heading)
        if name == text:
            dt.drop_tree()
    return bool(named)


def _is_named(dt) -> bool:  # type: ignore[no-untyped-def]
    """A definition term others link to: it has an id, or holds an anchor (no href)."""
    return bool(dt.get("id")) or any(
        _name(a) == "a" and (a.get("name") or a.get("id")) and not a.get("href") for a in dt.iter()
    )


def _signature_name(dt) -> str | None:  # type: ignore[no-untyped-def]
    """Sphinx's qualified name of a documented object ("json.dumps"), without its
    parameters; None for other kinds of term."""
    parts = [
        el.text_content().strip()
        for el in dt.iter()
        if _NAME_CLASSES & set((el.get("class") or "").split())
    ]
    return "".join(parts) or None
