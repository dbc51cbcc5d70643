"""Signing in on the web page: a pasted API key becomes a session (the key is kept nowhere by
the page), writes work as that key's user, and signed out they say "sign in" instead of failing
silently; the server refuses them too, and nothing is written."""

from __future__ import annotations

import uuid

import pytest

from tests.browser.conftest import skip_unless_browser

skip_unless_browser(module_level=True)  # before selenium is imported

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from tests.browser.conftest import screenshot, severe_errors, wait
from tests.support import poll
from tests.support.photos import Photo, jpeg

WRITER = "ui-writer"
MAKE = f"Signcam{uuid.uuid4().hex[:6]}"  # a camera only this module's photo has
ADMIN_SCOPES = "read, write, admin"


@pytest.fixture(scope="module")
def writer_key(gateway):
    """A non-admin key that may write, made by the admin the way an operator would."""
    response = gateway.post("/auth/keys", json={"user": WRITER, "scopes": ["read", "write"]})
    assert response.status_code == 201, response.text
    body = response.json()
    yield body["key"]
    gateway.delete(f"/auth/keys/{body['id']}")


@pytest.fixture(scope="module")
def photo_id(gateway):
    """One enriched photo of a make nobody else uses: the only result for that make."""
    photo = Photo("ui-sign-in.jpg", (200, 40, 160), (250, 250, 250), (330, 220), make=MAKE, model="Key")
    response = gateway.post("/gather/uploads", files=[("files", (photo.name, jpeg(photo), "image/jpeg"))])
    assert response.status_code == 202, response.text
    image = response.json()["ids"][0]
    poll(lambda: gateway.get(f"/images/{image}").json()["status"] == "enriched", 180, what="the photo to be enriched")
    return image


@pytest.fixture
def fresh(page, stack):
    """The page signed out (by its own button when signed in), with nothing remembered; and left
    so: the other tests sign in again through the `signed_in` fixture."""
    open_ui(page, stack, "recommend")
    page.execute_script("localStorage.clear()")
    if page.find_element(By.ID, "sign-out-button").is_displayed():
        page.find_element(By.ID, "sign-out-button").click()
    wait(page, EC.visibility_of_element_located((By.ID, "api-key")), what="the sign-in form")
    open_ui(page, stack, "recommend")
    yield page
    page.execute_script("localStorage.clear()")
    page.set_window_size(1400, 1000)


def open_ui(browser, stack, tab: str):
    """The page loaded afresh (a get of the same address with a #tab would not reload it)."""
    browser.get("about:blank")
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


