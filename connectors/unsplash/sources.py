"""Where a dataset run may read from (issue 11): dataset folders under the allowed dirs, dataset
zips and photos only from listed hosts. Pure rules, no I/O but the name lookup handed in, so
every rule is unit-testable without a network.

The rules, checked before any request (and again for every redirect):

- A folder must lie, once symlinks and ``..`` are resolved, under one of the allowed dirs
  (resolved too): ``VIEWFINDER_DATASET_DIRS``, by default ``<data dir>/datasets``.
- A URL must be ``https`` to a host of its list (``VIEWFINDER_DATASET_HOSTS``,
  ``VIEWFINDER_IMAGE_HOSTS``): names match exactly (case-insensitive); an entry without a port
  allows port 443 only, ``host:port`` that port only. Every other scheme (``file:``, ``ftp:`` …)
  is refused, and so is plain ``http`` except to a loopback address listed with its port
  (``127.0.0.1:PORT``, ``[::1]:PORT`` or ``localhost:PORT``), for tests and local mirrors.
- A host written as an address is recognised as the address it is. IPv4 must be written
  dotted-decimal: the other forms a C library accepts (``2130706433``, ``0177.0.0.1``,
  ``0x7f.1``, ``127.1``) are refused outright, naming the address they hide. An IPv6 address
  (``[::1]``, ``[::ffff:127.0.0.1]``) matches only an entry listing that very address.
- A listed *name* must resolve to public addresses only: loopback, private, link-local,
  multicast, reserved, unspecified and other non-global addresses (also inside IPv4-mapped,
  6to4, NAT64 or Teredo IPv6 addresses) are refused. Only IP addresses the operator listed
  may be internal. ``localhost`` is never looked up: it is the loopback addresses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL

from core.settings import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], list[str]]  # (host, port) → the addresses it resolves to

MAX_REDIRECTS = 5
HTTPS_PORT = 443
LOCALHOST = "localhost"
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1")  # what `localhost` is, without asking anyone

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HEX = re.compile(r"^0[xX][0-9A-Fa-f]*$")
_OCTAL = re.compile(r"^0[0-7]*$")
_DECIMAL = re.compile(r"^[1-9][0-9]*$")
_ENDS_IN_NUMBER = re.compile(r"^(?:[0-9]+|0[xX][0-9A-Fa-f]*)$")

# Special-purpose blocks that Python 3.11's flags miss or call global (192.0.0.0/24 is
# "global" there, 2001:db8::/32 is not reserved), taken from IANA's registries.
_NOT_GLOBAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "::/96",  # IPv4-compatible (deprecated)
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fec0::/10",
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class SourceRefused(ValueError):
    """A dataset folder, dataset URL or photo URL that the rules refuse; the message names the rule."""


# --- addresses ------------------------------------------------------------------------------


def _number(part: str) -> int | None:
    if _HEX.match(part):
        return int(part[2:] or "0", 16)
    if _OCTAL.match(part):
        return int(part, 8)
    if _DECIMAL.match(part):
        return int(part)
    return None


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """inet_aton's forms (1 to 4 parts, each decimal, 0-octal or 0x-hex, the last filling the
    remaining bytes) and WHATWG's one trailing dot; None when ``host`` is no such number."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def numeric_host(host: str) -> Address | None:
    """The address ``host`` is written as, None for a name. SourceRefused for IPv4 in any form
    but dotted-decimal (``2130706433``, ``0177.0.0.1``, ``127.1`` …: what a C library would
    connect to is named), for a host that ends in a number yet is no address (a browser
    refuses those too, WHATWG URL), and for IPv6 zone ids."""
    host = host.strip("[]")
    if ":" in host:
        if "%" in host:
            raise SourceRefused(f"host {host}: IPv6 zone ids are refused")
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise SourceRefused(f"host {host} is not a valid IPv6 address") from None
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _ENDS_IN_NUMBER.match(parts[-1]):
        return None
    ipv4 = _legacy_ipv4(host)
    if ipv4 is None:
        raise SourceRefused(f"host {host} looks like a number but is no valid IPv4 address")
    if str(ipv4) != host:
        raise SourceRefused(
            f"host {host} is {describe(ipv4)} written another way; addresses must be written dotted-decimal"
        )
    return ipv4


def describe(address: Address) -> str:
    """ "the loopback address ::ffff:7f00:1 (127.0.0.1)", "the public address 1.2.3.4" …"""
    return f"the {internal_kind(address) or 'public'} address {_shown(address)}"


def _shown(address: Address) -> str:
    inner = _embedded_ipv4(address)
    return f"{address} ({', '.join(map(str, inner))})" if inner else str(address)


