"""A small, deterministic, dependency-free language identifier for IFEval's language checks.

IFEval's reference uses `langdetect` (a probabilistic n-gram model, random unless seeded). Here we decide in two
steps instead: the dominant Unicode script names the language when only one common language uses it (Hangul ->
ko, Gujarati -> gu, Thai -> th, ...); otherwise letters peculiar to one language and counts of very frequent
words ("the", "und", "che", "ya", ...) pick among the languages sharing a script (Latin, Cyrillic, Arabic,
Devanagari). It covers the 22 languages of IFEval's `language:response_language` plus English and the common
European languages, and returns None when it cannot tell (no letters, or no clue at all).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

__all__ = ["SUPPORTED_LANGUAGES", "detect_language"]

# Scripts used by one common language only (first code point, last code point, language).
_SINGLE_SCRIPT: tuple[tuple[int, int, str], ...] = (
    (0x0980, 0x09FF, "bn"),
    (0x0A00, 0x0A7F, "pa"),
    (0x0A80, 0x0AFF, "gu"),
    (0x0B00, 0x0B7F, "or"),
    (0x0B80, 0x0BFF, "ta"),
    (0x0C00, 0x0C7F, "te"),
    (0x0C80, 0x0CFF, "kn"),
    (0x0D00, 0x0D7F, "ml"),
    (0x0D80, 0x0DFF, "si"),
    (0x0E00, 0x0E7F, "th"),
    (0x0E80, 0x0EFF, "lo"),
    (0x1000, 0x109F, "my"),
    (0x10A0, 0x10FF, "ka"),
    (0x1780, 0x17FF, "km"),
    (0x0530, 0x058F, "hy"),
    (0x0590, 0x05FF, "he"),
    (0x0370, 0x03FF, "el"),
    (0x1F00, 0x1FFF, "el"),
    (0x1200, 0x139F, "am"),
    (0x1100, 0x11FF, "ko"),
    (0x3130, 0x318F, "ko"),
    (0xAC00, 0xD7AF, "ko"),
)
_SHARED_SCRIPT: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"),
    (0x1E00, 0x1EFF, "latin"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x3040, 0x30FF, "kana"),
    (0x4E00, 0x9FFF, "han"),
    (0x3400, 0x4DBF, "han"),
)


def _script(ch: str) -> str | None:
    cp = ord(ch)
    for lo, hi, name in _SINGLE_SCRIPT + _SHARED_SCRIPT:
        if lo <= cp <= hi:
            return name
    return None


def _words(spec: str) -> frozenset[str]:
    return frozenset(spec.split())


# Very frequent words; overlaps between languages are fine, the highest count wins.
_LATIN_WORDS: dict[str, frozenset[str]] = {
    "en": _words(
        "the and of to is in that it for was on are with as be this have not you they but at by from or which an "
        "will can what has their would there were been if its we your about more when who"
    ),
    "de": _words(
        "der die und das ist nicht ein eine zu den mit sich des auf für im dem von sie es auch werden wird wie bei "
        "oder aus nach wir ich sind einen einer noch kann nur über"
    ),
    "fr": _words(
        "le la les et des est un une du que qui dans pour pas sur au avec ce il elle sont nous vous par plus mais ou "
        "cette aux être ont"
    ),
    "es": _words(
        "el la los las y de que en es un una por con para del se no lo al como más pero sus su fue este está son "
        "también muy"
    ),
    "it": _words(
        "il la di che e è un una per non con del della sono le gli si da nel alla anche come più questo ma ho "
        "delle dei nella sua"
    ),
    "pt": _words(
        "o a os as de que e é um uma do da em para com não no na por se mais dos das mas ao seu sua são também "
        "muito pelo pela"
    ),
    "nl": _words("de het een en van is dat niet op te zijn met voor die er aan ook als maar bij wordt door om naar"),
    "fi": _words(
        "ja on ei se että oli hän ovat kuin mutta tai myös joka sen niin kun ole tämä mitä voi vain jos ovat "
        "siitä hänen olla"
    ),
    "sv": _words("och att det som en är av för på med den inte har till om jag de var ett vi kan sig också"),
    "da": _words("og at det som en er af for på med den ikke har til jeg de var et vi kan der også"),
    "no": _words("og at det som en er av for på med den ikke har til jeg de var et vi kan seg også"),
    "pl": _words("i w nie na się z że do to jest jak co ale od po dla są o tak jego przez"),
    "cs": _words("a se na je že v to s z do jako ale jsou by jsem pro tak od které který"),
    "tr": _words("ve bir bu da de için ile çok ne olarak daha gibi o ama var değil en olan kadar"),
    "id": _words("dan yang di ini itu dengan untuk tidak dari dalam akan pada juga ke adalah karena saya"),
    "sw": _words(
        "na ya wa kwa ni la za katika kuwa au hii hiyo lakini pia sana kama watu wake yake cha vya ili kwamba"
    ),
    "ro": _words("și în de la că cu nu pe o un este pentru sunt din care mai ce se"),
    "hu": _words("a az és hogy nem is egy meg van ez de csak már mint volt kell"),
}
_CYRILLIC_WORDS: dict[str, frozenset[str]] = {
    "ru": _words(
        "что это этот эта как он его она они был была были было мы вы все если или уже только очень можно нужно "
        "потому поэтому сегодня также который которые чтобы когда"
    ),
    "bg": _words(
        "е са ще това този тази тези който която които като към беше бяха има няма трябва защото затова ние вие "
        "те след също днес може когато да"
    ),
    "uk": _words("і що це як він його вона вони був була було ми ви або вже тільки також дуже який"),
    "sr": _words("у је су од са као што али или из их"),
}
_DEVANAGARI_WORDS: dict[str, frozenset[str]] = {
    "hi": _words("है हैं में और से नहीं लिए यह था थे थी कि जो एक भी कर हो रहा इस"),
    "mr": _words("आहे आहेत आणि मध्ये नाही होते त्या हा ही करण्यासाठी त्यांच्या होता व एक या"),
    "ne": _words("छ छन् र पनि गर्न भएको यो थियो गरेको हुन्छ लागि मा हो भने तथा"),
}


def _best(counts: Counter[str]) -> str | None:
    if not counts:
        return None
    (lang, n), *rest = counts.most_common()
    return lang if n > 0 and (not rest or rest[0][1] < n) else None


# Split on spaces, digits and punctuation only: Indic vowel signs are combining marks, which `\w` does not match.
_TOKEN = re.compile(r"[^\s\d.,!?;:।॥()\[\]{}\"'“”‘’«»\-–—/*#_،؛؟]+")


def _word_vote(text: str, table: dict[str, frozenset[str]]) -> str | None:
    votes: Counter[str] = Counter()
    for word in _TOKEN.findall(text.lower()):
        for lang, words in table.items():
            if word in words:
                votes[lang] += 1
    return _best(votes)


def _latin(text: str, letters: int) -> str | None:
    vietnamese = sum(1 for ch in text if ch in "ăâđêôơưĂÂĐÊÔƠƯ" or 0x1EA0 <= ord(ch) <= 0x1EF9)
    if vietnamese >= max(2, 0.05 * letters):
        return "vi"
    return _word_vote(text, _LATIN_WORDS)


def _cyrillic(text: str, letters: int) -> str | None:
    if sum(text.count(c) for c in "іїєґІЇЄҐ") >= 2:
        return "uk"
    if sum(text.count(c) for c in "ђјљњћџЂЈЉЊЋЏ") >= 2:
        return "sr"
    vote = _word_vote(text, _CYRILLIC_WORDS)
    russian_only = sum(text.count(c) for c in "ыэёЫЭЁ")
    if vote == "bg" or (russian_only == 0 and vote is None and (text.count("ъ") >= 2 or letters >= 40)):
        return "bg"
    return "ru" if russian_only or vote == "ru" else vote


def _arabic(text: str) -> str:
    urdu = sum(text.count(c) for c in "ٹڈڑںےۓہھ")
    persian = sum(text.count(c) for c in "پچژگکی")
    arabic = sum(text.count(c) for c in "يكةى")
    if urdu >= max(2, 0.3 * persian):
        return "ur"
    return "fa" if persian > arabic else "ar"


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the main language of `text`, or None when it cannot tell."""
    scripts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            name = _script(ch)
            if name is not None:
                scripts[name] += 1
    if not scripts:
        return None
    if scripts["han"] + scripts["kana"] > 0 and scripts["han"] + scripts["kana"] >= scripts.most_common(1)[0][1]:
        return "ja" if scripts["kana"] >= 0.05 * (scripts["han"] + scripts["kana"]) else "zh"
    script, letters = scripts.most_common(1)[0]
    if script == "latin":
        return _latin(unicodedata.normalize("NFC", text), letters)
    if script == "cyrillic":
        return _cyrillic(text, letters)
    if script == "arabic":
        return _arabic(text)
    if script == "devanagari":
        return _word_vote(text, _DEVANAGARI_WORDS) or "hi"
    if script in ("kana", "han"):
        return "ja" if script == "kana" else "zh"
    return script


SUPPORTED_LANGUAGES = frozenset(
    {lang for _, _, lang in _SINGLE_SCRIPT}
    | set(_LATIN_WORDS)
    | set(_CYRILLIC_WORDS)
    | set(_DEVANAGARI_WORDS)
    | {"vi", "ar", "fa", "ur", "zh", "ja"}
)
