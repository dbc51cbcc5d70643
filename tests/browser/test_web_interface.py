"""The gateway's web interface in a real browser: preferences → explained results with
thumbnails, feedback, uploads followed through the pipeline, the status page."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import skip_unless_browser

skip_unless_browser(module_level=True)  # before selenium is imported

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import screenshot, severe_errors, wait
from tests.support import poll
from tests.support.photos import Photo, jpeg

ORANGE = (245, 130, 20)
MAKE = f"Uicam{uuid.uuid4().hex[:6]}"  # a camera no other test uses: results are only ours


@pytest.fixture(scope="module")
def orange_photos(gateway):
    spots = [(0.6, 0.05), (0.2, 0.6), (0.75, 0.6)]  # three pictures, not three sizes of one
    photos = [
        Photo(f"ui-orange-{i}.jpg", ORANGE, (20, 20, 20), (320 + 16 * i, 200), make=MAKE, model="UI", spot=spot)
        for i, spot in enumerate(spots)
    ]
    response = gateway.post("/gather/uploads", files=[("files", (p.name, jpeg(p), "image/jpeg")) for p in photos])
    assert response.status_code == 202, response.text
    ids = response.json()["ids"]
    poll(
        lambda: all(gateway.get(f"/images/{i}").json()["status"] == "enriched" for i in ids),
        180,
        interval=0.5,
        what="the orange photos to be enriched",
    )
    return ids


def open_ui(browser, stack, tab: str):
    browser.get(f"{stack.gateway_url}/#{tab}")
    wait(
        browser, lambda d: d.execute_script("return document.body.dataset.ready === 'true'"), what="the page's scripts"
    )
    wait(browser, EC.visibility_of_element_located((By.ID, f"page-{tab}")), what=f"the {tab} tab")


def fill_in(browser, element_id: str, text: str):
    field = browser.find_element(By.ID, element_id)
    field.clear()
    if text:
        field.send_keys(text)


def set_colour(browser, hex_colour: str):
    """A colour input has no text to type into: set it the way a picker would."""
    use = browser.find_element(By.ID, "pref-use-color")
    if not use.is_selected():
        use.click()
    browser.execute_script(
        "const c = arguments[0]; c.value = arguments[1];"
        "c.dispatchEvent(new Event('input', {bubbles: true}));"
        "c.dispatchEvent(new Event('change', {bubbles: true}));",
        browser.find_element(By.ID, "pref-color"),
        hex_colour,
    )


def cards(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#results li.card")


def thumbnails_loaded(browser):
    """Every result's thumbnail has loaded and decoded (not a broken image)."""
    return browser.execute_script(
        "const imgs = [...document.querySelectorAll('#results li.card img.thumb')];"
        "return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);"
    )


