"""marketplace.security: hashing, field encryption, masking, identity rules, TOTP, log redaction."""

from __future__ import annotations

import base64
import copy
import io
import logging
import os
import pickle
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

import pyotp
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from marketplace.security import (
    DUMMY_HASH,
    DecryptionError,
    Sensitive,
    SensitiveDataFilter,
    age_on,
    birth_date_from_id,
    blind_index,
    decrypt_field,
    encrypt_field,
    gender_from_id,
    hash_password,
    id_check_char,
    install_log_redaction,
    make_password_hasher,
    mask_bank_card,
    mask_email,
    mask_id_number,
    mask_mobile,
    mask_name,
    matched_totp_step,
    needs_rehash,
    needs_rotation,
    new_totp_secret,
    normalise_id_number,
    normalise_mobile,
    redact_sensitive,
    rotate,
    totp_uri,
    use_password_hasher,
    validate_chinese_name,
    validate_id_number,
    validate_mobile,
    validate_password_strength,
    verify_dummy,
    verify_password,
    verify_totp,
)
from marketplace.security.identity import (
    ID_NUMBER_BAD_BIRTH_DATE,
    ID_NUMBER_BAD_CHECKSUM,
    ID_NUMBER_BAD_FORMAT,
    ID_NUMBER_BAD_LENGTH,
    ID_NUMBER_BAD_REGION,
    MOBILE_BAD_FORMAT,
    NAME_BAD_CHARACTERS,
    NAME_BAD_LENGTH,
)
from marketplace.settings import settings

KNOWN_VALID_ID = "11010519491231002X"
CONTEXT = "borrower_profile.id_number"
TODAY = date(2025, 6, 1)


def _key() -> bytes:
    return os.urandom(32)


KEYS = {"k1": _key()}

# --- field encryption ----------------------------------------------------------------------


@given(plaintext=st.text(), context=st.text(min_size=1))
def test_encrypt_decrypt_round_trips_any_unicode(plaintext: str, context: str) -> None:
    token = encrypt_field(plaintext, context=context, keys=KEYS)
    assert token.isascii()
    assert decrypt_field(token, context=context, keys=KEYS) == plaintext


def test_token_names_version_and_key_and_hides_the_plaintext() -> None:
    token = encrypt_field("110101199003071234", context=CONTEXT, keys=KEYS)
    version, key_id, body = token.split(".")
    assert (version, key_id) == ("v1", "k1")
    assert "=" not in body and "1234" not in body
    assert len(base64.urlsafe_b64decode(body + "==")) == 12 + 18 + 16


def test_same_plaintext_encrypts_differently_each_time() -> None:
    first = encrypt_field("13812345678", context=CONTEXT, keys=KEYS)
    assert first != encrypt_field("13812345678", context=CONTEXT, keys=KEYS)


def test_defaults_to_the_active_key_from_settings() -> None:
    token = encrypt_field("张三", context=CONTEXT)
    assert token.split(".")[1] == settings.active_data_key_id
    assert decrypt_field(token, context=CONTEXT) == "张三"


@given(
    plaintext=st.text(max_size=40),
    position=st.integers(min_value=0),
    replacement=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
)
def test_changing_any_character_of_the_token_is_detected(
    plaintext: str, position: int, replacement: str
) -> None:
    token = encrypt_field(plaintext, context=CONTEXT, keys=KEYS)
    position %= len(token)
    assume(token[position] != replacement)
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(DecryptionError):
        decrypt_field(tampered, context=CONTEXT, keys=KEYS)


@given(plaintext=st.text(max_size=40), data=st.data())
def test_flipping_any_bit_of_nonce_or_ciphertext_is_detected(
    plaintext: str, data: st.DataObject
) -> None:
    token = encrypt_field(plaintext, context=CONTEXT, keys=KEYS)
    prefix, body = token.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    index = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[index] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    tampered = prefix + "." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(DecryptionError):
        decrypt_field(tampered, context=CONTEXT, keys=KEYS)


