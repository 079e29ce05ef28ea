"""The axis's XMLDSig profile, checked and verified with lxml's C14N and ``cryptography``.

The profile (see :mod:`envelopes.signing`) allows one shape of signature only: one
``Reference URI=""``, transforms enveloped-signature then exclusive C14N 1.0, SHA-256
digest, RSA-SHA256 or ECDSA-SHA256 over ``SignedInfo`` in exclusive C14N. A general
XMLDSig library handles every shape and pays for it: signxml re-parses the message about
six times per verification. For this one shape, verification is:

1. canonicalize ``SignedInfo`` and check ``SignatureValue`` over it with the key;
2. re-read ``SignedInfo`` from those verified bytes (so the digest compared is the signed
   one);
3. remove the signature element (enveloped transform), canonicalize the whole message,
   compare its SHA-256 with the signed ``DigestValue``;
4. parse the canonical bytes: the only tree the caller reads;
5. refuse a prefix a value names (``xsi:type="x:Article"``), or the default namespace an
   unprefixed ``xsi:type`` names, whose declaration the canonical form does not carry as
   received: exclusive C14N keeps only the declarations names use (and those of the
   transform's ``InclusiveNamespaces PrefixList``), so anyone could declare that prefix
   otherwise without breaking the signature.

The test suite checks this against signxml and xmlsec1 on the same inputs, attacks
included.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import itertools
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from lxml import etree

from envelopes.errors import SignatureError, WeakAlgorithm
from envelopes.parsing import MAX_CANONICAL_GROWTH, canonicalize, reparse
from envelopes.xml import (
    NCNAME,
    NCNAME_CHAR,
    NCNAME_START_CHAR,
    XML_SPACE,
    XSI_NS,
    named_prefixes,
)

DS_NS = "http://www.w3.org/2000/09/xmldsig#"
DS11_NS = "http://www.w3.org/2009/xmldsig11#"
EC_NS = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SIGNATURE_METHODS = (RSA_SHA256, ECDSA_SHA256)

_DS = f"{{{DS_NS}}}"
#: The most certificates ``KeyInfo`` may carry: the signer's and a chain up to its root.
MAX_CERTIFICATES = 10
_WEAK_MARKERS = ("sha1", "hmac", "md5")
#: The PrefixList token for the default namespace (exclusive C14N, section 3).
_DEFAULT_PREFIX = "#default"

#: Any certificate's key: one that does not fit the signature method is refused with a
#: message (an agency's certificate with an Ed25519 key, say).
PublicKey = CertificatePublicKeyTypes


def check_profile(signature: etree._Element) -> None:
    """Refuse, naming the problem, any signature outside the profile (before any crypto)."""
    signed_info = _one(signature, "SignedInfo")
    c14n = _one(signed_info, "CanonicalizationMethod").get("Algorithm", "")
    method = _one(signed_info, "SignatureMethod").get("Algorithm", "")
    _refuse_weak(method, "signature method")
    if method not in SIGNATURE_METHODS:
        raise SignatureError(
            f"signature method {method} is not accepted: use RSA-SHA256 or ECDSA-SHA256"
        )
    if c14n != EXC_C14N:
        raise SignatureError(
            f"canonicalization {c14n} is not accepted: use exclusive C14N ({EXC_C14N})"
        )
    references = signed_info.findall(f"{_DS}Reference")
    if len(references) != 1:
        raise SignatureError(
            f'the signature has {len(references)} references; exactly one (URI="") is allowed'
        )
    reference = references[0]
    if reference.get("URI") != "":
        raise SignatureError(
            f"the signature references {reference.get('URI')!r}; it must sign the whole "
            'message (URI="")'
        )
    digest_method = _one(reference, "DigestMethod").get("Algorithm", "")
    _refuse_weak(digest_method, "digest method")
    if digest_method != SHA256:
        raise SignatureError(f"digest method {digest_method} is not accepted: use SHA-256")
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{_DS}Transforms/{_DS}Transform")]
    if transforms != [ENVELOPED, EXC_C14N]:
        raise SignatureError(
            "the signature's transforms must be enveloped-signature then exclusive C14N, "
            f"not {transforms}"
        )
    _refuse_unsigned_elements(signature)
    _refuse_foreign_attributes(signature)
    for inclusive in signed_info.iter(f"{{{EC_NS}}}InclusiveNamespaces"):
        if _DEFAULT_PREFIX in _prefix_list(inclusive):
            # lxml's exclusive C14N ignores the token: the forms computed here would differ
            # from the signer's, and a valid signature be called tampered with.
            raise SignatureError(
                f"the signature keeps the default namespace (InclusiveNamespaces PrefixList "
                f'"{_DEFAULT_PREFIX}"), which the axis cannot canonicalize: sign without '
                f'"{_DEFAULT_PREFIX}" in PrefixList'
            )


#: The elements of a signature, in their order; only the first is covered by it.
_SIGNATURE_CHILDREN = ("SignedInfo", "SignatureValue", "KeyInfo")
_DS11 = f"{{{DS11_NS}}}"
_EC = f"{{{EC_NS}}}"
#: What each element of ``KeyInfo`` may hold, by XMLDSig 1.0 and 1.1 (an element absent
#: here holds text only): the key and certificates a verifier reads, nothing else. Any
#: other element, even of XMLDSig's namespace (``ds:Subject``), is covered by no
#: signature, and a reader looking fields up by their local name may find it first.
_KEY_INFO_CHILDREN: dict[str, frozenset[str]] = {
    _DS + "KeyInfo": frozenset(_DS + name for name in ("X509Data", "KeyName", "KeyValue")),
    _DS + "X509Data": frozenset(
        {
            _DS + "X509Certificate",
            _DS + "X509IssuerSerial",
            _DS + "X509SubjectName",
            _DS + "X509SKI",
            _DS + "X509CRL",
            _DS11 + "X509Digest",
        }
    ),
    _DS + "X509IssuerSerial": frozenset((_DS + "X509IssuerName", _DS + "X509SerialNumber")),
    _DS + "KeyValue": frozenset((_DS + "RSAKeyValue", _DS11 + "ECKeyValue")),
    _DS + "RSAKeyValue": frozenset((_DS + "Modulus", _DS + "Exponent")),
    # XMLDSig 1.1's explicit ECParameters are left out: the profile's curves are named.
    _DS11 + "ECKeyValue": frozenset((_DS11 + "NamedCurve", _DS11 + "PublicKey")),
}
#: The attributes XMLDSig 1.0 and 1.1 (and exclusive C14N) define, by element; any other
#: element of the signature carries none.
_ATTRIBUTES: dict[str, frozenset[str]] = {
    _DS + "Signature": frozenset({"Id"}),
    _DS + "SignedInfo": frozenset({"Id"}),
    _DS + "CanonicalizationMethod": frozenset({"Algorithm"}),
    _DS + "SignatureMethod": frozenset({"Algorithm"}),
    _DS + "Reference": frozenset({"Id", "URI", "Type"}),
    _DS + "Transform": frozenset({"Algorithm"}),
    _DS + "DigestMethod": frozenset({"Algorithm"}),
    _DS + "SignatureValue": frozenset({"Id"}),
    _DS + "KeyInfo": frozenset({"Id"}),
    _EC + "InclusiveNamespaces": frozenset({"PrefixList"}),
    _DS11 + "ECKeyValue": frozenset({"Id"}),
    _DS11 + "NamedCurve": frozenset({"URI"}),
    _DS11 + "X509Digest": frozenset({"Algorithm"}),
}


def _refuse_unsigned_elements(signature: etree._Element) -> None:
    """Refuse elements in the signature that nothing signs and no verifier reads: a
    forged header or envelope kept there travels with the signed one, and a reader that
    looks for it by name may find it."""
    if signature.find(f"{_DS}Object") is not None:
        raise SignatureError("ds:Object is not allowed in the signature")
    children = [child for child in signature if isinstance(child.tag, str)]
    tags = [child.tag for child in children]
    expected = [_DS + name for name in _SIGNATURE_CHILDREN]
    if tags not in (expected, expected[:2]):
        raise SignatureError(
            f"the signature holds {', '.join(map(_name, children))}: it may hold only "
            "ds:SignedInfo, ds:SignatureValue and ds:KeyInfo, in that order (anything else "
            "in it is covered by no signature)"
        )
    inside_value = next(children[1].iterchildren(etree.Element), None)
    if inside_value is not None:
        raise SignatureError(
            f"ds:SignatureValue holds the element {_name(inside_value)}: it holds base64 text only"
        )
    for parent in children[2:]:
        for element in parent.iter(etree.Element):
            allowed = _KEY_INFO_CHILDREN.get(element.tag, frozenset())
            for inner in element.iterchildren(etree.Element):
                if inner.tag not in allowed:
                    raise SignatureError(
                        f"ds:KeyInfo holds the element {_name(inner)} in {_name(element)}, "
                        "which is covered by no signature: "
                        f"{_name(element)} {_may_hold(allowed)}"
                    )


def _may_hold(allowed: frozenset[str]) -> str:
    if not allowed:
        return "holds text only"
    names = sorted(map(_tag_name, allowed))
    return f"may hold only {', '.join(names)}"


def _refuse_foreign_attributes(signature: etree._Element) -> None:
    """Refuse an attribute XMLDSig does not define on the element carrying it (``Id``
    only on ``ds:Signature``, ``Algorithm`` on the methods, no ``Subject`` anywhere): a
    reader looking for one by name (``edXML:Subject``) may find it there, where the
    signature covers nothing (or only its own ``SignedInfo``)."""
    for name in signature.attrib:
        if name != "Id":
            raise SignatureError(
                f"ds:Signature carries the attribute {_attribute(name)}: it may carry Id "
                "only (anything else on it is covered by no signature)"
            )
    for element in signature.iterdescendants(etree.Element):
        allowed = _ATTRIBUTES.get(element.tag, frozenset())
        for name in element.attrib:
            if name not in allowed:
                defined = f"only {', '.join(sorted(allowed))}" if allowed else "no attribute"
                raise SignatureError(
                    f"{_name(element)} in the signature carries the attribute "
                    f"{_attribute(name)}, which XMLDSig does not define there (it gives "
                    f"{_name(element)} {defined}): anything else is covered by no signature"
                )


def _attribute(name: str) -> str:
    """An attribute's name as a clerk reads it, with its namespace if it has one."""
    qname = etree.QName(name)
    if qname.namespace is None:
        return qname.localname
    return f"{qname.localname} (namespace {qname.namespace})"


