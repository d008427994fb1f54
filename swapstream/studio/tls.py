"""HTTPS for the studio: a browser on another machine gives a page its camera only in a secure
context, so remote use is served over TLS.

With --tls-cert/--tls-key the user's own certificate is used. Without them a self-signed one is
made once and kept under the user's config folder ($XDG_CONFIG_HOME/swapstream/studio-tls, else
~/.config/...; folder 0700, key 0600, written aside and renamed) for localhost, this machine's
name and addresses and the --host given. Its SHA-256 fingerprint is printed so that the user can
check, in the browser's certificate warning, that it is this studio's.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from pathlib import Path

from swapstream.common.errors import UserError

CERT_NAME, KEY_NAME = "studio-cert.pem", "studio-key.pem"
VALID_DAYS = 825


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "swapstream" / "studio-tls"


def fingerprint(cert_path: Path) -> str:
    """SHA-256 of the certificate (DER), as the colon-separated hex browsers show."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def _names(host: str) -> list:
    from cryptography import x509

    names = {"localhost", socket.gethostname()}
    addresses = {"127.0.0.1", "::1"}
    for candidate in (host, *_own_addresses()):
        try:
            addresses.add(str(ipaddress.ip_address(candidate)))
        except ValueError:
            names.add(candidate)
    names.discard("")
    return [x509.DNSName(n) for n in sorted(names)] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses) if a not in ("0.0.0.0", "::")
    ]


def _own_addresses() -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)})
    except OSError:
        return []


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def self_signed(host: str, folder: Path | None = None) -> tuple[Path, Path]:
    """(cert, key) under `folder` (default config_dir()), made on the first call only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = Path(folder) if folder is not None else config_dir()
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swapstream studio")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private(key_path, pem_key)
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def tls_files(args, remote: bool) -> tuple[Path, Path] | None:
    """(cert, key) to serve with, or None for plain HTTP (this machine only, without --tls)."""
    given = (args.tls_cert, args.tls_key)
    if any(given) and not all(given):
        raise UserError("--tls-cert and --tls-key go together")
    if all(given):
        for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
            if not Path(path).is_file():
                raise UserError(f"{flag} {path}: no such file")
        return Path(args.tls_cert), Path(args.tls_key)
    if args.tls or remote:
        return self_signed(args.host)
    return None
