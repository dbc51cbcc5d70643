"""The gateway serves the web interface: the page, its scripts with the right types, and the
configuration the page reads (the browser tests drive it; these need no browser)."""

from __future__ import annotations

import re

from api.ui import WEB


def test_the_page_and_its_files_are_served(gateway):
    page = gateway.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert gateway.get("/ui", follow_redirects=False).headers["location"] == "/"
    # Everything the page loads is on the gateway: no CDN, nothing fetched from elsewhere (a
    # "#…" link is a place in the page itself).
    for path in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert path.startswith(("/ui/", "data:", "#")), path
    for path, kind in (("/ui/app.css", "text/css"), ("/ui/js/main.js", "javascript")):
        response = gateway.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"], path
    for script in (WEB / "js").glob("*.js"):
        text = script.read_text()
        # Server strings go in as text: no markup parsing, no external address.
        assert not re.search(r"\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|https?://", text), script.name
        assert gateway.get(f"/ui/js/{script.name}").status_code == 200
    assert gateway.get("/ui/../app.py").status_code in (403, 404)


def test_the_config_points_the_browser_at_the_dashboards(gateway, stack):
    config = gateway.get("/ui/config.json").json()
    assert config["dashboard_url"] == stack.dashboard_url
    urls = {d["path"]: d["url"] for d in config["dashboards"]}
    assert urls["/pipeline"] == f"{stack.dashboard_url}/pipeline" and "/collection" in urls
    assert set(config["services"]) == {"gather", "cdn", "recommend", "visualize"}
    # Reached by another name, the gateway answers with that name: the browser can follow it.
    other = gateway.get("/ui/config.json", headers={"Host": f"localhost:{stack.port}"}).json()
    assert other["dashboard_url"] == f"http://localhost:{stack.dashboard_port}"