#: The prefixes an element of these namespaces is named with in messages.
_PREFIXES = {DS_NS: "ds", DS11_NS: "dsig11", EC_NS: "ec"}


def _name(element: etree._Element) -> str:
    """An element's name as a clerk reads it, its namespace given when not XMLDSig's."""
    return _tag_name(element.tag)


def _tag_name(tag: str) -> str:
    name = etree.QName(tag)
    prefix = _PREFIXES.get(name.namespace or "")
    if prefix is not None:
        return f"{prefix}:{name.localname}"
    return f"{name.localname} (namespace {name.namespace or '(none)'})"


def refuse_unsigned_content(root: etree._Element) -> None:
    """Refuse what a signature over ``root`` would not cover, or what would make the axis
    read less than was signed: comments (exclusive C14N drops them), anything outside the
    root element, and processing instructions inside it (signed, but a value split by one
    reads as its first part only, where any other reader sees the whole)."""
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        raise SignatureError(
            "content outside the root element (comment or processing instruction) is not "
            f"covered by the signature and not allowed: {str(sibling)[:60]!r}"
        )
    for node in root.iter(etree.Comment, etree.ProcessingInstruction):
        where = f"(line {node.sourceline}: {str(node)[:60]!r})"
        if isinstance(node, etree._Comment):
            raise SignatureError(
                "comments are not covered by the signature and not allowed in a signed "
                f"envelope {where}"
            )
        raise SignatureError(
            f"processing instructions are not allowed in a signed envelope {where}"
        )


