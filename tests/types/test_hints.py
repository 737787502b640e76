"""The one type-hint compiler (rscni_py.types._hints) that the codec and CNI_ARGS parsing share (issue 13 item 6)."""

from __future__ import annotations

import dataclasses
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Annotated, Any, Literal, Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rscni_py.types._hints import AddressKind, HintCompiler
from rscni_py.types.args import CNIArgs, CNIArgsError, parse_cni_args
from rscni_py.types.codec import FieldError, decode

Shape = tuple[Any, ...]


class _Shapes(HintCompiler[Shape]):
    """Compiles a hint into the tree of hooks the dispatch called: what the compiler decided, and nothing else."""

    def scalar(self, hint: object) -> Shape:
        return ("scalar", hint)

    def address(self, hint: object, kind: AddressKind) -> Shape:
        return ("address", kind.name)

    def union(self, hint: object, arms: tuple[object, ...]) -> Shape:
        return ("union", *(self(arm) for arm in arms))

    def optional(self, hint: object, inner: Shape, kind: AddressKind | None) -> Shape:
        return ("optional", inner, None if kind is None else kind.name)

    def other(self, hint: object) -> Shape:
        return ("other", hint)


DISPATCH = [
    ("str", str, ("scalar", str)),
    ("float", float, ("scalar", float)),
    ("none", type(None), ("scalar", type(None))),
    ("optional-int", int | None, ("optional", ("scalar", int), None)),
    ("typing-optional", Optional[bool], ("optional", ("scalar", bool), None)),  # noqa: UP045 - the old spelling
    ("ip4", IPv4Address, ("address", "ip4")),
    ("ip6", IPv6Address, ("address", "ip6")),
    ("ip-either-order", IPv6Address | IPv4Address, ("address", "ip")),
    ("cidr4", IPv4Interface, ("address", "cidr4")),
    ("cidr6-optional", IPv6Interface | None, ("optional", ("address", "cidr6"), "cidr6")),
    ("cidr", IPv4Interface | IPv6Interface | None, ("optional", ("address", "cidr"), "cidr")),
    (
        "ip-or-cidr",
        IPv4Interface | IPv6Address | IPv6Interface | IPv4Address,
        ("address", "ip-or-cidr"),
    ),
    ("ip4-or-cidr4-is-no-kind", IPv4Address | IPv4Interface, ("union", ("address", "ip4"), ("address", "cidr4"))),
    ("union", str | int | None, ("optional", ("union", ("scalar", str), ("scalar", int)), None)),
    ("list", list[str], ("other", list[str])),
    ("annotated", Annotated[str, "mark"], ("other", Annotated[str, "mark"])),
    ("literal", Literal["a", 1], ("other", Literal["a", 1])),
    ("any", Any, ("other", Any)),
]


@pytest.mark.parametrize(("hint", "shape"), [case[1:] for case in DISPATCH], ids=[case[0] for case in DISPATCH])
def test_the_dispatch_of_every_kind_of_hint(hint: object, shape: Shape) -> None:
    assert _Shapes()(hint) == shape


def test_a_hint_is_compiled_once_and_an_unhashable_one_every_time() -> None:
    calls: list[object] = []

    class Counting(_Shapes):
        def other(self, hint: object) -> Shape:
            calls.append(hint)
            return ("other", id(hint))

    compile_hint = Counting()
    first, again = compile_hint(list[int]), compile_hint(list[int])
    unhashable = Annotated[str, []]
    compile_hint(unhashable)
    compile_hint(unhashable)
    assert (first is again, calls) == (True, [list[int], unhashable, unhashable])


def test_a_hook_the_subclass_leaves_out_is_unsupported() -> None:
    with pytest.raises(TypeError) as info:
        HintCompiler[Shape]()(str | None)
    assert str(info.value) == "unsupported type hint <class 'str'>"


# --- both compilers read addresses with the one address parser --------------------------------------------------

ADDRESS_HINTS = [
    IPv4Address,
    IPv6Address,
    IPv4Address | IPv6Address,
    IPv4Interface,
    IPv6Interface,
    IPv4Interface | IPv6Interface,
]

_ADDRESS_TEXT = st.one_of(
    st.ip_addresses().map(str),
    st.builds(lambda ip, prefix: f"{ip}/{prefix}", st.ip_addresses(), st.integers(0, 130)),
    st.sampled_from(["", "10.0.0.1%eth0", "fe80::1%2", "10.0.0.01", "10.0.0.1/24/1", "10.0.0.1/ 8", "::ffff:1.2.3.4"]),
    st.text(alphabet="0123456789abcdef.:/%", max_size=24),
)


@pytest.mark.parametrize("hint", ADDRESS_HINTS, ids=str)
@given(text=_ADDRESS_TEXT)
def test_cni_args_and_the_codec_accept_the_same_addresses(hint: object, text: str) -> None:
    model = dataclasses.make_dataclass("Model", [("value", hint)])
    args = dataclasses.make_dataclass("Args", [("value", hint)], bases=(CNIArgs,), kw_only=True)

    def read_json() -> object:
        try:
            return decode(model, {"value": text}).value
        except FieldError:
            return "refused"

    def read_cni_args() -> object:
        try:
            return parse_cni_args(args, f"value={text}").value
        except CNIArgsError:
            return "refused"

    assert read_cni_args() == read_json()