def text_of(browser, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def who(browser) -> str:
    return browser.execute_script("return document.getElementById('auth-who').textContent")


def sign_in(browser, key: str):
    """Paste the key and press Enter, as a keyboard user would."""
    field = browser.find_element(By.ID, "api-key")
    assert field.get_attribute("type") == "password"
    field.clear()
    field.send_keys(key, Keys.ENTER)


def card_button(browser, image: str, signal: str):
    return browser.find_element(By.CSS_SELECTOR, f"#results li.card[data-id='{image}'] button.{signal}")


def key_kept_anywhere(browser, key: str) -> bool:
    return bool(
        browser.execute_script(
            "const k = arguments[0];"
            "const stored = (s) => Object.keys(s).some((n) => n.includes(k) || String(s.getItem(n)).includes(k));"
            "return location.href.includes(k) || document.cookie.includes(k) || stored(localStorage)"
            " || stored(sessionStorage) || document.getElementById('api-key').value.includes(k);",
            key,
        )
    )


def test_a_wrong_key_is_refused_with_the_servers_message(fresh, stack, anonymous):
    page = fresh
    label = page.find_element(By.CSS_SELECTOR, "label[for=api-key]")
    assert label.text == "API key"
    sign_in(page, f"vf_wrong-{uuid.uuid4().hex}")
    error = wait(page, lambda d: text_of(d, "auth-error"), what="the refusal")
    assert "unknown or revoked API key" in error and "401" in error, error
    assert page.find_element(By.ID, "auth-error").get_attribute("role") == "alert"
    assert page.find_element(By.ID, "api-key").is_displayed()
    assert page.switch_to.active_element.get_attribute("id") == "api-key"  # ready to try again
    assert not page.find_element(By.ID, "signed-in").is_displayed()
    assert page.get_cookie("vf_session") is None
    screenshot(page, "sign-in-wrong-key")

    # An empty key is not sent at all.
    fill_in(page, "api-key", "")
    page.find_element(By.ID, "sign-in-button").click()
    wait(page, EC.text_to_be_present_in_element((By.ID, "auth-error"), "Enter an API key"), what="the hint")

    # At phone width the sign-in area and the page still fit, without sideways scrolling.
    page.set_window_size(390, 844)
    wait(
        page,
        lambda d: d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
        what="the page to fit a phone's width",
    )
    assert page.find_element(By.ID, "sign-in-button").is_displayed()
    screenshot(page, "sign-in-phone-width")
    assert severe_errors(page, network=False) == []


def test_sign_in_with_a_key_write_sign_out_and_the_write_is_refused(fresh, stack, gateway, writer_key, photo_id):
    page = fresh
    # Signed out: each write says what it needs instead of failing silently.
    save = page.find_element(By.ID, "save-button")
    assert save.text == "Sign in to save preferences" and save.get_attribute("aria-disabled") == "true"
    page.find_element(By.ID, "tab-upload").click()
    wait(page, EC.visibility_of_element_located((By.ID, "page-upload")), what="the upload tab")
    assert not page.find_element(By.ID, "upload-files").is_enabled()
    assert "Sign in to upload" in text_of(page, "upload-signin")
    screenshot(page, "sign-in-1-signed-out-upload")
    page.find_element(By.ID, "tab-recommend").click()
    screenshot(page, "sign-in-1-signed-out")

    # Sign in by pasting the key: the page says who, and keeps the key nowhere.
    sign_in(page, writer_key)
    wait(page, lambda d: who(d) == f"Signed in as {WRITER} (read, write)", what="the page to say who is signed in")
    assert not page.find_element(By.ID, "api-key").is_displayed()
    assert page.switch_to.active_element.get_attribute("id") == "sign-out-button"
    assert page.get_cookie("vf_session")["httpOnly"] is True
    assert not key_kept_anywhere(page, writer_key)
    assert page.find_element(By.ID, "pref-user").get_attribute("value") == WRITER  # defaults to the signed-in user
    assert page.find_element(By.ID, "save-button").text == "Save preferences"
    assert page.find_element(By.ID, "save-button").get_attribute("aria-disabled") == "false"
    screenshot(page, "sign-in-2-signed-in")

    # A write as ui-writer: preferences saved, on the server.
    fill_in(page, "pref-make", MAKE)
    page.find_element(By.ID, "save-button").click()
    wait(
        page,
        EC.text_to_be_present_in_element((By.ID, "prefs-status"), f"Saved preferences for {WRITER}"),
        what="the preferences to be saved",
    )
    poll(
        lambda: gateway.get(f"/recommend/users/{WRITER}").json()["preferences"].get("make") == MAKE.lower(),
        30,
        what="ui-writer's preferences on the server",
    )
    # And a like, as ui-writer: it reaches the profile.
    page.find_element(By.ID, "recommend-button").click()
    wait(page, lambda d: card_button(d, photo_id, "like").is_displayed(), what="the photo as a result")
    card_button(page, photo_id, "like").click()
    assert photo_id in poll(
        lambda: gateway.get(f"/recommend/users/{WRITER}").json()["likes"], 60, what="the like in ui-writer's profile"
    )
    wait(
        page,
        lambda d: "recorded" in d.find_element(By.CSS_SELECTOR, f"li.card[data-id='{photo_id}'] .outcome").text,
        30,
        what="the page to say the like was recorded",
    )
    screenshot(page, "sign-in-3-wrote")

    # A non-admin acts only as themselves: another name is refused with the gateway's 403 message.
    fill_in(page, "pref-user", "someone-else")
    page.find_element(By.ID, "save-button").click()
    error = wait(page, lambda d: text_of(d, "prefs-error"), what="the 403 message")
    assert "acts for its own user" in error and "403" in error, error
    assert gateway.get("/recommend/users/someone-else").status_code == 404
    screenshot(page, "sign-in-4-other-user-refused")
    fill_in(page, "pref-user", WRITER)

    # Retrying dead letters needs an admin: the button says so.
    assert "needs admin" in page.find_element(By.ID, "retry-dead").get_attribute("textContent")

    # Sign out: the session ends on the server too.
    page.find_element(By.ID, "sign-out-button").click()
    wait(page, EC.visibility_of_element_located((By.ID, "api-key")), what="the sign-in form again")
    assert who(page) == "" and not page.find_element(By.ID, "signed-in").is_displayed()
    assert page.switch_to.active_element.get_attribute("id") == "api-key"
    assert page.get_cookie("vf_session") is None
    assert page.execute_script("return fetch('/auth/session').then((r) => r.json())") == {"signed_in": False}

    # The same writes now: the page says to sign in, and nothing reaches the server.
    save = page.find_element(By.ID, "save-button")
    assert save.text == "Sign in to save preferences" and save.get_attribute("aria-disabled") == "true"
    fill_in(page, "pref-make", "Nevercam")
    save.click()
    wait(page, EC.text_to_be_present_in_element((By.ID, "prefs-error"), "Sign in to save preferences"), what="hint")
    like = card_button(page, photo_id, "like")
    assert like.text == "Sign in to like" and like.get_attribute("aria-disabled") == "true"
    card_button(page, photo_id, "dislike").click()
    wait(
        page,
        lambda d: (
            "Sign in to dislike" in d.find_element(By.CSS_SELECTOR, f"li.card[data-id='{photo_id}'] .outcome").text
        ),
        what="the card to say sign in",
    )
    page.find_element(By.ID, "tab-status").click()
    page.find_element(By.ID, "retry-dead").click()
    wait(page, EC.text_to_be_present_in_element((By.ID, "retry-status"), "Sign in to retry"), what="the retry hint")
    page.find_element(By.ID, "tab-recommend").click()
    screenshot(page, "sign-in-5-signed-out-refused")
    user = gateway.get(f"/recommend/users/{WRITER}").json()
    assert user["preferences"].get("make") == MAKE.lower() and photo_id not in user["dislikes"]
    assert severe_errors(page, network=False) == []


def test_a_session_ended_behind_the_pages_back_is_refused_by_the_server(fresh, stack, gateway, writer_key):
    """The page still shows "Signed in" but the session is gone (expired, signed out elsewhere):
    the gateway's 401 is shown, the page turns to signed out, and nothing is written."""
    page = fresh
    sign_in(page, writer_key)
    wait(page, lambda d: who(d).startswith(f"Signed in as {WRITER}"), what="the sign-in")
    before = gateway.get(f"/recommend/users/{WRITER}")
    page.delete_cookie("vf_session")
    fill_in(page, "pref-make", "Ghostcam")
    page.find_element(By.ID, "save-button").click()
    error = wait(page, lambda d: text_of(d, "prefs-error"), what="the server's refusal")
    assert "sign in" in error and "401" in error, error
    wait(page, EC.visibility_of_element_located((By.ID, "api-key")), what="the page to show it is signed out")
    assert page.find_element(By.ID, "save-button").text == "Sign in to save preferences"
    screenshot(page, "sign-in-session-ended")
    after = gateway.get(f"/recommend/users/{WRITER}")
    if before.status_code == 200:
        assert after.json()["preferences"] == before.json()["preferences"]
    else:
        assert after.status_code == 404