def verify_enveloped(
    root: etree._Element, signature: etree._Element, key: PublicKey, *, size: int
) -> etree._Element:
    """Verify ``signature`` (profile-checked, a descendant of ``root``) with ``key``.

    ``size`` is the envelope's, in bytes: its canonical forms may not grow past
    :data:`~envelopes.parsing.MAX_CANONICAL_GROWTH` times it, or the envelope is refused
    before they fill memory (the digest is only compared once the whole is written, so
    any copy of a valid signature gets that far).

    Removes the signature from ``root`` (the enveloped transform) and returns the signed
    content parsed from its canonical bytes.
    """
    limit = MAX_CANONICAL_GROWTH * size
    signed_info = signature.find(f"{_DS}SignedInfo")
    signed_info_c14n = _canonical(
        signed_info, signed_info.find(f"{_DS}CanonicalizationMethod"), limit
    )
    method = signed_info.find(f"{_DS}SignatureMethod").get("Algorithm")
    value = _base64(signature.find(f"{_DS}SignatureValue"), "SignatureValue")
    _check_value(key, method, value, signed_info_c14n)

    verified_info = reparse(signed_info_c14n)
    reference = verified_info.find(f"{_DS}Reference")
    expected = _base64(reference.find(f"{_DS}DigestValue"), "DigestValue")
    c14n_transform = reference.findall(f"{_DS}Transforms/{_DS}Transform")[1]

    _remove_keeping_tail(signature)
    content = _canonical(root, c14n_transform, limit)
    if not hmac.compare_digest(hashlib.sha256(content).digest(), expected):
        raise SignatureError(
            "the message was changed after it was signed (the digest of its content does "
            "not match the signature)"
        )
    signed = reparse(content)
    refuse_unsigned_prefixes(root, content, signed)
    return signed


