"""The one module that handles the plaintext of sensitive fields (ARCHITECTURE rule 8).

Hashing, field encryption and blind indexes, masking, identity validation, TOTP and log
redaction. Pure code: no database, no HTTP. Keys come from ``marketplace.settings``.
"""

from marketplace.security.fields import (
    DecryptionError,
    blind_index,
    decrypt_bytes,
    decrypt_field,
    encrypt_bytes,
    encrypt_field,
    needs_rotation,
    rotate,
)
from marketplace.security.identity import (
    age_on,
    birth_date_from_id,
    gender_from_id,
    id_check_char,
    normalise_id_number,
    normalise_mobile,
    today_in_china,
    validate_chinese_name,
    validate_id_number,
    validate_mobile,
)
from marketplace.security.log_filter import (
    SensitiveDataFilter,
    install_log_redaction,
    redact_sensitive,
)
from marketplace.security.masking import (
    Sensitive,
    mask_all,
    mask_bank_card,
    mask_email,
    mask_id_number,
    mask_mobile,
    mask_name,
)
from marketplace.security.passwords import (
    DUMMY_HASH,
    hash_password,
    hash_password_async,
    make_password_hasher,
    needs_rehash,
    use_password_hasher,
    validate_password_strength,
    verify_dummy,
    verify_dummy_async,
    verify_password,
    verify_password_async,
)
from marketplace.security.totp import (
    current_totp_code,
    matched_totp_step,
    new_totp_secret,
    totp_uri,
    verify_totp,
)

__all__ = [
    "DUMMY_HASH",
    "DecryptionError",
    "Sensitive",
    "SensitiveDataFilter",
    "age_on",
    "birth_date_from_id",
    "blind_index",
    "current_totp_code",
    "decrypt_bytes",
    "decrypt_field",
    "encrypt_bytes",
    "encrypt_field",
    "gender_from_id",
    "hash_password",
    "hash_password_async",
    "id_check_char",
    "install_log_redaction",
    "make_password_hasher",
    "mask_all",
    "mask_bank_card",
    "mask_email",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
    "matched_totp_step",
    "needs_rehash",
    "needs_rotation",
    "new_totp_secret",
    "normalise_id_number",
    "normalise_mobile",
    "redact_sensitive",
    "rotate",
    "today_in_china",
    "totp_uri",
    "use_password_hasher",
    "validate_chinese_name",
    "validate_id_number",
    "validate_mobile",
    "validate_password_strength",
    "verify_dummy",
    "verify_dummy_async",
    "verify_password",
    "verify_password_async",
    "verify_totp",
]
