"""Personal data in a text, replaced by placeholders (the bigcode convention: <EMAIL>, <PHONE>,
<IP_ADDRESS>, <CARD>, <KEY>), so pairs can be published.

Patterns are conservative where false positives would damage text: a phone number needs a
separator layout people write (+CC, (555) 123-4567, 555-123-4567, 0755-22648081) or be a
mainland China mobile number (11 digits from 13), an IP address must be
public (`ipaddress.is_global`: 127.0.0.1 and 192.168.x.x in tutorials stay), a card number must
pass the Luhn check, a secret must have a known issuer prefix or be a private key block.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

from ..result import Tally

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{3}[.-])\d{3}[.-]\d{4}\b"
                   r"|(?<![\w+])\+\d{1,3}(?:[ .-]\d{2,4}){2,4}\b"
                   r"|(?<![\w+-])0\d{2,4}[ -]\d{6,8}\b"  # trunk prefix and number: 0755-22648081
                   r"|(?<![\w.-])1[3-9]\d{9}(?![\w.-])")  # mainland China mobile numbers
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
KEY = re.compile(
    r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z]+ )?PRIVATE KEY-----"
    r"|\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"                      # AWS access key id
    r"|\bgh[pousr]_[A-Za-z0-9]{36,}\b"                      # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}\b"                   # Slack tokens
    r"|\bAIza[0-9A-Za-z_-]{35}\b"                           # Google API keys
    r"|\bsk-(?:proj-)?[A-Za-z0-9_-]{32,}\b"                 # OpenAI-style secret keys
    r"|\bhf_[A-Za-z0-9]{30,}\b"                             # Hugging Face tokens
    r"|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")  # JSON web tokens

PLACEHOLDERS = {"key": "<KEY>", "email": "<EMAIL>", "card": "<CARD>", "ip_address": "<IP_ADDRESS>",
                "phone": "<PHONE>"}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _public_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_global
    except ValueError:
        return False


# every KEY match holds one of these literals. Prose rarely holds "_", and the "-" literals are
# three: grouped so, most texts are settled in 5 to 8 substring tests instead of 13 (2x on
# PubMed abstracts).
_KEY_LITERALS_UNDERSCORE = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "hf_")
_KEY_LITERALS_DASH = ("-----BEGIN", "xox", "sk-")  # KEY needs "xox[abposr]-"
_KEY_LITERALS_OTHER = ("AKIA", "ASIA", "AIza", "eyJ")
_KEY_LITERALS = _KEY_LITERALS_UNDERSCORE + _KEY_LITERALS_DASH + _KEY_LITERALS_OTHER


def _may_hold_key(text: str) -> bool:
    """False only for a text no KEY match can be in: it holds none of `_KEY_LITERALS` (or "xox"
    but no "-")."""
    return (("_" in text and any(literal in text for literal in _KEY_LITERALS_UNDERSCORE))
            or ("-" in text and any(literal in text for literal in _KEY_LITERALS_DASH))
            or any(literal in text for literal in _KEY_LITERALS_OTHER))


# what every match of CARD (13 digits, single separators), IPV4 (d.d{1,3}.d) and PHONE (one of
# its four shapes' cores) holds
_CARD_CORE = re.compile(r"\d(?:[ -]?\d){12}")
_CARD_SPAN = re.compile(r"\d[\d -]{12}")  # holds every _CARD_CORE, found without backtracking
_IPV4_CORE = re.compile(r"\d\.\d{1,3}\.\d")
# the PHONE cores but one, as branches after one leading digit: re then skips to digits in C
# (4-5x faster than the four plain branches on real pairs); the +CC core is tested apart
_PHONE_DIGITS_CORE = re.compile(r"\d(?:\d\d[.-]\d{4}|[ -]\d{6}|\d{10})")
_PHONE_PLUS_CORE = re.compile(r"\+\d")
# every card, IPV4 and PHONE digits core above, as one search a text makes once: most texts
# hold digits (figures, years, decimals) but none of these shapes, and one scan instead of three
# settles them (2x on PubMed abstracts). Replacing a match never makes a new shape (placeholders
# hold no digit, dot, dash or space), so the answer for the original text holds for every rule.
_DIGIT_SHAPES = re.compile(r"\d(?:\d\d[.-]\d{4}|[ -]\d{6}|\d{10}|\.\d{1,3}\.\d|[\d -]{12})")


def _may_hold_card(text: str, shaped: bool) -> bool:
    return shaped and _CARD_SPAN.search(text) is not None and _CARD_CORE.search(text) is not None


def _may_hold_ip(text: str, shaped: bool) -> bool:
    return shaped and text.count(".") >= 3 and _IPV4_CORE.search(text) is not None


def _may_hold_phone(text: str, shaped: bool) -> bool:
    return (("+" in text and _PHONE_PLUS_CORE.search(text) is not None)
            or (shaped and _PHONE_DIGITS_CORE.search(text) is not None))


# order matters: keys before e-mails (a key may hold @), cards before phones (digit runs).
# The last field is a cheap test every match needs (a literal, a digit shape), given the text
# and whether it holds `_DIGIT_SHAPES`: scanning with the full patterns was most of the cost of
# a mined pair, and most texts fail the test.
_RULES = (
    ("key", KEY, None, lambda text, shaped: _may_hold_key(text)),
    ("email", EMAIL, None, lambda text, shaped: "@" in text),
    ("card", CARD, lambda m: _luhn(re.sub(r"\D", "", m)), _may_hold_card),
    ("ip_address", IPV4, _public_ip, _may_hold_ip),
    ("phone", PHONE, None, _may_hold_phone),
)


def may_hold_personal_data(text: str) -> bool:
    """False only for a text no pattern can match in: every cheap test above failed. Each test
    holds for any text that contains a matching one, so a pair's texts joined are tested at once
    (one pass over both instead of ten calls: 9 of 22 us an arXiv pair)."""
    shaped = _DIGIT_SHAPES.search(text) is not None
    return any(may_match(text, shaped) for _, _, _, may_match in _RULES)


def redact_personal_data(text: str) -> tuple[str, Counter]:
    """(text with personal data replaced, how many of each kind were found)."""
    found: Counter = Tally()
    shaped = _DIGIT_SHAPES.search(text) is not None
    for kind, pattern, check, may_match in _RULES:
        if not may_match(text, shaped):  # on the text as the rules before left it
            continue
        def replace(match, kind=kind, check=check):
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return PLACEHOLDERS[kind]
        text = pattern.sub(replace, text)
    return text, found
