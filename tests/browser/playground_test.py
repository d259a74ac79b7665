"""Drives the playground page (GET /) in Debian's headless Chromium: types a French and an English
utterance, checks what the page shows, and saves a screenshot.

    python tests/browser/playground_test.py http://127.0.0.1:PORT SCREENSHOT_DIR [MODELS_URL [TRAIN_URL]]

MODELS_URL, when given, is a server started with deploy/models.example.toml: the page must offer
its models and parse with the one picked. TRAIN_URL is a server with `--admin-key browser-admin`,
an empty `--models-dir` and the tiny fixture encoder: the page must train tests/data/shop_nlu.yml,
show the run's progress and outcome, then parse with the trained bot; broken data must show its
problems.

Uses the system chromedriver (/usr/bin/chromedriver): nothing is downloaded.
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

URL, SHOTS = sys.argv[1], sys.argv[2]
MODELS_URL = sys.argv[3] if len(sys.argv) > 3 else None
TRAIN_URL = sys.argv[4] if len(sys.argv) > 4 else None

opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--window-size=1100,1000"]:
    opts.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
wait = WebDriverWait(driver, 15)
failures = []
passed = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passed if cond else failures).append(what)


def parse(text, lang_code, expect_intent, expect_entities):
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys(text)
    before = driver.find_element(By.ID, "intent").text if driver.find_elements(By.ID, "intent") else ""
    driver.find_element(By.ID, "parse").click()
    wait.until(EC.visibility_of_element_located((By.ID, "result")))
    wait.until(lambda d: d.find_element(By.ID, "intent").text not in ("", before))
    intent = driver.find_element(By.ID, "intent").text
    language = driver.find_element(By.ID, "language").text
    latency = driver.find_element(By.ID, "latency").text
    bars = driver.find_elements(By.CSS_SELECTOR, "#ranking .bar")
    marks = {m.get_attribute("data-entity"): m.text for m in driver.find_elements(By.CSS_SELECTOR, "#highlighted mark")}
    check(intent.startswith(expect_intent), f"{text!r}: intent shown {intent!r}")
    check(language.startswith(lang_code), f"{text!r}: language shown {language!r}")
    check("ms" in latency, f"{text!r}: latency shown {latency!r}")
    check(len(bars) >= 2 and bars[0].get_attribute("data-intent") == expect_intent, f"{text!r}: ranking bars ({len(bars)})")
    for entity in expect_entities:
        check(entity in marks, f"{text!r}: entity {entity!r} highlighted (marks: {marks})")
    return marks


def train_with(yaml_text, name):
    area = driver.find_element(By.ID, "train-nlu")
    driver.execute_script("arguments[0].value = arguments[1];", area, yaml_text)
    box = driver.find_element(By.ID, "train-name")
    box.clear()
    box.send_keys(name)
    driver.find_element(By.ID, "train-start").click()
    WebDriverWait(driver, 90).until(
        lambda d: d.find_element(By.ID, "train-state").get_attribute("data-state") in ("done", "failed", "cancelled"))
    return driver.find_element(By.ID, "train-state")


def train_page():
    import os
    driver.get(TRAIN_URL + "/")
    wait.until(EC.presence_of_element_located((By.ID, "text")))
    for summary in driver.find_elements(By.TAG_NAME, "summary"):
        summary.click()
    driver.find_element(By.ID, "key").send_keys("browser-admin")
    here = os.path.dirname(os.path.abspath(__file__))
    shop = open(os.path.join(here, "..", "data", "shop_nlu.yml"), encoding="utf-8").read()
    state = train_with(shop, "shop")
    check(state.get_attribute("data-state") == "done", f"training ends done ({state.text!r})")
    check("held-out intent accuracy" in state.text, "the outcome is shown")
    from selenium.webdriver.support.ui import Select
    picker = Select(driver.find_element(By.ID, "models"))
    check(picker.first_selected_option.get_attribute("value") == "shop", "the trained bot is picked")
    box = driver.find_element(By.ID, "text")
    box.clear()
    box.send_keys("where is my order B77881")
    driver.find_element(By.ID, "parse").click()
    wait.until(lambda d: d.find_element(By.ID, "served").text == "shop")
    intents = {"order_status", "refund", "change_address", "greet", "goodbye", "nlu_fallback"}
    shown = driver.find_element(By.ID, "intent").text.split(" ")[0]
    check(shown in intents, f"the trained bot answers with one of its intents ({shown!r})")
    driver.save_screenshot(f"{SHOTS}/playground-train.png")
    state = train_with("nlu:\n- intent: only\n  examples: |\n    - hello\n", "broken")
    problems = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#train-problems li")]
    check(state.get_attribute("data-state") == "failed" and "invalid_training_data" in state.text, f"bad data is refused ({state.text!r})")
    check(len(problems) >= 1, f"its problems are listed ({problems})")


try:
    driver.get(URL + "/")
    wait.until(EC.presence_of_element_located((By.ID, "text")))
    check("Parlance" in driver.title, "page title")
    parse("réveille-moi à sept heures demain", "fr", "alarm_set", ["time", "date"])
    driver.save_screenshot(f"{SHOTS}/playground-fr.png")
    parse("what's the weather like in paris tomorrow", "en", "weather_query", ["place_name"])
    driver.save_screenshot(f"{SHOTS}/playground-en.png")
    print(f"screenshots: {SHOTS}/playground-fr.png, {SHOTS}/playground-en.png")
    check(not driver.find_element(By.ID, "models").is_displayed(), "no model picker with one model")
    if MODELS_URL:
        driver.get(MODELS_URL + "/")
        wait.until(EC.visibility_of_element_located((By.ID, "models")))
        from selenium.webdriver.support.ui import Select
        picker = Select(driver.find_element(By.ID, "models"))
        ids = [o.get_attribute("value") for o in picker.options]
        check(ids == ["", "general", "tiny"], f"model picker lists the served models ({ids})")
        picker.select_by_value("tiny")
        driver.find_element(By.ID, "parse").click()
        wait.until(lambda d: d.find_element(By.ID, "served").text != "")
        check(driver.find_element(By.ID, "served").text == "tiny", "the picked model answers")
        driver.save_screenshot(f"{SHOTS}/playground-models.png")
    if TRAIN_URL:
        train_page()
finally:
    driver.quit()


print(f"browser: {len(passed)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