def refuse_unsigned_prefixes(
    received: etree._Element,
    canonical: bytes,
    signed: etree._Element | None = None,
    *,
    every_prefix_kept: bool = False,
) -> None:
    """Refuse a value of ``received`` naming a prefix (``xsi:type="x:Article"``), or
    the default namespace (an unprefixed ``xsi:type="Article"``), whose declaration
    ``canonical`` (its exclusive C14N, what a signature covers) does not carry as
    ``received`` has it: anyone could declare it otherwise on the way without breaking
    the signature. The signer refuses such a message before signing it, with the error
    the verifier would give on receiving it.

    ``signed`` is ``canonical`` parsed, when the caller has it; otherwise it is parsed
    here, and only when a value may name a prefix. ``every_prefix_kept``: ``canonical``
    was made keeping declared (``InclusiveNamespaces PrefixList``) every prefix a value
    names, as the signer makes it: only the default namespace of an unprefixed
    ``xsi:type`` may then be left out, so only a message declaring the ``xsi``
    namespace is read further (the search for values that may be prefixed names takes
    a large message's signing a third longer).
    """
    if every_prefix_kept:
        may_leave_one_out = _XSI_DECLARED in canonical
    else:
        may_leave_one_out = _may_name_a_prefix(canonical, received)
    if may_leave_one_out:
        _refuse_unsigned_prefixes(received, signed if signed is not None else reparse(canonical))


