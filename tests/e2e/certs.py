"""Certificates for the TLS tests, made by `openssl` in a temporary directory at the start
of a test run and deleted with it: an own CA, leaves it signed (good, expired, for a wrong
name), a self-signed certificate, and a leaf from a CA nobody trusts. No private key is
ever committed; these keys live for one test run.

    make(directory) -> Certs with .ca, .good, .good_key, .expired, .expired_key, .wrong_name,
                       .wrong_name_key, .self_signed, .self_signed_key, .unknown_issuer,
                       .unknown_issuer_key (paths)
"""
import os
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=30)


def _key(name, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", name, cwd=cwd)


def _ca(name, cwd):
    _key(name + ".key", cwd)
    _openssl("req", "-x509", "-new", "-key", name + ".key", "-subj", f"/CN=sockchat test {name}",
             "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", name + ".pem", cwd=cwd)


_CA_CONFIG = """[ ca ]
default_ca = test
[ test ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[ any ]
commonName = supplied
"""


def _leaf(name, ca, names, cwd, start=None, end=None):
    """A leaf for `names` (subjectAltName) signed by `ca`, valid for 30 days or from
    `start` to `end` (YYYYMMDDHHMMSSZ), through `openssl ca`, which takes such dates."""
    _key(name + ".key", cwd)
    _openssl("req", "-new", "-key", name + ".key", "-subj", f"/CN={name}",
             "-addext", "subjectAltName=" + names, "-out", name + ".csr", cwd=cwd)
    dates = ["-startdate", start, "-enddate", end] if start else ["-days", "30"]
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key",
             "-in", name + ".csr", "-out", name + ".pem", "-notext", *dates, cwd=cwd)


class Certs:
    pass


def make(directory):
    with open(os.path.join(directory, "ca.cnf"), "w") as f:
        f.write(_CA_CONFIG)
    open(os.path.join(directory, "index.txt"), "w").close()
    with open(os.path.join(directory, "serial"), "w") as f:
        f.write("1000\n")
    _ca("ca", directory)
    _ca("stranger", directory)  # a CA nobody trusts
    here = "DNS:localhost,IP:127.0.0.1,IP:::1"
    _leaf("good", "ca", here, directory)
    _leaf("expired", "ca", here, directory, "20200101000000Z", "20200201000000Z")
    _leaf("wrong_name", "ca", "DNS:example.org", directory)
    _leaf("unknown_issuer", "stranger", here, directory)
    _key("self_signed.key", directory)
    _openssl("req", "-x509", "-new", "-key", "self_signed.key", "-subj", "/CN=localhost",
             "-days", "30", "-addext", "subjectAltName=" + here, "-out", "self_signed.pem",
             cwd=directory)
    certs = Certs()
    certs.ca = os.path.join(directory, "ca.pem")
    for name in ("good", "expired", "wrong_name", "unknown_issuer", "self_signed"):
        setattr(certs, name, os.path.join(directory, name + ".pem"))
        setattr(certs, name + "_key", os.path.join(directory, name + ".key"))
    return certs
