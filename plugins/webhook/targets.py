"""Where a webhook may be sent: public addresses only, unless the operator allows more.

The host is resolved once, every address is checked, and the request is then
sent to the checked address (with the original ``Host`` header and TLS server
name), so a DNS answer that changes between the check and the connection
(DNS rebinding) cannot reach an internal service.

Environment:
  SCHEDULERX_WEBHOOK_ALLOW_PRIVATE  1 to allow loopback, private, link-local and
                                    other non-public targets (a receiver on the LAN)
"""
from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

ALLOW_PRIVATE_ENV = "SCHEDULERX_WEBHOOK_ALLOW_PRIVATE"


class TargetRefused(Exception):
    """The URL points at an address webhooks may not reach."""


class TargetUnresolved(Exception):
    """The host name does not resolve (now): worth another try later."""


@dataclass(frozen=True)
class Target:
    url: str          # the URL to connect to: the host replaced by the checked address
    host_header: str  # the original host[:port]
    server_name: str  # the original host name, for TLS (SNI and certificate check)


def private_allowed() -> bool:
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def resolve(url: str) -> Target:
    """Check ``url``'s host and pin it to one allowed address."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise TargetRefused(f"not an http(s) URL: {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetUnresolved(f"cannot resolve {host}: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetUnresolved(f"{host} has no address")
    if not private_allowed():
        refused = [str(a) for a in addresses if not _is_public(a)]
        if refused:
            raise TargetRefused(
                f"{host} resolves to a private, loopback or link-local address ({', '.join(refused)}); "
                f"set {ALLOW_PRIVATE_ENV}=1 to allow webhooks to such targets")
    ip = addresses[0]
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Target(url=urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                  host_header=parts.netloc.rsplit("@", 1)[-1], server_name=host)