@pytest.mark.parametrize(
    "token",
    ["", "v1", "v1.k1", "v1.k1.", "v2.k1.AAAA", "v1.k1.!!!!", "v1..AAAA", "v1.k1.AAAA"],
)
def test_malformed_tokens_raise_decryption_error(token: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt_field(token, context=CONTEXT, keys=KEYS)


def test_ciphertext_cannot_move_to_another_column() -> None:
    token = encrypt_field("110101199003071234", context=CONTEXT, keys=KEYS)
    with pytest.raises(DecryptionError):
        decrypt_field(token, context="borrower_profile.mobile", keys=KEYS)


def test_unknown_key_id_raises_decryption_error() -> None:
    token = encrypt_field("x", context=CONTEXT, keys=KEYS)
    with pytest.raises(DecryptionError, match="unknown data key"):
        decrypt_field(token, context=CONTEXT, keys={"k9": _key()})


def test_key_id_is_authenticated_even_when_two_ids_share_a_key() -> None:
    key = _key()
    token = encrypt_field("x", context=CONTEXT, keys={"k1": key, "k2": key})
    relabelled = token.replace("v1.k1.", "v1.k2.", 1)
    with pytest.raises(DecryptionError):
        decrypt_field(relabelled, context=CONTEXT, keys={"k1": key, "k2": key})


def test_rotation_keeps_old_tokens_readable_and_moves_them_to_the_new_key() -> None:
    old, new = _key(), _key()
    old_token = encrypt_field("13812345678", context=CONTEXT, keys={"k1": old})
    after_rotation = {"k2": new, "k1": old}

    assert decrypt_field(old_token, context=CONTEXT, keys=after_rotation) == "13812345678"
    assert needs_rotation(old_token, keys=after_rotation)

    rotated = rotate(old_token, CONTEXT, keys=after_rotation)
    assert rotated.startswith("v1.k2.")
    assert not needs_rotation(rotated, keys=after_rotation)
    assert decrypt_field(rotated, context=CONTEXT, keys={"k2": new}) == "13812345678"
    with pytest.raises(DecryptionError):
        decrypt_field(old_token, context=CONTEXT, keys={"k2": new})


def test_rotate_leaves_current_tokens_alone_but_still_checks_them() -> None:
    token = encrypt_field("x", context=CONTEXT, keys=KEYS)
    assert rotate(token, CONTEXT, keys=KEYS) == token
    with pytest.raises(DecryptionError):
        rotate(token, "other.column", keys=KEYS)


def test_encrypt_refuses_key_ids_that_would_break_the_token_format() -> None:
    with pytest.raises(ValueError, match="key id"):
        encrypt_field("x", context=CONTEXT, keys={"k.1": _key()})


# --- blind index ---------------------------------------------------------------------------


@given(value=st.text(), purpose=st.text(min_size=1))
def test_blind_index_is_stable_hex_sha256(value: str, purpose: str) -> None:
    key = b"k" * 32
    first = blind_index(value, purpose=purpose, key=key)
    assert first == blind_index(value, purpose=purpose, key=key)
    assert len(first) == 64 and int(first, 16) >= 0


def test_blind_index_separates_purposes_values_and_keys() -> None:
    key = b"k" * 32
    id_index = blind_index("110101199003071234", purpose="id_number", key=key)
    assert id_index != blind_index("110101199003071234", purpose="mobile", key=key)
    assert id_index != blind_index("110101199003071235", purpose="id_number", key=key)
    assert id_index != blind_index("110101199003071234", purpose="id_number", key=b"j" * 32)


def test_blind_index_defaults_to_the_settings_key() -> None:
    assert blind_index("13812345678", purpose="mobile") == blind_index(
        "13812345678", purpose="mobile", key=settings.blind_index_key
    )


def test_normalisers_make_equal_inputs_index_equally() -> None:
    key = b"k" * 32
    spellings = [
        "11010519491231002x",
        " 110105 19491231 002X ",
        "１１０１０５１９４９１２３１００２Ｘ",
    ]
    assert {normalise_id_number(s) for s in spellings} == {KNOWN_VALID_ID}
    indexes = {blind_index(normalise_id_number(s), purpose="id", key=key) for s in spellings}
    assert len(indexes) == 1


@pytest.mark.parametrize(
    "raw",
    ["13812345678", "+86 138 1234 5678", "+86-138-1234-5678", "008613812345678", "8613812345678"],
)
def test_normalise_mobile_strips_country_code_and_separators(raw: str) -> None:
    assert normalise_mobile(raw) == "13812345678"


# --- ID numbers ----------------------------------------------------------------------------


@st.composite
def valid_id_numbers(draw: st.DrawFn) -> str:
    region = str(draw(st.integers(1, 8))) + draw(st.text("0123456789", min_size=5, max_size=5))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.text("0123456789", min_size=3, max_size=3))
    first_17 = region + born.strftime("%Y%m%d") + sequence
    return first_17 + id_check_char(first_17)


