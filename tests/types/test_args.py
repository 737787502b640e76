"""Tests for rscni_py.types.args: CNI_ARGS parsing with Go LoadArgs semantics."""

import dataclasses
import doctest
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rscni_py._base.quoting import q
from rscni_py.types import args as args_module
from rscni_py.types.args import (
    CNIArgs,
    CNIArgsError,
    K8sArgs,
    arg_field,
    cni_args_keys,
    format_cni_args,
    parse_cni_args,
)


@dataclass(kw_only=True)
class AllTypes(CNIArgs):
    """One field of every supported type, with the keys a plugin might use."""

    name: str | None = arg_field("NAME")
    label: str = arg_field("LABEL", default="none")
    flag: bool | None = arg_field("FLAG")
    verbose: bool = arg_field("VERBOSE", default=False)
    count: int | None = arg_field("COUNT")
    ip: IPv4Address | IPv6Address | None = arg_field("IP")
    ip4: IPv4Address | None = arg_field("IP4")
    ip6: IPv6Address | None = arg_field("IP6")
    cidr: IPv4Interface | IPv6Interface | None = arg_field("CIDR")
    cidr4: IPv4Interface | None = arg_field("CIDR4")
    cidr6: IPv6Interface | None = arg_field("CIDR6")
    plain: str | None = None  # no arg_field: the key is the field name


@dataclass(kw_only=True)
class Required(CNIArgs):
    """Fields without a default are required; typing.Optional spelling works too."""

    IP: IPv4Interface
    gateway: IPv4Address | None = arg_field("GATEWAY")


@dataclass(kw_only=True)
class Tolerant(CNIArgs):
    ignore_unknown_default: ClassVar[bool] = True

    name: str | None = arg_field("NAME")


@dataclass(kw_only=True)
class TolerantChild(Tolerant):
    extra: int = arg_field("EXTRA", default=0)


@dataclass(kw_only=True)
class StrictAgain(K8sArgs):
    ignore_unknown_default: ClassVar[bool] = False


@dataclass(kw_only=True)
class ExplicitField(CNIArgs):
    # An explicit re-declaration of the field wins over the class variable.
    ignore_unknown_default: ClassVar[bool] = False
    ignore_unknown: bool = arg_field("IgnoreUnknown", default=True)


@dataclass(kw_only=True)
class Checked(CNIArgs):
    low: int = arg_field("LOW", default=0)
    high: int = arg_field("HIGH", default=10)

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError(f"LOW ({self.low}) must not exceed HIGH ({self.high})")


@dataclass(kw_only=True)
class StringAnnotated(K8sArgs):
    """Annotations as strings, as under `from __future__ import annotations`."""

    ip: "IPv4Address | IPv6Address | None" = arg_field("IP")
    mtu: "int" = arg_field("MTU", default=1500)


KUBELET = "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u-1"

# --- valid input ---------------------------------------------------------------

