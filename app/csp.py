"""Content-Security-Policy sources our HTML pages share (pure: no web framework, so the use
cases that render a page may use it)."""

import base64
import hashlib


def style_block_source(css: str) -> str:
    """The source expression that allows one static <style> block by its sha256, and no other
    inline style: how the board report and the self-assessment pages carry their styles."""
    digest = hashlib.sha256(css.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"
