"""Which receiver URLs the platform will call (SSRF guard).

HTTPS to a public address only. Outside production, loopback (localhost, 127.0.0.1, ::1)
is allowed too, over HTTP or HTTPS, for local receivers in development, tests and the demo.
The form checks the URL as typed; every send checks again what the host name resolves to,
since DNS can point a public name at an internal address, and then connects to the very
address it checked (`pinned`): a second lookup by the HTTP client could be answered
differently (DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from marketplace.i18n import _
from marketplace.parsing import FieldError
from marketplace.settings import settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
URL_MAX = 500

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeAddress(Exception):
    """The receiver's host resolves to an address the platform does not call."""


def _loopback_allowed() -> bool:
    return settings.environment != "production"


def _address_allowed(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return _loopback_allowed()
    return address.is_global and not address.is_multicast


def check_url(raw: str) -> str:
    """The URL as stored, or a FieldError in zh-CN saying what is wrong with it."""
    url = raw.strip()
    if not url:
        raise FieldError(_("请填写接收地址"))
    if len(url) > URL_MAX:
        raise FieldError(_("接收地址最多{maximum}个字符", maximum=URL_MAX))
    if not url.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise FieldError(_("接收地址含有空格或无法识别的字符，请填写完整的网址"))
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise FieldError(_("接收地址格式不正确")) from None
    if parts.scheme not in ("https", "http") or not host:
        raise FieldError(_("接收地址须以 https:// 开头"))
    if parts.username or parts.password:
        raise FieldError(_("接收地址不能包含用户名或密码"))
    loopback = host in LOOPBACK_NAMES
    if parts.scheme == "http" and not (loopback and _loopback_allowed()):
        raise FieldError(_("接收地址须使用 https://"))
    if loopback and not _loopback_allowed():
        raise FieldError(_("不能使用本机或内网地址"))
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return url  # a host name: its addresses are checked at every send
    if not _address_allowed(address):
        raise FieldError(_("不能使用本机或内网地址"))
    return url


async def check_resolved(url: str) -> str:
    """The address to connect to; UnsafeAddress unless every address of the URL's host
    may be called."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise UnsafeAddress(_("无法解析接收地址的域名")) from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise UnsafeAddress(_("无法解析接收地址的域名"))
    for address in addresses:
        if not _address_allowed(address):
            raise UnsafeAddress(_("接收地址解析到本机或内网地址，已拒绝发送"))
    return str(addresses[0])


def pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The request for `url` sent to `address` without looking the name up again: (URL
    with the address as host, headers naming the real host, extensions). TLS still checks
    the certificate against the real host name (SNI)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    target = parts._replace(netloc=netloc).geturl()
    host_header = parts.netloc.rsplit("@", 1)[-1]
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return target, {"Host": host_header}, extensions
