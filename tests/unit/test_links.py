"""Signed patient links: signing, verifying, tampering and expiry, without a database."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import struct
import uuid

from hypothesis import given
from hypothesis import strategies as st

from service import links
from service.db.repos.links import LinkPurpose
from service.links import LinkClaims, Refusal, RefusalReason, sign, verify

SECRET = "unit-test-secret"
NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)


def claims(expires_in: dt.timedelta = dt.timedelta(days=7)) -> LinkClaims:
    return LinkClaims(link_id=uuid.uuid4(), expires_at=NOW + expires_in)


def flip(text: str, index: int) -> str:
    """One character changed to another of the base64url alphabet."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_signed_token_verifies_to_its_claims() -> None:
    signed = claims()
    token = sign(signed, SECRET)
    assert verify(token, SECRET, NOW) == signed
    assert verify(token, SECRET, signed.expires_at - dt.timedelta(seconds=1)) == signed


def test_a_token_is_short_and_url_safe() -> None:
    token = sign(claims(), SECRET)
    assert len(token) < 90, "short enough for an SMS"
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert links.url("https://concord.example/", token) == f"https://concord.example/p/{token}"


def test_expiry_is_kept_to_the_second() -> None:
    signed = LinkClaims(link_id=uuid.uuid4(), expires_at=NOW + dt.timedelta(microseconds=999))
    verified = verify(sign(signed, SECRET), SECRET, NOW - dt.timedelta(seconds=1))
    assert isinstance(verified, LinkClaims)
    assert verified.expires_at == NOW


def test_an_expired_token_is_refused_and_names_its_link() -> None:
    signed = claims(dt.timedelta(hours=1))
    token = sign(signed, SECRET)
    for when in (signed.expires_at, signed.expires_at + dt.timedelta(days=30)):
        assert verify(token, SECRET, when) == Refusal(
            reason=RefusalReason.EXPIRED, link_id=signed.link_id
        )


def test_an_expired_token_that_was_tampered_with_is_tampered() -> None:
    """The signature is checked first: an attacker learns nothing from a forged expiry."""
    token = sign(claims(-dt.timedelta(days=1)), SECRET)
    assert verify(flip(token, 5), SECRET, NOW).reason is RefusalReason.TAMPERED


def test_any_changed_character_is_tampering() -> None:
    token = sign(claims(), SECRET)
    for index in range(len(token)):
        if token[index] == ".":
            continue
        changed = flip(token, index)
        refused = verify(changed, SECRET, NOW)
        assert isinstance(refused, Refusal), f"character {index} changed and still verified"
        assert refused.reason is RefusalReason.TAMPERED
        assert refused.link_id is None


def test_another_secret_does_not_verify() -> None:
    token = sign(claims(), SECRET)
    assert verify(token, "another-secret", NOW) == Refusal(reason=RefusalReason.TAMPERED)
    assert verify(token, "", NOW) == Refusal(reason=RefusalReason.TAMPERED)


def test_a_forged_expiry_does_not_verify() -> None:
    """Moving the expiry forward invalidates the MAC."""
    signed = claims(-dt.timedelta(days=1))
    token = sign(signed, SECRET)
    payload, mac = token.split(".")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    version, link_id, expires = struct.unpack(">B16sq", raw)
    later = struct.pack(">B16sq", version, link_id, expires + 30 * 86400)
    assert verify(f"{b64(later)}.{mac}", SECRET, NOW).reason is RefusalReason.TAMPERED


def test_another_format_version_is_refused_even_when_signed() -> None:
    payload = struct.pack(">B16sq", 2, uuid.uuid4().bytes, int(NOW.timestamp()) + 3600)
    key = hmac.new(SECRET.encode(), b"concord patient link v1", hashlib.sha256).digest()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    assert verify(f"{b64(payload)}.{b64(mac)}", SECRET, NOW).reason is RefusalReason.TAMPERED


def test_the_mac_is_not_keyed_with_the_raw_secret() -> None:
    """The key is derived for this use: a MAC under the bare secret does not verify."""
    payload = struct.pack(">B16sq", 1, uuid.uuid4().bytes, int(NOW.timestamp()) + 3600)
    mac = hmac.new(SECRET.encode(), payload, hashlib.sha256).digest()
    assert verify(f"{b64(payload)}.{b64(mac)}", SECRET, NOW).reason is RefusalReason.TAMPERED


def test_other_spellings_of_the_same_bytes_are_refused() -> None:
    token = sign(claims(), SECRET)
    payload, mac = token.split(".")
    for variant in (f"{payload}=.{mac}", f"{payload}.{mac}=", f"{payload}.{mac}\n",
                    f" {token}", f"{payload}..{mac}", f"{payload}.{mac}.x"):
        assert verify(variant, SECRET, NOW).reason is RefusalReason.TAMPERED


@given(st.text(max_size=300))
def test_arbitrary_text_is_tampered_never_an_error(text: str) -> None:
    assert verify(text, SECRET, NOW) == Refusal(reason=RefusalReason.TAMPERED)


def test_signing_needs_a_secret_and_an_aware_time() -> None:
    import pytest

    with pytest.raises(ValueError, match="secret"):
        sign(claims(), "")
    with pytest.raises(ValueError, match="timezone"):
        sign(LinkClaims(link_id=uuid.uuid4(), expires_at=dt.datetime(2026, 1, 1)), SECRET)


def test_which_purposes_are_single_use() -> None:
    assert LinkPurpose.CHECK_IN.single_use and LinkPurpose.OPT_OUT.single_use
    assert not LinkPurpose.PLAN.single_use, "reading a plan is not consuming its link"
