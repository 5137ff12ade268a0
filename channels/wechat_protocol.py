"""WeChat Official Account server protocol, without I/O: signatures, safe-mode AES, the XML
WeChat pushes and the passive replies it takes. Written from WeChat's documentation
(developers.weixin.qq.com, "消息加解密" and "被动回复用户消息"; notes in shared/wechat.md)
and checked against wechatpy's implementation in tests/test_wechat.py.

Safe mode: AESKey = base64(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = the key's
first 16 bytes; plaintext = 16 random bytes + length (4 bytes, network order) + message +
app id, PKCS#7-padded to a multiple of 32 bytes; msg_signature = sha1 of the sorted token,
timestamp, nonce and ciphertext.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import struct
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

TEXT_LIMIT = 2048  # bytes of UTF-8 in one text message (passive or customer service)
BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


class ProtocolError(ValueError):
    """A request that is not what WeChat sends: a bad signature, bad ciphertext, bad XML."""


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_ok(expected: str | None, *parts: str) -> bool:
    """Constant-time comparison of a request's signature with ours."""
    if not expected:
        return False
    return secrets.compare_digest(signature(*parts).encode(), expected.encode("utf-8",
                                                                               "replace"))


class Crypto:
    """Safe mode for one account: decrypts pushes, encrypts replies. `keys`: the current
    EncodingAESKey first, then the previous one (WeChat advises accepting both while the key
    is being changed)."""

    def __init__(self, token: str, app_id: str, keys: list[str]) -> None:
        self.token, self.app_id = token, app_id
        self._keys = [_aes_key(k) for k in keys if k]
        if not self._keys:
            raise ValueError("no EncodingAESKey")

    def decrypt(self, ciphertext: str, msg_signature: str | None, timestamp: str,
                nonce: str) -> tuple[bytes, int]:
        """The message, and which key opened it (0 the current one, 1 the previous)."""
        if not signature_ok(msg_signature, self.token, timestamp, nonce, ciphertext):
            raise ProtocolError("bad msg_signature")
        try:
            raw = base64.b64decode(ciphertext, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("ciphertext is not base64") from exc
        if not raw or len(raw) % 16:
            raise ProtocolError("ciphertext has a bad length")
        for index, key in enumerate(self._keys):
            message = _open(key, raw, self.app_id)
            if message is not None:
                return message, index
        raise ProtocolError("cannot decrypt (wrong key or app id)")

    def encrypt(self, message: bytes, timestamp: str, nonce: str, key: int = 0) -> bytes:
        """The encrypted, signed reply document for a passive reply (`key`: the index of the
        key the push came under)."""
        key_bytes = self._keys[min(key, len(self._keys) - 1)]
        plain = os.urandom(16) + struct.pack(">I", len(message)) + message + self.app_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        enc = Cipher(algorithms.AES(key_bytes), modes.CBC(key_bytes[:16])).encryptor()
        ciphertext = base64.b64encode(enc.update(plain) + enc.finalize()).decode()
        sig = signature(self.token, timestamp, nonce, ciphertext)
        return (f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt>"
                f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp>"
                f"<Nonce><![CDATA[{cdata(nonce)}]]></Nonce></xml>").encode()


def _aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("WECHAT_AES_KEY is not an EncodingAESKey (43 characters)") from exc
    if len(key) != 32:
        raise ValueError("WECHAT_AES_KEY is not an EncodingAESKey (43 characters)")
    return key


def _open(key: bytes, raw: bytes, app_id: str) -> bytes | None:
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(raw) + dec.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        return None
    content = plain[16:-pad]
    if len(content) < 4:
        return None
    (length,) = struct.unpack(">I", content[:4])
    message, receive_id = content[4 : 4 + length], content[4 + length :]
    if len(message) != length or receive_id.decode("utf-8", "replace") != app_id:
        return None
    return message


def parse_xml(body: bytes) -> dict[str, str]:
    """The fields of a flat WeChat XML document (no DTD, no entities: defusedxml)."""
    try:
        root: Element = fromstring(body, forbid_dtd=True, forbid_entities=True,
                                   forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise ProtocolError(f"bad XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise ProtocolError("not a WeChat XML document")
    return {child.tag: (child.text or "").strip() for child in root}


def cdata(text: str) -> str:
    """Text inside <![CDATA[...]]>: `]]>` split across two sections; characters XML 1.0
    cannot carry are dropped."""
    clean = "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)
    clean = "".join(c for c in clean if not 0xD800 <= ord(c) <= 0xDFFF and c not in "\ufffe\uffff")
    return clean.replace("]]>", "]]]]><![CDATA[>")


@dataclass(frozen=True)
class Passive:
    """A passive reply: one text message, or one image already uploaded (media id)."""

    to_user: str
    from_user: str
    text: str | None = None
    media_id: str | None = None

    def xml(self, now: int) -> bytes:
        head = (f"<xml><ToUserName><![CDATA[{cdata(self.to_user)}]]></ToUserName>"
                f"<FromUserName><![CDATA[{cdata(self.from_user)}]]></FromUserName>"
                f"<CreateTime>{now}</CreateTime>")
        if self.media_id is not None:
            body = (f"<MsgType><![CDATA[image]]></MsgType>"
                    f"<Image><MediaId><![CDATA[{cdata(self.media_id)}]]></MediaId></Image>")
        else:
            body = (f"<MsgType><![CDATA[text]]></MsgType>"
                    f"<Content><![CDATA[{cdata(self.text or '')}]]></Content>")
        return (head + body + "</xml>").encode()


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Parts of at most `limit` bytes of UTF-8, cut on character boundaries, at a line break
    when there is one in the second half of the part."""
    parts: list[str] = []
    rest = text
    while len(rest.encode("utf-8")) > limit:
        cut, size = 0, 0
        for i, ch in enumerate(rest):
            size += len(ch.encode("utf-8"))
            if size > limit:
                cut = i
                break
        newline = rest.rfind("\n", 0, cut)
        if newline > cut // 2:
            cut = newline + 1
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:]
    if rest.strip() or not parts:
        parts.append(rest)
    return parts