def _satisfies_mod_11_2(id_number: str) -> bool:
    """ISO 7064 MOD 11-2 from its definition: sum of a_i * 2^(i-1), counted from the right
    with X = 10, is 1 mod 11. Independent of the weight table under test."""
    values = [10 if char == "X" else int(char) for char in reversed(id_number)]
    return sum(value * 2**index for index, value in enumerate(values)) % 11 == 1


def test_check_char_of_the_known_example() -> None:
    assert id_check_char(KNOWN_VALID_ID[:17]) == "X"


@given(st.text("0123456789", min_size=17, max_size=17))
def test_check_char_agrees_with_the_iso_7064_definition(first_17: str) -> None:
    check = id_check_char(first_17)
    assert _satisfies_mod_11_2(first_17 + check)
    assert not any(
        _satisfies_mod_11_2(first_17 + other) for other in "0123456789X" if other != check
    )


@given(valid_id_numbers())
def test_generated_valid_id_numbers_pass(id_number: str) -> None:
    assert validate_id_number(id_number, today=TODAY) is None
    assert birth_date_from_id(id_number).strftime("%Y%m%d") == id_number[6:14]
    assert gender_from_id(id_number) == ("male" if int(id_number[16]) % 2 else "female")


@given(valid_id_numbers(), st.sampled_from("0123456789X"))
def test_any_other_check_char_is_rejected(id_number: str, check: str) -> None:
    assume(check != id_number[17])
    assert validate_id_number(id_number[:17] + check, today=TODAY) == ID_NUMBER_BAD_CHECKSUM


@given(valid_id_numbers(), st.integers(0, 16), st.integers(1, 9))
def test_a_single_digit_typo_is_never_accepted(id_number: str, position: int, shift: int) -> None:
    digit = str((int(id_number[position]) + shift) % 10)
    typo = id_number[:position] + digit + id_number[position + 1 :]
    assert validate_id_number(typo, today=TODAY) is not None


def test_known_valid_example_in_several_spellings() -> None:
    for spelling in (KNOWN_VALID_ID, KNOWN_VALID_ID.lower(), f" {KNOWN_VALID_ID} "):
        assert validate_id_number(spelling) is None
    assert birth_date_from_id(KNOWN_VALID_ID) == date(1949, 12, 31)
    assert gender_from_id(KNOWN_VALID_ID) == "female"


def _with_check(first_17: str) -> str:
    return first_17 + id_check_char(first_17)


