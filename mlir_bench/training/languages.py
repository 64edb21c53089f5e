"""Language codes of the training corpora, mapped to the ISO 639-1 codes the evaluation tasks use.

Tatoeba and NTREX-128 name languages with ISO 639-3 codes (NTREX sometimes with a script or region suffix,
``zho-CN``); MKQA uses ISO 639-1 except ``zh_cn``. Macro-language members map to their macro-language's 639-1
code (``cmn`` → zh, ``arb`` → ar, ``pes`` → fa, ``swh`` → sw, ``zsm`` → ms, ``lvs`` → lv). Varieties with no
639-1 code of their own (``yue``, ``wuu``, ``arz``, ``arq``, ...) keep their 639-3 code: mapping Cantonese to
"zh" or Egyptian Arabic to "ar" would mislabel them.
"""

from __future__ import annotations

ISO3_TO_ISO1: dict[str, str] = {
    "afr": "af", "amh": "am", "ara": "ar", "arb": "ar", "aze": "az", "aze-Latn": "az", "bel": "be",
    "ben": "bn", "bos": "bs", "bre": "br", "bul": "bg", "cat": "ca", "ces": "cs", "cmn": "zh", "cym": "cy",
    "dan": "da", "deu": "de", "ell": "el", "eng": "en", "epo": "eo", "est": "et", "eus": "eu", "fao": "fo",
    "fas": "fa", "fin": "fi", "fra": "fr", "fry": "fy", "gla": "gd", "gle": "ga", "glg": "gl", "heb": "he",
    "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "ido": "io", "ina": "ia", "ind": "id", "isl": "is",
    "ita": "it", "jav": "jv", "jpn": "ja", "kat": "ka", "kaz": "kk", "khm": "km", "kor": "ko", "kur": "ku",
    "lat": "la", "lit": "lt", "lvs": "lv", "mal": "ml", "mar": "mr", "mkd": "mk", "mon": "mn", "nld": "nl",
    "nno": "nn", "nob": "nb", "oci": "oc", "pes": "fa", "pol": "pl", "por": "pt", "ron": "ro", "rus": "ru",
    "slk": "sk", "slv": "sl", "spa": "es", "sqi": "sq", "srp": "sr", "swa": "sw", "swe": "sv", "swh": "sw",
    "tam": "ta", "tat": "tt", "tel": "te", "tgl": "tl", "tha": "th", "tuk": "tk", "tur": "tr", "uig": "ug",
    "ukr": "uk", "urd": "ur", "uzb": "uz", "vie": "vi", "xho": "xh", "yid": "yi", "yor": "yo", "zho-CN": "zh",
    "zsm": "ms",
}

MKQA_TO_ISO1: dict[str, str] = {"zh_cn": "zh"}


def to_iso1(code: str) -> str:
    """ISO 639-1 for a Tatoeba/NTREX/MKQA language code; codes with no 639-1 equivalent are returned unchanged."""
    return ISO3_TO_ISO1.get(code, MKQA_TO_ISO1.get(code, code))
