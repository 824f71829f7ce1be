"""Sphinx extension: keep the punctuation after inline math on the formula's line.

A sentence that ends in a formula ("... at $S = 4$.") lets the browser break between the
typeset formula and its full stop, so a lone "." or "," starts the next line (seen at
phone width). Each inline math node followed by punctuation is wrapped, with that
punctuation, in ``<span class="math-nowrap">`` (``white-space: nowrap``).
"""

import re

from docutils import nodes

_PUNCT = re.compile(r"^[.,;:!?)\]’”]+")


def _glue_punctuation(app, doctree):
    for math in list(doctree.findall(nodes.math)):
        parent = math.parent
        if (
            parent is None
            or isinstance(parent, nodes.inline)
            and "math-nowrap" in parent["classes"]
        ):
            continue
        index = parent.index(math)
        if index + 1 >= len(parent.children) or not isinstance(
            parent[index + 1], nodes.Text
        ):
            continue
        text = parent[index + 1]
        m = _PUNCT.match(str(text))
        if not m:
            continue
        span = nodes.inline(classes=["math-nowrap"])
        parent.replace(math, span)
        span += math
        span += nodes.Text(m.group(0))
        rest = str(text)[m.end() :]
        if rest:
            parent.replace(text, nodes.Text(rest))
        else:
            parent.remove(text)


def _static(app):
    app.config.html_static_path.append(
        str(__import__("pathlib").Path(__file__).parent / "static")
    )


def setup(app):
    app.connect("builder-inited", _static)
    app.connect("doctree-read", _glue_punctuation)
    app.add_css_file("math-nowrap.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
