"""The workspace in a real browser: Selenium drives Debian's Chromium through ``cmcadvisor serve``.

One walk through the issue's acceptance path on a temporary copy of examples/: open the
programs list, create a program, break and fix a field in the form, save, see the assessment,
toggle a what-if, run two scenarios, download the Word brief and the Excel risk register and
open them with python-docx and openpyxl. Skipped (with the reason) when Chromium, its WebDriver
or Selenium are missing, unless ``CMCADVISOR_REQUIRE_BROWSER`` is set (as in CI), where they
fail instead.

Element hooks the pages provide (the first selector that matches is used): the programs list
links each program by its file name and ``/new``, whose form creates one; the program form posts
to ``.../edit`` with the fields :mod:`cmcadvisor.workspace.forms` renders (``name="program.name"``,
id ``f-program-name``, messages in ``.field-error``) and a ``#save`` button; the what-if form
(``.../whatif``) has ``select[name=field]`` and ``input[name=value]``; the scenarios form
(``.../scenarios``) takes one scenario a line in a textarea and shows the comparison in an
iframe; the downloads are links ending in ``risk-register.xlsx`` and a form to ``brief.docx``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BROWSER_FLAGS, ROOT

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
DRIVER = shutil.which("chromedriver")
FLAGS = (*BROWSER_FLAGS, "--window-size=1280,2000")


def _missing() -> str | None:
    if CHROMIUM is None:
        return "Chromium is not installed (apt-get install chromium)"
    if DRIVER is None:
        return "chromedriver is not installed (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    reason = _missing()
    if reason is None:
        return
    if os.environ.get("CMCADVISOR_REQUIRE_BROWSER"):
        pytest.fail(f"{reason}; required here (CMCADVISOR_REQUIRE_BROWSER is set)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, browser_ready: None) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "programs"
    folder.mkdir()
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        shutil.copyfile(path, folder / path.name)
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "cmcadvisor", "serve", str(folder), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"cmcadvisor serve exited with {process.returncode}:\n{(tmp_path / 'serve.log').read_text()}")
            try:
                with urllib.request.urlopen(base + "/", timeout=5):  # noqa: S310 - our own local server
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"cmcadvisor serve did not answer:\n{(tmp_path / 'serve.log').read_text()}")
                time.sleep(0.3)
        yield base, folder
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def driver(tmp_path: Path, browser_ready: None) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "download.directory_upgrade": True,
            "safebrowsing.enabled": False,
        },
    )
    chrome = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    chrome.set_page_load_timeout(120)
    with contextlib.suppress(Exception):  # older drivers: the prefs alone allow downloads
        chrome.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    chrome.downloads = downloads
    try:
        yield chrome
    finally:
        chrome.quit()


def _find(root: Any, *selectors: str) -> Any:
    """The first element matching one of the CSS selectors, in the order given; fails naming them all."""
    from selenium.webdriver.common.by import By

    for selector in selectors:
        found = root.find_elements(By.CSS_SELECTOR, selector)
        if found:
            return found[0]
    pytest.fail(f"none of {selectors} on {getattr(root, 'current_url', 'the element')}")


def _body(chrome: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(chrome.find_element(By.TAG_NAME, "body").text)


def _submit(chrome: Any, form: Any, *buttons: str) -> None:
    old = chrome.find_element("tag name", "html")
    plain = ('button[type="submit"]:not([name="_add"])', 'input[type="submit"]', "button:not([name])")
    _find(form, *buttons, *plain).click()
    _wait(lambda: _stale(old), "the page after submitting")


def _stale(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    return False


def _wait(check: Any, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _type(field: Any, text: str) -> None:
    field.clear()
    field.send_keys(text)


def _downloaded(folder: Path, suffix: str) -> Path:
    found: list[Path] = []

    def done() -> bool:
        found[:] = [p for p in folder.iterdir() if p.suffix == suffix]
        return bool(found) and not any(p.name.endswith(".crdownload") for p in folder.iterdir())

    _wait(done, f"a {suffix} download in {folder}")
    return found[0]


def test_workspace_walkthrough(server: tuple[str, Path], driver: Any) -> None:
    import docx
    import openpyxl
    from selenium.webdriver.support.ui import Select

    base, folder = server
    # the programs list
    driver.get(base + "/")
    listing = _body(driver)
    assert "ACME-19" in listing or "car-t-autologous" in listing

    # create a program from the starter
    if not driver.find_elements("css selector", "#create-form"):
        _find(driver, 'a[href="/new"]', 'a[href*="new"]').click()
    create = _find(driver, "#create-form", 'form[action*="new"]', 'form[action*="create"]')
    for field in create.find_elements("css selector", 'input[type="text"], input:not([type])'):
        name = (field.get_attribute("name") or "").lower()
        _type(field, "BROWSER-1" if name.endswith("id") else "Browser walk")
    before = {p.name for p in folder.glob("*.yaml")}
    _submit(driver, create)
    created = sorted({p.name for p in folder.glob("*.yaml")} - before)
    assert len(created) == 1, f"expected one new program file, found {created}"
    new_file = folder / created[0]

    # the form: break a required field, see the error at the field, fix it, save
    program_form = ("#program-form", 'form[action$="/edit"]', 'form[method="post"]')
    if not driver.find_elements("css selector", "#f-program-name"):
        _find(driver, 'a[href$="/edit"]', "#edit-link").click()
    form = _find(driver, *program_form)
    text_before = new_file.read_text(encoding="utf-8")
    _type(_find(form, "#f-program-name"), "")
    _submit(driver, _find(driver, *program_form), "#save")
    error = _find(driver, "#f-program-name ~ .field-error", ".field-error")
    assert "required" in error.text or "least 1" in error.text
    assert new_file.read_text(encoding="utf-8") == text_before  # nothing written
    form = _find(driver, *program_form)
    _type(_find(form, "#f-program-name"), "Browser walk program")
    Select(_find(form, "#f-manufacturing-strategy")).select_by_value("cdmo")
    _submit(driver, form, "#save")
    saved = new_file.read_text(encoding="utf-8")
    assert "Browser walk program" in saved and "strategy: cdmo" in saved
    comments = [line.strip() for line in text_before.splitlines() if line.strip().startswith("#")]
    assert comments and all(c in saved for c in comments)  # the starter's comments survive the form
    assert list((folder / ".cmcadvisor-history").glob(f"{new_file.name}.*.yaml"))  # the previous version kept

    # the assessment (the save leads to it)
    assert driver.current_url.split("?")[0].endswith(f"/p/{new_file.name}")
    assert "Browser walk program" in _body(driver)

    # a what-if against the baseline, the file untouched
    if not driver.find_elements("css selector", '#whatif-form, form[action$="/whatif"]'):
        _find(driver, 'a[href$="/whatif"]').click()
    whatif = _find(driver, "#whatif-form", 'form[action$="/whatif"]')
    Select(_find(whatif, 'select[name="field"]')).select_by_value("manufacturing.strategy")
    _type(_find(whatif, 'input[name="value"]'), "in_house")
    _submit(driver, whatif)
    changed = _body(driver)
    assert "What changes" in changed and "Baseline" in changed
    assert new_file.read_text(encoding="utf-8") == saved

    # two scenarios side by side
    driver.get(base + "/")
    _find(driver, f'a[href="/p/{new_file.name}"]', f'a[href*="{new_file.name}"]').click()
    if not driver.find_elements("css selector", '#scenarios-form, form[action$="/scenarios"]'):
        _find(driver, 'a[href$="/scenarios"]', 'a[href*="scenario"]').click()
    scenarios = _find(driver, "#scenarios-form", 'form[action$="/scenarios"]')
    boxes = scenarios.find_elements("css selector", 'textarea, input[name^="scenario"]')
    lines = ["CDMO: manufacturing.strategy=cdmo", "Build: manufacturing.strategy=in_house"]
    if len(boxes) >= 2:
        for box, line in zip(boxes, lines, strict=False):
            _type(box, line)
    else:
        _type(boxes[0], "\n".join(lines))
    _submit(driver, scenarios)
    frames = driver.find_elements("css selector", 'iframe[src*="scenario"]')
    if frames:  # the comparison page shown inside the workspace page
        driver.switch_to.frame(frames[0])
        _wait(lambda: "Build" in _body(driver), "the scenario comparison")
    result = _body(driver)
    driver.switch_to.default_content()
    assert "CDMO" in result and "Build" in result and "aseline" in result

    # downloads: the Excel risk register and the Word brief, opened by their libraries
    driver.get(base + "/")
    _find(driver, f'a[href="/p/{new_file.name}"]', f'a[href*="{new_file.name}"]').click()
    if not driver.find_elements("css selector", 'a[href$="risk-register.xlsx"]'):
        _find(driver, 'a[href*="download"]', "#downloads-link").click()
    _find(driver, 'a[href$="risk-register.xlsx"]').click()
    workbook = openpyxl.load_workbook(_downloaded(driver.downloads, ".xlsx"))
    assert "Register" in workbook.sheetnames
    header = [cell.value for cell in next(workbook["Register"].iter_rows(max_row=1))]
    assert "Risk" in header  # a new program may have no risks yet: the register's columns are there
    brief = driver.find_elements("css selector", '#brief-form, form[action$="brief.docx"]')
    if brief:
        _find(brief[0], 'button[type="submit"]', 'input[type="submit"]', "button").click()
    else:
        _find(driver, 'a[href$=".docx"]', 'a[href*="brief"]').click()
    document = docx.Document(str(_downloaded(driver.downloads, ".docx")))
    assert any(p.text.strip() for p in document.paragraphs)
