"""Drives Wheelhouse's web pages in headless Chromium (Selenium + Debian's chromedriver):
sign in, create a token, open a project and a package page, yank a version. Saves screenshots.

usage: check_browser.py BASE_URL USER PASSWORD PROJECT_PATH SCREENSHOT_DIR
"""
import os
import sys
import tempfile

import requests
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

base, user, password, project, shots = sys.argv[1:6]
os.makedirs(shots, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--window-size=1280,900",
             f"--user-data-dir={tempfile.mkdtemp(prefix='wh-chromium-')}"):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 15)


def shot(name):
    driver.save_screenshot(os.path.join(shots, f"{name}.png"))


def console_problems():
    # CSP violations and script errors show up as SEVERE console entries.
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


try:
    # A private page sends us to sign in, and back afterwards.
    driver.get(f"{base}/{project}")
    wait.until(ec.url_contains("/users/sign_in"))
    driver.find_element(By.NAME, "username").send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(password)
    shot("sign-in")
    driver.find_element(By.CSS_SELECTOR, "form[action='/users/sign_in'] button").click()
    wait.until(ec.url_to_be(f"{base}/{project}"))
    assert user in driver.find_element(By.CSS_SELECTOR, ".top").text

    # The project page: packages and set-up with this server's URLs.
    assert "model-kit" in driver.page_source
    assert f"{base}/api/v4/projects/" in driver.page_source
    shot("project")

    # A personal access token: created, shown once with a copy button; it works for pip's index.
    driver.get(f"{base}/-/user_settings/personal_access_tokens")
    driver.find_element(By.NAME, "name").send_keys("from-the-browser")
    driver.find_element(By.CSS_SELECTOR, "input[value='read_package_registry']").click()
    driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]").click()
    secret = wait.until(ec.presence_of_element_located((By.ID, "new-token"))).text
    assert secret.startswith("whpat-"), secret
    copy = driver.find_element(By.CSS_SELECTOR, "button[data-copy='new-token']")
    copy.click()
    wait.until(lambda d: copy.text == "Copied" or d.execute_script(
        "return window.getSelection().toString()") == secret)
    shot("token")
    simple = requests.get(f"{base}/api/v4/projects/{project.replace('/', '%2F')}/packages/pypi/simple/",
                          auth=("__token__", secret), timeout=10)
    assert simple.status_code == 200, simple.status_code

    # A package page, then yank its version.
    driver.get(f"{base}/{project}")
    driver.find_element(By.LINK_TEXT, "model-kit").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.files")))
    assert "Model kit" in driver.find_element(By.CSS_SELECTOR, ".description").text
    shot("package")
    driver.find_element(By.NAME, "reason").send_keys("broken wheel")
    driver.find_element(By.ID, "yank").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "h1 .badge.yanked")))
    assert "Unyank" in driver.page_source
    shot("yanked")

    # The same page on a phone.
    driver.set_window_size(390, 844)
    driver.refresh()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.files")))
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone: {width}px"
    shot("package-phone")

    problems = console_problems()
    assert not problems, problems
    print("ok")
finally:
    driver.quit()