VALID: list[tuple[str, type[CNIArgs], str, CNIArgs]] = [
    ("empty-base", CNIArgs, "", CNIArgs(ignore_unknown=False)),
    ("empty-alltypes", AllTypes, "", AllTypes()),
    ("empty-k8s", K8sArgs, "", K8sArgs(ignore_unknown=True)),
    (
        "kubelet",
        K8sArgs,
        KUBELET,
        K8sArgs(ignore_unknown=True, pod_name="pod", pod_namespace="ns", pod_uid="u-1", pod_infra_container_id="abc"),
    ),
    (
        "kubelet-into-strict-base",
        CNIArgs,
        KUBELET,
        CNIArgs(ignore_unknown=True),
    ),
    (
        "k8s-unknown-without-ignoreunknown",
        K8sArgs,
        "K8S_POD_NAME=pod;CONTAINER_NAME=c1",
        K8sArgs(pod_name="pod"),
    ),
    ("ignoreunknown-last", CNIArgs, "X=1;Y=2;IgnoreUnknown=true", CNIArgs(ignore_unknown=True)),
    ("ignoreunknown-middle", CNIArgs, "X=1;IgnoreUnknown=TRUE;Y=2", CNIArgs(ignore_unknown=True)),
    ("ignoreunknown-false-no-unknown", CNIArgs, "IgnoreUnknown=False", CNIArgs(ignore_unknown=False)),
    ("bool-1", AllTypes, "FLAG=1", AllTypes(flag=True)),
    ("bool-true-mixed-case", AllTypes, "FLAG=tRuE", AllTypes(flag=True)),
    ("bool-0", AllTypes, "FLAG=0", AllTypes(flag=False)),
    ("bool-false-upper", AllTypes, "FLAG=FALSE", AllTypes(flag=False)),
    ("bool-non-optional", AllTypes, "VERBOSE=true", AllTypes(verbose=True)),
    ("str-empty-value", AllTypes, "NAME=", AllTypes(name="")),
    ("str-spaces-and-unicode", AllTypes, "NAME= a b ü ", AllTypes(name=" a b ü ")),
    ("str-default-overridden", AllTypes, "LABEL=x", AllTypes(label="x")),
    ("key-is-field-name", AllTypes, "plain=p", AllTypes(plain="p")),
    ("int", AllTypes, "COUNT=42", AllTypes(count=42)),
    ("int-negative", AllTypes, "COUNT=-7", AllTypes(count=-7)),
    ("int-plus-leading-zero", AllTypes, "COUNT=+007", AllTypes(count=7)),
    ("ip-v4", AllTypes, "IP=10.0.0.5", AllTypes(ip=IPv4Address("10.0.0.5"))),
    ("ip-v6", AllTypes, "IP=2001:db8::1", AllTypes(ip=IPv6Address("2001:db8::1"))),
    ("ip-empty-is-none", AllTypes, "IP=", AllTypes(ip=None)),
    ("ip4", AllTypes, "IP4=192.168.1.1", AllTypes(ip4=IPv4Address("192.168.1.1"))),
    ("ip6", AllTypes, "IP6=fe80::1", AllTypes(ip6=IPv6Address("fe80::1"))),
    ("cidr-v4-host-bits-kept", AllTypes, "CIDR=10.0.0.5/24", AllTypes(cidr=IPv4Interface("10.0.0.5/24"))),
    ("cidr-v6", AllTypes, "CIDR=2001:db8::5/64", AllTypes(cidr=IPv6Interface("2001:db8::5/64"))),
    ("cidr-prefix-leading-zero", AllTypes, "CIDR=10.0.0.5/024", AllTypes(cidr=IPv4Interface("10.0.0.5/24"))),
    ("cidr4", AllTypes, "CIDR4=10.1.2.3/8", AllTypes(cidr4=IPv4Interface("10.1.2.3/8"))),
    ("cidr6", AllTypes, "CIDR6=::1/128", AllTypes(cidr6=IPv6Interface("::1/128"))),
    ("cidr-empty-is-none", AllTypes, "CIDR4=", AllTypes(cidr4=None)),
    ("repeated-key-last-wins", AllTypes, "NAME=a;COUNT=1;NAME=b", AllTypes(name="b", count=1)),
    ("repeated-ip-empty-last", AllTypes, "IP=10.0.0.1;IP=", AllTypes(ip=None)),
    ("repeated-ignoreunknown-last-wins", CNIArgs, "IgnoreUnknown=0;X=1;IgnoreUnknown=1", CNIArgs(ignore_unknown=True)),
    (
        "required-present",
        Required,
        "IP=10.0.0.5/24;GATEWAY=10.0.0.1",
        Required(IP=IPv4Interface("10.0.0.5/24"), gateway=IPv4Address("10.0.0.1")),
    ),
    ("tolerant-by-classvar", Tolerant, "X=1;NAME=n", Tolerant(ignore_unknown=True, name="n")),
    ("tolerant-inherited", TolerantChild, "X=1;EXTRA=3", TolerantChild(ignore_unknown=True, extra=3)),
    ("explicit-field-default", ExplicitField, "X=1", ExplicitField(ignore_unknown=True)),
    (
        "string-annotations",
        StringAnnotated,
        KUBELET + ";IP=fd00::1;MTU=9000",
        StringAnnotated(
            pod_name="pod",
            pod_namespace="ns",
            pod_uid="u-1",
            pod_infra_container_id="abc",
            ip=IPv6Address("fd00::1"),
            mtu=9000,
        ),
    ),
    ("post-init-ok", Checked, "LOW=1;HIGH=2", Checked(low=1, high=2)),
]


