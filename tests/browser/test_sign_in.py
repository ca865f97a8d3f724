"""Signing in through the real login form."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.accounts.models import User
from tests.browser.conftest import Browsers, login

pytestmark = pytest.mark.browser


def test_a_wrong_password_shows_an_error(browsers: Browsers, responder: User) -> None:
    page = browsers.page()
    page.goto("/login/")
    page.get_by_label("Username").fill(responder.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_the_right_password_lands_on_the_board(browsers: Browsers, live_url: str, responder: User) -> None:
    page = browsers.page()
    login(page, live_url, responder)

    expect(page).to_have_url(f"{live_url}/")
    expect(page.get_by_text(f"{responder.display_name} · Responder")).to_be_visible()
    expect(page.locator("#board")).to_contain_text("No active incidents.")


def test_the_board_asks_for_a_sign_in_first(browsers: Browsers, live_url: str) -> None:
    page = browsers.page()
    page.goto("/")
    expect(page).to_have_url(f"{live_url}/login/?next=/")
