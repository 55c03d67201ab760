"""The three honest states of a quote (kb.evidence.states): one decision, the same on every page."""

from datetime import date
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.urls import reverse

from kb.content.loader import load_content
from kb.evidence.states import QuoteState, capture_status, quote_state, quote_status, state_of
from kb.knowledge import models as m
from tests.conftest import FIXTURES
from tests.test_pages import text_of

DATABASES_KB = FIXTURES / "databases"
SHA = "7ab2f70d0a3a8946c2903167c5275a70635f5045cdce412f81afd4ed1dd54d76"


@pytest.mark.parametrize(
    ("verification", "recorded", "state"),
    [
        ("verified", True, QuoteState.VERIFIED),
        ("verified", False, QuoteState.VERIFIED),
        ("mismatch", True, QuoteState.NOT_FOUND),
        ("unverified", True, QuoteState.CAPTURED_ELSEWHERE),
        ("unverified", False, QuoteState.NEVER_CAPTURED),
    ],
)
def test_the_state_follows_the_verification_and_whether_the_content_records_a_capture(verification, recorded, state):
    assert state_of(verification, recorded) == state


def test_any_record_with_the_same_attributes_can_be_asked_and_missing_ones_count_as_empty():
    """The comparison's read model calls it on its own records, which may not carry every field."""
    source = SimpleNamespace(captured=date(2026, 11, 21))  # no fingerprint, no archive
    elsewhere = quote_status(SimpleNamespace(verification="unverified", verified_sha256="", source=source))
    assert elsewhere.state == "captured-elsewhere" and elsewhere.sha256 == "" and elsewhere.how_to_get == ""
    assert "21 November 2026" in elsewhere.explanation and "holds no copy" in elsewhere.explanation
    source = SimpleNamespace(capture_sha256=SHA, capture_characters=438, captured=None, archive="guide")
    status = quote_status(SimpleNamespace(verification="unverified", verified_sha256=""), source)
    assert status.sha256 == SHA and f"SHA-256 {SHA}, 438 characters" in status.explanation
    assert "guide.txt" in status.how_to_get and "import_captures" in status.how_to_get
    verified = SimpleNamespace(verification="verified", verified_sha256="ab" * 32, source=source)
    assert quote_state(verified) == "verified" and quote_status(verified).sha256 == "ab" * 32
    never = SimpleNamespace(verification="unverified", verified_sha256="", source=SimpleNamespace())
    assert quote_state(never) == QuoteState.NEVER_CAPTURED and quote_status(never).sha256 == ""


def test_a_source_whose_capture_is_held_or_not(db):
    source = SimpleNamespace(capture_sha256=SHA, captured=date(2026, 11, 28), archive="guide")
    assert capture_status(source, SHA).state == QuoteState.VERIFIED
    assert capture_status(source, "").state == QuoteState.CAPTURED_ELSEWHERE
    assert capture_status(source, "ff" * 32).state == QuoteState.CAPTURED_ELSEWHERE  # another text: not that one
    assert capture_status(SimpleNamespace(capture_sha256="", captured=None), "").state == QuoteState.NEVER_CAPTURED


def test_claim_page_and_source_page_agree_before_and_after_the_capture_arrives(client, db):
    load_content(DATABASES_KB / "content")
    claim_url = reverse("kb:claim", args=["sqlite", "concurrent-writes"])
    source_url = reverse("kb:source", args=["concurrency-guide"])
    m.Claim.objects.update(status=m.Status.PUBLISHED)

    claim, source = text_of(client.get(claim_url)), text_of(client.get(source_url))
    assert 'class="verification verification--captured-elsewhere"' in claim
    assert f"Captured elsewhere (capture {SHA[:8]} of 28 Nov 2026), not held by this server" in claim
    assert "Captured elsewhere</span>: the text was captured on" in source
    assert "Verified" not in claim and "Verified</span>" not in source
    assert comparison_states(client) == {"captured-elsewhere"}

    call_command("import_captures", str(DATABASES_KB / "archive"))
    claim, source = text_of(client.get(claim_url)), text_of(client.get(source_url))
    assert f"Verified in the capture of 28 Nov 2026 ({SHA[:8]})" in claim
    assert "Verified</span> word for word against the text captured on" in source
    assert "Held</span>: its quotes are checked against it." in source
    assert "Captured elsewhere" not in claim and "Captured elsewhere" not in source
    assert comparison_states(client) == {"verified"}


def comparison_states(client):
    """The states the comparison's JSON and CSV give this claim's quotes: the same as the pages'."""
    spec = ["sqlite", "postgresql"]
    data = client.get(reverse("kb:compare-json", kwargs={"spec": spec})).json()
    excerpts = data["excerpts"].values() if isinstance(data["excerpts"], dict) else data["excerpts"]
    states = {excerpt["state"] for excerpt in excerpts if excerpt["source"] == "concurrency-guide"}
    csv = client.get(reverse("kb:compare-csv", kwargs={"spec": spec})).content.decode()
    assert states and all(f": {state}" in csv for state in states)
    return states