#: Where a value that may be a prefixed name (:func:`envelopes.xml.named_prefixes`) shows:
#: a colon then a character a name may start with (:data:`envelopes.xml.NCNAME_START_CHAR`;
#: in the canonical form's bytes, any from 0x80 on), in an attribute value of the canonical
#: form or in the text.
_ATTRIBUTE_MAY_NAME_A_PREFIX = re.compile(rb'="[^"]*:[A-Za-z_\x80-\xff]')
_TEXT_MAY_NAME_A_PREFIX = re.compile(f":[{NCNAME_START_CHAR}]")
#: An attribute value of the canonical form holding a colon: ``<`` shows in none (it is
#: escaped there, as in text), so a ``="`` in text cannot run on into a tag and hide the
#: value after it.
_ATTRIBUTE_VALUE_WITH_COLON = re.compile(rb'="([^"<:]*:[^"<]*)"')
_TEXTS_WITH_COLON = etree.XPath("//text()[contains(., ':')]", smart_strings=False)
#: What may be a prefix before a colon and a name: a name starting a run of XML name
#: characters (a value's prefix starts the value, or follows a space or an escape), taken
#: whole, so that a long run (an attachment's base64) is read once, not from each of its
#: characters on.
_CANDIDATE_PREFIX = re.compile(f"(?<![{NCNAME_CHAR}])({NCNAME}):[{NCNAME_START_CHAR}]")
#: An unprefixed ``xsi:type`` names the default namespace: its namespace's declaration
#: shows in the canonical form of any document using it.
_XSI_DECLARED = f'="{XSI_NS}"'.encode()
_TEXT = etree.XPath("string()")


def _may_name_a_prefix(canonical: bytes, received: etree._Element) -> bool:
    """Whether a value of ``received`` (of which ``canonical`` is the canonical form) may
    name a prefix declared in it, or the default namespace, in a few microseconds:
    reading every value of it and of its canonical form costs a third of a verification,
    which ordinary documents are spared, and so are those whose values only look like
    prefixed names (a ContentId ``cid:a1b2...``, a third of those the axis's client
    makes), whose prefix nothing declares. Texts are read from ``received``: its
    canonical form holds the same."""
    if _XSI_DECLARED in canonical:
        return True
    in_attributes = _ATTRIBUTE_MAY_NAME_A_PREFIX.search(canonical) is not None
    in_text = _TEXT_MAY_NAME_A_PREFIX.search(_TEXT(received)) is not None
    if not (in_attributes or in_text):
        return False
    declared = {
        prefix
        for _, (prefix, _namespace) in etree.iterwalk(received, events=("start-ns",))
        if prefix
    }
    if not declared:
        return False
    # Escaped in the canonical form are only &, <, ", tab, CR and LF, none of which a
    # prefix or the letter after its colon holds: a value naming one shows it as it is.
    # One fixed pattern, its matches looked up among the declared: a pattern of one
    # alternative per declared prefix took 15 s to compile for a million of them. Each
    # text is read apart: run together, ``abc`` then ``x:Article`` would read ``abcx:``.
    values = itertools.chain(
        (
            (match[1].decode() for match in _ATTRIBUTE_VALUE_WITH_COLON.finditer(canonical))
            if in_attributes
            else ()
        ),
        _TEXTS_WITH_COLON(received) if in_text else (),
    )
    # U+1680 is white space and a name character both: a value's prefix after it is read
    # with it as XML reads the value, without it once the value is stripped.
    return any(
        prefix in declared
        for value in values
        for candidate in _CANDIDATE_PREFIX.finditer(value)
        for prefix in (candidate[1], candidate[1].lstrip())
    )


def _refuse_unsigned_prefixes(received: etree._Element, signed: etree._Element) -> None:
    """Refuse a value's prefix (or, for an unprefixed ``xsi:type``, the default
    namespace) declared in ``received`` but not, or otherwise, in ``signed`` (its
    canonical form: the same elements, text and attributes)."""
    for (element, prefix, namespace), (_, _, kept) in zip(
        named_prefixes(received), named_prefixes(signed), strict=True
    ):
        # An undeclared prefix names nothing; no default namespace (``xmlns=""``) does:
        # a type of no namespace, which declaring one on the way would change.
        if (prefix and namespace is None) or kept == namespace:
            continue
        where = etree.QName(element).localname
        if not prefix:
            raise SignatureError(
                f"the xsi:type in {where} names the default namespace "
                f"({namespace or 'none declared'}), whose declaration the signature does not "
                "cover: anyone could change it on the way. The sender must write that type "
                "with a prefix, listed in the exclusive C14N transform's InclusiveNamespaces "
                "PrefixList"
            )
        raise SignatureError(
            f"the value {prefix}:... in {where} names the prefix {prefix!r} (namespace "
            f"{namespace}), whose declaration the signature does not cover: anyone could "
            f'change it on the way. The sender must sign with "{prefix}" listed in the '
            "exclusive C14N transform's InclusiveNamespaces PrefixList"
        )


