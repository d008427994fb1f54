"""The key and certificate chain that sign swapstream's outputs.

Either the user's own (an organisation's certificate: --sign-cert CHAIN.pem --sign-key KEY.pem,
or the engine config's credentials section), or a per-user pair made once, at first use, under
$XDG_CONFIG_HOME/swapstream/credentials (default ~/.config/...), folder 0700, files 0600.

C2PA refuses self-signed signing certificates (c2pa-rs `check_certificate_profile`): the per-user
pair is an end-entity certificate (ECDSA P-256, key usage digitalSignature, extended key usage
emailProtection + documentSigning, authority key id) issued by a one-off local CA whose private
key is thrown away after issuing it, so nothing else can ever be issued under it. Its signatures
validate and bind the content; validators report the signer as untrusted because that CA is on
no trust list, which is what "untrusted signer" means.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from swapstream.common.errors import UserError, user_error

KEY_NAME, CHAIN_NAME = "signer-key.pem", "signer-chain.pem"
LOCAL_ORGANISATION = "swapstream local signer (self-issued, untrusted)"
_VALIDITY = dt.timedelta(days=3650)
_DOCUMENT_SIGNING = "1.3.6.1.5.5.7.3.36"  # id-kp-documentSigning (RFC 9336)


@dataclass(frozen=True)
class SigningIdentity:
    """alg: C2PA signing algorithm (es256, es384, es512, ps256, ed25519); chain_pem: end-entity
    certificate first, then its issuers; key_pem: the private key as PKCS#8 PEM; own: the user's
    certificate (False: the per-user local one); where: the files, for messages."""

    alg: str
    chain_pem: bytes
    key_pem: bytes
    own: bool
    where: str


def config_folder() -> Path:
    """$XDG_CONFIG_HOME/swapstream, else ~/.config/swapstream."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "swapstream"


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, LOCAL_ORGANISATION),
        ]
    )


def _key_usage(sign: bool):
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_local_pair() -> tuple[bytes, bytes]:
    """(key PKCS#8 PEM, chain PEM) of a fresh end-entity certificate from a one-off local CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name, name = _name("swapstream local CA"), _name("swapstream local signer")

    def builder(subject, public_key):
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        )

    ca = (
        builder(ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    usages = [ExtendedKeyUsageOID.EMAIL_PROTECTION, ObjectIdentifier(_DOCUMENT_SIGNING)]
    leaf = (
        builder(name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, leaf.public_bytes(pem) + ca.public_bytes(pem)


def local_identity(folder: Path | None = None) -> SigningIdentity:
    """The per-user identity, made at first use. Two first uses at once both end up with the same
    pair: each writes a private temp folder and renames it into place; the loser drops its own."""
    folder = Path(folder) if folder is not None else config_folder() / "credentials"
    if not (folder / KEY_NAME).is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".credentials-", dir=folder.parent))  # 0700
        try:
            key_pem, chain_pem = make_local_pair()
            for name, data in ((KEY_NAME, key_pem), (CHAIN_NAME, chain_pem)):
                fd = os.open(tmp / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    os.fsync(f.fileno())
            try:
                os.rename(tmp, folder)
            except OSError:
                if not (folder / KEY_NAME).is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return load_identity(folder / CHAIN_NAME, folder / KEY_NAME, own=False)


def _read(path: Path, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise user_error(path, f"cannot read the {flag} file ({e.strerror or e})") from None


def _algorithm(key, path: Path) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
        raise user_error(path, f"EC curve {key.curve.name} cannot sign C2PA (P-256, P-384 or P-521)")
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise user_error(path, f"RSA key of {key.key_size} bits: C2PA needs at least 2048")
        return "ps256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise user_error(path, "not an EC, RSA or Ed25519 private key")


def load_identity(cert: Path, key: Path, own: bool = True) -> SigningIdentity:
    """The certificate chain CERT (PEM, signer first) and private key KEY (PEM, unencrypted).
    A certificate that does not belong to the key is refused with one line."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    chain_pem, key_bytes = _read(cert, "--sign-cert"), _read(key, "--sign-key")
    try:
        private = serialization.load_pem_private_key(key_bytes, password=None)
    except (ValueError, TypeError) as e:
        raise user_error(key, f"not an unencrypted PEM private key ({e})") from None
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as e:
        raise user_error(cert, f"not a PEM certificate chain ({e})") from None
    alg = _algorithm(private, Path(key))
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if chain[0].public_key().public_bytes(der, spki) != private.public_key().public_bytes(der, spki):
        raise UserError(f"{cert}: this certificate does not match the key {key} (its public key is another)")
    key_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningIdentity(alg, chain_pem, key_pem, own, f"{cert} + {key}")
