"""The page net (DESIGN §15): every page each demo role can reach, at a phone and a desktop size.

The demo is seeded once (as `flask lms demo` does) and served, on a fresh copy of
its database and media, to each of the net's two parts, ``phone`` and ``desktop``:
separate tests, so pytest-xdist runs them side by side. Each part logs in as each
demo role in turn (one browser context per role, at its size) and crawls from the
navigation through the links on the pages; both parts crawl the same way, so they
render the same pages. URLs are reduced to
patterns (numbers become ``<id>``); each pattern is rendered once, in the first
role of ``ROLES`` that reaches it (the least privileged one that "owns" it),
and a bounded sample of further links per pattern is fetched without
rendering. Downloads (xlsx, pdf, json, media) are fetched, never rendered.

A rendered page fails on: a response >= 400 (the page or any request it makes),
a console error or uncaught exception, a failed request, and any axe-core
violation of impact serious or critical (axe runs once per pattern and
viewport). The phone part also checks the text: escaped markup shown as text,
raw ``{{n}}`` / ``%(name)s`` markers, untranslated text (English words in the
Chinese UI, Chinese in the English UI; names and content from the database are
allowed), and horizontal overflow; it fetches the downloads and link samples,
and makes the English pass over each role's navigation pages.

Knobs (environment variables; see docs/DEVELOPING.md "The page net"):
  LMS_NET_LOCALE=en          crawl everything in the English UI (default zh_Hans,
                             with an English pass over each role's navigation pages)
  LMS_NET_ACCOUNT=large_text=1,...   account settings given to every demo user
  LMS_NET_REPORT=path.json   write every finding (known ones too) as JSON, one file per part
                             (path.phone.json, path.desktop.json)
Run alone: ``.venv/bin/python -m pytest -q -s -p no:cacheprovider tests/e2e/test_page_net.py``
(one part: ``.../test_page_net.py::test_page_net[phone]``).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import send_file
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from lms.auth.demo import DEMO_PASSWORD
from lms.cli import DEMO_MODULES, INIT_MODULES
from lms.extensions import db
from tests.conftest import POSTGRES_URL, make_test_app
from tests.e2e.conftest import click_confirmed

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# The net's server also serves axe (with a long max-age), so the browser compiles it once per context.
AXE_URL = "/__page_net__/axe.min.js"

# Least privileged first: a pattern belongs to the first role that reaches it.
ROLES = ("member", "probationary", "activist", "secretary", "admin")
PHONE = {
    "viewport": {"width": 375, "height": 667},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}  # the net's parts, one test each
LINK_SAMPLES = 3  # URLs per pattern whose status is checked (the first one is also rendered)
AXE_IMPACTS = ("serious", "critical")

# Fetched, never rendered: files, feeds and media.
DOWNLOAD = re.compile(
    r"\.(xlsx|xml|pdf|gift|txt|csv|json|mp4|m3u8|ts|jpg|jpeg|png|webp|svg|ico|css|js)$|/(original|banner|state|pdf)$|/cover/|/images/|/hls/"
)
# Never followed.
SKIP = re.compile(r"^/auth/logout|^/static/")

# Text checks (on the visible text and on aria-label, title, alt and placeholder).
ESCAPED_MARKUP = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>|&(lt|gt|amp|quot|nbsp|#\d+);")
RAW_MARKER = re.compile(r"\{\{[^}]*\}\}|\{%|%\([a-z_]+\)[sdf]")
ENGLISH_WORD = re.compile(r"(?<![A-Za-z0-9_./-])[A-Za-z]*[a-z][A-Za-z]{2,}(?![A-Za-z0-9_/-])")
CJK = re.compile(r"[\u3400-\u9fff]+")
# Full-width punctuation right after English text ("Date：", "archive（2026）").
CJK_PUNCTUATION = re.compile(r"(?<=[A-Za-z0-9)])[\uff08\uff09\uff0c\u3001\u3002\uff1a\uff1b\uff01\uff1f]")
# How a fill-in question shows its blanks: "（1）____".
BLANK = re.compile(r"（\d+）_+|_{3,}")
# An e-mail address or a web address is not text in either language ("vanguard@localhost").
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*|https?://\S+")
# An English sentence (two words, or one and the term in brackets) may quote a short Chinese term:
# "Required study hours (学时)", "Explanation (解析)".
QUOTED_TERM_MAX = 6
# English words that belong in the Chinese UI (names of products and formats).
ENGLISH_ALLOWED = {
    *("excel", "word", "webp", "moodle", "aiken", "gift"),  # file formats
    *("ctrl", "cmd"),  # keys
    *("fps", "kbps", "aac", "mov"),  # what ffprobe reports about a video
}


@dataclass(frozen=True)
class Known:
    """A finding another branch is fixing: it is reported but does not fail the net.

    ``check`` is a regex on the finding's kind, ``where`` one on the URL pattern,
    ``detail`` one on the finding's text, and ``defect`` names the defect (and who
    fixes it). Remove the entry when the fix is merged.
    """

    check: str
    where: str
    detail: str
    defect: str

    def covers(self, finding: Finding) -> bool:
        return (
            re.fullmatch(self.check, finding.check) is not None
            and re.search(self.where, finding.pattern) is not None
            and re.search(self.detail, finding.detail) is not None
        )


# Defects other branches are fixing (issue #10). The lead removes an entry when its fix merges;
# the summary lists entries that matched nothing.
KNOWN_ISSUES: list[Known] = []

# Not defects: text that is right as it is.
ALLOWED = [
    Known(
        "raw-marker",
        r"^/admin/banks/",
        r"(mark each blank|标记每个空|\{\{1\}\}、\{\{2\}\}|\{\{1\}\}, \{\{2\}\})",
        "the fill-in help text documents the {{1}} blank syntax",
    ),
    Known(
        "untranslated",
        r"^/admin/banks/<id>/import$",
        r"^(single|multiple|fill|true|false| )+ in ",
        "the import help lists the English type keywords a file may use",
    ),
    Known(
        "untranslated",
        r"^/admin/import$",
        r" in “[^”]*[A-Za-z]{3,}",
        "the member import help (in English) quotes the Chinese values a file holds: roles, statuses, 是",
    ),
]


@dataclass
class Finding:
    check: str
    role: str
    viewport: str
    pattern: str
    url: str
    detail: str
    known: str = ""

    def line(self) -> str:
        where = f"{self.role}@{self.viewport}"
        return f"[{self.check}] {self.pattern}  ({where}, {self.url})\n      {self.detail}"


@dataclass
class Net:
    base: str
    content: list[str]
    findings: list[Finding] = field(default_factory=list)
    rendered: Counter = field(default_factory=Counter)  # (role, viewport) -> pages
    fetched: int = 0
    axe_nodes: Counter = field(default_factory=Counter)  # rule id -> nodes (serious + critical)
    patterns: dict[str, str] = field(default_factory=dict)  # pattern -> owning role
    seconds: Counter = field(default_factory=Counter)  # where the time goes: load, text, axe, fetch

    def add(self, check, role, viewport, pattern, url, detail):
        finding = Finding(check, role, viewport, pattern, url.removeprefix(self.base), detail)
        if any(allowed.covers(finding) for allowed in ALLOWED):
            return
        for known in KNOWN_ISSUES:
            if known.covers(finding):
                finding.known = known.defect
                break
        self.findings.append(finding)


def pattern_of(url: str) -> str:
    """``/courses/12?page=2`` -> ``/courses/<id>``: numbers become <id>; the query goes (same template)."""
    return re.sub(r"(?<=/)\d+(?=/|$|\.)", "<id>", urlsplit(url).path)


def account_settings() -> dict[str, object]:
    """LMS_NET_ACCOUNT="large_text=1,locale=en" -> {"large_text": True, "locale": "en"}."""
    settings: dict[str, object] = {}
    for item in filter(None, os.environ.get("LMS_NET_ACCOUNT", "").split(",")):
        key, _, value = item.partition("=")
        settings[key.strip()] = {"1": True, "true": True, "0": False, "false": False}.get(value.strip(), value.strip())
    return settings


def content_strings() -> list[str]:
    """Every text value in the demo database (names, titles, questions...): what the UI may show untranslated.

    Enumerations and other identifier-like values are left out (their labels must
    be translated), except usernames.
    """
    values: set[str] = set()

    def add(value, column_name):
        if isinstance(value, list | tuple):
            for item in value:
                add(item, column_name)
        elif isinstance(value, dict):
            for item in value.values():
                add(item, column_name)
        elif isinstance(value, str) and 1 <= len(value) <= 20_000 and (len(value) > 1 or CJK.match(value)):
            if re.fullmatch(r"[a-z0-9_.\-]+", value) and column_name != "username":
                return
            values.add(value)
            # Rich text and multi-line values are shown in pieces.
            pieces = re.split(r"<[^>]+>|\n|\{\{\d+\}\}", value)  # markup, lines, fill-in blanks
            values.update(p.strip() for p in pieces if len(p.strip()) > 1 or CJK.match(p.strip() or "-"))

    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.Enum) or not isinstance(column.type, sa.String | sa.JSON):
                continue
            for (value,) in db.session.execute(sa.select(column).distinct()):
                add(value, column.name)
    return sorted(values, key=len, reverse=True)


# The links on a page and its start forms (a quiz's, a contest's): what the crawl follows.
LINKS_JS = """() => ({
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  starts: [...document.querySelectorAll('form[method=post i]')].map(f => f.action)
    .filter(action => new URL(action).pathname.endsWith('/start')),
})"""

# Visible text segments and labels, skipping content in another language (lang=...).
PAGE_TEXT_JS = """() => {
  const lang = (document.documentElement.lang || '').slice(0, 2);
  const out = [];
  const skip = el => el.closest('script,style,noscript,template,textarea,select') ||
    (el.closest('[lang]') && el.closest('[lang]').lang.slice(0, 2) !== lang);
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.nodeValue.trim();
    const el = node.parentElement;
    if (!text || !el || skip(el)) continue;
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) continue;
    out.push(text);
  }
  for (const el of document.querySelectorAll('[aria-label],[title],[alt],[placeholder]')) {
    if (skip(el)) continue;
    for (const name of ['aria-label', 'title', 'alt', 'placeholder']) {
      const value = (el.getAttribute(name) || '').trim();
      if (value) out.push(value);
    }
  }
  out.push(document.title);
  return {
    text: out,
    lang: document.documentElement.lang,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    wide: [...document.querySelectorAll('body *')]
      .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 3).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')),
    ...(LINKS_JS)(),
  };
}""".replace("LINKS_JS", LINKS_JS)

# Only the rules that can report serious or critical (the others cost time and cannot fail the net),
# without the experimental ones (as axe's default run).
AXE_START_JS = """() => {
  const rules = axe._audit.rules.filter(r => r.enabled && ['serious', 'critical'].includes(r.impact) &&
    !r.tags.includes('experimental')).map(r => r.id);
  window.__netAxe = axe.run(document, {resultTypes: ['violations'], runOnly: {type: 'rule', values: rules}});
}"""
AXE_RESULT_JS = """async () => {
  const result = await window.__netAxe;
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({
      target: n.target.join(' '), summary: (n.failureSummary || '').split('\\n').slice(1, 2).join(''),
    })),
  }));
}"""


def untranslated(texts: list[str], locale: str, content: list[str]) -> list[str]:
    """The pieces of text that are not in the UI's language, once database content is taken out."""
    found = []
    for text in texts:
        rest = text
        for value in content:
            if value in rest:
                rest = rest.replace(value, " ")
        rest = ADDRESS.sub(" ", rest)
        if locale == "en":
            rest = BLANK.sub(" ", rest)
            hits = CJK_PUNCTUATION.findall(rest) + CJK.findall(rest)
            english = len(ENGLISH_WORD.findall(rest))
            hits = [
                hit
                for hit in hits
                if CJK.fullmatch(hit) is None
                or len(hit) > QUOTED_TERM_MAX
                or not (english >= 2 or (english and f"({hit})" in rest))
            ]
        else:
            hits = [w for w in ENGLISH_WORD.findall(rest) if w.lower() not in ENGLISH_ALLOWED]
        if hits:
            found.append(f"{' '.join(dict.fromkeys(hits))!s} in “{text[:80]}”")
    return found


