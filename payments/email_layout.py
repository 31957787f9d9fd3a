"""The e-mails' look: ``static/css/email.css``, copied onto each element as a style attribute.

Mail programs drop most ``<style>`` blocks, and the templates carry no
``style=""`` of their own (one stylesheet, like the site's): each
``class="email-…"`` is replaced, at rendering, by the declarations of its
rules.
"""

import re
from functools import cache
from pathlib import Path

from django.conf import settings

STYLESHEET = Path(settings.BASE_DIR) / "static" / "css" / "email.css"
RULE = re.compile(r"\.([\w-]+)\s*\{([^}]*)\}")
CLASS_ATTRIBUTE = re.compile(r'\sclass="([^"]*)"')
COMMENT = re.compile(r"/\*.*?\*/", re.S)


@cache
def _rules() -> dict[str, str]:
    css = COMMENT.sub("", STYLESHEET.read_text())
    return {name: " ".join(body.split()).strip() for name, body in RULE.findall(css)}


def inline_styles(html: str) -> str:
    """``class="email-card"`` becomes ``style="background: #ffffff; …"``."""
    rules = _rules()

    def replace(match: re.Match) -> str:
        declarations = " ".join(rules[name] for name in match[1].split() if name in rules)
        return f' style="{declarations}"' if declarations else match[0]

    return CLASS_ATTRIBUTE.sub(replace, html)
