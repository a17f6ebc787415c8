"""Drives the three pages of a running Agora network in headless Chromium (selenium, Debian's
chromium and chromium-driver): the node's explorer, the bridge's chat and spending page, and the
provider's earnings page. Each page must load with no console error and show live data; the chat
streams an answer with its cost, and Stop stops the next one; the explorer finds a transaction by
its hash. Exit 0 when everything holds; otherwise the first failure is printed.

usage: web_pages_check.py NODE_URL BRIDGE_URL PROVIDER_URL TRANSACTION_ID SCREENSHOT_DIR"""
import sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

node, bridge, provider, transaction, shots = sys.argv[1:6]

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600",
             "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(30)


# The pages redraw on live events (a block every half second here): an element found a moment ago
# may be gone, so a wait retries on a stale or missing element instead of failing on it.
def wait(condition, seconds, what):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(lambda d: condition(d))
    except TimeoutException:
        failure = f"timed out after {seconds} s waiting for {what}"
    except Exception as error:
        failure = f"{type(error).__name__} while waiting for {what}: {error}"
    driver.save_screenshot(f"{shots}/failed.png")
    raise SystemExit(f"{failure}; page text:\n{driver.find_element(By.TAG_NAME, 'body').text[:2000]}")


def text(selector):
    try:
        found = driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0].text if found else ""
    except StaleElementReferenceException:
        return ""


def console_errors(page):
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    if errors:
        raise SystemExit(f"console errors on the {page} page: {errors}")


# The explorer: live height, a block's Proof-of-AI section, a transaction found by its hash.
driver.get(node + "/")
def height():
    shown = text("#height")
    return int(shown) if shown.isdigit() else None


first = wait(lambda d: height(), 20, "the explorer's height")
wait(lambda d: (height() or 0) > first, 30, "the height to rise without a reload (live events)")


def search(query):
    box = driver.find_element(By.ID, "search")  # a redraw may replace it before it has the focus: retried
    box.clear()
    box.send_keys(query)
    driver.find_element(By.ID, "search-button").click()
    return True


wait(lambda d: search(transaction), 10, "the search box to take the transaction id")
wait(lambda d: text("#tx-status") == "confirmed" and text("#tx-id") == transaction and text("#tx-kind") == "transfer", 20,
     f"the page of transfer {transaction}, confirmed")
# The page redraws on live events: follow the block link by its address rather than a click.
driver.get(node + "/" + wait(lambda d: d.find_element(By.CSS_SELECTOR, "#app a[href^='#/block/']").get_attribute("href").split("/", 3)[3], 10, "the block link"))
wait(lambda d: text("#block-hash") != "", 20, "the transaction's block")
wait(lambda d: "Sealing" in text("body") or "Proof of AI" in text("body"), 10, "the block's Proof-of-AI section")
driver.get(node + "/#/providers")
wait(lambda d: "AGR / M tokens" in text("#app"), 20, "the providers with their prices")
driver.save_screenshot(f"{shots}/explorer.png")
console_errors("explorer")

# The bridge: a streamed answer with its provider, tokens and cost; then Stop on a long one.
driver.get(bridge + "/")
wait(lambda d: "Score" in text("#providers-body"), 30, "the providers ranking")
prompt = driver.find_element(By.ID, "prompt")
prompt.send_keys("What is the capital of France?")
driver.find_element(By.ID, "send").click()
wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".message.assistant .meta.done")) == 1, 120, "the first answer")
meta = text(".message.assistant .meta.done")
answer = text(".message.assistant .text")
assert answer.strip(), "empty answer"
assert "cost" in meta and "AGR" in meta and "answered by ag1" in meta and "completion tokens" in meta, meta
prompt.send_keys("Count from 1 to 500, one number per line.")
driver.find_element(By.ID, "send").click()
wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".message.assistant .text")) == 2 and
     len(d.find_elements(By.CSS_SELECTOR, ".message.assistant .text")[1].text) > 20, 120, "the second answer to stream")
driver.find_element(By.ID, "stop").click()
wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".message.assistant .meta.stopped")) == 1, 20, "the answer to stop")
stopped_at = len(driver.find_elements(By.CSS_SELECTOR, ".message.assistant .text")[1].text)
time.sleep(2)
assert len(driver.find_elements(By.CSS_SELECTOR, ".message.assistant .text")[1].text) == stopped_at, "text kept coming after Stop"
wait(lambda d: text("#spent") not in ("", "0 AGR"), 30, "the spending dashboard to show the answers' cost")
driver.save_screenshot(f"{shots}/bridge.png")
console_errors("bridge")

# The provider: its answers and receipted earnings.
driver.get(provider + "/")
wait(lambda d: text("#answers").isdigit() and int(text("#answers")) >= 1, 30, "the provider's answer count")
wait(lambda d: text("#received") not in ("", "0 AGR"), 30, "the provider's received amount")
driver.save_screenshot(f"{shots}/provider.png")
console_errors("provider")

driver.quit()
print(f"ok: explorer height {first}+, answer {answer[:40]!r}, {meta}, stopped after {stopped_at} characters")