class Crawler:
    """One role's crawl at one viewport (``phone`` or ``desktop``): one browser context and page."""

    def __init__(self, net: Net, browser, role: str, locale: str, viewport: str):
        self.net, self.role, self.locale, self.viewport = net, role, locale, viewport
        self.context = browser.new_context(locale="zh-CN", bypass_csp=True, base_url=net.base, **VIEWPORTS[viewport])
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.login()
        self.events: list[str] = []
        self.starts: list[str] = []  # the start forms (action URLs) on the page last checked
        self.listen(self.page)

    def close(self):
        self.context.close()

    def login(self):
        self.page.goto("/auth/login")
        self.page.fill("input[name=login]", self.role)
        self.page.fill("input[name=password]", DEMO_PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/auth/login" not in url)

    def set_language(self, locale: str):
        token = self.page.get_attribute("meta[name=csrf-token]", "content")
        response = self.context.request.post(
            "/auth/language", form={"locale": locale, "next": "/", "csrf_token": token}
        )
        assert response.ok, f"switching {self.role} to {locale}: HTTP {response.status}"
        self.locale = locale
        self.page.goto("/")

    def listen(self, page):
        events = self.events

        def on_console(message):
            if message.type == "error":
                events.append(f"console error: {message.text[:200]}")

        def on_response(response):
            if response.status >= 400:
                events.append(f"HTTP {response.status} for {response.url.removeprefix(self.net.base)}")

        def on_failed(request):
            failure = request.failure or ""
            if "ERR_ABORTED" in failure:
                return  # the browser or a script cancelled it (the page was left): not the server's failure
            events.append(f"request failed ({failure}): {request.url.removeprefix(self.net.base)}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: events.append(f"uncaught exception: {str(error)[:200]}"))
        page.on("response", on_response)
        page.on("requestfailed", on_failed)

    def open(self, page, viewport: str, url: str, pattern: str) -> bool:
        """Load ``url``; False (and a finding) when it is not a page."""
        net = self.net
        self.events.clear()
        started = time.monotonic()
        try:
            response = page.goto(url, wait_until="load")
        except PlaywrightError as error:
            if "Download is starting" not in str(error):
                raise
            net.add("download", self.role, viewport, pattern, url, "a download opened as a page: add it to DOWNLOAD")
            return False
        net.rendered[(self.role, viewport, self.locale)] += 1
        net.seconds["load"] += time.monotonic() - started
        status = response.status if response else 0
        if status >= 400 or status == 0:
            net.add("http", self.role, viewport, pattern, url, f"HTTP {status}")
            self.report_events(page, viewport, pattern, url)
            return False
        return True

    def check_text(self, page, viewport: str, url: str, pattern: str) -> list[str]:
        """The text, language and overflow checks; returns the links on the page."""
        net = self.net
        started = time.monotonic()
        info = page.evaluate(PAGE_TEXT_JS)
        for check, regex in (("escaped-markup", ESCAPED_MARKUP), ("raw-marker", RAW_MARKER)):
            hits: dict[str, list[str]] = {}
            for text in info["text"]:
                if found := list(dict.fromkeys(m.group(0) for m in regex.finditer(text))):
                    hits.setdefault(text, found)
            for text, found in list(hits.items())[:5]:
                shown = ", ".join(repr(m) for m in found[:3])
                net.add(check, self.role, viewport, pattern, url, f"shows {shown} in “{text[:100]}”")
        lang = "en" if self.locale == "en" else "zh"
        if not info["lang"].startswith(lang):
            net.add("untranslated", self.role, viewport, pattern, url, f"<html lang={info['lang']}> in {lang} UI")
        for piece in untranslated(info["text"], self.locale, net.content)[:8]:
            net.add("untranslated", self.role, viewport, pattern, url, piece)
        if viewport == "phone" and info["scrollWidth"] > info["innerWidth"]:
            net.add(
                "overflow", self.role, viewport, pattern, url,
                f"scrollWidth {info['scrollWidth']} > innerWidth {info['innerWidth']}; wide: {info['wide']}",
            )  # fmt: skip
        net.seconds["text"] += time.monotonic() - started
        self.starts = info["starts"]
        return info["links"]

    def start_axe(self, page):
        """Inject axe and start it; the page's renderer works on it while this process goes on."""
        started = time.monotonic()
        page.add_script_tag(url=AXE_URL)
        self.net.seconds["axe inject"] += time.monotonic() - started
        started = time.monotonic()
        page.evaluate(AXE_START_JS)
        self.net.seconds["axe"] += time.monotonic() - started

    def collect_axe(self, page, viewport: str, url: str, pattern: str):
        net = self.net
        started = time.monotonic()
        for violation in page.evaluate(AXE_RESULT_JS):
            net.axe_nodes[violation["id"]] += len(violation["nodes"])
            targets = "; ".join(n["target"] for n in violation["nodes"][:4])
            more = f" (+{len(violation['nodes']) - 4} more)" if len(violation["nodes"]) > 4 else ""
            summary = violation["nodes"][0]["summary"]
            net.add(
                f"axe:{violation['id']}", self.role, viewport, pattern, url,
                f"{violation['impact']}: {violation['help']} — {len(violation['nodes'])} nodes: {targets}{more}"
                + (f" — {summary}" if summary else ""),
            )  # fmt: skip
        net.seconds["axe"] += time.monotonic() - started

    def report_events(self, page, viewport: str, pattern: str, url: str):
        for event in dict.fromkeys(self.events):
            check = "request" if event.startswith(("HTTP", "request")) else "console"
            self.net.add(check, self.role, viewport, pattern, url, event)

    def visit(self, url: str, pattern: str, *, axe: bool = True) -> list[str]:
        """Check ``url`` (the text too, on the phone; axe with ``axe``); return the links on it."""
        url = self.net.base + url
        page, viewport = self.page, self.viewport
        links, self.starts = [], []
        if self.open(page, viewport, url, pattern):
            if viewport == "phone":
                links = self.check_text(page, viewport, url, pattern)
            else:
                found = page.evaluate(LINKS_JS)
                links, self.starts = found["links"], found["starts"]
            if axe:
                self.start_axe(page)
                self.collect_axe(page, viewport, url, pattern)
            self.report_events(page, viewport, pattern, url)
        return links

    def english_pass(self):
        """The role's home page and the navigation pages it owns, in the English UI (the phone part, no axe)."""
        self.set_language("en")
        urls = ["/"] + [
            path
            for path in dict.fromkeys(urlsplit(a).path for a in self.page.eval_on_selector_all(
                "nav a[href]", "els => els.map(a => a.href)") if a.startswith(self.net.base))
            if self.net.patterns.get(pattern_of(path)) == self.role and not SKIP.search(path) and path != "/"
        ]  # fmt: skip
        for url in urls:
            self.visit(url, pattern_of(url), axe=False)
        self.set_language("zh_Hans")

    def fetch(self, url: str, pattern: str):
        """A status check without rendering (downloads and the further samples of a pattern): the phone part's."""
        if self.viewport != "phone":
            return
        started = time.monotonic()
        response = self.context.request.get(url, max_redirects=5)
        self.net.fetched += 1
        self.net.seconds["fetch"] += time.monotonic() - started
        if response.status >= 400:
            self.net.add("http", self.role, "fetch", pattern, url, f"HTTP {response.status}")
        response.dispose()

    def start(self, action: str, seen: dict[str, int]):
        """Submit a start form (a quiz, a contest) on the page once per pattern; check the page it opens.

        The page reached this way (an attempt in progress) is a pattern of its own: "<pattern> (started)".
        """
        key = "POST " + pattern_of(action)
        if seen[key]:
            return
        seen[key] += 1
        self.page.once("dialog", lambda dialog: dialog.accept())
        with self.page.expect_navigation(wait_until="load"):
            click_confirmed(self.page, self.page.locator(f'form[action="{urlsplit(action).path}"] [type=submit]').first)
        landing = urlsplit(self.page.url)
        pattern = pattern_of(landing.path) + " (started)"
        if self.net.patterns.setdefault(pattern, self.role) == self.role:
            self.visit(landing.path + (f"?{landing.query}" if landing.query else ""), pattern)

    def crawl(self, seen: dict[str, int]):
        """Breadth first from the home page (each role's own), rendering the patterns this role owns."""
        queue = ["/"]
        queued = {"/"}
        while queue:
            url = queue.pop(0)
            pattern = pattern_of(url)
            if self.net.patterns.setdefault(pattern, self.role) != self.role and pattern != "/":
                continue
            links = self.visit(url, pattern)
            for action in self.starts:
                self.start(action, seen)
            for link in links:
                parts = urlsplit(link)
                if not link.startswith(self.net.base) or SKIP.search(parts.path):
                    continue
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                if target in queued:
                    continue
                queued.add(target)
                target_pattern = pattern_of(target)
                seen[target_pattern] += 1
                if DOWNLOAD.search(parts.path):
                    if seen[target_pattern] == 1:
                        self.fetch(target, target_pattern)
                elif seen[target_pattern] == 1 and (
                    self.net.patterns.setdefault(target_pattern, self.role) == self.role
                ):
                    queue.append(target)
                elif seen[target_pattern] <= LINK_SAMPLES:
                    self.fetch(target, target_pattern)


NET_CONFIG = {
    "WTF_CSRF_ENABLED": True,
    "TRANSCODE_PRESET": "ultrafast",
    "TRANSCODE_NICE": 0,
    "SEND_FILE_MAX_AGE_DEFAULT": 3600,  # each context fetches Bootstrap once, as a browser would
}


def seed_demo(app) -> list[str]:
    """Seed the demo as `flask lms demo` does (with LMS_NET_ACCOUNT's settings); return the content strings."""
    settings = account_settings()
    started = time.monotonic()
    with app.app_context():
        for module in INIT_MODULES:
            importlib.import_module(module).seed_defaults()
        for module in DEMO_MODULES:
            importlib.import_module(module).seed_demo()
            db.session.commit()
        if settings:
            from lms.auth.models import User

            for user in db.session.scalars(sa.select(User)):
                for key, value in settings.items():
                    assert hasattr(User, key), f"LMS_NET_ACCOUNT: the account has no setting {key!r}"
                    setattr(user, key, value)
            db.session.commit()
        content = content_strings()
        db.session.remove()
        db.engine.dispose()  # SQLite: the last close checkpoints the WAL into the file
    print(f"\npage net: demo seeded in {time.monotonic() - started:.0f} s")
    return content


@pytest.fixture(scope="module")
def seeded_demo(tmp_path_factory):
    """The demo seeded once for the module: (database file, media folder, content strings), or None on PostgreSQL."""
    if POSTGRES_URL:
        return None  # one shared database: each part seeds it afresh
    folder = tmp_path_factory.mktemp("net-demo")
    app = make_test_app(folder, **NET_CONFIG)
    content = seed_demo(app)
    return Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")), folder / "media", content


@pytest.fixture
def demo_server(seeded_demo, tmp_path):
    """The demo served on loopback from a fresh copy of it (the net starts quizzes); yields (base URL, content)."""
    if seeded_demo is None:
        app = make_test_app(tmp_path, **NET_CONFIG)
        content = seed_demo(app)
    else:
        database, media, content = seeded_demo
        shutil.copyfile(database, tmp_path / "demo.sqlite3")
        if media.exists():
            shutil.copytree(media, tmp_path / "media")
        app = make_test_app(
            tmp_path,
            **NET_CONFIG,
            DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
            MEDIA_ROOT=str(tmp_path / "media"),
        )
    app.add_url_rule(
        AXE_URL, "page_net_axe", lambda: send_file(AXE, mimetype="text/javascript", max_age=3600, conditional=True)
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", content
    server.shutdown()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


def summary(net: Net, seconds: float, viewport: str) -> str:
    pages = sum(net.rendered.values())
    by_viewport = Counter()
    for (_role, viewport, locale), count in net.rendered.items():
        by_viewport[f"{viewport}/{locale}"] += count
    roles = sorted({role for role, _, _ in net.rendered})
    axe_total = sum(net.axe_nodes.values())
    lines = [
        f"page net ({viewport}): {len(net.patterns)} URL patterns, {pages} page renders ({dict(by_viewport)}) "
        f"over {len(roles)} roles, {net.fetched} fetches, {seconds:.0f} s",
        f"axe serious+critical nodes: {axe_total} {dict(net.axe_nodes.most_common())}",
        "seconds in: " + ", ".join(f"{k} {v:.0f}" for k, v in net.seconds.most_common()),
    ]
    known = [f for f in net.findings if f.known]
    if known:
        lines.append(f"known issues (allowed, see KNOWN_ISSUES): {len(known)}")
    stale = [k.defect for k in KNOWN_ISSUES if not any(f.known == k.defect for f in net.findings)]
    if stale:
        lines.append(
            f"KNOWN_ISSUES entries that matched nothing in this part ({viewport}; fixed, or not crawled in this "
            "locale or at this size): " + "; ".join(stale)
        )
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_page_net(browser, demo_server, viewport):
    base, content = demo_server
    locale = os.environ.get("LMS_NET_LOCALE", "zh_Hans")
    net = Net(base=base, content=content)
    started = time.monotonic()
    seen: dict[str, int] = defaultdict(int)
    for role in ROLES:
        crawler = Crawler(net, browser, role, "zh_Hans", viewport)
        try:
            if locale == "en":
                crawler.set_language("en")
            crawler.crawl(seen)
            if locale != "en" and viewport == "phone":
                crawler.english_pass()
        finally:
            crawler.close()
    seconds = time.monotonic() - started
    report = summary(net, seconds, viewport)
    print("\n" + report)
    if os.environ.get("LMS_NET_REPORT"):
        path = Path(os.environ["LMS_NET_REPORT"])
        path.with_name(f"{path.stem}.{viewport}{path.suffix}").write_text(
            json.dumps({"summary": report, "findings": [asdict(f) for f in net.findings]}, ensure_ascii=False, indent=1)
        )
    failures = [f for f in net.findings if not f.known]
    if failures:
        by_check = Counter(f.check for f in failures)
        listing = "\n".join(f.line() for f in sorted(failures, key=lambda f: (f.check, f.pattern)))
        pytest.fail(
            f"{len(failures)} page-net findings ({dict(by_check)}):\n{listing}\n\n{report}\n"
            "Fix the page or template; if another branch owns the defect, add a KNOWN_ISSUES entry "
            "(docs/DEVELOPING.md, 'The page net').",
            pytrace=False,
        )
