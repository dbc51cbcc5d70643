"""The collection in a real browser: the gallery on arrival, paging by scrolling, filters in the
address, search from the top bar, and a page per image with its boxes, colours, EXIF and map,
whose like reaches the profile."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import skip_unless_browser

skip_unless_browser(module_level=True)  # before selenium is imported

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import screenshot, severe_errors, wait
from tests.support import poll, upload_and_wait
from tests.support.photos import Photo, expected_degrees

MAKE = f"Shelfcam{uuid.uuid4().hex[:6]}"  # a camera no other test uses: filtered by it, the gallery is ours
PAGE = 48  # gallery.js PAGE
SHELF = PAGE + 12  # more than a page
PARIS = (48.8566, 2.3522, 35.0)


@pytest.fixture(scope="module")
def shelf(gateway) -> dict[str, str]:
    """file name → id of SHELF photos by MAKE: every fourth a portrait, one with GPS."""
    photos = [
        Photo(
            f"shelf-{i:02d}.jpg",
            ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256),
            (245, 245, 245),
            (96, 128) if i % 4 == 0 else (128, 96),
            make=MAKE,
            model="Shelf",
            gps=PARIS if i == 1 else None,
            spot=((i % 7) / 8, (i % 5) / 6),
        )
        for i in range(SHELF)
    ]
    return {img["filename"]: img["id"] for img in upload_and_wait(gateway, photos)}


def open_page(browser, stack, hash_: str = ""):
    browser.get("about:blank")  # a fresh page: a change of the address's hash alone would not reload it
    browser.get(f"{stack.gateway_url}/{hash_}")
    wait(browser, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"), what="the scripts")


def tiles(browser) -> list[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll('#gallery-grid li.tile')].map(li => li.dataset.id)"
    )


def loaded_thumbnails(browser) -> int:
    return browser.execute_script(
        "return [...document.querySelectorAll('#gallery-grid li.tile img')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length"
    )


def api_ids(gateway, **params) -> list[str]:
    ids, cursor = [], None
    while True:
        body = gateway.get("/images", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        ids += [i["id"] for i in body["images"]]
        cursor = body["next"]
        if cursor is None:
            return ids


def test_the_landing_page_shows_the_collection_without_any_interaction(page, stack, gateway, shelf):
    open_page(page, stack)
    newest = [i["id"] for i in gateway.get("/images", params={"limit": PAGE}).json()["images"]]
    wait(page, lambda d: tiles(d)[: len(newest)] == newest, what="the newest images, newest first")
    wait(page, lambda d: loaded_thumbnails(d) >= min(12, len(newest)), what="their thumbnails")
    count = gateway.get("/images", params={"limit": 1}).json()["count"]
    assert page.find_element(By.ID, "gallery-count").text.startswith(f"{count} image")
    assert page.find_element(By.ID, "tab-gallery").get_attribute("aria-selected") == "true"
    alts = page.execute_script("return [...document.querySelectorAll('#gallery-grid img')].map(i => i.alt)")
    assert all(alt.startswith("Photo") for alt in alts)
    screenshot(page, "gallery-landing")
    assert not severe_errors(page)


def test_scrolling_loads_the_next_page(page, stack, gateway, shelf):
    open_page(page, stack, f"#gallery?make={MAKE}")
    wait(page, lambda d: len(tiles(d)) == PAGE, what="the first page")
    assert page.find_element(By.ID, "gallery-count").text == f"{SHELF} images, {PAGE} shown"
    page.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    wait(page, lambda d: len(tiles(d)) == SHELF, what="the second page, once scrolled to the end")
    shown = tiles(page)
    assert shown == api_ids(gateway, make=MAKE) and set(shown) == set(shelf.values())
    assert page.find_element(By.ID, "gallery-more-button").get_attribute("hidden") is not None  # nothing more


def test_a_filter_changes_the_address_and_the_results(page, stack, gateway, shelf):
    open_page(page, stack, f"#gallery?make={MAKE}")
    wait(page, lambda d: len(tiles(d)) == PAGE, what="the first page")
    Select(page.find_element(By.ID, "filter-orientation")).select_by_value("portrait")
    page.find_element(By.ID, "filter-apply").click()
    portraits = {i for name, i in shelf.items() if int(name[6:8]) % 4 == 0}
    wait(page, lambda d: set(tiles(d)) == portraits, what="only the portraits")
    address = page.current_url
    assert "orientation=portrait" in address and f"make={MAKE}" in address
    assert page.find_element(By.ID, "gallery-count").text == f"{len(portraits)} images"
    # The address is the view: opened afresh (a bookmark, a shared link), it shows the same.
    page.get("about:blank")
    page.get(address)
    wait(page, lambda d: set(tiles(d)) == portraits, what="the bookmarked view")
    assert (
        Select(page.find_element(By.ID, "filter-orientation")).first_selected_option.get_attribute("value")
        == "portrait"
    )
    screenshot(page, "gallery-filtered")


def test_search_from_the_top_bar_finds_a_tagged_image(page, stack, gateway, shelf):
    target = shelf["shelf-05.jpg"]
    label = next(iter(gateway.get(f"/images/{target}").json()["tags"]))  # what the tiny detector called it
    open_page(page, stack)
    box = page.find_element(By.ID, "search-q")
    assert box.get_attribute("type") == "search"
    box.send_keys(label, Keys.ENTER)
    wait(page, lambda d: "search?q=" in d.current_url, what="the search in the address")
    wait(page, lambda d: len(tiles(d)) > 0, what="search results")
    expected = {r["id"] for r in gateway.get("/recommend/search", params={"q": label, "limit": PAGE}).json()["results"]}
    assert set(tiles(page)) == expected
    captions = page.execute_script(
        "return [...document.querySelectorAll('#gallery-grid .caption')].map(c => c.textContent)"
    )
    assert captions and all(c.startswith("matched by") for c in captions)
    assert "tags" in " ".join(captions)
    assert page.find_element(By.ID, "gallery-heading").text == f"Search: “{label}”"
    screenshot(page, "search-results")


def test_the_image_page_draws_boxes_colours_exif_and_place(page, stack, gateway, shelf):
    image_id = shelf["shelf-01.jpg"]
    body = gateway.get(f"/images/{image_id}").json()
    open_page(page, stack, f"#gallery?make={MAKE}&orientation=landscape")  # under a page: all of them shown
    wait(page, lambda d: image_id in tiles(d), what="the photo in the gallery")
    page.find_element(By.CSS_SELECTOR, f'#gallery-grid li[data-id="{image_id}"] a').click()
    wait(page, lambda d: d.find_element(By.ID, "image-heading").text == "shelf-01.jpg", what="the image page")
    assert page.current_url.endswith(f"#image/{image_id}")
    wait(
        page,
        lambda d: d.execute_script(
            "const i = document.getElementById('image-photo'); return i.complete && i.naturalWidth > 0"
        ),
    )
    drawn = page.execute_script(
        "return [...document.querySelectorAll('#image-boxes rect')].map(r => [r.dataset.label,"
        " ...['x', 'y', 'width', 'height'].map(a => Number(r.getAttribute(a)))])"
    )
    boxes = [
        [label, x0, y0, x1 - x0, y1 - y0] for label, tag in body["tags"].items() for x0, y0, x1, y1 in tag["boxes"]
    ]
    assert drawn == boxes and boxes  # the tiny detector at threshold 0 finds something
    view_box = page.execute_script("return document.getElementById('image-boxes').getAttribute('viewBox')")
    assert view_box == f"0 0 {body['width']} {body['height']}"
    toggle = page.find_element(By.ID, "image-show-boxes")
    toggle.click()
    assert page.find_element(By.ID, "image-boxes").get_attribute("hidden") is not None
    toggle.click()
    shown_colours = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#image-colors .hex")]
    assert shown_colours == [c["hex"] for c in body["colors"]]
    facts = dict(
        zip(
            [e.text for e in page.find_elements(By.CSS_SELECTOR, "#image-exif dt")],
            [e.text for e in page.find_elements(By.CSS_SELECTOR, "#image-exif dd")],
        )
    )
    assert facts["Camera"] == f"{MAKE} Shelf" and facts["ISO"] == "200"
    assert facts["Size"].startswith(f"{body['width']} × {body['height']} px")
    lat, lon = expected_degrees(PARIS[0]), expected_degrees(PARIS[1])
    assert facts["Position"] == f"{round(lat, 4)}° N, {round(lon, 4)}° E"
    pin = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "#image-map circle.pin"), what="the map pin")
    assert float(pin.get_attribute("cx")) == pytest.approx(lon) and float(pin.get_attribute("cy")) == pytest.approx(
        -lat
    )
    assert body["country"] and page.find_element(By.ID, "image-country").text.startswith(f"{body['country']}: ")
    tag_rows = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#image-tags tbody th")]
    assert set(body["tags"]) <= set(tag_rows)
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#image-similar li.tile"), what="more like this")
    assert page.find_element(By.ID, "image-photo").get_attribute("alt").startswith("Photo: ")
    screenshot(page, "image-page")
    assert not severe_errors(page)


def test_a_like_from_the_image_page_reaches_the_profile(page, signed_in, stack, gateway, shelf):
    image_id = shelf["shelf-07.jpg"]
    open_page(page, stack, f"#image/{image_id}")
    like = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "#image-actions button.like"), what="the like button")
    wait(page, lambda d: like.get_attribute("aria-disabled") == "false", what="the button to allow liking")
    like.click()

    def liked() -> bool:
        # The click's request may still be on its way: until it lands, admin may have no profile (404).
        profile = gateway.get("/recommend/users/admin")
        return profile.status_code == 200 and image_id in profile.json()["likes"]

    assert poll(liked, 60, what="the like in admin's profile")
    assert like.get_attribute("aria-pressed") == "true"


def test_recommend_results_open_the_image_page(page, stack, gateway, shelf):
    open_page(page, stack, "#recommend")
    field = page.find_element(By.ID, "pref-make")
    field.clear()
    field.send_keys(MAKE)
    page.find_element(By.ID, "recommend-button").click()
    first = wait(page, lambda d: d.find_element(By.CSS_SELECTOR, "#results li.card a"), what="a result")
    image_id = first.find_element(By.XPATH, "./..").get_attribute("data-id")
    first.click()
    wait(page, lambda d: d.current_url.endswith(f"#image/{image_id}"), what="the result's image page")
    wait(page, lambda d: d.find_element(By.ID, "page-image").get_attribute("hidden") is None, what="the image page")
    assert page.find_element(By.ID, "page-recommend").get_attribute("hidden") is not None


def test_at_phone_width_by_keyboard(page, stack, gateway, shelf):
    image_id = shelf["shelf-02.jpg"]
    page.set_window_size(390, 844)
    try:
        for where in (f"#gallery?make={MAKE}", f"#image/{image_id}"):
            open_page(page, stack, where)
            wait(page, lambda d: tiles(d) or d.find_elements(By.CSS_SELECTOR, "#image-similar li.tile"), what="content")
            wait(
                page,
                lambda d: d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
                what=f"{where} to fit a phone's width",
            )
            screenshot(page, f"phone-{where.split('?')[0].split('/')[0].lstrip('#')}")
        # The image page's heading takes the focus, so a screen reader starts there.
        assert page.switch_to.active_element.get_attribute("id") == "image-heading"
        # From the top of the page, the keyboard reaches the skip link, then the search box.
        open_page(page, stack, f"#gallery?make={MAKE}")
        wait(page, lambda d: tiles(d), what="the gallery")
        page.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        assert page.switch_to.active_element.text == "Skip to content"
        page.switch_to.active_element.send_keys(Keys.TAB, Keys.TAB)
        assert page.switch_to.active_element.get_attribute("id") == "search-q"
        # Every thumbnail is a link with alt text: reachable by Tab, named for a screen reader.
        links = page.find_elements(By.CSS_SELECTOR, "#gallery-grid li.tile a")
        assert links and all(a.find_element(By.TAG_NAME, "img").get_attribute("alt") for a in links)
    finally:
        page.set_window_size(1400, 1000)
