"""Sphinx extension: drop duplicate <script> entries before pages are written.

sphinx-thebe adds its inline configuration (`const THEBE_JS_URL = ...`) on every
`env-before-read-docs` event; when that event fires more than once in a build, each page
declares the constant twice and the browser reports "Identifier 'THEBE_JS_URL' has
already been declared". Keeping the first copy of each script fixes it.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # (inline scripts arrive with filename None or "", and possibly another
        # priority)
        key = (
            str(getattr(script, "filename", script) or ""),
            repr(sorted(getattr(script, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
