"""Staff and travelers working a real server at once: the load behind the desk's concurrency test
and `bench/desk.py`. Plain HTTP over loopback (urllib), one cookie jar per person, redirects not
followed so every request is counted on its own."""

from __future__ import annotations

import http.cookiejar
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyotp

CSRF = re.compile(r'name="(?P<name>(?:[a-z]+-)?csrf_token)"[^>]*value="(?P<value>[^"]+)"')
FORM_TOKEN = re.compile(r'name="token" value="([^"]+)"')
TIP = {
    "indicator": ["holds_documents", "fearful"],
    "now": "no",
    "lang": "en",
    "when_text": "ten minutes ago",
    "where_text": "Women's restroom, concourse A",
    "people": "2",
    "details": "A man holds her ticket and phone and answers for her.",
}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@dataclass
class Tally:
    """Every answer by (what was asked, status), and what failed outright."""

    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, what: str, status: int) -> None:
        with self.lock:
            self.answers[(what, status)] += 1

    def fail(self, what: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{what}: {type(exc).__name__}: {exc}")

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for (_, status), n in self.answers.items() if status >= 500)

    def count(self, what: str, *statuses: int) -> int:
        """How many answers to `what` had one of `statuses` (any, when none given)."""
        return sum(
            n for (w, s), n in self.answers.items() if w == what and (not statuses or s in statuses)
        )

    def table(self) -> str:
        """The tally as lines of text."""
        return "\n".join(f"  {w:<14} {s}  {n}" for (w, s), n in sorted(self.answers.items()))


class Browser:
    """One person's browser: a cookie jar, no redirects followed."""

    def __init__(self, base: str, tally: Tally) -> None:
        self.base = base.rstrip("/")
        self.tally = tally
        jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(jar), _NoRedirect()
        )

    def request(
        self, what: str, path: str, data: dict[str, object] | None = None
    ) -> tuple[int, str]:
        """GET (or POST `data`) and count the answer."""
        body = urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                status, text = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        self.tally.add(what, status)
        return status, text


def _tokens(html: str) -> dict[str, str]:
    return {m["name"]: m["value"] for m in CSRF.finditer(html)}


def sign_in(browser: Browser, email: str, password: str, secret: str) -> bool:
    """Both sign-in steps; True when signed in."""
    _, page = browser.request("signin", "/staff/signin")
    data = {"csrf_token": _tokens(page)["csrf_token"], "email": email, "password": password}
    status, _ = browser.request("signin", "/staff/signin", data)
    if status != 302:
        return False
    _, page = browser.request("signin", "/staff/signin/code")
    code = pyotp.TOTP(secret).now()
    data = {"csrf_token": _tokens(page)["csrf_token"], "code": code}
    status, _ = browser.request("signin", "/staff/signin/code", data)
    return status == 302


def staff_worker(
    base: str,
    email: str,
    password: str,
    secret: str,
    tip_ids: list[int],
    until: float,
    tally: Tally,
    seed: int,
) -> None:
    """Sign in, then view tips, add notes, acknowledge and look at the queue until `until`."""
    rng = random.Random(seed)
    browser = Browser(base, tally)
    try:
        if not sign_in(browser, email, password, secret):
            tally.fail("signin", RuntimeError(f"{email} could not sign in"))
            return
        while time.monotonic() < until:
            tip = rng.choice(tip_ids)
            status, page = browser.request("tip.view", f"/staff/tips/{tip}")
            if status != 200:
                continue
            # One token per session; each form carries it under its own prefix. An acknowledged
            # tip shows no acknowledge form: the POST is still sent (and refused with a 409).
            token = _tokens(page)["note-csrf_token"]
            note = {"note-csrf_token": token, "note-text": "load note"}
            browser.request("tip.note", f"/staff/tips/{tip}/note", note)
            ack = {"acknowledge-csrf_token": token}
            browser.request("tip.ack", f"/staff/tips/{tip}/acknowledge", ack)
            browser.request("queue", "/staff/")
    except Exception as exc:  # a broken connection is a finding, not a crash of the run
        tally.fail(email, exc)


def traveler_worker(base: str, code: str, until: float, tally: Tally) -> None:
    """Open the poster's form and send a tip, again and again, until `until`."""
    browser = Browser(base, tally)
    try:
        while time.monotonic() < until:
            status, page = browser.request("form", f"/T/{code}")
            match = FORM_TOKEN.search(page)
            if status != 200 or match is None:
                continue
            browser.request("tip.send", f"/T/{code}", {**TIP, "token": match.group(1)})
    except Exception as exc:
        tally.fail("traveler", exc)


def run(
    base: str,
    *,
    staff: list[tuple[str, str]],
    password: str,
    tip_ids: list[int],
    poster: str,
    seconds: float,
    travelers: int = 4,
) -> Tally:
    """Every staff member (email, TOTP secret) and `travelers` travelers at once for `seconds`."""
    tally = Tally()
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=staff_worker,
            args=(base, email, password, secret, tip_ids, until, tally, n),
        )
        for n, (email, secret) in enumerate(staff)
    ] + [
        threading.Thread(target=traveler_worker, args=(base, poster, until, tally))
        for _ in range(travelers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    return tally


def password_step(browser: Browser, email: str, password: str) -> int:
    """Sign-in step one (email and password); the answer's status."""
    _, page = browser.request("signin", "/staff/signin")
    data = {"csrf_token": _tokens(page)["csrf_token"], "email": email, "password": password}
    return browser.request("signin", "/staff/signin", data)[0]


def race_one_code(base: str, email: str, password: str, code: str, racers: int) -> list[int]:
    """`racers` browsers pass the password step, then send `code` at the same moment; the
    statuses of the code step (302: signed in)."""
    tally = Tally()
    browsers = [Browser(base, tally) for _ in range(racers)]
    forms = []
    for browser in browsers:
        status = password_step(browser, email, password)
        if status != 302:
            raise RuntimeError(f"{email}: the password step answered {status}")
        _, page = browser.request("code", "/staff/signin/code")
        forms.append({"csrf_token": _tokens(page)["csrf_token"], "code": code})
    start, answers = threading.Barrier(racers), [0] * racers

    def race(n: int) -> None:
        start.wait()
        answers[n] = browsers[n].request("code", "/staff/signin/code", forms[n])[0]

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def spray(base: str, *, attempts: int, parallel: int) -> list[int]:
    """Wrong passwords for `attempts` different emails from one address, `parallel` at a time."""
    statuses: list[int] = []
    lock = threading.Lock()
    tally = Tally()

    def attacker(n: int) -> None:
        browser = Browser(base, tally)
        for i in range(n, attempts, parallel):
            status = password_step(browser, f"guess{i}@example.gov", "not the password 123")
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return statuses


def next_totp_step(after: int | None, step_seconds: int = 30) -> int:
    """A TOTP step a server (one step of drift) accepts for 30 s or more, newer than `after`;
    waits while the next one is too far in the future."""
    while True:
        current = int(time.time()) // step_seconds
        # The current step or later: a code must outlive eight slow password steps.
        step = current if after is None else max(after + 1, current)
        if step <= current + 1:
            return step
        time.sleep(1)
