"""The inspector's spaces, recordings and drift panels in a real browser (Debian's chromium, headless,
driven by Playwright, as in test_inspector_browser.py): the Spaces tab appearing once two keys call,
a space opening its journal, a page that shows one space by its key, the source of each answer of a
recording proxy, its recordings listed, and a drift report opened from a file, shown as text."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from emulator.config import Settings
from emulator.identity.directory import implicit_user
from emulator.server import EmulatorServer
from tests.conftest import TIMEOUT, WAIT_MS


@pytest.fixture
def open_page(browser):
    contexts, errors = [], []

    def opened(base_url: str, ready: bool = True):
        context = browser.new_context(viewport={"width": 1280, "height": 820})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(WAIT_MS)
        page.goto(base_url + "/_emulator/ui")
        if ready:
            page.locator("body[data-ready]").wait_for()
            page.locator("#live:not(.off)").wait_for()
        return page

    yield opened
    for context in contexts:
        context.close()
    assert errors == []  # no script error on any page


def close(page) -> None:
    """The page's browser context closed while its server runs: a server stopped with the page's live
    stream open waits out its --shutdown-timeout for it."""
    page.context.close()


def _chat(base_url: str, key: str, text: str, **extra) -> None:
    with openai.OpenAI(api_key=key, base_url=base_url + "/api/v2", timeout=10.0, max_retries=0) as sdk:
        sdk.chat.completions.create(model="alfred-4.2", messages=[{"role": "user", "content": text}], **extra)


def test_the_spaces_tab_appears_once_two_keys_call_and_a_space_opens_its_journal(open_page):
    from playwright.sync_api import expect

    with EmulatorServer(Settings()) as running:
        page = open_page(running.base_url)
        tab = page.locator("#tab-spaces")
        _chat(running.base_url, "suite-one-key", "from suite one")
        expect(page.locator("#journal-rows tr")).to_have_count(1)
        expect(tab).to_be_hidden()  # one key: no spaces to tell apart
        _chat(running.base_url, "suite-two-key", "from suite two")
        _chat(running.base_url, "suite-two-key", "again from suite two")
        expect(tab).to_be_visible()
        tab.click()
        two = implicit_user("suite-two-key")
        rows = page.locator("#spaces tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#panel-spaces")).not_to_contain_text("suite-two-key")  # never a key
        page.fill("#spaces-filter", str(two.id))
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("2")
        rows.first.focus()
        page.keyboard.press("Enter")  # the keyboard opens the space's journal
        expect(page.locator("#tab-journal")).to_have_attribute("aria-selected", "true")
        expect(page.locator("#journal-rows tr")).to_have_count(2)
        expect(page.locator("select[aria-label='Filter by space']")).to_have_value(str(two.company.id))
        close(page)


def test_with_an_admin_token_a_key_shows_its_own_space_alone_live(open_page):
    from playwright.sync_api import expect

    with EmulatorServer(Settings(admin_token="s3cret")) as running:
        _chat(running.base_url, "theirs-key", "not mine, before")
        page = open_page(running.base_url, ready=False)
        page.locator("#token-form").wait_for()
        page.fill("#space-key", "mine-key")
        page.click("#token-form button[type=submit]")
        page.locator("body[data-ready]").wait_for()
        page.locator("#live:not(.off)").wait_for()
        expect(page.locator("#version")).to_contain_text("one space")
        rows = page.locator("#journal-rows tr")
        _chat(running.base_url, "theirs-key", "not mine, after")
        _chat(running.base_url, "mine-key", "mine")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("/api/v2/chat/completions")
        rows.first.click()
        expect(page.locator("#entry")).to_contain_text("mine")
        expect(page.locator("#entry")).not_to_contain_text("not mine")
        page.click("#clear-journal")  # the space's view starts afresh; the others keep theirs
        expect(rows).to_have_count(0)
        admin = {"X-Emulator-Admin-Token": "s3cret"}
        assert len(httpx.get(running.base_url + "/_emulator/journal", headers=admin,
                             timeout=TIMEOUT).json()["requests"]) == 3
        close(page)


def test_a_recording_proxy_shows_each_answers_source_its_recordings_and_a_drift_report(
        open_page, tmp_path: Path):
    from playwright.sync_api import expect

    with EmulatorServer(Settings()) as upstream, \
            EmulatorServer(Settings(upstream=upstream.base_url, record=tmp_path / "rec")) as proxy:
        page = open_page(proxy.base_url)
        httpx.post(proxy.base_url + "/_emulator/fixtures", timeout=TIMEOUT, json={
            "name": "scripted-here", "match": {"last_user_message": {"contains": "scripted"}},
            "response": {"content": "Scripted."}}).raise_for_status()
        _chat(proxy.base_url, "a-key", "forwarded")
        _chat(proxy.base_url, "a-key", "forwarded, streamed", stream=True)
        _chat(proxy.base_url, "a-key", "scripted")
        rows = page.locator("#journal-rows tr")
        expect(rows).to_have_count(3)
        expect(rows.nth(0).locator("td.source-fixture")).to_have_text("scripted-here")
        expect(rows.nth(1).locator("td.source-upstream")).to_have_text("upstream")
        page.select_option("select[aria-label='Filter by source']", "upstream")
        expect(rows).to_have_count(2)

        page.click("#tab-recordings")
        listed = page.locator("#recordings tbody tr")
        expect(listed).to_have_count(2)
        expect(listed.first).to_contain_text("0001-post-api-v2-chat-completions.yaml")
        expect(listed.nth(1)).to_contain_text("stream of")
        expect(page.locator("#recordings")).to_contain_text("recording into")

        payload = "<img src=x onerror=\"window.__pwned = 1\">"
        report = {"target": "the emulator (generated answers)", "exchanges": 2, "differences": [
            {"operation": "POST /api/v2/chat/completions", "fixture": "0001 POST /api/v2/chat/completions",
             "seq": 1, "kind": "type", "at": "$.usage.total_tokens", "recorded": payload, "live": "number"},
            {"operation": "GET /api/v2/models", "fixture": "0002 GET /api/v2/models", "seq": 2,
             "kind": "missing", "at": "$.data[].owned_by", "recorded": "string", "live": "absent"}]}
        (tmp_path / "drift.json").write_text(json.dumps(report), encoding="utf-8")
        page.set_input_files("#drift-file", str(tmp_path / "drift.json"))
        differences = page.locator("#drift tr.difference")
        expect(differences).to_have_count(2)
        expect(differences.first).to_contain_text("$.usage.total_tokens")
        expect(differences.first).to_contain_text(payload)  # as text, never run
        assert page.locator("#drift img").count() == 0
        assert page.evaluate("() => window.__pwned === undefined")
        expect(page.locator("#drift")).to_contain_text("2 differences in 2 operations")

        (tmp_path / "other.json").write_text("[1, 2]", encoding="utf-8")
        page.set_input_files("#drift-file", str(tmp_path / "other.json"))
        expect(page.locator("#drift")).to_contain_text("other.json is not a drift report")
        close(page)
