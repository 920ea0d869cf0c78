"""Member pages on a 375 px phone: the share of visible text under 16 px, small tap targets, and Lighthouse.

Seeds the demo into a temporary SQLite database, serves it on loopback, logs in as the
demo member and measures each member page in Chromium with Playwright: the computed
font-size of every visible text node (share of nodes and of characters under 16 px)
and the visible controls (links, buttons, fields) under 44 px tall. With
``--lighthouse PATH`` it also runs Lighthouse (mobile) on home, a lesson, a quiz and
the archive and prints the accessibility and performance scores.

    .venv/bin/python benchmarks/phone_pages.py [--large-text] [--lighthouse /tmp/lh/node_modules/.bin/lighthouse]

Run it from another checkout with ``PYTHONPATH=<checkout>`` to measure that code (before/after).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM = os.environ.get("LMS_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "Vanguard2026"
MEASURE = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let nodes = 0, small = 0, chars = 0, smallChars = 0;
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.replace(/\\s+/g, "");
    if (!text || !node.parentElement) continue;
    const style = getComputedStyle(node.parentElement);
    if (style.visibility === "hidden" || node.parentElement.closest("script, style, noscript, option")) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
    if (!rects.length) continue;
    const size = parseFloat(style.fontSize);
    nodes += 1; chars += text.length;
    if (size < 15.95) { small += 1; smallChars += text.length; }
  }
  let controls = 0, smallControls = 0;
  document.querySelectorAll("a[href], button, input:not([type=hidden]), select, textarea").forEach(el => {
    const box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2 || getComputedStyle(el).visibility === "hidden") return;
    if (el.matches("p a, li p a, td a:not(.btn)") && !el.matches(".btn, .nav-link")) return;  // links inside text
    controls += 1;
    if (box.height < 43.5) smallControls += 1;
  });
  return {nodes, small, chars, smallChars, controls, smallControls};
}"""


def seed(directory: Path, large_text: bool):
    from lms import create_app
    from lms.cli import DEMO_MODULES, INIT_MODULES
    from lms.extensions import db

    app = create_app({
        "TESTING": True, "ENV_NAME": "test", "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False, "SCHEDULER": "off", "MEDIA_ROOT": str(directory / "media"),
        "DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite3'}", "TRANSCODE_PRESET": "ultrafast",
        "SEND_FILE_MAX_AGE_DEFAULT": 3600,
    })
    with app.app_context():
        db.create_all()
        for module in INIT_MODULES:
            importlib.import_module(module).seed_defaults()
        for module in DEMO_MODULES:
            importlib.import_module(module).seed_demo()
            db.session.commit()
        if large_text:
            db.session.execute(db.text("UPDATE users SET large_text = 1"))
            db.session.commit()
        db.session.remove()
    return app


def member_pages(page, base: str) -> dict[str, str]:
    """Home, the member's menu pages, and one course, lesson, quiz found by following links."""
    pages = {"home": "/", "catalogue": "/courses/", "micro-courses": "/courses/micro", "quizzes": "/quizzes/",
             "contests": "/contests/", "meetings": "/meetings/", "archive": "/courses/archive",
             "record": "/assessment/record",
             "targets": "/assessment/", "announcements": "/announcements", "notifications": "/notifications"}

    def first_link(path: str, pattern: str) -> str | None:
        page.goto(base + path)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            if re.fullmatch(pattern, href or ""):
                return href
        return None

    pages["course"] = first_link("/courses/", r"/courses/\d+")
    if pages["course"]:
        pages["lesson"] = first_link(pages["course"], r"/courses/lessons/\d+")
    pages["quiz"] = first_link("/quizzes/", r"/quizzes/\d+")
    pages["search"] = "/search/?q=党章"
    return {name: path for name, path in pages.items() if path}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large-text", action="store_true")
    parser.add_argument("--lighthouse", help="path of the lighthouse CLI (npm package `lighthouse`)")
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--screenshots", help="save each page at 375 px and 1280 px in this folder")
    options = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        app = seed(Path(tmp), options.large_text)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        results: dict[str, object] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 667},
                                          device_scale_factor=2, is_mobile=True, has_touch=True)
            page = context.new_page()
            page.goto(base + "/auth/login")
            page.fill("input[name=login]", "member")
            page.fill("input[name=password]", PASSWORD)
            page.click("form [type=submit]")
            page.wait_for_url(lambda url: "/auth/login" not in url)
            pages = member_pages(page, base)
            totals = dict.fromkeys(("nodes", "small", "chars", "smallChars", "controls", "smallControls"), 0)
            for name, path in pages.items():
                response = page.goto(base + path)
                page.wait_for_load_state("load")
                figures = page.evaluate(MEASURE)
                figures["status"] = response.status if response else None
                results[name] = {"path": path, **figures}
                for key in totals:
                    totals[key] += figures[key]
                print(f"{name:14} {path:28} text<16px {figures['small']:3}/{figures['nodes']:3} nodes "
                      f"({figures['small'] / max(1, figures['nodes']):.0%}), "
                      f"{figures['smallChars'] / max(1, figures['chars']):.0%} of chars; "
                      f"controls<44px {figures['smallControls']}/{figures['controls']}")
            print(f"{'all':43} text<16px {totals['small'] / max(1, totals['nodes']):.1%} of nodes, "
                  f"{totals['smallChars'] / max(1, totals['chars']):.1%} of chars; "
                  f"controls<44px {totals['smallControls'] / max(1, totals['controls']):.1%}")
            results["all"] = totals
            cookie = "; ".join(f"{c['name']}={c['value']}" for c in context.cookies())
            if options.screenshots:
                folder = Path(options.screenshots)
                folder.mkdir(parents=True, exist_ok=True)
                desktop = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
                desktop.add_cookies(context.cookies())
                for width, ctx in ((375, context), (1280, desktop)):
                    shot = ctx.new_page()
                    for name, path in pages.items():
                        shot.goto(base + path)
                        shot.wait_for_load_state("load")
                        shot.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
            browser.close()
        if options.lighthouse:
            results["lighthouse"] = lighthouse(options.lighthouse, base, cookie, pages)
        if options.json:
            Path(options.json).write_text(json.dumps(results, ensure_ascii=False, indent=1))
        server.shutdown()


def lighthouse(cli: str, base: str, cookie: str, pages: dict[str, str]) -> dict[str, dict[str, float]]:
    """Mobile accessibility and performance of home, a lesson, a quiz and the archive (reports kept in /tmp)."""
    scores = {}
    for name in ("home", "lesson", "quiz", "archive"):
        if name not in pages:
            continue
        report = Path(tempfile.gettempdir()) / f"lighthouse-{name}.json"
        subprocess.run(
            [cli, base + pages[name], "--quiet", "--output=json", f"--output-path={report}",
             "--only-categories=accessibility,performance", "--form-factor=mobile",
             f"--extra-headers={json.dumps({'Cookie': cookie})}", "--disable-full-page-screenshot",
             "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
            check=True, env={**os.environ, "CHROME_PATH": CHROMIUM},
        )
        categories = json.loads(report.read_text())["categories"]
        scores[name] = {key: round(value["score"] * 100) for key, value in categories.items()}
        print(f"lighthouse {name:8} accessibility {scores[name]['accessibility']:3}  "
              f"performance {scores[name]['performance']:3}")
    return scores


if __name__ == "__main__":
    main()
