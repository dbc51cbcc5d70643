"""Where a dataset run may read from (issue 11): the pure rules of connectors/unsplash/sources.py,
exhaustively, then the same rules where requests are made (Fetcher, fetch_dataset, the
resolver, GatherJob, DatasetRun) against local servers on 127.0.0.1 only. No real name is
ever looked up: every lookup is a function handed in."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from yarl import URL

from connectors.unsplash.download import Fetcher, FetchFailed, PinnedResolver, checked_session
from connectors.unsplash.job import DatasetRun, GatherJob, fetch_dataset
from connectors.unsplash.sources import (
    MAX_REDIRECTS,
    HostEntry,
    HostRules,
    SourceRefused,
    Sources,
    check_resolved,
    internal_kind,
    numeric_host,
)
from core.settings import Settings
from tests.support.dataset import ImageServer


def no_lookup(host: str, port: int) -> list[str]:
    raise AssertionError(f"{host} was looked up")


def rules(listed: str, lookup=no_lookup, what="dataset URL", setting="VIEWFINDER_DATASET_HOSTS") -> HostRules:
    return HostRules.parse(what, setting, listed, lookup)


def refused(check, *args) -> str:
    with pytest.raises(SourceRefused) as info:
        check(*args)
    return str(info.value)


# --- folders --------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    """allowed/ (with a dataset), other/ beside it, allowed-evil/ sharing its prefix, and links."""
    (tmp_path / "allowed" / "lite" / "inner").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "allowed-evil").mkdir()
    (tmp_path / "allowed" / "escape").symlink_to(tmp_path / "other")
    (tmp_path / "allowed" / "etc").symlink_to("/etc")
    (tmp_path / "allowed" / "alias").symlink_to(tmp_path / "allowed" / "lite")
    (tmp_path / "via-link").symlink_to(tmp_path / "allowed")
    return tmp_path


def test_a_folder_inside_the_allowed_dirs_is_accepted_resolved(tree):
    sources = Sources.build([tree / "allowed"])
    assert sources.folder(str(tree / "allowed" / "lite")) == tree / "allowed" / "lite"
    assert sources.folder(str(tree / "allowed" / "lite" / "inner")) == tree / "allowed" / "lite" / "inner"
    assert sources.folder(str(tree / "allowed")) == tree / "allowed"
    assert sources.dataset(str(tree / "allowed" / "alias")) == tree / "allowed" / "lite"  # a link that stays inside
    assert sources.folder(str(tree / "via-link" / "lite")) == tree / "allowed" / "lite"  # a link to the inside
    assert Sources.build([tree / "via-link"]).folder(str(tree / "allowed" / "lite")) == tree / "allowed" / "lite"


@pytest.mark.parametrize(
    "where",
    [
        "other",
        "allowed-evil",  # a sibling sharing the allowed dir's prefix
        "allowed/../other",
        "allowed/lite/../../other",
        "allowed/escape",  # a symlink out
        "allowed/escape/x",
        "allowed/etc",
        "/etc",
        "/",
    ],
)
def test_a_folder_outside_the_allowed_dirs_is_refused(tree, where):
    sources = Sources.build([tree / "allowed"])
    message = refused(sources.dataset, str(tree / where) if not where.startswith("/") else where)
    assert "outside the folders datasets may be read from" in message and "VIEWFINDER_DATASET_DIRS" in message


def test_relative_folders_and_odd_paths(tree, monkeypatch):
    monkeypatch.chdir(tree / "allowed")
    sources = Sources.build([tree / "allowed"])
    assert sources.folder("lite") == tree / "allowed" / "lite"
    refused(sources.folder, "../other")
    refused(sources.folder, "escape")
    assert "not a valid path" in refused(sources.folder, "lite\0/x")
    assert "outside" in refused(Sources().folder, str(tree / "allowed"))  # nothing is allowed by default


def test_the_default_folder_is_the_data_dirs_datasets(tmp_path):
    settings = Settings.from_env({}).replace(data_dir=tmp_path)
    sources = Sources.from_settings(settings)
    assert sources.folder(str(tmp_path / "datasets" / "lite")) == tmp_path / "datasets" / "lite"
    refused(sources.folder, str(tmp_path / "elsewhere"))
    two = Sources.from_settings(settings.replace(dataset_dirs=f" {tmp_path / 'a'} ,{tmp_path / 'b'},"))
    assert two.folder(str(tmp_path / "b" / "x")) == tmp_path / "b" / "x"
    refused(two.folder, str(tmp_path / "datasets" / "lite"))


# --- schemes, hosts, ports ------------------------------------------------------------------


def test_the_settings_defaults():
    sources = Sources.from_settings(Settings.from_env({}))
    assert str(sources.dataset_hosts) == "unsplash.com,unsplash-datasets.s3.amazonaws.com"
    assert str(sources.image_hosts) == "images.unsplash.com"
    assert sources.dataset("https://unsplash-datasets.s3.amazonaws.com/lite.zip") == URL(
        "https://unsplash-datasets.s3.amazonaws.com/lite.zip"
    )
    assert sources.image_hosts.check("https://images.unsplash.com/photo-1?w=1080").host == "images.unsplash.com"
    message = refused(sources.image_hosts.check, "https://unsplash.com/photo-1")
    assert message == "photo URL host unsplash.com is not in VIEWFINDER_IMAGE_HOSTS"


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc",
        "FILE:///etc/passwd",
        "file://unsplash.com/etc",
        "ftp://unsplash.com/lite.zip",
        "gopher://unsplash.com/",
        "data:text/plain,hi",
        "javascript:alert(1)",
        "ws://unsplash.com/",
        "s3://unsplash-datasets/lite.zip",
    ],
)
def test_schemes_other_than_https_are_refused(url):
    sources = Sources.build(["/"], "unsplash.com,127.0.0.1:8080")
    message = refused(sources.dataset, url)
    assert "is refused; only https" in message and "VIEWFINDER_DATASET_HOSTS" in message


def test_listed_hosts_match_exactly_and_case_insensitively():
    r = rules("unsplash.com,Mirror.Example")
    assert r.check("https://unsplash.com/lite.zip") == URL("https://unsplash.com/lite.zip")
    assert r.check("HTTPS://UnSplash.COM/lite.zip").host == "unsplash.com"
    assert r.check("https://mirror.example/x").host == "mirror.example"
    for url in (
        "https://evil.example/lite.zip",
        "https://evil.unsplash.com/x",  # no subdomains
        "https://unsplash.com.evil.example/x",
        "https://xunsplash.com/x",
        "https://unsplash.com./x",  # not written as listed
        "https://evil.example/#@unsplash.com",
    ):
        assert "is not in VIEWFINDER_DATASET_HOSTS" in refused(r.check, url), url
    assert "is not a valid URL" in refused(r.check, "https://evil.example\\@unsplash.com/")
    assert refused(r.check, "https://evil.example/lite.zip") == (
        "dataset URL host evil.example is not in VIEWFINDER_DATASET_HOSTS"
    )
    assert "credentials in the URL are refused" in refused(r.check, "https://unsplash.com@evil.example/")
    assert "credentials in the URL are refused" in refused(r.check, "https://user:pw@unsplash.com/")
    assert "no host" in refused(r.check, "https:///lite.zip")
    assert "no host" in refused(r.check, "https:unsplash.com/x")
    assert "not in" in refused(rules("").check, "https://unsplash.com/")  # an empty list allows nothing


def test_ports_a_listed_host_allows():
    r = rules("unsplash.com,mirror.example:8443")
    assert r.check("https://unsplash.com:443/x").port == 443
    assert (
        refused(r.check, "https://unsplash.com:8443/x")
        == "dataset URL port 8443 of unsplash.com is not in VIEWFINDER_DATASET_HOSTS"
    )
    assert r.check("https://mirror.example:8443/x").port == 8443
    assert "port 443 of mirror.example" in refused(r.check, "https://mirror.example/x")
    assert "port 8444 of mirror.example" in refused(r.check, "https://mirror.example:8444/x")


def test_plain_http_only_to_a_loopback_address_listed_with_its_port():
    r = rules("unsplash.com,127.0.0.1:8080,localhost:9000,[::1]:7000,127.0.0.2,mirror.example:80")
    assert r.check("http://127.0.0.1:8080/lite.zip").port == 8080
    assert r.check("http://localhost:9000/lite.zip").host == "localhost"
    assert r.check("http://[::1]:7000/x").port == 7000
    assert r.check("https://127.0.0.1:8080/x").port == 8080  # https to a listed address is fine too
    plain = "plain http is refused; only https, or http to a loopback address listed with its port"
    assert plain in refused(r.check, "http://unsplash.com/x")
    assert plain in refused(r.check, "http://mirror.example:80/x")  # a name: never plain http
    assert plain in refused(r.check, "http://127.0.0.2/x")  # loopback, listed without a port
    assert "port 8081 of 127.0.0.1 is not in" in refused(r.check, "http://127.0.0.1:8081/x")
    assert "port 80 of 127.0.0.1 is not in" in refused(r.check, "http://127.0.0.1/x")
    assert "port 9001 of localhost" in refused(r.check, "http://localhost:9001/x")
    assert "host 127.0.0.3 (the loopback address 127.0.0.3) is not in" in refused(r.check, "http://127.0.0.3:8080/")


# --- addresses written as numbers -----------------------------------------------------------

LOOPBACK_FORMS = [
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0177.0000.0000.0001",
    "017700000001",
    "0x7f.0.0.1",  # hex
    "0x7F.0x0.0x0.0x1",
    "0x7f000001",
    "0x7f.1",  # short forms
    "127.1",
    "127.0.1",
    "127.0.0.1.",  # a trailing dot
    "0127.0.0.1",  # octal 87.0.0.1 in disguise: refused all the same
]


@pytest.mark.parametrize("host", LOOPBACK_FORMS)
def test_ipv4_written_another_way_is_recognised_and_refused(host):
    listed = rules("unsplash.com,127.0.0.1:8080,87.0.0.1")
    message = refused(listed.check, f"http://{host}:8080/")
    assert "written another way; addresses must be written dotted-decimal" in message
    if host != "0127.0.0.1":
        assert "the loopback address 127.0.0.1" in message
    refused(listed.check, f"https://{host}/")


def test_what_the_numeric_forms_are():
    loopback = ipaddress.IPv4Address("127.0.0.1")
    for host in LOOPBACK_FORMS[:-1]:
        with pytest.raises(SourceRefused, match="127.0.0.1 written another way"):
            numeric_host(host)
    assert numeric_host("127.0.0.1") == loopback
    with pytest.raises(SourceRefused, match="the link-local address 169.254.169.254"):
        numeric_host("0xa9fea9fe")
    with pytest.raises(SourceRefused, match="the private address 10.0.0.1"):
        numeric_host("10.1")
    with pytest.raises(SourceRefused, match="the unspecified address 0.0.0.0"):
        numeric_host("0")
    for bad in (
        "256.0.0.1",
        "1.2.3.4.5",
        "08.0.0.1",
        "0x100.0.0.1",
        "1.2.3.256",
        "1.2.65536",
        "4294967296",
        "1..2",
        "x.1",
    ):
        with pytest.raises(SourceRefused, match="looks like a number but is no valid IPv4 address"):
            numeric_host(bad)
    for name in ("unsplash.com", "1password.com", "0x7f.example", "127.0.0.1.nip.io", "localhost"):
        assert numeric_host(name) is None


@pytest.mark.parametrize(
    "host,kind",
    [
        ("[::1]", "loopback"),
        ("[0:0:0:0:0:0:0:1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped
        ("[::ffff:7f00:1]", "loopback"),
        ("[0:0:0:0:0:ffff:7f00:1]", "loopback"),
        ("[::ffff:10.0.0.1]", "private"),
        ("[::ffff:169.254.169.254]", "link-local"),
        ("[::]", "unspecified"),
        ("[fe80::1]", "link-local"),
        ("[fc00::1]", "private"),
        ("[ff02::1]", "multicast"),
        ("[2002:7f00:1::1]", "loopback"),  # 6to4 carrying 127.0.0.1
        ("[64:ff9b::a00:1]", "private"),  # NAT64 carrying 10.0.0.1
    ],
)
def test_ipv6_hosts_are_recognised_and_refused_unless_listed_exactly(host, kind):
    r = rules("unsplash.com,127.0.0.1:8080,localhost:8080")
    message = refused(r.check, f"http://{host}:8080/")
    assert f"the {kind} address" in message and "is not in VIEWFINDER_DATASET_HOSTS" in message
    exactly = rules(f"{host}:8080")
    assert exactly.check(f"https://{host}:8080/").port == 8080


def test_an_ipv4_mapped_address_matches_only_itself():
    r = rules("[::ffff:127.0.0.1]:8080")
    assert r.check("http://[::ffff:7f00:1]:8080/").port == 8080  # listed exactly: loopback, with its port
    refused(r.check, "http://127.0.0.1:8080/")
    refused(rules("127.0.0.1:8080").check, "http://[::ffff:127.0.0.1]:8080/")
    assert "zone ids are refused" in refused(rules("[fe80::1]").check, "https://[fe80::1%25eth0]/")


def test_host_lists_are_validated():
    assert HostEntry.parse("Unsplash.COM") == HostEntry("unsplash.com", None, None)
    assert HostEntry.parse("127.0.0.1:8080") == HostEntry("127.0.0.1", 8080, ipaddress.ip_address("127.0.0.1"))
    assert HostEntry.parse("[::1]:80").address == ipaddress.ip_address("::1")
    assert str(rules(" a.example , b.example:8443 ,, [::1]:7 ")) == "a.example,b.example:8443,[::1]:7"
    for bad in ("2130706433", "127.1:80", "a.example/path", "user@a.example", "a.example:99999", "a.example:x"):
        with pytest.raises(ValueError, match="VIEWFINDER_DATASET_HOSTS"):
            rules(bad)
    with pytest.raises(ValueError, match="VIEWFINDER_IMAGE_HOSTS"):
        Sources.from_settings(Settings.from_env({}).replace(image_hosts="0x7f.1"))


# --- what listed names resolve to -----------------------------------------------------------


@pytest.mark.parametrize(
    "address,kind",
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("100.64.0.1", "non-global"),  # shared address space
        ("192.0.0.8", "non-global"),  # IETF protocol assignments, "global" to Python 3.11
        ("198.18.0.1", "private"),
        ("fc00::1", "private"),
        ("fec0::1", "site-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:192.168.0.1", "private"),
        ("::7f00:1", "reserved"),  # IPv4-compatible
        ("2002:a00:1::1", "private"),  # 6to4 carrying 10.0.0.1
        ("2002:7f00:1::1", "loopback"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo
        ("2001:db8::1", "private"),  # documentation
    ],
)
def test_internal_addresses(address, kind):
    assert internal_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.1", "2606:4700::1111", "2a00:1450:4001:80b::200e"])
def test_public_addresses(address):
    assert internal_kind(ipaddress.ip_address(address)) is None


def test_a_listed_name_must_resolve_to_public_addresses_only():
    answers = {
        "images.unsplash.com": ["151.101.1.1", "2a04:4e42::1"],
        "rebind.example": ["151.101.1.1", "10.0.0.7"],  # one bad address is enough
        "internal.example": ["127.0.0.1"],
        "metadata.example": ["169.254.169.254"],
        "mapped.example": ["::ffff:127.0.0.1"],
        "scoped.example": ["fe80::1%eth0"],
        "empty.example": [],
    }
    asked = []

    def lookup(host, port):
        asked.append((host, port))
        return answers[host]

    r = rules(
        ",".join([*answers, "localhost:8080", "127.0.0.1:9000", "10.0.0.5", "[::1]:7000"]),
        lookup,
        "photo URL",
        "VIEWFINDER_IMAGE_HOSTS",
    )
    assert r.resolve("images.unsplash.com", 443) == ["151.101.1.1", "2a04:4e42::1"]
    assert asked == [("images.unsplash.com", 443)]
    assert r.resolve("IMAGES.unsplash.com", 443) == ["151.101.1.1", "2a04:4e42::1"]
    assert refused(r.resolve, "rebind.example", 443) == (
        "photo URL host rebind.example resolves to 10.0.0.7, a private address; only IP addresses listed in "
        "VIEWFINDER_IMAGE_HOSTS may be internal"
    )
    assert "resolves to 127.0.0.1, a loopback address" in refused(r.resolve, "internal.example", 443)
    assert "resolves to 169.254.169.254, a link-local address" in refused(r.resolve, "metadata.example", 443)
    assert "resolves to ::ffff:7f00:1 (127.0.0.1), a loopback address" in refused(r.resolve, "mapped.example", 443)
    assert "not a plain address" in refused(r.resolve, "scoped.example", 443)
    assert "resolves to no address" in refused(r.resolve, "empty.example", 443)
    # Listed addresses, and localhost, are not looked up: the operator listed them.
    asked.clear()
    assert r.resolve("localhost", 8080) == ["127.0.0.1", "::1"]
    assert r.resolve("127.0.0.1", 9000) == ["127.0.0.1"]
    assert r.resolve("10.0.0.5", 443) == ["10.0.0.5"]
    assert asked == []
    # Nor is anything unlisted, or on an unlisted port.
    assert "not in VIEWFINDER_IMAGE_HOSTS" in refused(r.resolve, "evil.example", 443)
    assert "not in" in refused(r.resolve, "images.unsplash.com", 8443)
    assert "not in" in refused(r.resolve, "localhost", 8081)
    assert "written another way" in refused(r.resolve, "0x7f.1", 9000)
    assert asked == []
    assert check_resolved(r, "x", ["8.8.8.8"]) == ["8.8.8.8"]


def test_the_system_lookup_is_the_default_and_localhost_needs_none():
    sources = Sources.from_settings(Settings.from_env({}))
    assert sources.image_hosts.lookup.__name__ == "system_lookup"
    assert rules("localhost:1").resolve("localhost", 1) == ["127.0.0.1", "::1"]


# --- redirects ------------------------------------------------------------------------------


def test_every_redirect_is_checked_by_the_same_rules():
    r = rules("unsplash.com,dl.unsplash.com,127.0.0.1:8080")
    here = URL("https://unsplash.com/data/lite.zip")
    assert r.follow(here, "https://dl.unsplash.com/lite.zip") == URL("https://dl.unsplash.com/lite.zip")
    assert r.follow(here, "/other/lite.zip") == URL("https://unsplash.com/other/lite.zip")
    assert r.follow(here, "v2.zip") == URL("https://unsplash.com/data/v2.zip")
    assert r.follow(URL("http://127.0.0.1:8080/a"), "/b") == URL("http://127.0.0.1:8080/b")
    for location, rule in [
        ("https://evil.example/lite.zip", "host evil.example is not in"),
        ("//evil.example/lite.zip", "host evil.example is not in"),
        ("http://unsplash.com/lite.zip", "plain http is refused"),
        ("https://unsplash.com:8443/", "port 8443 of unsplash.com"),
        ("file:///etc/passwd", "scheme file is refused"),
        ("http://2130706433:8080/", "written another way"),
        ("http://[::1]:8080/", "the loopback address ::1"),
        ("http://127.0.0.1:8081/", "port 8081 of 127.0.0.1"),
    ]:
        message = refused(r.follow, here, location)
        assert message.startswith("redirect from https://unsplash.com/data/lite.zip refused: dataset URL")
        assert rule in message, (location, message)


# --- where requests are made: local servers on 127.0.0.1 only -------------------------------


@pytest.fixture(scope="module")
def listed():
    with ImageServer(slow=1.0) as s:
        yield s


@pytest.fixture
def unlisted():
    with ImageServer() as s:
        yield s


def photo_rules(*listed: str, lookup=no_lookup) -> HostRules:
    return rules(",".join(listed), lookup, "photo URL", "VIEWFINDER_IMAGE_HOSTS")


def fetch(url: str, hosts: HostRules, **options):
    async def go():
        async with checked_session(hosts) as session:
            fetcher = Fetcher(session, backoff=0.05, hosts=hosts, **options)
            try:
                return await fetcher.get(url)
            except (FetchFailed, SourceRefused) as exc:
                return exc

    return asyncio.run(go())


def test_a_listed_server_is_fetched_from(listed):
    assert fetch(listed.url("ok", 1), photo_rules(listed.address)) == ImageServer.picture(1)
    # localhost goes through the resolver, which pins it to loopback without a lookup.
    localhost = f"http://localhost:{listed.port}/ok/2"
    assert fetch(localhost, photo_rules(f"localhost:{listed.port}")) == ImageServer.picture(2)


def test_an_unlisted_server_is_never_asked(listed, unlisted):
    hosts = photo_rules(listed.address)
    for url in (
        unlisted.url("ok", 1),
        f"http://localhost:{unlisted.port}/ok/1",
        f"http://2130706433:{unlisted.port}/ok/1",
        f"http://127.1:{unlisted.port}/ok/1",
        f"http://[::ffff:127.0.0.1]:{unlisted.port}/ok/1",
        f"https://127.0.0.1:{unlisted.port}/ok/1",
        f"file:///etc/passwd?{unlisted.port}",
    ):
        error = fetch(url, hosts)
        assert isinstance(error, SourceRefused), (url, error)
    assert unlisted.hits == 0


def test_a_listed_name_resolving_to_loopback_is_refused_before_connecting(unlisted):
    asked = []

    def lookup(host, port):
        asked.append(host)
        return ["127.0.0.1"]  # a name the operator listed, pointing inside

    hosts = photo_rules(f"photos.example:{unlisted.port}", lookup=lookup)
    error = fetch(f"https://photos.example:{unlisted.port}/ok/1", hosts)
    assert isinstance(error, SourceRefused) and "resolves to 127.0.0.1, a loopback address" in str(error)
    assert asked == ["photos.example"] and unlisted.hits == 0


def test_the_resolver_hands_aiohttp_only_checked_addresses():
    async def go():
        hosts = photo_rules("photos.example", "localhost:9", lookup=lambda host, port: ["151.101.1.1", "2a04:4e42::1"])
        resolver = PinnedResolver(hosts)
        both = await resolver.resolve("photos.example", 443, socket.AF_UNSPEC)
        v4 = await resolver.resolve("photos.example", 443, socket.AF_INET)
        local = await resolver.resolve("localhost", 9, socket.AF_UNSPEC)
        with pytest.raises(SourceRefused):
            await resolver.resolve("evil.example", 443, socket.AF_UNSPEC)
        return both, v4, local

    both, v4, local = asyncio.run(go())
    assert [(r["host"], r["port"], r["hostname"]) for r in both] == [
        ("151.101.1.1", 443, "photos.example"),
        ("2a04:4e42::1", 443, "photos.example"),
    ]
    assert [r["host"] for r in v4] == ["151.101.1.1"]
    assert [r["host"] for r in local] == ["127.0.0.1", "::1"]


def test_redirects_are_followed_only_where_the_rules_allow(listed, unlisted):
    hosts = photo_rules(listed.address)
    inside = listed.redirect_url(1, listed.url("ok", 3))
    assert fetch(inside, hosts) == ImageServer.picture(3)
    before = listed.requests["redirect/2"]
    error = fetch(listed.redirect_url(2, unlisted.url("ok", 4)), hosts)
    assert isinstance(error, SourceRefused) and "host 127.0.0.1 (the loopback address 127.0.0.1)" not in str(error)
    assert f"port {unlisted.port} of 127.0.0.1 is not in VIEWFINDER_IMAGE_HOSTS" in str(error)
    assert "redirect from" in str(error)
    assert listed.requests["redirect/2"] == before + 1 and unlisted.hits == 0
    error = fetch(listed.redirect_url(3, "file:///etc/passwd"), hosts)
    assert isinstance(error, SourceRefused) and "scheme file is refused" in str(error)


def test_at_most_five_redirects(listed):
    hosts = photo_rules(listed.address)
    url = listed.url("ok", 5)
    for n in range(MAX_REDIRECTS):
        url = listed.redirect_url(100 + n, url)
    assert fetch(url, hosts) == ImageServer.picture(5)  # five: followed
    error = fetch(listed.redirect_url(200, url), hosts)  # six: not
    assert isinstance(error, FetchFailed) and f"more than {MAX_REDIRECTS} redirects" in str(error)


def test_fetch_dataset_refuses_before_any_request(tmp_path, listed, unlisted):
    sources = Sources.build([tmp_path / "allowed"], listed.address, listed.address, no_lookup)

    def run(location):
        try:
            return asyncio.run(fetch_dataset(location, tmp_path / "work", sources))
        except Exception as exc:
            return exc

    for location in (
        unlisted.file_url("lite.zip"),
        listed.redirect_url(7, unlisted.file_url("lite.zip")),
        "file:///etc",
        "/etc",
        str(tmp_path / "allowed" / ".." / "elsewhere"),
    ):
        assert isinstance(run(location), SourceRefused), location
    assert unlisted.hits == 0
    (tmp_path / "allowed" / "lite").mkdir(parents=True)
    assert run(str(tmp_path / "allowed" / "lite")) == tmp_path / "allowed" / "lite"
    assert "no such folder" in str(run(str(tmp_path / "allowed" / "missing")))
    assert not any((tmp_path / "work").rglob("*"))  # nothing downloaded


def test_a_dataset_run_refuses_its_location_at_once(tmp_path):
    run = DatasetRun(
        None, None, tmp_path, sources=Sources.build([tmp_path / "allowed"], "unsplash.com", lookup=no_lookup)
    )

    def start(dataset_run):
        return lambda location: asyncio.run(dataset_run.start(location))

    assert "VIEWFINDER_DATASET_HOSTS" in refused(start(run), "http://127.0.0.1:1/lite.zip")
    assert "scheme file is refused" in refused(start(run), "file:///etc")
    assert "VIEWFINDER_DATASET_DIRS" in refused(start(run), "/etc")
    assert run.task is None  # refused before any database or run was touched (there is no database here)
    assert "VIEWFINDER_DATASET_DIRS" in refused(
        start(DatasetRun(None, None, tmp_path)), str(tmp_path)
    )  # default: nothing


class Recorder:
    """Just enough of the database and the ingestor for GatherJob._one."""

    max_bytes = 1 << 20

    def __init__(self):
        self.failed: dict[str, str] = {}
        self.accepted: list[str] = []
        self.unsplash = self

    def mark_failed(self, photo_id, reason):
        self.failed[photo_id] = reason

    def accept(self, data, filename, source, on_stored):
        self.accepted.append(filename)


def test_a_refused_photo_is_that_photos_failure_with_the_rule(tmp_path, listed, unlisted):
    recorder = Recorder()
    sources = Sources.build([tmp_path], image_hosts=listed.address, lookup=no_lookup)
    job = GatherJob(recorder, recorder, tmp_path, str(tmp_path), sources=sources)
    rows = [
        {"photo_id": "fine", "photo_image_url": listed.url("ok", 6)},
        {"photo_id": "elsewhere", "photo_image_url": unlisted.url("ok", 6)},
        {"photo_id": "local-file", "photo_image_url": "file:///etc/passwd"},
        {"photo_id": "bounced", "photo_image_url": listed.redirect_url(8, unlisted.url("ok", 8))},
    ]

    async def go():
        async with checked_session(sources.image_hosts) as session:
            await job._download(session, rows)

    asyncio.run(go())
    assert recorder.accepted == ["fine.jpg"]
    assert recorder.failed["elsewhere"] == (
        f"refused: photo URL port {unlisted.port} of 127.0.0.1 is not in VIEWFINDER_IMAGE_HOSTS"
    )
    assert "scheme file is refused" in recorder.failed["local-file"]
    assert "redirect from" in recorder.failed["bounced"] and "VIEWFINDER_IMAGE_HOSTS" in recorder.failed["bounced"]
    assert (job.progress.stored, job.progress.failed) == (1, 3)
    assert unlisted.hits == 0
