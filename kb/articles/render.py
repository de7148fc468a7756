"""Markdown → safe HTML. markdown-it renders CommonMark with raw HTML switched off; nh3
(the ammonia sanitizer) then keeps only an allow-list of tags and attributes, so neither
``<script>`` nor ``javascript:`` links nor event handlers survive, however the Markdown is written."""

from __future__ import annotations

import re
from html import unescape

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre", "blockquote",
         "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td"}
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"style"}, "td": {"style"}}


def render_markdown(body: str) -> str:
    return nh3.clean(_md.render(body), tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer")


_BLOCK_END = re.compile(r"</(?:p|h[1-6]|li|tr|td|th|pre|blockquote)>|<br\s*/?>|<hr\s*/?>")


def plain_text(body: str) -> str:
    """What a reader sees of the Markdown, as one line of text: snippets and highlights show
    ``红冲``, never ``## `` or ``**红冲**``."""
    html_text = _BLOCK_END.sub(" ", _md.render(body))
    return " ".join(unescape(nh3.clean(html_text, tags=set())).split())