@pytest.mark.parametrize(
    ("id_number", "error"),
    [
        ("", ID_NUMBER_BAD_LENGTH),
        ("11010519491231002", ID_NUMBER_BAD_LENGTH),
        ("11010519491231002X1", ID_NUMBER_BAD_LENGTH),
        ("1101051949123100XX", ID_NUMBER_BAD_FORMAT),
        ("11010519491231A02X", ID_NUMBER_BAD_FORMAT),
        (_with_check("01010519491231002"), ID_NUMBER_BAD_REGION),
        (_with_check("91010519491231002"), ID_NUMBER_BAD_REGION),
        (_with_check("11010519990230002"), ID_NUMBER_BAD_BIRTH_DATE),
        (_with_check("11010520230229002"), ID_NUMBER_BAD_BIRTH_DATE),
        (_with_check("11010519991301002"), ID_NUMBER_BAD_BIRTH_DATE),
        (_with_check("11010518991231002"), ID_NUMBER_BAD_BIRTH_DATE),
        (_with_check("11010520250602002"), ID_NUMBER_BAD_BIRTH_DATE),
        ("110105194912310021", ID_NUMBER_BAD_CHECKSUM),
    ],
)
def test_invalid_id_numbers_get_a_specific_message(id_number: str, error: str) -> None:
    assert validate_id_number(id_number, today=TODAY) == error


def test_leap_day_birth_date_is_valid() -> None:
    assert validate_id_number(_with_check("11010520000229002"), today=TODAY) is None


def test_birth_date_from_id_rejects_impossible_dates() -> None:
    with pytest.raises(ValueError):
        birth_date_from_id(_with_check("11010519990230002"))


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(1990, 3, 7), 0),
        (date(2020, 3, 6), 29),
        (date(2020, 3, 7), 30),
        (date(2025, 12, 31), 35),
    ],
)
def test_age_counts_completed_years(on: date, age: int) -> None:
    assert age_on(_with_check("11010119900307123"), on) == age


def test_age_of_someone_born_on_a_leap_day() -> None:
    leapling = _with_check("11010520000229002")
    assert age_on(leapling, date(2018, 2, 28)) == 17
    assert age_on(leapling, date(2018, 3, 1)) == 18


# --- mobiles and names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "mobile",
    ["13812345678", "19912345678", "+86 138 1234 5678", "138-1234-5678", "１３８１２３４５６７８"],
)
def test_valid_mobiles(mobile: str) -> None:
    assert validate_mobile(mobile) is None


@pytest.mark.parametrize(
    "mobile", ["", "12812345678", "1381234567", "138123456789", "1381234567a", "+1 13812345678"]
)
def test_invalid_mobiles(mobile: str) -> None:
    assert validate_mobile(mobile) == MOBILE_BAD_FORMAT


@pytest.mark.parametrize(
    "name",
    ["张三", "张三丰", "欧阳娜娜", "买买提·艾力", "阿卜杜热西提·买买提", "John Smith", "𠇔三"],
)
def test_valid_names(name: str) -> None:
    assert validate_chinese_name(name) is None


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("张", NAME_BAD_LENGTH),
        ("", NAME_BAD_LENGTH),
        ("张" * 21, NAME_BAD_LENGTH),
        ("张3", NAME_BAD_CHARACTERS),
        ("张 三", NAME_BAD_CHARACTERS),
        ("·张三", NAME_BAD_CHARACTERS),
        ("张三·", NAME_BAD_CHARACTERS),
        ("张··三", NAME_BAD_CHARACTERS),
        ("Zhang三", NAME_BAD_CHARACTERS),
        ("<b>张三</b>", NAME_BAD_CHARACTERS),
    ],
)
def test_invalid_names(name: str, error: str) -> None:
    assert validate_chinese_name(name) == error


# --- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "value", "masked"),
    [
        (mask_id_number, "110101199003071234", "110***********1234"),
        (mask_id_number, KNOWN_VALID_ID, "110***********002X"),
        (mask_mobile, "13812345678", "138****5678"),
        (mask_name, "张三丰", "张**"),
        (mask_name, "张三", "张*"),
        (mask_name, "张", "*"),
        (mask_bank_card, "6222021234567890123", "**** **** **** 0123"),
        (mask_bank_card, "6222 0212 3456 7890", "**** **** **** 7890"),
        (mask_bank_card, "1234", "****"),
        (mask_email, "zhangsan@example.com", "z***@example.com"),
        (mask_email, "z@example.com", "*@example.com"),
        (mask_email, "not-an-email", "******"),
        (mask_id_number, "1234567", "*******"),
        (mask_mobile, "", ""),
    ],
)
def test_masks_are_exact(mask: Callable[[str], str], value: str, masked: str) -> None:
    assert mask(value) == masked