def test_preferences_give_explained_results_and_a_like_is_recorded(page, signed_in, stack, gateway, orange_photos):
    user = f"ui-{uuid.uuid4().hex[:8]}"
    open_ui(page, stack, "recommend")
    # A preference the gateway refuses: its message shows next to the form.
    fill_in(page, "pref-width", "-5")
    page.find_element(By.ID, "recommend-button").click()
    error = wait(page, lambda d: d.find_element(By.ID, "prefs-error").text, what="the 400 message")
    assert "width must be a whole number" in error and "400" in error
    fill_in(page, "pref-width", "")

    fill_in(page, "pref-user", user)
    set_colour(page, "#f58214")
    Select(page.find_element(By.ID, "pref-orientation")).select_by_value("landscape")
    fill_in(page, "pref-tags", "puppy, sofa")
    fill_in(page, "pref-make", MAKE)
    fill_in(page, "pref-limit", "12")
    page.find_element(By.ID, "save-button").click()
    wait(
        page,
        EC.text_to_be_present_in_element((By.ID, "prefs-status"), f"Saved preferences for {user}"),
        what="the preferences to be saved",
    )
    assert gateway.get(f"/recommend/users/{user}").json()["preferences"]["make"] == MAKE.lower()
    assert page.execute_script("return localStorage.getItem('viewfinder.user')") == user

    page.find_element(By.ID, "recommend-button").click()
    wait(page, lambda d: len(cards(d)) == len(orange_photos), what="one card per photo of that make")
    wait(page, thumbnails_loaded, what="the thumbnails to load")
    assert page.find_element(By.ID, "prefs-error").text == ""
    shown = [c.get_attribute("data-id") for c in cards(page)]
    assert set(shown) == set(orange_photos)
    first = cards(page)[0]
    why = {
        dt.text: dd.text
        for dt, dd in zip(
            first.find_elements(By.CSS_SELECTOR, "dl.why dt"), first.find_elements(By.CSS_SELECTOR, "dl.why dd")
        )
    }
    assert {"colour", "orientation", "tags", "make"} <= set(why), why
    assert "✓" in why["make"] and "✓" in why["orientation"]
    assert "#f58214" in why["colour"]
    resolution = page.find_element(By.ID, "tag-resolution").text
    assert "“puppy” →" in resolution and "“sofa” →" in resolution
    page.execute_script("document.getElementById('results-section').scrollIntoView()")
    screenshot(page, "recommend-results")

    liked = shown[0]
    first.find_element(By.CSS_SELECTOR, "button.like").click()
    assert liked in poll(
        lambda: gateway.get(f"/recommend/users/{user}").json()["likes"], 60, what="the like in the user's profile"
    )
    wait(
        page,
        lambda d: "recorded" in cards(d)[0].find_element(By.CSS_SELECTOR, ".outcome").text,
        30,
        what="the page to say the like reached the user's profile",
    )
    assert cards(page)[0].find_element(By.CSS_SELECTOR, "button.like").get_attribute("aria-pressed") == "true"
    wait(page, EC.text_to_be_present_in_element((By.ID, "user-summary"), "1 liked"), what="the user summary")
    page.execute_script("arguments[0].scrollIntoView()", cards(page)[0])
    screenshot(page, "recommend-liked")

    # More like this: the liked photo's neighbours, each explained by its similarity.
    cards(page)[1].find_element(By.CSS_SELECTOR, "button.more").click()
    wait(page, EC.text_to_be_present_in_element((By.ID, "results-heading"), "More like"), what="similar images")
    wait(page, lambda d: len(cards(d)) > 0 and thumbnails_loaded(d), what="similar images' thumbnails")
    assert "cosine" in cards(page)[0].find_element(By.CSS_SELECTOR, "dl.why").text
    assert severe_errors(page, network=False) == []


