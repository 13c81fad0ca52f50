"""The sandbox console in a real browser: Playwright drives Debian's chromium against `dre-bot serve` in sandbox
mode, and each click goes through the console's signer to the bot's own /slack/events and /webhooks/*.

UPDATE_SCREENSHOTS=1 writes the screenshots the README shows to docs/console-*.png."""
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def _browser_or_skip():
    missing = None
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        missing = "playwright is not installed: `pip install -e '.[test]'`"
    if missing is None and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing = "Debian's chromium is not installed: `apt-get install -y chromium`"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the console tests in a browser: {missing}")
        pytest.skip(missing)


@pytest.fixture
def page(make_bot):
    _browser_or_skip()
    from playwright.sync_api import sync_playwright
    bot = make_bot(sandbox=True, DRE_SANDBOX_WAREHOUSE="off")   # the console needs no diagnostics
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 900})
        tab.set_default_timeout(20_000)
        tab.goto(bot.url + "/")
        yield tab
        browser.close()


def _shot(page, name: str) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / f"console-{name}.png"))


def test_fire_an_alert_acknowledge_ask_status_and_resolve_in_a_modal(page):
    from playwright.sync_api import expect
    page.select_option("#alert-select", "gcp_monitoring_freshness")
    page.click("#fire")
    card = page.locator(".msg").filter(has=page.locator(".header", has_text="INC-1")).first
    expect(card).to_contain_text("Triggered")
    expect(page.locator("#feed")).to_contain_text("Runbook: Table freshness breach")
    expect(page.locator("#pd-list")).to_contain_text("analytics.orders")      # the page went to PagerDuty

    card.get_by_role("button", name="Acknowledge").click()
    expect(card).to_contain_text("Acknowledged")
    expect(card).to_contain_text("(edited)")
    expect(page.locator("#pd-list .pd-acknowledged")).to_have_count(1)
    _shot(page, "card")

    page.fill("#composer", "/dre status")
    page.press("#composer", "Enter")
    answer = page.locator(".ephemeral", has_text="1 open incident")
    expect(answer).to_be_visible()
    expect(answer).to_contain_text("Only visible to you")

    card.get_by_role("button", name="Resolve").click()
    modal = page.locator("#modal")
    expect(modal).to_be_visible()
    modal.locator("select[name=cause]").select_option("upstream_delay")
    modal.locator("textarea[name=note], input[name=note]").fill("late upstream load, rerun done")
    _shot(page, "modal")
    modal.locator("#modal-submit").click()
    expect(modal).to_be_hidden()
    expect(card).to_contain_text("Resolved")
    expect(page.locator("#pd-list .pd-resolved")).to_have_count(1)


def test_an_outsider_sees_only_their_own_answers(page):
    """Ephemeral answers belong to the person who asked: switching users hides them."""
    from playwright.sync_api import expect
    page.select_option("#alert-select", "generic_job_failure")
    page.click("#fire")
    expect(page.locator(".msg .header").first).to_be_visible()
    page.fill("#composer", "/dre status")
    page.press("#composer", "Enter")
    expect(page.locator(".ephemeral", has_text="open incident")).to_be_visible()
    page.select_option("#person", "U0SBXEVE1")
    expect(page.locator(".ephemeral", has_text="open incident")).to_have_count(0)


def test_a_mention_in_a_thread_and_the_app_home(page):
    """`@dre-bot help` in the thread one picked goes out as an app_mention; App Home shows what views.publish set."""
    from playwright.sync_api import expect
    page.select_option("#alert-select", "generic_job_failure")
    page.click("#fire")
    expect(page.locator(".msg .header").first).to_be_visible()
    page.select_option("#person", "U0SBXBOB1")
    page.locator(".reply-link").first.click()
    expect(page.locator(".reply-link").first).to_have_text("✓ replying in this thread")
    page.fill("#composer", "@dre-bot help")
    page.press("#composer", "Enter")
    thread = page.locator(".thread").first
    expect(thread.locator(".msg", has_text="@dre-bot help")).to_be_visible()
    expect(thread.locator(".ephemeral")).to_contain_text("work data incidents from Slack")

    page.click("#open-home")
    home = page.locator("#feed .home")
    expect(home).to_contain_text("Open incidents")
    expect(home).to_contain_text("INC-1")
    expect(home).to_contain_text("On call")