def certificates(signature: etree._Element) -> list[x509.Certificate]:
    """The certificates of ``KeyInfo/X509Data``, in document order (the signer's first)."""
    texts = list(signature.iterfind(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate"))
    if len(texts) > MAX_CERTIFICATES:
        # Each one is parsed and offered to the chain builder: a few thousand cost the
        # router seconds, for a chain no CA hierarchy is that deep.
        raise SignatureError(
            f"the signature carries {len(texts):,} certificates in KeyInfo; at most "
            f"{MAX_CERTIFICATES} (the signer's and its chain) are read"
        )
    found = []
    for element in texts:
        try:
            found.append(_certificate(_base64(element, "X509Certificate")))
        except ValueError:
            raise SignatureError("an X509Certificate in the signature is not readable") from None
    if not found:
        raise SignatureError("the signature carries no X509Certificate in KeyInfo")
    return found


@functools.lru_cache(maxsize=4096)
def _certificate(der: bytes) -> x509.Certificate:
    """A certificate from its DER bytes; an agency signs with the same one all day, and
    a certificate object is immutable, so each is loaded once."""
    return x509.load_der_x509_certificate(der)


def _canonical(element: etree._Element, method: etree._Element, limit: int) -> bytes:
    """Exclusive C14N 1.0 without comments, honouring an InclusiveNamespaces PrefixList."""
    inclusive = method.find(f"{{{EC_NS}}}InclusiveNamespaces")
    prefixes = _prefix_list(inclusive) if inclusive is not None else []
    return canonicalize(element, limit=limit, inclusive_prefixes=prefixes)


#: What separates the prefixes of a ``PrefixList``: ``str.split`` would also split at
#: U+1680, with which a prefix may start, and read ``\u1680x`` as ``x``.
_PREFIX_LIST_SEPARATOR = re.compile(f"{XML_SPACE}+")


def _prefix_list(inclusive: etree._Element) -> list[str]:
    """The prefixes an ``InclusiveNamespaces`` element's ``PrefixList`` names."""
    return [
        prefix
        for prefix in _PREFIX_LIST_SEPARATOR.split(inclusive.get("PrefixList") or "")
        if prefix
    ]


def _check_value(key: PublicKey, method: str, value: bytes, data: bytes) -> None:
    try:
        if method == RSA_SHA256 and isinstance(key, rsa.RSAPublicKey):
            key.verify(value, data, padding.PKCS1v15(), hashes.SHA256())
        elif method == ECDSA_SHA256 and isinstance(key, ec.EllipticCurvePublicKey):
            # XMLDSig carries r || s, each as long as the curve order; cryptography wants DER.
            size = (key.curve.key_size + 7) // 8
            if len(value) != 2 * size:
                raise InvalidSignature
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            key.verify(utils.encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        else:
            raise SignatureError(
                f"the signature method {method} does not fit the certificate's "
                f"{type(key).__name__.removeprefix('_')} key"
            )
    except InvalidSignature:
        raise SignatureError(
            "the signature value does not verify with the certificate's key"
        ) from None


def _remove_keeping_tail(element: etree._Element) -> None:
    """Remove ``element`` but not the text after it (which the signature covers)."""
    parent = element.getparent()
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _base64(element: etree._Element | None, name: str) -> bytes:
    if element is None:
        raise SignatureError(f"the signature has no ds:{name}")
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"ds:{name} is not valid base64") from None


def _refuse_weak(uri: str, what: str) -> None:
    if any(marker in uri.lower() for marker in _WEAK_MARKERS):
        raise WeakAlgorithm(f"{what} {uri} is refused as too weak: use SHA-256 (RSA or ECDSA)")


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = parent.findall(f"{_DS}{name}")
    if len(found) != 1:
        raise SignatureError(f"the signature must hold exactly one ds:{name}, found {len(found)}")
    return found[0]
