"""How soon the web page shows the collection: the landing gallery's first 48 thumbnails, with
--images enriched images in the collection, in headless Chromium (the browser tests' own).

Every figure is from one run, beside its baselines: the page shell (DOMContentLoaded, the same
navigation) and the gallery API alone (GET /images?limit=48 over HTTP). Cold: a fresh browser
profile (nothing cached); warm: the same page loaded again (thumbnails are immutable by id, so
the browser keeps them).

    .venv/bin/python -m bench.web [--images 1000] [--loads 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.tiny import tiny_models, tiny_stack
from tests.support import poll
from tests.support.photos import Photo, jpeg

FIRST = 48  # gallery.js PAGE
# Resolves once the first FIRST thumbnails of the gallery have loaded: milliseconds since navigation began.
THUMBNAILS_SHOWN = """
const done = arguments[arguments.length - 1];
const need = arguments[0];
(function check() {
  const imgs = [...document.querySelectorAll('#gallery-grid li.tile img')].slice(0, need);
  if (imgs.length === need && imgs.every(i => i.complete && i.naturalWidth > 0)) {
    const nav = performance.getEntriesByType('navigation')[0];
    done([performance.now(), nav ? nav.domContentLoadedEventEnd : null]);
  } else requestAnimationFrame(check);
})();
"""


def fill(client: httpx.Client, n: int) -> None:
    """n photos uploaded and enriched, saying how far along it is."""
    started, sent = time.perf_counter(), 0
    for start in range(0, n, 50):
        photos = [
            Photo(
                f"web-{i:05d}.jpg",
                ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256),
                (240, 240, 240),
                (320, 240) if i % 3 else (240, 320),
                spot=((i % 7) / 8, (i % 5) / 6),
            )
            for i in range(start, min(n, start + 50))
        ]
        client.post(
            "/gather/uploads", files=[("files", (p.name, jpeg(p), "image/jpeg")) for p in photos]
        ).raise_for_status()
        sent += len(photos)

    def enriched() -> bool:
        done = client.get("/gather/status").json()["pipeline"]["enriched"]
        elapsed = time.perf_counter() - started
        rate = done / elapsed if elapsed else 0.0
        left = (n - done) / rate if rate else float("inf")
        print(f"\r  enriched {done}/{n}, {rate:.1f} images/s, about {left:.0f} s left   ", end="", flush=True)
        return done >= n

    poll(enriched, 3600, interval=1.0, what="the collection to be enriched")
    print()


def browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.browser.conftest import CHROMEDRIVER, CHROMIUM, FLAGS

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(60)
    return driver


def page_load(driver, url: str) -> tuple[float, float]:
    """(ms to the first thumbnails shown, ms to DOMContentLoaded) of one navigation to ``url``."""
    driver.get("about:blank")
    driver.get(url)
    shown, shell = driver.execute_async_script(THUMBNAILS_SHOWN, FIRST)
    return float(shown), float(shell)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5, help="page loads of each kind")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="viewfinder-bench-web-"))
    workdir.chmod(0o755)
    cold, warm = [], []
    try:
        with tiny_stack(workdir / "stack", tiny_models(workdir)) as (s, client):
            print(f"filling the collection with {args.images} images (tiny random models)")
            fill(client, args.images)
            api = []
            for _ in range(30):
                started = time.perf_counter()
                client.get("/images", params={"limit": FIRST}).raise_for_status()
                api.append(1000 * (time.perf_counter() - started))
            for i in range(args.loads):
                profile = workdir / f"profile-{i}"
                driver = browser(profile)
                try:
                    cold.append(page_load(driver, f"{s.gateway_url}/"))
                    warm.append(page_load(driver, f"{s.gateway_url}/"))
                finally:
                    driver.quit()
                    shutil.rmtree(profile, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    median = statistics.median
    print(f"\n{args.images} images, {args.loads} loads each, medians:")
    print("| what | ms | vs the page shell |")
    print("|---|---|---|")
    print(f"| GET /images?limit={FIRST} (API alone, 30 requests) | {median(api):.1f} | — |")
    for name, loads in (("cold (fresh profile)", cold), ("warm (reload)", warm)):
        shell, shown = median(x[1] for x in loads), median(x[0] for x in loads)
        print(f"| {name}: page shell (DOMContentLoaded) | {shell:.0f} | 1× |")
        print(f"| {name}: first {FIRST} thumbnails shown | {shown:.0f} | {shown / shell:.1f}× |")


if __name__ == "__main__":
    main()