@given(st.text("0123456789X", min_size=18, max_size=18))
def test_id_mask_reveals_only_first_three_and_last_four(id_number: str) -> None:
    masked = mask_id_number(id_number)
    assert masked == id_number[:3] + "*" * 11 + id_number[-4:]


def test_sensitive_never_renders_its_plaintext() -> None:
    mobile = Sensitive.mobile("13812345678")
    assert str(mobile) == repr(mobile) == "138****5678"
    assert f"{mobile}" == "138****5678"
    assert "%s %r" % (mobile, mobile) == "138****5678 138****5678"  # noqa: UP031
    assert repr([mobile, Sensitive.id_number("110101199003071234")]) == (
        "[138****5678, 110***********1234]"
    )
    assert mobile.masked == "138****5678"
    assert mobile.reveal() == "13812345678"


def test_sensitive_default_mask_hides_even_the_length() -> None:
    income = Sensitive("35000")
    assert str(income) == "******"
    assert income.reveal() == "35000"


def test_sensitive_is_immutable_copyable_and_refuses_pickling() -> None:
    card = Sensitive.bank_card("6222021234567890123")
    with pytest.raises(AttributeError):
        card._value = "x"  # type: ignore[misc]
    assert copy.deepcopy(card) is card
    assert card == Sensitive.bank_card("6222021234567890123")
    with pytest.raises(TypeError):
        pickle.dumps(card)


# --- log redaction -------------------------------------------------------------------------


@pytest.fixture
def root_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    install_log_redaction()
    install_log_redaction()
    yield stream
    root.removeHandler(handler)


def test_redaction_is_installed_once_on_root_handlers(root_log: io.StringIO) -> None:
    handler = logging.getLogger().handlers[-1]
    assert sum(isinstance(f, SensitiveDataFilter) for f in handler.filters) == 1


def test_log_filter_redacts_messages_args_and_tracebacks(root_log: io.StringIO) -> None:
    log = logging.getLogger("marketplace.test")
    log.warning("login for 13812345678 with id %s", "110101199003071234")
    log.warning("mobile as int %d", 13812345678)
    log.warning("mapping %(m)s", {"m": "+86 138-1234-5678"})
    try:
        raise ValueError(f"bad id {KNOWN_VALID_ID}")
    except ValueError:
        log.exception("failed")
    output = root_log.getvalue()
    for plain in ("13812345678", "110101199003071234", KNOWN_VALID_ID, "1234-5678"):
        assert plain not in output
    assert "login for 138****5678 with id 110***********1234" in output
    assert "mobile as int 138****5678" in output
    assert "mapping 138****5678" in output
    assert "bad id 110***********002X" in output


def test_redaction_leaves_other_numbers_alone() -> None:
    text = "order 202406011234567 at 1717200000, amount 12812345678, card 6222021234567890123"
    assert redact_sensitive(text) == text


# --- passwords -----------------------------------------------------------------------------


