"""Webhook sends share one TLS context per process, and it still verifies receivers."""

from __future__ import annotations

import ssl

from marketplace.webhooks import jobs


def test_one_tls_context_per_process_that_verifies_certificates_and_host_names():
    context = jobs._tls()
    assert jobs._tls() is context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded
