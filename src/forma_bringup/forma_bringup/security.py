"""DDS-Security (SROS2) for a deployment: a keystore with one enclave per process, whose signed
permissions let only the commanders publish the joint commands and only the named processes publish
the e-stop; every other topic stays open to every enclave of the deployment.

The keystore has SROS2's layout, so `ros2 security` tools and rcl read it as their own:

    KEYSTORE/public/ca.cert.pem (identity_ca.cert.pem, permissions_ca.cert.pem: the same CA)
    KEYSTORE/private/ca.key.pem
    KEYSTORE/enclaves/governance.xml, governance.p7s
    KEYSTORE/enclaves/<deployment>/<process>/cert.pem, key.pem, identity_ca.cert.pem,
        permissions_ca.cert.pem, governance.p7s, permissions.xml, permissions.p7s

rcl enforces it when a process runs with ROS_SECURITY_KEYSTORE, ROS_SECURITY_ENABLE=true,
ROS_SECURITY_STRATEGY=Enforce and its enclave (ROS_SECURITY_ENCLAVE_OVERRIDE): `forma launch
--secure KEYSTORE` sets them (security_env). The Fast DDS of the pip wheels is built without the
security plugins: there rmw refuses to create a node under Enforce ("This Fast DDS version doesn't
have the security libraries"), so a secure launch fails closed, never runs open. Fast DDS from a
ROS 2 install (apt) has them.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import pathlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from forma_bringup.deployment import Deployment
from forma_bringup.errors import BringupError

VALID_DAYS = 3650
DOMAINS = (0, 232)  # every ROS domain id
# the governance every enclave shares: only authenticated participants join; discovery, liveliness
# and every topic's data encrypted; reading and writing checked against each enclave's permissions
GOVERNANCE_RULES = {
    "allow_unauthenticated_participants": "false",
    "enable_join_access_control": "true",
    "discovery_protection_kind": "ENCRYPT",
    "liveliness_protection_kind": "ENCRYPT",
    "rtps_protection_kind": "SIGN",
}
TOPIC_RULES = {
    "enable_discovery_protection": "true",
    "enable_liveliness_protection": "true",
    "enable_read_access_control": "true",
    "enable_write_access_control": "true",
    "metadata_protection_kind": "ENCRYPT",
    "data_protection_kind": "ENCRYPT",
}


@dataclasses.dataclass(frozen=True)
class Enclave:
    name: str  # e.g. /sim/control
    process: str
    directory: pathlib.Path
    may_publish: tuple[str, ...]  # the protected topics this enclave may publish


def load_protected_topics(path: pathlib.Path) -> dict[str, tuple[str, ...]]:
    """config/security/protected_topics.yaml: ROS topic -> the processes that may publish it."""
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BringupError(f"{path}: cannot read the protected topics: {exc}") from exc
    if not isinstance(raw, Mapping) or not raw:
        raise BringupError(f"{path}: must map topic names to lists of process names")
    topics = {}
    for topic, processes in raw.items():
        if not isinstance(topic, str) or not topic or topic.startswith("/"):
            raise BringupError(f"{path}: topic {topic!r}: a relative ROS name like hardware/joint_commands")
        if not isinstance(processes, list) or not all(isinstance(p, str) and p for p in processes):
            raise BringupError(f"{path}: {topic}: a list of process names")
        topics[topic] = tuple(processes)
    return topics


def dds_topic(ros_topic: str, namespace: str = "") -> str:
    """The DDS topic a ROS topic travels on (rt/ + its absolute name without the leading slash)."""
    full = f"{namespace.rstrip('/')}/{ros_topic}" if namespace else ros_topic
    return "rt/" + full.lstrip("/")


def enclave_name(deployment: Deployment, process: str) -> str:
    return f"/{deployment.name}/{process}"


def security_env(keystore: pathlib.Path) -> dict[str, str]:
    """What every process of a secure launch runs with (each adds its ROS_SECURITY_ENCLAVE_OVERRIDE)."""
    return {
        "ROS_SECURITY_KEYSTORE": str(keystore.resolve()),
        "ROS_SECURITY_ENABLE": "true",
        "ROS_SECURITY_STRATEGY": "Enforce",
    }


def create_keystore(
    keystore: pathlib.Path, deployment: Deployment, protected: Mapping[str, tuple[str, ...]]
) -> list[Enclave]:
    """A keystore for every process of the deployment (all hosts); an existing CA is reused, so
    enclaves added later trust the same authority. Returns the enclaves written."""
    processes = {p.name for host in deployment.hosts for p in deployment.processes(host)}
    ca_key, ca_cert = _certificate_authority(keystore)
    enclaves_dir = keystore / "enclaves"
    enclaves_dir.mkdir(parents=True, exist_ok=True)
    governance = _governance_xml()
    (enclaves_dir / "governance.xml").write_bytes(governance)
    governance_p7s = _smime_sign(governance, ca_cert, ca_key)
    (enclaves_dir / "governance.p7s").write_bytes(governance_p7s)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    written = []
    for process in sorted(processes):
        name = enclave_name(deployment, process)
        directory = enclaves_dir / name.lstrip("/")
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(name, key, ca_cert, ca_key)
        _write_private(directory / "key.pem", key)
        (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for link in ("identity_ca.cert.pem", "permissions_ca.cert.pem"):
            (directory / link).write_bytes(ca_pem)
        (directory / "governance.p7s").write_bytes(governance_p7s)
        may_publish = tuple(sorted(t for t, allowed in protected.items() if process in allowed))
        permissions = _permissions_xml(name, protected, may_publish, deployment.namespace)
        (directory / "permissions.xml").write_bytes(permissions)
        (directory / "permissions.p7s").write_bytes(_smime_sign(permissions, ca_cert, ca_key))
        written.append(Enclave(name, process, directory, may_publish))
    return written


def absent_processes(deployment: Deployment, protected: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Processes the protected topics name that the deployment does not run (a typo, or a
    deployment without them: their grants then go to nobody)."""
    processes = {p.name for host in deployment.hosts for p in deployment.processes(host)}
    return sorted({p for allowed in protected.values() for p in allowed} - processes)


def may_publish(permissions_xml: bytes, dds_topic_name: str) -> bool:
    """Whether a permissions document lets its subject publish a DDS topic: the first rule whose
    publish list matches the topic decides (DDS-Security 9.4.1.3), else the grant's default."""
    grant = ET.fromstring(permissions_xml).find("permissions/grant")
    for rule in grant:
        if rule.tag not in ("allow_rule", "deny_rule"):
            continue
        for publish in rule.findall("publish"):
            if any(fnmatch.fnmatchcase(dds_topic_name, t.text or "") for t in publish.findall("topics/topic")):
                return rule.tag == "allow_rule"
    return grant.findtext("default") == "ALLOW"


# --- certificates and documents ----------------------------------------------------------------
def _certificate_authority(keystore: pathlib.Path):
    private, public = keystore / "private" / "ca.key.pem", keystore / "public" / "ca.cert.pem"
    if private.is_file() and public.is_file():
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        return key, x509.load_pem_x509_certificate(public.read_bytes())
    private.parent.mkdir(parents=True, exist_ok=True)
    public.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forma keystore CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write_private(private, key)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    for name in ("ca.cert.pem", "identity_ca.cert.pem", "permissions_ca.cert.pem"):
        (public.parent / name).write_bytes(pem)
    return key, cert


def _issue(name: str, key, ca_cert, ca_key) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )


def _write_private(path: pathlib.Path, key) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _smime_sign(document: bytes, cert, key) -> bytes:
    """The document S/MIME-signed by the CA, the signature detached (what DDS-Security reads)."""
    options = [pkcs7.PKCS7Options.Text, pkcs7.PKCS7Options.DetachedSignature]
    builder = pkcs7.PKCS7SignatureBuilder().set_data(document).add_signer(cert, key, hashes.SHA256())
    return builder.sign(serialization.Encoding.SMIME, options)


def _domains(parent: ET.Element) -> None:
    ids = ET.SubElement(parent, "domains")
    span = ET.SubElement(ids, "id_range")
    ET.SubElement(span, "min").text = str(DOMAINS[0])
    ET.SubElement(span, "max").text = str(DOMAINS[1])


def _governance_xml() -> bytes:
    root = ET.Element("dds")
    rules = ET.SubElement(ET.SubElement(root, "domain_access_rules"), "domain_rule")
    _domains(rules)
    for tag, value in GOVERNANCE_RULES.items():
        ET.SubElement(rules, tag).text = value
    topic = ET.SubElement(ET.SubElement(rules, "topic_access_rules"), "topic_rule")
    ET.SubElement(topic, "topic_expression").text = "*"
    for tag, value in TOPIC_RULES.items():
        ET.SubElement(topic, tag).text = value
    return _document(root)


def _permissions_xml(
    name: str, protected: Mapping[str, tuple[str, ...]], allowed: tuple[str, ...], namespace: str
) -> bytes:
    """Deny publishing the protected topics this enclave is not granted, then allow everything
    else; the default denies (DDS-Security evaluates rules in order)."""
    root = ET.Element("dds")
    grant = ET.SubElement(ET.SubElement(root, "permissions"), "grant", name=name)
    ET.SubElement(grant, "subject_name").text = f"CN={name}"
    validity = ET.SubElement(grant, "validity")
    now = datetime.datetime.now(datetime.UTC)
    ET.SubElement(validity, "not_before").text = (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    ET.SubElement(validity, "not_after").text = (now + datetime.timedelta(days=VALID_DAYS)).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    denied = [dds_topic(t, namespace) for t in protected if t not in allowed]
    if denied:
        rule = ET.SubElement(grant, "deny_rule")
        _domains(rule)
        topics = ET.SubElement(ET.SubElement(rule, "publish"), "topics")
        for topic in denied:
            ET.SubElement(topics, "topic").text = topic
    rule = ET.SubElement(grant, "allow_rule")
    _domains(rule)
    for kind in ("publish", "subscribe"):
        ET.SubElement(ET.SubElement(ET.SubElement(rule, kind), "topics"), "topic").text = "*"
    ET.SubElement(grant, "default").text = "DENY"
    return _document(root)


def _document(root: ET.Element) -> bytes:
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"