@pytest.fixture
def cheap_hasher() -> Iterator[None]:
    use_password_hasher(make_password_hasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    use_password_hasher(None)


def test_password_hash_verifies_and_rejects_mismatch(cheap_hasher) -> None:
    password_hash = hash_password("loanmart2024")
    assert password_hash.startswith("$argon2id$")
    assert verify_password(password_hash, "loanmart2024")
    assert not verify_password(password_hash, "loanmart2025")
    assert hash_password("loanmart2024") != password_hash


@pytest.mark.parametrize("broken", ["", "not a hash", "$argon2id$v=19$m=8,t=1,p=1$xx$yy"])
def test_verify_password_never_raises_on_broken_hashes(cheap_hasher, broken: str) -> None:
    assert verify_password(broken, "loanmart2024") is False


def test_needs_rehash_when_parameters_change(cheap_hasher) -> None:
    assert not needs_rehash(hash_password("loanmart2024"))
    assert needs_rehash(DUMMY_HASH)
    assert needs_rehash("not a hash")
    use_password_hasher(None)
    assert not needs_rehash(DUMMY_HASH)


def test_verify_dummy_runs_with_any_hasher(cheap_hasher) -> None:
    verify_dummy()
    assert not verify_password(DUMMY_HASH, "")


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("", "密码至少需要8个字符"),
        ("abc1234", "密码至少需要8个字符"),
        ("abcdefgh", "密码必须同时包含字母和数字"),
        ("12345678", "密码必须同时包含字母和数字"),
        ("密码密码12345", "密码必须同时包含字母和数字"),
        ("a1" * 65, "密码不能超过128个字符"),
        ("abcd1234", None),
        ("Loan Mart 2024!", None),
    ],
)
def test_password_strength_messages(password: str, error: str | None) -> None:
    assert validate_password_strength(password) == error


# --- TOTP ----------------------------------------------------------------------------------


def test_totp_secret_and_enrolment_uri() -> None:
    secret = new_totp_secret()
    assert len(secret) == 32 and secret != new_totp_secret()
    uri = totp_uri(secret, "ops@loanmart.cn")
    assert uri.startswith("otpauth://totp/LoanMart:ops%40loanmart.cn?")
    assert f"secret={secret}" in uri and "issuer=LoanMart" in uri


def test_totp_accepts_the_current_code_and_rejects_others() -> None:
    secret = new_totp_secret()
    code = pyotp.TOTP(secret).now()
    assert verify_totp(secret, code)
    assert verify_totp(secret, f" {code[:3]} {code[3:]} ")
    assert not verify_totp(secret, f"{(int(code) + 1) % 1_000_000:06d}")
    assert not verify_totp(secret, "abcdef")
    assert not verify_totp(secret, code + "0")
    assert not verify_totp("not base32!", code)


FIXED_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
FIXED_NOW = datetime(2025, 6, 1, 12, 0, 15, tzinfo=UTC)


def test_totp_window_allows_one_step_of_drift_by_default() -> None:
    totp = pyotp.TOTP(FIXED_SECRET)
    current, previous, two_back = (
        totp.at(FIXED_NOW - timedelta(seconds=30 * steps)) for steps in (0, 1, 2)
    )
    assert len({current, previous, two_back}) == 3
    assert verify_totp(FIXED_SECRET, previous, now=FIXED_NOW)
    assert not verify_totp(FIXED_SECRET, previous, valid_window=0, now=FIXED_NOW)
    assert not verify_totp(FIXED_SECRET, two_back, now=FIXED_NOW)
    assert verify_totp(FIXED_SECRET, two_back, valid_window=2, now=FIXED_NOW)


def test_matched_step_lets_callers_refuse_replays() -> None:
    totp = pyotp.TOTP(FIXED_SECRET)
    step = totp.timecode(FIXED_NOW)
    previous = totp.at(FIXED_NOW, counter_offset=-1)
    assert matched_totp_step(FIXED_SECRET, totp.at(FIXED_NOW), now=FIXED_NOW) == step
    assert matched_totp_step(FIXED_SECRET, previous, now=FIXED_NOW) == step - 1
    assert matched_totp_step(FIXED_SECRET, "000000x", now=FIXED_NOW) is None


def test_ip_masks_keep_only_the_network_part():
    from marketplace.security import mask_ip

    assert mask_ip("123.45.67.89") == "123.45.*.*"
    assert mask_ip("2408:8207:1234::1") == "2408:8207:*"
    assert mask_ip("unknown") == "******"
    assert mask_ip("１２３.45.67.89") == "******"