def _embedded_ipv4(address: Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries to (mapped, 6to4, NAT64, Teredo)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    out = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo:
        out.extend(address.teredo)
    if any(address in net for net in _NAT64):
        out.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return out


def internal_kind(address: Address) -> str | None:
    """What makes ``address`` internal ("loopback", "private" …), None for a public address."""
    for a in [*_embedded_ipv4(address), address]:  # what it carries to first: ::ffff:127.0.0.1 is loopback
        for kind, flag in (
            ("loopback", a.is_loopback),
            ("unspecified", a.is_unspecified),
            ("link-local", a.is_link_local),
            ("multicast", a.is_multicast),
            ("private", a.is_private),
            ("reserved", a.is_reserved),
            ("site-local", isinstance(a, ipaddress.IPv6Address) and a.is_site_local),
        ):
            if flag:
                return kind
        if not a.is_global or any(a in net for net in _NOT_GLOBAL if net.version == a.version):
            return "non-global"
    return None


def system_lookup(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (blocking: run it in a thread)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# --- host lists -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HostEntry:
    """One entry of a host list: a name (lowercase, IDNA-encoded) or an address; a port or None
    (then 443 only)."""

    host: str
    port: int | None
    address: Address | None

    @classmethod
    def parse(cls, text: str) -> HostEntry:
        try:
            url = URL(f"https://{text}")
        except ValueError as exc:
            raise ValueError(f"{text!r} is no host or host:port ({exc})") from None
        if not url.raw_host or url.user is not None or url.raw_path not in ("", "/") or url.query_string:
            raise ValueError(f"{text!r} is no host or host:port")
        try:
            address = numeric_host(url.raw_host)
        except SourceRefused as exc:
            raise ValueError(f"{text!r}: {exc}") from None
        return cls(url.raw_host.lower(), url.explicit_port, address)

    @property
    def loopback(self) -> bool:
        """Listed as a loopback address (or `localhost`): the only entries plain http may reach."""
        return self.host == LOCALHOST or (self.address is not None and internal_kind(self.address) == "loopback")

    def allows_port(self, port: int) -> bool:
        return port == (self.port if self.port is not None else HTTPS_PORT)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True)
class HostRules:
    """One allow-list of hosts and the rules over it: where ``what`` (e.g. "dataset URL") may
    come from, as set by the variable ``setting``."""

    what: str
    setting: str
    entries: tuple[HostEntry, ...] = ()
    lookup: Lookup = field(default=system_lookup, compare=False, repr=False)

    @classmethod
    def parse(cls, what: str, setting: str, listed: str | Iterable[str], lookup: Lookup = system_lookup) -> HostRules:
        items = listed.split(",") if isinstance(listed, str) else list(listed)
        try:
            entries = tuple(HostEntry.parse(item.strip()) for item in items if item.strip())
        except ValueError as exc:
            raise ValueError(f"{setting}: {exc}") from None
        return cls(what, setting, entries, lookup)

    def _matching(self, host: str, address: Address | None) -> list[HostEntry]:
        if address is not None:
            return [e for e in self.entries if e.address == address]
        return [e for e in self.entries if e.address is None and e.host == host]

    def check(self, url: str | URL) -> URL:
        """``url`` parsed, if the rules allow requesting it; SourceRefused naming the rule if not.
        Request the URL returned, not a re-parse of the text."""
        try:
            parsed = url if isinstance(url, URL) else URL(url)
        except (ValueError, TypeError) as exc:
            raise SourceRefused(f"{self.what} {url!r} is not a valid URL: {exc}") from None
        scheme = parsed.scheme.lower()
        if scheme not in ("https", "http"):
            raise SourceRefused(
                f"{self.what} {url}: scheme {scheme or '(none)'} is refused; only https to a host in {self.setting}"
            )
        if parsed.user is not None or parsed.password is not None:
            raise SourceRefused(f"{self.what} {parsed.with_user(None)}: credentials in the URL are refused")
        host = (parsed.raw_host or "").lower()
        if not host:
            raise SourceRefused(f"{self.what} {url}: no host")
        try:
            address = numeric_host(host)
        except SourceRefused as exc:
            raise SourceRefused(f"{self.what} {exc}") from None
        port = parsed.port
        if port is None:
            raise SourceRefused(f"{self.what} {url}: no port")
        shown = host if address is None else f"{host} ({describe(address)})"
        entries = self._matching(host, address)
        if not entries:
            raise SourceRefused(f"{self.what} host {shown} is not in {self.setting}")
        if scheme == "http":
            loopback = [e for e in entries if e.loopback and e.port is not None]
            if loopback and not any(e.port == port for e in loopback):
                raise SourceRefused(f"{self.what} port {port} of {host} is not in {self.setting}")
            if not loopback:
                raise SourceRefused(
                    f"{self.what} {parsed}: plain http is refused; only https, or http to a loopback address "
                    f"listed with its port in {self.setting}"
                )
        elif not any(e.allows_port(port) for e in entries):
            raise SourceRefused(f"{self.what} port {port} of {host} is not in {self.setting}")
        return parsed

    def follow(self, current: URL, location: str) -> URL:
        """The target of a redirect from ``current`` to ``location``, if the rules allow it."""
        try:
            target = current.join(URL(location))
        except (ValueError, TypeError) as exc:
            raise SourceRefused(f"{self.what} redirect to {location!r}: not a valid URL: {exc}") from None
        try:
            return self.check(target)
        except SourceRefused as exc:
            raise SourceRefused(f"redirect from {current} refused: {exc}") from None

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host:port``, each checked: the rules' own
        resolution, which the HTTP client connects to as given (see download.PinnedResolver),
        so nothing connects to an address that was not checked."""
        host = host.lower()
        address = numeric_host(host)
        entries = [e for e in self._matching(host, address) if e.allows_port(port)]
        if not entries:
            raise SourceRefused(f"{self.what} host {host}:{port} is not in {self.setting}")
        if address is not None:  # a listed address: the operator said so
            return [str(address)]
        if host == LOCALHOST:  # never looked up: /etc/hosts might say otherwise
            return list(LOOPBACK_ADDRESSES)
        addresses = self.lookup(host, port)
        if not addresses:
            raise SourceRefused(f"{self.what} host {host} resolves to no address")
        return check_resolved(self, host, addresses)

    def __str__(self) -> str:
        return ",".join(map(str, self.entries))


def check_resolved(rules: HostRules, host: str, addresses: Iterable[str]) -> list[str]:
    """``addresses`` (what the listed name ``host`` resolved to) if every one is public."""
    out = []
    for text in addresses:
        try:
            if "%" in text:  # a scoped IPv6 address (fe80::1%eth0): link-local, or nonsense
                raise ValueError(text)
            address = ipaddress.ip_address(text)
        except ValueError:
            raise SourceRefused(f"{rules.what} host {host} resolves to {text}, not a plain address") from None
        kind = internal_kind(address)
        if kind is not None:
            raise SourceRefused(
                f"{rules.what} host {host} resolves to {_shown(address)}, a {kind} address; only IP addresses "
                f"listed in {rules.setting} may be internal"
            )
        out.append(str(address))
    return out


# --- the whole set --------------------------------------------------------------------------


def _dataset_rules(listed: str | Iterable[str] = (), lookup: Lookup = system_lookup) -> HostRules:
    return HostRules.parse("dataset URL", "VIEWFINDER_DATASET_HOSTS", listed, lookup)


def _image_rules(listed: str | Iterable[str] = (), lookup: Lookup = system_lookup) -> HostRules:
    return HostRules.parse("photo URL", "VIEWFINDER_IMAGE_HOSTS", listed, lookup)


@dataclass(frozen=True)
class Sources:
    """Where a dataset run may read: folders under ``dataset_dirs``, dataset zips from
    ``dataset_hosts``, photos from ``image_hosts``. ``Sources()`` allows nothing at all."""

    dataset_dirs: tuple[Path, ...] = ()
    dataset_hosts: HostRules = field(default_factory=_dataset_rules)
    image_hosts: HostRules = field(default_factory=_image_rules)

    @classmethod
    def build(
        cls,
        dataset_dirs: Iterable[str | Path] = (),
        dataset_hosts: str | Iterable[str] = (),
        image_hosts: str | Iterable[str] = (),
        lookup: Lookup = system_lookup,
    ) -> Sources:
        return cls(
            tuple(Path(d).expanduser() for d in dataset_dirs),
            _dataset_rules(dataset_hosts, lookup),
            _image_rules(image_hosts, lookup),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Sources:
        """VIEWFINDER_DATASET_DIRS (empty: <data dir>/datasets), _DATASET_HOSTS, _IMAGE_HOSTS."""
        dirs = [d.strip() for d in settings.dataset_dirs.split(",") if d.strip()]
        return cls.build(
            dirs or [settings.data_dir / "datasets"],
            settings.dataset_hosts,
            settings.image_hosts,
        )

    def folder(self, location: str | Path) -> Path:
        """The folder, resolved, if it lies under an allowed dir (resolved at this moment too)."""
        try:
            folder = Path(location).expanduser().resolve()
        except (ValueError, RuntimeError, OSError) as exc:  # a NUL byte, an unknown ~user, a symlink loop
            raise SourceRefused(f"dataset folder {location!r} is not a valid path: {exc}") from None
        for allowed in self.dataset_dirs:
            if folder.is_relative_to(allowed.resolve()):
                return folder
        dirs = ", ".join(str(d) for d in self.dataset_dirs) or "none"
        raise SourceRefused(
            f"dataset folder {location} is outside the folders datasets may be read from "
            f"({dirs}; VIEWFINDER_DATASET_DIRS)"
        )

    def dataset(self, location: str) -> Path | URL:
        """Where the dataset ``location`` names, checked: a folder (resolved) or a URL (parsed)."""
        if _SCHEME.match(location):
            return self.dataset_hosts.check(location)
        return self.folder(location)
