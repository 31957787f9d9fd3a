"""``PAYMENT_TRANSITIONS``: checked against the README's state diagram and the money's direction.

Every service asks ``Payment.can_transition_to`` before it moves a payment,
so a wrong entry in the table (``captured → authorized``, say) would be
obeyed everywhere. Two independent oracles catch it: the diagram the README
documents, and the rule that a payment only moves forward.
"""

import re
from pathlib import Path

from django.conf import settings

from payments.models import PAYMENT_TRANSITIONS, Payment, PaymentStatus

README = Path(settings.BASE_DIR) / "README.md"
EDGE = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::.*)?$")

# The lifecycle runs one way: asked, held, debited, refunded; the ends go nowhere.
FORWARD = [
    PaymentStatus.PENDING,
    PaymentStatus.IN_REVIEW,
    PaymentStatus.AUTHORIZED,
    PaymentStatus.PARTIALLY_CAPTURED,
    PaymentStatus.CAPTURED,
    PaymentStatus.PARTIALLY_REFUNDED,
    PaymentStatus.REFUNDED,
]
ENDS = {PaymentStatus.FAILED, PaymentStatus.VOIDED, PaymentStatus.EXPIRED, PaymentStatus.REFUNDED}
# Only a partial state may stay where it is (another parcel, another refund).
REPEATABLE = {PaymentStatus.PARTIALLY_CAPTURED, PaymentStatus.PARTIALLY_REFUNDED}
RANK = {status: index for index, status in enumerate(FORWARD)} | {
    status: len(FORWARD) for status in ENDS - set(FORWARD)
}


def documented_diagram() -> tuple[set[str], set[tuple[str, str]]]:
    """The states and moves of the README's ``stateDiagram-v2`` (start and end markers aside)."""
    text = README.read_text(encoding="utf-8")
    blocks = [
        block
        for block in re.findall(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
        if block.lstrip().startswith("stateDiagram")
    ]
    assert len(blocks) == 1, "the README documents one payment state diagram"
    states, moves = set(), set()
    for line in blocks[0].splitlines()[1:]:
        match = EDGE.match(line)
        if match is None:
            assert not line.strip(), f"unreadable line in the state diagram: {line!r}"
            continue
        source, target = match.groups()
        states |= {source, target} - {"[*]"}
        if "[*]" not in (source, target):
            moves.add((source, target))
    return states, moves


def table_moves() -> set[tuple[str, str]]:
    return {
        (str(source), str(target))
        for source, targets in PAYMENT_TRANSITIONS.items()
        for target in targets
    }


def test_the_table_is_the_documented_state_diagram():
    states, moves = documented_diagram()

    assert states == set(PaymentStatus.values)
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus.values)
    assert table_moves() - moves == set(), "allowed by the table, not in the README's diagram"
    assert moves - table_moves() == set(), "in the README's diagram, refused by the table"


def test_every_allowed_move_goes_forward():
    backwards = {
        (source, target)
        for source, target in table_moves()
        if not (RANK[target] > RANK[source] or (source == target and source in REPEATABLE))
    }
    assert backwards == set()
    assert all(not PAYMENT_TRANSITIONS[end] for end in ENDS)


def test_every_pair_of_statuses_is_decided_by_the_diagram():
    """Every one of the 100 pairs: allowed exactly when the README draws the move."""
    _, moves = documented_diagram()
    wrong = [
        (source, target)
        for source in PaymentStatus.values
        for target in PaymentStatus.values
        if Payment(status=source).can_transition_to(target) != ((source, target) in moves)
    ]
    assert wrong == []