@pytest.mark.parametrize(("cls", "raw", "expected"), [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_parse_valid(cls: type[CNIArgs], raw: str, expected: CNIArgs) -> None:
    parsed = parse_cni_args(cls, raw)
    assert type(parsed) is cls
    assert parsed == expected


# --- invalid input ---------------------------------------------------------------

INVALID: list[tuple[str, type[CNIArgs], str, str, str | None, tuple[str, ...]]] = [
    ("trailing-semicolon", CNIArgs, "IgnoreUnknown=1;", 'ARGS: invalid pair ""', "", ()),
    ("leading-semicolon", K8sArgs, ";K8S_POD_NAME=x", 'ARGS: invalid pair ""', "", ()),
    ("double-semicolon", K8sArgs, "A=1;;B=2", 'ARGS: invalid pair ""', "", ()),
    ("value-with-equals", K8sArgs, "K8S_POD_NAME=a=b", 'ARGS: invalid pair "K8S_POD_NAME=a=b"', "K8S_POD_NAME=a=b", ()),
    ("no-equals", K8sArgs, "some;extra;args", 'ARGS: invalid pair "some"', "some", ()),
    (
        "comma-separated",
        CNIArgs,
        "IgnoreUnknown=0, Unk=nown",
        'ARGS: invalid pair "IgnoreUnknown=0, Unk=nown"',
        "IgnoreUnknown=0, Unk=nown",
        (),
    ),
    ("invalid-pair-before-unknown", CNIArgs, "X=1;bad", 'ARGS: invalid pair "bad"', "bad", ()),
    (
        "quote-and-control-chars",
        K8sArgs,
        'a"\\\t\x01\x7f\u200b',
        'ARGS: invalid pair "a\\"\\\\\\t\\x01\\x7f\\u200b"',
        'a"\\\t\x01\x7f\u200b',
        (),
    ),
    ("undecodable-env-bytes", K8sArgs, "x\udcff", 'ARGS: invalid pair "x\\xff"', "x\udcff", ()),
    ("unknown-strict", CNIArgs, "X=1;Y=2", 'ARGS: unknown args ["X=1" "Y=2"]', None, ("X=1", "Y=2")),
    ("unknown-ignoreunknown-false", CNIArgs, "IgnoreUnknown=0;X=1", 'ARGS: unknown args ["X=1"]', None, ("X=1",)),
    ("unknown-repeated", CNIArgs, "X=1;X=1", 'ARGS: unknown args ["X=1" "X=1"]', None, ("X=1", "X=1")),
    ("unknown-empty-key", CNIArgs, "=v", 'ARGS: unknown args ["=v"]', None, ("=v",)),
    (
        "unknown-key-case-sensitive",
        K8sArgs,
        "IgnoreUnknown=0;k8s_pod_name=x",
        'ARGS: unknown args ["k8s_pod_name=x"]',
        None,
        ("k8s_pod_name=x",),
    ),
    (
        "unknown-kubelet-strict-k8s",
        StrictAgain,
        "K8S_POD_NAME=p;OTHER=1",
        'ARGS: unknown args ["OTHER=1"]',
        None,
        ("OTHER=1",),
    ),
    (
        "unknown-explicit-false-in-tolerant",
        Tolerant,
        "Q=1;IgnoreUnknown=false",
        'ARGS: unknown args ["Q=1"]',
        None,
        ("Q=1",),
    ),
    (
        "bool-invalid-lowercased",
        CNIArgs,
        "IgnoreUnknown=YES",
        'ARGS: error parsing value of pair "IgnoreUnknown=YES": boolean unmarshal error: invalid input yes',
        "IgnoreUnknown=YES",
        (),
    ),
    (
        "bool-empty",
        AllTypes,
        "FLAG=",
        'ARGS: error parsing value of pair "FLAG=": boolean unmarshal error: invalid input ',
        "FLAG=",
        (),
    ),
    (
        "bool-2",
        AllTypes,
        "VERBOSE=2",
        'ARGS: error parsing value of pair "VERBOSE=2": boolean unmarshal error: invalid input 2',
        "VERBOSE=2",
        (),
    ),
    (
        "bool-error-before-unknown",
        CNIArgs,
        "X=1;IgnoreUnknown=y",
        'ARGS: error parsing value of pair "IgnoreUnknown=y": boolean unmarshal error: invalid input y',
        "IgnoreUnknown=y",
        (),
    ),
    (
        "bad-value-in-repeated-key",
        AllTypes,
        "COUNT=1;COUNT=x",
        'ARGS: error parsing value of pair "COUNT=x": invalid integer: x',
        "COUNT=x",
        (),
    ),
    ("int-empty", AllTypes, "COUNT=", 'ARGS: error parsing value of pair "COUNT=": invalid integer: ', "COUNT=", ()),
    (
        "int-underscore",
        AllTypes,
        "COUNT=1_000",
        'ARGS: error parsing value of pair "COUNT=1_000": invalid integer: 1_000',
        "COUNT=1_000",
        (),
    ),
    (
        "int-space",
        AllTypes,
        "COUNT= 1",
        'ARGS: error parsing value of pair "COUNT= 1": invalid integer:  1',
        "COUNT= 1",
        (),
    ),
    (
        "int-non-ascii-digit",
        AllTypes,
        "COUNT=\u0663",
        'ARGS: error parsing value of pair "COUNT=\u0663": invalid integer: \u0663',
        "COUNT=\u0663",
        (),
    ),
    (
        "int-sign-only",
        AllTypes,
        "COUNT=-",
        'ARGS: error parsing value of pair "COUNT=-": invalid integer: -',
        "COUNT=-",
        (),
    ),
    (
        "int-too-long",
        AllTypes,
        "COUNT=" + "9" * 5000,
        'ARGS: error parsing value of pair "COUNT=' + "9" * 5000 + '": invalid integer: integer too long (5000 digits)',
        "COUNT=" + "9" * 5000,
        (),
    ),
    (
        "ip-garbage",
        AllTypes,
        "IP=nope",
        'ARGS: error parsing value of pair "IP=nope": invalid IP address: nope',
        "IP=nope",
        (),
    ),
    (
        "ip-with-prefix",
        AllTypes,
        "IP=10.0.0.5/24",
        'ARGS: error parsing value of pair "IP=10.0.0.5/24": invalid IP address: 10.0.0.5/24',
        "IP=10.0.0.5/24",
        (),
    ),
    (
        "ip-with-zone",
        AllTypes,
        "IP=fe80::1%eth0",
        'ARGS: error parsing value of pair "IP=fe80::1%eth0": invalid IP address: fe80::1%eth0',
        "IP=fe80::1%eth0",
        (),
    ),
    (
        "ip-leading-zero",
        AllTypes,
        "IP=010.0.0.1",
        'ARGS: error parsing value of pair "IP=010.0.0.1": invalid IP address: 010.0.0.1',
        "IP=010.0.0.1",
        (),
    ),
    (
        "ip4-given-v6",
        AllTypes,
        "IP4=::1",
        'ARGS: error parsing value of pair "IP4=::1": invalid IPv4 address: ::1',
        "IP4=::1",
        (),
    ),
    (
        "ip6-given-v4",
        AllTypes,
        "IP6=1.2.3.4",
        'ARGS: error parsing value of pair "IP6=1.2.3.4": invalid IPv6 address: 1.2.3.4',
        "IP6=1.2.3.4",
        (),
    ),
    (
        "cidr-without-prefix",
        AllTypes,
        "CIDR=10.0.0.5",
        'ARGS: error parsing value of pair "CIDR=10.0.0.5": invalid CIDR address: 10.0.0.5',
        "CIDR=10.0.0.5",
        (),
    ),
    (
        "cidr-bad-prefix",
        AllTypes,
        "CIDR=10.0.0.1/99",
        'ARGS: error parsing value of pair "CIDR=10.0.0.1/99": invalid CIDR address: 10.0.0.1/99',
        "CIDR=10.0.0.1/99",
        (),
    ),
    (
        "cidr-netmask-form",
        AllTypes,
        "CIDR=10.0.0.1/255.255.255.0",
        'ARGS: error parsing value of pair "CIDR=10.0.0.1/255.255.255.0": invalid CIDR address: 10.0.0.1/255.255.255.0',
        "CIDR=10.0.0.1/255.255.255.0",
        (),
    ),
    (
        "cidr-empty-prefix",
        AllTypes,
        "CIDR4=10.0.0.1/",
        'ARGS: error parsing value of pair "CIDR4=10.0.0.1/": invalid IPv4 CIDR address: 10.0.0.1/',
        "CIDR4=10.0.0.1/",
        (),
    ),
    (
        "cidr4-given-v6",
        AllTypes,
        "CIDR4=::1/64",
        'ARGS: error parsing value of pair "CIDR4=::1/64": invalid IPv4 CIDR address: ::1/64',
        "CIDR4=::1/64",
        (),
    ),
    (
        "cidr6-given-v4",
        AllTypes,
        "CIDR6=10.0.0.1/8",
        'ARGS: error parsing value of pair "CIDR6=10.0.0.1/8": invalid IPv6 CIDR address: 10.0.0.1/8',
        "CIDR6=10.0.0.1/8",
        (),
    ),
    ("required-missing", Required, "GATEWAY=10.0.0.1", 'ARGS: missing required args ["IP"]', None, ()),
    ("required-missing-empty-string", Required, "", 'ARGS: missing required args ["IP"]', None, ()),
    (
        "required-empty-value",
        Required,
        "IP=",
        'ARGS: error parsing value of pair "IP=": invalid IPv4 CIDR address: ',
        "IP=",
        (),
    ),
    ("unknown-reported-before-missing", Required, "X=1", 'ARGS: unknown args ["X=1"]', None, ("X=1",)),
    ("post-init-value-error", Checked, "LOW=5;HIGH=2", "ARGS: LOW (5) must not exceed HIGH (2)", None, ()),
]


@pytest.mark.parametrize(
    ("cls", "raw", "message", "pair", "unknown"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_parse_invalid(cls: type[CNIArgs], raw: str, message: str, pair: str | None, unknown: tuple[str, ...]) -> None:
    with pytest.raises(CNIArgsError) as info:
        parse_cni_args(cls, raw)
    err = info.value
    assert (str(err), err.message, err.pair, err.unknown) == (message, message, pair, unknown)
    assert isinstance(err, ValueError)


# --- tolerance class variable ----------------------------------------------------------

DEFAULTS = [
    ("base", CNIArgs, False),
    ("k8s", K8sArgs, True),
    ("tolerant", Tolerant, True),
    ("tolerant-child", TolerantChild, True),
    ("k8s-made-strict", StrictAgain, False),
    ("explicit-field", ExplicitField, True),
    ("alltypes", AllTypes, False),
]


@pytest.mark.parametrize(("cls", "expected"), [d[1:] for d in DEFAULTS], ids=[d[0] for d in DEFAULTS])
def test_ignore_unknown_default_applies_to_construction_and_parsing(cls: type[CNIArgs], expected: bool) -> None:
    assert cls().ignore_unknown is expected
    assert parse_cni_args(cls, "").ignore_unknown is expected


def test_undecorated_subclass_with_fields_fails_loudly() -> None:
    class Undecorated(CNIArgs):
        pod: str | None = None

    with pytest.raises(TypeError) as info:
        parse_cni_args(Undecorated, "")
    assert str(info.value) == (
        "CNI_ARGS class test_undecorated_subclass_with_fields_fails_loudly.<locals>.Undecorated "
        "must be decorated with @dataclass"
    )


def test_undecorated_subclass_without_fields_is_fine() -> None:
    class Alias(K8sArgs):
        """Only a new name."""

    assert parse_cni_args(Alias, "K8S_POD_NAME=p") == Alias(pod_name="p")


def test_ignore_unknown_default_must_be_bool() -> None:
    with pytest.raises(TypeError) as info:

        @dataclass(kw_only=True)
        class Bad(CNIArgs):
            ignore_unknown_default: ClassVar[bool] = 1  # type: ignore[assignment]

    assert str(info.value) == (
        "test_ignore_unknown_default_must_be_bool.<locals>.Bad.ignore_unknown_default must be a bool, not int"
    )


# --- programmer errors in the args class --------------------------------------------------


@dataclass(kw_only=True)
class BadList(CNIArgs):
    ips: list[str] | None = arg_field("IPS")


@dataclass(kw_only=True)
class BadFloat(CNIArgs):
    ratio: float = arg_field("RATIO", default=0.5)


@dataclass(kw_only=True)
class BadMixedUnion(CNIArgs):
    value: str | int | None = arg_field("VALUE")


@dataclass(kw_only=True)
class BadAddressOrInterface(CNIArgs):
    ip: IPv4Address | IPv4Interface | None = arg_field("IP")


@dataclass(kw_only=True)
class BadAny(CNIArgs):
    thing: Any = None


@dataclass(kw_only=True)
class BadDuplicateKey(CNIArgs):
    a: str | None = arg_field("K")
    b: str | None = arg_field("K")


@dataclass(kw_only=True)
class BadKeyWithEquals(CNIArgs):
    a: str | None = arg_field("A=B")


@dataclass(kw_only=True)
class BadEmptyKey(CNIArgs):
    a: str | None = arg_field("")


@dataclass(kw_only=True)
class BadClashWithIgnoreUnknown(CNIArgs):
    a: bool = arg_field("IgnoreUnknown", default=False)


@dataclass(kw_only=True)
class BadIgnoreUnknownType(CNIArgs):
    ignore_unknown: str = arg_field("IgnoreUnknown", default="yes")  # type: ignore[assignment]


@dataclass(kw_only=True)
class BadForwardRef(CNIArgs):
    a: "NoSuchType | None" = None  # type: ignore[name-defined]  # noqa: F821


BAD_CLASSES: list[tuple[str, type[CNIArgs], str]] = [
    (
        "list",
        BadList,
        "CNI_ARGS class BadList, field ips: unsupported type list[str] | None; use str, bool, int, an ipaddress "
        "address or interface type (or a v4 | v6 union of them), optionally | None",
    ),
    (
        "float",
        BadFloat,
        "CNI_ARGS class BadFloat, field ratio: unsupported type <class 'float'>; use str, bool, int, an ipaddress "
        "address or interface type (or a v4 | v6 union of them), optionally | None",
    ),
    (
        "str-or-int",
        BadMixedUnion,
        "CNI_ARGS class BadMixedUnion, field value: unsupported type str | int | None; use str, bool, int, an "
        "ipaddress address or interface type (or a v4 | v6 union of them), optionally | None",
    ),
    (
        "address-or-interface",
        BadAddressOrInterface,
        "CNI_ARGS class BadAddressOrInterface, field ip: unsupported type "
        "ipaddress.IPv4Address | ipaddress.IPv4Interface | None; use str, bool, int, an ipaddress address or "
        "interface type (or a v4 | v6 union of them), optionally | None",
    ),
    (
        "any",
        BadAny,
        "CNI_ARGS class BadAny, field thing: unsupported type typing.Any; use str, bool, int, an ipaddress "
        "address or interface type (or a v4 | v6 union of them), optionally | None",
    ),
    ("duplicate-key", BadDuplicateKey, "CNI_ARGS class BadDuplicateKey, field b: key 'K' is already used by field a"),
    (
        "key-with-equals",
        BadKeyWithEquals,
        "CNI_ARGS class BadKeyWithEquals, field a: key must be a non-empty string without ';' or '=', not 'A=B'",
    ),
    (
        "empty-key",
        BadEmptyKey,
        "CNI_ARGS class BadEmptyKey, field a: key must be a non-empty string without ';' or '=', not ''",
    ),
    (
        "key-clash-with-ignoreunknown",
        BadClashWithIgnoreUnknown,
        "CNI_ARGS class BadClashWithIgnoreUnknown, field a: "
        "key 'IgnoreUnknown' is already used by field ignore_unknown",
    ),
    (
        "ignore-unknown-retyped",
        BadIgnoreUnknownType,
        "CNI_ARGS class BadIgnoreUnknownType, field ignore_unknown: must stay `bool` with key 'IgnoreUnknown'",
    ),
    (
        "unresolvable-annotation",
        BadForwardRef,
        "CNI_ARGS class BadForwardRef: cannot resolve field types: name 'NoSuchType' is not defined",
    ),
]


@pytest.mark.parametrize(("cls", "message"), [b[1:] for b in BAD_CLASSES], ids=[b[0] for b in BAD_CLASSES])
def test_bad_args_class_fails_loudly_on_every_entry_point(cls: type[CNIArgs], message: str) -> None:
    for call in (lambda: cni_args_keys(cls), lambda: parse_cni_args(cls, ""), lambda: format_cni_args(cls())):
        with pytest.raises(TypeError) as info:
            call()
        assert str(info.value) == message


def test_non_cniargs_class_is_rejected() -> None:
    with pytest.raises(TypeError) as info:
        parse_cni_args(int, "")  # type: ignore[type-var]
    assert str(info.value) == "CNI_ARGS class must be a subclass of CNIArgs, not <class 'int'>"


# --- keys and the per-class cache ----------------------------------------------------------


def test_keys_in_field_order() -> None:
    assert cni_args_keys(AllTypes) == (
        "IgnoreUnknown",
        "NAME",
        "LABEL",
        "FLAG",
        "VERBOSE",
        "COUNT",
        "IP",
        "IP4",
        "IP6",
        "CIDR",
        "CIDR4",
        "CIDR6",
        "plain",
    )
    assert cni_args_keys(Required) == ("IgnoreUnknown", "IP", "GATEWAY")


def test_field_table_is_built_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(kw_only=True)
    class Fresh(CNIArgs):
        n: int = arg_field("N", default=0)

    calls: list[type] = []
    real_build = args_module._build_table

    def counting_build(cls: type[CNIArgs]) -> Any:
        calls.append(cls)
        return real_build(cls)

    monkeypatch.setattr(args_module, "_build_table", counting_build)
    for raw in ("N=1", "N=2", ""):
        parse_cni_args(Fresh, raw)
    format_cni_args(Fresh(n=3))
    cni_args_keys(Fresh)
    assert calls == [Fresh]


def test_module_imports_stay_minimal() -> None:
    # The module is on every plugin's start-up path; dataclasses_json is loaded lazily elsewhere.
    code = (
        "import sys, rscni_py.types.args as m; "
        "print(sorted(n for n in ('dataclasses_json', 'marshmallow') if n in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout == "[]\n"


# --- formatting ------------------------------------------------------------------------------

FORMATS: list[tuple[str, CNIArgs, str]] = [
    ("base-default", CNIArgs(), ""),
    ("base-ignore", CNIArgs(ignore_unknown=True), "IgnoreUnknown=true"),
    ("k8s-default", K8sArgs(), "IgnoreUnknown=true"),
    ("k8s-strict", K8sArgs(ignore_unknown=False), "IgnoreUnknown=false"),
    (
        "k8s-full",
        K8sArgs(pod_name="pod", pod_namespace="ns", pod_uid="u-1", pod_infra_container_id="abc"),
        "IgnoreUnknown=true;K8S_POD_NAME=pod;K8S_POD_NAMESPACE=ns;K8S_POD_UID=u-1;K8S_POD_INFRA_CONTAINER_ID=abc",
    ),
    ("alltypes-default", AllTypes(), "LABEL=none;VERBOSE=false"),
    (
        "alltypes-full",
        AllTypes(
            name="",
            label="l",
            flag=True,
            verbose=True,
            count=-3,
            ip=IPv6Address("2001:db8::1"),
            ip4=IPv4Address("1.2.3.4"),
            ip6=IPv6Address("::1"),
            cidr=IPv4Interface("10.0.0.5/24"),
            cidr4=IPv4Interface("10.0.0.6/8"),
            cidr6=IPv6Interface("fd00::5/64"),
            plain="p",
        ),
        "NAME=;LABEL=l;FLAG=true;VERBOSE=true;COUNT=-3;IP=2001:db8::1;IP4=1.2.3.4;IP6=::1;CIDR=10.0.0.5/24;"
        "CIDR4=10.0.0.6/8;CIDR6=fd00::5/64;plain=p",
    ),
    ("required", Required(IP=IPv4Interface("10.0.0.5/24")), "IP=10.0.0.5/24"),
]


@pytest.mark.parametrize(("obj", "expected"), [f[1:] for f in FORMATS], ids=[f[0] for f in FORMATS])
def test_format(obj: CNIArgs, expected: str) -> None:
    assert format_cni_args(obj) == expected
    assert parse_cni_args(type(obj), expected) == obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            K8sArgs(pod_name="a;b"),
            "cannot write CNI_ARGS key K8S_POD_NAME: value 'a;b' cannot be represented (';' and '=' cannot be escaped)",
        ),
        (
            AllTypes(label="x=y"),
            "cannot write CNI_ARGS key LABEL: value 'x=y' cannot be represented (';' and '=' cannot be escaped)",
        ),
    ],
    ids=["semicolon", "equals"],
)
def test_format_unrepresentable_value(obj: CNIArgs, message: str) -> None:
    with pytest.raises(ValueError) as info:
        format_cni_args(obj)
    assert type(info.value) is ValueError
    assert str(info.value) == message


def test_docstring_examples() -> None:
    failures, tried = doctest.testmod(args_module)
    assert (failures, tried >= 5) == (0, True)


# --- properties ------------------------------------------------------------------------------

# Values that CNI_ARGS can carry: anything without the two separators.
arg_text = st.text(st.characters(exclude_characters=";=", exclude_categories=["Cs"]))
ipv4 = st.ip_addresses(v=4).map(lambda a: IPv4Address(int(a)))
ipv6 = st.ip_addresses(v=6).map(lambda a: IPv6Address(int(a)))
iface4 = st.tuples(ipv4, st.integers(0, 32)).map(lambda t: IPv4Interface((int(t[0]), t[1])))
iface6 = st.tuples(ipv6, st.integers(0, 128)).map(lambda t: IPv6Interface((int(t[0]), t[1])))

all_types = st.builds(
    AllTypes,
    ignore_unknown=st.booleans(),
    name=st.none() | arg_text,
    label=arg_text,
    flag=st.none() | st.booleans(),
    verbose=st.booleans(),
    count=st.none() | st.integers(),
    ip=st.none() | ipv4 | ipv6,
    ip4=st.none() | ipv4,
    ip6=st.none() | ipv6,
    cidr=st.none() | iface4 | iface6,
    cidr4=st.none() | iface4,
    cidr6=st.none() | iface6,
    plain=st.none() | arg_text,
)
k8s_args = st.builds(
    K8sArgs,
    ignore_unknown=st.booleans(),
    pod_name=st.none() | arg_text,
    pod_namespace=st.none() | arg_text,
    pod_uid=st.none() | arg_text,
    pod_infra_container_id=st.none() | arg_text,
)


@given(all_types | k8s_args)
def test_format_parse_round_trip(obj: CNIArgs) -> None:
    assert parse_cni_args(type(obj), format_cni_args(obj)) == obj


@given(k8s_args, k8s_args)
def test_repeated_keys_last_wins(first: K8sArgs, second: K8sArgs) -> None:
    raw = ";".join(s for s in (format_cni_args(first), format_cni_args(second)) if s)
    merged = K8sArgs(
        **{
            f.name: getattr(second, f.name) if getattr(second, f.name) is not None else getattr(first, f.name)
            for f in dataclasses.fields(K8sArgs)
        }
    )
    assert parse_cni_args(K8sArgs, raw) == merged


# Text built from the pieces the parser reacts to, so that most examples get past the pair split.
KEYS = [
    "IgnoreUnknown",
    "NAME",
    "FLAG",
    "COUNT",
    "IP",
    "IP4",
    "IP6",
    "CIDR",
    "CIDR4",
    "CIDR6",
    "LABEL",
    "K8S_POD_NAME",
    "X",
    "",
]
VALUES = ["", "1", "0", "true", "False", "-12", "10.0.0.1", "::1", "10.0.0.1/24", "fd00::/8", "x", "%", "/"]
structured_text = st.lists(
    st.tuples(st.sampled_from(KEYS) | st.text(max_size=3), st.sampled_from(VALUES) | st.text(max_size=5)).map(
        lambda kv: f"{kv[0]}={kv[1]}"
    )
    | st.text(max_size=4),
    max_size=6,
).map(";".join)


# os.environ decodes bytes that are not UTF-8 to lone surrogates (surrogateescape); they must not crash either.
env_text = st.text(st.characters() | st.integers(0xDC80, 0xDCFF).map(chr))


@given(st.sampled_from([CNIArgs, K8sArgs, AllTypes, Required, Tolerant, Checked]), env_text | structured_text)
def test_parse_raises_only_cniargs_error(cls: type[CNIArgs], raw: str) -> None:
    try:
        parsed = parse_cni_args(cls, raw)
    except CNIArgsError as err:
        assert str(err).startswith("ARGS: ")
        assert err.pair is None or err.pair in raw.split(";")
    else:
        assert type(parsed) is cls


# --- differential check against Go's types.LoadArgs ---------------------------------------------

GO_SOURCE = r"""
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"

	"github.com/containernetworking/cni/pkg/types"
)

type Args struct {
	types.CommonArgs
	IP   net.IP
	FLAG *types.UnmarshallableBool
	NAME types.UnmarshallableString
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	for in.Scan() {
		var a Args
		if err := types.LoadArgs(in.Text(), &a); err != nil {
			fmt.Printf("ERR %s\n", err)
			continue
		}
		flag, ip := "nil", "nil"
		if a.FLAG != nil {
			flag = fmt.Sprint(bool(*a.FLAG))
		}
		if a.IP != nil {
			ip = a.IP.String()
		}
		fmt.Printf("OK ignore=%v ip=%s flag=%s name=%q\n", bool(a.IgnoreUnknown), ip, flag, string(a.NAME))
	}
}
"""

GOPATH = Path("/usr/share/gocode")


@dataclass(kw_only=True)
class GoShaped(CNIArgs):
    """The Python twin of the Go struct above (Go matches keys on field names)."""

    IP: IPv4Address | IPv6Address | None = None
    FLAG: bool | None = None
    NAME: str = ""


def _python_line(raw: str) -> str:
    try:
        a = parse_cni_args(GoShaped, raw)
    except CNIArgsError as err:
        return f"ERR {err}"
    ip = "nil"
    if a.IP is not None:
        # Go stores v4 addresses in v6-mapped form and prints them as v4.
        mapped = a.IP.ipv4_mapped if isinstance(a.IP, IPv6Address) else None
        ip = str(mapped or a.IP)
    flag = "nil" if a.FLAG is None else str(a.FLAG).lower()
    return f"OK ignore={str(a.ignore_unknown).lower()} ip={ip} flag={flag} name={q(a.NAME)}"


@pytest.fixture(scope="module")
def go_loadargs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not (GOPATH / "src/github.com/containernetworking/cni/pkg/types/args.go").is_file():
        pytest.skip("needs golang-go and golang-github-appc-cni-dev")
    work = tmp_path_factory.mktemp("loadargs")
    (work / "main.go").write_text(GO_SOURCE)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "GO111MODULE": "off",
        "GOPATH": str(GOPATH),
        "GOCACHE": str(work / "cache"),
        "GOFLAGS": "",
    }
    subprocess.run([go, "build", "-o", str(work / "loadargs"), "."], cwd=work, env=env, check=True)
    return work / "loadargs"


DIFF_KEYS = ["IgnoreUnknown", "IP", "FLAG", "NAME", "X", "", "ip", "Flag"]
DIFF_VALUES = [
    "",
    "1",
    "0",
    "TRUE",
    "fAlSe",
    "yes",
    "10.0.0.1",
    "::1",
    "::ffff:1.2.3.4",
    "2001:DB8::1",
    "1.2.3",
    "01.2.3.4",
    "fe80::1%lo",
    "10.0.0.0/8",
    'a"b',
    "tab\there",
    "ü",
]
diff_pairs = st.tuples(st.sampled_from(DIFF_KEYS), st.sampled_from(DIFF_VALUES)).map("=".join)
diff_text = st.lists(diff_pairs | st.sampled_from(["", "a=b=c", "noequals"]), min_size=1, max_size=5).map(";".join)


@pytest.mark.integration
@settings(max_examples=40)
@given(st.lists(diff_text, min_size=1, max_size=40))
def test_matches_go_loadargs(go_loadargs: Path, batch: list[str]) -> None:
    go = subprocess.run([str(go_loadargs)], input="\n".join(batch) + "\n", capture_output=True, text=True, check=True)
    assert [_python_line(raw) for raw in batch] == go.stdout.splitlines()
