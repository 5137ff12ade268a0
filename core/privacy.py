"""Masking personal data in text kept for review: mobile and landline numbers, ID-card numbers,
e-mail addresses. What is masked cannot be recovered."""
from __future__ import annotations

import re

_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)0\d{2,3}[\s-]?\d{7,8}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_LONG_NUMBER = re.compile(r"(?<!\d)\d{7,}(?!\d)")


def mask(text: str) -> str:
    """The text with personal numbers replaced by what they were ([手机号], [身份证号]...)."""
    text = _ID_CARD.sub("[身份证号]", text)
    text = _MOBILE.sub("[手机号]", text)
    text = _LANDLINE.sub("[电话]", text)
    text = _EMAIL.sub("[邮箱]", text)
    return _LONG_NUMBER.sub("[号码]", text)
