"""What a label may be called: the one rule, checked wherever a label is born.

A label travels as a folder name (``DATASET/<label>/``), in the model's label
list, in the generated C header (``KWS_MODEL_LABELS_CSV``) and in the board's
protocol lines (``BOOT ... labels=yes,no,...``, ``INF ... top=yes``,
``DET ... label=yes``; docs/protocol.md). Those lines separate fields by spaces,
keys from values by ``=`` and labels by commas, so a folder named ``turn on`` or
``a,b`` would make lines the host parser cannot read. A label is therefore 1 to
32 ASCII letters, digits, ``_`` or ``-``: a subset of what both the firmware's
encoder and :mod:`tinykws.board.protocol` carry unchanged.

:func:`check_label` is called by dataset discovery (so ``tinykws train``), by
``tinykws record --label`` and by ``tinykws data import``.
"""

from __future__ import annotations

import re

from tinykws.errors import UserError

LABEL_MAX_CHARS = 32
LABEL_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{LABEL_MAX_CHARS}}}")


def is_label(name: str) -> bool:
    """``True`` when ``name`` may be a label (see the module docstring for why)."""
    return isinstance(name, str) and LABEL_RE.fullmatch(name) is not None


def suggest_label(name: str) -> str:
    """The nearest valid label: other characters become ``_``, cut to :data:`LABEL_MAX_CHARS` (``""`` if none is left)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")[:LABEL_MAX_CHARS]


def check_label(name: str, what: str = "label") -> str:
    """``name`` itself, or a one-line :class:`UserError` that names it and says how to fix it."""
    if is_label(name):
        return name
    hint = suggest_label(name)
    fix = f" (e.g. {hint!r})" if hint and hint != name else ""
    raise UserError(f"{what} {name!r}: a label may only use letters, digits, '_' and '-' (1 to {LABEL_MAX_CHARS}), "
                    f"because the board's protocol lines separate fields with spaces and labels with commas; "
                    f"rename it{fix}")
