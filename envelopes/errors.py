"""Errors of the envelope library, each naming the problem so a clerk can act on it."""

from __future__ import annotations


class EnvelopeError(Exception):
    """Base of every envelope error.

    ``reason`` is a stable machine-readable code (used in rejection receipts);
    ``str(error)`` is the human message.
    """

    reason: str = "invalid-envelope"


class InvalidAgencyCode(EnvelopeError, ValueError):
    """An agency code is not of the form ``VVV.ZZ.YY.Xnn``."""

    reason = "invalid-agency-code"


class InvalidKey(EnvelopeError):
    """A private key or certificate cannot be used for signing (unreadable, wrong
    passphrase, unsupported or too weak, or not matching each other)."""

    reason = "invalid-key"


class UnreadableKey(InvalidKey):
    """A private key (or PKCS#12 bundle) that does not open: damaged, or its passphrase
    is wrong; the file alone cannot tell which."""


class InvalidTrustStore(EnvelopeError):
    """The trust store (CA certificates) is missing, empty or unreadable."""

    reason = "invalid-trust-store"


class EnvelopeTooLarge(EnvelopeError):
    """The input is larger than the configured cap (it was not parsed), or repeats an
    element more often than any real message does (it was not validated)."""

    reason = "too-large"


class MalformedEnvelope(EnvelopeError):
    """The bytes are not well-formed XML, or use a forbidden construct (DTD, entities)."""

    reason = "malformed"


class SchemaViolation(EnvelopeError):
    """The XML is well-formed but breaks the edXML schema; the message names the element."""

    reason = "schema"


class SignatureError(EnvelopeError):
    """The document's signature is missing, misplaced, malformed or does not verify."""

    reason = "bad-signature"


class UntrustedCertificate(SignatureError):
    """The signing certificate does not chain to a trusted CA, is expired, or is not
    allowed for the claimed sender."""

    reason = "untrusted-certificate"


class WeakAlgorithm(SignatureError):
    """The signature uses an algorithm the axis refuses (SHA-1, MD5, HMAC)."""

    reason = "weak-algorithm"


class InvalidDocumentId(EnvelopeError, ValueError):
    """A DocumentId a clerk cannot see or type as it is (an invisible character, an
    accent not composed with its letter, a blank or space-padded number or notation), or
    not of the form ``<sender code>,<yyyy/MM/dd>,<number>/<notation>``."""

    reason = "bad-document-id"


class HiddenCharacter(EnvelopeError, ValueError):
    """A one-line field a clerk reads (the subject, an attachment's name) holds a
    character it may not: in text typed to the axis, a tab, a line break, a control or
    an invisible format character; in a document another system made, a character that
    reorders text (a bidi control such as U+202E), which makes it read otherwise than
    signed."""

    reason = "hidden-character"