def test_an_upload_shows_its_progress_then_the_status_counts_then_results(page, signed_in, stack, gateway, tmp_path):
    make = f"Upcam{uuid.uuid4().hex[:6]}"
    photo = Photo("ui-upload-teal.jpg", (10, 160, 150), (240, 240, 240), (360, 240), make=make, model="Drop")
    path = tmp_path / photo.name
    path.write_bytes(jpeg(photo))
    refused = tmp_path / "not-an-image.jpg"
    refused.write_bytes(b"this is not a picture")

    open_ui(page, stack, "status")
    total = int(
        wait(
            page,
            lambda d: d.find_element(By.CSS_SELECTOR, "#pipeline-counts dd[data-key=total]").text,
            what="the status page's counts",
        )
    )

    page.find_element(By.ID, "tab-upload").click()
    wait(page, EC.visibility_of_element_located((By.ID, "page-upload")), what="the upload tab")
    page.find_element(By.ID, "upload-files").send_keys(f"{path}\n{refused}")
    row = f"#uploads tr[data-file='{photo.name}']"
    wait(
        page,
        lambda d: d.find_element(By.CSS_SELECTOR, row).get_attribute("data-status") == "enriched",
        180,
        what="the upload to be enriched",
    )
    image_id = page.find_element(By.CSS_SELECTOR, f"{row} .image-id a").get_attribute("data-id")
    assert gateway.get(f"/images/{image_id}").json()["exif"]["Make"] == make
    assert page.find_element(By.CSS_SELECTOR, f"{row} progress").get_attribute("value") == "1"
    assert "enriched" in page.find_element(By.CSS_SELECTOR, f"{row} .pipeline").text
    wait(
        page,
        lambda d: d.execute_script(
            f'const i = document.querySelector("{row} .preview img"); return i && i.complete && i.naturalWidth > 0'
        ),
        what="the upload's thumbnail",
    )
    bad = "#uploads tr[data-file='not-an-image.jpg']"
    wait(
        page,
        lambda d: d.find_element(By.CSS_SELECTOR, bad).get_attribute("data-state") == "refused",
        what="the refusal of the file that is not an image",
    )
    assert "refused" in page.find_element(By.CSS_SELECTOR, bad).text
    # Dropped rather than chosen: the same bytes again, so the same image, already stored.
    page.execute_script(
        """
        const [url, done] = arguments;
        fetch(url).then(r => r.blob()).then(blob => {
          const files = new DataTransfer();
          files.items.add(new File([blob], 'dropped.jpg', {type: 'image/jpeg'}));
          const zone = document.getElementById('dropzone');
          for (const type of ['dragenter', 'dragover', 'drop'])
            zone.dispatchEvent(new DragEvent(type, {dataTransfer: files, bubbles: true, cancelable: true}));
        });""",
        f"/cdn/show/{image_id}",
    )
    dropped = "#uploads tr[data-file='dropped.jpg']"
    wait(
        page,
        lambda d: d.find_element(By.CSS_SELECTOR, dropped).get_attribute("data-status") == "enriched",
        60,
        what="the dropped file's row",
    )
    assert "already stored" in page.find_element(By.CSS_SELECTOR, dropped).text
    assert page.find_element(By.CSS_SELECTOR, f"{dropped} .image-id a").get_attribute("data-id") == image_id
    screenshot(page, "upload-done")

    page.find_element(By.ID, "tab-status").click()
    wait(
        page,
        lambda d: int(d.find_element(By.CSS_SELECTOR, "#pipeline-counts dd[data-key=total]").text) > total,
        what="the status page to count the upload",
    )
    wait(
        page,
        lambda d: d.find_elements(By.CSS_SELECTOR, "#health-table tr[data-service=recommend] td.ok"),
        what="the health table",
    )
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#stage-table tr[data-stage]"), what="the stage table")
    screenshot(page, "status-after-upload")

    page.find_element(By.ID, "tab-recommend").click()
    fill_in(page, "pref-user", "")  # no saved preferences: only what the form says
    page.find_element(By.ID, "pref-user").send_keys("\t")
    if page.find_element(By.ID, "pref-use-color").is_selected():
        page.find_element(By.ID, "pref-use-color").click()
    for field in ("pref-width", "pref-height", "pref-tags"):
        fill_in(page, field, "")
    Select(page.find_element(By.ID, "pref-orientation")).select_by_value("")
    fill_in(page, "pref-make", make)
    page.find_element(By.ID, "recommend-button").click()
    wait(page, lambda d: [c.get_attribute("data-id") for c in cards(d)] == [image_id], what="the upload as the result")
    wait(page, thumbnails_loaded, what="its thumbnail")
    assert severe_errors(page, network=False) == []


def test_the_page_links_the_dashboards(page, stack):
    open_ui(page, stack, "status")
    links = wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, "#dashboard-links a"), what="dashboard links")
    hrefs = {a.get_attribute("data-path"): a.get_attribute("href") for a in links}
    assert hrefs["/pipeline"] == f"{stack.dashboard_url}/pipeline"
    assert "/collection" in hrefs
    assert page.find_elements(By.CSS_SELECTOR, "#status-dashboards a[data-path='/pipeline']")
