"""The storage interface: files round-trip encrypted, keys cannot leave the root, and
the S3 adapter sends what a bucket expects."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from marketplace import storage
from marketplace.security import DecryptionError
from marketplace.settings import load_settings

PDF = b"%PDF-1.4 test"


@pytest.fixture
def local(tmp_path: Path):
    adapter = storage.LocalDirectory(tmp_path)
    storage.use_adapter(adapter)
    yield adapter
    storage.use_adapter(None)


async def test_a_file_round_trips_and_is_encrypted_at_rest(local, tmp_path):
    key = storage.new_key("partners/7")
    await storage.put(key, PDF, content_type="application/pdf")
    assert await storage.get(key) == PDF
    on_disk = (tmp_path / key).read_bytes()
    assert PDF not in on_disk and on_disk.startswith(b"v1.")
    await storage.delete(key)
    with pytest.raises(storage.StoredFileMissing):
        await storage.get(key)
    await storage.delete(key)  # deleting twice is harmless


async def test_a_file_moved_to_another_key_does_not_decrypt(local, tmp_path):
    first, second = storage.new_key("partners/1"), storage.new_key("partners/1")
    await storage.put(first, PDF, content_type="application/pdf")
    (tmp_path / second).write_bytes((tmp_path / first).read_bytes())
    with pytest.raises(DecryptionError):
        await storage.get(second)


def test_new_keys_are_unguessable_and_impersonal():
    keys = {storage.new_key("partners/3") for _ in range(100)}
    assert len(keys) == 100
    assert all(
        key.startswith("partners/3/") and len(key) == len("partners/3/") + 32 for key in keys
    )


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "partners/../../secret",
        "/etc/passwd",
        "partners//x",
        "partners/.hidden",
        "partners/x/",
        "",
        "Partners/X",
        "partners/张伟.pdf",
        "partners\\x",
        "a" * 201,
        "partners/x\x00",
    ],
)
async def test_hostile_keys_are_refused(local, key):
    for attempt in (
        storage.put(key, PDF, content_type="application/pdf"),
        storage.get(key),
        storage.delete(key),
    ):
        with pytest.raises(ValueError):
            await attempt


@given(st.text(max_size=60))
def test_no_accepted_key_leaves_the_root(tmp_path_factory, key):
    root = tmp_path_factory.getbasetemp() / "storage-root"
    adapter = storage.LocalDirectory(root)
    try:
        path = adapter._path(key)
    except ValueError:
        return
    assert path.is_relative_to(root.resolve())
    assert ".." not in key.split("/")


def test_settings_choose_the_adapter(tmp_path):
    local = storage.make_adapter(load_settings({"LOANMART_VAR_DIR": str(tmp_path)}))
    assert isinstance(local, storage.LocalDirectory) and local.root == (tmp_path / "files")
    bucket = storage.make_adapter(
        load_settings(
            {
                "STORAGE_URL": "s3://loanmart-files/prod",
                "STORAGE_ENDPOINT": "https://s3.example.com",
                "STORAGE_REGION": "cn-north-1",
                "STORAGE_ACCESS_KEY": "AKIDEXAMPLE",
                "STORAGE_SECRET_KEY": "secret",
            }
        )
    )
    assert isinstance(bucket, storage.S3Bucket)
    assert (bucket.bucket, bucket.prefix) == ("loanmart-files", "prod")
    assert bucket.client.meta.endpoint_url == "https://s3.example.com"
    with pytest.raises(ValueError):
        storage.make_adapter(load_settings({"STORAGE_URL": "ftp://x/y"}))


async def test_the_bucket_adapter_stores_ciphertext_under_its_prefix():
    bucket = storage.make_adapter(
        load_settings(
            {
                "STORAGE_URL": "s3://loanmart-files/prod",
                "STORAGE_REGION": "cn-north-1",
                "STORAGE_ACCESS_KEY": "AKIDEXAMPLE",
                "STORAGE_SECRET_KEY": "secret",
            }
        )
    )
    assert isinstance(bucket, storage.S3Bucket)
    key = storage.new_key("partners/9")
    stored: dict[str, bytes] = {}
    storage.use_adapter(bucket)
    try:
        with Stubber(bucket.client) as stub:
            stub.add_response(
                "put_object",
                {},
                {
                    "Bucket": "loanmart-files",
                    "Key": f"prod/{key}",
                    "Body": _Capture(stored),
                    "ContentType": "application/octet-stream",
                    "Metadata": {"plain-content-type": "application/pdf"},
                },
            )
            await storage.put(key, PDF, content_type="application/pdf")
            assert PDF not in stored["body"]
            body = StreamingBody(io.BytesIO(stored["body"]), len(stored["body"]))
            stub.add_response(
                "get_object", {"Body": body}, {"Bucket": "loanmart-files", "Key": f"prod/{key}"}
            )
            assert await storage.get(key) == PDF
            stub.add_client_error(
                "get_object", "NoSuchKey", http_status_code=404, expected_params=None
            )
            with pytest.raises(storage.StoredFileMissing):
                await storage.get(key)
            stub.add_response(
                "delete_object", {}, {"Bucket": "loanmart-files", "Key": f"prod/{key}"}
            )
            await storage.delete(key)
            stub.assert_no_pending_responses()
    finally:
        storage.use_adapter(None)


class _Capture:
    """Matches any body in the stubber's parameter check, keeping it for the test."""

    def __init__(self, into: dict[str, bytes]) -> None:
        self.into = into

    def __eq__(self, other: object) -> bool:
        assert isinstance(other, bytes)
        self.into["body"] = other
        return True
