"""The fast paths of email_normalize / phone_normalize never change an answer.

The CSV import normalizes a million addresses, so the common shapes skip Django's email validator
and phonenumbers' parser. These tests compare each fast path with the general path on random and
hand-picked input: whenever the fast path answers, the general path gives the same address (and
never rejects it)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from audiences.services import _SIMPLE_EMAIL_RE, _phone_fast, email_normalize, phone_normalize


def general_phone(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


REGIONS = ("IN", "DE", "FR", "IT", "BR", "AE", "SG", "AU", "NZ", "CN", "JP", "MX", "AR", "ZA", "NG", "ES",
           "NL", "BE", "CH", "AT", "SE", "PK", "BD", "ID", "PH", "KE", "EG", "SA", "IL", "TR", "KR", "HU",
           "US", "GB", "RU", "CA")


def phone_spellings(rng: random.Random, region: str) -> list[str]:
    cc = str(phonenumbers.country_code_for_region(region))
    example = phonenumbers.example_number_for_type(region, rng.choice(
        (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)))
    nsn = phonenumbers.national_significant_number(example) if example else "".join(
        rng.choice("0123456789") for _ in range(rng.randint(4, 12)))
    # The example with random digit changes, insertions and deletions: valid and invalid numbers.
    digits = list(nsn)
    for _ in range(rng.randint(0, 3)):
        op, at = rng.random(), rng.randrange(len(digits) + 1)
        if op < 0.5 and at < len(digits):
            digits[at] = rng.choice("0123456789")
        elif op < 0.75:
            digits.insert(at, rng.choice("0123456789"))
        elif digits and at < len(digits):
            del digits[at]
    national = "".join(digits) or "1"
    spaced = " ".join(national[i:i + rng.randint(2, 5)] for i in range(0, len(national), 3))
    return [national, f"+{cc}{national}", f"+{cc} {spaced}", f"0{national}", f"{cc}{national}",
            f"00{cc}{national}", f"+{cc}-{national}", f"+{cc}0{national}", national[:3], f"+{national}"]


def test_the_phone_fast_path_agrees_with_phonenumbers_on_random_numbers_of_many_regions():
    rng = random.Random(20261123)
    answered = 0
    for _ in range(40):
        for region in REGIONS:
            for raw in phone_spellings(rng, region):
                fast = _phone_fast(raw, region)
                if fast is not None:
                    answered += 1
                    assert fast == general_phone(raw, region), (raw, region)
    assert answered > 1000  # the fast path does take the common shapes


@settings(max_examples=400, deadline=None)
@given(raw=st.from_regex(r"\+?[0-9][0-9 -]{0,18}", fullmatch=True), region=st.sampled_from(REGIONS))
def test_the_phone_fast_path_never_answers_differently(raw, region):
    fast = _phone_fast(raw, region)
    if fast is not None:
        assert fast == general_phone(raw, region)


@pytest.mark.parametrize("raw", ["98123 45678", "+91 98123 45678", "+919812345678", "9812345678"])
def test_indian_mobiles_in_plain_shapes_take_the_fast_path(raw):
    assert _phone_fast(raw, "IN") == "+919812345678" == phone_normalize(raw, region="IN")


@pytest.mark.parametrize("raw", ["12345", "+91 12345", "0000000000"])
def test_invalid_numbers_still_get_the_general_paths_reason(raw):
    with pytest.raises(ValueError, match="phone number"):
        phone_normalize(raw, region="IN")


def is_valid_for_django(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(address=st.one_of(
    st.emails().map(str.lower),
    st.from_regex(r"[a-z0-9._+-]{1,12}@[a-z0-9.-]{1,20}\.[a-z-]{1,5}", fullmatch=True),
    st.text(alphabet="ab.-_+@1", max_size=20),
))
def test_the_email_fast_path_accepts_only_what_djangos_validator_accepts(address):
    if _SIMPLE_EMAIL_RE.fullmatch(address) and len(address) <= 254:
        assert is_valid_for_django(address)
        assert email_normalize(address) == address


@pytest.mark.parametrize("address", ["a..b@example.com", "a@-example.com", "a@example", "a@example.c",
                                     ".a@example.com", "a@example..com"])
def test_bad_emails_are_still_refused(address):
    with pytest.raises(ValueError, match="not a valid email address"):
        email_normalize(address)
